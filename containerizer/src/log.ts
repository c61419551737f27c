/**
 * The program's log: stderr (the slave appends it to the sandbox's stderr file) through the shared
 * winston logger, and optionally syslog over UDP. winston is loaded on the first message only, so a
 * quiet `usage` call (once a second per container) does not pay for it. `flush()` before exiting.
 */
import type { Logger } from '@theseus/services/logging';
import type { ContainerizerConfig } from './config.js';

type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const SYSLOG_SEVERITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface ProgramLog {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  flush(): Promise<void>;
}

export function programLog(
  options: ContainerizerConfig['log'],
  stream: NodeJS.WritableStream = process.stderr,
): ProgramLog {
  let logger: Promise<Logger> | undefined;
  const pending: Array<Promise<unknown>> = [];
  let syslog: Promise<import('node:dgram').Socket> | undefined;

  const write = (level: Level, message: string, meta: Record<string, unknown> = {}) => {
    if (RANK[level] > RANK[options.level]) return;
    logger ??= import('@theseus/services/logging').then(({ createLogger }) =>
      createLogger({ component: 'containerizer', level: options.level, format: options.format, stream }),
    );
    pending.push(logger.then((l) => l.log(level, message, meta)));
    const target = options.syslog;
    if (target) {
      syslog ??= import('node:dgram').then((dgram) => dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4'));
      const line = `<${target.facility * 8 + SYSLOG_SEVERITY[level]}>theseus-containerizer[${process.pid}]: ${message}${Object.keys(meta).length ? ' ' + JSON.stringify(meta) : ''}`;
      pending.push(
        syslog.then(
          (socket) => new Promise((resolve) => socket.send(line, target.port, target.host, () => resolve(undefined))),
        ),
      );
    }
  };

  return {
    error: (m, meta) => write('error', m, meta),
    warn: (m, meta) => write('warn', m, meta),
    info: (m, meta) => write('info', m, meta),
    debug: (m, meta) => write('debug', m, meta),
    async flush() {
      await Promise.allSettled(pending);
      if (syslog) (await syslog).close();
    },
  };
}
