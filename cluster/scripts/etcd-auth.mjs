#!/usr/bin/env node
// Turns etcd's authentication on for one Theseus installation: a root user, and a user and role per
// party (theseus-subscriber: read/write the endpoint records and its election; theseus-deployer and
// theseus-container: read the endpoint records). Passwords are files in DIR (mode 600), made once
// and kept; running it again only brings etcd back in line with them. Needs `npm run build`.
//
//   node cluster/scripts/etcd-auth.mjs DIR         turn it on (users, roles, passwords in DIR)
//   node cluster/scripts/etcd-auth.mjs --off DIR   turn it off again, as root from DIR (`npm run down`)
//
// etcd is found as every part finds it: ETCD_ENDPOINTS, THESEUS_ETCD_PREFIX, and for TLS
// ETCD_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE. The parts then run with
//   subscriber  ETCD_USERNAME=theseus-subscriber ETCD_PASSWORD_FILE=DIR/theseus-subscriber.password
//   deployer    ETCD_USERNAME=theseus-deployer   ETCD_PASSWORD_FILE=DIR/theseus-deployer.password
//               THESEUS_CONTAINER_ETCD_USERNAME=theseus-container
//               THESEUS_CONTAINER_ETCD_PASSWORD_FILE=DIR/theseus-container.password
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyEtcdRbac, createEtcdClient, loadSettings, readEtcdAccess } from '@theseus/services';

const off = process.argv[2] === '--off';
const dir = process.argv[off ? 3 : 2];
if (!dir || process.argv.length > (off ? 4 : 3)) {
  process.stderr.write('usage: node cluster/scripts/etcd-auth.mjs [--off] DIR (where the password files are kept)\n');
  process.exit(2);
}

function password(name) {
  const path = join(dir, `${name}.password`);
  if (!existsSync(path)) writeFileSync(path, randomBytes(24).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  return readFileSync(path, 'utf8').trim();
}

try {
  const settings = loadSettings();
  if (off) {
    const tlsOff = readEtcdAccess({
      caFile: settings.etcd.caFile,
      certFile: settings.etcd.certFile,
      keyFile: settings.etcd.keyFile,
    });
    const rootFile = join(dir, 'root.password');
    if (!existsSync(rootFile)) {
      process.stderr.write(`etcd-auth: no ${rootFile}: authentication was not turned on from here; left as it is\n`);
      process.exit(0);
    }
    const root = createEtcdClient({
      endpoints: settings.etcd.endpoints,
      access: { ...tlsOff, username: 'root', password: readFileSync(rootFile, 'utf8').trim() },
    });
    try {
      await root.auth.authDisable();
    } finally {
      root.close();
    }
    process.stderr.write('etcd-auth: authentication off\n');
    process.exit(0);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tls = readEtcdAccess({
    caFile: settings.etcd.caFile,
    certFile: settings.etcd.certFile,
    keyFile: settings.etcd.keyFile,
  });
  const users = Object.fromEntries(
    ['subscriber', 'deployer', 'container'].map((party) => [
      party,
      { name: `theseus-${party}`, password: password(`theseus-${party}`) },
    ]),
  );
  const rootPassword = password('root');
  const connect = (asRoot) =>
    createEtcdClient({
      endpoints: settings.etcd.endpoints,
      access: { ...tls, ...(asRoot ? { username: 'root', password: rootPassword } : {}) },
    });
  const { authWasEnabled } = await applyEtcdRbac(connect, { prefix: settings.etcd.prefix, rootPassword, users });
  process.stderr.write(
    `etcd-auth: ${authWasEnabled ? 'authentication was on; users and roles checked' : 'users and roles created, authentication on'} (prefix ${settings.etcd.prefix}, passwords in ${dir})\n`,
  );
} catch (err) {
  process.stderr.write(`etcd-auth: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
