// `theseus subscriber` refuses to start where it would take events or requests from anyone: callback
// mode without a callback secret, a non-loopback address without the API token. One line each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const RUN =
  "const { run } = await import('@theseus/subscriber/cli'); process.exitCode = await run('subscriber', process.argv.slice(1));";

function subscriber(env: Record<string, string>): { status: number | null; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', RUN],
    {
      env: {
        PATH: process.env.PATH ?? '',
        MARATHON_URL: 'http://127.0.0.1:1',
        SUBSCRIBER_HEAP_MB: '0',
        LOG_FORMAT: 'json',
        ...env,
      },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { status: result.status, stderr: result.stderr };
}

test('callback mode without a callback secret of its own is refused', () => {
  const r = subscriber({ CALLBACK_URL: 'http://127.0.0.1:5001/callback', THESEUS_API_TOKEN: 'token-0123456789abcdef' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^theseus subscriber: SUBSCRIBER_CALLBACK_SECRET_FILE: is required with a callback URL/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('listening beyond loopback without the API token is refused', () => {
  const r = subscriber({ SUBSCRIBER_LISTEN_HOST: '0.0.0.0' });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^theseus subscriber: THESEUS_API_TOKEN: is required when the subscriber listens on 0\.0\.0\.0/,
  );
});

test('an unreadable callback secret file is named', () => {
  const r = subscriber({
    CALLBACK_URL: 'http://127.0.0.1:5001/callback',
    SUBSCRIBER_CALLBACK_SECRET_FILE: '/nonexistent/secret',
  });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^theseus subscriber: SUBSCRIBER_CALLBACK_SECRET_FILE: cannot read \/nonexistent\/secret: ENOENT/,
  );
});
