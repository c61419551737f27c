/**
 * The resident service's wire, on its Unix socket; one call per connection. Integers are unsigned
 * 32-bit little-endian. The client is `native/theseus-containerizer.c`.
 *
 * Request (client to service):
 *   "TCZ1"
 *   argc, then argc strings        the program's arguments (`[--config f] <command>`)
 *   the working directory          a string
 *   envc, then envc strings        `NAME=value`, the client's environment
 *   stdin length, then the bytes   what the client read of its stdin: the 4-byte length and that
 *                                  many record bytes, fewer where stdin ended (NO_STDIN when the
 *                                  command reads nothing)
 * A string is its length, then its UTF-8 bytes.
 *
 * Answer (service to client), frames of: kind (1 byte), length, payload:
 *   1 stdout bytes   2 stderr bytes   3 exit status (payload: the status as a 32-bit integer, last frame)
 *   4 call again (nothing was run: this service is retiring; empty payload, last frame)
 */
import { MAX_RECORD_BYTES } from '../protocol/framing.js';

export const MAGIC = 'TCZ1';
export const NO_STDIN = 0xffffffff;
export const FRAME = { stdout: 1, stderr: 2, exit: 3, callAgain: 4 } as const;
/** Bounds a request: the largest record plus room for arguments and environment. */
export const MAX_REQUEST_BYTES = MAX_RECORD_BYTES + 4 + 4 * 1024 * 1024;

export interface ServiceRequest {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** What the client read of its stdin; undefined when the command reads none. */
  stdin: Buffer | undefined;
}

export class IncompleteRequest extends Error {}

/** Parses a whole request; throws IncompleteRequest while more bytes are needed, Error for garbage. */
export function parseRequest(bytes: Buffer): ServiceRequest {
  let offset = 0;
  const need = (n: number) => {
    if (offset + n > bytes.length) throw new IncompleteRequest();
  };
  const u32 = () => {
    need(4);
    offset += 4;
    return bytes.readUInt32LE(offset - 4);
  };
  const chunk = (n: number) => {
    need(n);
    offset += n;
    return bytes.subarray(offset - n, offset);
  };
  const text = () => chunk(u32()).toString('utf8');
  const count = (what: string) => {
    const n = u32();
    if (n > 65_536) throw new Error(`too many ${what}: ${n}`);
    return n;
  };
  if (chunk(4).toString('latin1') !== MAGIC) throw new Error('not a theseus-containerizer request');
  const argv = Array.from({ length: count('arguments') }, text);
  const cwd = text();
  const env: NodeJS.ProcessEnv = {};
  for (let n = count('environment entries'); n > 0; n--) {
    const entry = text();
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const stdinLength = u32();
  const stdin = stdinLength === NO_STDIN ? undefined : Buffer.from(chunk(stdinLength));
  if (offset !== bytes.length) throw new Error(`${bytes.length - offset} bytes after the request`);
  return { argv, cwd, env, stdin };
}

/** Builds a request (for tests, and the shape the native client writes). */
export function encodeRequest(request: ServiceRequest): Buffer {
  const parts: Buffer[] = [Buffer.from(MAGIC, 'latin1')];
  const u32 = (n: number) => {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(n, 0);
    parts.push(b);
  };
  const text = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u32(b.length);
    parts.push(b);
  };
  u32(request.argv.length);
  request.argv.forEach(text);
  text(request.cwd);
  const env = Object.entries(request.env).filter(([, v]) => v !== undefined);
  u32(env.length);
  for (const [k, v] of env) text(`${k}=${v}`);
  if (request.stdin === undefined) u32(NO_STDIN);
  else {
    u32(request.stdin.length);
    parts.push(request.stdin);
  }
  return Buffer.concat(parts);
}

export function answerFrame(kind: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out.writeUInt8(kind, 0);
  out.writeUInt32LE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

export function exitFrame(status: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeInt32LE(status, 0);
  return answerFrame(FRAME.exit, payload);
}
