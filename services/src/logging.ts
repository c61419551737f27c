/**
 * winston loggers: JSON lines in production, readable lines on a terminal. Child loggers carry
 * context (component, request id, deployment id). Values under secret-looking keys are redacted,
 * and URLs lose their passwords, so no token or password reaches a log.
 */
import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  /** The part writing, e.g. `deployer`. */
  component: string;
  level?: 'error' | 'warn' | 'info' | 'debug';
  /** `auto`: readable when stderr is a terminal, JSON otherwise. */
  format?: 'json' | 'pretty' | 'auto';
  /** Defaults to stdout; the containerizer logs to stderr because stdout is its protocol channel. */
  stream?: NodeJS.WritableStream;
  silent?: boolean;
}

const SECRET_KEY = /(token|password|secret|authorization|credentials|apikey|api_key)/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return value.replace(/\/\/([^/@:\s]+):([^/@\s]+)@/g, '//$1:***@');
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: redact(value.message), ...(code === undefined ? {} : { code }), stack: value.stack };
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined ? '***' : redact(v, depth + 1);
    return out;
  }
  return value;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message' || key === 'timestamp') continue;
    info[key] = SECRET_KEY.test(key) ? '***' : redact(info[key]);
  }
  if (typeof info.message === 'string') info.message = redact(info.message) as string;
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && Boolean((stream as { isTTY?: boolean }).isTTY));
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: { component: options.component },
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      redactFormat(),
      winston.format.timestamp(),
      pretty
        ? winston.format.printf(({ timestamp, level, message, component, stack, ...rest }) => {
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${level.padEnd(5)} [${String(component)}] ${String(message)}${extra}${stack ? '\n' + String(stack) : ''}`;
          })
        : winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}
