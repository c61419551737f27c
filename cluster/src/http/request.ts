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

export function flag(req: Request, name: string, fallback = false): boolean {
  const value = req.query[name];
  if (value === undefined) return fallback;
  const text = Array.isArray(value) ? String(value[value.length - 1]) : String(value);
  return text === '' || text === 'true';
}

export function list(req: Request, name: string): string[] {
  const value = req.query[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
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
