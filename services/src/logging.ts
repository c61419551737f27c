/**
 * winston loggers: JSON lines in production, readable lines on a terminal. Child loggers carry
 * context (component, request id, deployment id). Values under secret-looking keys are redacted, and
 * in text every credential form is (URL userinfo, credential query parameters, Bearer/Basic), so no
 * token or password reaches a log.
 */
import winston from 'winston';
import { DEFAULT_SETTINGS } from './config/settings.js';

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

const SECRET_KEY = /(token|password|passwd|secret|authorization|credentials|apikey|api_key|cookie)/i;
/** Settings that name a file holding a secret: the path is shown, the secret never read here. */
const FILE_KEY = /File$/;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !FILE_KEY.test(key);
}

/** URL userinfo: `user:password@` keeps the user, anything else (`:password@`, `token@`) is hidden whole. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/gi;
/** Query parameters (and `name=value` pairs) whose name says they carry a credential. */
const SECRET_PARAM =
  /([?&;]|\b)((?:access_|refresh_|api_|auth_|client_|callback_)?(?:token|password|passwd|pwd|secret|apikey|api_key|signature|credentials))=([^&#\s"']+)/gi;
/** `Bearer <token>`, `Basic <credentials>`. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/** A string with every credential form in it replaced by `***`. */
export function redactText(text: string): string {
  return text
    .replace(USERINFO, (_m, scheme: string, info: string) => {
      const colon = info.indexOf(':');
      return colon > 0 ? `${scheme}${info.slice(0, colon)}:***@` : `${scheme}***@`;
    })
    .replace(SECRET_PARAM, (_m, lead: string, name: string) => `${lead}${name}=***`)
    .replace(AUTH_SCHEME, '$1 ***');
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: redactText(value.message),
      ...(code === undefined ? {} : { code }),
      stack: value.stack === undefined ? undefined : redactText(value.stack),
    };
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = isSecretKey(k) && v !== undefined ? '***' : redact(v, depth + 1);
    return out;
  }
  return value;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message' || key === 'timestamp') continue;
    info[key] = isSecretKey(key) ? '***' : redact(info[key]);
  }
  if (typeof info.message === 'string') info.message = redactText(info.message);
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const format = options.format ?? DEFAULT_SETTINGS.log.format;
  const pretty = format === 'pretty' || (format === 'auto' && Boolean((stream as { isTTY?: boolean }).isTTY));
  return winston.createLogger({
    level: options.level ?? DEFAULT_SETTINGS.log.level,
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
