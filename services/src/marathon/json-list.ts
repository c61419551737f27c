/**
 * Reads one big Marathon list (`{"apps":[...]}`, `{"tasks":[...]}`) item by item as it streams in,
 * so that a snapshot of 100,000 tasks never sits in memory whole: each item of the named top-level
 * array is parsed and handed over on its own, the bytes before it dropped. Goes through the
 * connection's failover (connection errors and 502/503 move on to the next URL).
 */
import type { IncomingMessage } from 'node:http';
import { MarathonUnavailableError } from './errors.js';
import { MarathonHttp } from './http.js';

export interface ListReadOptions {
  /** Longest read of the whole list. @defaultValue 6 times the connection's timeout */
  timeoutMs?: number;
  /** Reading pauses while this returns a promise, until it resolves. */
  backpressure?: () => Promise<void> | undefined;
}

/** GETs `path` and calls `onItem` for each element of the top-level array `field`. */
export async function readMarathonList<T>(
  connection: MarathonHttp,
  path: string,
  field: string,
  onItem: (item: T) => void,
  options: ListReadOptions = {},
): Promise<void> {
  let lastError: unknown;
  for (const base of connection.inTurn()) {
    try {
      await readOnce(
        connection,
        base + path,
        field,
        onItem,
        options.timeoutMs ?? 6 * connection.timeoutMs,
        options.backpressure,
      );
      connection.answered(base);
      return;
    } catch (err) {
      lastError = err;
      if (!(err instanceof MarathonUnavailableError)) throw err;
    }
  }
  throw lastError;
}

async function readOnce<T>(
  connection: MarathonHttp,
  url: string,
  field: string,
  onItem: (item: T) => void,
  timeoutMs: number,
  backpressure?: () => Promise<void> | undefined,
): Promise<void> {
  const what = `GET ${new URL(url).pathname}`;
  let request: { destroy(err?: Error): void } | undefined;
  let response: IncomingMessage | undefined;
  const timer = setTimeout(
    () => (response ?? request)?.destroy(new MarathonUnavailableError(`${what}: not read within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    ({ response } = await connection.open(url, 'application/json', (req) => (request = req)));
    if (response.statusCode !== 200) throw await MarathonHttp.errorOf(response, what);
    await readItems(response, field, onItem, what, backpressure);
  } finally {
    clearTimeout(timer);
  }
}

function readItems<T>(
  res: IncomingMessage,
  field: string,
  onItem: (item: T) => void,
  what: string,
  backpressure?: () => Promise<void> | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const splitter = new JsonListSplitter(field, (json) => onItem(JSON.parse(json) as T));
    res.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (err) {
        res.destroy(err as Error);
        return;
      }
      const wait = backpressure?.();
      if (wait) {
        res.pause();
        wait.then(
          () => res.resume(),
          (err: unknown) => res.destroy(err as Error),
        );
      }
    });
    res.on('end', () =>
      splitter.complete ? resolve() : reject(new MarathonUnavailableError(`${what}: the answer ended early`)),
    );
    res.on('error', (err) =>
      reject(
        err instanceof MarathonUnavailableError
          ? err
          : new MarathonUnavailableError(`${what}: ${err.message}`, undefined, undefined, err),
      ),
    );
    res.on('close', () => {
      if (!res.complete) reject(new MarathonUnavailableError(`${what}: the connection closed early`));
    });
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
    if (this.inList && this.depth >= 3 && this.itemStart >= 0)
      this.item.push(Buffer.from(chunk.subarray(this.itemStart)));
  }
}
