// One JSON object per line on stdout: what `docker logs` and the engine's task logs show.
/** @param {string} msg @param {Record<string, unknown>} [fields] */
export function log(msg, fields = {}) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), service: process.env.SERVICE_NAME ?? null, msg, ...fields }) + '\n');
}

/** The container port of a named port, from the discovery environment (CONTAINER_PORT_<NAME>). */
export function containerPort(name, fallback) {
  const raw = process.env[`CONTAINER_PORT_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  const port = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`CONTAINER_PORT_${name.toUpperCase()} must be a port number, got ${JSON.stringify(raw)}`);
  }
  return port;
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
