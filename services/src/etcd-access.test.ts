// etcd with TLS, client certificates and RBAC (a private etcd process): each party can do what its
// role allows and nothing more; wrong certificates and missing credentials are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Election, EtcdPermissionDeniedError, type Etcd3 } from 'etcd3';
import { createEtcdClient, readEtcdAccess, type EtcdAccess } from './etcd.js';
import { applyEtcdRbac, type EtcdParty } from './etcd-rbac.js';
import { EtcdLayout } from './endpoints/keys.js';
import { ConfigError } from './errors.js';
import { EtcdProcess, TlsFiles } from './testing/index.js';

const PREFIX = '/theseus-rbac';
const layout = new EtcdLayout(PREFIX);
const USERS: Record<EtcdParty, { name: string; password: string }> = {
  subscriber: { name: 'theseus-subscriber', password: 'subscriber-password-1' },
  deployer: { name: 'theseus-deployer', password: 'deployer-password-1' },
  container: { name: 'theseus-container', password: 'container-password-1' },
};
const ROOT_PASSWORD = 'root-password-1';

let tls: TlsFiles;
let etcd: EtcdProcess;
const opened: Etcd3[] = [];

/** A client presenting the test CA's client certificate `cn`, with a user and password when given. */
function client(access: Partial<EtcdAccess> & { cn?: string } = {}): Etcd3 {
  const pair = tls.client(access.cn ?? 'anyone');
  const c = createEtcdClient({
    endpoints: [etcd.endpoint],
    timeoutMs: 3000,
    access: { ca: readFileSync(tls.ca), cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...access },
  });
  opened.push(c);
  return c;
}

function as(party: EtcdParty): Etcd3 {
  return client({ username: USERS[party].name, password: USERS[party].password });
}

function refused(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => assert.fail('etcd allowed it'),
    (err: Error) => err,
  );
}

before(async () => {
  tls = TlsFiles.create();
  etcd = await EtcdProcess.start('127.0.0.1', { tls: { ...tls.server, clientCa: tls.ca } });
  const connect = (asRoot: boolean) => client(asRoot ? { username: 'root', password: ROOT_PASSWORD } : {});
  assert.deepEqual(await applyEtcdRbac(connect, { prefix: PREFIX, rootPassword: ROOT_PASSWORD, users: USERS }), {
    authWasEnabled: false,
  });
  // again: nothing to do, and no error
  assert.deepEqual(await applyEtcdRbac(connect, { prefix: PREFIX, rootPassword: ROOT_PASSWORD, users: USERS }), {
    authWasEnabled: true,
  });
});

after(async () => {
  for (const c of opened) c.close();
  await etcd?.destroy();
  tls?.destroy();
});

const KEY = layout.endpoint('default', 'web', 'web.task-1');

test('the subscriber user writes and deletes endpoint records and campaigns for leadership', async () => {
  const subscriber = as('subscriber');
  await subscriber.put(KEY).value('{"v":1}');
  assert.equal(await subscriber.get(KEY).string(), '{"v":1}');
  const campaign = subscriber.election(layout.election('subscriber'), 5).campaign('me');
  await new Promise<void>((resolve, reject) => {
    campaign.on('elected', () => resolve());
    campaign.on('error', reject);
  });
  assert.match(await campaign.getCampaignKey(), new RegExp(`^${Election.prefix}/${layout.election('subscriber')}/`));
  await campaign.resign();
  await subscriber.put(`${KEY}-2`).value('{}');
  await subscriber.delete().key(`${KEY}-2`);
});

test('the container and deployer users read endpoint records and can change none', async () => {
  await as('subscriber').put(KEY).value('{"v":1}');
  for (const party of ['container', 'deployer'] as const) {
    const reader = as(party);
    assert.deepEqual(Object.keys(await reader.getAll().prefix(layout.allEndpoints()).strings()), [KEY]);
    assert.ok((await refused(reader.put(KEY).value('{"forged":true}').exec())) instanceof EtcdPermissionDeniedError);
    assert.ok((await refused(reader.delete().key(KEY).exec())) instanceof EtcdPermissionDeniedError);
    assert.ok(
      (await refused(
        reader
          .put(`${layout.election('subscriber')}/x`)
          .value('me')
          .exec(),
      )) instanceof EtcdPermissionDeniedError,
    );
    assert.ok((await refused(reader.get('/elsewhere').string())) instanceof EtcdPermissionDeniedError);
  }
  assert.equal(await as('subscriber').get(KEY).string(), '{"v":1}');
});

test("a client certificate alone authenticates as its common name, with that user's rights", async () => {
  const byCert = client({ cn: USERS.container.name });
  assert.deepEqual(Object.keys(await byCert.getAll().prefix(layout.allEndpoints()).strings()), [KEY]);
  assert.ok((await refused(byCert.put(KEY).value('{}').exec())) instanceof EtcdPermissionDeniedError);
});

test('refused: no user, a wrong password, a certificate from another CA, no client certificate', async () => {
  assert.ok((await refused(client().get(KEY).string())) instanceof EtcdPermissionDeniedError);
  await refused(client({ username: USERS.subscriber.name, password: 'wrong-password' }).get(KEY).string());

  const other = tls.client(USERS.subscriber.name, 'other');
  const foreign = createEtcdClient({
    endpoints: [etcd.endpoint],
    timeoutMs: 2000,
    access: {
      ca: readFileSync(tls.ca),
      cert: readFileSync(other.cert),
      key: readFileSync(other.key),
      username: USERS.subscriber.name,
      password: USERS.subscriber.password,
    },
  });
  opened.push(foreign);
  await refused(foreign.put(KEY).value('{"forged":true}').exec());

  const noCert = createEtcdClient({
    endpoints: [etcd.endpoint],
    timeoutMs: 2000,
    access: { ca: readFileSync(tls.ca), ...USERS.subscriber },
  });
  opened.push(noCert);
  await refused(noCert.get(KEY).string());
  assert.equal(await as('subscriber').get(KEY).string(), '{"v":1}');
});

test('a server name checks the certificate against that name and keeps IP addresses out of the TLS server name', async () => {
  // In a process of its own: Node warns about an IP address as TLS server name once per process.
  const read = (serverName: string) => {
    const pair = tls.client(USERS.container.name);
    const script = `
      import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
      import { createEtcdClient } from '@theseus/services';
      const [endpoint, ca, cert, key, serverName] = process.argv.slice(1);
      const c = createEtcdClient({ endpoints: [endpoint], timeoutMs: 3000, access: {
        ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), serverName: serverName || undefined } });
      try { console.log(await c.get(${JSON.stringify(KEY)}).string()); } finally { c.close(); }`;
    return spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=source',
        '--input-type=module',
        '-e',
        script,
        etcd.endpoint,
        tls.ca,
        pair.cert,
        pair.key,
        serverName,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
  };
  const named = read('localhost');
  assert.equal(named.status, 0, named.stderr);
  assert.equal(named.stdout, '{"v":1}\n');
  assert.doesNotMatch(named.stderr, /DEP0123|TLS ServerName/);
  const byAddress = read('');
  assert.equal(byAddress.stdout, '{"v":1}\n', byAddress.stderr);
  assert.match(byAddress.stderr, /DEP0123/, 'without a server name, Node warns about the IP address');
  const wrong = read('elsewhere.example');
  assert.notEqual(wrong.status, 0, 'a name the certificate does not carry is refused');
  assert.equal(wrong.stdout, '');
});

test('readEtcdAccess reads the files the settings name; an unreadable one names its variable', () => {
  const passwordFile = tls.file('password', `${USERS.container.password}\n`);
  const access = readEtcdAccess({ username: USERS.container.name, passwordFile, caFile: tls.ca });
  assert.equal(access.password, USERS.container.password);
  assert.equal(access.ca?.toString(), readFileSync(tls.ca, 'utf8'));
  assert.throws(
    () => readEtcdAccess({ caFile: `${tls.dir}/missing.crt` }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /^ETCD_CA_FILE \(etcd\.caFile\): cannot read .*missing\.crt: ENOENT/.test(err.message),
  );
  assert.throws(
    () => readEtcdAccess({ username: 'u', passwordFile: tls.file('empty', '') }),
    (err: unknown) => err instanceof ConfigError && /ETCD_PASSWORD_FILE.*is empty/.test(err.message),
  );
});
