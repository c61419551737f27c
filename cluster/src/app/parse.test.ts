import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseApp } from './parse.js';
import { AppValidationError } from './problems.js';
import { appSchemaValidator, exampleApps, INVALID_EXAMPLES, withoutNewerFields } from './schema.test-support.js';

describe('app definitions from the conformance examples', () => {
  const validate = appSchemaValidator();
  const apps = exampleApps();
  it('finds the example apps', () => assert.ok(apps.length >= 30, `only ${apps.length} example apps found`));

  for (const { name, body } of apps) {
    const reason = INVALID_EXAMPLES[name];
    if (reason) {
      it(`rejects ${name}`, () => {
        assert.throws(
          () => parseApp(body),
          (err: unknown) => err instanceof AppValidationError && err.details.some((d) => d.errors.includes(reason)),
        );
      });
    } else {
      it(`accepts ${name} and its canonical form validates against AppDefinition.json`, () => {
        const app = {
          ...parseApp(body),
          version: '2020-01-01T00:00:00.000Z',
          versionInfo: { lastScalingAt: '2020-01-01T00:00:00.000Z', lastConfigChangeAt: '2020-01-01T00:00:00.000Z' },
        };
        assert.ok(validate(withoutNewerFields(app)), JSON.stringify(validate.errors));
        assert.ok(app.id.startsWith('/'));
        assert.equal(
          Boolean(app.container?.docker && 'network' in app.container.docker),
          false,
          'responses use the 1.5 form only',
        );
      });
    }
  }
});

describe('Marathon validation rules', () => {
  const rejects = (body: unknown, path: string, error: string | RegExp, kind: 'json' | 'object' = 'object') =>
    assert.throws(
      () => parseApp(body),
      (err: unknown) => {
        assert.ok(err instanceof AppValidationError, String(err));
        assert.equal(err.kind, kind);
        const entry = err.details.find((d) => d.path === path);
        assert.ok(entry, `no problem at ${path}: ${JSON.stringify(err.details)}`);
        assert.ok(
          entry.errors.some((e) => (typeof error === 'string' ? e === error : error.test(e))),
          JSON.stringify(entry.errors),
        );
        return true;
      },
    );

  it('checks id segments and reserved suffixes', () => {
    rejects({ id: '/My_App', cmd: 'x' }, '/id', /must fully match regular expression/);
    rejects({ id: '/a/-b', cmd: 'x' }, '/id', /must fully match regular expression/);
    rejects({ id: '/a/restart', cmd: 'x' }, '/id', /reserved keywords/);
    assert.equal(parseApp({ id: 'a/b.c/d-e', cmd: 'x' }).id, '/a/b.c/d-e');
  });
  it('reports JSON type errors with play-json keys and paths with (n) indices', () => {
    rejects({ id: 123, cmd: 'x' }, '/id', 'error.expected.jsstring', 'json');
    rejects({ id: '/a', cmd: 'x', instances: 'two' }, '/instances', 'error.expected.jsnumber', 'json');
    rejects(
      { id: '/a', cmd: 'x', portDefinitions: [{ port: 1 }, { port: 'x' }] },
      '/portDefinitions(1)/port',
      'error.expected.jsnumber',
      'json',
    );
    rejects({ cmd: 'x' }, '/id', 'error.path.missing', 'json');
  });
  it('checks resources, strategies and backoff', () => {
    rejects({ id: '/a', cmd: 'x', instances: -1 }, '/instances', 'got -1, expected 0 or more');
    rejects({ id: '/a', cmd: 'x', cpus: 0 }, '/cpus', 'got 0, expected 0.001 or more');
    rejects(
      { id: '/a', cmd: 'x', upgradeStrategy: { minimumHealthCapacity: 1.5 } },
      '/upgradeStrategy/minimumHealthCapacity',
      'is greater than 1',
    );
    rejects({ id: '/a', cmd: 'x', backoffFactor: 0.5 }, '/backoffFactor', 'got 0.5, expected 1 or more');
  });
  it('checks networking in both forms', () => {
    rejects(
      { id: '/a', container: { docker: { image: 'x', network: 'NONE' } } },
      '/container/docker/network',
      'unsupported docker network type NONE',
    );
    rejects(
      { id: '/a', cmd: 'x', portDefinitions: [{ port: 80 }, { port: 80 }] },
      '/portDefinitions',
      'Ports must be unique.',
    );
    rejects(
      {
        id: '/a',
        networks: [{ mode: 'container/bridge' }],
        container: { docker: { image: 'x' }, portMappings: [{ containerPort: 70000 }] },
      },
      '/container/portMappings(0)/containerPort',
      'got 70000, expected 65535 or less',
    );
    const legacy = parseApp({
      id: '/a',
      container: { type: 'DOCKER', docker: { image: 'x', network: 'BRIDGE', portMappings: [{ containerPort: 80 }] } },
    });
    assert.deepEqual(legacy.networks, [{ mode: 'container/bridge' }]);
    assert.deepEqual(legacy.container?.portMappings, [
      { containerPort: 80, hostPort: 0, servicePort: 0, protocol: 'tcp' },
    ]);
    assert.equal(legacy.portDefinitions, undefined);
    const discovery = parseApp({
      id: '/p',
      cmd: 'x',
      ipAddress: { networkName: 'dcos', discovery: { ports: [{ name: 'my-port', number: 7777, protocol: 'tcp' }] } },
    });
    assert.deepEqual(discovery.networks, [{ mode: 'container', name: 'dcos' }]);
    assert.deepEqual(discovery.container?.portMappings, [
      { containerPort: 7777, servicePort: 0, protocol: 'tcp', name: 'my-port' },
    ]);
  });
  it('fills Marathon defaults', () => {
    const app = parseApp({ id: '/a', cmd: 'sleep 1' });
    assert.equal(app.instances, 1);
    assert.equal(app.cpus, 1);
    assert.equal(app.mem, 128);
    assert.equal(app.maxLaunchDelaySeconds, 300);
    assert.deepEqual(app.portDefinitions, [{ port: 0, protocol: 'tcp', name: 'default' }]);
    assert.deepEqual(app.upgradeStrategy, { minimumHealthCapacity: 1, maximumOverCapacity: 1 });
  });
  it('needs cmd, args or a container, and not both cmd and args', () => {
    rejects({ id: '/a' }, '/', "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
    rejects(
      { id: '/a', cmd: 'x', args: ['y'], container: { docker: { image: 'i' } } },
      '/',
      "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
    );
  });
  it('keeps stored fields on partial update', () => {
    const base = parseApp({ id: '/a', cmd: 'sleep 1', env: { A: '1' }, instances: 2 });
    const updated = parseApp({ instances: 3 }, { base, pathId: '/a' });
    assert.equal(updated.instances, 3);
    assert.deepEqual(updated.env, { A: '1' });
  });
});
