/**
 * The least any Node program must do to carry Marathon's task events into etcd, as a reference for
 * the throughput benchmark: read the SSE stream, parse each event, make a record string, and write
 * the records in transactions of 120 keys with the subscriber's compares (the leader key exists,
 * each key's mod revision), 16 in flight, through etcd3's public API as the subscriber does. It
 * keeps no state and checks nothing: no ordering, staleness or health, no validation, no metrics, no
 * heap budget. The subscriber's figure next to this one is the cost of what it does for users.
 *
 * Started by subscriber.ts (not a benchmark on its own):
 *   node --import tsx --conditions=source subscriber/bench/support/minimal-pipeline.ts <port>
 *   (MARATHON_URL, ETCD_ENDPOINTS, THESEUS_ETCD_PREFIX; GET / answers {"endpoints": written})
 */
import http from 'node:http';
import { createEtcdClient, EtcdLayout } from '@theseus/services';
import type { IRequestOp } from 'etcd3';

const BATCH = 120;
const IN_FLIGHT = 16;
const layout = new EtcdLayout(process.env.THESEUS_ETCD_PREFIX);
const keyPrefix = layout.serviceEndpoints('default', 'web');
const guardKey = layout.election('minimal-pipeline');
for (const variable of ['MARATHON_URL', 'ETCD_ENDPOINTS']) {
  if (!process.env[variable]) {
    console.error(`minimal-pipeline: ${variable} is not set (subscriber.ts starts this with it)`);
    process.exit(2);
  }
}
const etcd = createEtcdClient({ endpoints: process.env.ETCD_ENDPOINTS!.split(',') });
await etcd.put(guardKey).value('leader');

let written = 0;
let inFlight = 0;
interface Op {
  key: string;
  value: string;
}
let batch: Op[] = [];
const ready: Op[][] = [];
let stream: http.IncomingMessage | undefined;
let paused = false;

function send(): void {
  while (inFlight < IN_FLIGHT && ready.length > 0) {
    const ops = ready.shift()!;
    const txn = etcd.if(guardKey, 'Create', '>', 0);
    for (const op of ops) txn.and(op.key, 'Mod', '==', 0);
    const puts: IRequestOp[] = ops.map((op) => ({ request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value) } }));
    inFlight++;
    void txn.then(...puts).commit().then(() => {
      written += ops.length;
      inFlight--;
      if (inFlight < 2 && ready.length === 0) seal();
      send();
    });
  }
  if (paused && ready.length < 2) {
    paused = false;
    stream?.resume();
  }
}

/** Hands the batch being filled over for sending. */
function seal(): void {
  if (batch.length === 0) return;
  ready.push(batch);
  batch = [];
}

let flush: NodeJS.Immediate | undefined;
function onEvent(data: string): void {
  const e = JSON.parse(data) as { appId: string; taskId: string; version: string; host: string; ipAddresses: Array<{ ipAddress: string }>; ports: number[]; timestamp: string };
  const str = JSON.stringify;
  const value = `{"v":1,"cluster":"test","namespace":"default","service":"web","labels":[],"appId":${str(e.appId)},"taskId":${str(e.taskId)},"appVersion":${str(e.version)},"host":${str(e.host)},"ipAddresses":[${str(e.ipAddresses[0]?.ipAddress)}],"ports":{"http":{"host":${e.ports[0]},"container":null,"protocol":"tcp"},"admin":{"host":${e.ports[1]},"container":null,"protocol":"tcp"}},"healthy":null,"startedAt":${str(e.timestamp)},"updatedAt":${str(e.timestamp)}}`;
  batch.push({ key: keyPrefix + e.taskId, value });
  if (batch.length === BATCH) {
    seal();
    send();
    if (ready.length > 4 && !paused) {
      paused = true;
      stream?.pause();
    }
  }
  flush ??= setImmediate(() => {
    flush = undefined;
    if (inFlight < 2) {
      seal();
      send();
    }
  });
}

http.get(`${process.env.MARATHON_URL}/v2/events?event_type=status_update_event`, { headers: { Accept: 'text/event-stream' } }, (res) => {
  stream = res;
  res.setEncoding('utf8');
  let text = '';
  res.on('data', (chunk: string) => {
    text += chunk;
    for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
      const block = text.slice(0, end);
      text = text.slice(end + 4);
      const data = block.indexOf('\r\ndata: ');
      if (data >= 0 && block.startsWith('event: status_update_event')) onEvent(block.slice(data + 8));
    }
  });
});

http.createServer((_, res) => res.end(JSON.stringify({ endpoints: written }))).listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0)); // (so that --cpu-prof writes its profile)
