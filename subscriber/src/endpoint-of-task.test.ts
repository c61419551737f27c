import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ENDPOINT_RECORD_VERSION,
  identityLabels,
  type EndpointPort,
  type EndpointRecord,
  type MarathonApp,
  type MarathonTask,
  type ServiceRef,
} from '@theseus/services';
import { decodeEndpointRecord, EtcdLayout } from '@theseus/services';
import { appModelOf, factsOfTask, isServing, type AppModel, type TaskFacts } from './endpoint-of-task.js';
import { EndpointEncoder, encodeRecord } from './endpoint-encoder.js';

/** The record the encoder must produce, built field by field as an object (the test's own reference). */
function endpointRecordOf(
  model: AppModel & { ref: ServiceRef },
  facts: TaskFacts,
  cluster: string,
  updatedAt: string,
): EndpointRecord {
  const ports: Record<string, EndpointPort> = {};
  for (const slot of model.ports) {
    const host = slot.hostPortIndex === undefined ? null : (facts.ports[slot.hostPortIndex] ?? null);
    const container = slot.containerPort === null ? null : slot.containerPort === 0 ? host : slot.containerPort;
    ports[slot.name] = { host, container, protocol: slot.protocol };
  }
  return {
    v: ENDPOINT_RECORD_VERSION,
    cluster,
    namespace: model.ref.namespace,
    service: model.ref.service,
    labels: [...model.ref.labels],
    appId: model.id,
    taskId: facts.taskId,
    appVersion: facts.version || model.version,
    host: facts.host,
    ipAddresses: facts.ipAddresses,
    ports,
    healthy: facts.healthy,
    startedAt: facts.startedAt,
    updatedAt,
  };
}

const ref = { namespace: 'shop', service: 'cart', labels: ['blue', 'prod'] };
const task = (extra: Partial<MarathonTask> = {}): MarathonTask => ({
  id: 'theseus_shop_cart--blue--prod.instance-1._app.1',
  appId: '/theseus/shop/cart--blue--prod',
  host: 'agent-7',
  state: 'TASK_RUNNING',
  startedAt: '2026-11-21T07:00:01.000Z',
  version: '2026-11-21T07:00:00.000Z',
  ports: [31001, 31002],
  ipAddresses: [{ ipAddress: '10.1.2.3', protocol: 'IPv4' }],
  ...extra,
});
const managed = (extra: Partial<MarathonApp>): MarathonApp => ({
  id: '/theseus/shop/cart--blue--prod',
  labels: identityLabels(ref),
  version: '2026-11-21T07:00:00.000Z',
  ...extra,
});

test('host networking: names from portDefinitions, unnamed as port<i>, no container port', () => {
  const model = appModelOf(
    managed({
      portDefinitions: [
        { port: 0, name: 'http' },
        { port: 0, protocol: 'udp' },
      ],
    }),
  );
  const record = endpointRecordOf(
    { ...model, ref: model.ref! },
    factsOfTask(model, task()),
    'c1',
    '2026-11-21T07:00:02.000Z',
  );
  assert.deepEqual(record, {
    v: 1,
    cluster: 'c1',
    namespace: 'shop',
    service: 'cart',
    labels: ['blue', 'prod'],
    appId: '/theseus/shop/cart--blue--prod',
    taskId: 'theseus_shop_cart--blue--prod.instance-1._app.1',
    appVersion: '2026-11-21T07:00:00.000Z',
    host: 'agent-7',
    ipAddresses: ['10.1.2.3'],
    ports: {
      http: { host: 31001, container: null, protocol: 'tcp' },
      port1: { host: 31002, container: null, protocol: 'udp' },
    },
    healthy: null,
    startedAt: '2026-11-21T07:00:01.000Z',
    updatedAt: '2026-11-21T07:00:02.000Z',
  });
});

test('bridge: every mapping has a host port in order; containerPort 0 means the host port', () => {
  const model = appModelOf(
    managed({
      networks: [{ mode: 'container/bridge' }],
      container: {
        type: 'DOCKER',
        portMappings: [
          { containerPort: 80, name: 'web' },
          { containerPort: 0, name: 'same' },
        ],
      },
    }),
  );
  const record = endpointRecordOf(
    { ...model, ref: model.ref! },
    factsOfTask(model, task()),
    'c1',
    '2026-11-21T07:00:02.000Z',
  );
  assert.deepEqual(record.ports, {
    web: { host: 31001, container: 80, protocol: 'tcp' },
    same: { host: 31002, container: 31002, protocol: 'tcp' },
  });
});

test('container networks: only mappings with hostPort take a host port; the 1.4 docker.portMappings form is read too', () => {
  const model = appModelOf(
    managed({
      networks: [{ mode: 'container', name: 'dev' }],
      container: {
        type: 'DOCKER',
        portMappings: [
          { containerPort: 80, name: 'web' },
          { containerPort: 22, hostPort: 0, name: 'ssh' },
        ],
      },
    }),
  );
  const record = endpointRecordOf(
    { ...model, ref: model.ref! },
    factsOfTask(model, task({ ports: [31005] })),
    'c1',
    '2026-11-21T07:00:02.000Z',
  );
  assert.deepEqual(record.ports, {
    web: { host: null, container: 80, protocol: 'tcp' },
    ssh: { host: 31005, container: 22, protocol: 'tcp' },
  });
  const legacy = appModelOf(
    managed({
      container: {
        type: 'DOCKER',
        docker: { image: 'x', network: 'BRIDGE', portMappings: [{ containerPort: 5000, name: 'api' }] },
      },
    }),
  );
  assert.deepEqual(
    endpointRecordOf(
      { ...legacy, ref: legacy.ref! },
      factsOfTask(legacy, task({ ports: [31009] })),
      'c1',
      '2026-11-21T07:00:02.000Z',
    ).ports,
    {
      api: { host: 31009, container: 5000, protocol: 'tcp' },
    },
  );
});

test('a real Marathon 1.10 app of the conformance examples maps without loss', () => {
  const path = new URL(
    '../../conformance/marathon/examples/third-party/marathon-lb-9e669ec0ee/tests/1-nginx-marathon1.5.json',
    import.meta.url,
  );
  const app = JSON.parse(readFileSync(path, 'utf8')) as MarathonApp;
  const model = appModelOf({ ...app, labels: { ...app.labels, ...identityLabels(ref) } });
  assert.equal(model.ports.length, app.container!.portMappings!.length);
  const record = endpointRecordOf(
    { ...model, ref: model.ref! },
    factsOfTask(model, task({ ports: [31100] })),
    'c1',
    '2026-11-21T07:00:02.000Z',
  );
  assert.deepEqual(record.ports, { port0: { host: 31100, container: 8080, protocol: 'tcp' } });
  assert.equal(model.healthCheckCount, 1);
});

test('health: null without checks; true only when every check passes; the gate follows requireHealthy', () => {
  const none = appModelOf(managed({}));
  assert.equal(factsOfTask(none, task()).healthy, null);
  const checked = appModelOf(managed({ healthChecks: [{ protocol: 'MESOS_HTTP' }, { protocol: 'MESOS_TCP' }] }));
  const result = (alive: boolean) => ({
    alive,
    consecutiveFailures: 0,
    firstSuccess: null,
    lastSuccess: null,
    lastFailure: null,
    instanceId: 'i',
  });
  assert.equal(factsOfTask(checked, task({ healthCheckResults: [] })).healthy, false);
  assert.equal(
    factsOfTask(checked, task({ healthCheckResults: [result(true)] })).healthy,
    false,
    'one of two checks has no result yet',
  );
  assert.equal(factsOfTask(checked, task({ healthCheckResults: [result(true), result(false)] })).healthy, false);
  assert.equal(factsOfTask(checked, task({ healthCheckResults: [result(true), result(true)] })).healthy, true);
  assert.equal(isServing(checked, 'TASK_RUNNING', false, true), false);
  assert.equal(isServing(checked, 'TASK_RUNNING', false, false), true);
  assert.equal(isServing(none, 'TASK_STAGING', null, true), false);
  assert.equal(
    appModelOf({ id: '/other', labels: {} }).ref,
    undefined,
    'apps without the identity labels are not managed',
  );
});

test('the state hash ignores updatedAt and startedAt, and nothing else', () => {
  const model = appModelOf(managed({ portDefinitions: [{ port: 0, name: 'http' }] }));
  const a = endpointRecordOf(
    { ...model, ref: model.ref! },
    factsOfTask(model, task()),
    'c1',
    '2026-11-21T07:00:02.000Z',
  );
  const state = (r: typeof a) => encodeRecord(r).state;
  assert.equal(state(a), state({ ...a, updatedAt: '2030-01-01T00:00:00.000Z', startedAt: null }));
  assert.notEqual(state(a), state({ ...a, host: 'elsewhere' }));
  assert.notEqual(state(a), state({ ...a, healthy: true }));
  assert.notEqual(state(a), state({ ...a, labels: ['blue'] }));
  assert.notEqual(state(a), state({ ...a, cluster: 'c2' }));
  assert.notEqual(state(a), state({ ...a, ipAddresses: [] }));
  assert.notEqual(state(a), state({ ...a, ports: { http: { host: 1, container: null, protocol: 'tcp' } } }));
});

test('the encoder writes, from an app and a task, the JSON of the endpoint record, as a record read back encodes', () => {
  const encoder = new EndpointEncoder(new EtcdLayout('/p'), 'c1');
  const apps = [
    managed({ portDefinitions: [{ port: 0, name: 'web' }, { port: 0, name: 'admin', protocol: 'udp' }, { port: 0 }] }),
    managed({
      networks: [{ mode: 'container/bridge' }],
      container: {
        type: 'DOCKER',
        portMappings: [
          { containerPort: 80, name: 'web' },
          { containerPort: 0, name: 'same' },
        ],
      },
    }),
    managed({
      networks: [{ mode: 'container', name: 'dcos' }],
      container: {
        type: 'DOCKER',
        portMappings: [
          { containerPort: 80, name: 'web' },
          { containerPort: 22, hostPort: 0, name: 'ssh' },
        ],
      },
    }),
    managed({ healthChecks: [{ protocol: 'MESOS_HTTP' }], portDefinitions: [] }),
  ];
  const tasks = [
    task(),
    task({ startedAt: undefined, ipAddresses: [], host: 'a "quoted" host' }),
    task({ ports: [31005] }),
  ];
  for (const app of apps) {
    const model = appModelOf(app);
    for (const t of tasks) {
      const facts = factsOfTask(model, t);
      const record = endpointRecordOf({ ...model, ref: model.ref! }, facts, 'c1', '2026-11-21T07:00:02.000Z');
      const encoded = encoder.encode(model, facts, '2026-11-21T07:00:02.000Z');
      assert.deepEqual(decodeEndpointRecord(encoded.json), record);
      assert.deepEqual(encoded, encodeRecord(record), 'a record read back encodes to the same JSON and state');
    }
    assert.equal(encoder.key(model, 'task.1'), new EtcdLayout('/p').endpoint('shop', 'cart', 'task.1'));
  }
  assert.throws(() => encoder.key(appModelOf(apps[0]!), 'a/b'), /invalid task id/);
});
