/**
 * What etcd authentication and TLS cost, each and together, in one run: four private etcd
 * servers: plain; RBAC with passwords (users and roles as cluster/scripts/etcd-auth.mjs makes
 * them); server TLS; and TLS with client certificates and RBAC. Measured in turns that rotate the
 * order, so that every configuration meets the same machine load:
 *
 *  1. the subscriber's write path (EndpointStore: transactions of 120 puts, 16 in flight), records/s
 *     for 20,000 records, as the subscriber user;
 *  2. guestutils' getNodeList over a service of 1,000 instances (one range read each), p50 and p99,
 *     as the read-only container user.
 *
 *   node --import tsx --conditions=source subscriber/bench/etcd-access.ts [--quick]
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import {
  applyEtcdRbac,
  createEtcdClient,
  createLogger,
  EtcdLayout,
  type EtcdAccess,
  type EndpointRecord,
} from '@theseus/services';
import { EtcdProcess, TlsFiles } from '@theseus/services/testing';
import { Guest } from '@theseus/guestutils';
import { EndpointStore } from '../src/endpoint-store.js';
import { encodeRecord } from '../src/endpoint-encoder.js';
import { SubscriberMetrics } from '../src/metrics.js';

const QUICK = process.argv.includes('--quick');
const RECORDS = QUICK ? 5_000 : 20_000;
const TURNS = QUICK ? 2 : 4;
const READS = QUICK ? 100 : 300;
const INSTANCES = 1_000;
const PREFIX = '/bench-access';
const layout = new EtcdLayout(PREFIX);
const USERS = {
  subscriber: { name: 'theseus-subscriber', password: randomUUID() },
  deployer: { name: 'theseus-deployer', password: randomUUID() },
  container: { name: 'theseus-container', password: randomUUID() },
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const record = (taskId: string, i: number, at: number): EndpointRecord => ({
  v: 1,
  cluster: 'bench',
  namespace: 'default',
  service: 'web',
  labels: [],
  appId: '/theseus/default/web',
  taskId,
  appVersion: '2026-01-01T00:00:00.000Z',
  host: `10.1.${Math.floor(i / 250) % 250}.${i % 250}`,
  ipAddresses: [],
  ports: { http: { host: 31000 + (i % 1000), container: 8080, protocol: 'tcp' } },
  healthy: null,
  startedAt: null,
  updatedAt: new Date(at).toISOString(),
});

interface Side {
  name: string;
  etcd: EtcdProcess;
  writer: Etcd3;
  guest: Guest;
  writes: number[];
  reads: number[];
}

/** Writes `count` records through the subscriber's store under a fresh service prefix; records/s. */
async function writeTurn(side: Side, turn: number, count: number): Promise<number> {
  const guard = `election/${layout.election('subscriber')}/bench-${turn}`;
  await side.writer.put(guard).value('leader');
  const store = new EndpointStore({
    client: side.writer,
    layout,
    logger: createLogger({ component: 'bench', silent: true }),
    metrics: new SubscriberMetrics(),
    cluster: 'bench',
  });
  store.lead(guard);
  const at = Date.now();
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const taskId = `web.t${turn}-${i}`;
    store.submit({
      key: layout.endpoint('default', `write${turn}`, taskId),
      appId: '/theseus/default/web',
      taskId,
      at,
      value: encodeRecord(record(taskId, i, at)),
    });
  }
  await store.flushed();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await side.writer.delete().prefix(layout.namespaceEndpoints('default') + `write${turn}/`);
  return count / seconds;
}

async function readTurn(side: Side, rounds: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint();
    const nodes = await side.guest.getNodeList('web', { ports: ['http'] });
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (nodes.length !== INSTANCES) throw new Error(`${side.name}: expected ${INSTANCES} nodes, got ${nodes.length}`);
  }
  return samples;
}

/** One configuration: server TLS (with client certificates when `auth` is on too) and/or RBAC with passwords. */
interface Setup {
  name: string;
  tls: boolean;
  auth: boolean;
}

const SETUPS: Setup[] = [
  { name: 'plain', tls: false, auth: false },
  { name: 'auth', tls: false, auth: true },
  { name: 'TLS', tls: true, auth: false },
  { name: 'TLS + auth', tls: true, auth: true },
];

const tls = TlsFiles.create();
const sides: Side[] = [];
const servers: EtcdProcess[] = [];
try {
  /** What a party presents: the CA with TLS, a client certificate with TLS and auth, its user and password with auth. */
  const accessOf = (setup: Setup, user?: { name: string; password: string }): EtcdAccess => {
    const pair = setup.tls && setup.auth ? tls.client(user?.name ?? 'bench') : undefined;
    return {
      ...(setup.tls ? { ca: readFileSync(tls.ca), serverName: 'localhost' } : {}),
      ...(pair ? { cert: readFileSync(pair.cert), key: readFileSync(pair.key) } : {}),
      ...(setup.auth && user ? { username: user.name, password: user.password } : {}),
    };
  };
  const containerEnv = (setup: Setup, etcd: EtcdProcess): Record<string, string> => {
    const env: Record<string, string> = {
      ENVIRONMENT_NAME: 'default',
      ETCD_ENDPOINTS: etcd.endpoint,
      THESEUS_ETCD_PREFIX: PREFIX,
    };
    if (setup.auth)
      Object.assign(env, { ETCD_USERNAME: USERS.container.name, ETCD_PASSWORD: USERS.container.password });
    if (setup.tls) Object.assign(env, { ETCD_CA_FILE: tls.ca, ETCD_SERVER_NAME: 'localhost' });
    if (setup.tls && setup.auth) {
      const pair = tls.client(USERS.container.name);
      Object.assign(env, { ETCD_CERT_FILE: pair.cert, ETCD_KEY_FILE: pair.key });
    }
    return env;
  };

  for (const setup of SETUPS) {
    const etcd = await EtcdProcess.start(
      '127.0.0.1',
      setup.tls ? { tls: { ...tls.server, ...(setup.auth ? { clientCa: tls.ca } : {}) } } : {},
    );
    servers.push(etcd);
    if (setup.auth) {
      const root = { name: 'root', password: 'root-password' };
      await applyEtcdRbac(
        (asRoot) =>
          createEtcdClient({ endpoints: [etcd.endpoint], access: accessOf(setup, asRoot ? root : undefined) }),
        { prefix: PREFIX, rootPassword: root.password, users: USERS },
      );
    }
    const writer = createEtcdClient({
      endpoints: [etcd.endpoint],
      timeoutMs: 30_000,
      access: accessOf(setup, USERS.subscriber),
    });
    sides.push({
      name: setup.name,
      etcd,
      writer,
      guest: new Guest({ env: containerEnv(setup, etcd) }),
      writes: [],
      reads: [],
    });
  }

  for (const side of sides) {
    const store = new EndpointStore({
      client: side.writer,
      layout,
      logger: createLogger({ component: 'bench', silent: true }),
      metrics: new SubscriberMetrics(),
      cluster: 'bench',
    });
    const guard = `election/${layout.election('subscriber')}/bench-fixture`;
    await side.writer.put(guard).value('leader');
    store.lead(guard);
    for (let i = 0; i < INSTANCES; i++) {
      const taskId = `web.i${i}`;
      store.submit({
        key: layout.endpoint('default', 'web', taskId),
        appId: '/theseus/default/web',
        taskId,
        at: 1_000,
        value: encodeRecord(record(taskId, i, 1_000)),
      });
    }
    await store.flushed();
    await writeTurn(side, 0, 2_000); // warm-up
    await readTurn(side, 20);
  }
  for (let turn = 1; turn <= TURNS; turn++) {
    // Each turn starts with the next configuration, and every other turn goes the other way round.
    const rotated = [...sides.slice(turn % sides.length), ...sides.slice(0, turn % sides.length)];
    for (const side of turn % 2 ? rotated : rotated.reverse()) {
      side.writes.push(await writeTurn(side, turn, RECORDS));
      side.reads.push(...(await readTurn(side, READS)));
    }
  }

  const plain = sides[0]!;
  const row = (s: Side) => ({
    'subscriber writes/s (median)': Math.round(median(s.writes)),
    'getNodeList p50 ms': Number(percentile(s.reads, 0.5).toFixed(2)),
    'getNodeList p99 ms': Number(percentile(s.reads, 0.99).toFixed(2)),
    'writes / plain': Number((median(s.writes) / median(plain.writes)).toFixed(2)),
    'p50 / plain': Number((percentile(s.reads, 0.5) / percentile(plain.reads, 0.5)).toFixed(2)),
  });
  console.log(
    `etcd authentication and TLS: ${RECORDS.toLocaleString('en-US')} records written per turn, getNodeList over ${INSTANCES} instances, ${TURNS} alternating turns`,
  );
  console.table(Object.fromEntries(sides.map((side) => [side.name, row(side)])));
} finally {
  for (const side of sides) {
    await side.guest.close();
    side.writer.close();
  }
  for (const server of servers) await server.destroy();
  tls.destroy();
}
