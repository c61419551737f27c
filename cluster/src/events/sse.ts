/**
 * Marathon's `/v2/events` stream (Jetty EventSourceServlet): `event: <type>\r\ndata: <json>\r\n\r\n`,
 * a bare CRLF heartbeat, `event_stream_attached` first, `event_type` filters, and a bounded buffer
 * per client: a client more than `maxOutstanding` events behind is disconnected (Marathon 1.8+).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus, MarathonEvent } from './bus.js';

export interface EventStreamOptions {
  /** Heartbeat period (Jetty default 10 s). */
  heartbeatMs?: number;
  /** Events buffered per client before it is dropped (Marathon default 1024). */
  maxOutstanding?: number;
}

export class EventStreamHub {
  private readonly clients = new Set<EventStreamClient>();
  private readonly heartbeatMs: number;
  private readonly maxOutstanding: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly bus: EventBus,
    options: EventStreamOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.maxOutstanding = options.maxOutstanding ?? 1024;
    this.timer = setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, this.heartbeatMs);
    this.timer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over an HTTP response as an event stream. */
  attach(req: IncomingMessage, res: ServerResponse, eventTypes: string[]): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream;charset=UTF-8',
      'Cache-Control': 'no-cache',
      Connection: 'close',
    });
    res.flushHeaders();
    const remoteAddress = req.socket.remoteAddress ?? 'unknown';
    const client = new EventStreamClient(res, new Set(eventTypes), this.maxOutstanding);
    const unsubscribe = this.bus.subscribe((event, json) => client.send(event, json));
    this.clients.add(client);
    // on the bus, as Marathon does: the new stream gets it first, every other stream and callback too
    this.bus.publish('event_stream_attached', { remoteAddress });
    const detach = () => {
      if (!this.clients.delete(client)) return;
      unsubscribe();
      this.bus.publish('event_stream_detached', { remoteAddress });
    };
    res.on('close', detach);
    req.socket.on('error', detach);
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
  }
}

class EventStreamClient {
  private pending: string[] = [];
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly types: Set<string>,
    private readonly maxOutstanding: number,
  ) {
    res.on('drain', () => this.flush());
    res.on('error', () => this.end());
  }

  send(event: MarathonEvent, json: string): void {
    if (this.closed || (this.types.size > 0 && !this.types.has(event.eventType))) return;
    this.write(`event: ${event.eventType}\r\ndata: ${json}\r\n\r\n`);
  }

  heartbeat(): void {
    if (!this.closed) this.write('\r\n');
  }

  private write(chunk: string): void {
    if (this.res.destroyed) {
      this.closed = true;
      return;
    }
    if (this.pending.length > 0 || this.res.writableNeedDrain) {
      this.pending.push(chunk);
      if (this.pending.length > this.maxOutstanding) this.drop();
      return;
    }
    this.res.write(chunk);
  }

  private flush(): void {
    while (this.pending.length > 0 && !this.res.writableNeedDrain && !this.closed)
      this.res.write(this.pending.shift()!);
  }

  /** Too far behind: close the connection, the client reconnects and resyncs. */
  private drop(): void {
    this.pending = [];
    this.end();
    this.res.destroy();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
  }
}
