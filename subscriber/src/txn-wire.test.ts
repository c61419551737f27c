/** The transaction wire encoding, checked against etcd's own rpc.proto (protobufjs) and a real etcd. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { createEtcdClient } from '@theseus/services';
import { decodeTxnOutcome, encodeTxnRequest, sendTxn, type TxnCompare, type TxnOp } from './txn-wire.js';
import { clearPrefix, ETCD_ENDPOINTS, randomPrefix } from './testing/harness.js';

const rpcProto = createRequire(import.meta.url).resolve('etcd3/proto/rpc.proto');
const root = new protobuf.Root().loadSync(rpcProto, { keepCase: true });
const TxnRequest = root.lookupType('etcdserverpb.TxnRequest');
const TxnResponse = root.lookupType('etcdserverpb.TxnResponse');
const asObject = { longs: String, bytes: String, enums: String, oneofs: true, defaults: false };

const client = createEtcdClient({ endpoints: ETCD_ENDPOINTS });
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await clearPrefix(p);
  client.close();
});

const b64 = (text: string) => Buffer.from(text).toString('base64');

test('requests decode with etcd rpc.proto to the compares and ops given (multi-byte text, long values, large revisions)', () => {
  const long = 'ü'.repeat(9_000); // 18,000 bytes: a three-byte length
  const compares: TxnCompare[] = [
    { key: '/theseus/leader/7587', check: 'exists' },
    { key: '/theseus/endpoints/a', check: 'modRevision', modRevision: 0 },
    { key: '/theseus/endpoints/ключ', check: 'modRevision', modRevision: 2 ** 40 + 5 },
  ];
  const ops: TxnOp[] = [
    { key: '/theseus/endpoints/a', value: '{"host":"10.0.0.1"}' },
    { key: '/theseus/endpoints/ключ', value: long },
    { key: '/theseus/endpoints/gone' },
    { key: '/theseus/endpoints/empty', value: '' },
  ];
  const decoded = TxnRequest.toObject(TxnRequest.decode(encodeTxnRequest(compares, ops)), asObject);
  assert.deepEqual(decoded, {
    compare: [
      { result: 'Greater', target: 'Create', key: b64(compares[0]!.key), create_revision: '0', target_union: 'create_revision' },
      { result: 'Equal', target: 'Mod', key: b64(compares[1]!.key), mod_revision: '0', target_union: 'mod_revision' },
      { result: 'Equal', target: 'Mod', key: b64(compares[2]!.key), mod_revision: String(2 ** 40 + 5), target_union: 'mod_revision' },
    ],
    success: [
      { request_put: { key: b64(ops[0]!.key), value: b64(ops[0]!.value!) }, request: 'request_put' },
      { request_put: { key: b64(ops[1]!.key), value: b64(long) }, request: 'request_put' },
      { request_delete_range: { key: b64(ops[2]!.key) }, request: 'request_delete_range' },
      { request_put: { key: b64(ops[3]!.key), value: '' }, request: 'request_put' },
    ],
  });
});

test('answers: succeeded and the header revision are read, the per-op answers skipped', () => {
  const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: String(2 ** 45 + 3), raft_term: '9' };
  const answer = (succeeded: boolean) =>
    Buffer.from(
      TxnResponse.encode(
        TxnResponse.fromObject({
          header,
          succeeded,
          responses: [{ response_put: { header, prev_kv: { key: b64('k'), value: b64('v'), mod_revision: '7' } } }, { response_delete_range: { header, deleted: '1' } }],
        }),
      ).finish(),
    );
  assert.deepEqual(decodeTxnOutcome(answer(true)), { succeeded: true, revision: 2 ** 45 + 3 });
  assert.deepEqual(decodeTxnOutcome(answer(false)), { succeeded: false, revision: 2 ** 45 + 3 });
  assert.throws(() => decodeTxnOutcome(answer(true).subarray(0, 5)), /truncated/);
});

test('against etcd: puts and deletes apply when every compare holds; nothing changes when one fails', async () => {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const guard = `${prefix}/guard`;
  await client.put(guard).value('leader');
  await client.put(`${prefix}/old`).value('x');
  const oldRev = Number((await client.get(`${prefix}/old`).exec()).kvs[0]!.mod_revision);

  const write = (modRevision: number) =>
    sendTxn(
      client,
      encodeTxnRequest(
        [{ key: guard, check: 'exists' }, { key: `${prefix}/old`, check: 'modRevision', modRevision }, { key: `${prefix}/new`, check: 'modRevision', modRevision: 0 }],
        [{ key: `${prefix}/old` }, { key: `${prefix}/new`, value: 'ünïcode' }],
      ),
      5_000,
    );
  const refused = await write(oldRev + 1);
  assert.equal(refused.succeeded, false);
  assert.equal(await client.get(`${prefix}/old`).string(), 'x');
  assert.equal(await client.get(`${prefix}/new`).string(), null);

  const done = await write(oldRev);
  assert.equal(done.succeeded, true);
  assert.equal(done.revision, Number((await client.get(`${prefix}/new`).exec()).kvs[0]!.mod_revision));
  assert.equal(await client.get(`${prefix}/old`).string(), null);
  assert.equal(await client.get(`${prefix}/new`).string(), 'ünïcode');

  await client.delete().key(guard);
  assert.equal((await write(0)).succeeded, false, 'without the guard key nothing is written');
});
