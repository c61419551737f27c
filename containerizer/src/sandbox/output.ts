/**
 * A task's stdout or stderr in its sandbox, rotated by size: `stdout` → `stdout.1` → … → `stdout.N`,
 * the oldest removed (Mesos's LogrotateContainerLogger layout). Written here rather than with a
 * rotation library because the sandbox belongs to the task: every open uses O_NOFOLLOW, so output is
 * never written through a symbolic link the task put there, and renames and unlinks never follow one.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

export interface OutputLimits {
  /** Size at which the file is rotated, in bytes. */
  maxFileBytes: number;
  /** Rotated files kept besides the current one. */
  maxFiles: number;
}

const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

export class RotatingFile {
  private fd: number | undefined;
  private size = 0;
  /** Set when the file cannot be written (a symlink in its place, a full disk): later output is dropped. */
  failure: Error | undefined;

  constructor(
    readonly dir: string,
    readonly name: string,
    private readonly limits: OutputLimits,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  write(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.open();
      let rest = chunk;
      while (rest.length > 0) {
        this.open();
        if (this.size >= this.limits.maxFileBytes) {
          this.rotate();
          continue;
        }
        const room = this.limits.maxFileBytes - this.size;
        let end = rest.length;
        if (end > room) {
          // whole lines in each file where they fit: rotate early rather than split a line
          const newline = rest.lastIndexOf(0x0a, room - 1);
          if (newline < 0 && this.size > 0) {
            this.rotate();
            continue;
          }
          end = newline >= 0 ? newline + 1 : room;
        }
        const part = rest.subarray(0, end);
        let written = 0;
        while (written < part.length) written += writeSync(this.fd!, part, written, part.length - written);
        this.size += part.length;
        rest = rest.subarray(part.length);
      }
    } catch (err) {
      this.failure = err as Error;
      this.close();
      this.onError(
        new Error(`cannot write ${join(this.dir, this.name)}: ${(err as Error).message}; further output is dropped`),
      );
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }

  private open(): void {
    if (this.fd !== undefined) return;
    const fd = openSync(join(this.dir, this.name), OPEN_FLAGS, 0o644);
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      closeSync(fd);
      throw new Error('it is not a regular file');
    }
    this.fd = fd;
    this.size = stat.size;
  }

  private rotate(): void {
    this.close();
    const path = (i: number) => join(this.dir, i === 0 ? this.name : `${this.name}.${i}`);
    const { maxFiles } = this.limits;
    rmSync(path(maxFiles), { force: true });
    for (let i = maxFiles - 1; i >= 0; i--) {
      try {
        renameSync(path(i), path(i + 1));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    if (maxFiles === 0) rmSync(path(1), { force: true });
  }
}

/** A Writable over a RotatingFile (for piping a stream), which never errors: failures go to `onError`. */
export function rotatingStream(file: RotatingFile): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      file.write(chunk);
      done();
    },
    final(done) {
      file.close();
      done();
    },
    destroy(_err, done) {
      file.close();
      done(null);
    },
  });
}

/** The sandbox's `stdout` and `stderr` writers; creates the sandbox when missing. */
export function sandboxOutput(
  sandbox: string,
  limits: OutputLimits,
  onError: (err: Error) => void,
): { stdout: Writable; stderr: Writable } {
  mkdirSync(sandbox, { recursive: true });
  const [stdout, stderr] = ['stdout', 'stderr'].map((name) => {
    const file = new RotatingFile(sandbox, name, limits, onError);
    // both files exist from the start, as in a Mesos sandbox
    file.write(Buffer.alloc(0));
    return rotatingStream(file);
  });
  return { stdout: stdout!, stderr: stderr! };
}
