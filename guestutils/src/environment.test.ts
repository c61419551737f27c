// The answers that come from the container's environment: present, missing, defaults, precedence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest } from './guest.js';
import {
  ContainerNotFoundError,
  InvalidEnvironmentError,
  MissingEnvironmentError,
  PortNotFoundError,
} from './errors.js';
import { containerInternalAddress } from './environment.js';
import * as guestutils from './index.js';

const env = {
  SERVICE_NAME: 'web',
  ENVIRONMENT_NAME: 'staging',
  LABELS: 'blue,prod',
  PORT_NAMES: 'http,admin-api',
  CONTAINER_PORT_HTTP: '8080',
  CONTAINER_PORT_ADMIN_API: '0',
  PORT_ADMIN_API: '31002',
  MESOS_TASK_ID: 'theseus_staging_web--blue--prod.instance-1._app.1',
  HOST: '10.1.2.3',
};

test('who am I: service, environment, labels, container name and host address come from the environment', () => {
  const guest = new Guest({ env });
  assert.equal(guest.getServiceName(), 'web');
  assert.equal(guest.getEnvironmentName(), 'staging');
  assert.deepEqual(guest.getLabels(), ['blue', 'prod']);
  assert.equal(guest.getContainerName(), env.MESOS_TASK_ID);
  assert.equal(guest.getContainerHostAddress(), '10.1.2.3');
});

test("maestro's CONTAINER_NAME and CONTAINER_HOST_ADDRESS win over the scheduler's MESOS_TASK_ID and HOST", () => {
  const guest = new Guest({ env: { ...env, CONTAINER_NAME: 'web-1', CONTAINER_HOST_ADDRESS: '54.1.2.3' } });
  assert.equal(guest.getContainerName(), 'web-1');
  assert.equal(guest.getContainerHostAddress(), '54.1.2.3');
});

test('a missing variable is a MissingEnvironmentError naming every variable that could have answered', () => {
  const guest = new Guest({ env: {} });
  const cases: Array<[() => unknown, RegExp]> = [
    [() => guest.getServiceName(), /^service name: SERVICE_NAME is not set$/],
    [() => guest.getEnvironmentName(), /^environment name: ENVIRONMENT_NAME is not set$/],
    [() => guest.getContainerName(), /^container name: CONTAINER_NAME or MESOS_TASK_ID is not set$/],
    [() => guest.getContainerHostAddress(), /^container host address: CONTAINER_HOST_ADDRESS or HOST is not set$/],
  ];
  for (const [ask, message] of cases) {
    assert.throws(
      ask,
      (err: unknown) =>
        err instanceof MissingEnvironmentError && message.test(err.message) && err.code === 'ENV_MISSING',
    );
  }
  assert.deepEqual(guest.getLabels(), []);
  // An empty value is as good as none.
  assert.throws(() => new Guest({ env: { SERVICE_NAME: '  ' } }).getServiceName(), MissingEnvironmentError);
});

test('getPort answers the container port of a named port as a number', () => {
  const guest = new Guest({ env });
  assert.equal(guest.getPort('http'), 8080);
  assert.equal(typeof guest.getPort('http'), 'number');
});

test('getPort falls back to the host port PORT_<NAME> when the container port is 0 (host networking)', () => {
  assert.equal(new Guest({ env }).getPort('admin-api'), 31002);
});

test('getPort: a missing port is a PortNotFoundError naming the variables, unless a default is given', () => {
  const guest = new Guest({ env });
  assert.equal(guest.getPort('metrics', 9100), 9100);
  assert.throws(
    () => guest.getPort('metrics'),
    (err: unknown) =>
      err instanceof PortNotFoundError &&
      err.port === 'metrics' &&
      /CONTAINER_PORT_METRICS and PORT_METRICS are not set/.test(err.message),
  );
  assert.throws(() => new Guest({ env: { CONTAINER_PORT_HTTP: 'eighty' } }).getPort('http'), InvalidEnvironmentError);
  assert.throws(
    () => new Guest({ env: { CONTAINER_PORT_HTTP: '70000' } }).getPort('http', 80),
    InvalidEnvironmentError,
  );
});

test('getContainerInternalAddress prefers eth0, then any non-loopback IPv4, and errors when there is none', () => {
  const lo = {
    address: '127.0.0.1',
    family: 'IPv4',
    internal: true,
    netmask: '255.0.0.0',
    mac: '00:00:00:00:00:00',
    cidr: null,
  } as const;
  const v4 = (address: string) => ({ ...lo, address, internal: false });
  assert.equal(
    containerInternalAddress({ lo: [lo], docker0: [v4('172.17.0.1')], eth0: [v4('172.17.0.5')] }),
    '172.17.0.5',
  );
  assert.equal(containerInternalAddress({ lo: [lo], ens3: [v4('10.0.0.7')] }), '10.0.0.7');
  assert.throws(() => containerInternalAddress({ lo: [lo] }), /internal address/);
  assert.match(new Guest().getContainerInternalAddress(), /^\d+\.\d+\.\d+\.\d+$/);
});

test('the module functions and their snake_case aliases read the process environment when called', async (t) => {
  const saved = { ...process.env };
  t.after(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await guestutils.closeGuest();
  });
  delete process.env.CONTAINER_NAME;
  delete process.env.CONTAINER_HOST_ADDRESS;
  Object.assign(process.env, env);
  await guestutils.closeGuest();
  assert.equal(guestutils.getServiceName(), 'web');
  assert.equal(guestutils.get_service_name(), 'web');
  assert.equal(guestutils.get_environment_name(), 'staging');
  assert.equal(guestutils.get_container_name(), env.MESOS_TASK_ID);
  assert.equal(guestutils.get_container_host_address(), '10.1.2.3');
  assert.equal(guestutils.get_port('http'), 8080);
  assert.equal(guestutils.get_port('nope', 1), 1);
  process.env.SERVICE_NAME = 'api';
  assert.equal(guestutils.get_service_name(), 'api');
  assert.equal(guestutils.get_container_internal_address(), guestutils.getContainerInternalAddress());
  assert.equal(ContainerNotFoundError.name, 'ContainerNotFoundError');
});

test('importing guestutils opens no connection and does not load etcd3', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = `
    await import('@theseus/guestutils');
    // stdio pipes aside, nothing: no socket, no timer, no lookup.
    const handles = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
    console.log(JSON.stringify({ handles }));
  `;
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, NODE_DEBUG: 'module' },
    },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop()!), { handles: [] });
  assert.doesNotMatch(result.stderr, /node_modules\/etcd3\//, 'etcd3 was loaded at import time');
  assert.doesNotMatch(result.stderr, /@grpc\/grpc-js/, 'grpc was loaded at import time');
});
