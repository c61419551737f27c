/**
 * `theseus-containerizer serve --socket <path> [--idle-seconds <n>]`: the resident service. The
 * native client starts it on demand (detached, in its own session, output to a log file beside the
 * socket); operators may also run it under a supervisor. `THESEUS_CONTAINERIZER_IDLE_SECONDS` sets
 * the idle time when the flag is not given.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ProgramIO } from '../program-io.js';
import { DEFAULT_IDLE_SECONDS } from './service-options.js';

export async function serveCommand(
  args: string[],
  io: ProgramIO,
  runProgram: (argv: string[], io: ProgramIO) => Promise<number>,
): Promise<number> {
  let socketPath: string | undefined;
  let idle: string | undefined = io.env.THESEUS_CONTAINERIZER_IDLE_SECONDS;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--socket') socketPath = args[++i];
    else if (arg === '--idle-seconds') idle = args[++i];
    else {
      io.stderr.write(
        `theseus-containerizer serve: unexpected argument ${arg} (usage: serve --socket <path> [--idle-seconds <n>])\n`,
      );
      return 2;
    }
  }
  const idleSeconds = idle === undefined || idle === '' ? DEFAULT_IDLE_SECONDS : Number(idle);
  if (!socketPath || !Number.isFinite(idleSeconds) || idleSeconds < 0) {
    io.stderr.write(
      `theseus-containerizer serve: ${socketPath ? `--idle-seconds must be a number of seconds >= 0, not '${idle}'` : '--socket <path> is required'}\n`,
    );
    return 2;
  }
  const log = (line: string) => io.stderr.write(`${new Date().toISOString()} ${line}\n`);
  // a call's failure is answered to its client; nothing else may end the service
  process.on('uncaughtException', (err) =>
    log(`theseus-containerizer service: unexpected error: ${err.stack ?? err.message}`),
  );
  process.on('unhandledRejection', (err) =>
    log(
      `theseus-containerizer service: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    ),
  );
  const { startService } = await import('./server.js');
  const installed = installedProgram(io.self);
  let service;
  try {
    service = await startService(
      { socketPath, idleSeconds, self: io.self, log, isCurrent: () => installed() === installed.atStart },
      runProgram,
    );
  } catch (err) {
    io.stderr.write(`theseus-containerizer serve: cannot listen on ${socketPath}: ${(err as Error).message}\n`);
    return 1;
  }
  const stop = () => service.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await service.closed;
  return 0;
}

/**
 * The modification times of what bin/theseus-containerizer.js runs (the bundle, or the compiled
 * modules when those are newer), so a service notices a rebuild under it.
 */
function installedProgram(self: string[]): (() => string) & { atStart: string } {
  const script = self.find((arg) => arg.endsWith('.js'));
  const root = script ? dirname(dirname(script)) : undefined;
  const files = root
    ? [
        'containerizer/bundle/theseus-containerizer.cjs',
        'containerizer/dist/.tsbuildinfo',
        'services/dist/.tsbuildinfo',
      ].map((f) => join(root, f))
    : [];
  const now = () => files.map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0).join(',');
  return Object.assign(now, { atStart: now() });
}
