import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdLayout } from './keys.js';
import { InvalidNameError } from '../errors.js';

test('endpoint keys nest namespace, service and task id under a versioned prefix', () => {
  const layout = new EtcdLayout('/theseus');
  const key = layout.endpoint('default', 'web', 'theseus_default_web.instance-1._app.1');
  assert.equal(key, '/theseus/v1/endpoints/default/web/theseus_default_web.instance-1._app.1');
  assert.ok(key.startsWith(layout.serviceEndpoints('default', 'web')));
  assert.ok(layout.serviceEndpoints('default', 'web').startsWith(layout.namespaceEndpoints('default')));
  assert.deepEqual(layout.parseEndpointKey(key), {
    namespace: 'default',
    service: 'web',
    taskId: 'theseus_default_web.instance-1._app.1',
  });
});

test('a service prefix never matches another service that shares its beginning', () => {
  const layout = new EtcdLayout();
  assert.equal(layout.endpoint('default', 'web-2', 't').startsWith(layout.serviceEndpoints('default', 'web')), false);
});

test('keys of other prefixes and malformed keys are not endpoint keys', () => {
  const layout = new EtcdLayout('/a');
  assert.equal(layout.parseEndpointKey('/b/v1/endpoints/default/web/t'), undefined);
  assert.equal(layout.parseEndpointKey('/a/v1/endpoints/default/web'), undefined);
  assert.equal(layout.parseEndpointKey('/a/v1/endpoints/default/web/t/extra'), undefined);
});

test('bad prefixes, names and task ids are refused', () => {
  assert.throws(() => new EtcdLayout('theseus'), /invalid etcd prefix/);
  assert.throws(() => new EtcdLayout('/theseus/'), /invalid etcd prefix/);
  assert.throws(() => new EtcdLayout().serviceEndpoints('default', 'Web'), InvalidNameError);
  assert.throws(() => new EtcdLayout().endpoint('default', 'web', 'a/b'), /invalid task id/);
});
