import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logging.js';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('JSON lines carry component, level, time and child context', () => {
  const out = capture();
  const logger = createLogger({ component: 'deployer', format: 'json', stream: out.stream });
  logger.child({ requestId: 'r-1' }).info('deploy accepted', { deploymentId: 'd-1' });
  const [line] = out.lines();
  assert.equal(line!.component, 'deployer');
  assert.equal(line!.level, 'info');
  assert.equal(line!.requestId, 'r-1');
  assert.equal(line!.deploymentId, 'd-1');
  assert.match(String(line!.timestamp), /^\d{4}-\d\d-\d\dT/);
});

test('secrets never reach the log: secret-named fields and URL passwords are hidden', () => {
  const out = capture();
  const logger = createLogger({ component: 'subscriber', format: 'json', stream: out.stream });
  logger.info('connecting to http://ops:hunter2@marathon:8080/v2/events', {
    headers: { Authorization: 'Bearer abcdefabcdefabcdef', accept: 'text/event-stream' },
    apiToken: 'abcdefabcdefabcdef',
    urls: ['http://ops:hunter2@m2:8080'],
  });
  const text = JSON.stringify(out.lines());
  assert.doesNotMatch(text, /hunter2|abcdefabcdefabcdef/);
  const [line] = out.lines();
  assert.equal((line!.headers as Record<string, string>).accept, 'text/event-stream');
  assert.deepEqual(line!.urls, ['http://ops:***@m2:8080']);
});

test('errors are logged with their stack for operators', () => {
  const out = capture();
  createLogger({ component: 'watch', format: 'json', stream: out.stream }).error('handler failed', {
    error: new Error('boom'),
  });
  const [line] = out.lines();
  const error = line!.error as { message: string; stack: string };
  assert.equal(error.message, 'boom');
  assert.match(error.stack, /logging\.test\.ts/);
});

test('every credential form is hidden: userinfo with or without a user name, credential query parameters, Bearer/Basic, in stacks too', () => {
  const out = capture();
  const logger = createLogger({ component: 'config', format: 'json', stream: out.stream });
  const error = new Error('cannot reach redis://:s3cret-a@redis:6379');
  logger.warn('retrying', {
    redis: 'redis://:s3cret-b@127.0.0.1:6379/0',
    tokenUrl: 'https://s3cret-c@git.example.com/repo.git',
    callback: 'http://127.0.0.1:5001/callback?secret=s3cret-d&x=1',
    query: 'https://marathon/v2/apps?access_token=s3cret-e&embed=apps.tasks',
    header: 'Authorization: Bearer s3cret-f',
    basic: 'Basic czNjcmV0LWc=',
    dcos: 'Authorization: token=s3cret-h',
    error,
    passwordFile: '/run/secrets/etcd-password',
  });
  const text = JSON.stringify(out.lines());
  assert.doesNotMatch(text, /s3cret|czNjcmV0/);
  const [line] = out.lines();
  assert.equal(line!.redis, 'redis://***@127.0.0.1:6379/0');
  assert.equal(line!.callback, 'http://127.0.0.1:5001/callback?secret=***&x=1');
  assert.equal(line!.query, 'https://marathon/v2/apps?access_token=***&embed=apps.tasks');
  assert.equal(line!.passwordFile, '/run/secrets/etcd-password', 'a path to a secret is not the secret');
  assert.match(String((line!.error as { stack: string }).stack), /redis:\/\/\*\*\*@redis:6379/);
});
