/** Request helpers shared by the routes: JSON bodies as Marathon reads them, flags, and errors as Marathon writes them. */
import type { NextFunction, Request, Response } from 'express';
import { AppValidationError } from '../app/problems.js';
import { EngineApiError } from '../deploy/errors.js';
import { LabelSelectorError } from './label-selector.js';

/** Parses the raw body as JSON; 400 like Marathon for malformed or (where required) empty bodies. */
export function jsonBody(req: Request, required = true): unknown {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (raw.trim() === '') {
    if (!required) return undefined;
    throw new EngineApiError(400, { message: 'Please specify data in JSON format', details: 'Request body is empty' });
  }
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new EngineApiError(400, { message: 'Invalid JSON', details: (err as Error).message });
  }
}

/**
 * A boolean query parameter as Jersey reads one into a Java `boolean`: the first value; absent or
 * blank → the route's default; otherwise `Boolean.parseBoolean` (`true` in any case is true, any
 * other text false).
 */
export function flag(req: Request, name: string, fallback = false): boolean {
  const text = param(req, name);
  if (text === undefined || text.trim() === '') return fallback;
  return text.toLowerCase() === 'true';
}

/** `scale` of a task kill; Marathon refuses it together with `wipe`. */
export function scaleFlag(req: Request): boolean {
  const scale = flag(req, 'scale');
  if (scale && flag(req, 'wipe'))
    throw new EngineApiError(400, { message: 'You cannot use scale and wipe at the same time.' });
  return scale;
}

/** A single-valued query parameter: its first value, as Jersey reads a `String` parameter. */
export function param(req: Request, name: string): string | undefined {
  const value = req.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** A multi-valued query parameter: every repeated value, each also split at commas. */
export function list(req: Request, name: string): string[] {
  const value = req.query[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value])
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Marathon's JSON resources (`@Consumes`) refuse another Content-Type with Jersey's 415 (none at all is fine). */
export function consumesJson(req: Request, _res: Response, next: NextFunction): void {
  const type = req.headers['content-type'];
  if (type === undefined || type.trim() === '' || isJsonType(type)) return next();
  next(new EngineApiError(415, { message: 'Unsupported Media Type' }));
}

function isJsonType(contentType: string): boolean {
  const [type = '', subtype = ''] = (contentType.split(';')[0] ?? '').trim().toLowerCase().split('/');
  return (type === 'application' || type === '*') && (subtype === 'json' || subtype === '*');
}

/** A created resource's `Location`: its id resolved against the server root, as Jersey resolves it. */
export function locationOf(req: Request, id: string): string {
  return `${req.protocol}://${req.get('host')}${id}`;
}

export function sendDeployment(res: Response, status: number, result: { deploymentId: string; version: string }) {
  res.status(status).setHeader('Marathon-Deployment-Id', result.deploymentId);
  res.json({ version: result.version, deploymentId: result.deploymentId });
}

export function clientIp(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Error answers in Marathon's shapes; anything unexpected is a 500 with a message, never a stack. */
export function errorHandler(logger: { error: (m: string, meta?: object) => void }) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) return;
    if (err instanceof AppValidationError) {
      res.status(422).json({ message: err.message, details: err.details });
      return;
    }
    if (err instanceof EngineApiError) {
      res.status(err.status).json(err.body);
      return;
    }
    if (err instanceof LabelSelectorError) {
      res.status(400).json({ message: err.message });
      return;
    }
    const status = (err as { status?: number; type?: string }).status;
    if ((err as { type?: string }).type === 'entity.too.large') {
      res.status(413).json({ message: 'Request body too large' });
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ message: (err as Error).message });
      return;
    }
    logger.error('request failed', { error: err instanceof Error ? err.message : String(err) });
    res.status(500).json({ message: 'Internal server error' });
  };
}
