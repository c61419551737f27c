/**
 * The one HTTP connection to Marathon (or the engine) that every Marathon client of Theseus uses:
 * REST calls, the event stream and streamed lists. It holds the connection settings (URLs, auth,
 * timeout) and a keep-alive agent, and fails over across the URLs: a connection error or a
 * 502/503 moves on to the next URL, and the one that answered is tried first next time.
 *
 * Redirects (a standby answers 307/302 to the leader) are followed only to the configured Marathon
 * hosts; a redirect elsewhere is refused, so the Authorization header never leaves them.
 */
import http from 'node:http';
import https from 'node:https';
import { DEFAULT_SETTINGS } from '../config/settings.js';
import { MarathonUnavailableError, marathonErrorFor } from './errors.js';

export interface MarathonConnectionOptions {
  urls: readonly string[];
  /** `user:password` for basic auth. */
  credentials?: string | undefined;
  /** DC/OS token: `Authorization: token=<token>`. */
  token?: string | undefined;
  /** Time for an answer (REST) or response headers (streams). @defaultValue settings' marathon.timeoutMs */
  timeoutMs?: number;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface MarathonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body parsed as JSON, or its text when it is not JSON; undefined when empty. */
  body: unknown;
}

/** Node's error codes for a server that could not be reached (safe to try the next URL). */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
]);
const MAX_REDIRECTS = 5;

/** No answer within the timeout: the request may have been applied, so it is not repeated elsewhere. */
class NoAnswerError extends Error {}

export class MarathonHttp {
  readonly urls: readonly string[];
  readonly timeoutMs: number;
  /** The Authorization header value, if any. */
  readonly authorization: string | undefined;
  private readonly origins: Set<string>;
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  private preferred = 0;

  constructor(options: MarathonConnectionOptions) {
    if (options.urls.length === 0) throw new Error('a Marathon connection needs at least one URL');
    this.urls = options.urls.map((u) => u.replace(/\/+$/, ''));
    this.origins = new Set(this.urls.map((u) => new URL(u).origin));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SETTINGS.marathon.timeoutMs;
    if (options.token) this.authorization = `token=${options.token}`;
    else if (options.credentials) this.authorization = `Basic ${Buffer.from(options.credentials).toString('base64')}`;
  }

  /** The URL that answered last (the one tried first). */
  get currentUrl(): string {
    return this.urls[this.preferred]!;
  }

  /** The configured URLs, starting with the one that answered last. */
  inTurn(): string[] {
    return this.urls.map((_, i) => this.urls[(this.preferred + i) % this.urls.length]!);
  }

  /** Remembers the URL that answered, to try it first next time. */
  answered(base: string): void {
    const index = this.urls.indexOf(base);
    if (index >= 0) this.preferred = index;
  }

  /**
   * One REST call with failover. A 2xx answer resolves with the parsed body; any other answer
   * rejects with the matching MarathonError; no answer anywhere rejects with MarathonUnavailableError.
   */
  async request<T>(
    method: HttpMethod,
    path: string,
    params: URLSearchParams | undefined,
    body: unknown,
    what: string,
  ): Promise<T> {
    const query = params && params.size ? `?${params.toString()}` : '';
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    let lastError: unknown;
    for (const base of this.inTurn()) {
      let response: MarathonResponse;
      try {
        response = await this.send(method, base + path + query, payload);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        lastError = new MarathonUnavailableError(
          `${what}: ${base} did not answer (${code || (err as Error).message})`,
          undefined,
          undefined,
          err,
        );
        if (CONNECTION_ERRORS.has(code)) continue;
        throw lastError;
      }
      if (response.status === 502 || response.status === 503) {
        lastError = marathonErrorFor(response.status, response.body, `${what} (${base})`);
        continue;
      }
      this.answered(base);
      if (response.status >= 200 && response.status < 300) return response.body as T;
      throw marathonErrorFor(response.status, response.body, what);
    }
    throw lastError;
  }

  private send(method: HttpMethod, url: string, payload: Buffer | undefined): Promise<MarathonResponse> {
    return new Promise((resolve, reject) => {
      // always JSON: a bodiless POST would otherwise go out without a type, which Marathon refuses (415)
      const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json' };
      if (this.authorization) headers.Authorization = this.authorization;
      if (payload) headers['Content-Length'] = String(payload.length);
      const req = this.transport(url).request(url, { method, headers, agent: this.agentFor(url) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parseBody(Buffer.concat(chunks)) });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const timer = setTimeout(
        () => req.destroy(new NoAnswerError(`timeout of ${this.timeoutMs} ms exceeded`)),
        this.timeoutMs,
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  }

  /**
   * Opens a streaming GET of one URL (a configured base + path), following redirects to configured
   * hosts only. Resolves with the response once its headers arrived (any status: the caller reads
   * or discards it); rejects when there is no answer within the timeout, a redirect leads elsewhere
   * or loops. `onRequest` gets each request made (to abort it).
   */
  open(
    url: string,
    accept: string,
    onRequest?: (req: http.ClientRequest) => void,
  ): Promise<{ url: string; response: http.IncomingMessage }> {
    return this.openFrom(url, accept, onRequest, 0);
  }

  private openFrom(
    url: string,
    accept: string,
    onRequest: ((req: http.ClientRequest) => void) | undefined,
    redirects: number,
  ): Promise<{ url: string; response: http.IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: accept };
      if (accept === 'text/event-stream') headers['Cache-Control'] = 'no-cache';
      if (this.authorization) headers.Authorization = this.authorization;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      // Streams get a connection of their own: a long-lived response must not hold a pooled socket.
      const req = this.transport(url).get(url, { headers, agent: false }, (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location) {
          res.resume();
          req.destroy();
          if (redirects >= MAX_REDIRECTS)
            return fail(new MarathonUnavailableError(`more than ${MAX_REDIRECTS} redirects from ${url}`));
          const next = new URL(location, url);
          if (!this.origins.has(next.origin)) {
            return fail(
              new MarathonUnavailableError(
                `${url} redirected to ${next.origin}, which is not a configured Marathon URL; not followed`,
              ),
            );
          }
          settled = true;
          this.openFrom(next.toString(), accept, onRequest, redirects + 1).then(resolve, reject);
          return;
        }
        settled = true;
        resolve({ url, response: res });
      });
      onRequest?.(req);
      const timer = setTimeout(
        () => req.destroy(new MarathonUnavailableError(`${url}: no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        fail(
          err instanceof MarathonUnavailableError
            ? err
            : new MarathonUnavailableError(
                `${url} did not answer (${(err as NodeJS.ErrnoException).code ?? err.message})`,
                undefined,
                undefined,
                err,
              ),
        );
      });
    });
  }

  /** Reads an answer that is not the one hoped for and turns it into the matching MarathonError. */
  static async errorOf(response: http.IncomingMessage, what: string): Promise<Error> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (size < 64 * 1024) chunks.push(chunk);
      size += chunk.length;
    }
    const status = response.statusCode ?? 0;
    const err = marathonErrorFor(status, parseBody(Buffer.concat(chunks)), what);
    return status === 502 || status === 503 ? new MarathonUnavailableError(err.message, status) : err;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private transport(url: string): typeof http | typeof https {
    return url.startsWith('https:') ? https : http;
  }

  private agentFor(url: string): http.Agent {
    return url.startsWith('https:') ? this.agents.https : this.agents.http;
  }
}

function parseBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
