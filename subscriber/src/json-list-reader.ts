/**
 * Reads one big Marathon list (`{"apps":[...]}`, `{"tasks":[...]}`) item by item as it streams in,
 * so that a snapshot of 100,000 tasks never sits in memory whole: each item of the named top-level
 * array is parsed and handed over on its own, the bytes before it dropped.
 *
 * Tries the Marathon URLs from the one the MarathonClient used last (failover on connection errors and
 * 502/503), with the client's Authorization header.
 */
import http from 'node:http';
import https from 'node:https';
import { MarathonUnavailableError, marathonErrorFor, type MarathonClient } from '@theseus/services';

/** GETs `path` and calls `onItem` for each element of the top-level array `field`. */
export async function readMarathonList<T>(
  marathon: MarathonClient,
  urls: readonly string[],
  path: string,
  field: string,
  onItem: (item: T) => void,
  options: { timeoutMs?: number; /** Reading pauses while this returns a promise, until it resolves. */ backpressure?: () => Promise<void> | undefined } = {},
): Promise<void> {
  let lastError: unknown;
  const first = Math.max(0, urls.findIndex((u) => u.replace(/\/+$/, '') === marathon.currentUrl));
  for (let attempt = 0; attempt < urls.length; attempt++) {
    const base = urls[(first + attempt) % urls.length]!.replace(/\/+$/, '');
    try {
      await readOnce(base + path, marathon.authHeader, field, onItem, options.timeoutMs ?? 60_000, options.backpressure);
      return;
    } catch (err) {
      lastError = err;
      if (!(err instanceof MarathonUnavailableError)) throw err;
    }
  }
  throw lastError;
}

function readOnce<T>(url: string, authorization: string | undefined, field: string, onItem: (item: T) => void, timeoutMs: number, backpressure?: () => Promise<void> | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (authorization) headers.Authorization = authorization;
    const req = (target.protocol === 'https:' ? https : http).get(target, { headers, timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          const err = marathonErrorFor(status, body, `GET ${target.pathname}`);
          reject(status === 502 || status === 503 ? new MarathonUnavailableError(err.message, status, body) : err);
        });
        return;
      }
      const splitter = new JsonListSplitter(field, (json) => onItem(JSON.parse(json) as T));
      res.on('data', (chunk: Buffer) => {
        try {
          splitter.push(chunk);
        } catch (err) {
          req.destroy(err as Error);
          return;
        }
        const wait = backpressure?.();
        if (wait) {
          res.pause();
          wait.then(() => res.resume(), (err: unknown) => req.destroy(err as Error));
        }
      });
      res.on('end', () => (splitter.complete ? resolve() : reject(new MarathonUnavailableError(`GET ${target.pathname}: the answer ended early`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new MarathonUnavailableError(`GET ${target.pathname}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof MarathonUnavailableError ? err : new MarathonUnavailableError(`GET ${target.pathname}: ${url} did not answer (${(err as NodeJS.ErrnoException).code ?? err.message})`, undefined, undefined, err)));
  });
}

/**
 * Finds the elements of `{"<field>": [ ... ]}` in a byte stream: tracks nesting depth outside
 * strings (with escapes); an element is the bytes between depth 2 opening and closing.
 */
export class JsonListSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private key = '';
  private readingKey = false;
  private inList = false;
  private item: Buffer[] = [];
  private itemStart = -1;
  /** True once the list closed. */
  complete = false;

  constructor(
    private readonly field: string,
    private readonly onItem: (json: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.itemStart = this.inList && this.depth >= 3 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) {
          this.inString = false;
          this.readingKey = false;
        } else if (this.readingKey) this.key += String.fromCharCode(c);
        continue;
      }
      if (c === 0x22) {
        this.inString = true;
        if (this.depth === 1) {
          this.readingKey = true;
          this.key = '';
        }
      } else if (c === 0x7b || c === 0x5b) {
        this.depth++;
        if (this.depth === 2 && c === 0x5b && this.key === this.field) this.inList = true;
        else if (this.depth === 3 && this.inList) this.itemStart = i;
      } else if (c === 0x7d || c === 0x5d) {
        if (this.depth === 3 && this.inList) {
          this.item.push(chunk.subarray(this.itemStart, i + 1));
          const json = Buffer.concat(this.item).toString('utf8');
          this.item = [];
          this.itemStart = -1;
          this.onItem(json);
        } else if (this.depth === 2 && this.inList) {
          this.inList = false;
          this.complete = true;
        }
        this.depth--;
      }
    }
    if (this.inList && this.depth >= 3 && this.itemStart >= 0) this.item.push(Buffer.from(chunk.subarray(this.itemStart)));
  }
}
