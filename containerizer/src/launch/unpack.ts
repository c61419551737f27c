/**
 * Unpacks a fetched archive into the sandbox without letting it reach anything outside: the whole
 * archive is read first and refused if any entry could escape (absolute path, `..`, a link whose
 * target resolves outside, an entry under a link, a device or fifo, a repeated path) or if its
 * content is over the size budget; then it is extracted into a fresh private directory, and each
 * top-level entry is moved into the sandbox only where nothing of that name exists yet.
 * Tar (plain, gzip, bzip2, xz) is read with the `tar` package's parser and zip with `yauzl`; the
 * writes are this module's own (`createEntry`), the same for both.
 */
import { spawn } from 'node:child_process';
import { constants, createReadStream, createWriteStream, linkSync, mkdirSync, openSync, symlinkSync } from 'node:fs';
import { lchown, link, lstat, mkdir, mkdtemp, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import * as yauzl from 'yauzl';

export type EntryType = 'file' | 'dir' | 'symlink' | 'link';

export interface ArchiveEntry {
  path: string;
  type: EntryType;
  linkpath?: string;
  size: number;
}

/** Why an archive is refused; the fetcher names the URI. */
export class ArchiveRefusedError extends Error {}

/** Every entry header counts against the size budget, so an archive of empty entries is bounded too. */
const HEADER_BYTES = 512;
const MAX_LINK_DEPTH = 32;

export function archiveKind(name: string): 'tar' | 'zip' | undefined {
  if (/\.(tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz|tar)$/i.test(name)) return 'tar';
  if (/\.zip$/i.test(name)) return 'zip';
  return undefined;
}

/** `a/./b/` → `a/b`; refuses absolute paths, `..` and empty names. */
function cleanPath(raw: string, what: string): string {
  if (raw.startsWith('/')) throw new ArchiveRefusedError(`${what} ${JSON.stringify(raw)} is an absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveRefusedError(`${what} ${JSON.stringify(raw)} climbs out with ".."`);
  if (parts.length === 0) throw new ArchiveRefusedError(`${what} ${JSON.stringify(raw)} names nothing`);
  return parts.join('/');
}

/**
 * Resolves `target` from directory `from` inside the archive's own tree, following the archive's
 * symlinks as the kernel would once extracted; throws when the walk leaves the tree.
 */
function resolveInside(
  from: string[],
  target: string,
  links: Map<string, string>,
  depth: number,
  entry: string,
): string[] {
  if (depth > MAX_LINK_DEPTH) throw new ArchiveRefusedError(`symlink ${entry}: too many levels of links`);
  if (target.startsWith('/')) throw new ArchiveRefusedError(`symlink ${entry} points to the absolute path ${target}`);
  const stack = [...from];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) throw new ArchiveRefusedError(`symlink ${entry} points outside the archive (${target})`);
      stack.pop();
      continue;
    }
    stack.push(part);
    const link = links.get(stack.join('/'));
    if (link !== undefined) {
      stack.pop();
      stack.splice(0, stack.length, ...resolveInside(stack, link, links, depth + 1, entry));
    }
  }
  return stack;
}

/** Refuses the archive unless every entry stays inside the directory it is extracted to; returns the content size. */
export function checkEntries(entries: ArchiveEntry[]): number {
  const seen = new Map<string, EntryType>();
  const links = new Map<string, string>();
  const cleaned = entries.map((e) => ({ ...e, path: cleanPath(e.path, 'entry') }));
  for (const e of cleaned) {
    const before = seen.get(e.path);
    if (before !== undefined && !(before === 'dir' && e.type === 'dir'))
      throw new ArchiveRefusedError(`entry ${e.path} appears twice`);
    seen.set(e.path, e.type);
    if (e.type === 'symlink') links.set(e.path, e.linkpath ?? '');
  }
  let bytes = 0;
  const files = new Set<string>();
  for (const e of cleaned) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (links.has(prefix)) throw new ArchiveRefusedError(`entry ${e.path} lies under the symlink ${prefix}`);
      if (seen.get(prefix) !== undefined && seen.get(prefix) !== 'dir')
        throw new ArchiveRefusedError(`entry ${e.path} lies under the file ${prefix}`);
    }
    if (e.type === 'symlink') {
      if (!e.linkpath) throw new ArchiveRefusedError(`symlink ${e.path} has no target`);
      resolveInside(parts.slice(0, -1), e.linkpath, links, 0, e.path);
    } else if (e.type === 'link') {
      const target = cleanPath(e.linkpath ?? '', `hard link ${e.path} to`);
      if (!files.has(target))
        throw new ArchiveRefusedError(
          `hard link ${e.path} points to ${target}, which is not a file before it in the archive`,
        );
    }
    if (e.type === 'file') files.add(e.path);
    bytes += HEADER_BYTES + (e.type === 'file' ? e.size : 0);
  }
  return bytes;
}

function tarType(entry: ReadEntry): EntryType | undefined {
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
      return 'dir';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'link';
    default:
      return undefined;
  }
}

/** The decompressed bytes of a tar file (gzip is recognised by the parser itself). */
function tarStream(file: string): { stream: Readable; done: Promise<void> } {
  const tool = /\.(bz2|tbz2)$/i.test(file) ? 'bzip2' : /\.(xz|txz)$/i.test(file) ? 'xz' : undefined;
  if (!tool) return { stream: createReadStream(file), done: Promise.resolve() };
  const child = spawn(tool, ['-dc', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 || signal === 'SIGPIPE'
        ? resolve()
        : reject(new ArchiveRefusedError(`${tool}: ${err.trim() || `exited with ${code ?? signal}`}`)),
    );
  });
  return { stream: child.stdout, done };
}

function entryOf(entry: ReadEntry): ArchiveEntry {
  const type = tarType(entry);
  if (!type)
    throw new ArchiveRefusedError(
      `entry ${entry.path} is a ${entry.type}: only files, directories and links are unpacked`,
    );
  return { path: entry.path, type, size: entry.size ?? 0, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}) };
}

async function listTar(file: string, budget: number, over: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const { stream, done } = tarStream(file);
  let bytes = 0;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      try {
        entries.push(entryOf(entry));
        bytes += HEADER_BYTES + (entry.size ?? 0);
        if (bytes > budget) throw new ArchiveRefusedError(over);
      } catch (err) {
        parser.abort(err as Error);
      }
      entry.resume();
    },
  });
  await Promise.all([pipeline(stream, parser), done]);
  return entries;
}

/** Checks that the second read of the archive gives the entries the first one checked. */
function expectSame(expected: ArchiveEntry[]): (e: ArchiveEntry) => void {
  let index = 0;
  return (e) => {
    const was = expected[index++];
    if (!was || was.path !== e.path || was.type !== e.type || was.linkpath !== e.linkpath || was.size !== e.size) {
      throw new ArchiveRefusedError('the archive changed while it was unpacked');
    }
  };
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates one checked entry under `into`: nothing is ever replaced or written through (files are
 * created O_EXCL | O_NOFOLLOW, links with link(2)/symlink(2), which never follow the new name), and
 * set-id bits are dropped. Returns the stream a file's content goes to.
 */
function createEntry(into: string, e: ArchiveEntry, mode: number): Writable | undefined {
  const target = join(into, cleanPath(e.path, 'entry'));
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  switch (e.type) {
    case 'dir':
      mkdirSync(target, { recursive: true, mode: 0o755 });
      return undefined;
    case 'symlink':
      symlinkSync(e.linkpath as string, target);
      return undefined;
    case 'link':
      linkSync(join(into, cleanPath(e.linkpath as string, 'hard link')), target);
      return undefined;
    case 'file':
      return createWriteStream('', { fd: openSync(target, CREATE_FLAGS, mode & 0o777) });
  }
}

async function extractTar(file: string, into: string, expected: ArchiveEntry[]): Promise<void> {
  const { stream, done } = tarStream(file);
  const same = expectSame(expected);
  const writes: Array<Promise<void>> = [];
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    parser.abort(err as Error);
  };
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      try {
        const e = entryOf(entry);
        same(e);
        const out = createEntry(into, e, typeof entry.mode === 'number' ? entry.mode : 0o644);
        if (out) {
          writes.push(pipeline(entry, out).catch(fail));
          return;
        }
      } catch (err) {
        fail(err);
      }
      entry.resume();
    },
  });
  await Promise.all([pipeline(stream, parser).catch(fail), done.catch(fail)]);
  await Promise.all(writes);
  if (failure !== undefined) throw failure;
}

type ZipFile = yauzl.ZipFile;
const S_IFMT = 0o170000;

function zipType(entry: yauzl.Entry): EntryType {
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (mode === 0o120000) return 'symlink';
  if (entry.fileName.endsWith('/') || mode === 0o040000) return 'dir';
  if (mode === 0 || mode === 0o100000) return 'file';
  throw new ArchiveRefusedError(`entry ${entry.fileName} is not a file, directory or symlink`);
}

function zipEntries(file: string, each: (zip: ZipFile, entry: yauzl.Entry) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      file,
      { lazyEntries: true, strictFileNames: true, validateEntrySizes: true, decodeStrings: true },
      (err, zip) => {
        if (err || !zip) return reject(new ArchiveRefusedError(err?.message ?? 'not a zip file'));
        const failed = (e: unknown) => {
          zip.close();
          reject(e);
        };
        zip.on('error', failed);
        zip.on('end', () => resolve());
        zip.on('entry', (entry: yauzl.Entry) => each(zip, entry).then(() => zip.readEntry(), failed));
        zip.readEntry();
      },
    );
  });
}

function zipStream(zip: ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) =>
      err || !stream ? reject(err ?? new Error('no stream')) : resolve(stream),
    ),
  );
}

async function zipLinkTarget(zip: ZipFile, entry: yauzl.Entry): Promise<string> {
  if (entry.uncompressedSize > 4096)
    throw new ArchiveRefusedError(`symlink ${entry.fileName} has a target over 4096 bytes`);
  const chunks: Buffer[] = [];
  for await (const chunk of await zipStream(zip, entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listZip(file: string, budget: number, over: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  let bytes = 0;
  await zipEntries(file, async (zip, entry) => {
    const type = zipType(entry);
    bytes += HEADER_BYTES + (type === 'file' ? entry.uncompressedSize : 0);
    if (bytes > budget) throw new ArchiveRefusedError(over);
    entries.push({
      path: entry.fileName,
      type,
      size: entry.uncompressedSize,
      ...(type === 'symlink' ? { linkpath: await zipLinkTarget(zip, entry) } : {}),
    });
  });
  return entries;
}

async function extractZip(file: string, into: string, expected: ArchiveEntry[]): Promise<void> {
  let index = 0;
  await zipEntries(file, async (zip, entry) => {
    const e = expected[index++];
    if (
      !e ||
      e.path !== entry.fileName ||
      e.type !== zipType(entry) ||
      (e.type === 'file' && e.size !== entry.uncompressedSize)
    ) {
      throw new ArchiveRefusedError('the archive changed while it was unpacked');
    }
    const out = createEntry(into, e, (entry.externalFileAttributes >>> 16) & 0o777 || 0o644);
    if (out) await pipeline(await zipStream(zip, entry), out);
  });
}

/**
 * Moves `from` to `to`, failing when `to` exists (as renameat2's RENAME_NOREPLACE, which Node lacks):
 * link(2) for files and links, and for a directory a fresh mkdir(2) that the rename then replaces.
 */
async function moveNew(from: string, to: string, name: string): Promise<void> {
  try {
    if ((await lstat(from)).isDirectory()) {
      await mkdir(to, { mode: 0o700 });
      await rename(from, to);
    } else {
      await link(from, to);
      await unlink(from);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new ArchiveRefusedError(`${name} appeared in the sandbox while the archive was unpacked`);
    throw err;
  }
}

export interface FileOwner {
  uid: number;
  gid: number;
}

export interface UnpackLimits {
  /** Content bytes the archive may hold, and the setting that says so. */
  budget: number;
  setting: string;
  /** Who gets the unpacked files. */
  owner?: FileOwner;
}

/** Unpacks `file` (already in `sandbox`) into the sandbox. Returns the bytes unpacked and the top-level names. */
export async function unpackInto(
  file: string,
  kind: 'tar' | 'zip',
  sandbox: string,
  { budget, setting, owner }: UnpackLimits,
): Promise<{ bytes: number; entries: string[] }> {
  const over = `its content is over the size limit of ${budget} bytes left (${setting})`;
  const entries = kind === 'tar' ? await listTar(file, budget, over) : await listZip(file, budget, over);
  const bytes = checkEntries(entries);
  if (bytes > budget) throw new ArchiveRefusedError(over);
  const fresh = await mkdtemp(join(sandbox, '.unpack-'));
  try {
    if (kind === 'tar') await extractTar(file, fresh, entries);
    else await extractZip(file, fresh, entries);
    if (owner)
      for (const path of await readdir(fresh, { recursive: true }))
        await lchown(join(fresh, path), owner.uid, owner.gid);
    const top = (await readdir(fresh)).sort();
    for (const name of top) {
      const exists = await lstat(join(sandbox, name)).then(
        () => true,
        (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
      );
      if (exists)
        throw new ArchiveRefusedError(
          `it holds ${name}, which is already in the sandbox (archives never unpack over earlier files)`,
        );
    }
    for (const name of top) await moveNew(join(fresh, name), join(sandbox, name), name);
    return { bytes, entries: top };
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}
