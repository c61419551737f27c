import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { MarathonEventStream, SseParser } from './event-stream.js';
import { RETRY_POLICIES } from '../retry.js';
import { MarathonHttp } from './http.js';
import type { MarathonEvent } from './events.js';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A tiny HTTP server whose /v2/events handler each test scripts. */
async function server(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const close = () => {
    srv.closeAllConnections();
    srv.close();
  };
  after(close);
  return { url, seen, close, srv };
}

const openSse = (res: http.ServerResponse) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream;charset=UTF-8', Connection: 'close' });
  res.flushHeaders();
};

const status = (taskId: string, state: string) =>
  JSON.stringify({
    slaveId: 's',
    taskId,
    taskStatus: state,
    message: '',
    appId: '/a',
    host: 'h',
    ports: [31000],
    version: 'v',
    eventType: 'status_update_event',
    timestamp: '2020-01-01T00:00:00.000Z',
  });

function collect(stream: MarathonEventStream) {
  const events: MarathonEvent[] = [];
  const malformed: string[] = [];
  stream.on('event', (e) => events.push(e));
  stream.on('malformed', (m) => malformed.push(m.problem));
  return { events, malformed };
}

async function until(check: () => boolean, what: string, limitMs = 10_000) {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('sends the exact Accept header and event_type filters; parses CRLF, LF and CR framing split anywhere, with bare heartbeats', async () => {
  const { url, seen } = await server((_req, res) => {
    openSse(res);
    const wire =
      `event: event_stream_attached\r\ndata: {"remoteAddress":"1.2.3.4","eventType":"event_stream_attached","timestamp":"2020-01-01T00:00:00.000Z"}\r\n\r\n` +
      `\r\n` + // heartbeat
      `event: status_update_event\ndata: ${status('a.1', 'TASK_RUNNING')}\n\n` +
      `\r` +
      '\n' + // heartbeat written as CR then LF
      `event: status_update_event\rdata: ${status('a.2', 'TASK_KILLED')}\r\r` +
      `: a comment\r\n` +
      `event: status_update_event\r\ndata: ${status('a.3', 'TASK_FAILED')}\r\n\r\n`;
    // Write byte by byte around every CR/LF so that line ends straddle chunks.
    const bytes = Buffer.from(wire);
    let i = 0;
    const tick = () => {
      if (i >= bytes.length) return;
      const step = bytes[i] === 0x0d || bytes[i] === 0x0a ? 1 : 37;
      res.write(bytes.subarray(i, i + step));
      i += step;
      setImmediate(tick);
    };
    tick();
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [url], credentials: 'x:y' }),
    eventTypes: ['status_update_event', 'event_stream_attached'],
  });
  const { events, malformed } = collect(stream);
  stream.start();
  await until(() => events.length === 4, 'four events');
  await stream.stop();
  assert.deepEqual(
    events.map((e) => e.eventType),
    ['event_stream_attached', 'status_update_event', 'status_update_event', 'status_update_event'],
  );
  assert.deepEqual(
    events.slice(1).map((e) => (e as { taskId: string }).taskId),
    ['a.1', 'a.2', 'a.3'],
  );
  assert.deepEqual(malformed, []);
  assert.equal(seen[0]!.headers.accept, 'text/event-stream');
  assert.equal(seen[0]!.headers.authorization, 'Basic eDp5');
  assert.equal(seen[0]!.url, '/v2/events?event_type=status_update_event&event_type=event_stream_attached');
});

test('follows a 302 from a standby to the leader (a configured URL) and keeps the Authorization header', async () => {
  const leader = await server((req, res) => {
    openSse(res);
    res.write(`event: status_update_event\r\ndata: ${status('a.1', 'TASK_RUNNING')}\r\n\r\n`);
  });
  const standby = await server((req, res) => {
    res.writeHead(302, { Location: `${leader.url}${req.url}` });
    res.end();
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [standby.url, leader.url], token: 'abc' }),
    eventTypes: ['status_update_event'],
  });
  const { events } = collect(stream);
  const attached: string[] = [];
  stream.on('attached', (a) => attached.push(a.url));
  stream.start();
  await until(() => events.length === 1, 'event through the redirect');
  await stream.stop();
  assert.equal(leader.seen[0]!.headers.authorization, 'token=abc');
  assert.equal(leader.seen[0]!.url, '/v2/events?event_type=status_update_event');
  assert.deepEqual(attached, [`${leader.url}/v2/events?event_type=status_update_event`]);
});

test('a redirect to a host that is not a configured Marathon URL is not followed: the credentials stay home', async () => {
  const elsewhere = await server((_req, res) => openSse(res));
  const standby = await server((req, res) => {
    res.writeHead(302, { Location: `${elsewhere.url.replace('127.0.0.1', 'localhost')}${req.url}` });
    res.end();
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [standby.url], token: 'abc' }),
    backoff: { ...RETRY_POLICIES.marathonStream, initialMs: 10 },
  });
  const retries: string[] = [];
  stream.on('retry', ({ error }) => retries.push(error));
  stream.start();
  await until(() => retries.length >= 2, 'two refused attempts');
  await stream.stop();
  assert.equal(elsewhere.seen.length, 0, 'nothing reached the other host');
  assert.match(retries[0]!, /not a configured Marathon URL; not followed/);
  assert.ok(standby.seen.every((s) => s.headers.authorization === 'token=abc'));
});

test('a silent stream is dead after the idle timeout: detached, then attached again', async () => {
  let connections = 0;
  const s = await server((_req, res) => {
    connections++;
    openSse(res); // and never a byte more
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [s.url] }),
    idleTimeoutMs: 150,
    backoff: { ...RETRY_POLICIES.marathonStream, initialMs: 20 },
  });
  const log: string[] = [];
  stream.on('attached', () => log.push('attached'));
  stream.on('detached', (d) => log.push(`detached: ${d.reason}`));
  stream.start();
  await until(() => log.filter((l) => l === 'attached').length >= 2, 'second attach');
  await stream.stop();
  assert.equal(log[0], 'attached');
  assert.match(log[1]!, /silent for 150 ms/);
  assert.equal(log[2], 'attached');
  assert.ok(connections >= 2);
});

test('heartbeats keep a quiet stream alive past the idle timeout', async () => {
  const s = await server((_req, res) => {
    openSse(res);
    const beat = setInterval(() => res.write('\r\n'), 30);
    res.on('close', () => clearInterval(beat));
  });
  const stream = new MarathonEventStream({ connection: new MarathonHttp({ urls: [s.url] }), idleTimeoutMs: 120 });
  const detached: string[] = [];
  stream.on('detached', (d) => detached.push(d.reason));
  stream.start();
  await until(() => stream.attached, 'attach');
  await new Promise((r) => setTimeout(r, 600));
  const stillAttached = stream.attached;
  await stream.stop();
  assert.equal(stillAttached, true);
  assert.deepEqual(
    detached.filter((r) => /silent/.test(r)),
    [],
  );
});

test('fails over across URLs: refused and error answers move on to the next URL', async () => {
  const dead = await server(() => undefined);
  dead.close();
  const wrong = await server((_req, res) => {
    res.writeHead(405, { 'Content-Type': 'text/html' });
    res.end('<html>405</html>');
  });
  const good = await server((_req, res) => {
    openSse(res);
    res.write(`event: status_update_event\r\ndata: ${status('a.9', 'TASK_RUNNING')}\r\n\r\n`);
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [dead.url, wrong.url, good.url] }),
    backoff: { ...RETRY_POLICIES.marathonStream, initialMs: 10 },
  });
  const retries: string[] = [];
  stream.on('retry', (r) => retries.push(`${r.url} ${r.error}`));
  const { events } = collect(stream);
  stream.start();
  await until(() => events.length === 1, 'event from the third URL');
  await stream.stop();
  assert.equal(retries.length, 2);
  assert.match(retries[0]!, /ECONNREFUSED/);
  assert.match(retries[1]!, /405/);
});

test('a cut stream reconnects and the caller sees detached then attached', async () => {
  let n = 0;
  const s = await server((_req, res) => {
    n++;
    openSse(res);
    res.write(`event: status_update_event\r\ndata: ${status(`a.${n}`, 'TASK_RUNNING')}\r\n\r\n`);
    if (n === 1) setTimeout(() => res.destroy(), 20);
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [s.url] }),
    backoff: { ...RETRY_POLICIES.marathonStream, initialMs: 10 },
  });
  const log: string[] = [];
  stream.on('attached', () => log.push('attached'));
  stream.on('detached', () => log.push('detached'));
  const { events } = collect(stream);
  stream.start();
  await until(() => events.length === 2, 'events from both connections');
  await stream.stop();
  assert.deepEqual(log.slice(0, 3), ['attached', 'detached', 'attached']);
});

test('malformed data is reported and the stream goes on', async () => {
  const s = await server((_req, res) => {
    openSse(res);
    res.write(`event: status_update_event\r\ndata: {oops\r\n\r\n`);
    res.write(`event: status_update_event\r\ndata: ${status('a.1', 'TASK_RUNNING')}\r\n\r\n`);
  });
  const stream = new MarathonEventStream({ connection: new MarathonHttp({ urls: [s.url] }) });
  const { events, malformed } = collect(stream);
  stream.start();
  await until(() => events.length === 1, 'the good event');
  await stream.stop();
  assert.equal(malformed.length, 1);
  assert.match(malformed[0]!, /not JSON/);
});

test('SseParser: multi-line data, multi-byte characters split across chunks, oversized events skipped', () => {
  const got: Array<[string | undefined, string]> = [];
  const problems: string[] = [];
  const p = new SseParser(
    64,
    (n, d) => got.push([n, d]),
    (problem) => problems.push(problem),
  );
  const text = Buffer.from('data: ä1\ndata: 2\n\n');
  p.push(text.subarray(0, 7)); // splits the two bytes of "ä"
  p.push(text.subarray(7));
  p.push(Buffer.from(`data: ${'x'.repeat(100)}\n\ndata: ok\n\n`));
  assert.deepEqual(got, [
    [undefined, 'ä1\n2'],
    [undefined, 'ok'],
  ]);
  assert.equal(problems.length, 1);
  // Field forms: no space after the colon, a bare field name (empty value), two spaces (one kept), unknown fields.
  got.length = 0;
  p.push(Buffer.from('event:a\ndata:1\ndata\ndata:  2\nid: 7\ndat: x\nevents: y\n\nevent\ndata: z\n\n'));
  assert.deepEqual(got, [
    ['a', '1\n\n 2'],
    ['', 'z'],
  ]);
});

test('pause stops reading (events wait in the connection, the idle timeout is suspended); resume delivers them in order', async () => {
  let write: (data: string) => void = () => undefined;
  const { url } = await server((_req, res) => {
    openSse(res);
    write = (data) => res.write(`data: ${data}\r\n\r\n`);
    write(status('t.1', 'TASK_RUNNING'));
  });
  const stream = new MarathonEventStream({
    connection: new MarathonHttp({ urls: [url] }),
    idleTimeoutMs: 300,
    backoff: { ...RETRY_POLICIES.marathonStream, initialMs: 20 },
  });
  const { events } = collect(stream);
  const detached: string[] = [];
  stream.on('detached', ({ reason }) => detached.push(reason));
  stream.start();
  after(() => stream.stop());
  await until(() => events.length === 1, 'the first event');
  stream.pause();
  write(status('t.2', 'TASK_RUNNING'));
  write(status('t.3', 'TASK_KILLED'));
  await new Promise((r) => setTimeout(r, 900)); // three idle timeouts
  assert.equal(events.length, 1, 'nothing is read while paused');
  assert.deepEqual(detached, [], 'a paused stream is not dropped as silent');
  stream.resume();
  await until(() => events.length === 3, 'the events sent while paused');
  assert.deepEqual(
    events.map((e) => (e as { taskId: string }).taskId),
    ['t.1', 't.2', 't.3'],
  );
  assert.equal(stream.attached, true);
  await until(() => detached.length === 1, 'the idle timeout, running again after resume');
});
