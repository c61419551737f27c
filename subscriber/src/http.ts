/**
 * The subscriber's HTTP surface (thin: everything is in Subscriber).
 *
 *   GET  /healthz              the process answers
 *   GET  /readyz               200 when the event intake is attached, etcd answers, and this is leader or standby
 *   GET  /metrics              Prometheus text
 *   POST /cleanup, /reconcile  full reconcile now; answers with the counts (409 on a standby)
 *   POST /callback             Marathon HTTP callback events (Marathon < 1.5), in callback mode only
 *   GET  /v1/endpoints/..., /v2/tasks   discovery over plain HTTP, read-only (discovery-http/)
 *
 * With an API token configured, /cleanup and /reconcile need `Authorization: Bearer <token>`.
 * `/callback` needs the callback secret as `?secret=` (Marathon cannot send headers with callbacks),
 * never the API token, which would then be readable in Marathon's `/v2/eventSubscriptions`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { describeError, isRecoverable } from '@theseus/services';
import { NotLeaderError, type Subscriber } from './subscriber.js';
import type { DiscoveryHttp } from './discovery-http/routes.js';

export interface SubscriberHttpOptions {
  /** Required on POST routes when set. */
  apiToken?: string | undefined;
  /** Largest accepted callback body. @defaultValue 1 MiB */
  maxBodyBytes?: number;
  /** Discovery routes to serve beside the subscriber's own. */
  discovery?: DiscoveryHttp;
}

/** Constant-time comparison (of digests, so the length of the secret does not show either). */
function sameSecret(given: string, secret: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(secret).digest());
}

const MAX_CALLBACK_BYTES = 2 ** 20;

export function subscriberHttpApp(subscriber: Subscriber, options: SubscriberHttpOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const requireToken = (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    if (!options.apiToken || sameSecret(header.startsWith('Bearer ') ? header.slice(7) : '', options.apiToken))
      return next();
    res
      .status(401)
      .json({ error: 'missing or wrong API token', hint: 'send Authorization: Bearer <THESEUS_API_TOKEN>' });
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', id: subscriber.id });
  });

  app.get('/readyz', async (_req, res) => {
    const status = await subscriber.status();
    const ready = status.stream !== 'detached' && status.etcdReachable;
    res.status(ready ? 200 : 503).json({ ready, ...status });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(subscriber.metrics.registry.contentType).send(await subscriber.metrics.registry.metrics());
  });

  const reconcileRoute = async (_req: Request, res: Response) => {
    try {
      const result = await subscriber.reconcileNow('requested over HTTP');
      res.json(result);
    } catch (err) {
      if (err instanceof NotLeaderError) res.status(409).json({ error: err.message, hint: err.hint });
      else res.status(isRecoverable(err) ? 503 : 500).json({ error: describeError(err) });
    }
  };
  app.post('/cleanup', requireToken, reconcileRoute);
  app.post('/reconcile', requireToken, reconcileRoute);

  const callbackSecret = subscriber.callbackSecret;
  if (subscriber.callbackMode && callbackSecret) {
    const requireSecret = (req: Request, res: Response, next: NextFunction) => {
      if (sameSecret(typeof req.query.secret === 'string' ? req.query.secret : '', callbackSecret)) return next();
      res.status(401).json({ error: 'missing or wrong callback secret' });
    };
    app.post(
      '/callback',
      requireSecret,
      express.json({ limit: options.maxBodyBytes ?? MAX_CALLBACK_BYTES, type: () => true }),
      (req, res) => {
        const outcome = subscriber.onCallback(req.body);
        if (outcome.accepted) res.json({ result: { status: 200 } });
        else res.status(400).json({ error: `malformed Marathon event: ${outcome.problem}` });
      },
    );
  }

  if (options.discovery) app.use(options.discovery.router);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such route' });
  });
  // Body parser errors (bad JSON, too large) and anything else: a clear answer, never a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status ?? 500;
    res.status(status).json({
      error:
        status === 413
          ? 'request body too large'
          : status === 400
            ? 'request body is not valid JSON'
            : describeError(err),
    });
  });
  return app;
}
