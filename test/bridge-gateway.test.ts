// The address containers reach this host at, as Docker defines the bridge's gateway. A bridge made
// for the first time answers without `Gateway`; a host may have no docker0 address to read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bridgeGateway as lookup, firstAddress, interfaceAddress } from '../cluster/scripts/bridge-gateway.mjs';
const SCRIPT = fileURLToPath(new URL('../cluster/scripts/bridge-gateway.mjs', import.meta.url));

// Docker 28's answer for a bridge created by this start of dockerd (trimmed to the fields read).
const FIRST_START = {
  Name: 'bridge',
  IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16' }] },
  Options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': 'docker0' },
};
const RESTARTED = {
  ...FIRST_START,
  IPAM: { ...FIRST_START.IPAM, Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] },
};

test('the IPAM gateway is used when the answer has one', () => {
  assert.deepEqual(
    lookup(RESTARTED, () => '10.9.9.9'),
    { address: '172.17.0.1', from: 'IPAM gateway' },
  );
});

test('without Gateway, the bridge interface named by the network gives the address', () => {
  const custom = {
    ...FIRST_START,
    Options: { 'com.docker.network.bridge.name': 'br-theseus' },
    IPAM: { Config: [{ Subnet: '10.200.0.0/24' }] },
  };
  const asked: string[] = [];
  const found = lookup(custom, (name) => (asked.push(name), name === 'br-theseus' ? '10.200.0.1' : undefined));
  assert.deepEqual(found, { address: '10.200.0.1', from: 'interface br-theseus' });
  assert.deepEqual(asked, ['br-theseus']);
});

test('without Gateway and without an address on docker0, the first address of the subnet', () => {
  assert.deepEqual(
    lookup(FIRST_START, () => undefined),
    { address: '172.17.0.1', from: 'first address of 172.17.0.0/16' },
  );
  assert.equal(firstAddress('192.168.5.0/24'), '192.168.5.1');
  assert.equal(firstAddress('10.1.2.128/25'), '10.1.2.129');
  assert.equal(firstAddress('fd00::/64'), undefined);
});

test('IPv6 entries are passed over; nothing usable is undefined', () => {
  const v6only = { IPAM: { Config: [{ Subnet: 'fd00::/64', Gateway: 'fd00::1' }] }, Options: {} };
  assert.equal(
    lookup(v6only, () => undefined),
    undefined,
  );
  assert.equal(
    lookup({}, () => undefined),
    undefined,
  );
});

test('an interface that does not exist has no address', () => {
  assert.equal(interfaceAddress('theseus-none0'), undefined);
});

test('the script prints the address, or one line saying why there is none', () => {
  const ok = spawnSync(process.execPath, [SCRIPT], { input: JSON.stringify(RESTARTED), encoding: 'utf8' });
  assert.equal(ok.status, 0);
  assert.equal(ok.stdout, '172.17.0.1\n');
  const none = spawnSync(process.execPath, [SCRIPT], {
    input: JSON.stringify({ IPAM: { Config: [] }, Options: { 'com.docker.network.bridge.name': 'theseus-none0' } }),
    encoding: 'utf8',
  });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^bridge-gateway: the Docker bridge network has no IPv4 gateway.*\n$/);
  const garbage = spawnSync(process.execPath, [SCRIPT], { input: '<html>', encoding: 'utf8' });
  assert.equal(garbage.status, 1);
  assert.match(garbage.stderr, /is not JSON .* is the Docker Engine running\?/);
});
