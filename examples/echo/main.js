// echo: a small HTTP service. It listens on its port named `http` (guestutils getPort reads
// CONTAINER_PORT_HTTP, which the deployer sets from `ports: {http: 8000}`) and answers every
// request with which instance served it, so a caller can tell the instances apart.
//   GET /healthz   200 "ok"
//   GET /<any>     200 {"service","instance","host","path","greeting","servedAt"}
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { getContainerName, getPort } from '@theseus/guestutils';
import { log, stopOnSignal } from '../log.js';

const port = getPort('http', 8000);
const instance = containerName();
const greeting = process.env.GREETING || 'hello';

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  const body = {
    service: process.env.SERVICE_NAME ?? 'echo',
    instance,
    host: process.env.HOST ?? null,
    path,
    greeting,
    servedAt: new Date().toISOString(),
  };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
});

server.listen(port, () => log('listening', { port: server.address().port, instance }));
// DRAIN_MS: how long to keep serving after SIGTERM, while balancers drop this instance.
const drainMs = Number(process.env.DRAIN_MS ?? 0);
stopOnSignal(server, undefined, { drainMs: Number.isFinite(drainMs) && drainMs > 0 ? drainMs : 0 });

/** The task id Marathon or the engine gave this container; outside them, the container's hostname. */
function containerName() {
  try {
    return getContainerName();
  } catch {
    return hostname();
  }
}
