import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../errors.js';
import { readDeployDocument, SpecSyntaxError, SpecTooLargeError, type SpecProblem } from './index.js';

const EXAMPLE = `
deploy:
  ingestor:
    image: registry.local:5000/flask
    labels: [dev]
    ports: {ssh: 22, api: 5000}
    environment: {APP_NAME: Ingestor}
    instances: 4
    cpus: 0.1
    mem: 128
remove:
  old-ingestor: {labels: [dev]}
`;

function problemsOf(fn: () => unknown): SpecProblem[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError || err instanceof SpecSyntaxError || err instanceof SpecTooLargeError)
      return err.problems;
    throw err;
  }
  assert.fail('expected the document to be rejected');
}

test('the document of the original reads into resolved services with defaults', () => {
  const doc = readDeployDocument(EXAMPLE, 'yaml');
  assert.equal(doc.deploy.length, 1);
  const [svc] = doc.deploy;
  assert.equal(svc!.service, 'ingestor');
  assert.equal(svc!.namespace, 'default');
  assert.deepEqual(svc!.labels, ['dev']);
  assert.deepEqual(svc!.ports, [
    { name: 'ssh', containerPort: 22, protocol: 'tcp', hostPort: 0 },
    { name: 'api', containerPort: 5000, protocol: 'tcp', hostPort: 0 },
  ]);
  assert.equal(svc!.instances, 4);
  assert.equal(svc!.disk, 0);
  assert.deepEqual(doc.remove, [{ service: 'old-ingestor', namespace: 'default', labels: ['dev'] }]);
});

test('instances 0 is kept (scale to zero), and real JSON with true/null is accepted', () => {
  const doc = readDeployDocument(
    JSON.stringify({
      deploy: {
        web: {
          image: 'nginx',
          instances: 0,
          environment: { DEBUG: true },
          labels: null === null ? ['b', 'a', 'a'] : [],
        },
      },
    }),
    'json',
  );
  assert.equal(doc.deploy[0]!.instances, 0);
  assert.equal(doc.deploy[0]!.environment.DEBUG, 'true');
  assert.deepEqual(doc.deploy[0]!.labels, ['a', 'b']);
  const withNull = readDeployDocument('{"deploy": {"web": {"image": "nginx"}}, "remove": null}', 'json');
  assert.equal(withNull.remove.length, 0);
});

test('the same service with two label sets is two entries side by side', () => {
  const doc = readDeployDocument(
    'deploy:\n  web:\n    - {image: nginx, labels: [blue]}\n    - {image: nginx, labels: [green]}\n',
    'yaml',
  );
  assert.deepEqual(
    doc.deploy.map((s) => s.labels),
    [['blue'], ['green']],
  );
});

test('every problem is reported with its path and YAML position', () => {
  const text = [
    'deploy:',
    '  web:',
    '    image: nginx',
    '    instancs: 3',
    '    ports: {Http: 80}',
    '    environment: {SERVICE_NAME: spoof}',
    '    cmd: run',
    '    args: [x]',
    '  Bad_Name:',
    '    image: nginx',
    'services: {}',
  ].join('\n');
  const problems = problemsOf(() => readDeployDocument(text, 'yaml'));
  const byPath = new Map(problems.map((p) => [p.path, p]));
  assert.ok(byPath.get('/deploy/web/instancs')?.message.includes('unknown field'));
  assert.equal(byPath.get('/deploy/web/instancs')?.line, 4);
  assert.equal(byPath.get('/deploy/web/instancs')?.column, 5);
  assert.ok(byPath.has('/deploy/Bad_Name'));
  assert.ok(byPath.has('/services'));
  assert.equal(byPath.get('/services')?.line, 11);
});

test('semantic problems: reserved env, port names, cmd+args, health check ports, constraints', () => {
  const text = `
deploy:
  web:
    image: nginx
    ports: {Http: 80, api: 8080}
    environment: {SERVICE_NAME: spoof, CONTAINER_PORT_API: "1", OK_VAR: 1}
    cmd: run
    args: [x]
    healthChecks: [{port: nope}, {protocol: COMMAND}]
    constraints:
      hostname: UNIQUE
      rack: GROUP_BY x
      zone: LIKE ([
      host: MAX_PER
      x: FOO
`;
  const problems = problemsOf(() => readDeployDocument(text, 'yaml'));
  const paths = problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    '/deploy/web/args',
    '/deploy/web/constraints/host',
    '/deploy/web/constraints/rack',
    '/deploy/web/constraints/x',
    '/deploy/web/constraints/zone',
    '/deploy/web/environment/CONTAINER_PORT_API',
    '/deploy/web/environment/SERVICE_NAME',
    '/deploy/web/healthChecks/0/port',
    '/deploy/web/healthChecks/1/command',
    '/deploy/web/ports/Http',
  ]);
});

test('host mounts are refused unless their directory is allowed', () => {
  const text =
    'deploy:\n  db:\n    image: postgres\n    volumes: ["/srv/data/db:/var/lib/postgresql:rw", "/etc:/host-etc:ro"]\n';
  const refused = problemsOf(() => readDeployDocument(text, 'yaml'));
  assert.equal(refused.length, 2);
  const partly = problemsOf(() => readDeployDocument(text, 'yaml', { hostVolumePaths: ['/srv/data'] }));
  assert.deepEqual(
    partly.map((p) => p.path),
    ['/deploy/db/volumes/1'],
  );
  const doc = readDeployDocument(text.replace(', "/etc:/host-etc:ro"', ''), 'yaml', { hostVolumePaths: ['/srv/data'] });
  assert.deepEqual(doc.deploy[0]!.volumes, [
    { hostPath: '/srv/data/db', containerPath: '/var/lib/postgresql', mode: 'RW' },
  ]);
  const escape = problemsOf(() =>
    readDeployDocument('deploy:\n  db:\n    image: x\n    volumes: ["/srv/data/../../etc:/x"]\n', 'yaml', {
      hostVolumePaths: ['/srv/data'],
    }),
  );
  assert.equal(escape.length, 1);
});

test('file:// URIs are refused unless deployer.fileUris allows them; other schemes pass', () => {
  const text =
    'deploy:\n  web:\n    image: nginx\n    uris: ["https://example.com/app.tgz", "file:///etc/shadow", {uri: "FILE:///root/.ssh/id_rsa"}]\n';
  const refused = problemsOf(() => readDeployDocument(text, 'yaml'));
  assert.deepEqual(
    refused.map((p) => p.path),
    ['/deploy/web/uris/1', '/deploy/web/uris/2'],
  );
  assert.match(refused[0]!.message, /file:\/\/ URIs are not accepted .*deployer\.fileUris/);
  const allowed = readDeployDocument(text, 'yaml', { fileUris: true });
  assert.deepEqual(
    allowed.deploy[0]!.uris.map((u) => u.uri),
    ['https://example.com/app.tgz', 'file:///etc/shadow', 'FILE:///root/.ssh/id_rsa'],
  );
});

test('readable constraints in every written form resolve to operator triples', () => {
  const doc = readDeployDocument(
    'deploy:\n  web:\n    image: nginx\n    constraints: ["hostname UNIQUE", {rack: GROUP_BY 3}, "zone: LIKE us-.*", {host: MAX_PER 2}, {dc: CLUSTER east}, {os: "UNLIKE win.*"}]\n',
    'yaml',
  );
  assert.deepEqual(doc.deploy[0]!.constraints, [
    { field: 'hostname', operator: 'UNIQUE' },
    { field: 'rack', operator: 'GROUP_BY', value: '3' },
    { field: 'zone', operator: 'LIKE', value: 'us-.*' },
    { field: 'host', operator: 'MAX_PER', value: '2' },
    { field: 'dc', operator: 'CLUSTER', value: 'east' },
    { field: 'os', operator: 'UNLIKE', value: 'win.*' },
  ]);
});

test('the same app twice, in deploy and remove, is an error', () => {
  const problems = problemsOf(() =>
    readDeployDocument('deploy:\n  web: {image: nginx, labels: [a]}\nremove:\n  web: {labels: [a]}\n', 'yaml'),
  );
  assert.deepEqual(
    problems.map((p) => p.path),
    ['/remove/web'],
  );
});

test('YAML syntax errors carry line and column', () => {
  const problems = problemsOf(() => readDeployDocument('deploy:\n  web: [1,\n    image: x: y\n', 'yaml'));
  assert.equal(problems.length, 1);
  assert.equal(typeof problems[0]!.line, 'number');
  assert.equal(typeof problems[0]!.column, 'number');
  assert.ok(problems[0]!.line! >= 2);
  const json = problemsOf(() => readDeployDocument('{\n  "deploy": {"web": [1,, 2]}\n}', 'json'));
  assert.equal(json[0]!.line, 2);
});

test('an alias bomb is rejected before it is expanded', () => {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++)
    lines.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  lines.push('deploy: {web: {image: nginx, labels: *a11}}');
  assert.throws(() => readDeployDocument(lines.join('\n'), 'yaml'), SpecTooLargeError);
  // a recursive alias is refused too
  assert.throws(() => readDeployDocument('deploy: &d {web: {image: nginx, labels: *d}}', 'yaml'), SpecSyntaxError);
});

test('aliases within the bound work as shared values', () => {
  const problems = problemsOf(() => readDeployDocument('base: &base {image: nginx}\ndeploy:\n  web: *base\n', 'yaml'));
  assert.deepEqual(
    problems.map((p) => p.path),
    ['/base'],
  );
  const doc = readDeployDocument('deploy:\n  web: &w {image: nginx, labels: [a]}\n  api: *w\n', 'yaml');
  assert.deepEqual(
    doc.deploy.map((s) => s.service),
    ['web', 'api'],
  );
});

test('killGracePeriod, onFailure and deadline: seconds or durations, with their defaults', () => {
  const [plain] = readDeployDocument('deploy:\n  web: {image: nginx}\n', 'yaml').deploy;
  assert.equal(plain!.killGracePeriodSeconds, undefined);
  assert.equal(plain!.onFailure, 'rollback');
  assert.equal(plain!.deadlineSeconds, 600);
  const [set] = readDeployDocument(
    'deploy:\n  web: {image: nginx, killGracePeriod: 1m30s, onFailure: keep, deadline: 2m}\n',
    'yaml',
  ).deploy;
  assert.equal(set!.killGracePeriodSeconds, 90);
  assert.equal(set!.onFailure, 'keep');
  assert.equal(set!.deadlineSeconds, 120);
  const [numbers] = readDeployDocument(
    'deploy:\n  web: {image: nginx, killGracePeriod: 0, deadline: 45}\n',
    'yaml',
  ).deploy;
  assert.equal(numbers!.killGracePeriodSeconds, 0);
  assert.equal(numbers!.deadlineSeconds, 45);
});

test('a bad killGracePeriod, onFailure or deadline is reported at its path', () => {
  const problems = problemsOf(() =>
    readDeployDocument(
      'deploy:\n  web: {image: nginx, killGracePeriod: soon, onFailure: retry}\n  api: {image: nginx, deadline: 0s}\n  db: {image: nginx, killGracePeriod: -1}\n',
      'yaml',
    ),
  );
  const at = (path: string) => problems.find((p) => p.path === path);
  assert.match(at('/deploy/web/killGracePeriod')?.message ?? '', /duration like 30s/);
  assert.ok(at('/deploy/web/onFailure'), JSON.stringify(problems));
  assert.match(at('/deploy/api/deadline')?.message ?? '', /at least 1 second/);
  assert.ok(at('/deploy/db/killGracePeriod'), JSON.stringify(problems));
});

test('the JSON Schema documents the new fields with their defaults', async () => {
  const { deployDocumentJsonSchema } = await import('./index.js');
  const text = JSON.stringify(deployDocumentJsonSchema());
  for (const field of ['killGracePeriod', 'onFailure', 'deadline'])
    assert.match(text, new RegExp(`"${field}":\\{"description"`));
  assert.match(text, /"onFailure":\{[^}]*"default":"rollback"/);
  assert.match(text, /"deadline":\{[^}]*"default":600/);
});
