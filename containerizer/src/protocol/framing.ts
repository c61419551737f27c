/**
 * The slave's record framing: a 4-byte unsigned length in native byte order (little-endian on
 * x86/amd64), then that many bytes of protobuf. The slave keeps stdin open, so exactly 4 + N bytes
 * are read and EOF is never awaited.
 */
import { readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { BadRecordError } from './errors.js';

const LITTLE = endianness() === 'LE';
/** Larger than any Launch a slave sends; guards against reading garbage as a length. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  if (LITTLE) out.writeUInt32LE(payload.length, 0);
  else out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

/** Reads the first record of `bytes` (for tests and tools). */
export function unframe(bytes: Uint8Array): Buffer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) throw new BadRecordError(`record too short: ${buf.length} bytes, the 4-byte length is missing`);
  const size = LITTLE ? buf.readUInt32LE(0) : buf.readUInt32BE(0);
  if (buf.length < 4 + size)
    throw new BadRecordError(`record truncated: length says ${size} bytes, ${buf.length - 4} present`);
  return buf.subarray(4, 4 + size);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function readExactly(fd: number, size: number, what: string): Buffer {
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    let n: number;
    try {
      n = readSync(fd, buf, got, size - got, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 2);
        continue;
      }
      if (code === 'EOF') n = 0;
      else throw new BadRecordError(`cannot read the ${what} from stdin: ${(err as Error).message}`, err);
    }
    if (n === 0) throw new BadRecordError(`stdin ended after ${got} of the ${size} bytes of the ${what}`);
    got += n;
  }
  return buf;
}

/** Reads one framed record from `fd` (stdin by default): blocks until all of it is there, reads nothing more. */
export function readRecord(fd = 0): Buffer {
  return recordOf((size, what) => readExactly(fd, size, what));
}

/**
 * The one framed record in `bytes`, which hold what was read of a stdin (the resident service gets
 * them from its client): refused exactly as `readRecord` would refuse the same stdin.
 */
export function recordFromBytes(bytes: Buffer): Buffer {
  let offset = 0;
  return recordOf((size, what) => {
    const got = Math.min(size, bytes.length - offset);
    if (got < size) throw new BadRecordError(`stdin ended after ${got} of the ${size} bytes of the ${what}`);
    offset += size;
    return bytes.subarray(offset - size, offset);
  });
}

function recordOf(read: (size: number, what: string) => Buffer): Buffer {
  const header = read(4, 'record length');
  const size = LITTLE ? header.readUInt32LE(0) : header.readUInt32BE(0);
  if (size === 0) throw new BadRecordError('empty record: the length is 0');
  if (size > MAX_RECORD_BYTES)
    throw new BadRecordError(`record length ${size} is larger than ${MAX_RECORD_BYTES} bytes: not a framed record`);
  return read(size, `${size}-byte record`);
}

/** Writes one framed record to `fd` (stdout by default), completely, before returning. */
export function writeRecord(payload: Uint8Array, fd = 1): void {
  writeAll(fd, frame(payload));
}

/** Writes all of `bytes` to `fd` before returning, also when it is a non-blocking pipe. */
export function writeAll(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written, bytes.length - written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleeper, 0, 0, 2);
    }
  }
}
