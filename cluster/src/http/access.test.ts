/** Listen addresses and Host names as the engine judges them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkListenAddresses, hostName, isLoopback, ListenRefusedError } from './access.js';

describe('listen addresses', () => {
  it('knows loopback addresses from the others', async () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'])
      assert.equal(await isLoopback(a), true, a);
    for (const a of ['0.0.0.0', '::', '172.17.0.1', '10.0.0.1', '::ffff:10.0.0.1'])
      assert.equal(await isLoopback(a), false, a);
  });

  it('refuses a non-loopback address without credentials, naming the address and what to do', async () => {
    await assert.rejects(checkListenAddresses(['127.0.0.1', '0.0.0.0'], false), (err: Error) => {
      assert.ok(err instanceof ListenRefusedError);
      assert.match(
        err.message,
        /listen on 0\.0\.0\.0, which is not a loopback address, without credentials.*MARATHON_CREDENTIALS.*--listen/,
      );
      return true;
    });
    assert.equal(await checkListenAddresses(['0.0.0.0'], true), false);
    assert.equal(await checkListenAddresses(['127.0.0.1', '::1'], false), true);
  });
});

describe('Host header names', () => {
  it('drop the port and the brackets of an IPv6 address, in lower case', () => {
    assert.equal(hostName('LocalHost:8080'), 'localhost');
    assert.equal(hostName('127.0.0.1:8080'), '127.0.0.1');
    assert.equal(hostName('[::1]:8080'), '::1');
    assert.equal(hostName('[::1]'), '::1');
    assert.equal(hostName('rebind.example'), 'rebind.example');
  });
});
