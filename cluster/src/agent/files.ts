/**
 * The Mesos agent's files API over task sandboxes: `/files/debug`, `/files/browse`, `/files/read`,
 * `/files/download`. Each sandbox is reachable under its real directory (what the agent's `/state`
 * reports as the executor's `directory`) and under Mesos's virtual path
 * `/frameworks/<framework>/executors/<executor>/runs/latest`. Nothing outside a sandbox is served:
 * a path under no sandbox is not found (404), and one that leads out of its sandbox through a
 * symbolic link is forbidden (403), as a Mesos agent answers.
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  statSync,
  constants,
} from 'node:fs';
import { posix } from 'node:path';
import { userInfo } from 'node:os';

export interface Sandbox {
  frameworkId: string;
  executorId: string;
  directory: string;
}

export class FilesError extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** Mesos's `FileInfo` JSON. */
export interface FileInfo {
  path: string;
  nlink: number;
  size: number;
  mtime: number;
  mode: string;
  uid: string;
  gid: string;
}

/** Mesos's `/files/read` answers at most 16 pages when no (or a larger) length is asked. */
const MAX_READ = 16 * 4096;

export function virtualPath(s: Sandbox): string {
  return `/frameworks/${s.frameworkId}/executors/${s.executorId}/runs/latest`;
}

export class AgentFiles {
  constructor(private readonly sandboxes: () => Sandbox[]) {}

  /** Virtual path → real path, as the agent's `/files/debug`. */
  debug(): Record<string, string> {
    const map: Record<string, string> = {};
    for (const s of this.sandboxes()) {
      map[s.directory] = s.directory;
      map[virtualPath(s)] = s.directory;
    }
    return map;
  }

  browse(path: string | undefined): FileInfo[] {
    const { real, virtual } = this.resolve(path);
    const stat = statSync(real);
    if (!stat.isDirectory()) return [fileInfo(virtual, real)];
    return readdirSync(real)
      .sort()
      .map((name) => fileInfo(posix.join(virtual, name), posix.join(real, name)));
  }

  /** `offset` -1: the file's size with no data. */
  read(path: string | undefined, offsetText: unknown, lengthText: unknown): { data: string; offset: number } {
    const offset = integer('offset', offsetText, -1) ?? -1;
    const length = integer('length', lengthText, -1) ?? -1;
    const { real } = this.resolve(path);
    let fd: number;
    try {
      fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw new FilesError(404, `Failed to open file at '${path}': ${(err as Error).message}`);
    }
    try {
      const stat = fstatSync(fd);
      if (stat.isDirectory()) throw new FilesError(400, 'Cannot read a directory.');
      const size = stat.size;
      if (offset === -1 || offset >= size) return { data: '', offset: size };
      const want = Math.min(length < 0 ? MAX_READ : Math.min(length, MAX_READ), size - offset);
      const buffer = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buffer, got, want - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return { data: buffer.subarray(0, wholeCharacters(buffer, got)).toString('utf8'), offset };
    } finally {
      closeSync(fd);
    }
  }

  /** The real path of a regular file in a sandbox (for `/files/download`). */
  file(path: string | undefined): string {
    const { real } = this.resolve(path);
    if (statSync(real).isDirectory()) throw new FilesError(400, 'Cannot download a directory.');
    return real;
  }

  /** The real path under a sandbox that `path` names, refusing anything outside every sandbox. */
  private resolve(path: string | undefined): { real: string; virtual: string } {
    if (path === undefined || path === '') throw new FilesError(400, "Expecting 'path=value' in query.");
    if (path.includes('\0')) throw new FilesError(400, 'The path has a NUL character.');
    const normal = posix.normalize(path.startsWith('/') ? path : `/${path}`).replace(/(.)\/+$/, '$1');
    for (const s of this.sandboxes()) {
      for (const root of [virtualPath(s), s.directory]) {
        if (normal !== root && !normal.startsWith(`${root}/`)) continue;
        const real = posix.join(s.directory, normal.slice(root.length));
        let resolved: string;
        let base: string;
        try {
          lstatSync(real);
          resolved = realpathSync(real);
          base = realpathSync(s.directory);
        } catch {
          throw new FilesError(404, `No file or directory at '${path}'.`);
        }
        if (resolved !== base && !resolved.startsWith(`${base}/`))
          throw new FilesError(403, `'${path}' leads outside the task's sandbox.`);
        return { real: resolved, virtual: normal };
      }
    }
    throw new FilesError(404, `No file or directory at '${path}'.`);
  }
}

/** Ends the data before a UTF-8 character cut by the read's end; the next read starts with it. */
function wholeCharacters(buffer: Buffer, end: number): number {
  for (let i = end - 1; i >= Math.max(0, end - 3); i--) {
    const byte = buffer[i]!;
    if ((byte & 0xc0) === 0x80) continue;
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return i + need > end && i > 0 ? i : end;
  }
  return end;
}

function integer(name: string, text: unknown, min: number): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (typeof text !== 'string' || !/^-?\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text)))
    throw new FilesError(400, `Failed to parse ${name}: '${String(text)}' is not an integer of ${min} or more.`);
  return Number(text);
}

function fileInfo(virtual: string, real: string): FileInfo {
  const stat = lstatSync(real);
  return {
    path: virtual,
    nlink: stat.nlink,
    size: stat.size,
    mtime: Math.floor(stat.mtimeMs / 1000),
    mode: modeString(stat.mode),
    uid: nameOf(stat.uid),
    gid: String(stat.gid),
  };
}

function nameOf(uid: number): string {
  try {
    if (uid === userInfo().uid) return userInfo().username;
  } catch {
    // no passwd entry for this process's user: the number stands
  }
  return uid === 0 ? 'root' : String(uid);
}

/** `drwxr-xr-x`, as `ls -l` and Mesos write it. */
function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o040000 ? 'd' : (mode & 0o170000) === 0o120000 ? 'l' : '-';
  const bits = 'rwxrwxrwx';
  let out = type;
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}
