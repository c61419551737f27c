import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonListSplitter } from './json-list.js';

test('JsonListSplitter hands over each element of the named list, whatever the chunking', () => {
  const doc = {
    message: 'apps: [not this]',
    apps: [
      { id: '/a', labels: { note: 'has } and ] and \\" and {"x":[1]} inside' }, tasks: [{ id: 'a.1', ports: [1, 2] }] },
      { id: '/b', cmd: 'echo "[{"', tasks: [] },
      { id: '/ü', tasks: [{ id: 'ü.1' }] },
    ],
    after: [{ ignored: true }],
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const items: unknown[] = [];
    const splitter = new JsonListSplitter('apps', (json) => items.push(JSON.parse(json)));
    for (let i = 0; i < bytes.length; i += size) splitter.push(bytes.subarray(i, i + size));
    assert.deepEqual(items, doc.apps, `chunks of ${size}`);
    assert.equal(splitter.complete, true);
  }
});

test('JsonListSplitter: an empty list completes, a cut-off answer does not', () => {
  const empty = new JsonListSplitter('tasks', () => assert.fail('no items'));
  empty.push(Buffer.from('{"tasks":[]}'));
  assert.equal(empty.complete, true);
  const cut = new JsonListSplitter('tasks', () => undefined);
  cut.push(Buffer.from('{"tasks":[{"id":"a"},{"id":'));
  assert.equal(cut.complete, false);
});
