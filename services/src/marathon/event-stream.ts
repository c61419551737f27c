/**
 * A Server-Sent Events client for Marathon's `GET /v2/events` (1.x) that stays attached.
 *
 * - Sends exactly `Accept: text/event-stream` (Jetty answers 405 otherwise) and one `event_type`
 *   query parameter per wanted type.
 * - Frames lines on `\r\n`, `\n` or `\r` (Marathon writes `\r\n`; a CR may end one chunk and its LF
 *   start the next); the heartbeat is a bare empty line every 10 s. Any byte counts as life: a stream
 *   silent for longer than `idleTimeoutMs` is dead and is dropped.
 * - Goes through the shared Marathon connection (http.ts): its auth and timeout, and redirects (a
 *   standby answers 302 to the leader) followed only to the configured Marathon hosts.
 * - Reconnects forever (RETRY_POLICIES.marathonStream), moving to the next URL after a failure.
 * - Emits `attached` on every successful connection and `detached` when it ends. Marathon has no
 *   replay: callers must re-read Marathon's state after every `attached`.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { DEFAULT_SETTINGS } from '../config/settings.js';
import { Backoff, RETRY_POLICIES, type BackoffPolicy } from '../retry.js';
import { parseMarathonEvent, type MarathonEvent, type ParsedEvent } from './events.js';
import type { MarathonHttp } from './http.js';

export interface MarathonEventStreamOptions {
  /** The Marathon connection (`MarathonClient.http`): URLs, tried in turn, auth and timeout. */
  connection: MarathonHttp;
  /** Only these event types (`event_type` filter, Marathon 1.3.7+). Default: all. */
  eventTypes?: readonly string[];
  /** A stream silent for longer than this is dead. @defaultValue settings' marathon.streamIdleTimeoutMs */
  idleTimeoutMs?: number;
  /** Reconnect delays. @defaultValue RETRY_POLICIES.marathonStream */
  backoff?: BackoffPolicy;
  /** Longest accepted SSE event (bytes); a longer one is skipped as malformed. @defaultValue 8 MiB */
  maxEventBytes?: number;
}

export interface StreamAttached {
  /** The URL that serves the stream (after redirects). */
  url: string;
}

export interface StreamDetached {
  url: string;
  reason: string;
}

export interface MalformedStreamEvent {
  eventType: string | undefined;
  problem: string;
  /** The first 200 characters of the data. */
  sample: string;
}

export interface MarathonEventStreamEvents {
  attached: [StreamAttached];
  detached: [StreamDetached];
  event: [MarathonEvent];
  /** A well-formed event of a type this client does not model. */
  unknown: [{ eventType: string; raw: Record<string, unknown> }];
  malformed: [MalformedStreamEvent];
  /** A connection attempt failed; the stream retries after `delayMs`. */
  retry: [{ url: string; error: string; delayMs: number }];
}

class StreamFailure extends Error {}

export class MarathonEventStream extends EventEmitter<MarathonEventStreamEvents> {
  private readonly connection: MarathonHttp;
  private readonly idleTimeoutMs: number;
  private readonly backoff: Backoff;
  private readonly maxEventBytes: number;
  private readonly query: string;
  private urlIndex = 0;
  private running = false;
  private request: http.ClientRequest | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private attachedUrl: string | undefined;
  /** The open stream's response and its idle-timer restart (for pause / resume). */
  private response: http.IncomingMessage | undefined;
  private touchIdle: (() => void) | undefined;
  private paused = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(options: MarathonEventStreamOptions) {
    super();
    this.connection = options.connection;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_SETTINGS.marathon.streamIdleTimeoutMs;
    this.backoff = new Backoff(options.backoff ?? RETRY_POLICIES.marathonStream);
    this.maxEventBytes = options.maxEventBytes ?? 8 * 1024 * 1024;
    const params = new URLSearchParams();
    for (const type of options.eventTypes ?? []) params.append('event_type', type);
    this.query = params.size ? `?${params.toString()}` : '';
  }

  /** True while a stream is open. */
  get attached(): boolean {
    return this.attachedUrl !== undefined;
  }

  /** The URL of the open stream, if any. */
  get url(): string | undefined {
    return this.attachedUrl;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Closes the stream and stops reconnecting. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    this.response?.destroy();
    this.request?.destroy();
    this.wake?.();
    await this.loop;
  }

  /**
   * Stops reading the stream (flow control, for a consumer that cannot keep up): unread events wait
   * in the connection's buffers, and the idle timeout is suspended until `resume`.
   */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    clearTimeout(this.idleTimer);
    this.response?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.touchIdle?.();
    this.response?.resume();
  }

  /** Drops the current connection; a new one follows after the short reconnect delay. */
  reconnect(): void {
    (this.response ?? this.request)?.destroy(new StreamFailure('reconnect requested'));
  }

  private async run(): Promise<void> {
    while (this.running) {
      const urls = this.connection.urls;
      const base = urls[this.urlIndex % urls.length]!;
      let reason: string;
      let delay = 0;
      try {
        reason = await this.connect(base + '/v2/events' + this.query);
        this.backoff.reset();
        delay = this.backoff.next();
      } catch (err) {
        reason = (err as Error).message;
        this.urlIndex++;
        delay = this.backoff.next();
        if (this.running) this.emit('retry', { url: base, error: reason, delayMs: delay });
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.retryTimer = setTimeout(resolve, delay);
      });
      this.wake = undefined;
    }
  }

  /**
   * One connection: resolves with why it ended after having been attached, rejects when it never
   * attached (refused, error status, a redirect elsewhere, no answer in time).
   */
  private async connect(url: string): Promise<string> {
    const opened = await this.connection.open(url, 'text/event-stream', (req) => (this.request = req));
    const res = opened.response;
    const status = res.statusCode ?? 0;
    const type = String(res.headers['content-type'] ?? '');
    if (status !== 200 || !type.startsWith('text/event-stream')) {
      res.resume();
      res.destroy();
      throw new StreamFailure(`${opened.url} answered ${status} ${type || 'without a content type'}`);
    }
    return this.follow(opened.url, res);
  }

  /** Reads an attached stream until it ends; resolves with why. */
  private follow(url: string, res: http.IncomingMessage): Promise<string> {
    return new Promise<string>((resolve) => {
      this.attachedUrl = url;
      this.emit('attached', { url });
      const parser = new SseParser(
        this.maxEventBytes,
        (name, data) => this.dispatch(name, data),
        (problem, sample) => this.emit('malformed', { eventType: undefined, problem, sample }),
      );
      const touch = () => {
        clearTimeout(this.idleTimer);
        if (this.paused) return;
        this.idleTimer = setTimeout(
          () => res.destroy(new StreamFailure(`silent for ${this.idleTimeoutMs} ms`)),
          this.idleTimeoutMs,
        );
      };
      this.response = res;
      this.touchIdle = touch;
      if (this.paused) res.pause();
      touch();
      let ended = false;
      let why: string | undefined;
      const finish = (reason: string) => {
        if (ended) return;
        ended = true;
        clearTimeout(this.idleTimer);
        this.attachedUrl = undefined;
        this.response = undefined;
        this.touchIdle = undefined;
        this.emit('detached', { url, reason });
        resolve(reason);
      };
      res.on('data', (chunk: Buffer) => {
        touch();
        parser.push(chunk);
      });
      res.on('end', () => finish('stream ended'));
      res.on('error', (err) => {
        why = err.message;
        finish(err.message);
      });
      res.on('close', () => finish(why ?? 'connection closed'));
      this.request?.on('error', (err) => finish(err.message));
    });
  }

  private dispatch(name: string | undefined, data: string): void {
    const parsed: ParsedEvent = parseMarathonEvent(data, name);
    if (parsed.kind === 'event') this.emit('event', parsed.event);
    else if (parsed.kind === 'unknown') this.emit('unknown', { eventType: parsed.eventType, raw: parsed.raw });
    else this.emit('malformed', { eventType: parsed.eventType, problem: parsed.problem, sample: data.slice(0, 200) });
  }
}

/**
 * The SSE line protocol (WHATWG "event stream interpretation"), enough for Marathon: `event:` and
 * `data:` fields, comments, `\r\n` / `\n` / `\r` line ends, dispatch on an empty line. Bytes are
 * decoded as UTF-8 only per complete line, so a multi-byte character split across chunks survives.
 */
export class SseParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipLeadingLf = false;
  private eventName: string | undefined;
  private data: string[] = [];
  private dataBytes = 0;
  private oversized = false;

  constructor(
    private readonly maxEventBytes: number,
    private readonly onEvent: (name: string | undefined, data: string) => void,
    private readonly onProblem: (problem: string, sample: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (this.skipLeadingLf && chunk.length > 0) {
      if (chunk[0] === 0x0a) start = 1;
      this.skipLeadingLf = false;
    }
    // Line ends found with the native search; each kind's next position is kept, so a stream
    // that never sends one kind is not searched again for it on every line.
    let nextLf = -2;
    let nextCr = -2;
    while (start < chunk.length) {
      if (nextLf !== -1 && nextLf < start) nextLf = chunk.indexOf(0x0a, start);
      if (nextCr !== -1 && nextCr < start) nextCr = chunk.indexOf(0x0d, start);
      let i = nextLf < 0 ? nextCr : nextCr < 0 ? nextLf : Math.min(nextLf, nextCr);
      if (i < 0) break;
      const byte = chunk[i];
      this.line(chunk, start, i);
      if (byte === 0x0d) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === 0x0a) i++;
        } else {
          this.skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.pendingBytes + rest.length > this.maxEventBytes) {
        this.oversized = true;
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        this.pending.push(Buffer.from(rest));
        this.pendingBytes += rest.length;
      }
    }
  }

  /** One line: `bytes[start, end)`, after what an earlier chunk left of it. */
  private line(chunk: Buffer, start: number, end: number): void {
    let bytes = chunk;
    if (this.pending.length) {
      bytes = Buffer.concat([...this.pending, chunk.subarray(start, end)]);
      this.pending = [];
      this.pendingBytes = 0;
      start = 0;
      end = bytes.length;
    }
    if (end === start) return this.dispatch();
    if (this.oversized || bytes[start] === COLON) return; // comment
    let colon = bytes.indexOf(COLON, start);
    if (colon < 0 || colon > end) colon = end;
    let valueStart = Math.min(colon + 1, end);
    if (bytes[valueStart] === SPACE && valueStart < end) valueStart++;
    if (isField(bytes, start, colon, DATA)) {
      this.dataBytes += end - valueStart;
      if (this.dataBytes > this.maxEventBytes) this.oversized = true;
      else this.data.push(bytes.toString('utf8', valueStart, end));
    } else if (isField(bytes, start, colon, EVENT)) {
      this.eventName = bytes.toString('utf8', valueStart, end);
    }
    // id and retry: Marathon sends neither and has no replay; other fields are ignored by the spec.
  }

  private dispatch(): void {
    const name = this.eventName;
    const data = this.data;
    const oversized = this.oversized;
    this.eventName = undefined;
    this.data = [];
    this.dataBytes = 0;
    this.oversized = false;
    if (oversized) return this.onProblem(`event larger than ${this.maxEventBytes} bytes skipped`, name ?? '');
    if (data.length === 0) return; // heartbeat (bare empty line) or an event without data
    this.onEvent(name, data.length === 1 ? data[0]! : data.join('\n'));
  }
}

const COLON = 0x3a;
const SPACE = 0x20;
const DATA = Buffer.from('data');
const EVENT = Buffer.from('event');

function isField(bytes: Buffer, start: number, end: number, name: Buffer): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[start + i] !== name[i]) return false;
  return true;
}
