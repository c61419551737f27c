import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from './settings.js';
import { redact } from '../logging.js';
import { ConfigError } from '../errors.js';

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'theseus-settings-')), 'theseus.yaml');
  writeFileSync(path, text);
  return path;
}

function rejects(fn: () => unknown, setting: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.setting, setting);
    assert.match(err.message, message);
    return true;
  });
}

test('defaults fill every section', () => {
  const s = loadSettings({ env: {} });
  assert.deepEqual(s.etcd.endpoints, ['http://127.0.0.1:2379']);
  assert.equal(s.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(s.deployer.port, 5000);
  assert.equal(s.deployer.listenHost, '127.0.0.1');
  assert.equal(s.subscriber.listenHost, '127.0.0.1');
  assert.equal(s.subscriber.reconcileIntervalMs, 60_000);
  assert.deepEqual(s.engine.portRange, [31000, 32000]);
  assert.equal(s.marathon.urls, undefined);
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.etcd));
});

test('environment lists, numbers and booleans are parsed', () => {
  const s = loadSettings({
    env: {
      MARATHON_URL: 'http://m1:8080, http://m2:8080',
      ETCD_ENDPOINTS: 'http://e1:2379',
      THESEUS_OPEN_READS: 'yes',
      ENGINE_PORT_RANGE: '40000-40100',
      MARATHON_TIMEOUT_MS: '2500',
    },
  });
  assert.deepEqual(s.marathon.urls, ['http://m1:8080', 'http://m2:8080']);
  assert.deepEqual(s.etcd.endpoints, ['http://e1:2379']);
  assert.equal(s.deployer.openReads, true);
  assert.deepEqual(s.engine.portRange, [40000, 40100]);
  assert.equal(s.marathon.timeoutMs, 2500);
});

test('precedence: defaults < file < environment < flags', () => {
  const path = file('deployer:\n  port: 6000\nredis:\n  url: redis://file:6379\ncluster: from-file\n');
  const s = loadSettings({
    env: { REDIS_URL: 'redis://env:6379' },
    configPath: path,
    flags: { 'deployer.port': 7000 },
  });
  assert.equal(s.deployer.port, 7000);
  assert.equal(s.redis.url, 'redis://env:6379');
  assert.equal(s.cluster, 'from-file');
});

test('a bad value names the variable that set it', () => {
  rejects(
    () => loadSettings({ env: { MARATHON_URL: 'marathon:8080' } }),
    'MARATHON_URL',
    /http:\/\/ or https:\/\/ URL/,
  );
  rejects(() => loadSettings({ env: { REDIS_URL: 'http://x' } }), 'REDIS_URL', /redis:\/\//);
  rejects(() => loadSettings({ env: { THESEUS_API_TOKEN: 'short' } }), 'THESEUS_API_TOKEN', /at least 16 characters/);
  rejects(() => loadSettings({ env: { THESEUS_OPEN_READS: 'maybe' } }), 'THESEUS_OPEN_READS', /not true or false/);
  rejects(() => loadSettings({ env: { MARATHON_TIMEOUT_MS: '1.5s' } }), 'MARATHON_TIMEOUT_MS', /not a whole number/);
  rejects(() => loadSettings({ env: { THESEUS_CLUSTER: 'Prod_1' } }), 'THESEUS_CLUSTER', /lower-case/);
  rejects(
    () => loadSettings({ env: { SUBSCRIBER_HEAP_MB: '20' } }),
    'SUBSCRIBER_HEAP_MB',
    /0 or a whole number of MB from 64 up/,
  );
  // a flag is named as typed on the command line
  rejects(() => loadSettings({ flags: { 'subscriber.heapMb': 20 } }), '--heap-mb', /from 64 up/);
});

test('a bad value in the file names the file and key; unknown keys are errors', () => {
  const path = file('deployer:\n  port: "eighty"\n');
  rejects(() => loadSettings({ env: {}, configPath: path }), `${path}: deployer.port`, /number/);
  const typo = file('deployr:\n  port: 1\n');
  rejects(() => loadSettings({ env: {}, configPath: typo }), `${typo}: deployr`, /is not a setting/);
  rejects(() => loadSettings({ env: {}, configPath: file('a: [1,\n') }), '--config', /not valid YAML/);
  rejects(() => loadSettings({ env: {}, configPath: '/nonexistent/theseus.yaml' }), '--config', /cannot read .*ENOENT/);
});

test('required settings that are missing are named with the variable to set', () => {
  rejects(() => loadSettings({ env: {}, require: ['marathon.urls'] }), 'MARATHON_URL', /is required/);
  rejects(
    () => loadSettings({ env: { MARATHON_URL: 'http://m:8080' }, require: ['marathon.urls', 'api.token'] }),
    'THESEUS_API_TOKEN',
    /is required/,
  );
});

test('access settings: etcd credentials are files and go together; callbacks need their own secret', () => {
  const s = loadSettings({
    env: {
      ETCD_ENDPOINTS: 'https://etcd:2379',
      ETCD_USERNAME: 'theseus-subscriber',
      ETCD_PASSWORD_FILE: '/run/p',
      ETCD_CA_FILE: '/run/ca.crt',
      DEPLOYER_LISTEN_HOST: '0.0.0.0',
    },
  });
  assert.deepEqual(
    [s.etcd.username, s.etcd.passwordFile, s.etcd.caFile, s.deployer.listenHost],
    ['theseus-subscriber', '/run/p', '/run/ca.crt', '0.0.0.0'],
  );
  rejects(() => loadSettings({ env: { ETCD_USERNAME: 'u' } }), 'ETCD_PASSWORD_FILE', /is required for etcd user u/);
  rejects(
    () => loadSettings({ env: { ETCD_CERT_FILE: '/c.crt' } }),
    'ETCD_KEY_FILE',
    /needs both certFile and keyFile/,
  );
  rejects(
    () => loadSettings({ env: { ETCD_CA_FILE: '/ca.crt' } }),
    'ETCD_ENDPOINTS',
    /http:\/\/127\.0\.0\.1:2379 must be https:\/\/ when etcd TLS is set/,
  );
  rejects(
    () => loadSettings({ env: { CALLBACK_URL: 'http://10.0.0.5:5001/callback' } }),
    'SUBSCRIBER_CALLBACK_SECRET_FILE',
    /is required with a callback URL/,
  );
  rejects(
    () => loadSettings({ env: { SUBSCRIBER_LISTEN_HOST: 'any host' } }),
    'SUBSCRIBER_LISTEN_HOST',
    /must be an IP address or host name/,
  );
});

test('theseus config hides every secret, a password-only Redis URL included, and shows secret file paths', () => {
  const s = loadSettings({
    env: {
      REDIS_URL: 'redis://:hunter2@redis:6379',
      THESEUS_API_TOKEN: 'token-0123456789abcdef',
      MARATHON_CREDENTIALS: 'ops:hunter3',
      ETCD_USERNAME: 'u',
      ETCD_PASSWORD_FILE: '/run/p',
    },
  });
  const text = JSON.stringify(redact(s)); // what `theseus config` prints;
  assert.doesNotMatch(text, /hunter2|hunter3|token-0123456789abcdef/);
  assert.match(text, /"passwordFile":"\/run\/p"/);
});
