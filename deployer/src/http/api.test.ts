import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import request from 'supertest';
import { MARATHON_LABELS } from '@theseus/services';
import { startHarness, TEST_TOKEN, type Harness } from '../testing/harness.js';
import { openApiDocument } from './openapi.js';

const WEB = 'deploy:\n  web:\n    image: nginx:1.25\n    ports: {http: 80}\n    instances: 2\n';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const post = (path: string, body: string, type = 'application/yaml') =>
  request(h.url).post(path).set(h.auth).type(type).send(body);
const mutations = () => h.marathon!.faults.mutations();

describe('auth', () => {
  test('mutating endpoints need the bearer token (401 with WWW-Authenticate otherwise)', async () => {
    const none = await request(h.url).post('/deploy').type('application/yaml').send(WEB);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHORIZED');
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    const wrong = await request(h.url)
      .post('/deploy')
      .set('Authorization', `Bearer ${TEST_TOKEN}x`)
      .type('application/yaml')
      .send(WEB);
    assert.equal(wrong.status, 401);
    const basic = await request(h.url).delete('/services/web').set('Authorization', 'Basic abc');
    assert.equal(basic.status, 401);
    for (const path of ['/services/web/scale', '/services/web/restart', '/services/web/rollback']) {
      assert.equal((await request(h.url).post(path).send({})).status, 401, path);
    }
    assert.equal(mutations().length, 0);
  });

  test('reads need the token unless open reads are configured; health, metrics and openapi are open', async () => {
    assert.equal((await request(h.url).get('/services')).status, 401);
    assert.equal((await request(h.url).get('/deployments')).status, 401);
    assert.equal((await request(h.url).get('/healthz')).status, 200);
    assert.equal((await request(h.url).get('/openapi.json')).status, 200);
    assert.equal((await request(h.url).get('/metrics')).status, 200);
    const open = await startHarness({ env: { THESEUS_OPEN_READS: 'true' }, worker: false, events: false });
    try {
      assert.equal((await request(open.url).get('/services')).status, 200);
      assert.equal((await request(open.url).post('/deploy').type('application/yaml').send(WEB)).status, 401);
    } finally {
      await open.close();
    }
  });
});

describe('rejected documents send nothing to Marathon', () => {
  test('YAML syntax errors: 400 with line and column', async () => {
    const res = await post('/deploy', 'deploy:\n  web: {image: nginx\n  api: x\n');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'SPEC_SYNTAX');
    assert.equal(typeof res.body.error.problems[0].line, 'number');
    assert.equal(typeof res.body.error.problems[0].column, 'number');
    assert.ok(res.body.requestId);
    assert.equal(mutations().length, 0);
  });

  test('schema problems: 422 listing every problem with its path and line', async () => {
    const res = await post(
      '/deploy',
      'deploy:\n  web:\n    image: nginx\n    instances: -1\n    colour: red\n  Web2: {image: x}\n',
    );
    assert.equal(res.status, 422);
    const paths = res.body.error.problems.map((p: { path: string }) => p.path).sort();
    assert.deepEqual(paths, ['/deploy/Web2', '/deploy/web/colour', '/deploy/web/instances']);
    assert.equal(res.body.error.problems.find((p: { path: string }) => p.path === '/deploy/web/colour').line, 5);
    assert.equal(mutations().length, 0);
  });

  test('JSON bodies are real JSON (true/null) and their errors are 400', async () => {
    const bad = await post('/deploy', '{"deploy": {"web": {"image": "nginx",}}}', 'application/json');
    assert.equal(bad.status, 400);
    const ok = await post(
      '/deploy?dryRun=true',
      JSON.stringify({ deploy: { web: { image: 'nginx', environment: { DEBUG: true } } }, remove: null }),
      'application/json',
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.services[0].app.env.DEBUG, 'true');
  });

  test('413 for bodies over the limit and for alias bombs; 415 for other content types', async () => {
    const big = await post('/deploy', `deploy:\n  web: {image: nginx}\n# ${'x'.repeat(1024 * 1024 + 10)}\n`);
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const bomb = await post('/deploy', lines.join('\n'));
    assert.equal(bomb.status, 413);
    assert.equal(bomb.body.error.code, 'SPEC_TOO_LARGE');
    const xml = await post('/deploy', '<deploy/>', 'application/xml');
    assert.equal(xml.status, 415);
    assert.equal(mutations().length, 0);
  });

  test('environment overriding discovery variables and host mounts are refused', async () => {
    const res = await post(
      '/deploy',
      'deploy:\n  web:\n    image: nginx\n    environment: {ETCD_ENDPOINTS: x}\n    volumes: ["/etc:/etc"]\n',
    );
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.error.problems.map((p: { path: string }) => p.path).sort(), [
      '/deploy/web/environment/ETCD_ENDPOINTS',
      '/deploy/web/volumes/0',
    ]);
  });
});

describe('deploying', () => {
  test('dry run returns each app and its diff, changing nothing', async () => {
    const res = await post('/deploy?dryRun=true', WEB);
    assert.equal(res.status, 200);
    assert.equal(res.body.services[0].action, 'create');
    assert.equal(res.body.services[0].app.id, '/theseus/default/web');
    assert.equal(res.body.services[0].app.instances, 2);
    assert.deepEqual(res.body.services[0].changes, [], 'for a create the app is the change');
    assert.equal(mutations().length, 0);
  });

  test('create answers 202 with a status URL; the deployment succeeds with a create step', async () => {
    const res = await post('/deploy', WEB);
    assert.equal(res.status, 202);
    assert.match(res.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(res.body.statusUrl, `/deployments/${res.body.id}`);
    assert.equal(res.headers.location, res.body.statusUrl);
    const done = await request(h.url).get(`${res.body.statusUrl}?wait=true`).set(h.auth);
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'succeeded');
    assert.equal(done.body.steps[0].action, 'create');
    assert.equal(done.body.steps[0].state, 'succeeded');
    assert.ok(done.body.steps[0].marathonDeploymentId);
    assert.equal(h.marathon!.app('/theseus/default/web')?.instances, 2);
  });

  test('an unchanged document is a no-op; instances only is a scale; anything else a rolling update', async () => {
    const before = mutations().length;
    const same = await post('/deploy?wait=true', WEB);
    assert.equal(same.body.steps[0].action, 'noop');
    assert.equal(mutations().length, before);

    const scaled = await post('/deploy?wait=true', WEB.replace('instances: 2', 'instances: 5'));
    assert.equal(scaled.body.steps[0].action, 'scale');
    const patch = mutations().at(-1)!;
    assert.equal(patch.method, 'PATCH');
    assert.deepEqual(patch.body, { instances: 5 });

    const plan = await post(
      '/deploy?dryRun=true',
      WEB.replace('instances: 2', 'instances: 5').replace('nginx:1.25', 'nginx:1.26'),
    );
    assert.equal(plan.body.services[0].action, 'update');
    assert.deepEqual(plan.body.services[0].changes, [
      { path: '/container/docker/image', from: 'nginx:1.25', to: 'nginx:1.26' },
      plan.body.services[0].changes[1],
    ]);
    assert.equal(plan.body.services[0].changes[1].path, '/labels/THESEUS_SPEC_HASH');
    const updated = await post(
      '/deploy?wait=true',
      WEB.replace('instances: 2', 'instances: 5').replace('nginx:1.25', 'nginx:1.26'),
    );
    assert.equal(updated.body.state, 'succeeded');
    assert.equal(updated.body.steps[0].action, 'update');
    assert.ok(updated.body.steps[0].changes.some((c: { path: string }) => c.path === '/container/docker/image'));
    const put = mutations().at(-1)!;
    assert.equal(put.method, 'PUT');
    assert.equal(put.query.partialUpdate, 'false');
  });

  test('Idempotency-Key returns the first deployment for a retried request; a different body is refused', async () => {
    const doc = 'deploy:\n  idem: {image: nginx}\n';
    const first = await post('/deploy', doc).set('Idempotency-Key', 'key-1');
    const again = await post('/deploy', doc).set('Idempotency-Key', 'key-1');
    assert.equal(first.status, 202);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const other = await post('/deploy', 'deploy:\n  idem: {image: httpd}\n').set('Idempotency-Key', 'key-1');
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
    await request(h.url).get(`/deployments/${first.body.id}?wait=true`).set(h.auth);
    assert.equal(
      h.marathon!.calls.filter(
        (c) => c.method === 'POST' && (c.body as { id?: string })?.id === '/theseus/default/idem',
      ).length,
      1,
    );
  });

  test("Marathon 422 fails the service at once with Marathon's message; 5xx is retried", async () => {
    h.marathon!.faults.answer({
      method: 'POST',
      path: /^\/v2\/apps$/,
      status: 422,
      body: {
        message: 'Object is not valid',
        details: [{ path: '/container/docker/image', errors: ['not allowed here'] }],
      },
    });
    const refused = await post('/deploy?wait=true', 'deploy:\n  refused: {image: nginx}\n');
    assert.equal(refused.body.state, 'failed');
    assert.equal(refused.body.steps[0].attempts, 1);
    assert.match(refused.body.steps[0].error.message, /Object is not valid/);
    assert.deepEqual(refused.body.steps[0].error.problems, [
      { path: '/container/docker/image', message: 'not allowed here' },
    ]);

    h.marathon!.faults.answer({
      method: 'POST',
      path: /^\/v2\/apps$/,
      status: 503,
      body: { message: 'Could not determine the current leader' },
      times: 2,
    });
    const retried = await post('/deploy?wait=true', 'deploy:\n  retried: {image: nginx}\n');
    assert.equal(retried.body.state, 'succeeded');
    assert.equal(retried.body.steps[0].attempts, 3);
  });

  test('409 locked by a running Marathon deployment: waits for it, then applies', async () => {
    const created = await post('/deploy?wait=true', 'deploy:\n  locked: {image: nginx}\n');
    assert.equal(created.body.state, 'succeeded');
    h.marathon!.hold((id) => id === '/theseus/default/locked');
    const outside = await fetch(`${h.marathon!.url}/v2/apps/theseus/default/locked/restart`, { method: 'POST' });
    assert.equal(outside.status, 200);
    h.marathon!.hold(() => false);
    const pending = await post('/deploy', 'deploy:\n  locked: {image: nginx, instances: 3}\n');
    let record;
    for (let i = 0; i < 100; i++) {
      record = (await request(h.url).get(`/deployments/${pending.body.id}`).set(h.auth)).body;
      if (record.steps[0].message?.includes('lock')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(record.steps[0].message, /lock/);
    assert.ok(h.marathon!.calls.some((c) => c.status === 409 && c.path === '/v2/apps/theseus/default/locked'));
    h.marathon!.release();
    const done = await request(h.url).get(`/deployments/${pending.body.id}?wait=true`).set(h.auth);
    assert.equal(done.body.state, 'succeeded');
    assert.equal(h.marathon!.app('/theseus/default/locked')?.instances, 3);
  });

  test('a storm of 409 "locked" answers: retried until Marathon takes the change, which is sent once', async () => {
    await post('/deploy?wait=true', 'deploy:\n  storm: {image: nginx}\n');
    const locked = {
      message: "App is locked by one or more deployments. Override with the option '?force=true'.",
      deployments: [{ id: 'f0d2b8a4-0000-4000-8000-000000000000' }],
    };
    h.marathon!.faults.answer({
      method: 'PATCH',
      path: /^\/v2\/apps\/theseus\/default\/storm$/,
      status: 409,
      body: locked,
      times: 6,
    });
    const done = await post('/deploy?wait=true', 'deploy:\n  storm: {image: nginx, instances: 2}\n');
    assert.equal(done.body.state, 'succeeded');
    const calls = h.marathon!.calls.filter((c) => c.path === '/v2/apps/theseus/default/storm' && c.method !== 'GET');
    assert.equal(calls.filter((c) => c.status === 409).length, 6);
    assert.equal(calls.filter((c) => c.status < 300).length, 1);
    assert.equal(h.marathon!.app('/theseus/default/storm')?.instances, 2);
  });

  test('a deployment Marathon reports failed (deployment_failed) fails the service with the reason', async () => {
    h.marathon!.hold((id) => id === '/theseus/default/superseded');
    const pending = await post('/deploy', 'deploy:\n  superseded: {image: nginx}\n');
    await (async () => {
      for (let i = 0; i < 200 && !h.marathon!.app('/theseus/default/superseded'); i++)
        await new Promise((r) => setTimeout(r, 10));
    })();
    h.marathon!.hold(() => false);
    // someone else forces a change: Marathon cancels our deployment and says so on the event bus
    const forced = await fetch(`${h.marathon!.url}/v2/apps/theseus/default/superseded?force=true`, {
      method: 'PATCH',
      body: JSON.stringify({ instances: 2 }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(forced.status, 200);
    const done = await request(h.url).get(`/deployments/${pending.body.id}?wait=true`).set(h.auth);
    assert.equal(done.body.state, 'failed');
    assert.match(done.body.steps[0].error.message, /failed: Deployment was cancelled by a forced change/);
  });

  test('without the event stream, polling /v2/deployments sees deployments through', async () => {
    const polling = await startHarness({ events: false, marathon: { script: () => ({ afterMs: 50 }) } });
    try {
      const res = await request(polling.url)
        .post('/deploy?wait=true')
        .set(polling.auth)
        .type('application/yaml')
        .send('deploy:\n  polled: {image: nginx}\n');
      assert.equal(res.body.state, 'succeeded');
      assert.ok(polling.marathon!.calls.some((c) => c.method === 'GET' && c.path === '/v2/deployments'));
    } finally {
      await polling.close();
    }
  });

  test('remove: deletes present apps and reports absent ones', async () => {
    await post('/deploy?wait=true', 'deploy:\n  gone: {image: nginx, labels: [old]}\n');
    const res = await post('/deploy?wait=true', 'remove:\n  gone: {labels: [old]}\n  never: {}\n');
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(
      res.body.steps.map((s: { action: string }) => s.action),
      ['delete', 'absent'],
    );
    assert.equal(h.marathon!.app('/theseus/default/gone--old'), undefined);
  });

  test('a deployment that never finishes fails after its deadline, with a hint', async () => {
    const slow = await startHarness({ marathon: { script: () => ({ until: 'TASK_STAGING' }) } });
    try {
      const res = await request(slow.url)
        .post('/deploy?wait=true')
        .set(slow.auth)
        .type('application/yaml')
        .send('deploy:\n  crashy: {image: nginx, deadline: 1, onFailure: keep}\n');
      assert.equal(res.body.state, 'failed');
      assert.match(res.body.steps[0].error.message, /did not finish within its deadline of 1 s/);
      assert.match(
        res.body.steps[0].error.hint ?? res.body.steps[0].error.message,
        /left as it is \(onFailure: keep\)/,
      );
      assert.equal(res.body.steps[0].failure.outcome, 'kept');
    } finally {
      await slow.close();
    }
  });
});

describe('services', () => {
  test('list with namespace and label filters; one service with tasks and host:port endpoints', async () => {
    await post(
      '/deploy?wait=true',
      'deploy:\n  shop:\n    - {image: shop, labels: [blue], ports: {http: 8080, admin: 9090}}\n    - {image: shop, labels: [green], namespace: staging}\n',
    );
    const all = await request(h.url).get('/services').set(h.auth);
    assert.ok(all.body.services.some((s: { service: string }) => s.service === 'shop'));
    const staging = await request(h.url).get('/services?namespace=staging').set(h.auth);
    assert.deepEqual(
      staging.body.services.map((s: { appId: string }) => s.appId),
      ['/theseus/staging/shop--green'],
    );
    const blue = await request(h.url).get('/services?labels=blue').set(h.auth);
    assert.deepEqual(
      blue.body.services.map((s: { appId: string }) => s.appId),
      ['/theseus/default/shop--blue'],
    );
    const one = await request(h.url).get('/services/shop?labels=blue').set(h.auth);
    assert.equal(one.status, 200);
    const [group] = one.body.groups;
    assert.equal(group.tasks.length, 1);
    assert.match(group.tasks[0].endpoints.http, /^127\.0\.0\.1:\d+$/);
    assert.match(group.tasks[0].endpoints.admin, /^127\.0\.0\.1:\d+$/);
    assert.equal(group.spec.environment.SERVICE_NAME, undefined);
    assert.equal((await request(h.url).get('/services/nope').set(h.auth)).status, 404);
  });

  test('scale, restart, rollback and delete go through the queue', async () => {
    await post('/deploy?wait=true', 'deploy:\n  ops: {image: ops:1}\n');
    await post('/deploy?wait=true', 'deploy:\n  ops: {image: ops:2}\n');
    const scale = await request(h.url).post('/services/ops/scale?wait=true').set(h.auth).send({ instances: 3 });
    assert.equal(scale.status, 200);
    assert.equal(scale.body.kind, 'scale');
    assert.equal(scale.body.state, 'succeeded');
    assert.equal(h.marathon!.app('/theseus/default/ops')?.instances, 3);

    const versionBefore = h.marathon!.app('/theseus/default/ops')!.version;
    const restart = await request(h.url).post('/services/ops/restart?wait=true').set(h.auth);
    assert.equal(restart.body.state, 'succeeded');
    assert.notEqual(h.marathon!.app('/theseus/default/ops')!.version, versionBefore);

    const rollback = await request(h.url).post('/services/ops/rollback?wait=true').set(h.auth).send({});
    assert.equal(rollback.body.state, 'succeeded');
    assert.equal(h.marathon!.app('/theseus/default/ops')!.container?.docker?.image, 'ops:1');

    const bad = await request(h.url).post('/services/ops/scale').set(h.auth).send({ instances: -2 });
    assert.equal(bad.status, 422);
    const missing = await request(h.url)
      .post('/services/ops/rollback')
      .set(h.auth)
      .send({ version: '1999-01-01T00:00:00.000Z' });
    assert.equal(missing.status, 404);

    const del = await request(h.url).delete('/services/ops?wait=true').set(h.auth);
    assert.equal(del.body.state, 'succeeded');
    assert.equal(h.marathon!.app('/theseus/default/ops'), undefined);
    assert.equal((await request(h.url).delete('/services/ops').set(h.auth)).status, 404);
  });

  test('a name with several label groups is ambiguous (409) until labels say which', async () => {
    await post('/deploy?wait=true', 'deploy:\n  twin:\n    - {image: a, labels: [x]}\n    - {image: a, labels: [y]}\n');
    const res = await request(h.url).post('/services/twin/scale').set(h.auth).send({ instances: 2 });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'AMBIGUOUS_SERVICE');
    const ok = await request(h.url).post('/services/twin/scale?labels=y&wait=true').set(h.auth).send({ instances: 2 });
    assert.equal(ok.body.state, 'succeeded');
    assert.equal(h.marathon!.app('/theseus/default/twin--y')?.instances, 2);
    assert.equal(h.marathon!.app('/theseus/default/twin--x')?.instances ?? 1, 1);
  });

  test('apps Theseus does not manage are never touched', async () => {
    await fetch(`${h.marathon!.url}/v2/apps`, {
      method: 'POST',
      body: JSON.stringify({ id: '/theseus/default/foreign', cmd: 'sleep 1', instances: 1 }),
      headers: { 'Content-Type': 'application/json' },
    });
    const res = await post('/deploy?wait=true', 'deploy:\n  foreign: {image: nginx}\n');
    assert.equal(res.body.state, 'failed');
    assert.match(res.body.steps[0].error.message, /not managed by Theseus/);
    assert.equal(h.marathon!.app('/theseus/default/foreign')?.cmd, 'sleep 1');
    assert.equal(h.marathon!.app('/theseus/default/foreign')?.labels?.[MARATHON_LABELS.managed], undefined);
  });
});

describe('deployments, health and description', () => {
  test('GET /deployments lists recent ones; an unknown id is 404; unknown routes are JSON 404', async () => {
    const list = await request(h.url).get('/deployments?limit=5').set(h.auth);
    assert.equal(list.status, 200);
    assert.ok(list.body.deployments.length > 0 && list.body.deployments.length <= 5);
    assert.equal((await request(h.url).get('/deployments/nope').set(h.auth)).status, 404);
    const unknown = await request(h.url).get('/nothing-here').set(h.auth);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
  });

  test('readyz reports Redis and Marathon; 503 when Marathon is down', async () => {
    const ready = await request(h.url).get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { redis: 'ok', marathon: 'ok' });
    const orphan = await startHarness({ marathonUrl: 'http://127.0.0.1:1', worker: false, events: false });
    try {
      const res = await request(orphan.url).get('/readyz');
      assert.equal(res.status, 503);
      assert.equal(res.body.checks.redis, 'ok');
      assert.notEqual(res.body.checks.marathon, 'ok');
      const list = await request(orphan.url).get('/services').set(orphan.auth);
      assert.equal(list.status, 503);
      assert.equal(list.body.error.code, 'MARATHON_UNAVAILABLE');
    } finally {
      await orphan.close();
    }
  });

  test('metrics count requests, deployments and Marathon call latency', async () => {
    const text = (await request(h.url).get('/metrics')).text;
    assert.match(text, /theseus_deployer_http_requests_total\{method="POST",route="\/deploy",status="202"\} \d+/);
    assert.match(text, /theseus_deployer_deployments_total\{kind="deploy",outcome="succeeded"\} \d+/);
    assert.match(text, /theseus_deployer_deployments_total\{kind="deploy",outcome="failed"\} \d+/);
    assert.match(
      text,
      /theseus_deployer_marathon_request_duration_seconds_count\{method="POST",operation="\/v2\/apps",outcome="ok"\} \d+/,
    );
  });

  test('JSON log lines carry the request id, from the request through the deploy job, and never the token', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logged = await startHarness({ logStream: stream });
    try {
      const res = await request(logged.url)
        .post('/deploy?wait=true')
        .set(logged.auth)
        .set('X-Request-Id', 'trace-42')
        .type('application/yaml')
        .send('deploy:\n  logged: {image: nginx}\n');
      assert.equal(res.body.state, 'succeeded');
    } finally {
      await logged.close();
    }
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const request_ = entries.find((e) => e.message === 'request' && e.requestId === 'trace-42');
    assert.equal(request_?.route, '/deploy');
    assert.equal(request_?.status, 200);
    const finished = entries.find((e) => e.message === 'deployment finished');
    assert.equal(finished?.requestId, 'trace-42');
    assert.equal(typeof finished?.deploymentId, 'string');
    assert.ok(!lines.some((l) => l.includes(TEST_TOKEN)), 'the token never reaches the log');
  });

  test('requests carry an id (given or generated) in the answer', async () => {
    const given = await request(h.url).get('/healthz').set('X-Request-Id', 'abc-123');
    assert.equal(given.headers['x-request-id'], 'abc-123');
    const made = await request(h.url).get('/healthz').set('X-Request-Id', 'bad id with spaces');
    assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('openapi.json describes every endpoint the API serves', async () => {
    const doc = (await request(h.url).get('/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    const described = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = [
      'POST /deploy',
      'GET /deployments',
      'GET /deployments/{id}',
      'GET /services',
      'GET /services/{name}',
      'DELETE /services/{name}',
      'POST /services/{name}/scale',
      'GET /services/{name}/versions',
      'GET /services/{name}/logs',
      'POST /services/{name}/restart',
      'POST /services/{name}/rollback',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /ui',
      'GET /ui/api/snapshot',
      'GET /ui/api/live',
    ];
    assert.deepEqual(described.sort(), served.sort());
    assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument())));
    assert.ok(doc.components.schemas.DeployDocument.properties.deploy);
  });
});
