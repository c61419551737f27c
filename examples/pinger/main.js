// pinger: finds every instance of a service through guestutils and calls each one periodically;
// its watcher logs each change to that service's instances.
//   TARGET_SERVICE   service to call (default echo)
//   TARGET_LABELS    comma-separated labels the instances must carry (default: any)
//   TARGET_PORT      name of the target's port to call (default http)
//   PING_INTERVAL_MS time between rounds (default 2000)
// It serves its own state on its port named `http` (CONTAINER_PORT_HTTP, default 8001):
//   GET /healthz  200 "ok"
//   GET /status   {"target", "rounds", "lastRound": {"at","nodes","results":[{address,ok,instance|error}]}, "changes"}
import { createServer } from 'node:http';
import { getNodeList, getPort, watchServices } from '@theseus/guestutils';
import { log, stopOnSignal } from '../log.js';
import * as handler from './on-change.js';

const target = process.env.TARGET_SERVICE || 'echo';
const labels = (process.env.TARGET_LABELS ?? '')
  .split(',')
  .map((l) => l.trim())
  .filter(Boolean);
const targetPort = process.env.TARGET_PORT || 'http';
const intervalMs = Number(process.env.PING_INTERVAL_MS || 2000);
const CALL_TIMEOUT_MS = 2000;

let rounds = 0;
let lastRound = null;

async function call(address) {
  try {
    const res = await fetch(`http://${address}/ping`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    const body = await res.json().catch(() => ({}));
    return { address, ok: res.ok, status: res.status, instance: body.instance ?? null };
  } catch (err) {
    return { address, ok: false, error: err.cause?.code ?? err.name ?? String(err) };
  }
}

async function round() {
  let nodes;
  try {
    // `host:port` of every running instance, with the host port of its port `targetPort`.
    nodes = await getNodeList(target, { ports: [targetPort], labels, minimum: 0 });
  } catch (err) {
    log('discovery failed', { target, error: err.message ?? String(err) });
    return;
  }
  const results = await Promise.all(nodes.map(call));
  rounds += 1;
  lastRound = { at: new Date().toISOString(), nodes, results };
  log('round', { target, nodes: nodes.length, reached: results.filter((r) => r.ok).length, results });
}

let timer;
async function loop() {
  await round();
  timer = setTimeout(loop, intervalMs);
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  } else if (path === '/status') {
    const body = { target, labels, rounds, lastRound, changes: handler.recentChanges };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
});

const port = getPort('http', 8001);
server.listen(port, () => log('listening', { port: server.address().port, target, labels, intervalMs }));

// Reports the instances already running as `added`, then every change; it retries etcd by itself.
const watcher = watchServices([target], handler);
watcher.ready.then(() => log('watching', { services: [target] }));
void loop();
stopOnSignal(server, async () => {
  clearTimeout(timer);
  await watcher.stop();
});
