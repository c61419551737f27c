/**
 * Runs Theseus parts as real processes for end-to-end tests: `node bin/theseus.js <command>`,
 * with its own environment, waiting until it answers, keeping its output for diagnosis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { freePort } from '@theseus/services/testing';

export const THESEUS_BIN = fileURLToPath(new URL('../../bin/theseus.js', import.meta.url));

export interface PartProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal). */
  stop(graceMs?: number): Promise<number | string | null>;
  /** SIGKILL at once, as a crash. */
  kill(): Promise<number | string | null>;
}

export interface StartPartOptions {
  args?: string[];
  env: Record<string, string>;
  /** Resolves when the part is ready (e.g. its /healthz answers). */
  ready?: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

export async function startPart(command: string, options: StartPartOptions): Promise<PartProcess> {
  const child = spawn(process.execPath, [THESEUS_BIN, command, ...(options.args ?? [])], {
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );

  const part: PartProcess = {
    name: command,
    child,
    output: () => output,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };

  if (options.ready) {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`theseus ${command} exited before it was ready:\n${output}`);
      }
      if (await options.ready().catch(() => false)) break;
      if (Date.now() > deadline) {
        await part.kill();
        throw new Error(`theseus ${command} was not ready within ${options.readyTimeoutMs ?? 30_000} ms:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return part;
}

/** True when GET `url` answers 2xx. */
export async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns a truthy value or the time runs out (then throws with `what`). */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
