#!/usr/bin/env node
// The address containers reach this host at, from Docker's `GET /networks/bridge` answer (on stdin),
// as Docker itself defines it: the IPAM gateway when the answer has one; else the IPv4 address of the
// bridge interface (`com.docker.network.bridge.name`, docker0 by default); else the first address of
// the bridge's subnet, which Docker's default IPAM driver gives the bridge. A bridge created for the
// first time answers without `Gateway`, so the later steps matter on a fresh machine.
//
//   curl --unix-socket /var/run/docker.sock http://localhost/networks/bridge | node bridge-gateway.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The first host address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`), or undefined. */
export function firstAddress(subnet) {
  const [address, bits] = String(subnet).split('/');
  const octets = IPV4.exec(address ?? '');
  const prefix = Number(bits);
  if (!octets || !Number.isInteger(prefix) || prefix < 0 || prefix > 30) return undefined;
  const value = octets.slice(1).reduce((n, o) => n * 256 + Number(o), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = ((value & mask) >>> 0) + 1;
  return [24, 16, 8, 0].map((shift) => (first >>> shift) & 255).join('.');
}

/** The IPv4 address of a network interface, as `ip` reports it (a bridge without carrier included). */
export function interfaceAddress(name) {
  try {
    const out = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
  } catch {
    return undefined; // no such interface, or no `ip` on this host: the subnet decides
  }
}

/**
 * The gateway of a Docker network answer, and where it came from.
 * @param {any} network the JSON of `GET /networks/bridge`
 * @param {(name: string) => string | undefined} addressOf looks up an interface's IPv4 address
 */
export function bridgeGateway(network, addressOf = interfaceAddress) {
  const configs = Array.isArray(network?.IPAM?.Config) ? network.IPAM.Config : [];
  const ipv4 = configs.filter((c) => IPV4.test(String(c?.Subnet ?? '').split('/')[0]));
  const declared = ipv4.map((c) => c.Gateway).find((g) => IPV4.test(String(g ?? '')));
  if (declared) return { address: declared, from: 'IPAM gateway' };
  const name = network?.Options?.['com.docker.network.bridge.name'] || 'docker0';
  const onInterface = addressOf(name);
  if (onInterface && IPV4.test(onInterface)) return { address: onInterface, from: `interface ${name}` };
  const fromSubnet = ipv4.map((c) => firstAddress(c.Subnet)).find(Boolean);
  if (fromSubnet) return { address: fromSubnet, from: `first address of ${ipv4[0].Subnet}` };
  return undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let network;
  try {
    network = JSON.parse(readFileSync(0, 'utf8'));
  } catch (err) {
    console.error(
      `bridge-gateway: Docker's answer for the bridge network is not JSON (${err.message}): is the Docker Engine running?`,
    );
    process.exit(1);
  }
  const found = bridgeGateway(network);
  if (!found) {
    console.error(
      'bridge-gateway: the Docker bridge network has no IPv4 gateway, interface address or subnet: check `docker network inspect bridge`',
    );
    process.exit(1);
  }
  process.stdout.write(`${found.address}\n`);
}
