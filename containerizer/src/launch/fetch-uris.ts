/**
 * Fetches `CommandInfo.uris` into the sandbox before the container starts: the slave leaves this to
 * the external containerizer. http(s) URLs are downloaded, local paths (or file://) copied;
 * `executable` makes the file 0755; archives are unpacked in the sandbox unless `extract` is false
 * (as the Mesos fetcher does). Any failure fails the launch with the URI and the reason.
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { LaunchRefusedError } from '../protocol/errors.js';
import type { CommandInfo } from '../protocol/types.js';

const ARCHIVES: Array<[RegExp, string[]]> = [
  [/\.(tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz|tar)$/i, ['tar', '-xf']],
  [/\.zip$/i, ['unzip', '-q', '-o']],
];

function fail(uri: string, reason: string): never {
  throw new LaunchRefusedError(`cannot fetch ${uri}: ${reason}`);
}

function run(argv: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `${argv[0]} exited with ${code}`))));
  });
}

async function download(uri: string, target: string, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    fail(uri, (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message);
  }
  if (!response.ok || !response.body) fail(uri, `HTTP ${response.status}`);
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(target));
}

export async function fetchUris(uris: NonNullable<CommandInfo['uris']>, sandbox: string, timeoutMs: number): Promise<string[]> {
  const fetched: string[] = [];
  for (const { value: uri, executable, extract } of uris) {
    const isHttp = /^https?:\/\//i.test(uri);
    const localPath = uri.startsWith('file://') ? fileURLToPath(uri) : uri.startsWith('/') ? uri : undefined;
    if (!isHttp && !localPath) fail(uri, 'only http(s) URLs and local paths are supported');
    const name = basename(isHttp ? new URL(uri).pathname : (localPath as string));
    if (!name || name === '/' || name === '..') fail(uri, 'it names no file');
    const target = join(sandbox, name);
    try {
      if (isHttp) await download(uri, target, timeoutMs);
      else await copyFile(localPath as string, target);
    } catch (err) {
      if (err instanceof LaunchRefusedError) throw err;
      fail(uri, (err as Error).message);
    }
    if (executable) await chmod(target, 0o755);
    else if (extract !== false) {
      const unpack = ARCHIVES.find(([pattern]) => pattern.test(name));
      if (unpack) await run([...unpack[1], target], sandbox).catch((err: Error) => fail(uri, `unpacking failed: ${err.message}`));
    }
    fetched.push(name);
  }
  return fetched;
}
