/**
 * Attacks on the engine, each made against the real engine (`theseus engine` as a process, with its
 * defaults) and the real Docker Engine, and each refused; the legitimate form beside it still works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request as httpRequest, createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeGateway, docker } from '../support/platform.js';
import { THESEUS_BIN } from '../support/processes.js';

const run = randomUUID().slice(0, 8);

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(MARATHON_|ETCD_|REDIS_|THESEUS_|LOG_|ENGINE_)/.test(k)),
  );
  const start = 36000 + Math.floor(Math.random() * 200) * 100;
  return { ...clean, LOG_FORMAT: 'json', ENGINE_PORT_RANGE: `${start}-${start + 99}`, ...extra };
}

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface RunningEngine {
  child: ChildProcess;
  url: string;
  port: number;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

async function startEngine(args: string[], env: Record<string, string> = {}): Promise<RunningEngine> {
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-security-'));
  const child = spawn(process.execPath, [THESEUS_BIN, 'engine', '--port', '0', '--data-dir', dataDir, ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = await until('engine listening', () => {
    const line = output.split('\n').find((l) => l.includes('engine listening'));
    if (line) return (JSON.parse(line) as { url: string }).url;
    return child.exitCode !== null ? Promise.reject(new Error(output)) : undefined;
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    let engineId: string | undefined;
    try {
      engineId = (JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as { engineId: string }).engineId;
    } catch {
      engineId = undefined;
    }
    if (engineId) {
      const left = await docker.listContainers({ all: true, filters: { label: [`theseus.engine=${engineId}`] } });
      await Promise.all(
        left.map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { child, url, port: Number(new URL(url).port), dataDir, output: () => output, stop };
}

interface Answer {
  status: number;
  text: string;
  json: () => any;
}

/** One HTTP request with exactly these headers (Host included). */
function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; auth?: string } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    ...(body !== undefined
      ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
      : {}),
    ...(options.auth ? { authorization: `Basic ${Buffer.from(options.auth).toString('base64')}` } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function containerOf(taskId: string) {
  const [listed] = await docker.listContainers({ filters: { label: [`theseus.engine.task-id=${taskId}`] } });
  assert.ok(listed, `a container runs task ${taskId}`);
  return docker.getContainer(listed.Id).inspect();
}

const busybox = 'theseus/busybox:local';

describe('the engine with its defaults', () => {
  let engine: RunningEngine;
  let gateway: string;
  let allowed: string;
  let hanging: Server;
  before(async () => {
    gateway = await bridgeGateway();
    allowed = mkdtempSync(join(tmpdir(), 'theseus-allowed-'));
    symlinkSync('/etc', join(allowed, 'link'));
    mkdirSync(join(allowed, 'data'));
    hanging = createServer(() => {
      // never answers: a subscriber that is down
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
    engine = await startEngine([], {
      ENGINE_HOST_VOLUME_PATHS: join(allowed, 'data'),
      ENGINE_MAX_EVENT_SUBSCRIPTIONS: '2',
      ENGINE_EVENT_SUBSCRIPTION_TIMEOUT_MS: '300',
    });
  });
  after(async () => {
    try {
      const apps = (await call(engine.url, 'GET', '/v2/apps')).json().apps as Array<{ id: string }>;
      for (const app of apps) await call(engine.url, 'DELETE', `/v2/apps${app.id}?force=true`);
      await until('tasks gone', async () => (await call(engine.url, 'GET', '/v2/tasks')).json().tasks.length === 0);
    } finally {
      await engine.stop();
      hanging.closeAllConnections();
      hanging.close();
      rmSync(allowed, { recursive: true, force: true });
    }
  });

  it('listens on loopback only: not at the Docker bridge address, where containers would reach it', async () => {
    assert.equal(new URL(engine.url).hostname, '127.0.0.1');
    assert.equal(await connects('127.0.0.1', engine.port), true);
    assert.equal(await connects(gateway, engine.port), false, `nothing answers on ${gateway}:${engine.port}`);
  });

  it('runs `cmd` of an app with no container in the default image, the sandbox its working directory: the host is untouched', async () => {
    const hostFile = `/tmp/pwned-${run}`;
    const cmd = [
      `id > ${hostFile}`,
      `cp ${hostFile} pwned-copy`,
      'pwd > where',
      `wget -q -T 3 -O reach http://${gateway}:${engine.port}/v2/info; echo $? > reach-code`,
      'exec httpd -f -p $PORT0 -h .',
    ].join('; ');
    const created = await call(engine.url, 'POST', '/v2/apps', {
      body: { id: '/sec/pwned', cmd, cpus: 0.1, mem: 32, portDefinitions: [{ port: 0 }] },
    });
    assert.equal(created.status, 201, created.text);
    const task = await until('running', async () =>
      (await call(engine.url, 'GET', '/v2/apps/sec/pwned?embed=apps.tasks'))
        .json()
        .app.tasks?.find((t: { state: string }) => t.state === 'TASK_RUNNING'),
    );
    const port = task.ports[0] as number;
    const read = (file: string) =>
      fetch(`http://127.0.0.1:${port}/${file}`).then(
        (r) => (r.ok ? r.text() : undefined),
        () => undefined,
      );
    const code = await until('the container tried to reach the engine', () => read('reach-code'));
    assert.notEqual(code.trim(), '0', 'a container cannot reach the engine');
    assert.match((await read('pwned-copy')) ?? '', /^uid=/, 'the command ran');
    assert.equal(existsSync(hostFile), false, 'but not on the host');
    assert.equal((await read('where'))?.trim(), '/mnt/mesos/sandbox');
    assert.equal(
      readFileSync(join(engine.dataDir, 'sandboxes', task.id, 'where'), 'utf8').trim(),
      '/mnt/mesos/sandbox',
      "the sandbox is the task's directory on the host",
    );
    const container = await containerOf(task.id);
    assert.equal(container.Config.Image, busybox);
    assert.equal(container.HostConfig.NetworkMode, 'bridge', 'host networking is not given by default');
    await call(engine.url, 'DELETE', '/v2/apps/sec/pwned');
  });

  it('does not act on a cross-site simple POST (text/plain from another origin); a same-origin JSON POST works', async () => {
    const app = { id: '/sec/csrf', cmd: `id > /tmp/csrf-${run}`, cpus: 0.1, mem: 16, instances: 0 };
    const attack = await call(engine.url, 'POST', '/v2/apps', {
      body: JSON.stringify(app),
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
    });
    assert.ok(attack.status >= 400 && attack.status < 500, `${attack.status} ${attack.text}`);
    assert.equal((await call(engine.url, 'GET', '/v2/apps/sec/csrf')).status, 404, 'no app was created');
    const own = await call(engine.url, 'POST', '/v2/apps', {
      body: app,
      headers: { origin: new URL(engine.url).origin },
    });
    assert.equal(own.status, 201, own.text);
    await call(engine.url, 'DELETE', '/v2/apps/sec/csrf');
  });

  it('refuses requests for another host name (DNS rebinding); localhost and IP addresses work', async () => {
    const host = `rebind-${run}.example:${engine.port}`;
    const read = await call(engine.url, 'GET', '/v2/apps', { headers: { host } });
    assert.equal(read.status, 403);
    assert.match(read.json().message, /is not a name of this engine.*engine\.hostNames/);
    const write = await call(engine.url, 'POST', '/v2/apps', {
      body: { id: '/sec/rebind', cmd: 'true', instances: 0 },
      headers: { host },
    });
    assert.equal(write.status, 403);
    assert.equal((await call(engine.url, 'GET', '/v2/apps/sec/rebind')).status, 404);
    assert.equal(
      (await call(engine.url, 'GET', '/v2/apps', { headers: { host: `localhost:${engine.port}` } })).status,
      200,
    );
    assert.equal(
      (await call(engine.url, 'GET', '/v2/apps', { headers: { host: `127.0.0.1:${engine.port}` } })).status,
      200,
    );
  });

  it('mounts an allowlisted host path; `..` and symlinks leading out of the allowlist are refused', async () => {
    const volumeApp = (id: string, hostPath: string) => ({
      id,
      cpus: 0.1,
      mem: 16,
      backoffSeconds: 60,
      cmd: 'echo from-container > /mnt/host/written && exec sleep 600',
      container: {
        type: 'DOCKER',
        docker: { image: busybox },
        volumes: [{ containerPath: '/mnt/host', hostPath, mode: 'RW' }],
      },
    });
    const failure = (id: string) =>
      until(
        `${id} refused`,
        async () =>
          (await call(engine.url, 'GET', `/v2/apps${id}?embed=apps.lastTaskFailure`)).json().app.lastTaskFailure
            ?.message as string | undefined,
      );
    for (const [id, hostPath] of [
      ['/sec/vol-ok', join(allowed, 'data')],
      ['/sec/vol-dotdot', join(engine.dataDir, 'volumes') + '/../../../etc'],
      ['/sec/vol-up', join(allowed, 'data') + '/..'],
      ['/sec/vol-symlink', join(allowed, 'data', 'link')],
    ] as const) {
      if (id === '/sec/vol-symlink') symlinkSync('/etc', hostPath);
      const created = await call(engine.url, 'POST', '/v2/apps', { body: volumeApp(id, hostPath) });
      assert.equal(created.status, 201, created.text);
    }
    await until('written through the allowlisted mount', () => existsSync(join(allowed, 'data', 'written')));
    assert.equal(readFileSync(join(allowed, 'data', 'written'), 'utf8'), 'from-container\n');
    assert.match(await failure('/sec/vol-dotdot'), /host volumes are not allowed .*engine\.hostVolumePaths.*\/etc/);
    assert.match(await failure('/sec/vol-up'), /host volumes are not allowed .*engine\.hostVolumePaths/);
    assert.match(await failure('/sec/vol-symlink'), /host volumes are not allowed .*\(\/etc\)/);
    assert.equal(existsSync('/etc/written'), false);
    for (const id of ['/sec/vol-ok', '/sec/vol-dotdot', '/sec/vol-up', '/sec/vol-symlink'])
      await call(engine.url, 'DELETE', `/v2/apps${id}?force=true`);
  });

  it("keeps a persistent volume inside its task's own directory: `../<other task>` is refused", async () => {
    const app = (containerPath: string) => ({
      id: '/sec/persistent',
      cpus: 0.1,
      mem: 16,
      instances: 0,
      container: {
        type: 'DOCKER',
        docker: { image: busybox },
        volumes: [{ containerPath, mode: 'RW', persistent: { size: 1 } }],
      },
    });
    const escape = await call(engine.url, 'POST', '/v2/apps', { body: app('../other-task') });
    assert.equal(escape.status, 422, escape.text);
    assert.deepEqual(escape.json().details, [
      {
        path: '/container/volumes(0)/containerPath',
        errors: ['"../other-task" leaves the task\'s own volume directory'],
      },
    ]);
    const relative = await call(engine.url, 'POST', '/v2/apps', {
      body: {
        ...app('data'),
        container: {
          type: 'DOCKER',
          docker: { image: busybox },
          volumes: [{ containerPath: '/data', hostPath: 'x/../../other-task', mode: 'RW' }],
        },
      },
    });
    assert.equal(relative.status, 422, relative.text);
    const fine = await call(engine.url, 'POST', '/v2/apps', { body: app('data') });
    assert.equal(fine.status, 201, fine.text);
    await call(engine.url, 'DELETE', '/v2/apps/sec/persistent');
  });

  it('applies allowed Docker parameters, refuses the others naming the parameter and the setting; `user` and privileged are refused at launch', async () => {
    const app = (
      id: string,
      parameters: Array<{ key: string; value: string }>,
      extra: Record<string, unknown> = {},
    ) => ({
      id,
      cpus: 0.1,
      mem: 16,
      backoffSeconds: 60,
      cmd: 'exec sleep 600',
      container: { type: 'DOCKER', docker: { image: busybox, parameters, ...extra } },
    });
    for (const [key, value, expected] of [
      [
        'privileged',
        'true',
        /parameter "privileged": privileged containers are not allowed by this engine \(engine\.allowPrivileged/,
      ],
      [
        'net',
        'host',
        /parameter "net": the host's network namespace is not allowed by this engine \(engine\.allowHostNetwork/,
      ],
      ['u', '0', /parameter "u": choosing the container user is not allowed by this engine \(engine\.allowUser/],
      ['cap-add', 'ALL', /parameter "cap-add" is not supported by this engine/],
      ['volume', '/etc:/host-etc', undefined],
    ] as const) {
      const answer = await call(engine.url, 'POST', '/v2/apps', { body: app(`/sec/param-${key}`, [{ key, value }]) });
      if (expected) {
        assert.equal(answer.status, 422, answer.text);
        assert.equal(answer.json().details[0].path, '/container/docker/parameters(0)');
        assert.match(answer.json().details[0].errors[0], expected);
      } else {
        // a volume parameter is a host path like any other: refused at launch outside the allowlist
        assert.equal(answer.status, 201, answer.text);
        const failed = await until(
          'refused',
          async () =>
            (await call(engine.url, 'GET', `/v2/apps/sec/param-${key}?embed=apps.lastTaskFailure`)).json().app
              .lastTaskFailure?.message as string | undefined,
        );
        assert.match(failed, /host volumes are not allowed .*\/etc/);
        await call(engine.url, 'DELETE', `/v2/apps/sec/param-${key}?force=true`);
      }
    }
    for (const [id, extra, expected] of [
      ['/sec/user', { user: 'root' }, /choosing the user \(root\) is not allowed by this engine \(engine\.allowUser/],
      [
        '/sec/privileged',
        { container: { type: 'DOCKER', docker: { image: busybox, privileged: true } } },
        /privileged containers are not allowed by this engine \(engine\.allowPrivileged/,
      ],
    ] as const) {
      const answer = await call(engine.url, 'POST', '/v2/apps', { body: { ...app(id, []), ...extra } });
      assert.equal(answer.status, 201, answer.text);
      const failed = await until(
        'refused',
        async () =>
          (await call(engine.url, 'GET', `/v2/apps${id}?embed=apps.lastTaskFailure`)).json().app.lastTaskFailure
            ?.message as string | undefined,
      );
      assert.match(failed, expected);
      await call(engine.url, 'DELETE', `/v2/apps${id}?force=true`);
    }
    const fine = await call(engine.url, 'POST', '/v2/apps', {
      body: app('/sec/param-ok', [
        { key: 'env', value: 'FROM_PARAMETER=yes' },
        { key: 'label', value: 'from.parameter=yes' },
        { key: 'workdir', value: '/tmp' },
      ]),
    });
    assert.equal(fine.status, 201, fine.text);
    const task = await until('running', async () =>
      (await call(engine.url, 'GET', '/v2/apps/sec/param-ok?embed=apps.tasks'))
        .json()
        .app.tasks?.find((t: { state: string }) => t.state === 'TASK_RUNNING'),
    );
    const container = await containerOf(task.id);
    assert.ok(container.Config.Env.includes('FROM_PARAMETER=yes'));
    assert.equal(container.Config.Labels['from.parameter'], 'yes');
    assert.equal(container.Config.WorkingDir, '/tmp');
    await call(engine.url, 'DELETE', '/v2/apps/sec/param-ok');
  });

  it('caps event subscriptions; a subscriber that stays down has its events dropped with a log line that keeps its password out', async () => {
    const down = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/events`;
    const secret = `s3cret-${run}`;
    const closed = `http://sub:${secret}@127.0.0.1:9/events`;
    for (const url of [down, closed])
      assert.equal(
        (await call(engine.url, 'POST', `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(url)}`)).status,
        200,
      );
    const third = await call(
      engine.url,
      'POST',
      `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent('http://127.0.0.1:9/third')}`,
    );
    assert.equal(third.status, 422, third.text);
    assert.match(third.json().message, /at most 2 event subscriptions \(engine\.maxEventSubscriptions/);
    assert.deepEqual((await call(engine.url, 'GET', '/v2/eventSubscriptions')).json().callbackUrls, [down, closed]);
    assert.equal(
      (
        await call(engine.url, 'POST', '/v2/apps', {
          body: { id: '/sec/events', cmd: 'true', cpus: 0.1, mem: 16, instances: 0 },
        })
      ).status,
      201,
    );
    const dropped = (url: string) =>
      engine
        .output()
        .split('\n')
        .find((l) => l.includes('event subscriber does not answer') && l.includes(url));
    await until('both subscribers given up on', () => dropped(down) && dropped('127.0.0.1:9/events'));
    assert.doesNotMatch(engine.output(), new RegExp(secret), "the callback URL's password is never logged");
    for (const url of [down, closed])
      assert.equal(
        (await call(engine.url, 'DELETE', `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(url)}`)).status,
        200,
      );
    assert.equal(
      (await call(engine.url, 'POST', `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(down)}`)).status,
      200,
      'room again once one is removed',
    );
    await call(engine.url, 'DELETE', `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(down)}`);
  });
});

describe('the engine on a non-loopback address', () => {
  it('refuses to start without credentials, in one line', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-security-'));
    try {
      const result = spawnSync(
        process.execPath,
        [THESEUS_BIN, 'engine', '--port', '0', '--data-dir', dataDir, '--listen', '0.0.0.0'],
        { env: cleanEnv({}), encoding: 'utf8', timeout: 30_000 },
      );
      assert.equal(result.status, 1, result.stderr);
      assert.match(
        result.stderr,
        /listen on 0\.0\.0\.0, which is not a loopback address, without credentials.*MARATHON_CREDENTIALS/,
      );
      assert.doesNotMatch(result.stderr, /\n\s+at /);
      assert.equal(existsSync(join(dataDir, 'state.json')), false, 'nothing was started');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('with credentials: answers at a non-loopback address, a wrong password gets 401, event subscriptions need the credentials too', async () => {
    const credentials = `sec:${randomUUID()}`;
    const engine = await startEngine(['--listen', '0.0.0.0'], { MARATHON_CREDENTIALS: credentials });
    try {
      const gateway = await bridgeGateway();
      const at = `http://${gateway}:${engine.port}`;
      assert.equal((await call(at, 'GET', '/v2/apps', { auth: credentials })).status, 200);
      assert.equal((await call(at, 'GET', '/v2/apps')).status, 401);
      const wrong = await call(at, 'GET', '/v2/apps', { auth: `${credentials}x` });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json().message, 'Invalid username or password.');
      assert.equal((await call(at, 'GET', '/v2/apps', { auth: credentials.slice(0, -1) })).status, 401);
      assert.equal(
        (await call(at, 'POST', '/v2/apps', { body: { id: '/sec/noauth', cmd: 'true', instances: 0 } })).status,
        401,
      );
      const sub = `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent('http://127.0.0.1:9/x')}`;
      assert.equal((await call(at, 'POST', sub)).status, 401);
      assert.equal((await call(at, 'POST', sub, { auth: `${credentials}x` })).status, 401);
      assert.deepEqual(
        (await call(at, 'GET', '/v2/eventSubscriptions', { auth: credentials })).json().callbackUrls,
        [],
        'no subscription was made',
      );
      assert.equal((await call(at, 'POST', sub, { auth: credentials })).status, 200);
      assert.equal((await call(at, 'DELETE', sub, { auth: credentials })).status, 200);
      assert.equal((await call(at, 'GET', '/ping')).status, 200, '/ping stays open for health checks');
      assert.doesNotMatch(engine.output(), new RegExp(credentials.split(':')[1]!), 'the password is never logged');
    } finally {
      await engine.stop();
    }
  });
});

describe("the engine's own checks of Host names", () => {
  it('accepts a configured name', async () => {
    const name = `engine-${run}.test`;
    const engine = await startEngine([], { ENGINE_HOST_NAMES: name });
    try {
      assert.equal(
        (await call(engine.url, 'GET', '/v2/info', { headers: { host: `${name}:${engine.port}` } })).status,
        200,
      );
      assert.equal(
        (await call(engine.url, 'GET', '/v2/info', { headers: { host: `other-${name}:${engine.port}` } })).status,
        403,
      );
    } finally {
      await engine.stop();
    }
  });
});
