/**
 * The endpoint store's etcd transaction on the wire: a `KV/Txn` request encoded straight from the
 * keys and JSON strings into one buffer, and only the answer's revision and `succeeded` read back.
 *
 * etcd3's `kv.txn` turns every compare and op into protobufjs message objects and decodes every
 * nested put answer (each with its own header of 64-bit numbers as strings): at thousands of events
 * a second that was a large share of the subscriber's CPU and garbage. The call still goes through
 * etcd3's connection pool (host choice, circuit breakers, credentials, auth metadata, error types).
 *
 * Messages (etcd's rpc.proto): TxnRequest { repeated Compare compare = 1; repeated RequestOp
 * success = 2; }, Compare { result = 1; target = 2; bytes key = 3; int64 create_revision = 5;
 * int64 mod_revision = 6; }, RequestOp { PutRequest request_put = 2; DeleteRangeRequest
 * request_delete_range = 3; }, PutRequest / DeleteRangeRequest { bytes key = 1; bytes value = 2; },
 * TxnResponse { ResponseHeader header = 1; bool succeeded = 2; }, ResponseHeader { int64 revision = 3; }.
 */
import type { Etcd3 } from 'etcd3';

export interface TxnCompare {
  key: string;
  /** `exists`: the key's create revision is > 0; `modRevision`: its mod revision equals it (0: absent). */
  check: 'exists' | 'modRevision';
  modRevision?: number;
}

export interface TxnOp {
  key: string;
  /** The value to put; undefined deletes the key. */
  value?: string;
}

export interface TxnOutcome {
  succeeded: boolean;
  /** The store's revision after the transaction (or when its compares failed). */
  revision: number;
}

const COMPARE_GREATER = 1;
const COMPARE_EQUAL = 0;
const TARGET_CREATE = 1;
const TARGET_MOD = 2;

/** Bytes of a varint; revisions are below 2^53, so plain arithmetic holds. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.offset++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.offset++] = n;
  }

  /** Field tag and length of a length-delimited field. */
  head(field: number, length: number): void {
    this.buf[this.offset++] = (field << 3) | 2;
    this.varint(length);
  }

  bytes(field: number, text: string, length: number): void {
    this.head(field, length);
    this.offset += this.buf.write(text, this.offset, length, 'utf8');
  }
}

const delimited = (length: number) => 1 + varintSize(length) + length;

function compareBody(c: TxnCompare, keyLength: number): number {
  const revision = c.check === 'exists' ? 0 : (c.modRevision ?? 0);
  return 2 + 2 + delimited(keyLength) + 1 + varintSize(revision);
}

/** Encodes a TxnRequest with these compares and, when they hold, these ops (no failure ops). */
export function encodeTxnRequest(compares: readonly TxnCompare[], ops: readonly TxnOp[]): Buffer {
  const compareKeys = compares.map((c) => Buffer.byteLength(c.key));
  const opKeys = ops.map((o) => Buffer.byteLength(o.key));
  const opValues = ops.map((o) => (o.value === undefined ? -1 : Buffer.byteLength(o.value)));
  const opBodies = ops.map((_, i) => delimited(opKeys[i]!) + (opValues[i]! >= 0 ? delimited(opValues[i]!) : 0));
  let size = 0;
  for (let i = 0; i < compares.length; i++) size += delimited(compareBody(compares[i]!, compareKeys[i]!));
  for (const body of opBodies) size += delimited(delimited(body));

  const w = new Writer(Buffer.allocUnsafe(size));
  for (let i = 0; i < compares.length; i++) {
    const c = compares[i]!;
    w.head(1, compareBody(c, compareKeys[i]!));
    w.buf[w.offset++] = 1 << 3; // result
    w.buf[w.offset++] = c.check === 'exists' ? COMPARE_GREATER : COMPARE_EQUAL;
    w.buf[w.offset++] = 2 << 3; // target
    w.buf[w.offset++] = c.check === 'exists' ? TARGET_CREATE : TARGET_MOD;
    w.bytes(3, c.key, compareKeys[i]!);
    // The target_union oneof is written even when 0, as a set oneof field is.
    w.buf[w.offset++] = (c.check === 'exists' ? 5 : 6) << 3;
    w.varint(c.check === 'exists' ? 0 : (c.modRevision ?? 0));
  }
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    w.head(2, delimited(opBodies[i]!));
    w.head(op.value === undefined ? 3 : 2, opBodies[i]!);
    w.bytes(1, op.key, opKeys[i]!);
    if (op.value !== undefined) w.bytes(2, op.value, opValues[i]!);
  }
  if (w.offset !== size) throw new Error(`transaction encoded to ${w.offset} bytes, ${size} expected`);
  return w.buf;
}

class Reader {
  offset = 0;
  constructor(
    readonly buf: Buffer,
    readonly end = buf.length,
  ) {}

  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.offset >= this.end) throw new Error('truncated varint in a transaction answer');
      const byte = this.buf[this.offset++]!;
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n;
      scale *= 128;
    }
  }

  /** The end of a length-delimited field starting here (its length read). */
  fieldEnd(): number {
    const length = this.varint();
    if (this.offset + length > this.end) throw new Error('truncated field in a transaction answer');
    return this.offset + length;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.offset = this.fieldEnd();
    else if (wireType === 1 || wireType === 5) this.offset += wireType === 1 ? 8 : 4;
    else throw new Error(`unexpected wire type ${wireType} in a transaction answer`);
    if (this.offset > this.end) throw new Error('truncated field in a transaction answer');
  }
}

/** Reads a TxnResponse's `succeeded` and header revision; the per-op answers are skipped unread. */
export function decodeTxnOutcome(buf: Buffer): TxnOutcome {
  const r = new Reader(buf);
  let succeeded = false;
  let revision = 0;
  while (r.offset < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) {
      const header = new Reader(buf, r.fieldEnd());
      header.offset = r.offset;
      while (header.offset < header.end) {
        const t = header.varint();
        if (t === (3 << 3)) revision = header.varint();
        else header.skip(t & 7);
      }
      r.offset = header.end;
    } else if (field === 2 && wireType === 0) {
      succeeded = r.varint() !== 0;
    } else {
      r.skip(wireType);
    }
  }
  return { succeeded, revision };
}

/** The parts of etcd3's connection pool this call uses (it is the client's `pool`). */
interface ConnectionPool {
  withConnection<R>(service: string, fn: (connection: { client: UnaryClient; metadata: unknown }) => Promise<R>): Promise<R>;
}
interface UnaryClient {
  makeUnaryRequest<Res>(
    method: string,
    serialize: (request: Buffer) => Buffer,
    deserialize: (bytes: Buffer) => Res,
    request: Buffer,
    metadata: unknown,
    options: { deadline?: number },
    callback: (err: Error | null, value?: Res) => void,
  ): unknown;
}

const asIs = (bytes: Buffer) => bytes;

/**
 * Sends an encoded TxnRequest through the client's connection pool. Errors are etcd3's own
 * (unreachable hosts are recoverable errors, as with `kv.txn`).
 */
export function sendTxn(client: Etcd3, request: Buffer, timeoutMs: number): Promise<TxnOutcome> {
  const pool = (client as unknown as { pool?: ConnectionPool }).pool;
  if (typeof pool?.withConnection !== 'function') throw new Error('this etcd3 client has no connection pool to send transactions through');
  return pool.withConnection('KV', ({ client: kv, metadata }) =>
    new Promise<TxnOutcome>((resolve, reject) => {
      kv.makeUnaryRequest('/etcdserverpb.KV/Txn', asIs, decodeTxnOutcome, request, metadata, { deadline: Date.now() + timeoutMs }, (err, outcome) =>
        err ? reject(err) : resolve(outcome!),
      );
    }),
  );
}
