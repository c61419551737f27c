// `theseus` as a user runs it: the built bin, a real process, real exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '@theseus/cli';

const bin = fileURLToPath(new URL('../bin/theseus.js', import.meta.url));

function theseus(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(MARATHON_|ETCD_|REDIS_|THESEUS_|LOG_)/.test(k)),
  );
  const result = spawnSync(process.execPath, [bin, ...args], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('theseus --help lists every command', () => {
  const { code, stdout } = theseus(['--help']);
  assert.equal(code, 0);
  for (const name of Object.keys(COMMANDS)) assert.match(stdout, new RegExp(`^  ${name} +\\S`, 'm'), `missing ${name}`);
});

test('an unknown command exits non-zero with one clear line', () => {
  const { code, stdout, stderr } = theseus(['deploi']);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.equal(stderr, "theseus: unknown command 'deploi' (run 'theseus --help' for the list)\n");
});

test('a bad setting stops the program with one line naming the setting, no stack trace', () => {
  const { code, stderr } = theseus(['config'], { MARATHON_URL: 'marathon.local:8080' });
  assert.equal(code, 1);
  assert.equal(stderr.trim().split('\n').length, 1);
  assert.match(stderr, /^theseus config: MARATHON_URL: must be an http:\/\/ or https:\/\/ URL$/m);
  assert.doesNotMatch(stderr, /\n\s+at /);
});

test('theseus config prints the effective settings with secrets hidden', () => {
  const { code, stdout } = theseus(['config'], {
    THESEUS_API_TOKEN: 'a-very-secret-token-value',
    MARATHON_URL: 'http://ops:pw@m1:8080,http://m2:8080',
  });
  assert.equal(code, 0);
  const settings = JSON.parse(stdout) as { api: { token: string }; marathon: { urls: string[] } };
  assert.equal(settings.api.token, '***');
  assert.deepEqual(settings.marathon.urls, ['http://ops:***@m1:8080', 'http://m2:8080']);
  assert.doesNotMatch(stdout, /a-very-secret-token-value|:pw@/);
});
