/**
 * Who may read discovery over HTTP: the holder of the container user's etcd credentials, sent as
 * HTTP Basic. etcd itself checks the password (an Authenticate call as that user), so the
 * subscriber keeps no copy of it, and a password changed in etcd is refused here too once the
 * verified one leaves the cache (`cacheMs`). Any other user name is refused without asking etcd.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { EtcdAuthenticationFailedError, type Etcd3 } from 'etcd3';
import { describeError, isRecoverable } from '@theseus/services';

export interface DiscoveryReaders {
  /** The etcd user whose credentials are accepted: the container role's user. */
  username: string;
  /** How long a password etcd accepted is trusted without asking etcd again, in ms. */
  cacheMs: number;
}

/** Most verified credentials kept at once (one user: its password, and the next one during a change). */
const MAX_CACHED = 8;

const digest = (text: string) => createHash('sha256').update(text).digest();

function basicCredentials(req: Request): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function refuse(res: Response, error: string): void {
  res
    .status(401)
    .set('WWW-Authenticate', 'Basic realm="theseus discovery", charset="UTF-8"')
    .json({ error, hint: "send the container user's etcd credentials (ETCD_USERNAME, ETCD_PASSWORD) as HTTP Basic" });
}

/** Express middleware letting through only requests that carry the readers' credentials. */
export function requireReader(client: Etcd3, readers: DiscoveryReaders) {
  const verified = new Map<string, number>(); // hex digest of user:password -> trusted until
  const pending = new Map<string, Promise<boolean>>();
  const wantedUser = digest(readers.username);

  async function passwordAccepted(username: string, password: string): Promise<boolean> {
    const key = digest(`${username}:${password}`).toString('hex');
    const until = verified.get(key);
    if (until !== undefined && until > Date.now()) return true;
    verified.delete(key);
    let check = pending.get(key);
    if (!check) {
      // Requests carrying the same credentials at the same time share one question to etcd.
      check = client.auth
        .authenticate({ name: username, password })
        .then(
          () => {
            if (readers.cacheMs > 0) {
              if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value!);
              verified.set(key, Date.now() + readers.cacheMs);
            }
            return true;
          },
          (err: unknown) => {
            if (err instanceof EtcdAuthenticationFailedError) return false;
            throw err;
          },
        )
        .finally(() => pending.delete(key));
      pending.set(key, check);
    }
    return check;
  }

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const given = basicCredentials(req);
    if (!given) return refuse(res, 'discovery needs credentials');
    if (!timingSafeEqual(digest(given.username), wantedUser)) return refuse(res, 'wrong user or password');
    try {
      if (await passwordAccepted(given.username, given.password)) return next();
      refuse(res, 'wrong user or password');
    } catch (err) {
      const authOff = /authentication is not enabled/.test(describeError(err));
      res.status(authOff || isRecoverable(err) ? 503 : 500).json({
        error: `cannot check the credentials with etcd: ${describeError(err)}`,
        ...(authOff
          ? {
              hint: "etcd's authentication is off: unset etcd.containerUsername to serve discovery without credentials",
            }
          : {}),
      });
    }
  };
}
