/**
 * Faults an in-process engine shows its clients, as a Marathon in trouble does: answers replaced,
 * events dropped or delayed, streams cut or silent, a standby, raw events of any shape; and a log of
 * the requests it saw. Switched off (the default), it changes nothing.
 */
import type { NextFunction, Request, Response } from 'express';
import type { EventBus, MarathonEvent } from '../events/bus.js';

export interface InjectedAnswer {
  method?: string;
  /** Matches the path (without the query). */
  path?: RegExp;
  status: number;
  body?: unknown;
  /** How many requests get this answer [1]; Infinity until `clearAnswers()`. */
  times?: number;
  /** Drop the connection instead of answering. */
  hangUp?: boolean;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The request body, parsed when JSON. */
  body: unknown;
  status: number;
  /** performance.now() at arrival and answer. */
  startMs: number;
  endMs: number;
}

export class FaultLayer {
  readonly calls: RecordedCall[] = [];
  /** While true, event streams get neither events nor heartbeats (a hung connection); callbacks still do. */
  silent = false;
  /** When set, this engine acts as a standby of that leader URL: `/v2/events` answers 302 there, other requests are proxied. */
  leaderUrl: string | undefined;
  /** Refuses requests a stricter Marathon would refuse (a schema check, say): the answer, or undefined. */
  check: ((call: RecordedCall) => { status: number; body: unknown } | undefined) | undefined;
  private readonly answers: InjectedAnswer[] = [];
  private readonly streams = new Set<Response>();
  private dropping: ((event: MarathonEvent) => boolean) | undefined;
  private delayMs = 0;
  private bus: EventBus | undefined;

  attach(bus: EventBus): void {
    this.bus = bus;
    bus.intercept = (event, _json, deliver) => {
      if (this.dropping?.(event)) return;
      if (this.delayMs > 0) setTimeout(deliver, this.delayMs);
      else deliver();
    };
  }

  /** The next `times` requests that match get this answer instead of the engine's. */
  answer(fault: InjectedAnswer): void {
    this.answers.push({ times: 1, ...fault });
  }

  clearAnswers(): void {
    this.answers.length = 0;
  }

  /** Drops the events that match (every event without a filter) until `deliverEvents()`. */
  dropEvents(filter: (event: MarathonEvent) => boolean = () => true): void {
    this.dropping = filter;
  }

  /** Delivers every event again, each `delayMs` late [0]. */
  deliverEvents(delayMs = 0): void {
    this.dropping = undefined;
    this.delayMs = delayMs;
  }

  /** Puts an event, as given, on every stream and callback: e.g. another Marathon version's shape. */
  publishRaw(eventType: string, data: string | Record<string, unknown>): void {
    if (!this.bus) throw new Error('the fault layer is not attached to an engine');
    this.bus.publishRaw(eventType, typeof data === 'string' ? data : JSON.stringify(data));
  }

  /** Open `/v2/events` streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Closes every event stream (a proxy or the engine dropping the connections). */
  cutStreams(): void {
    for (const res of this.streams) res.destroy();
    this.streams.clear();
  }

  /** Calls that changed something (not GET, answered 2xx), optionally about one app. */
  mutations(appId?: string): RecordedCall[] {
    return this.calls.filter(
      (c) =>
        c.method !== 'GET' &&
        c.status < 300 &&
        (!appId ||
          c.path.startsWith(`/v2/apps${appId}`) ||
          (c.path === '/v2/apps' && (c.body as { id?: string } | undefined)?.id === appId)),
    );
  }

  /** The Express middleware slot (after body parsing, before the routes). */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    const path = req.path;
    const call: RecordedCall = {
      method: req.method,
      path,
      query: Object.fromEntries(new URL(req.url, 'http://engine').searchParams),
      body: parseBody(req.body),
      status: 0,
      startMs: performance.now(),
      endMs: 0,
    };
    const record = (status = res.statusCode) => {
      call.status = status;
      call.endMs = performance.now();
      this.calls.push(call);
    };
    const fault = this.answers.find(
      (f) => (f.times ?? 1) > 0 && (!f.method || f.method === req.method) && (!f.path || f.path.test(path)),
    );
    if (fault) fault.times = (fault.times ?? 1) - 1;
    if (fault?.hangUp) {
      record(0);
      req.socket.destroy();
      return;
    }
    const refused = fault
      ? { status: fault.status, body: fault.body ?? { message: `injected ${fault.status}` } }
      : this.check?.(call);
    const stream = path === '/v2/events' && req.method === 'GET';
    if (stream && !refused && !this.leaderUrl) {
      record(200);
      this.follow(res);
      return next();
    }
    res.on('finish', () => record());
    if (refused) res.status(refused.status).json(refused.body);
    else if (stream) res.redirect(302, `${this.leaderUrl}/v2/events${req.url.slice(req.path.length)}`);
    else if (this.leaderUrl && path !== '/ping') void this.proxy(req, res, this.leaderUrl);
    else next();
  };

  /** A standby forwards every other request to its leader, as Marathon's leader proxy does. */
  private async proxy(req: Request, res: Response, leaderUrl: string): Promise<void> {
    const headers: Record<string, string> = {};
    for (const name of ['accept', 'authorization', 'content-type'])
      if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
    try {
      const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
      const answer = await fetch(`${leaderUrl}${req.url}`, { method: req.method, headers, ...(body ? { body } : {}) });
      res
        .status(answer.status)
        .type(answer.headers.get('content-type') ?? 'application/json')
        .send(Buffer.from(await answer.arrayBuffer()));
    } catch {
      res.status(503).json({ message: 'Could not reach the current leader' });
    }
  }

  /** Keeps an event stream to cut or silence it. */
  private follow(res: Response): void {
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    res.write = ((...args: unknown[]) => (this.silent ? true : write(...args))) as Response['write'];
  }
}

function parseBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined;
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
