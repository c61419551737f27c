/**
 * The deploy API over HTTP: a thin Express layer over `Deployer`. It parses bodies, checks the
 * bearer token, maps errors to statuses with a JSON body ({error: {code, message, hint, problems}}),
 * gives every request an id (X-Request-Id) that appears in its log line, and counts requests.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  DEFAULT_SETTINGS,
  MarathonError,
  MarathonUnavailableError,
  NotFoundError,
  SpecSyntaxError,
  SpecTooLargeError,
  TheseusError,
  ValidationError,
  readDeployDocument,
  type DocumentFormat,
  type Logger,
} from '@theseus/services';
import { AmbiguousServiceError, IdempotencyKeyReusedError, type Deployer, type Submitted } from '../deployer.js';
import type { DeployerMetrics } from './metrics.js';
import { isFinished } from '../store.js';
import { openApiDocument } from './openapi.js';
import { logsOptionsOf, selectTasks, type SandboxLogReader } from '../logs.js';

export interface ApiOptions {
  deployer: Deployer;
  logger: Logger;
  metrics: DeployerMetrics;
  /** THESEUS_API_TOKEN. */
  token: string;
  /** Let GET endpoints answer without the token. @defaultValue false */
  openReads?: boolean;
  /** Largest deploy document, in bytes. @defaultValue 1 MiB */
  maxBodyBytes?: number;
  /** Host directories services may mount. @defaultValue [] */
  hostVolumePaths?: readonly string[];
  /** Accept file:// URIs. @defaultValue false */
  fileUris?: boolean;
  /** Reads services' logs through the Mesos agents' files API (`GET /services/:name/logs`). */
  logs?: SandboxLogReader;
  /** Routes mounted behind the read check (the dashboard at /ui). */
  dashboard?: (readAuth: express.RequestHandler) => express.Router;
}

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

class UnauthorizedError extends TheseusError {
  constructor(message: string) {
    super('UNAUTHORIZED', message, { hint: 'send Authorization: Bearer <THESEUS_API_TOKEN>' });
  }
}

class UnsupportedMediaError extends TheseusError {
  constructor(type: string) {
    super('UNSUPPORTED_MEDIA_TYPE', `cannot read a ${type} body`, {
      hint: 'send application/yaml, text/yaml or application/json',
    });
  }
}

class PayloadTooLargeError extends TheseusError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`, {
      hint: 'split the document, or raise THESEUS_MAX_BODY_BYTES',
    });
  }
}

export function createApi(options: ApiOptions): express.Express {
  const { deployer, logger, metrics } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_SETTINGS.deployer.maxBodyBytes;
  const tokenDigest = digest(options.token);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeOf(req);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      logger.info('request', {
        requestId,
        method: req.method,
        path: req.path,
        route,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e4) / 10,
      });
    });
    next();
  });

  /** undefined: no Authorization header; else the problem with it, or '' when it holds the token. */
  const credentialProblem = (req: Request): string | undefined => {
    const header = req.get('authorization');
    if (!header) return undefined;
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) return 'the Authorization header is not a bearer token';
    return timingSafeEqual(digest(m[1]!.trim()), tokenDigest) ? '' : 'the token is not valid';
  };
  const authenticate = (req: Request, res: Response, next: NextFunction) => {
    const problem = credentialProblem(req);
    if (problem !== '') return next(new UnauthorizedError(problem ?? 'this endpoint needs a token'));
    res.locals.authenticated = true;
    next();
  };
  // Open reads answer callers without a token (secret values hidden); a wrong token is still refused.
  const readAuth = options.openReads
    ? (req: Request, res: Response, next: NextFunction) => {
        const problem = credentialProblem(req);
        if (problem) return next(new UnauthorizedError(problem));
        res.locals.authenticated = problem === '';
        next();
      }
    : authenticate;
  const small = express.json({ limit: '64kb', type: () => true });

  if (options.dashboard) app.use(options.dashboard(readAuth));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    const checks = await deployer.readiness();
    const ready = Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', async (_req, res) => {
    await metrics
      .sampleUsage?.()
      .catch((err: unknown) => logger.warn('could not read the resource use of services', { error: String(err) }));
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const openapi = openApiDocument();
  app.get('/openapi.json', (_req, res) => void res.json(openapi));

  app.post('/deploy', authenticate, express.raw({ type: () => true, limit: maxBodyBytes }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const format = formatOf(req.get('content-type'));
    const doc = readDeployDocument(body.toString('utf8'), format, {
      hostVolumePaths: options.hostVolumePaths ?? [],
      fileUris: options.fileUris === true,
    });
    if (flag(req.query.dryRun)) {
      res.json({ dryRun: true, services: await deployer.dryRun(doc) });
      return;
    }
    const submitted = await deployer.submit(doc, {
      idempotencyKey: req.get('idempotency-key'),
      bodyHash: createHash('sha256').update(body).digest('hex'),
      requestId: res.locals.requestId as string,
    });
    await answerSubmitted(req, res, submitted);
  });

  app.get('/deployments', readAuth, async (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 50) || 50));
    res.json({ deployments: await deployer.deployments(limit) });
  });
  app.get('/deployments/:id', readAuth, async (req, res) => {
    const id = String(req.params.id);
    const record = flag(req.query.wait) ? await deployer.wait(id, waitMs(req)) : await deployer.deployment(id);
    res.json(record);
  });

  app.get('/services', readAuth, async (req, res) => {
    res.json({ services: await deployer.services(filterOf(req)) });
  });
  app.get('/services/:name', readAuth, async (req, res) => {
    const name = String(req.params.name);
    res.json({
      service: name,
      groups: await deployer.service(
        { ...filterOf(req), service: name },
        { showEnvValues: res.locals.authenticated === true },
      ),
    });
  });
  app.post('/services/:name/scale', authenticate, small, async (req, res) => {
    const instances =
      (req.body as { instances?: unknown } | undefined)?.instances ??
      (req.query.instances !== undefined ? Number(req.query.instances) : undefined);
    if (typeof instances !== 'number')
      throw new ValidationError('give the instance count', [
        { path: '/instances', message: 'expected a whole number >= 0' },
      ]);
    await answerSubmitted(
      req,
      res,
      await deployer.scale({ ...filterOf(req), service: String(req.params.name) }, instances, submitOptions(req, res)),
    );
  });
  app.get('/services/:name/versions', readAuth, async (req, res) => {
    const name = String(req.params.name);
    const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
    res.json({ service: name, ...(await deployer.versions({ ...filterOf(req), service: name }, limit)) });
  });
  app.get('/services/:name/logs', readAuth, async (req, res) => {
    const logs = options.logs;
    if (!logs) throw new NotFoundError('service logs', { hint: 'this deployer reads no logs' });
    const query = logsOptionsOf(req.query as Record<string, unknown>);
    const { appId, tasks } = await deployer.tasks({ ...filterOf(req), service: String(req.params.name) });
    const selected = selectTasks(tasks, query.instance);
    if (query.instance && selected.length === 0)
      throw new NotFoundError(`instance ${query.instance} of ${appId}`, {
        hint: `instances: ${tasks.map((t) => t.id).join(', ') || 'none'}`,
      });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.status(200);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    res.flushHeaders();
    await logs.stream(selected, query, (text) => res.write(text), abort.signal);
    res.end();
  });
  app.post('/services/:name/restart', authenticate, small, async (req, res) => {
    await answerSubmitted(
      req,
      res,
      await deployer.restart({ ...filterOf(req), service: String(req.params.name) }, submitOptions(req, res)),
    );
  });
  app.post('/services/:name/rollback', authenticate, small, async (req, res) => {
    const version = (req.body as { version?: unknown } | undefined)?.version;
    if (version !== undefined && typeof version !== 'string')
      throw new ValidationError('version must be a string', [
        { path: '/version', message: 'expected a Marathon version timestamp' },
      ]);
    await answerSubmitted(
      req,
      res,
      await deployer.rollback({ ...filterOf(req), service: String(req.params.name) }, version, submitOptions(req, res)),
    );
  });
  app.delete('/services/:name', authenticate, async (req, res) => {
    await answerSubmitted(
      req,
      res,
      await deployer.remove({ ...filterOf(req), service: String(req.params.name) }, submitOptions(req, res)),
    );
  });

  app.use((req, _res, next) =>
    next(new NotFoundError(`${req.method} ${req.path}`, { hint: 'see /openapi.json for the endpoints' })),
  );
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const [status, body] = errorAnswer(err, maxBodyBytes);
    if (status >= 500)
      logger.error('request failed', {
        requestId: res.locals.requestId,
        path: req.path,
        error: err instanceof Error ? err : String(err),
      });
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    res.status(status).json({ ...body, requestId: res.locals.requestId });
  });

  return app;

  async function answerSubmitted(req: Request, res: Response, submitted: Submitted): Promise<void> {
    const { record, replayed } = submitted;
    const statusUrl = `/deployments/${record.id}`;
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    if (flag(req.query.wait)) {
      const ended = await deployer.wait(record.id, waitMs(req));
      res
        .status(isFinished(ended.state) ? 200 : 202)
        .location(statusUrl)
        .json(ended);
      return;
    }
    res.status(202).location(statusUrl).json({ id: record.id, state: record.state, statusUrl, replayed });
  }
}

function submitOptions(req: Request, res: Response) {
  return { idempotencyKey: req.get('idempotency-key'), requestId: res.locals.requestId as string };
}

function errorAnswer(err: unknown, maxBodyBytes: number): [number, { error: Record<string, unknown> }] {
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') err = new PayloadTooLargeError(maxBodyBytes);
  else if (type === 'entity.parse.failed')
    err = new ValidationError('the body is not valid JSON', [{ path: '/', message: (err as Error).message }]);
  if (!(err instanceof TheseusError))
    return [500, { error: { code: 'INTERNAL', message: 'internal error; the request id identifies it in the logs' } }];
  const body: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.hint) body.hint = err.hint;
  const problems = (err as { problems?: unknown }).problems;
  if (Array.isArray(problems)) body.problems = problems;
  const status =
    err instanceof SpecSyntaxError
      ? 400
      : err instanceof SpecTooLargeError || err instanceof PayloadTooLargeError
        ? 413
        : err instanceof UnsupportedMediaError
          ? 415
          : err instanceof UnauthorizedError
            ? 401
            : err instanceof ValidationError || err instanceof IdempotencyKeyReusedError
              ? 422
              : err instanceof NotFoundError
                ? 404
                : err instanceof AmbiguousServiceError
                  ? 409
                  : err instanceof MarathonUnavailableError
                    ? 503
                    : err instanceof MarathonError
                      ? 502
                      : err.recoverable
                        ? 503
                        : 500;
  return [status, { error: body }];
}

function formatOf(contentType: string | undefined): DocumentFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '' || YAML_TYPES.has(type)) return 'yaml';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  throw new UnsupportedMediaError(type);
}

function filterOf(req: Request) {
  const labels =
    typeof req.query.labels === 'string'
      ? req.query.labels
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean)
      : undefined;
  const namespace = typeof req.query.namespace === 'string' && req.query.namespace ? req.query.namespace : undefined;
  return { labels, namespace };
}

function flag(value: unknown): boolean {
  return value === 'true' || value === '1' || value === '';
}

function waitMs(req: Request): number | undefined {
  const seconds = Number(req.query.timeout);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function routeOf(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return route ?? 'unmatched';
}
