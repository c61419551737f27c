// `theseus-guest`, the one-file discovery program, copied into the busybox image (no Node, no libc)
// and run there against the real etcd on the host: answers, watch, --exec, and --template; and
// against a private etcd with TLS, client certificates and users, as the container user.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { applyEtcdRbac, createEtcdClient, EtcdLayout, type EtcdAccess, type EtcdParty } from '@theseus/services';
import { EtcdProcess, TlsFiles } from '@theseus/services/testing';
import { bridgeGateway, docker } from './test-support/docker.js';
import { deleteRecord, deleteRecordsAtOnce, endpointRecord, eventually, putRecord } from './test-support/records.js';

const buildScript = fileURLToPath(new URL('../scripts/build-guest.mjs', import.meta.url));
const binary = fileURLToPath(new URL('../bundle/theseus-guest', import.meta.url));
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const etcdPort = new URL(etcdUrl).port || '2379';
const prefix = `/test-guest-${randomUUID().slice(0, 8)}`;
const layout = new EtcdLayout(prefix);
const client = new Etcd3({ hosts: etcdUrl });
const label = `io.theseus.test-run=theseus-guest-${randomUUID().slice(0, 8)}`;
const files = mkdtempSync(join(tmpdir(), 'theseus-guest-'));
let container = '';

const http = (host: number) => ({ http: { host, container: 8080, protocol: 'tcp' as const } });
const web1 = endpointRecord({ service: 'web', host: '10.2.0.1', ports: http(31001), healthy: true });
const web2 = endpointRecord({ service: 'web', host: '10.2.0.2', ports: http(31002), healthy: true });
const sorted = (...records: (typeof web1)[]) => [...records].sort((x, y) => (x.taskId < y.taskId ? -1 : 1));

async function sh(script: string) {
  return docker('exec', container, 'sh', '-c', script);
}

async function fileIn(path: string): Promise<string> {
  const r = await docker('exec', container, 'cat', path);
  return r.code === 0 ? r.stdout : '';
}

function jsonLines(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}

before(async () => {
  execFileSync(process.execPath, [buildScript, '--install'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await putRecord(client, layout, web1);
  await putRecord(client, layout, web2);
  const gateway = bridgeGateway();
  const created = await docker(
    'create',
    '--label',
    label,
    '-e',
    `ETCD_ENDPOINTS=http://${gateway}:${etcdPort}`,
    '-e',
    `THESEUS_ETCD_PREFIX=${prefix}`,
    '-e',
    'ENVIRONMENT_NAME=default',
    '-e',
    'CONTAINER_PORT_HTTP=8080',
    '-e',
    'HOST=10.9.9.9',
    'theseus/busybox:local',
    'sleep',
    '600',
  );
  assert.equal(created.code, 0, created.stderr);
  container = created.stdout.trim();
  const copied = await docker('cp', binary, `${container}:/bin/theseus-guest`);
  assert.equal(copied.code, 0, copied.stderr);
  assert.equal((await docker('start', container)).code, 0);
});

after(async () => {
  if (container) await docker('rm', '-f', container);
  await client.delete().prefix(prefix + '/');
  client.close();
  rmSync(files, { recursive: true, force: true });
});

test('the image has no Node and no shared libraries: the program needs nothing there', async () => {
  assert.notEqual((await sh('command -v node')).code, 0);
  assert.equal((await sh('ls /lib /lib64 /usr/lib 2>/dev/null | grep -c "\\.so"')).stdout.trim(), '0');
});

test('node-list, port and host answer inside the busybox container', async () => {
  const nodes = await docker('exec', container, 'theseus-guest', 'node-list', 'web', '--ports', 'http');
  assert.equal(nodes.code, 0, nodes.stderr);
  assert.equal(
    nodes.stdout,
    sorted(web1, web2)
      .map((r) => `${r.host}:${r.ports.http!.host}\n`)
      .join(''),
  );
  const json = await docker('exec', container, 'theseus-guest', 'get_node_list', 'web', '--json');
  assert.deepEqual(
    JSON.parse(json.stdout),
    sorted(web1, web2).map((r) => r.host),
  );
  assert.equal((await docker('exec', container, 'theseus-guest', 'port', 'http')).stdout, '8080\n');
  assert.equal((await docker('exec', container, 'theseus-guest', 'host')).stdout, '10.9.9.9\n');
  assert.equal(
    (await docker('exec', container, 'theseus-guest', 'specific-port', 'web', web1.taskId, 'http')).stdout,
    '31001\n',
  );
});

test('a question without an answer exits 1 naming what is missing; misuse exits 2', async () => {
  const none = await docker('exec', container, 'theseus-guest', 'node-list', 'nothing-here');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /service "nothing-here" in environment "default" has no running instances/);
  const port = await docker('exec', container, 'theseus-guest', 'port', 'admin');
  assert.equal(port.code, 1);
  assert.match(port.stderr, /CONTAINER_PORT_ADMIN and PORT_ADMIN are not set/);
  assert.equal(
    (await docker('exec', container, 'theseus-guest', 'port', 'admin', '--default', '9000')).stdout,
    '9000\n',
  );
  const misuse = await docker('exec', container, 'theseus-guest', 'node-list', 'web', '--minimum', 'two');
  assert.equal(misuse.code, 2);
  assert.match(misuse.stderr, /--minimum must be a whole number, got "two"/);
  assert.equal((await docker('exec', container, 'theseus-guest', 'frobnicate')).code, 2);
});

test('watch prints the running instances, then each change, as delta JSON lines', async () => {
  assert.equal((await sh('theseus-guest watch web >/tmp/watch.out 2>/tmp/watch.err &')).code, 0);
  await eventually(async () => jsonLines(await fileIn('/tmp/watch.out')).length >= 1, 'the initial delta', 20_000);
  const [initial] = jsonLines(await fileIn('/tmp/watch.out'));
  assert.deepEqual(
    initial.added.map((r: { taskId: string }) => r.taskId),
    sorted(web1, web2).map((r) => r.taskId),
  );
  assert.deepEqual(initial.current, sorted(web1, web2));

  const web3 = endpointRecord({ service: 'web', host: '10.2.0.3', ports: http(31003), healthy: true });
  await putRecord(client, layout, web3);
  await eventually(
    async () => jsonLines(await fileIn('/tmp/watch.out')).length >= 2,
    'the delta of a new instance',
    20_000,
  );
  const added = jsonLines(await fileIn('/tmp/watch.out'))[1];
  assert.deepEqual(added.added, [web3]);
  assert.deepEqual(added.removed, []);

  await deleteRecord(client, layout, web3);
  await eventually(
    async () => jsonLines(await fileIn('/tmp/watch.out')).length >= 3,
    'the delta of a removed instance',
    20_000,
  );
  const removed = jsonLines(await fileIn('/tmp/watch.out'))[2];
  assert.deepEqual(removed.removed, [web3]);
  assert.deepEqual(removed.added, []);
});

test('--exec runs a command per change with the delta on stdin and in THESEUS_DELTA, never overlapping; a failed run is retried with the next change', async () => {
  const script = join(files, 'on-change.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'delta=$(cat)',
      '[ -f /tmp/running ] && echo OVERLAP >> /tmp/exec.log',
      'touch /tmp/running',
      'if [ -f /tmp/fail ]; then rm /tmp/fail /tmp/running; echo "not this time" >&2; exit 3; fi',
      'echo "$delta" >> /tmp/exec.log',
      '[ "$delta" = "$THESEUS_DELTA" ] || echo ENV-DIFFERS >> /tmp/exec.log',
      'sleep 0.3',
      'rm /tmp/running',
      '',
    ].join('\n'),
  );
  assert.equal((await docker('cp', script, `${container}:/tmp/on-change.sh`)).code, 0);
  assert.equal(
    (
      await sh(
        'chmod +x /tmp/on-change.sh; theseus-guest watch web --coalesce-ms 0 --exec /tmp/on-change.sh >/dev/null 2>/tmp/exec.err &',
      )
    ).code,
    0,
  );
  await eventually(async () => jsonLines(await fileIn('/tmp/exec.log')).length >= 1, 'the first run', 20_000);

  // A burst while a run is in progress: runs follow one another, never overlap.
  const burst = [1, 2, 3].map((n) =>
    endpointRecord({ service: 'web', host: `10.3.0.${n}`, ports: http(32000 + n), healthy: true }),
  );
  for (const record of burst) await putRecord(client, layout, record);
  await eventually(
    async () => {
      const seen = jsonLines(await fileIn('/tmp/exec.log')).flatMap((d) =>
        d.added.map((r: { taskId: string }) => r.taskId),
      );
      return burst.every((r) => seen.includes(r.taskId));
    },
    'every instance of the burst',
    20_000,
  );

  // The next run fails; its change comes again, merged with the one after.
  const runs = jsonLines(await fileIn('/tmp/exec.log')).length;
  await sh('touch /tmp/fail');
  const late1 = endpointRecord({ service: 'web', host: '10.4.0.1', ports: http(33001), healthy: true });
  await putRecord(client, layout, late1);
  await eventually(
    async () => (await fileIn('/tmp/exec.err')).includes('the command failed'),
    'the failure to be logged',
    20_000,
  );
  assert.equal(jsonLines(await fileIn('/tmp/exec.log')).length, runs, 'the failed run wrote nothing');
  const late2 = endpointRecord({ service: 'web', host: '10.4.0.2', ports: http(33002), healthy: true });
  await putRecord(client, layout, late2);
  await eventually(async () => jsonLines(await fileIn('/tmp/exec.log')).length > runs, 'the retried change', 20_000);
  const retried = jsonLines(await fileIn('/tmp/exec.log'))[runs];
  assert.deepEqual(retried.added.map((r: { taskId: string }) => r.taskId).sort(), [late1.taskId, late2.taskId].sort());

  const log = await fileIn('/tmp/exec.log');
  assert.doesNotMatch(log, /OVERLAP/);
  assert.doesNotMatch(log, /ENV-DIFFERS/);
  const err = jsonLines(await fileIn('/tmp/exec.err')).find((l) => l.message.startsWith('the command failed'));
  assert.match(err.output, /not this time/);
  for (const record of [...burst, late1, late2]) await deleteRecord(client, layout, record);
});

test('--template renders healthy endpoints atomically, checks first, keeps the old file on a failed check, and retries a failed reload', async () => {
  writeFileSync(
    join(files, 'upstreams.tmpl'),
    '{{range healthy (service "api")}}server {{.TaskID}} {{.Address "http"}}\n{{end}}',
  );
  assert.equal((await docker('cp', join(files, 'upstreams.tmpl'), `${container}:/tmp/upstreams.tmpl`)).code, 0);
  const api1 = endpointRecord({ service: 'api', host: '10.5.0.1', ports: http(34001), healthy: true });
  const sick = endpointRecord({ service: 'api', host: '10.5.0.2', ports: http(34002), healthy: false });
  await putRecord(client, layout, api1);
  await putRecord(client, layout, sick);
  await sh('touch /tmp/reload-fails');
  const reload = 'if [ -f /tmp/reload-fails ]; then rm /tmp/reload-fails; exit 1; fi; echo reloaded >> /tmp/reloads';
  const started = await sh(
    `theseus-guest watch api --coalesce-ms 50 --template /tmp/upstreams.tmpl --out /tmp/upstreams.conf ` +
      `--check 'grep -q "^server " {{out}}' --reload '${reload}' >/dev/null 2>/tmp/render.err &`,
  );
  assert.equal(started.code, 0);
  await eventually(async () => (await fileIn('/tmp/upstreams.conf')) !== '', 'the first render', 20_000);
  assert.equal(
    await fileIn('/tmp/upstreams.conf'),
    `server ${api1.taskId} 10.5.0.1:34001\n`,
    'the unhealthy instance is left out',
  );
  // The first reload failed; it is run again without any further change.
  await eventually(async () => (await fileIn('/tmp/reloads')) === 'reloaded\n', 'the retried reload', 20_000);
  assert.ok(jsonLines(await fileIn('/tmp/render.err')).some((l) => l.message.startsWith('reload failed')));

  // Health turning good brings the instance in (and reloads once more).
  await putRecord(client, layout, { ...sick, healthy: true });
  await eventually(
    async () => (await fileIn('/tmp/upstreams.conf')).includes('10.5.0.2:34002'),
    'the healed instance',
    20_000,
  );
  await eventually(async () => (await fileIn('/tmp/reloads')) === 'reloaded\nreloaded\n', 'the second reload', 20_000);

  // A render the check rejects (no server left) leaves the old file in place; no temporary file remains.
  const before = await fileIn('/tmp/upstreams.conf');
  await deleteRecordsAtOnce(client, layout, [api1, sick]);
  await eventually(
    async () => (await fileIn('/tmp/render.err')).includes('the check rejected'),
    'the check to reject',
    20_000,
  );
  assert.equal(await fileIn('/tmp/upstreams.conf'), before);
  assert.equal((await sh('ls -a /tmp | grep -c "^\\.upstreams.conf"')).stdout.trim(), '0');
  assert.equal(await fileIn('/tmp/reloads'), 'reloaded\nreloaded\n', 'no reload without a new file');
});

describe('with etcd authentication and TLS, as the container user', () => {
  const USERS: Record<EtcdParty, { name: string; password: string }> = {
    subscriber: { name: 'theseus-subscriber', password: 'subscriber-secret-1' },
    deployer: { name: 'theseus-deployer', password: 'deployer-secret-1' },
    container: { name: 'theseus-container', password: 'container-secret-1' },
  };
  const securePrefix = '/theseus-secure';
  const secureLayout = new EtcdLayout(securePrefix);
  const api1 = endpointRecord({ service: 'api', host: '10.6.0.1', ports: http(35001), healthy: true });
  let tls: TlsFiles;
  let etcd: EtcdProcess;
  let secured = '';
  let pair: { cert: string; key: string };
  const clients: ReturnType<typeof createEtcdClient>[] = [];

  function etcdAs(access: Partial<EtcdAccess>) {
    const pair = tls.client('test');
    const c = createEtcdClient({
      endpoints: [etcd.endpoint],
      timeoutMs: 5000,
      access: { ca: readFileSync(tls.ca), cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...access },
    });
    clients.push(c);
    return c;
  }
  const subscriber = () => etcdAs({ username: USERS.subscriber.name, password: USERS.subscriber.password });
  const guest = (...args: string[]) => docker('exec', secured, 'theseus-guest', ...args);
  const guestWith = (env: string[], ...args: string[]) =>
    docker('exec', ...env.flatMap((e) => ['-e', e]), secured, 'theseus-guest', ...args);

  before(async () => {
    tls = TlsFiles.create();
    // etcd requires a client certificate from the test CA, and a user: what a hardened cluster runs.
    etcd = await EtcdProcess.start('127.0.0.1', { tls: { ...tls.server, clientCa: tls.ca } });
    await applyEtcdRbac((asRoot) => etcdAs(asRoot ? { username: 'root', password: 'root-secret-1' } : {}), {
      prefix: securePrefix,
      rootPassword: 'root-secret-1',
      users: USERS,
    });
    await putRecord(subscriber(), secureLayout, api1);
    // etcd's HTTP gateway refuses client certificates with a Common Name while it checks them and users.
    pair = tls.client('');
    const named = tls.client(USERS.container.name);
    const password = tls.file('container.password', `${USERS.container.password}\n`);
    // Host networking: the container reaches the private etcd on 127.0.0.1, the name its certificate bears.
    const variables = [
      `ETCD_ENDPOINTS=${etcd.endpoint}`,
      `THESEUS_ETCD_PREFIX=${securePrefix}`,
      'ENVIRONMENT_NAME=default',
      `ETCD_USERNAME=${USERS.container.name}`,
      'ETCD_PASSWORD_FILE=/etc/etcd/password',
      'ETCD_CA_FILE=/etc/etcd/ca.crt',
      'ETCD_CERT_FILE=/etc/etcd/client.crt',
      'ETCD_KEY_FILE=/etc/etcd/client.key',
    ];
    const created = await docker(
      'create',
      '--label',
      label,
      '--network',
      'host',
      ...variables.flatMap((v) => ['-e', v]),
      'theseus/busybox:local',
      'sleep',
      '600',
    );
    assert.equal(created.code, 0, created.stderr);
    secured = created.stdout.trim();
    const staged = join(files, 'etcd');
    mkdirSync(staged);
    for (const [from, name] of [
      [tls.ca, 'ca.crt'],
      [pair.cert, 'client.crt'],
      [pair.key, 'client.key'],
      [password, 'password'],
      [named.cert, 'named.crt'],
      [named.key, 'named.key'],
    ] as const)
      copyFileSync(from, join(staged, name));
    assert.equal((await docker('cp', staged, `${secured}:/etc/etcd`)).code, 0);
    assert.equal((await docker('cp', binary, `${secured}:/bin/theseus-guest`)).code, 0);
    assert.equal((await docker('start', secured)).code, 0);
  });

  after(async () => {
    if (secured) await docker('rm', '-f', secured);
    for (const c of clients) c.close();
    await etcd?.destroy();
    tls?.destroy();
  });

  test('node-list answers over TLS with a client certificate, as the read-only container user', async () => {
    const nodes = await guest('node-list', 'api', '--ports', 'http');
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout, '10.6.0.1:35001\n');
    // The same with the password, the CA and the client certificate in variables instead of files.
    const inline = await guestWith(
      [
        `ETCD_PASSWORD=${USERS.container.password}`,
        `ETCD_CA=${readFileSync(tls.ca, 'utf8')}`,
        'ETCD_CA_FILE=',
        `ETCD_CERT=${readFileSync(pair.cert, 'utf8')}`,
        `ETCD_KEY=${readFileSync(pair.key, 'utf8')}`,
        'ETCD_CERT_FILE=',
        'ETCD_KEY_FILE=',
        // checked against this name instead of the IP address
        'ETCD_SERVER_NAME=localhost',
      ],
      'node-list',
      'api',
      '--ports',
      'http',
    );
    assert.equal(inline.code, 0, inline.stderr);
    assert.equal(inline.stdout, '10.6.0.1:35001\n');
  });

  test('watch follows changes as the container user, and renews its token when etcd drops it', async () => {
    assert.equal(
      (await docker('exec', secured, 'sh', '-c', 'theseus-guest watch api >/tmp/watch.out 2>/tmp/watch.err &')).code,
      0,
    );
    const lines = async () => jsonLines((await docker('exec', secured, 'cat', '/tmp/watch.out')).stdout);
    await eventually(async () => (await lines()).length >= 1, 'the initial delta', 20_000);
    assert.deepEqual((await lines())[0].current, [api1]);

    const api2 = endpointRecord({ service: 'api', host: '10.6.0.2', ports: http(35002), healthy: true });
    await putRecord(subscriber(), secureLayout, api2);
    await eventually(async () => (await lines()).length >= 2, 'the delta of a new instance', 20_000);
    assert.deepEqual((await lines())[1].added, [api2]);

    // Setting a user's password makes etcd drop that user's tokens: the next read must authenticate again.
    const root = etcdAs({ username: 'root', password: 'root-secret-1' });
    await root.user(USERS.container.name).setPassword(USERS.container.password);
    await deleteRecord(subscriber(), secureLayout, api2);
    await eventually(async () => (await lines()).length >= 3, 'the delta after the token was dropped', 20_000);
    assert.deepEqual((await lines())[2].removed, [api2]);
    const err = (await docker('exec', secured, 'cat', '/tmp/watch.err')).stdout;
    assert.doesNotMatch(err, new RegExp(USERS.container.password));
  });

  test('a wrong password, or no user, fails with one clear line that never shows the password', async () => {
    const wrong = await guestWith(['ETCD_PASSWORD=not-the-password'], 'node-list', 'api');
    assert.equal(wrong.code, 1);
    assert.equal(
      wrong.stderr,
      `theseus-guest node-list: ${etcd.endpoint} refused user "theseus-container": wrong password or no such user (ETCD_USERNAME, ETCD_PASSWORD or ETCD_PASSWORD_FILE)\n`,
    );
    const watching = await guestWith(['ETCD_PASSWORD=not-the-password'], 'watch', 'api');
    assert.equal(watching.code, 1);
    assert.equal(watching.stderr.trim().split('\n').length, 1, watching.stderr);
    assert.match(watching.stderr, /refused user "theseus-container": wrong password/);
    assert.doesNotMatch(wrong.stderr + watching.stderr, /not-the-password/);

    const nobody = await guestWith(['ETCD_USERNAME='], 'node-list', 'api');
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /: set ETCD_USERNAME and ETCD_PASSWORD or ETCD_PASSWORD_FILE\n$/);
    const withName = await guestWith(
      ['ETCD_CERT_FILE=/etc/etcd/named.crt', 'ETCD_KEY_FILE=/etc/etcd/named.key'],
      'node-list',
      'api',
    );
    assert.equal(withName.code, 1);
    assert.match(withName.stderr, /refuses a client certificate with a Common Name on its HTTP gateway/);
    const noPassword = await guestWith(['ETCD_PASSWORD_FILE=/etc/etcd/none'], 'node-list', 'api');
    assert.equal(noPassword.code, 1);
    assert.match(noPassword.stderr, /ETCD_PASSWORD_FILE="\/etc\/etcd\/none" is not a readable file/);
  });
});
