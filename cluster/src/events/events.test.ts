/** /v2/events (SSE) and /v2/eventSubscriptions (HTTP callbacks) against a real engine. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { removeDir, testEngine, waitFor, type TestEngine } from '../test-support.js';

/** A raw SSE reader: keeps every byte, so framing can be checked exactly. */
function openStream(
  url: string,
  accept = 'text/event-stream',
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  text: () => string;
  close: () => void;
  ended: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: accept } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (buffer += chunk));
      const ended = new Promise<void>((r) => {
        res.on('close', () => r());
        res.on('error', () => r());
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => buffer,
        close: () => req.destroy(),
        ended,
      });
    });
    req.on('error', reject);
  });
}

function frames(text: string): Array<{ event: string; data: Record<string, unknown> }> {
  return text
    .split('\r\n\r\n')
    .map((f) => f.replace(/^(\r\n)+/, ''))
    .filter((f) => f.startsWith('event: '))
    .map((f) => {
      const [eventLine, dataLine] = f.split('\r\n');
      return {
        event: eventLine!.slice('event: '.length),
        data: JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown>,
      };
    });
}

describe('event stream', () => {
  let e: TestEngine;
  before(async () => {
    e = await testEngine({ eventHeartbeatMs: 100, eventMaxOutstanding: 50 });
  });
  after(async () => {
    await e.stop();
    removeDir(e.dataDir);
  });

  it('answers 405 without Accept: text/event-stream', async () => {
    const res = await fetch(`${e.url}/v2/events`, { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 405);
    await res.text();
  });

  it('sends event_stream_attached first, CRLF framing, heartbeats, and only the filtered types', async () => {
    const all = await openStream(`${e.url}/v2/events`);
    const filtered = await openStream(`${e.url}/v2/events?event_type=api_post_event&event_type=deployment_success`);
    assert.equal(all.status, 200);
    assert.match(String(all.headers['content-type']), /^text\/event-stream/);
    await waitFor('attached', () => frames(all.text()).length >= 1);
    await e.client.createApp({ id: '/events/a', cmd: 'sleep 600', instances: 0, mem: 16, cpus: 0.1 });
    await waitFor('deployment_success on the filtered stream', () =>
      frames(filtered.text()).some((f) => f.event === 'deployment_success'),
    );
    await waitFor('a heartbeat', () => all.text().includes('\r\n\r\n\r\n') || /\r\n\r\n\r\n$|^\r\n/.test(all.text()));
    const received = frames(all.text());
    assert.equal(received[0]!.event, 'event_stream_attached');
    assert.ok(received[0]!.data.remoteAddress);
    assert.equal(
      received.filter((f) => f.event === 'event_stream_attached').length,
      2,
      "the filtered stream's attach reaches this stream too (it is a bus event)",
    );
    for (const f of received) {
      assert.equal(f.data.eventType, f.event);
      assert.match(String(f.data.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    const post = received.find((f) => f.event === 'api_post_event')!;
    assert.equal((post.data.appDefinition as { id: string }).id, '/events/a');
    // the filter applies to every event, event_stream_attached included (Marathon's handle filters all)
    const filteredTypes = new Set(frames(filtered.text()).map((f) => f.event));
    assert.deepEqual([...filteredTypes].sort(), ['api_post_event', 'deployment_success']);
    assert.ok(
      received.some((f) => f.event === 'deployment_info'),
      'the unfiltered stream has the other types',
    );
    all.close();
    filtered.close();
  });

  it('disconnects a client that falls too far behind, without holding up the others', async () => {
    // a client that never reads: its socket buffer fills, then its outstanding events pass the limit
    const slow = await new Promise<http.ClientRequest>((resolve) => {
      const req = http.get(`${e.url}/v2/events`, { headers: { Accept: 'text/event-stream' } }, (res) => {
        res.pause();
        resolve(req);
      });
    });
    const fast = await openStream(`${e.url}/v2/events?event_type=slow_test_event`);
    const before = e.http.events.size;
    const filler = 'x'.repeat(32 * 1024);
    // bursts of 10 events, each burst once the event loop had a turn (so reading clients can drain)
    for (let i = 0; i < 1000; i += 10) {
      for (let j = i; j < i + 10; j++) e.engine.bus.publish('slow_test_event', { i: j, filler });
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitFor('slow client dropped', () => e.http.events.size < before);
    await waitFor(
      'fast client got everything',
      () => frames(fast.text()).filter((f) => f.event === 'slow_test_event').length === 1000,
    );
    slow.destroy();
    fast.close();
  });
});

describe('HTTP callback subscriptions', () => {
  let e: TestEngine;
  let receiver: http.Server;
  const received: Array<Record<string, unknown>> = [];
  let failFirst = 2;
  before(async () => {
    e = await testEngine();
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (failFirst-- > 0) {
          res.statusCode = 503;
          res.end();
          return;
        }
        received.push(JSON.parse(body) as Record<string, unknown>);
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await e.stop();
    removeDir(e.dataDir);
    receiver.close();
  });

  it('subscribes, POSTs events (retrying failures), lists and unsubscribes', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    const sub = await fetch(`${e.url}/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(url)}`, {
      method: 'POST',
    });
    assert.equal(sub.status, 200);
    const subBody = (await sub.json()) as Record<string, unknown>;
    assert.equal(subBody.eventType, 'subscribe_event');
    assert.equal(subBody.callbackUrl, url);
    assert.deepEqual(await (await fetch(`${e.url}/v2/eventSubscriptions`)).json(), { callbackUrls: [url] });
    await e.client.createApp({ id: '/callbacks/a', cmd: 'sleep 600', instances: 0, mem: 16, cpus: 0.1 });
    await waitFor('api_post_event delivered', () => received.some((ev) => ev.eventType === 'api_post_event'), 15_000);
    assert.ok(
      received.some((ev) => ev.eventType === 'subscribe_event'),
      'the first event was retried after 503s',
    );
    const unsub = await fetch(`${e.url}/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(url)}`, {
      method: 'DELETE',
    });
    assert.equal(((await unsub.json()) as { eventType: string }).eventType, 'unsubscribe_event');
    assert.deepEqual(await (await fetch(`${e.url}/v2/eventSubscriptions`)).json(), { callbackUrls: [] });
    const bad = await fetch(`${e.url}/v2/eventSubscriptions?callbackUrl=nope`, { method: 'POST' });
    assert.equal(bad.status, 422);
  });
});
