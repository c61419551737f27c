// theseus/guest, the image to extend for discovery: a user's image built FROM it finds its peers in
// the real etcd, from Node (the globally installed package, imported from the user's own directory)
// and from the shell (theseus-guest), as the unprivileged user.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout, encodeEndpointRecord, toAppId, type EndpointRecord } from '@theseus/services';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const layout = new EtcdLayout(`/test-guest-image-${randomUUID().slice(0, 8)}`);
const client = new Etcd3({ hosts: etcdUrl });
const run = randomUUID().slice(0, 8);
const label = `io.theseus.test-run=guest-image-${run}`;
const userImage = `theseus-test/guest-user:${run}`;
const context = mkdtempSync(join(tmpdir(), 'guest-user-'));
let env: string[] = [];

function docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile('docker', args, { encoding: 'utf8', timeout: 300_000 }, (err, stdout, stderr) =>
      done({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
}

function record(n: number): EndpointRecord {
  const appId = toAppId({ namespace: 'default', service: 'db', labels: [] });
  return {
    v: 1,
    cluster: 'default',
    namespace: 'default',
    service: 'db',
    labels: [],
    appId,
    taskId: `theseus_default_db.instance-${n}-${run}._app.1`,
    appVersion: '2026-12-01T00:00:00.000Z',
    host: `10.8.0.${n}`,
    ipAddresses: [],
    ports: { sql: { host: 35000 + n, container: 5432, protocol: 'tcp' } },
    healthy: true,
    startedAt: '2026-12-01T00:00:01.000Z',
    updatedAt: new Date().toISOString(),
  };
}

before(async () => {
  const built = await new Promise<{ code: number; stderr: string }>((done) =>
    execFile(
      'bash',
      [join(ROOT, 'docker-images/build.sh'), 'guest'],
      { encoding: 'utf8', timeout: 600_000 },
      (err, _out, stderr) => done({ code: err ? 1 : 0, stderr }),
    ),
  );
  assert.equal(built.code, 0, built.stderr.split('\n').slice(-20).join('\n'));
  writeFileSync(
    join(context, 'main.js'),
    "import { getNodeList, closeGuest } from '@theseus/guestutils';\n" +
      "console.log((await getNodeList('db', { ports: ['sql'] })).join(' '));\n" +
      'await closeGuest();\n',
  );
  writeFileSync(
    join(context, 'Dockerfile'),
    'FROM theseus/guest:local\nCOPY main.js /srv/app/main.js\nUSER node\nWORKDIR /srv/app\nCMD ["node", "main.js"]\n',
  );
  const user = await docker('build', '--label', label, '-t', userImage, context);
  assert.equal(user.code, 0, user.stderr);
  for (const n of [1, 2])
    await client
      .put(layout.endpoint('default', 'db', record(n).taskId))
      .value(encodeEndpointRecord(record(n)))
      .exec();
  const network = execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{json .}}'], {
    encoding: 'utf8',
  });
  const gateway = execFileSync(process.execPath, [join(ROOT, 'cluster/scripts/bridge-gateway.mjs')], {
    input: network,
    encoding: 'utf8',
  }).trim();
  env = [
    '-e',
    `ETCD_ENDPOINTS=http://${gateway}:${new URL(etcdUrl).port || '2379'}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${layout.prefix}`,
    '-e',
    'ENVIRONMENT_NAME=default',
  ];
});

after(async () => {
  await docker('rmi', '-f', userImage);
  await client.delete().prefix(layout.prefix + '/');
  client.close();
  rmSync(context, { recursive: true, force: true });
});

test('an image FROM theseus/guest imports @theseus/guestutils from its own directory and finds its peers', async () => {
  const r = await docker('run', '--rm', '--label', label, ...env, userImage);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '10.8.0.1:35001 10.8.0.2:35002');
});

test('theseus-guest is on PATH there', async () => {
  const r = await docker(
    'run',
    '--rm',
    '--label',
    label,
    ...env,
    userImage,
    'theseus-guest',
    'node-list',
    'db',
    '--ports',
    'sql',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['10.8.0.1:35001', '10.8.0.2:35002']);
});
