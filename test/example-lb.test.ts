// The load balancer example (examples/lb): HAProxy in an image assembled from Debian's packages,
// its configuration rendered by theseus-guest from the healthy endpoints in the real etcd, reloaded
// gracefully when they change. Backends are busybox httpd containers; a busybox client calls through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, encodeEndpointRecord, toAppId, type EndpointRecord } from '@theseus/services';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const layout = new EtcdLayout(`/test-lb-${randomUUID().slice(0, 8)}`);
const client = new Etcd3({ hosts: etcdUrl });
const label = `io.theseus.test-run=example-lb-${randomUUID().slice(0, 8)}`;
let lb = '';
let lbAddress = '';
let caller = '';

function docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile('docker', args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      done({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A busybox httpd answering its name at / and ok at /healthz; returns its endpoint record. */
async function backend(name: string, healthy: boolean | null = true): Promise<EndpointRecord> {
  const run = await docker(
    'run',
    '-d',
    '--label',
    label,
    'theseus/busybox:local',
    'sh',
    '-c',
    `mkdir -p /www && echo ${name} > /www/index.html && echo ok > /www/healthz && exec httpd -f -p 8000 -h /www`,
  );
  assert.equal(run.code, 0, run.stderr);
  const ip = (await docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', run.stdout.trim())).stdout.trim();
  const appId = toAppId({ namespace: 'default', service: 'echo', labels: [] });
  return {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    service: 'echo',
    labels: [],
    appId,
    taskId: `theseus_default_echo.instance-${name}-${randomUUID().slice(0, 8)}._app.1`,
    appVersion: '2026-12-01T00:00:00.000Z',
    host: ip,
    ipAddresses: [ip],
    ports: { http: { host: 8000, container: 8000, protocol: 'tcp' } },
    healthy,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };
}

async function put(r: EndpointRecord): Promise<void> {
  await client
    .put(layout.endpoint(r.namespace, r.service, r.taskId))
    .value(encodeEndpointRecord(r))
    .exec();
}

/** Which backends answer through the balancer over a few calls. */
async function served(calls = 8): Promise<Set<string>> {
  const r = await docker(
    'exec',
    caller,
    'sh',
    '-c',
    `for i in $(seq ${calls}); do wget -q -O - http://${lbAddress}/ || echo FAILED; done`,
  );
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

before(async () => {
  execFileSync('bash', [join(ROOT, 'examples/lb/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const network = execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{json .}}'], {
    encoding: 'utf8',
  });
  const gateway = execFileSync(process.execPath, [join(ROOT, 'cluster/scripts/bridge-gateway.mjs')], {
    input: network,
    encoding: 'utf8',
  }).trim();
  const run = await docker(
    'run',
    '-d',
    '--label',
    label,
    '-e',
    `ETCD_ENDPOINTS=http://${gateway}:${new URL(etcdUrl).port || '2379'}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${layout.prefix}`,
    '-e',
    'ENVIRONMENT_NAME=default',
    '-e',
    'CONTAINER_PORT_HTTP=8080',
    '-e',
    'WATCH_COALESCE_MS=50',
    'theseus/example-lb:local',
  );
  assert.equal(run.code, 0, run.stderr);
  lb = run.stdout.trim();
  lbAddress = `${(await docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', lb)).stdout.trim()}:8080`;
  const call = await docker('run', '-d', '--label', label, 'theseus/busybox:local', 'sleep', '600');
  caller = call.stdout.trim();
});

after(async () => {
  const ids = (await docker('ps', '-aq', '--filter', `label=${label}`)).stdout.split(/\s+/).filter(Boolean);
  if (ids.length) await docker('rm', '-f', ...ids);
  await client.delete().prefix(layout.prefix + '/');
  client.close();
});

test('the balancer follows the healthy endpoints and reloads without restarting', async () => {
  // No instance yet: HAProxy answers, with no server to send to.
  await eventually(
    async () => (await docker('exec', caller, 'wget', '-q', '-O', '-', `http://${lbAddress}/lb-healthz`)).code === 0,
    'the balancer to listen',
  );
  const master = (await docker('exec', lb, 'cat', '/run/lb/haproxy.pid')).stdout.trim();

  const one = await backend('one');
  const two = await backend('two');
  const sick = await backend('sick', false);
  for (const r of [one, two, sick]) await put(r);
  await eventually(async () => {
    const s = await served();
    return s.has('one') && s.has('two');
  }, 'both healthy backends in rotation');
  assert.ok(!(await served()).has('sick'), 'an unhealthy instance gets no traffic');

  const three = await backend('three');
  await put(three);
  await eventually(async () => (await served(12)).has('three'), 'a new instance in rotation');

  await client
    .delete()
    .key(layout.endpoint('default', 'echo', one.taskId))
    .exec();
  await eventually(async () => !(await served(12)).has('one'), 'a removed instance out of rotation');
  const after = await served(12);
  assert.ok(after.has('two') && after.has('three') && !after.has('FAILED'), [...after].join(','));

  const config = (await docker('exec', lb, 'cat', '/run/lb/haproxy.cfg')).stdout;
  assert.match(config, new RegExp(`server ${two.taskId.replace(/\./g, '\\.')} ${two.host}:8000 check`));
  assert.doesNotMatch(config, new RegExp(sick.taskId.replace(/\./g, '\\.')));
  assert.equal(
    (await docker('exec', lb, 'cat', '/run/lb/haproxy.pid')).stdout.trim(),
    master,
    'the same master: reloads, not restarts',
  );
  const logs = await docker('logs', lb);
  assert.match(logs.stderr + logs.stdout, /"message":"reloaded"/);
});
