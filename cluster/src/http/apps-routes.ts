/** `/v2/apps`: list, create, read, update (PUT/PATCH, bulk), delete, restart, tasks and versions. */
import { Router, type Request, type Response } from 'express';
import type { Engine } from '../engine.js';
import { appNotFound, EngineApiError } from '../deploy/errors.js';
import { taskJson } from '../tasks/task.js';
import { inGroup } from '../app/groups.js';
import { canonicalId } from '../app/normalize.js';
import { appJson } from '../app/definition.js';
import { invalid } from '../app/problems.js';
import { parseLabelSelector } from './label-selector.js';
import { appEmbed } from './embed.js';
import { clientIp, consumesJson, flag, jsonBody, locationOf, param, scaleFlag, sendDeployment } from './request.js';
import { tasksText, wantsText } from './tasks-text.js';

/** What `GET /v2/apps/{id}` and the apps of a group always embed. */
const FULL = { counts: true, tasks: true, deployments: true, lastTaskFailure: true };

function containsIgnoringCase(text: string, part: string): boolean {
  return text.toLowerCase().includes(part.toLowerCase());
}

export function appsRoutes(engine: Engine): Router {
  const router = Router();
  router.use('/v2/apps', consumesJson);

  router.get('/v2/apps', (req, res) => {
    const embed = appEmbed(req, { counts: true, deployments: true });
    const idFilter = param(req, 'id');
    const cmdFilter = param(req, 'cmd');
    const label = param(req, 'label');
    const selector = label ? parseLabelSelector(label) : undefined;
    const apps = engine
      .listApps()
      .filter(
        (a) =>
          (idFilter === undefined || containsIgnoringCase(a.id, idFilter)) &&
          (cmdFilter === undefined || (typeof a.cmd === 'string' && containsIgnoringCase(a.cmd, cmdFilter))) &&
          (!selector || selector(a.labels)),
      )
      .map((a) => engine.appInfo(a, embed));
    res.json({ apps });
  });

  router.post('/v2/apps', (req, res) => {
    const { app, deploymentId } = engine.createApp(jsonBody(req), clientIp(req), req.originalUrl);
    res.status(201).setHeader('Location', locationOf(req, app.id));
    res.setHeader('Marathon-Deployment-Id', deploymentId);
    res.json(app);
  });

  const bulk = (partialDefault: boolean) => (req: Request, res: Response) => {
    const body = jsonBody(req);
    if (!Array.isArray(body)) throw invalid('json', '/', 'error.expected.jsarray');
    const force = flag(req, 'force');
    let last: { deploymentId: string; version: string } | undefined;
    body.forEach((item: unknown, i) => {
      const id =
        item && typeof item === 'object' && typeof (item as { id?: unknown }).id === 'string'
          ? canonicalId((item as { id: string }).id)
          : undefined;
      if (!id) throw invalid('object', `(${i})/id`, 'error.path.missing');
      last = engine.updateApp(id, item, {
        force,
        partial: flag(req, 'partialUpdate', partialDefault),
        allowCreate: true,
        clientIp: clientIp(req),
        uri: req.originalUrl,
      });
    });
    if (!last) throw invalid('object', '/', 'must not be empty');
    sendDeployment(res, 200, last);
  };
  router.put('/v2/apps', bulk(true));
  router.patch('/v2/apps', bulk(true));

  router.all('/v2/apps/*path', (req, res) => {
    const segments = (req.params as { path: string[] }).path.filter(Boolean);
    const force = flag(req, 'force');
    if (req.method === 'GET' && segments[segments.length - 1] === '*') {
      // the apps of a group (`/v2/apps/*` for all), as `{"*": [...]}`
      const groupId = canonicalId(segments.slice(0, -1).join('/'));
      if (!engine.groupExists(groupId)) throw new EngineApiError(404, { message: `Group '${groupId}' does not exist` });
      const embed = appEmbed(req, FULL);
      res.json({
        '*': engine
          .listApps()
          .filter((a) => inGroup(a.id, groupId))
          .map((a) => engine.appInfo(a, embed)),
      });
      return;
    }
    const verbs = ['restart', 'tasks', 'versions'];
    const candidates = segments.map((s, i) => (verbs.includes(s) ? i : -1)).filter((i) => i > 0);
    const at = candidates.find((i) => engine.findApp('/' + segments.slice(0, i).join('/'))) ?? candidates[0] ?? -1;
    const appId = canonicalId((at === -1 ? segments : segments.slice(0, at)).join('/'));
    const sub = at === -1 ? undefined : segments[at];
    const rest = at === -1 ? [] : segments.slice(at + 1);
    const method = req.method;
    const notAllowed = () => {
      res.status(405).json({ message: 'HTTP 405 Method Not Allowed' });
    };

    if (sub === undefined) {
      if (method === 'GET') {
        res.json({ app: engine.appInfo(engine.getApp(appId), appEmbed(req, FULL)) });
        return;
      }
      if (method === 'PUT' || method === 'PATCH') {
        const result = engine.updateApp(appId, jsonBody(req), {
          force,
          partial: method === 'PATCH' || flag(req, 'partialUpdate', true),
          allowCreate: method === 'PUT',
          clientIp: clientIp(req),
          uri: req.originalUrl,
        });
        return sendDeployment(res, result.created ? 201 : 200, result);
      }
      if (method === 'DELETE') return sendDeployment(res, 200, engine.deleteApp(appId, flag(req, 'force', true)));
      return notAllowed();
    }
    if (sub === 'restart') {
      return method === 'POST' ? sendDeployment(res, 200, engine.restartApp(appId, force)) : notAllowed();
    }
    if (sub === 'versions') {
      if (method !== 'GET') return notAllowed();
      const versions = engine.appVersions(appId);
      if (versions.length === 0) throw appNotFound(appId);
      if (rest.length === 0) {
        res.json({ versions: versions.map((v) => v.version).reverse() });
        return;
      }
      const version = engine.appVersion(appId, rest.join('/'));
      if (!version)
        throw new EngineApiError(404, { message: `App '${appId}' does not exist in version ${rest.join('/')}` });
      res.json(appJson(version));
      return;
    }
    // tasks
    const app = engine.getApp(appId);
    const tasks = engine.tasksOf(app.id);
    if (method === 'GET' && rest.length === 0) {
      if (wantsText(req)) res.type('text/plain').send(tasksText([app], (id) => engine.tasksOf(id)));
      else res.json({ tasks: tasks.map((t) => taskJson(t, engine.agentId)) });
      return;
    }
    if (method !== 'DELETE') return notAllowed();
    const scale = scaleFlag(req);
    if (rest.length > 0) {
      const task = tasks.find((t) => t.id === rest.join('/'));
      if (!task) throw new EngineApiError(404, { message: `Task '${rest.join('/')}' does not exist` });
      const result = engine.killTasks([task], scale, force);
      if (Array.isArray(result)) res.json({ task: taskJson(task, engine.agentId) });
      else sendDeployment(res, 200, result);
      return;
    }
    const host = param(req, 'host');
    const chosen = host !== undefined ? tasks.filter((t) => t.host === host || host === '*') : tasks;
    const result = engine.killTasks(chosen, scale, force);
    if (Array.isArray(result)) res.json({ tasks: result.map((t) => taskJson(t, engine.agentId)) });
    else sendDeployment(res, 200, result);
  });

  return router;
}
