/**
 * The event side of the Marathon test double: `/v2/events` exactly as Marathon 1.10's Jetty serves it
 * (405 unless `Accept: text/event-stream`; `event_type` filters; `event_stream_attached` first when
 * wanted; `event:`/`data:` lines ended by CRLF; a bare CR LF heartbeat, flushed in two writes) and
 * `/v2/eventSubscriptions`, whose HTTP callbacks get every event POSTed as JSON.
 */
import http from 'node:http';

export interface MarathonEventBusOptions {
  /** Heartbeat period. @defaultValue 10000 (Jetty's) */
  heartbeatMs?: number;
  /** The clock of event timestamps. @defaultValue the current time */
  timestamp?: () => string;
}

interface Stream {
  res: http.ServerResponse;
  /** Event types the stream asked for (empty: all). */
  types: Set<string>;
}

export class MarathonEventBus {
  /** Registered `/v2/eventSubscriptions` callback URLs. */
  readonly callbacks = new Set<string>();
  /** While true, streams get neither events nor heartbeats (a hung connection); callbacks still do. */
  muted = false;
  private readonly streams = new Set<Stream>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly timestamp: () => string;

  constructor(options: MarathonEventBusOptions = {}) {
    this.timestamp = options.timestamp ?? (() => new Date().toISOString());
    this.heartbeat = setInterval(() => {
      if (this.muted) return;
      for (const s of this.streams) {
        // Jetty's EventSourceServlet heartbeat: a CR and an LF, flushed separately.
        s.res.write('\r');
        s.res.write('\n');
      }
    }, options.heartbeatMs ?? 10_000);
    this.heartbeat.unref();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Publishes an event object (with its `eventType`) to every stream and callback that wants it. */
  publish(event: Record<string, unknown>): void {
    this.publishRaw(String(event.eventType), JSON.stringify(event));
    for (const url of this.callbacks) {
      const req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => res.resume());
      req.on('error', () => undefined);
      req.end(JSON.stringify(event));
    }
  }

  /** Writes one SSE event with the given data text, as is, to the streams that want it. */
  publishRaw(eventType: string, data: string): void {
    if (this.muted) return;
    for (const s of this.streams) {
      if (s.types.size === 0 || s.types.has(eventType)) s.res.write(`event: ${eventType}\r\ndata: ${data}\r\n\r\n`);
    }
  }

  /** Closes every event stream (a proxy or Marathon dropping the connection). */
  cutStreams(): void {
    for (const s of this.streams) s.res.destroy();
    this.streams.clear();
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.cutStreams();
  }

  /** Serves `GET /v2/events`; answers the status it sent. */
  attach(req: http.IncomingMessage, res: http.ServerResponse, url: URL): number {
    const accepts = String(req.headers.accept ?? '').split(',').map((v) => v.trim());
    if (!accepts.includes('text/event-stream')) {
      res.writeHead(405, { 'Content-Type': 'text/html;charset=iso-8859-1' });
      res.end('<html><body><h2>HTTP ERROR 405</h2><p>HTTP method GET is not supported by this URL</p></body></html>');
      return 405;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream;charset=UTF-8', Connection: 'close' });
    const stream: Stream = { res, types: new Set(url.searchParams.getAll('event_type')) };
    const attached = { remoteAddress: req.socket.remoteAddress ?? '127.0.0.1', eventType: 'event_stream_attached', timestamp: this.timestamp() };
    if (stream.types.size === 0 || stream.types.has('event_stream_attached')) {
      res.write(`event: event_stream_attached\r\ndata: ${JSON.stringify(attached)}\r\n\r\n`);
    } else {
      res.flushHeaders();
    }
    this.streams.add(stream);
    res.on('close', () => this.streams.delete(stream));
    return 200;
  }

  /** `/v2/eventSubscriptions`: GET lists, POST/DELETE `?callbackUrl=` (un)subscribes. */
  subscriptions(method: string, url: URL, clientIp: string | undefined): [number, unknown] {
    if (method === 'GET') return [200, { callbackUrls: [...this.callbacks] }];
    const callbackUrl = url.searchParams.get('callbackUrl');
    if (!callbackUrl) return [400, { message: 'callbackUrl is required' }];
    if (method === 'POST') this.callbacks.add(callbackUrl);
    else if (method === 'DELETE') this.callbacks.delete(callbackUrl);
    else return [405, { message: 'Method not allowed' }];
    return [200, { callbackUrl, clientIp, eventType: method === 'POST' ? 'subscribe_event' : 'unsubscribe_event', timestamp: this.timestamp() }];
  }
}
