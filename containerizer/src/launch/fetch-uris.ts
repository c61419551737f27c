/**
 * Fetches `CommandInfo.uris` into the sandbox before the container starts, as the Mesos fetcher
 * does: http(s) URLs downloaded, local paths and `file://` copied (only from `fetch.localPaths`),
 * `executable` makes the file 0755, archives are unpacked unless `extract` is false. Every file is
 * created new (O_EXCL | O_NOFOLLOW), so nothing already in the sandbox (an archive's symlink
 * included) is written through or replaced. Each URI and the launch as a whole have a size and a
 * time limit. Any failure fails the launch with the URI and the reason.
 */
import { constants, createWriteStream } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import type { ContainerizerConfig } from '../config.js';
import { LaunchRefusedError } from '../protocol/errors.js';
import type { CommandInfo } from '../protocol/types.js';
import { under } from './policy.js';
import { archiveKind, ArchiveRefusedError, unpackInto, type FileOwner } from './unpack.js';

export type FetchSettings = ContainerizerConfig['fetch'];

class FetchError extends Error {}

function fail(uri: string, reason: string, hint?: string): never {
  throw new LaunchRefusedError(`cannot fetch ${uri}: ${reason}`, hint);
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Creates `name` in the sandbox; refuses one that exists (a file, a directory or a symlink left by an archive). */
async function createNew(sandbox: string, name: string): Promise<FileHandle> {
  try {
    return await open(join(sandbox, name), CREATE_FLAGS, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ELOOP')
      throw new FetchError(
        `${name} is already in the sandbox (fetched files never replace or write through earlier ones)`,
      );
    throw err;
  }
}

/** Counts bytes through, failing past `limit`. */
function limited(limit: number, setting: string): Transform & { bytes: number } {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      if (counter.bytes > limit) done(new FetchError(`it is over the size limit of ${limit} bytes (${setting})`));
      else done(null, chunk);
    },
  }) as Transform & { bytes: number };
  counter.bytes = 0;
  return counter;
}

async function download(
  uri: string,
  settings: FetchSettings,
  signal: AbortSignal,
  limit: number,
  setting: string,
): Promise<Readable> {
  let url = new URL(uri);
  for (let redirects = 0; ; redirects++) {
    const response = await fetch(url, { signal, redirect: 'manual' });
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      if (redirects >= settings.maxRedirects)
        throw new FetchError(`more than ${settings.maxRedirects} redirects (fetch.maxRedirects)`);
      url = new URL(response.headers.get('location') as string, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new FetchError(`redirected to ${url.protocol} URL: only http(s) redirects are followed`);
      continue;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new FetchError(`HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      await response.body.cancel();
      throw new FetchError(`it is ${declared} bytes, over the size limit of ${limit} bytes (${setting})`);
    }
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }
}

/** Opens a local file only when its real path (symlinks resolved, as opened) lies in `fetch.localPaths`. */
async function openLocal(uri: string, path: string, settings: FetchSettings): Promise<Readable> {
  const hint = 'add the directory to fetch.localPaths in the containerizer configuration';
  if (settings.localPaths.length === 0) fail(uri, 'local files may not be fetched', hint);
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new FetchError('it is not a regular file');
    const real = await readlink(`/proc/self/fd/${handle.fd}`);
    // a configured directory that does not exist allows nothing
    const roots = await Promise.all(
      settings.localPaths.map((root) =>
        realpath(root).then(
          (r) => [r],
          () => [],
        ),
      ),
    );
    if (!roots.flat().some((root) => under(real, root)))
      fail(uri, `${real} is outside the directories local files may come from`, hint);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle.createReadStream();
}

export interface Fetched {
  name: string;
  bytes: number;
}

/** `owner`: the task's user, who gets the files (the slave made the sandbox theirs). */
export async function fetchUris(
  uris: NonNullable<CommandInfo['uris']>,
  sandbox: string,
  settings: FetchSettings,
  owner?: FileOwner,
): Promise<Fetched[]> {
  const fetched: Fetched[] = [];
  const taskTimer = deadline(settings.taskTimeoutSeconds);
  const taskSignal = taskTimer.signal;
  let taskBytes = 0;
  try {
    for (const { value: uri, executable, extract } of uris) {
      const isHttp = /^https?:\/\//i.test(uri);
      let localPath: string | undefined;
      let name: string;
      try {
        localPath = /^file:\/\//i.test(uri) ? fileURLToPath(uri) : uri.startsWith('/') ? uri : undefined;
        if (!isHttp && localPath === undefined) fail(uri, 'only http(s) URLs and local paths are supported');
        name = basename(isHttp ? decodeURIComponent(new URL(uri).pathname) : (localPath as string));
      } catch (err) {
        if (err instanceof LaunchRefusedError) throw err;
        fail(uri, `not a usable URL (${(err as Error).message})`);
      }
      if (!name || name === '.' || name === '..' || name.includes('/')) fail(uri, 'it names no file');
      const uriTimer = deadline(settings.timeoutSeconds);
      const uriSignal = AbortSignal.any([taskSignal, uriTimer.signal]);
      const remaining = settings.maxTaskBytes - taskBytes;
      if (remaining <= 0)
        fail(uri, `the URIs before it already reach fetch.maxTaskBytes (${settings.maxTaskBytes} bytes)`);
      const limit = Math.min(settings.maxBytes, remaining);
      const setting = limit === settings.maxBytes ? 'fetch.maxBytes' : 'fetch.maxTaskBytes';
      let bytes = 0;
      try {
        const source = isHttp
          ? await download(uri, settings, uriSignal, limit, setting)
          : await openLocal(uri, localPath as string, settings);
        const handle = await createNew(sandbox, name).catch((err: unknown) => {
          source.destroy();
          throw err;
        });
        const counter = limited(limit, setting);
        try {
          await pipeline(source, counter, createWriteStream('', { fd: handle.fd, autoClose: false }), {
            signal: uriSignal,
          });
          if (executable) await handle.chmod(0o755);
          if (owner) await handle.chown(owner.uid, owner.gid);
        } finally {
          await handle.close();
        }
        bytes = counter.bytes;
        const kind = executable || extract === false ? undefined : archiveKind(name);
        if (kind) {
          if (uriSignal.aborted) throw uriSignal.reason;
          const unpacked = await unpackInto(join(sandbox, name), kind, sandbox, {
            budget: limit - bytes,
            setting,
            ...(owner ? { owner } : {}),
          });
          bytes += unpacked.bytes;
        }
      } catch (err) {
        if (err instanceof LaunchRefusedError) throw err;
        if (err instanceof ArchiveRefusedError) fail(uri, `the archive is refused: ${err.message}`);
        if (taskSignal.aborted)
          fail(uri, `the URIs took longer than fetch.taskTimeoutSeconds (${settings.taskTimeoutSeconds} s)`);
        if (uriSignal.aborted) fail(uri, `it took longer than fetch.timeoutSeconds (${settings.timeoutSeconds} s)`);
        if (err instanceof FetchError) fail(uri, err.message);
        const e = err as Error;
        fail(uri, e.cause instanceof Error ? e.cause.message : e.message);
      } finally {
        uriTimer.clear();
      }
      taskBytes += bytes;
      fetched.push({ name, bytes });
    }
  } finally {
    taskTimer.clear();
  }
  return fetched;
}

/**
 * An abort signal that fires after `seconds`, held by a timer of its own: a signal from
 * `AbortSignal.timeout` that only `AbortSignal.any` refers to may be collected before it fires.
 */
function deadline(seconds: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${seconds} s`)), seconds * 1000);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
