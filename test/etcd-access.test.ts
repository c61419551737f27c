// etcd with authentication and TLS, set up by cluster/scripts/etcd-auth.mjs: the subscriber writes
// the endpoint records of a task the engine runs; guestutils and the watcher read them as the
// container user; the container user's writes are refused, and so is a certificate from another CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdPermissionDeniedError } from 'etcd3';
import {
  createEtcdClient,
  createLogger,
  discoveryEnv,
  EtcdLayout,
  identityLabels,
  readEtcdAccess,
} from '@theseus/services';
import { EtcdProcess, TlsFiles } from '@theseus/services/testing';
import { startEngine, type RunningEngine } from '@theseus/cluster';
import { Subscriber } from '@theseus/subscriber';
import { Guest, watchServices, type EndpointDelta } from '@theseus/guestutils';
import { eventually } from './support/processes.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const PREFIX = '/theseus-access';
const layout = new EtcdLayout(PREFIX);
const ref = { namespace: 'default', service: 'web', labels: [] as string[] };
const quiet = () => createLogger({ component: 'test', silent: true });

let tls: TlsFiles;
let etcd: EtcdProcess;
let engine: RunningEngine;
let subscriber: Subscriber;
let passwords: string;
/** Each party's client certificate (CN = its etcd user). */
const certs: Record<string, { cert: string; key: string }> = {};

/** What the deployer hands a container of the app (discoveryEnv), the container user's client certificate included. */
function containerEnv(cert = certs['theseus-container']!): Record<string, string> {
  return discoveryEnv({
    namespace: ref.namespace,
    service: 'client',
    labels: [],
    etcdEndpoints: [etcd.endpoint],
    etcdPrefix: PREFIX,
    etcdAccess: {
      username: 'theseus-container',
      password: readFileSync(join(passwords, 'theseus-container.password'), 'utf8').trim(),
      ca: readFileSync(tls.ca, 'utf8'),
      cert: readFileSync(cert.cert, 'utf8'),
      key: readFileSync(cert.key, 'utf8'),
    },
    ports: [],
  });
}

before(async () => {
  tls = TlsFiles.create();
  for (const cn of ['root', 'theseus-subscriber', 'theseus-container']) certs[cn] = tls.client(cn);
  etcd = await EtcdProcess.start('127.0.0.1', { tls: { ...tls.server, clientCa: tls.ca } });
  passwords = join(tls.dir, 'passwords');
  const env = {
    ...process.env,
    ETCD_ENDPOINTS: etcd.endpoint,
    THESEUS_ETCD_PREFIX: PREFIX,
    ETCD_CA_FILE: tls.ca,
    ETCD_CERT_FILE: certs.root!.cert,
    ETCD_KEY_FILE: certs.root!.key,
  };
  for (const run of [1, 2]) {
    const script = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', join(root, 'cluster/scripts/etcd-auth.mjs'), passwords],
      { env, encoding: 'utf8' },
    );
    assert.equal(script.status, 0, `run ${run}: ${script.stderr}`);
  }

  engine = await startEngine({
    dataDir: join(tls.dir, 'engine'),
    port: 0,
    listenHost: '127.0.0.1',
    portRange: [36100, 36199],
    allowHostCommands: true,
    logger: quiet(),
  }); // the app is a host command
  const subscriberAccess = readEtcdAccess({
    username: 'theseus-subscriber',
    passwordFile: join(passwords, 'theseus-subscriber.password'),
    caFile: tls.ca,
    certFile: certs['theseus-subscriber']!.cert,
    keyFile: certs['theseus-subscriber']!.key,
  });
  subscriber = new Subscriber({
    marathonUrls: [engine.url],
    etcdEndpoints: [etcd.endpoint],
    etcdAccess: subscriberAccess,
    etcdPrefix: PREFIX,
    cluster: 'test',
    reconcileIntervalMs: 0,
    streamBackoffMs: 50,
    leaderTtlSeconds: 2,
    logger: quiet(),
  });
  subscriber.start();
  const created = await fetch(`${engine.url}/v2/apps`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      id: '/theseus/default/web',
      cmd: 'sleep 600',
      cpus: 0.01,
      mem: 16,
      instances: 1,
      labels: identityLabels(ref),
      portDefinitions: [{ port: 0, name: 'http', protocol: 'tcp' }],
    }),
  });
  assert.equal(created.status, 201, await created.text());
});

after(async () => {
  await subscriber?.stop();
  if (engine) {
    await fetch(`${engine.url}/v2/apps/theseus/default/web?force=true`, { method: 'DELETE' }).catch(() => undefined);
    await eventually('the task gone', async () => engine.engine.scheduler.tasks.size === 0).catch(() => undefined);
    await engine.stop();
  }
  await etcd?.destroy();
  tls?.destroy();
});

test('the subscriber writes; guestutils and the watcher read as the container user', async () => {
  await eventually('the subscriber leading, with etcd reachable as its user', async () => {
    const status = await subscriber.status();
    return status.role === 'leader' && status.etcdReachable;
  });
  const guest = new Guest({ env: containerEnv() });
  try {
    const nodes = await eventually('the endpoint record', async () => {
      const list = await guest.getNodeList('web', { ports: ['http'], minimum: 0 });
      return list.length === 1 ? list : undefined;
    });
    assert.match(nodes[0]!, /^127\.0\.0\.1:361\d\d$/);
  } finally {
    await guest.close();
  }

  const deltas: EndpointDelta[] = [];
  const watcher = watchServices(['web'], (_service, delta) => void deltas.push(delta), {
    env: containerEnv(),
    logger: { info() {}, warn() {}, error() {} },
  });
  try {
    await watcher.ready;
    await eventually('the watcher told about the instance', async () => deltas.some((d) => d.added.length === 1));
  } finally {
    await watcher.stop();
  }
});

test('the container user cannot write or delete a record; a certificate from another CA is refused', async () => {
  const keys = await eventually('a record', async () => {
    const reader = createEtcdClient({
      endpoints: [etcd.endpoint],
      access: readEtcdAccess({
        caFile: tls.ca,
        certFile: certs['theseus-container']!.cert,
        keyFile: certs['theseus-container']!.key,
      }),
    });
    try {
      const found = Object.keys(await reader.getAll().prefix(layout.serviceEndpoints('default', 'web')).strings());
      return found.length ? found : undefined;
    } finally {
      reader.close();
    }
  });
  const env = containerEnv();
  const asContainer = createEtcdClient({
    endpoints: [etcd.endpoint],
    access: {
      username: env.ETCD_USERNAME,
      password: env.ETCD_PASSWORD,
      ca: Buffer.from(env.ETCD_CA!),
      cert: Buffer.from(env.ETCD_CERT!),
      key: Buffer.from(env.ETCD_KEY!),
    },
  });
  try {
    const forged = JSON.stringify({ forged: true });
    await assert.rejects(asContainer.put(keys[0]!).value(forged).exec(), EtcdPermissionDeniedError);
    await assert.rejects(asContainer.delete().key(keys[0]!).exec(), EtcdPermissionDeniedError);
    await assert.rejects(
      asContainer
        .put(layout.endpoint('default', 'web', 'forged.task'))
        .value(forged)
        .exec(),
      EtcdPermissionDeniedError,
    );
    assert.notEqual(await asContainer.get(keys[0]!).string(), forged);
  } finally {
    asContainer.close();
  }

  const foreign = new Guest({ env: containerEnv(tls.client('theseus-container', 'other')), timeoutMs: 2000 });
  try {
    await assert.rejects(foreign.getNodeList('web', { minimum: 0 }));
  } finally {
    await foreign.close();
  }
});
