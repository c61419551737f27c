import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MARATHON_LABELS, parseAppId, readDeployDocument, serviceRefOfApp } from '@theseus/services';
import { specHash, toMarathonApp } from './translate.js';
import { APP_DEFINITION_1_4_SCHEMA_PATH, appDefinitionProblems } from '@theseus/cluster/testing';

const context = {
  appGroup: 'theseus',
  etcdEndpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
  etcdPrefix: '/theseus',
};

function appsOf(yamlText: string, options = {}) {
  return readDeployDocument(yamlText, 'yaml', options).deploy.map((s) => toMarathonApp(s, context));
}

/** Documents covering every field and its variants. */
const DOCUMENTS: Record<string, string> = {
  minimal: 'deploy:\n  web: {image: nginx}\n',
  original: `deploy:
  ingestor:
    image: registry.local:5000/flask
    labels: [dev]
    ports: {ssh: 22, api: 5000}
    environment: {APP_NAME: Ingestor, WATCHES: 'ingestor,tester'}
    instances: 4
    cpus: 0.1
    mem: 128
`,
  scaleToZero: 'deploy:\n  web: {image: nginx, instances: 0, labels: [b, a]}\n',
  portsAndProtocols: `deploy:
  dns:
    image: coredns/coredns:1.11
    namespace: infra
    ports:
      dns: {port: 53, protocol: udp}
      both: {port: 5353, protocol: "udp,tcp"}
      metrics: {port: 9153, hostPort: 9153}
`,
  commandAndArgs:
    'deploy:\n  job: {image: busybox, cmd: "sleep 1000"}\n  worker: {image: busybox, args: ["--queue", "jobs"]}\n',
  constraints: `deploy:
  db:
    image: postgres:16
    constraints:
      - hostname UNIQUE
      - rack: GROUP_BY 3
      - zone: LIKE us-east-.*
      - zone: UNLIKE us-east-1c
      - host: MAX_PER 2
      - dc: CLUSTER east
      - rack: GROUP_BY
`,
  healthChecks: `deploy:
  api:
    image: example/api
    ports: {http: 8080, admin: 8081}
    healthChecks:
      - {path: /healthz}
      - {port: admin, protocol: MESOS_TCP, intervalSeconds: 5}
      - {protocol: HTTP, port: admin, path: /ready, gracePeriodSeconds: 10, timeoutSeconds: 2, maxConsecutiveFailures: 5}
      - {command: "test -f /tmp/ok"}
`,
  upgradeAndUris: `deploy:
  web:
    image: nginx
    upgrade: {minimumHealthCapacity: 0.5, maximumOverCapacity: 0.2}
    uris: [https://example.com/config.tgz, {uri: https://example.com/run.sh, executable: true, extract: false, destPath: run.sh, cache: true}]
    disk: 512
    mem: 1024.5
    cpus: 2
`,
  volumes:
    'deploy:\n  db:\n    image: postgres\n    volumes: ["/srv/data/pg:/var/lib/postgresql/data", {hostPath: /srv/data/conf, containerPath: /etc/pg, mode: ro}]\n',
  labeledGroups:
    'deploy:\n  web:\n    - {image: nginx, labels: [blue, prod], instances: 3}\n    - {image: nginx, labels: [green, prod], instances: 1}\n',
};

test("every generated app validates against Marathon's AppDefinition schema", () => {
  let count = 0;
  for (const [name, text] of Object.entries(DOCUMENTS)) {
    for (const app of appsOf(text, { hostVolumePaths: ['/srv/data'] })) {
      assert.deepEqual(appDefinitionProblems(app), [], `${name}: ${app.id}`);
      count++;
    }
  }
  assert.ok(count >= 12);
});

test('legacy networking: apps for Marathon up to 1.4 validate against its 1.4.12 schema and keep their named ports', () => {
  const legacy = { ...context, networkApi: 'legacy' as const };
  let count = 0;
  for (const [name, text] of Object.entries(DOCUMENTS)) {
    for (const spec of readDeployDocument(text, 'yaml', { hostVolumePaths: ['/srv/data'] }).deploy) {
      const app = toMarathonApp(spec, legacy);
      assert.deepEqual(appDefinitionProblems(app, APP_DEFINITION_1_4_SCHEMA_PATH), [], `${name}: ${app.id}`);
      assert.equal(app.networks, undefined);
      assert.equal(app.container!.portMappings, undefined);
      assert.equal(app.container!.docker!.network, 'BRIDGE');
      assert.deepEqual(app.container!.docker!.portMappings, toMarathonApp(spec, context).container!.portMappings ?? []);
      count++;
    }
  }
  assert.ok(count >= 12);
  // the canonical form is what 1.4 refuses, so the check above means something
  const [canonical] = appsOf(DOCUMENTS.original!);
  assert.notDeepEqual(appDefinitionProblems(canonical, APP_DEFINITION_1_4_SCHEMA_PATH), []);
});

test('the schema check can fail: a malformed app is reported with Marathon-style paths', () => {
  const [app] = appsOf(DOCUMENTS.minimal!);
  const broken = { ...app!, instances: '4', constraints: [['hostname', 'SOMETIMES']] };
  const paths = appDefinitionProblems(broken).map((p) => p.path);
  assert.ok(paths.includes('/instances'));
  assert.ok(paths.some((p) => p.startsWith('/constraints(0)')));
});

test('the original example maps to a 1.5+ canonical Docker app with numbers as numbers', () => {
  const [app] = appsOf(DOCUMENTS.original!);
  assert.equal(app!.id, '/theseus/default/ingestor--dev');
  assert.equal(app!.instances, 4);
  assert.equal(app!.cpus, 0.1);
  assert.equal(app!.mem, 128);
  assert.deepEqual(app!.networks, [{ mode: 'container/bridge' }]);
  assert.equal(app!.container?.type, 'DOCKER');
  assert.equal(app!.container?.docker?.image, 'registry.local:5000/flask');
  assert.deepEqual(app!.container?.portMappings, [
    { containerPort: 22, hostPort: 0, protocol: 'tcp', name: 'ssh' },
    { containerPort: 5000, hostPort: 0, protocol: 'tcp', name: 'api' },
  ]);
  assert.equal(app!.env?.SERVICE_NAME, 'ingestor');
  assert.equal(app!.env?.ENVIRONMENT_NAME, 'default');
  assert.equal(app!.env?.LABELS, 'dev');
  assert.equal(app!.env?.ETCD_ENDPOINTS, 'http://10.0.0.1:2379,http://10.0.0.2:2379');
  assert.equal(app!.env?.THESEUS_ETCD_PREFIX, '/theseus');
  assert.equal(app!.env?.PORT_NAMES, 'ssh,api');
  assert.equal(app!.env?.CONTAINER_PORT_API, '5000');
  assert.equal(app!.env?.APP_NAME, 'Ingestor');
  assert.deepEqual(serviceRefOfApp(app!), { namespace: 'default', service: 'ingestor', labels: ['dev'] });
  assert.deepEqual(parseAppId(app!.id), { namespace: 'default', service: 'ingestor', labels: ['dev'] });
});

test('instances 0 stays 0 and labeled groups are separate apps', () => {
  assert.equal(appsOf(DOCUMENTS.scaleToZero!)[0]!.instances, 0);
  assert.deepEqual(
    appsOf(DOCUMENTS.labeledGroups!).map((a) => a.id),
    ['/theseus/default/web--blue--prod', '/theseus/default/web--green--prod'],
  );
});

test('constraints become Marathon triples with string values', () => {
  const [app] = appsOf(DOCUMENTS.constraints!);
  assert.deepEqual(app!.constraints, [
    ['hostname', 'UNIQUE'],
    ['rack', 'GROUP_BY', '3'],
    ['zone', 'LIKE', 'us-east-.*'],
    ['zone', 'UNLIKE', 'us-east-1c'],
    ['host', 'MAX_PER', '2'],
    ['dc', 'CLUSTER', 'east'],
    ['rack', 'GROUP_BY'],
  ]);
});

test('health checks point at ports by index; fixed host ports and protocols are kept', () => {
  const [api] = appsOf(DOCUMENTS.healthChecks!);
  assert.deepEqual(
    api!.healthChecks?.map((h) => [h.protocol, h.portIndex, h.path, h.command?.value]),
    [
      ['MESOS_HTTP', 0, '/healthz', undefined],
      ['MESOS_TCP', 1, undefined, undefined],
      ['HTTP', 1, '/ready', undefined],
      ['COMMAND', undefined, undefined, 'test -f /tmp/ok'],
    ],
  );
  const [dns] = appsOf(DOCUMENTS.portsAndProtocols!);
  assert.deepEqual(
    dns!.container?.portMappings?.map((p) => [p.name, p.protocol, p.hostPort]),
    [
      ['dns', 'udp', 0],
      ['both', 'udp,tcp', 0],
      ['metrics', 'tcp', 9153],
    ],
  );
});

test('uris become fetch entries and upgrade becomes upgradeStrategy', () => {
  const [app] = appsOf(DOCUMENTS.upgradeAndUris!);
  assert.deepEqual(app!.upgradeStrategy, { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.2 });
  assert.deepEqual(app!.fetch, [
    { uri: 'https://example.com/config.tgz', extract: true, executable: false, cache: false },
    { uri: 'https://example.com/run.sh', extract: false, executable: true, cache: true, destPath: 'run.sh' },
  ]);
});

test('the spec hash ignores instances and changes with anything else', () => {
  const [a] = appsOf('deploy:\n  web: {image: nginx, instances: 1}\n');
  const [b] = appsOf('deploy:\n  web: {image: nginx, instances: 5}\n');
  const [c] = appsOf('deploy:\n  web: {image: nginx:2, instances: 1}\n');
  const [d] = appsOf('deploy:\n  web: {image: nginx, instances: 1, environment: {A: b}}\n');
  const hash = (x: typeof a) => x!.labels![MARATHON_LABELS.specHash];
  assert.equal(hash(a), hash(b));
  assert.notEqual(hash(a), hash(c));
  assert.notEqual(hash(a), hash(d));
  assert.equal(specHash(a!), hash(a));
});

test('apps from 300 generated services with random combinations of fields all validate', () => {
  let seed = 20141;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const maybe = (line: string) => (random() < 0.5 ? [line] : []);
  const lines = ['deploy:'];
  for (let i = 0; i < 300; i++) {
    const ports = random() < 0.8;
    lines.push(
      `  gen-${i}:`,
      `    image: ${pick(['nginx', 'registry.local:5000/a/b:1.2', 'busybox@sha256:' + 'a'.repeat(64)])}`,
      ...maybe(`    labels: [${pick(['a', 'a, b', 'prod, blue, x-1'])}]`),
      ...maybe(`    namespace: ${pick(['default', 'staging', 'team-7'])}`),
      ...(ports
        ? [
            `    ports: {http: ${1 + Math.floor(random() * 65000)}, ${pick(['dns: {port: 53, protocol: udp}', 'fixed: {port: 9000, hostPort: ' + (1000 + i) + '}', 'both: {port: 7000, protocol: "udp,tcp"}'])}}`,
          ]
        : []),
      ...maybe(`    environment: {A: "1", B: ${pick(['true', '3', 'text'])}}`),
      ...maybe(`    instances: ${Math.floor(random() * 10)}`),
      ...maybe(`    cpus: ${pick(['0.001', '0.5', '4'])}`),
      ...maybe(`    mem: ${pick(['16', '128.5', '65536'])}`),
      ...maybe(`    disk: ${pick(['0', '1024'])}`),
      ...(random() < 0.3 ? [`    cmd: "sleep ${i}"`] : random() < 0.3 ? ['    args: ["--flag", "x y"]'] : []),
      ...maybe(
        `    constraints: [${pick(['"hostname UNIQUE"', '{rack: GROUP_BY 2}', '{zone: "LIKE a|b"}', '{host: MAX_PER 3}', '{dc: CLUSTER x}', '{os: "UNLIKE win.*"}'])}]`,
      ),
      ...(ports
        ? maybe(
            `    healthChecks: [${pick(['{path: /}', '{protocol: MESOS_TCP}', '{protocol: HTTPS, path: /h, port: http}', '{command: "true"}'])}]`,
          )
        : []),
      ...maybe(
        `    upgrade: {minimumHealthCapacity: ${pick(['0', '0.5', '1'])}, maximumOverCapacity: ${pick(['0', '0.3', '1'])}}`,
      ),
      ...maybe(`    uris: [${pick(['https://x/y.tgz', '{uri: "http://h/run.sh", executable: true}'])}]`),
      ...maybe(`    volumes: ["/srv/data/${i}:/data${pick(['', ':ro', ':rw'])}"]`),
    );
  }
  const apps = appsOf(lines.join('\n') + '\n', { hostVolumePaths: ['/srv/data'] });
  assert.equal(apps.length, 300);
  for (const app of apps) assert.deepEqual(appDefinitionProblems(app), [], app.id);
});

test('killGracePeriod becomes taskKillGracePeriodSeconds; onFailure and deadline stay out of the app', () => {
  const [graceful] = appsOf('deploy:\n  web: {image: nginx, killGracePeriod: 30s, onFailure: stop, deadline: 5m}\n');
  assert.equal(graceful!.taskKillGracePeriodSeconds, 30);
  assert.deepEqual(appDefinitionProblems(graceful!), []);
  assert.doesNotMatch(JSON.stringify(graceful), /onFailure|deadline/);
  const [plain] = appsOf('deploy:\n  web: {image: nginx}\n');
  const [sameWithPolicy] = appsOf('deploy:\n  web: {image: nginx, onFailure: keep, deadline: 1m}\n');
  assert.equal('taskKillGracePeriodSeconds' in plain!, false);
  assert.equal(plain!.labels![MARATHON_LABELS.specHash], sameWithPolicy!.labels![MARATHON_LABELS.specHash]);
  assert.notEqual(plain!.labels![MARATHON_LABELS.specHash], graceful!.labels![MARATHON_LABELS.specHash]);
});

test("containers get the read-only etcd user, the CA and the user's client certificate; none without them", () => {
  const spec = readDeployDocument(DOCUMENTS.minimal!, 'yaml').deploy[0]!;
  const access = { username: 'theseus-container', password: 'pw', ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' };
  const env = toMarathonApp(spec, { ...context, etcdAccess: access }).env ?? {};
  assert.deepEqual(
    [env.ETCD_USERNAME, env.ETCD_PASSWORD, env.ETCD_CA, env.ETCD_CERT, env.ETCD_KEY],
    ['theseus-container', 'pw', 'CA PEM', 'CERT PEM', 'KEY PEM'],
  );
  const plain = toMarathonApp(spec, context).env ?? {};
  for (const name of ['ETCD_USERNAME', 'ETCD_PASSWORD', 'ETCD_CA', 'ETCD_CERT', 'ETCD_KEY'])
    assert.ok(!(name in plain), name);
});
