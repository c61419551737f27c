/**
 * Discovery over plain HTTP, for containers with only `wget` or `curl`. Read-only: every answer is
 * one etcd range read of the endpoint records.
 *
 *   GET /v1/endpoints/<namespace>/<service>[?ports=http,admin][&labels=a,b][&include_unhealthy=true]
 *       [&format=json][&wait=<revision>[&timeout=<seconds>]]
 *     text/plain: one node a line, `host:port[:port...]` (hosts only without `ports`);
 *     JSON (`?format=json` or `Accept: application/json`): { namespace, service, revision, nodes, endpoints }.
 *     The `X-Theseus-Revision` header carries the revision; with `?wait=<that revision>` the request
 *     is held until the answer differs from the one at that revision (or the timeout, then the
 *     unchanged answer).
 *   GET /v2/tasks   the whole cluster in the text form of Marathon's `GET /v2/tasks`
 *
 * With `readers`, both need the container user's etcd credentials as HTTP Basic (readers.ts);
 * without, they answer anyone who reaches them, as etcd does when its authentication is off.
 */
import { Router, type Request, type Response } from 'express';
import type { Etcd3, Watcher } from 'etcd3';
import {
  assertName,
  describeError,
  isRecoverable,
  decodeStoredEndpoint,
  isStoredEndpoint,
  readEndpointsUnder,
  readServiceEndpoints,
  TheseusError,
  type EndpointRecord,
  type EtcdLayout,
} from '@theseus/services';
import { requireReader, type DiscoveryReaders } from './readers.js';
import { answerIdentity, marathonTasksText, serviceAnswer, type NodeQuery, type ServiceAnswer } from './answers.js';

export interface DiscoveryHttpOptions {
  client: Etcd3;
  layout: EtcdLayout;
  /** Longest a `?wait=` request is held, in ms. */
  maxWaitMs: number;
  /** Whose credentials the routes require; unset: none. */
  readers?: DiscoveryReaders | undefined;
}

export interface DiscoveryHttp {
  router: Router;
  /** Requests being held by `?wait=` now. */
  waiting(): number;
  /** Answers every held request now (on shutdown). */
  release(): void;
}

class BadRequest extends TheseusError {
  constructor(message: string) {
    super('BAD_REQUEST', message);
  }
}

function list(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'string') throw new BadRequest(`${name} must be given once, as a comma-separated list`);
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function wholeNumber(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value))
    throw new BadRequest(`${name} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true' || value === '') return true;
  throw new BadRequest(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

function nodeQuery(req: Request): NodeQuery {
  const labels = list(req.query.labels, 'labels');
  for (const label of labels) assertName('label', label);
  return {
    ports: list(req.query.ports, 'ports'),
    labels,
    includeUnhealthy: flag(req.query.include_unhealthy, 'include_unhealthy'),
  };
}

function wantsJson(req: Request): boolean {
  if (req.query.format === 'json') return true;
  if (req.query.format !== undefined && req.query.format !== 'text')
    throw new BadRequest(`format must be json or text, got ${JSON.stringify(req.query.format)}`);
  return req.query.format === undefined && (req.get('accept') ?? '').includes('application/json');
}

function send(res: Response, answer: ServiceAnswer, json: boolean): void {
  res.set('X-Theseus-Revision', answer.revision).set('Cache-Control', 'no-store');
  if (json) res.json(answer);
  else res.type('text/plain').send(answer.nodes.map((n) => `${n}\n`).join(''));
}

function fail(res: Response, err: unknown): void {
  if (res.headersSent) return void res.end();
  const status =
    err instanceof BadRequest || (err instanceof TheseusError && err.code === 'INVALID_NAME')
      ? 400
      : isRecoverable(err)
        ? 503
        : 500;
  res.status(status).json({ error: describeError(err) });
}

export function discoveryHttp(options: DiscoveryHttpOptions): DiscoveryHttp {
  const { client, layout } = options;
  const held = new Set<() => void>();
  let released = false;
  const router = Router();
  if (options.readers) router.use(['/v1/endpoints', '/v2/tasks'], requireReader(client, options.readers));

  async function read(namespace: string, service: string, query: NodeQuery, revision?: number): Promise<ServiceAnswer> {
    const snapshot =
      revision === undefined
        ? await readServiceEndpoints(client, layout, namespace, service)
        : await readAt(layout.serviceEndpoints(namespace, service), revision);
    return serviceAnswer(
      namespace,
      service,
      snapshot.revision,
      snapshot.endpoints.map((e) => e.record),
      query,
    );
  }

  /** The records under a prefix as they were at a past revision (etcd keeps them until compaction). */
  async function readAt(
    prefix: string,
    revision: number,
  ): Promise<{ revision: string; endpoints: { record: EndpointRecord }[] }> {
    const response = await client.getAll().prefix(prefix).revision(revision).exec();
    const snapshot = { revision: String(revision), endpoints: [] as { record: EndpointRecord }[] };
    for (const kv of response.kvs) {
      const decoded = decodeStoredEndpoint(layout, kv);
      if (isStoredEndpoint(decoded)) snapshot.endpoints.push(decoded);
    }
    return snapshot;
  }

  /** Resolves at the first change under `prefix` after `revision`, or when `release` is called. */
  function changeAfter(prefix: string, revision: string, signal: { release?: () => void }): Promise<void> {
    return new Promise((resolve) => {
      let watcher: Watcher | undefined;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        held.delete(finish);
        // the long poll is answered either way; a watch etcd cannot cancel ends with its connection
        if (watcher) void Promise.allSettled([watcher.cancel()]);
        resolve();
      };
      held.add(finish);
      signal.release = finish;
      client
        .watch()
        .prefix(prefix)
        .startRevision(String(BigInt(revision) + 1n))
        .create()
        .then((w) => {
          watcher = w;
          if (done) return void Promise.allSettled([w.cancel()]);
          w.on('data', finish);
          w.on('error', finish);
          w.on('disconnected', finish);
        }, finish);
    });
  }

  router.get('/v1/endpoints/:namespace/:service', async (req: Request, res: Response) => {
    try {
      const namespace = assertName('namespace', req.params.namespace);
      const service = assertName('service', req.params.service);
      const query = nodeQuery(req);
      const json = wantsJson(req);
      const wait = wholeNumber(req.query.wait, 'wait');
      const timeoutSeconds = wholeNumber(req.query.timeout, 'timeout');
      let answer = await read(namespace, service, query);
      if (wait === undefined) return send(res, answer, json);

      let baseline: string | undefined;
      try {
        baseline =
          wait >= Number(answer.revision)
            ? answerIdentity(answer)
            : answerIdentity(await read(namespace, service, query, wait));
      } catch {
        // The revision was compacted away (or never existed): what the caller has is unknown, so answer now.
        return send(res, answer, json);
      }
      const deadline =
        Date.now() +
        Math.min(options.maxWaitMs, timeoutSeconds === undefined ? options.maxWaitMs : timeoutSeconds * 1000);
      const prefix = layout.serviceEndpoints(namespace, service);
      const signal: { release?: () => void } = {};
      let closed = false;
      res.on('close', () => {
        closed = true;
        signal.release?.();
      });
      while (!closed && !released && answerIdentity(answer) === baseline && Date.now() < deadline) {
        const timer = setTimeout(() => signal.release?.(), deadline - Date.now());
        await changeAfter(prefix, answer.revision, signal);
        clearTimeout(timer);
        if (!closed) answer = await read(namespace, service, query);
      }
      if (!closed) send(res, answer, json);
    } catch (err) {
      fail(res, err);
    }
  });

  router.get('/v2/tasks', async (_req: Request, res: Response) => {
    try {
      const snapshot = await readEndpointsUnder(client, layout, layout.allEndpoints());
      res
        .set('X-Theseus-Revision', snapshot.revision)
        .set('Cache-Control', 'no-store')
        .type('text/plain')
        .send(marathonTasksText(snapshot.endpoints.map((e) => e.record)));
    } catch (err) {
      fail(res, err);
    }
  });

  return {
    router,
    waiting: () => held.size,
    release: () => {
      released = true;
      for (const finish of [...held]) finish();
    },
  };
}
