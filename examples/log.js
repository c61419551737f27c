// One JSON object per line on stdout: what `docker logs` and the engine's task logs show.
/** @param {string} msg @param {Record<string, unknown>} [fields] */
export function log(msg, fields = {}) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), service: process.env.SERVICE_NAME ?? null, msg, ...fields }) + '\n');
}

/** Closes `server` on SIGTERM/SIGINT (Marathon and `docker stop` send SIGTERM), then runs `cleanup`. */
export function stopOnSignal(server, cleanup = async () => {}) {
  let stopping = false;
  const stop = (signal) => {
    if (stopping) process.exit(1);
    stopping = true;
    log('stopping', { signal });
    server.close();
    server.closeAllConnections?.();
    Promise.resolve(cleanup()).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
