/**
 * Who may talk to the engine: the listen addresses (loopback unless credentials are set), basic
 * auth compared in constant time, and the Host header (against DNS rebinding while on loopback).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

export class ListenRefusedError extends Error {}

function loopbackIp(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.startsWith('127.');
  if (family === 6) return address === '::1' || /^::ffff:127\./i.test(address);
  return false;
}

/** Whether every address `host` stands for is a loopback address. */
export async function isLoopback(host: string): Promise<boolean> {
  if (isIP(host)) return loopbackIp(host);
  if (host === 'localhost') return true;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => loopbackIp(a.address));
  } catch {
    return false;
  }
}

/** Refuses a non-loopback listen address when no credentials are configured; answers whether all are loopback. */
export async function checkListenAddresses(hosts: string[], hasCredentials: boolean): Promise<boolean> {
  let allLoopback = true;
  for (const host of hosts) {
    if (await isLoopback(host)) continue;
    allLoopback = false;
    if (!hasCredentials) {
      throw new ListenRefusedError(
        `the engine would listen on ${host}, which is not a loopback address, without credentials: anyone reaching it could run containers on this machine. Set MARATHON_CREDENTIALS (user:password) or listen on 127.0.0.1 (--listen / ENGINE_LISTEN)`,
      );
    }
  }
  return allLoopback;
}

const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();

/** Basic auth on every request except /ping; the answer takes as long whatever part of the password is right. */
export function basicAuth(credentials: string) {
  const expected = digest(credentials);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.path === '/ping') return next();
    const header = req.headers.authorization ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]*)\s*$/i.exec(header);
    const given = digest(match ? Buffer.from(match[1]!, 'base64') : Buffer.alloc(0));
    if (match && timingSafeEqual(given, expected)) return next();
    res
      .status(401)
      .setHeader('WWW-Authenticate', 'Basic realm="Mesosphere"')
      .json({ message: 'Invalid username or password.' });
  };
}

/** The name a Host header carries, without its port and brackets, lower case. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * A page in a browser can make a name of its own resolve to 127.0.0.1 and then read and write the
 * engine as same-origin requests; its Host header still carries that name. IP addresses and
 * `localhost` cannot be taken over this way; other names must be configured.
 */
export function hostCheck(names: string[]) {
  const allowed = new Set(['localhost', ...names.map((n) => n.toLowerCase())]);
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.host;
    const name = header === undefined ? '' : hostName(header);
    if (name && (isIP(name) || allowed.has(name))) return next();
    res.status(403).json({
      message: `Host ${JSON.stringify(header ?? '')} is not a name of this engine: it answers to IP addresses, localhost and the names in engine.hostNames (ENGINE_HOST_NAMES)`,
    });
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A web page can send a simple POST, PUT or DELETE to the engine from another site (no preflight
 * for a form or text/plain body); the browser names that site in `Origin`. Changes are refused
 * unless they come from the engine's own origin or from a client that sends no Origin.
 */
export function sameOriginChanges() {
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin === undefined || SAFE_METHODS.has(req.method)) return next();
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== undefined && host === req.headers.host) return next();
    res.status(403).json({
      message: `${req.method} from the web page at ${JSON.stringify(origin)} refused: the engine takes changes only from its own origin or from clients that send no Origin`,
    });
  };
}
