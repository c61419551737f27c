// One JSON object per line on stdout: what `docker logs` and the engine's task logs show.
/** @param {string} msg @param {Record<string, unknown>} [fields] */
export function log(msg, fields = {}) {
  process.stdout.write(
    JSON.stringify({ time: new Date().toISOString(), service: process.env.SERVICE_NAME ?? null, msg, ...fields }) +
      '\n',
  );
}

/**
 * Closes `server` on SIGTERM/SIGINT (Marathon and `docker stop` send SIGTERM), then runs `cleanup`.
 * With `drainMs`, it keeps serving that long first: the task's endpoint left etcd when it was
 * marked killing, and load balancers following etcd need a moment to stop sending to it (keep it
 * below the kill grace period, 3 s by default).
 */
export function stopOnSignal(server, cleanup = async () => {}, { drainMs = 0 } = {}) {
  let stopping = false;
  const stop = (signal) => {
    if (stopping) process.exit(1);
    stopping = true;
    log('stopping', { signal, drainMs });
    setTimeout(() => {
      server.close();
      server.closeAllConnections?.();
      Promise.resolve(cleanup()).finally(() => process.exit(0));
    }, drainMs);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
