// The images docker-images/build.sh makes here (from theseus/node:local, no registry) start and
// behave: `theseus` is the entrypoint under tini, they run as a non-root user, carry production
// code only, and the example services answer and stop cleanly on SIGTERM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import {
  createEtcdClient,
  discoveryEnv,
  encodeEndpointRecord,
  EtcdLayout,
  readDeployDocument,
  type EndpointRecord,
} from '@theseus/services';
import { freePort } from './support/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD = 'docker-images/build.sh';
const TAG = process.env.THESEUS_IMAGE_TAG ?? 'local';
const RUN_LABEL = `io.theseus.test-run=images-${randomUUID().slice(0, 8)}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 600_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function docker(...args: string[]): Promise<Result> {
  return run('docker', args, 120_000);
}

async function inspect(image: string): Promise<{
  Id: string;
  Config: {
    User: string;
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    Labels: Record<string, string>;
    Env: string[];
    Healthcheck?: { Test: string[] };
  };
}> {
  const r = await docker('image', 'inspect', image);
  assert.equal(r.code, 0, `image ${image} is missing: ${r.stderr}`);
  return (JSON.parse(r.stdout) as never[])[0]!;
}

/** Builds one image (reusing it when up to date); the build's own output explains a failure. */
async function build(name: string): Promise<string> {
  const r = await run('bash', [BUILD, name]);
  assert.equal(r.code, 0, `build.sh ${name} failed:\n${r.stderr.split('\n').slice(-25).join('\n')}`);
  return `theseus/${name}:${TAG}`;
}

async function waitForLog(id: string, pattern: RegExp): Promise<string> {
  let logs = '';
  for (let attempt = 0; attempt < 400 && !pattern.test(logs); attempt++) {
    await new Promise((r) => setTimeout(r, 50));
    const r = await docker('logs', id);
    logs = r.stdout + r.stderr;
  }
  assert.match(logs, pattern);
  return logs;
}

after(async () => {
  const ids = (await docker('ps', '-aq', '--filter', `label=${RUN_LABEL}`)).stdout.split(/\s+/).filter(Boolean);
  if (ids.length) await docker('rm', '-f', ...ids);
});

const SERVERS = [
  { name: 'deployer', role: 'deployer', command: 'deployer', port: '5000/tcp' },
  { name: 'subscriber', role: 'subscriber', command: 'subscriber', port: '5001/tcp' },
  { name: 'engine', role: 'engine', command: 'engine', port: '8080/tcp' },
];

for (const server of SERVERS) {
  describe(`theseus/${server.name}`, () => {
    let image = '';
    before(async () => {
      image = await build(server.name);
    });

    test('runs `theseus` under tini as the unprivileged user node, the part as its default command', async () => {
      const { Config } = await inspect(image);
      assert.deepEqual(Config.Entrypoint, ['/sbin/tini', '--', 'node', '/app/bin/theseus.js']);
      assert.deepEqual(Config.Cmd, [server.command]);
      assert.equal(Config.User, 'node');
      assert.equal(Config.Labels['io.theseus.role'], server.role);
      assert.match(Config.Labels['io.theseus.source-digest'] ?? '', /^[0-9a-f]{16}$/);
      assert.ok(Config.Healthcheck?.Test.length, 'has a HEALTHCHECK');
      assert.ok(
        Config.Env.some((e) => e.startsWith('THESEUS_HEALTH_URL=http://127.0.0.1:' + server.port.split('/')[0])),
        "health check aims at the part's port",
      );

      const help = await docker('run', '--rm', '--label', RUN_LABEL, image, '--help');
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: theseus <command>/);
      assert.match(help.stdout, new RegExp(`\\n  ${server.command}\\s`));

      const uid = await docker(
        'run',
        '--rm',
        '--label',
        RUN_LABEL,
        '--entrypoint',
        'node',
        image,
        '-e',
        'process.stdout.write(String(process.getuid()))',
      );
      assert.equal(uid.stdout, '1000');

      // The part's own module graph loads from the production dependencies alone, with the flag the
      // compose file and the systemd units use.
      const own = await docker('run', '--rm', '--label', RUN_LABEL, image, server.command, '--help');
      assert.equal(own.code, 0, own.stdout + own.stderr);
      assert.match(own.stdout, new RegExp(`^Usage: theseus ${server.command} `));
      assert.match(own.stdout, /--port <port>/);
    });

    test('carries compiled JavaScript and production dependencies only', async () => {
      const probe = [
        "const fs = require('node:fs'), path = require('node:path');",
        'const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);',
        "const ours = ['services', 'containerizer', 'guestutils', 'subscriber', 'deployer', 'cluster'].flatMap((w) => fs.existsSync('/app/' + w + '/dist') ? walk('/app/' + w + '/dist') : []);",
        "const dev = ['typescript', 'tsx', 'supertest', 'playwright-core'].filter((p) => fs.existsSync('/app/node_modules/' + p));",
        "console.log(JSON.stringify({ js: ours.filter((f) => f.endsWith('.js')).length, other: ours.filter((f) => !f.endsWith('.js')), tests: ours.filter((f) => f.includes('.test.')), dev }));",
      ].join('\n');
      const r = await docker('run', '--rm', '--label', RUN_LABEL, '--entrypoint', 'node', image, '-e', probe);
      assert.equal(r.code, 0, r.stderr);
      const found = JSON.parse(r.stdout) as { js: number; other: string[]; tests: string[]; dev: string[] };
      assert.ok(found.js > 0, 'compiled JavaScript present');
      assert.deepEqual(found.other, [], 'no TypeScript, declarations or maps');
      assert.deepEqual(found.tests, [], 'no test files');
      assert.deepEqual(found.dev, [], 'no dev dependencies');
    });
  });
}

test("from their images: the engine (user node, the socket's group added) reaches Docker, the subscriber follows it into etcd, the deployer gets ready on Redis; all pass their health checks", async () => {
  const engine = await build('engine');
  const subscriber = await build('subscriber');
  const deployer = await build('deployer');
  const healthCommand = async (id: string) => {
    const { Config } = await inspect((await docker('inspect', '-f', '{{.Image}}', id)).stdout.trim());
    return docker('exec', id, ...Config.Healthcheck!.Test.slice(1));
  };
  const socketGroup = (await run('stat', ['-c', '%g', '/var/run/docker.sock'])).stdout.trim();
  const credentials = `test:${randomUUID()}`;
  const refused = await docker('run', '--rm', '--label', RUN_LABEL, engine);
  assert.notEqual(refused.code, 0, 'the engine image does not start without credentials');
  assert.match(refused.stderr, /not a loopback address, without credentials/);
  const started = await docker(
    'run',
    '-d',
    '--label',
    RUN_LABEL,
    '--group-add',
    socketGroup,
    '-v',
    '/var/run/docker.sock:/var/run/docker.sock',
    '-e',
    `MARATHON_CREDENTIALS=${credentials}`,
    '-p',
    '127.0.0.1::8080',
    engine,
  );
  assert.equal(started.code, 0, started.stderr);
  const engineId = started.stdout.trim();
  const logs = await waitForLog(engineId, /"message":"engine listening"/);
  assert.match(logs, /"docker":true/, 'the engine reaches the Docker Engine as user node');
  assert.equal((await healthCommand(engineId)).code, 0, "the engine's HEALTHCHECK passes");
  const enginePort = (await docker('port', engineId, '8080/tcp')).stdout.trim().split('\n')[0]!.split(':').pop()!;

  const port = await freePort();
  const prefix = `/test-images-${randomUUID().slice(0, 8)}`;
  const sub = await docker(
    'run',
    '-d',
    '--label',
    RUN_LABEL,
    '--network',
    'host',
    '-e',
    `MARATHON_URL=http://127.0.0.1:${enginePort}`,
    '-e',
    `MARATHON_CREDENTIALS=${credentials}`,
    '-e',
    `ETCD_ENDPOINTS=${process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379'}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${prefix}`,
    '-e',
    `THESEUS_HEALTH_URL=http://127.0.0.1:${port}/healthz`,
    subscriber,
    'subscriber',
    '--port',
    String(port),
  );
  assert.equal(sub.code, 0, sub.stderr);
  const subId = sub.stdout.trim();
  let ready = 0;
  for (let attempt = 0; attempt < 200 && ready !== 200; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
  }
  assert.equal(
    ready,
    200,
    `the subscriber is ready (attached to the engine's events, etcd answers):\n${(await docker('logs', subId)).stderr.slice(-2000)}`,
  );
  assert.equal((await healthCommand(subId)).code, 0, "the subscriber's HEALTHCHECK passes");

  const deployerPort = await freePort();
  const dep = await docker(
    'run',
    '-d',
    '--label',
    RUN_LABEL,
    '--network',
    'host',
    '-e',
    `MARATHON_URL=http://127.0.0.1:${enginePort}`,
    '-e',
    `MARATHON_CREDENTIALS=${credentials}`,
    '-e',
    `REDIS_URL=${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}`,
    '-e',
    `THESEUS_QUEUE_PREFIX=test-images-${randomUUID().slice(0, 8)}`,
    '-e',
    `THESEUS_API_TOKEN=${randomUUID()}`,
    '-e',
    `ETCD_ENDPOINTS=${process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379'}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${prefix}`,
    '-e',
    `THESEUS_HEALTH_URL=http://127.0.0.1:${deployerPort}/healthz`,
    deployer,
    'deployer',
    '--port',
    String(deployerPort),
  );
  assert.equal(dep.code, 0, dep.stderr);
  const depId = dep.stdout.trim();
  ready = 0;
  for (let attempt = 0; attempt < 200 && ready !== 200; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await fetch(`http://127.0.0.1:${deployerPort}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
  }
  assert.equal(
    ready,
    200,
    `the deployer is ready (Redis and Marathon reachable):\n${(await docker('logs', depId)).stderr.slice(-2000)}`,
  );
  assert.equal((await healthCommand(depId)).code, 0, "the deployer's HEALTHCHECK passes");
  // Mutations need the token.
  const unauthorized = await fetch(`http://127.0.0.1:${deployerPort}/deploy`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: 'deploy: {}',
  });
  assert.equal(unauthorized.status, 401);
});

describe('theseus/mesos-slave (local variant)', () => {
  let image = '';
  before(async () => {
    image = await build('mesos-slave');
  });

  test('points mesos-slave at the containerizer program, which it carries with node', async () => {
    const { Config } = await inspect(image);
    const env = Object.fromEntries(Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    assert.equal(env.MESOS_CONTAINERIZERS, 'external');
    assert.equal(env.MESOS_CONTAINERIZER_PATH, '/usr/local/bin/theseus-containerizer');
    assert.equal(Config.Labels['io.theseus.role'], 'mesos-slave');

    // The slave runs `sh -c "<containerizer_path> <subcommand>"`: the path must be an executable
    // that reaches the containerizer's entry point through node.
    const r = await docker(
      'run',
      '--rm',
      '--label',
      RUN_LABEL,
      '--entrypoint',
      'sh',
      image,
      '-c',
      'test -x "$MESOS_CONTAINERIZER_PATH" && cat "$(readlink -f "$MESOS_CONTAINERIZER_PATH")" && node --version && theseus --help',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exec \/usr\/local\/bin\/node \/opt\/theseus\/bin\/theseus-containerizer\.js "\$@"/);
    assert.match(r.stdout, /^v2\d\./m);
    assert.match(r.stdout, /Usage: theseus <command>/);
  });

  test("the containerizer answers the slave's `containers` call through the Docker socket", async () => {
    // A fresh slave has launched nothing: the answer is one framed, empty Containers record.
    const r = await docker(
      'run',
      '--rm',
      '--label',
      RUN_LABEL,
      '-v',
      '/var/run/docker.sock:/var/run/docker.sock',
      '-e',
      'MESOS_WORK_DIRECTORY=/var/lib/mesos',
      '--entrypoint',
      'sh',
      image,
      '-c',
      '"$MESOS_CONTAINERIZER_PATH" containers >/tmp/answer && od -An -tx1 /tmp/answer',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '00 00 00 00');
    // Without the Engine it must fail rather than answer "no containers" (the slave would drop its tasks).
    const down = await docker(
      'run',
      '--rm',
      '--label',
      RUN_LABEL,
      '-e',
      'MESOS_WORK_DIRECTORY=/var/lib/mesos',
      '--entrypoint',
      'sh',
      image,
      '-c',
      '"$MESOS_CONTAINERIZER_PATH" containers >/tmp/answer; echo "exit=$?"; od -An -tx1 /tmp/answer',
    );
    assert.match(down.stdout, /exit=[1-9]/);
    assert.doesNotMatch(down.stdout, /00 00 00 00/);
  });
});

describe('example images', () => {
  let echo = '';
  let pinger = '';
  before(async () => {
    echo = await build('example-echo');
    pinger = await build('example-pinger');
  });

  test('examples/deploy.yaml is a valid deploy document for these images, and remove.yaml removes what it and examples/lb deploy', async () => {
    const doc = readDeployDocument(readFileSync(`${ROOT}/examples/deploy.yaml`, 'utf8'), 'yaml');
    const removal = readDeployDocument(readFileSync(`${ROOT}/examples/remove.yaml`, 'utf8'), 'yaml');
    const buildable = (await run('bash', [BUILD, '--list'])).stdout.trim().split('\n');
    assert.deepEqual(doc.deploy.map((s) => s.service).sort(), ['echo', 'pinger']);
    for (const service of doc.deploy) {
      assert.ok(buildable.includes(service.image.replace(/:local$/, '')), `${service.image} is made by build.sh`);
      assert.ok(
        service.instances >= 1 && service.ports.some((p) => p.name === 'http'),
        `${service.service} has instances and a port named http`,
      );
    }
    // npm run up deploys examples/lb/deploy.yaml too; npm run down removes all of them.
    const lb = readDeployDocument(readFileSync(`${ROOT}/examples/lb/deploy.yaml`, 'utf8'), 'yaml');
    assert.deepEqual(
      removal.remove.map((r) => [r.service, r.labels]).sort(),
      [...doc.deploy, ...lb.deploy].map((s) => [s.service, s.labels]).sort(),
    );
    const handler = doc.deploy.find((s) => s.service === 'pinger')!.environment.WATCH_HANDLER!;
    const r = await docker(
      'run',
      '--rm',
      '--label',
      RUN_LABEL,
      '--entrypoint',
      'node',
      pinger,
      '-e',
      `require('fs').accessSync(${JSON.stringify(handler)})`,
    );
    assert.equal(r.code, 0, `WATCH_HANDLER ${handler} is in the pinger image: ${r.stderr}`);
  });

  test('echo listens where the deploy document says, runs node as the child of tini, and stops cleanly on SIGTERM', async () => {
    // The environment the deployer gives the echo service of examples/deploy.yaml.
    const spec = readDeployDocument(readFileSync(`${ROOT}/examples/deploy.yaml`, 'utf8'), 'yaml').deploy.find(
      (s) => s.service === 'echo',
    )!;
    const env = discoveryEnv({
      namespace: spec.namespace,
      service: spec.service,
      labels: spec.labels,
      etcdEndpoints: ['http://127.0.0.1:2379'],
      etcdPrefix: '/theseus',
      ports: spec.ports.map((p) => ({ name: p.name, containerPort: p.containerPort })),
    });
    const port = spec.ports.find((p) => p.name === 'http')!.containerPort;
    const started = await docker(
      'run',
      '-d',
      '--label',
      RUN_LABEL,
      ...Object.entries({ ...env, ...spec.environment, MESOS_TASK_ID: 'echo-test-task' }).flatMap(([k, v]) => [
        '-e',
        `${k}=${v}`,
      ]),
      '-p',
      `127.0.0.1::${port}`,
      echo,
    );
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();

    // Ask only once it listens: docker-proxy accepts connections before the process inside does.
    await waitForLog(id, new RegExp(`"msg":"listening","port":${port}`));
    const published = (await docker('port', id, `${port}/tcp`)).stdout.trim().split('\n')[0]!;
    const body = (await (await fetch(`http://${published}/hello`)).json()) as {
      service?: string;
      instance?: string;
      path?: string;
      greeting?: string;
    };
    assert.deepEqual(
      { service: body?.service, instance: body?.instance, path: body?.path, greeting: body?.greeting },
      { service: 'echo', instance: 'echo-test-task', path: '/hello', greeting: spec.environment.GREETING },
    );

    // PID 1 is tini; node is its child.
    const top = await docker('top', id, '-o', 'pid,ppid,args');
    const rows = top.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    const tini = rows.find((r) => r[2] === '/sbin/tini');
    const node = rows.find((r) => r[2] === 'node');
    assert.ok(tini && node, `tini and node in:\n${top.stdout}`);
    assert.equal(node![1], tini![0], 'node is the child of tini');

    // SIGTERM reaches node through tini and it exits 0 (a SIGKILL after the grace period would be 137).
    await docker('stop', '-t', '60', id);
    const exit = await docker('inspect', '-f', '{{.State.ExitCode}}', id);
    assert.equal(exit.stdout.trim(), '0');
  });

  test('the pinger carries guestutils and the handler module `theseus watch` loads', async () => {
    const { Config } = await inspect(pinger);
    assert.deepEqual(Config.Entrypoint, ['/sbin/tini', '--', 'node', '/app/example/main.js']);
    assert.equal(Config.User, 'node');
    assert.equal(Config.Labels['io.theseus.example'], 'pinger');
    const r = await docker(
      'run',
      '--rm',
      '--label',
      RUN_LABEL,
      '--workdir',
      '/app',
      '--entrypoint',
      'node',
      pinger,
      '--input-type=module',
      '-e',
      "const h = await import('/app/examples/pinger/on-change.js'); const g = await import('@theseus/guestutils'); " +
        'console.log(typeof h.serviceChange, typeof g.getNodeList, typeof g.watchServices)',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function function');
  });
});

test('the pinger finds every echo instance through etcd, calls each one, and its watcher logs the changes', async () => {
  const echo = await build('example-echo');
  const pinger = await build('example-pinger');
  const etcdEndpoints = process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379';
  const prefix = `/test-images-${randomUUID().slice(0, 8)}`;
  const layout = new EtcdLayout(prefix);
  const etcd = createEtcdClient({ endpoints: etcdEndpoints.split(',') });
  // The local etcd listens on 127.0.0.1, so these containers share the host's network.
  const discoveryEnv = [
    '-e',
    `ETCD_ENDPOINTS=${etcdEndpoints}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${prefix}`,
    '-e',
    'ENVIRONMENT_NAME=default',
  ];
  const record = (taskId: string, port: number): EndpointRecord => ({
    v: 1,
    cluster: 'test',
    namespace: 'default',
    service: 'echo',
    labels: ['demo'],
    appId: '/theseus/default/echo',
    taskId,
    appVersion: '2026-01-01T00:00:00.000Z',
    host: '127.0.0.1',
    ipAddresses: [],
    ports: { http: { host: port, container: port, protocol: 'tcp' } },
    healthy: null,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  });
  try {
    const echoes: Array<{ taskId: string; port: number }> = [];
    for (const taskId of ['echo.instance-a', 'echo.instance-b']) {
      const port = await freePort();
      const r = await docker(
        'run',
        '-d',
        '--label',
        RUN_LABEL,
        '--network',
        'host',
        '-e',
        `CONTAINER_PORT_HTTP=${port}`,
        '-e',
        'SERVICE_NAME=echo',
        '-e',
        `MESOS_TASK_ID=${taskId}`,
        echo,
      );
      assert.equal(r.code, 0, r.stderr);
      await waitForLog(r.stdout.trim(), new RegExp(`"msg":"listening","port":${port}`));
      echoes.push({ taskId, port });
    }
    // What the subscriber would write for the first instance; the second appears later.
    await etcd
      .put(layout.endpoint('default', 'echo', echoes[0]!.taskId))
      .value(encodeEndpointRecord(record(echoes[0]!.taskId, echoes[0]!.port)));

    const statusPort = await freePort();
    const started = await docker(
      'run',
      '-d',
      '--label',
      RUN_LABEL,
      '--network',
      'host',
      ...discoveryEnv,
      '-e',
      'SERVICE_NAME=pinger',
      '-e',
      `CONTAINER_PORT_HTTP=${statusPort}`,
      '-e',
      'TARGET_LABELS=demo',
      '-e',
      'PING_INTERVAL_MS=200',
      pinger,
    );
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();
    await waitForLog(id, /"msg":"watching"/);

    type Status = {
      rounds: number;
      lastRound: { nodes: string[]; results: Array<{ address: string; ok: boolean; instance: string | null }> } | null;
      changes: Array<{ added: string[]; removed: string[] }>;
    };
    const status = async (): Promise<Status> =>
      (await (await fetch(`http://127.0.0.1:${statusPort}/status`)).json()) as Status;
    const until = async (what: string, ok: (s: Status) => boolean): Promise<Status> => {
      let last = await status();
      for (let attempt = 0; attempt < 300 && !ok(last); attempt++) {
        await new Promise((r) => setTimeout(r, 100));
        last = await status();
      }
      assert.ok(ok(last), `${what}; last status: ${JSON.stringify(last)}`);
      return last;
    };
    const reached = (s: Status) =>
      (s.lastRound?.results ?? [])
        .filter((r) => r.ok)
        .map((r) => r.instance)
        .sort();

    let seen = await until('the first instance is called', (s) => reached(s).join() === 'echo.instance-a');
    assert.deepEqual(seen.lastRound?.nodes, [`127.0.0.1:${echoes[0]!.port}`]);
    await until(
      'the watcher reported the running instance',
      (s) =>
        s.changes[0]?.added.some((a) => a.startsWith(`echo.instance-a 127.0.0.1 http=${echoes[0]!.port}`)) ?? false,
    );

    await etcd
      .put(layout.endpoint('default', 'echo', echoes[1]!.taskId))
      .value(encodeEndpointRecord(record(echoes[1]!.taskId, echoes[1]!.port)));
    seen = await until('both instances are called', (s) => reached(s).join() === 'echo.instance-a,echo.instance-b');
    await until('the watcher logged the new instance', (s) =>
      s.changes.some((c) => c.added.some((a) => a.startsWith('echo.instance-b '))),
    );

    await etcd.delete().key(layout.endpoint('default', 'echo', echoes[0]!.taskId));
    seen = await until('the removed instance is no longer called', (s) => reached(s).join() === 'echo.instance-b');
    await until('the watcher logged the removal', (s) =>
      s.changes.some((c) => c.removed.some((a) => a.startsWith('echo.instance-a '))),
    );
    const logs = (await docker('logs', id)).stdout;
    assert.match(logs, /"msg":"service changed".*"removed":\["echo\.instance-a /);
  } finally {
    await etcd.delete().prefix(prefix);
    etcd.close();
  }
});

test('a second build of an up-to-date image changes nothing', async () => {
  const image = await build('subscriber');
  const before = (await inspect(image)).Id;
  const again = await run('bash', [BUILD, 'subscriber']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /theseus\/subscriber:local is up to date/);
  assert.equal((await inspect(image)).Id, before);
});
