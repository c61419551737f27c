/** The REST side of the Marathon test double: one request in, Marathon's answer out, recorded. */
import type http from 'node:http';
import type { MarathonApp } from '../marathon/types.js';
import { appDefinitionProblems } from './app-definition-schema.js';
import type { MarathonDouble } from './marathon-double.js';

type Answer = [status: number, body: unknown];

export async function answerRequest(double: MarathonDouble, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const startMs = performance.now();
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', double.url);
  const query = Object.fromEntries(url.searchParams);
  const record = (status: number, body: unknown) => double.calls.push({ method, path: url.pathname, query, body, status, startMs, endMs: performance.now() });

  const credentials = double.options.credentials;
  if (credentials && req.headers.authorization !== `Basic ${Buffer.from(credentials).toString('base64')}`) {
    record(401, undefined);
    res.writeHead(401, { 'WWW-Authenticate': 'basic realm="Mesosphere"', 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'Invalid username or password.' }));
    return;
  }
  if (url.pathname === '/v2/events' && method === 'GET' && !faultFor(double, method, url.pathname)) {
    if (double.leaderUrl) {
      record(302, undefined);
      res.writeHead(302, { Location: `${double.leaderUrl}/v2/events${url.search}` }).end();
      return;
    }
    record(double.events.attach(req, res, url), undefined);
    return;
  }

  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const fault = faultFor(double, method, url.pathname);
  if (fault) {
    fault.times = (fault.times ?? 1) - 1;
    record(fault.status, text);
    if (fault.hangUp) {
      req.socket.destroy();
      return;
    }
    return send(res, fault.status, fault.body ?? { message: `injected ${fault.status}` });
  }
  let body: unknown;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      record(400, text);
      return send(res, 400, { message: 'Invalid JSON', details: (err as Error).message });
    }
  }
  const [status, answer] = route(double, method, url, body, req.socket.remoteAddress);
  record(status, body);
  send(res, status, answer);
}

function faultFor(double: MarathonDouble, method: string, path: string) {
  return double.faults.find((f) => (!f.method || f.method === method) && (!f.path || f.path.test(path)) && (f.times ?? 1) > 0);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(text);
}

function route(double: MarathonDouble, method: string, url: URL, body: unknown, clientIp: string | undefined): Answer {
  const path = url.pathname;
  const params = url.searchParams;
  const force = params.get('force') === 'true';
  const leader = new URL(double.leaderUrl ?? double.url).host;
  if (path === '/ping') return [200, 'pong'];
  if (path === '/v2/info') return [200, { name: 'marathon', version: double.options.version ?? '1.10.26', leader, frameworkId: 'double-0000' }];
  if (path === '/v2/leader') return [200, { leader }];
  if (path === '/v2/eventSubscriptions') return double.events.subscriptions(method, url, clientIp);
  if (path === '/v2/deployments' && method === 'GET') return [200, [...double.deployments.values()].map(({ timer: _t, startMs: _s, ...d }) => d)];
  const dep = /^\/v2\/deployments\/(.+)$/.exec(path);
  if (dep && method === 'DELETE') {
    const d = double.deployments.get(dep[1]!);
    if (!d) return [404, { message: `DeploymentPlan ${dep[1]} does not exist` }];
    double.finish(d.id, false, 'canceled');
    return force ? [202, undefined] : [200, double.deploy(d.affectedApps, 'RestartApplication')];
  }
  if (path === '/v2/tasks' && method === 'GET') {
    const wanted = params.getAll('status');
    const tasks = [...double.tasks.values()].filter((t) => wanted.length === 0 || wanted.some((s) => (s === 'running' ? t.state === 'TASK_RUNNING' : t.state === 'TASK_STAGING')));
    return [200, { tasks }];
  }
  if (path === '/v2/apps' && method === 'GET') {
    const selector = params.get('label');
    const apps = [...double.apps.values()].filter((a) => !selector || matchesLabel(a.app.labels ?? {}, selector));
    const embedTasks = params.getAll('embed').includes('apps.tasks');
    return [200, { apps: apps.map((a) => double.info(a, embedTasks)) }];
  }
  if (path === '/v2/apps' && method === 'POST') return create(double, body as MarathonApp);

  const m = /^\/v2\/apps(\/.+?)(\/restart|\/tasks|\/versions(?:\/(.+))?)?$/.exec(path);
  if (!m) return [404, { message: 'URI not found' }];
  const appId = decodeURIComponent(m[1]!);
  const sub = m[2];
  const state = double.apps.get(appId);
  if (sub === '/tasks' && method === 'GET') return state ? [200, { tasks: double.tasksOf(appId) }] : notFound(appId);
  if (sub?.startsWith('/versions') && method === 'GET') {
    if (!state) return notFound(appId);
    if (m[3]) {
      const v = state.versions.get(decodeURIComponent(m[3]));
      return v ? [200, v] : [404, { message: `App '${appId}' does not exist in version ${m[3]}` }];
    }
    return [200, { versions: [...state.versions.keys()].reverse() }];
  }
  if (!sub && method === 'GET') return state ? [200, { app: double.info(state, true) }] : notFound(appId);

  // every change below is a deployment on the app
  const running = [...double.deployments.values()].filter((d) => d.affectedApps.includes(appId));
  if (state && !force && running.length > 0) {
    return [409, {
      message: `App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/${running[0]!.id}'.`,
      deployments: running.map((d) => ({ id: d.id })),
    }];
  }
  if (force) for (const d of running) double.finish(d.id, false, 'superseded by a forced deployment');

  if (sub === '/restart' && method === 'POST') {
    if (!state) return notFound(appId);
    double.save(state.app, true);
    return [200, double.deploy([appId], 'RestartApplication', state.version)];
  }
  if (sub) return [405, { message: 'Method not allowed' }];
  if (method === 'DELETE') {
    if (!state) return notFound(appId);
    double.removeApp(appId);
    return [200, double.deploy([appId], 'StopApplication')];
  }
  if (method === 'PUT' || method === 'PATCH') {
    const input = (body ?? {}) as Partial<MarathonApp>;
    if (method === 'PUT' && typeof input.version === 'string' && Object.keys(input).length === 1) {
      if (!state) return notFound(appId);
      const old = state.versions.get(input.version);
      if (!old) return [404, { message: `Version ${input.version} of app ${appId} does not exist` }];
      double.save(old, true);
      return [200, double.deploy([appId], 'RestartApplication', state.version)];
    }
    if (method === 'PATCH' && !state) return notFound(appId);
    const partial = method === 'PATCH' || params.get('partialUpdate') !== 'false';
    const next = { ...(partial && state ? state.app : {}), ...input, id: appId } as MarathonApp;
    const problems = appDefinitionProblems(next);
    if (problems.length) return [422, { message: 'Object is not valid', details: problems }];
    if (!state) {
      const created = double.save(next, true);
      return [201, double.deploy([appId], 'StartApplication', created.version)];
    }
    const configChanged = JSON.stringify({ ...state.app, instances: 0 }) !== JSON.stringify({ ...next, instances: 0 });
    double.save(next, configChanged);
    return [200, double.deploy([appId], configChanged ? 'RestartApplication' : 'ScaleApplication', state.version)];
  }
  return [405, { message: 'Method not allowed' }];
}

function create(double: MarathonDouble, app: MarathonApp): Answer {
  const problems = appDefinitionProblems(app);
  if (problems.length) return [422, { message: 'Object is not valid', details: problems }];
  const id = '/' + app.id.replace(/^\/+/, '');
  if (double.apps.has(id)) return [409, { message: `An app with id [${id}] already exists.` }];
  const state = double.save({ ...app, id }, true);
  const result = double.deploy([id], 'StartApplication', state.version);
  return [201, { ...double.info(state, false), deployments: [{ id: result.deploymentId }] }];
}

function notFound(appId: string): Answer {
  return [404, { message: `App '${appId}' does not exist` }];
}

/** Marathon's label selector, the forms Theseus uses: `K`, `K==V`, `K!=V`, comma = AND. */
function matchesLabel(labels: Record<string, string>, selector: string): boolean {
  return selector.split(',').every((term) => {
    const ne = term.split('!=');
    if (ne.length === 2) return labels[ne[0]!.trim()] !== ne[1]!.trim();
    const eq = term.split('==');
    if (eq.length === 2) return labels[eq[0]!.trim()] === eq[1]!.trim();
    return term.trim() in labels;
  });
}
