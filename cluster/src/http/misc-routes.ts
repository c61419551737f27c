/** `/v2/tasks`, `/v2/deployments`, `/v2/queue`, `/v2/events`, `/v2/eventSubscriptions`, `/v2/info`, `/v2/leader`, `/ping`. */
import { Router, type Request, type Response } from 'express';
import type { MesosTaskState } from '@theseus/services';
import type { Engine } from '../engine.js';
import { EngineApiError } from '../deploy/errors.js';
import { groupTree, resolveId, type GroupJson } from '../app/groups.js';
import type { AppDefinition } from '../app/definition.js';
import { canonicalId } from '../app/normalize.js';
import { invalid } from '../app/problems.js';
import type { EventStreamHub } from '../events/sse.js';
import { taskJson, type TaskRecord } from '../tasks/task.js';
import { timestamp } from '../time.js';
import { groupEmbed } from './embed.js';
import { clientIp, consumesJson, flag, jsonBody, list, locationOf, scaleFlag, sendDeployment } from './request.js';
import { tasksText, wantsText } from './tasks-text.js';

/** `status` / `status[]` of GET /v2/tasks, as Marathon reads them (case-insensitive; other values ignored). */
const STATUS_FILTER: Record<string, MesosTaskState[]> = {
  running: ['TASK_RUNNING'],
  staging: ['TASK_STAGING'],
};

export function miscRoutes(engine: Engine, events: EventStreamHub, leader: () => string): Router {
  const router = Router();

  router.get('/ping', (_req, res) => {
    res.type('text/plain').send('pong');
  });

  router.get('/v2/info', (_req, res) => {
    res.json({
      name: 'marathon',
      version: '1.10.26',
      buildref: 'theseus-engine',
      elected: true,
      leader: leader(),
      frameworkId: engine.frameworkId,
      marathon_config: {
        hostname: engine.hostname,
        features: [...engine.features],
        local_port_min: 10000,
        local_port_max: 20000,
        task_launch_timeout: 300000,
        mesos_leader_ui_url: null,
      },
      http_config: { http_port: Number(leader().split(':').pop()), https_port: 8443 },
      event_subscriber: { type: 'http_callback', http_endpoints: engine.callbacks.urls() },
      zookeeper_config: {},
    });
  });

  router.get('/v2/leader', (_req, res) => {
    res.json({ leader: leader() });
  });
  // the only candidate: abdicating, it is elected again at once
  router.delete('/v2/leader', (_req, res) => {
    res.json({ message: 'Leadership abdicated' });
  });

  router.use(['/v2/queue', '/v2/deployments'], consumesJson);
  router.post('/v2/tasks/delete', consumesJson);

  router.get('/v2/tasks', (req, res) => {
    if (wantsText(req)) {
      res.type('text/plain').send(tasksText(engine.listApps(), (id) => engine.tasksOf(id)));
      return;
    }
    const states = new Set(
      list(req, 'status')
        .concat(list(req, 'status[]'))
        .flatMap((s) => (Object.hasOwn(STATUS_FILTER, s.toLowerCase()) ? STATUS_FILTER[s.toLowerCase()]! : [])),
    );
    const tasks = engine.allTasks().filter((t) => states.size === 0 || states.has(t.state));
    res.json({ tasks: tasks.map((t) => taskJson(t, engine.agentId)) });
  });

  router.post('/v2/tasks/delete', (req, res) => {
    const scale = scaleFlag(req);
    const body = jsonBody(req) as { ids?: unknown };
    if (!body || typeof body !== 'object' || !Array.isArray(body.ids) || !body.ids.every((i) => typeof i === 'string'))
      throw invalid('json', '/ids', 'error.expected.jsarray');
    // the shapes of Marathon's Task.Id.parse (legacy `<app>.<uuid>` included): anything else is not a task id
    const bad = (body.ids as string[]).find((id) => !/^(.+)[._]([^_.]+)$/.test(id));
    if (bad !== undefined)
      throw new EngineApiError(400, {
        message: `Invalid task id '${bad}'. [taskId ${bad} no valid identifier (of class java.lang.String)]`,
      });
    const tasks = (body.ids as string[]).map((id) => engine.task(id)).filter((t): t is TaskRecord => t !== undefined);
    const result = engine.killTasks(tasks, scale, flag(req, 'force'));
    if (Array.isArray(result)) res.json({ tasks: result.map((t) => taskJson(t, engine.agentId)) });
    else sendDeployment(res, 200, result);
  });

  const groupPath = (req: { params: unknown }) =>
    canonicalId(((req.params as { path?: string[] }).path ?? []).join('/'));
  const group = (req: Request) => {
    const id = groupPath(req);
    const embed = groupEmbed(req);
    const tree = groupTree(engine.listApps(), id, engine.startedAt, (app) => engine.appInfo(app, embed.app));
    if (!tree) throw new EngineApiError(404, { message: `Group '${id}' does not exist` });
    const embedded = (g: GroupJson): GroupJson => ({
      ...g,
      apps: embed.apps ? g.apps : [],
      groups: embed.groups ? g.groups.map(embedded) : [],
    });
    return embedded(tree);
  };
  /** POST creates the group (201), PUT changes it: the body's id, if any, resolved against the path. */
  const changeGroup = (create: boolean) => (req: Request, res: Response) => {
    const body = jsonBody(req);
    const given = (body as { id?: unknown } | null)?.id;
    const id = typeof given === 'string' && given ? resolveId(given, groupPath(req)) : groupPath(req);
    if (create && engine.groupExists(id))
      throw new EngineApiError(409, { message: `Group ${id} is already created. Use PUT to change this group.` });
    if (create && engine.findApp(id))
      throw new EngineApiError(409, { message: `An app with the path ${id} already exists.` });
    const result = engine.updateGroup(id, body, {
      force: flag(req, 'force'),
      clientIp: clientIp(req),
      uri: req.originalUrl,
    });
    if (create) res.setHeader('Location', locationOf(req, id));
    sendDeployment(res, create ? 201 : 200, result);
  };
  const groupPaths = ['/v2/groups', '/v2/groups/*path'];
  router.get(groupPaths, (req, res) => {
    res.json(group(req));
  });
  router.post(groupPaths, changeGroup(true));
  router.put(groupPaths, changeGroup(false));
  router.delete(groupPaths, (req, res) => {
    sendDeployment(res, 200, engine.deleteGroup(groupPath(req), flag(req, 'force')));
  });

  router.get('/v2/deployments', (_req, res) => {
    res.json(engine.deploymentsJson());
  });

  router.delete('/v2/deployments/:id', (req, res) => {
    const result = engine.cancelDeployment(req.params.id, flag(req, 'force'));
    if (result) sendDeployment(res, 200, result);
    else res.status(202).end();
  });

  /** Instances of the app still to launch: what puts it in the queue. */
  const notLaunched = (app: AppDefinition) =>
    app.instances - engine.tasksOf(app.id).filter((t) => !t.killRequested).length;

  router.get('/v2/queue', (req, res) => {
    const now = Date.now();
    const withLastUnusedOffers = list(req, 'embed').includes('lastUnusedOffers');
    const queue = engine.listApps().flatMap((app) => {
      const missing = notLaunched(app);
      if (missing <= 0) return [];
      const delay = engine.launchDelay(app.id);
      const waiting = engine.launchBlocker(app);
      return [
        {
          count: missing,
          delay: {
            timeLeftSeconds: delay ? Math.max(0, Math.ceil((delay.until - now) / 1000)) : 0,
            overdue: !delay || delay.until <= now,
          },
          since: timestamp(),
          app: engine.appInfo(app, {}),
          processedOffersSummary: {
            processedOffersCount: 0,
            unusedOffersCount: 0,
            ...(waiting
              ? {
                  lastUnusedOfferAt: timestamp(),
                  rejectSummaryLastOffers: [{ reason: waiting, declined: 1, processed: 1 }],
                }
              : {}),
          },
          ...(withLastUnusedOffers ? { lastUnusedOffers: [] } : {}),
        },
      ];
    });
    res.json({ queue });
  });

  router.delete('/v2/queue/*path/delay', (req, res) => {
    const appId = '/' + (req.params as { path: string[] }).path.filter(Boolean).join('/');
    const app = engine.findApp(appId);
    if (!app || notLaunched(app) <= 0)
      throw new EngineApiError(404, { message: `Application ${appId} not found in tasks queue.` });
    engine.resetLaunchDelay(appId);
    res.status(204).end();
  });

  router.get('/v2/events', (req, res) => {
    const accepts = (req.headers.accept ?? '').split(',').map((v) => v.trim());
    if (!accepts.includes('text/event-stream')) {
      res
        .status(405)
        .type('text/html')
        .send(
          '<html><body><h2>HTTP ERROR 405</h2><p>Problem accessing /v2/events. Reason: HTTP method GET is not supported by this URL</p></body></html>',
        );
      return;
    }
    events.attach(req, res, list(req, 'event_type'));
  });

  router.get('/v2/eventSubscriptions', (_req, res) => {
    res.json({ callbackUrls: engine.callbacks.urls() });
  });
  const callbackUrl = (req: { query: Record<string, unknown> }) => {
    const url = req.query.callbackUrl;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url))
      throw invalid('object', '/callbackUrl', 'must be an http(s) URL');
    return url;
  };
  router.post('/v2/eventSubscriptions', (req, res) => {
    res.json(engine.callbacks.add(callbackUrl(req), clientIp(req)));
  });
  router.delete('/v2/eventSubscriptions', (req, res) => {
    const url = callbackUrl(req);
    if (!engine.callbacks.urls().includes(url))
      throw new EngineApiError(404, { message: `Callback URL ${url} does not exist` });
    res.json(engine.callbacks.remove(url, clientIp(req)));
  });

  return router;
}
