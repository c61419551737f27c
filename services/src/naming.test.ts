import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appIdOfTask,
  assertName,
  canonicalLabels,
  envName,
  identityLabels,
  isTheseusAppId,
  labelsMatch,
  parseAppId,
  serviceRefOfApp,
  toAppId,
} from './naming.js';
import { InvalidNameError } from './errors.js';

test('toAppId: readable ids, one app per label set, labels sorted and de-duplicated', () => {
  assert.equal(toAppId({ namespace: 'default', service: 'web', labels: [] }), '/theseus/default/web');
  assert.equal(
    toAppId({ namespace: 'prod', service: 'web', labels: ['blue', 'api', 'blue'] }),
    '/theseus/prod/web--api--blue',
  );
  assert.notEqual(
    toAppId({ namespace: 'default', service: 'web', labels: ['dev'] }),
    toAppId({ namespace: 'default', service: 'web', labels: ['prod'] }),
  );
  assert.equal(toAppId({ namespace: 'default', service: 'web', labels: [] }, 'team-a'), '/team-a/default/web');
});

test('every generated id segment matches Marathon PathId rules', () => {
  const segment = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;
  const id = toAppId({ namespace: 'ns-1', service: 'a1-b2', labels: ['x', 'y-z', '0'] });
  for (const part of id.slice(1).split('/')) assert.match(part, segment);
});

test('parseAppId inverts toAppId', () => {
  const ref = { namespace: 'staging', service: 'ingestor', labels: ['dev', 'frontend'] };
  assert.deepEqual(parseAppId(toAppId(ref)), ref);
  assert.deepEqual(parseAppId('/theseus/default/web'), { namespace: 'default', service: 'web', labels: [] });
});

test('parseAppId rejects ids Theseus did not make, naming the id', () => {
  for (const bad of [
    '/other/default/web',
    '/theseus/web',
    '/theseus/a/b/c',
    '/theseus/default/web--b--a',
    '/theseus/default/Web',
  ]) {
    assert.throws(
      () => parseAppId(bad),
      (err: unknown) => err instanceof InvalidNameError && err.message.includes(JSON.stringify(bad)),
    );
    assert.equal(isTheseusAppId(bad), false);
  }
});

test('appIdOfTask handles the task id formats of Marathon 1.3, 1.4 and 1.8+', () => {
  assert.equal(
    appIdOfTask('theseus_default_web--dev.5c9e3f6a-1b2c-11e7-93ae-92361f002671'),
    '/theseus/default/web--dev',
  );
  assert.equal(
    appIdOfTask('theseus_default_web.marathon-5c9e3f6a-1b2c-11e7-93ae-92361f002671'),
    '/theseus/default/web',
  );
  assert.equal(
    appIdOfTask('theseus_prod_api--blue.instance-0c0c6b8e-6f4e-11ea-8f9f-0242ac110002._app.3'),
    '/theseus/prod/api--blue',
  );
  assert.deepEqual(parseAppId(appIdOfTask('theseus_prod_api--blue.instance-x._app.1')).service, 'api');
  assert.throws(() => appIdOfTask('no-dot-here'), InvalidNameError);
});

test('bad names are rejected with a message that says what is wrong', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['', /must not be empty/],
    ['Web', /must be lower-case/],
    ['web_app', /may contain only lower-case letters, digits and "-"/],
    ['-web', /must start and end with a letter or digit/],
    ['web--dev', /must not contain "--"/],
    ['a'.repeat(64), /at most 63 characters/],
    [42, /must be a string/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => assertName('service', value),
      (err: unknown) =>
        err instanceof InvalidNameError && message.test(err.message) && err.message.startsWith('invalid service'),
      `expected ${String(value)} to be rejected with ${message}`,
    );
  }
  assert.throws(() => assertName('service', 'versions'), /reserved by Marathon/);
  assert.throws(() => toAppId({ namespace: 'default', service: 'web', labels: ['Dev'] }), /invalid label "Dev"/);
});

test('label sets: canonical form and matching', () => {
  assert.deepEqual(canonicalLabels(['b', 'a', 'b']), ['a', 'b']);
  assert.equal(labelsMatch(['a', 'b'], ['b']), true);
  assert.equal(labelsMatch(['a'], ['a', 'b']), false);
  assert.equal(labelsMatch(['a'], []), true);
});

test('identity labels round-trip through serviceRefOfApp; unmanaged apps are ignored', () => {
  const ref = { namespace: 'default', service: 'web', labels: ['prod', 'blue'] };
  const labels = identityLabels(ref);
  assert.equal(labels.THESEUS_LABELS, 'blue,prod');
  assert.deepEqual(serviceRefOfApp({ labels }), { namespace: 'default', service: 'web', labels: ['blue', 'prod'] });
  assert.equal(serviceRefOfApp({ labels: { HAPROXY_GROUP: 'external' } }), undefined);
  assert.equal(serviceRefOfApp({ labels: { ...labels, THESEUS_SERVICE: 'Bad_Name' } }), undefined);
});

test('envName transliterates like maestro', () => {
  assert.equal(envName('api'), 'API');
  assert.equal(envName('http-alt'), 'HTTP_ALT');
});
