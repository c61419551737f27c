// The images docker-images/build.sh makes here (from theseus/node:local, no registry) start and
// behave: `theseus` is the entrypoint under tini, they run as a non-root user, carry production
// code only, and the example services answer and stop cleanly on SIGTERM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

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
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function docker(...args: string[]): Promise<Result> {
  return run('docker', args, 120_000);
}

async function inspect(image: string): Promise<{ Id: string; Config: { User: string; Entrypoint: string[] | null; Cmd: string[] | null; Labels: Record<string, string>; Env: string[]; Healthcheck?: { Test: string[] } } }> {
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
      assert.ok(Config.Env.some((e) => e.startsWith('THESEUS_HEALTH_URL=http://127.0.0.1:' + server.port.split('/')[0])), 'health check aims at the part\'s port');

      const help = await docker('run', '--rm', '--label', RUN_LABEL, image, '--help');
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: theseus <command>/);
      assert.match(help.stdout, new RegExp(`\\n  ${server.command}\\s`));

      const uid = await docker('run', '--rm', '--label', RUN_LABEL, '--entrypoint', 'node', image, '-e', 'process.stdout.write(String(process.getuid()))');
      assert.equal(uid.stdout, '1000');
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
    const r = await docker('run', '--rm', '--label', RUN_LABEL, '--entrypoint', 'sh', image, '-c',
      'test -x "$MESOS_CONTAINERIZER_PATH" && cat "$(readlink -f "$MESOS_CONTAINERIZER_PATH")" && node --version && theseus --help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exec \/usr\/local\/bin\/node \/opt\/theseus\/bin\/theseus-containerizer\.js "\$@"/);
    assert.match(r.stdout, /^v2\d\./m);
    assert.match(r.stdout, /Usage: theseus <command>/);
    const entry = await docker('run', '--rm', '--label', RUN_LABEL, '--entrypoint', 'sh', image, '-c', 'ls /opt/theseus/node_modules/@theseus/containerizer/dist/index.js');
    assert.equal(entry.code, 0, 'the containerizer package is compiled into the image');
  });
});

describe('example images', () => {
  let echo = '';
  let pinger = '';
  before(async () => {
    echo = await build('example-echo');
    pinger = await build('example-pinger');
  });

  test('echo answers on its named port, runs node as the child of tini, and stops cleanly on SIGTERM', async () => {
    const started = await docker('run', '-d', '--label', RUN_LABEL, '-e', 'CONTAINER_PORT_HTTP=8000', '-e', 'SERVICE_NAME=echo',
      '-e', 'MESOS_TASK_ID=echo-test-task', '-p', '127.0.0.1::8000', echo);
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();

    // Ask only once it listens: docker-proxy accepts connections before the process inside does.
    let logs = '';
    for (let attempt = 0; attempt < 200 && !logs.includes('"msg":"listening"'); attempt++) {
      await new Promise((r) => setTimeout(r, 50));
      logs = (await docker('logs', id)).stdout;
    }
    assert.match(logs, /"msg":"listening","port":8000/);
    const published = (await docker('port', id, '8000/tcp')).stdout.trim().split('\n')[0]!;
    const body = (await (await fetch(`http://${published}/hello`)).json()) as { service?: string; instance?: string; path?: string };
    assert.deepEqual({ service: body?.service, instance: body?.instance, path: body?.path }, { service: 'echo', instance: 'echo-test-task', path: '/hello' });

    // PID 1 is tini; node is its child.
    const top = await docker('top', id, '-o', 'pid,ppid,args');
    const rows = top.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
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
    const r = await docker('run', '--rm', '--label', RUN_LABEL, '--workdir', '/app', '--entrypoint', 'node', pinger, '--input-type=module', '-e',
      "const h = await import('/app/examples/pinger/on-change.js'); const g = await import('@theseus/guestutils'); " +
      "console.log(typeof h.serviceChange, typeof g.getNodeList, typeof g.watchServices)");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function function');
  });
});

test('a second build of an up-to-date image changes nothing', async () => {
  const image = await build('subscriber');
  const before = (await inspect(image)).Id;
  const again = await run('bash', [BUILD, 'subscriber']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /theseus\/subscriber:local is up to date/);
  assert.equal((await inspect(image)).Id, before);
});
