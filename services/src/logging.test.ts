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
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
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
  createLogger({ component: 'watch', format: 'json', stream: out.stream }).error('handler failed', { error: new Error('boom') });
  const [line] = out.lines();
  const error = line!.error as { message: string; stack: string };
  assert.equal(error.message, 'boom');
  assert.match(error.stack, /logging\.test\.ts/);
});
