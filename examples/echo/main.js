// echo: a small HTTP service. It listens on its port named `http` (CONTAINER_PORT_HTTP, set by
// the deployer from `ports: {http: 8000}`) and answers every request with who it is, so a caller
// can tell the instances apart.
//   GET /healthz   200 "ok"
//   GET /<any>     200 {"service","instance","host","path","greeting","servedAt"}
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { containerPort, log, stopOnSignal } from '../log.js';

const port = containerPort('http', 8000);
// Marathon and the engine set MESOS_TASK_ID; outside them the container's hostname names it.
const instance = process.env.MESOS_TASK_ID || hostname();
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
stopOnSignal(server);
