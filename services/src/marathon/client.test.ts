import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MarathonClient } from './client.js';
import {
  MarathonAuthError,
  MarathonConflictError,
  MarathonLockedError,
  MarathonNotFoundError,
  MarathonUnavailableError,
  MarathonValidationError,
} from './errors.js';
import { isRecoverable } from '../errors.js';

// Marathon answers, copied in shape from Marathon 1.10 (Marathon 1.10's REST API documentation).
type Route = (req: IncomingMessage, body: string) => [number, unknown];
const routes = new Map<string, Route>();
const seen: Array<{ method: string; url: string; auth: string | undefined; body: string }> = [];
let server: Server;
let url: string;

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer(handler);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

before(async () => {
  server = await listen((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      const route = routes.get(`${req.method} ${req.url!.split('?')[0]}`);
      const [status, payload] = route ? route(req, body) : [500, { message: 'URI not found' }];
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    });
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A port nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const s = await listen(() => undefined);
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

test('fails over from an unreachable URL and then prefers the one that answered', async () => {
  routes.set('GET /v2/info', () => [200, { name: 'marathon', version: '1.10.26', leader: 'm1:8080' }]);
  const dead = await closedPortUrl();
  const client = new MarathonClient({ urls: [dead, url] });
  const info = await client.info();
  assert.equal(info.version, '1.10.26');
  assert.equal(client.currentUrl, url);
});

test('no URL answering is a recoverable MarathonUnavailableError naming the call', async () => {
  const client = new MarathonClient({ urls: [await closedPortUrl()] });
  await assert.rejects(client.listApps(), (err: unknown) => {
    assert.ok(err instanceof MarathonUnavailableError);
    assert.match(err.message, /^list apps: .* did not answer \(ECONNREFUSED\)/);
    assert.equal(isRecoverable(err), true);
    return true;
  });
});

test('409 with deployments is a recoverable lock that keeps the deployment ids', async () => {
  routes.set('PUT /v2/apps/theseus/default/web', () => [
    409,
    {
      message:
        "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
      deployments: [{ id: '97c136bf-5a28-4821-9d94-480d9fbb01c8' }],
    },
  ]);
  const client = new MarathonClient({ urls: [url] });
  await assert.rejects(client.replaceApp({ id: '/theseus/default/web', instances: 1 }), (err: unknown) => {
    assert.ok(err instanceof MarathonLockedError);
    assert.deepEqual(err.deploymentIds, ['97c136bf-5a28-4821-9d94-480d9fbb01c8']);
    assert.equal(err.status, 409);
    assert.equal(isRecoverable(err), true);
    return true;
  });
  assert.match(seen.at(-1)!.url, /partialUpdate=false/);
});

test('409 without deployments is a duplicate, not retried', async () => {
  routes.set('POST /v2/apps', () => [409, { message: 'An app with id [/theseus/default/web] already exists.' }]);
  const client = new MarathonClient({ urls: [url] });
  await assert.rejects(
    client.createApp({ id: '/theseus/default/web' }),
    (err: unknown) => err instanceof MarathonConflictError && !isRecoverable(err) && /already exists/.test(err.message),
  );
});

test('422 details become path-named problems', async () => {
  routes.set('POST /v2/apps', () => [
    422,
    {
      message: 'Object is not valid',
      details: [
        { path: '/upgradeStrategy/minimumHealthCapacity', errors: ['is greater than 1'] },
        { path: '/id', errors: ['must be fully-qualified', 'must be lower case'] },
      ],
    },
  ]);
  const client = new MarathonClient({ urls: [url] });
  await assert.rejects(client.createApp({ id: 'X' }), (err: unknown) => {
    assert.ok(err instanceof MarathonValidationError);
    assert.deepEqual(err.problems, [
      { path: '/upgradeStrategy/minimumHealthCapacity', message: 'is greater than 1' },
      { path: '/id', message: 'must be fully-qualified' },
      { path: '/id', message: 'must be lower case' },
    ]);
    assert.match(err.describe(), /\/id: must be lower case/);
    return true;
  });
});

test('400 Invalid JSON with string details, 404 and 401 map to their errors', async () => {
  routes.set('POST /v2/apps', () => [400, { message: 'Invalid JSON', details: 'Unexpected end-of-input' }]);
  routes.set('GET /v2/apps/nope', () => [404, { message: "App '/nope' does not exist" }]);
  routes.set('GET /v2/leader', () => [401, { message: 'Invalid username or password.' }]);
  const client = new MarathonClient({ urls: [url] });
  await assert.rejects(
    client.createApp({ id: '/a' }),
    (err: unknown) => err instanceof MarathonValidationError && err.problems[0]?.message === 'Unexpected end-of-input',
  );
  await assert.rejects(
    client.getApp('/nope'),
    (err: unknown) => err instanceof MarathonNotFoundError && /does not exist/.test(err.message),
  );
  await assert.rejects(client.leader(), (err: unknown) => err instanceof MarathonAuthError && err.status === 401);
});

test('a 503 from one URL fails over to the next', async () => {
  const busy = await listen((_req, res) => {
    res.writeHead(503, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'Could not determine the current leader' }));
  });
  routes.set('GET /v2/deployments', () => [200, []]);
  try {
    const client = new MarathonClient({ urls: [`http://127.0.0.1:${(busy.address() as AddressInfo).port}`, url] });
    assert.deepEqual(await client.listDeployments(), []);
  } finally {
    await new Promise((r) => busy.close(r));
  }
});

test('basic credentials and DC/OS tokens are sent as Marathon expects; ids are canonical paths', async () => {
  routes.set('GET /v2/apps/theseus/default/web', () => [
    200,
    { app: { id: '/theseus/default/web', version: '2026-11-21T07:00:00.000Z' } },
  ]);
  await new MarathonClient({ urls: [url], credentials: 'ops:s3cret' }).getApp('theseus/default/web');
  assert.equal(seen.at(-1)!.auth, `Basic ${Buffer.from('ops:s3cret').toString('base64')}`);
  await new MarathonClient({ urls: [url], token: 'eyJhbGciOi' }).getApp('/theseus/default/web');
  assert.equal(seen.at(-1)!.auth, 'token=eyJhbGciOi');
});
