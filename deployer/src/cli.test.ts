import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startHarness, TEST_TOKEN, type Harness } from './testing/harness.js';

let h: Harness;
let dir: string;
let tokenFile: string;
before(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'theseus-cli-'));
  tokenFile = file('token', `${TEST_TOKEN}\n`);
});
after(async () => {
  await h.close();
});

const RUN_CLI = fileURLToPath(new URL('./testing/run-cli.ts', import.meta.url));

/** Runs a client command as its own process and captures what it prints. */
async function theseus(command: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', RUN_CLI, command, '--url', h.url, '--token-file', tokenFile, ...argv],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('deploy --dry-run shows each app and its changes', async () => {
  const spec = file('web.yaml', 'deploy:\n  web: {image: nginx, instances: 2}\n');
  const r = await theseus('deploy', '-f', spec, '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^create\s+\/theseus\/default\/web$/m);
  assert.equal(h.marathon!.faults.mutations().length, 0);
});

test('deploy --wait follows each service to the end and exits 0; a failure exits 1', async () => {
  const spec = file('web.yaml', 'deploy:\n  web: {image: nginx, instances: 2}\n  api: {image: api}\n');
  const ok = await theseus('deploy', '-f', spec, '--wait');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^succeeded\s+\/theseus\/default\/web \(create\)$/m);
  assert.match(ok.stdout, /deployment \S+ succeeded: 2\/2 service\(s\) succeeded/);
  const plan = await theseus(
    'deploy',
    '-f',
    file('web3.yaml', 'deploy:\n  web: {image: nginx, instances: 3}\n  api: {image: api}\n'),
    '--dry-run',
  );
  assert.match(plan.stdout, /^scale\s+\/theseus\/default\/web\n\s+\/instances: 2 -> 3$/m);
  assert.match(plan.stdout, /^noop\s+\/theseus\/default\/api$/m);

  h.marathon!.faults.answer({
    method: 'PUT',
    path: /\/v2\/apps\/theseus\/default\/api/,
    status: 422,
    body: { message: 'Object is not valid', details: [{ path: '/cpus', errors: ['too many'] }] },
  });
  const failing = await theseus('deploy', '-f', file('api.yaml', 'deploy:\n  api: {image: api:2}\n'), '--wait');
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /failed\s+\/theseus\/default\/api \(update\): Marathon refused the app/);
  assert.match(failing.stdout, /\/cpus: too many/);
});

test('an invalid document exits 1 and prints each problem with its line', async () => {
  const r = await theseus('deploy', '-f', file('bad.yaml', 'deploy:\n  web:\n    image: nginx\n    replicas: 3\n'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /line 4, column 5: \/deploy\/web\/replicas: unknown field/);
});

test('services, status, scale, rollback and rm', async () => {
  await theseus('deploy', '-f', file('shop.yaml', 'deploy:\n  shop: {image: shop:1, ports: {http: 8080}}\n'), '--wait');
  await theseus(
    'deploy',
    '-f',
    file('shop.yaml', 'deploy:\n  shop: {image: shop:2, ports: {http: 8080}, environment: {SHOP_KEY: s3cret}}\n'),
    '--wait',
  );
  const list = await theseus('services');
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^NAMESPACE\s+SERVICE/m);
  assert.match(list.stdout, /^default\s+shop\s+-\s+1\/1/m);

  const status = await theseus('status', 'shop');
  assert.match(status.stdout, /image shop:2/);
  assert.match(status.stdout, /http=127\.0\.0\.1:\d+/);
  assert.match(status.stdout, /^  env SHOP_KEY=s3cret$/m, 'the token holder sees the values');

  assert.equal((await theseus('scale', 'shop', '3', '--wait')).code, 0);
  assert.equal(h.marathon!.app('/theseus/default/shop')?.instances, 3);
  assert.equal((await theseus('scale', 'shop', 'many')).code, 2);

  assert.equal((await theseus('rollback', 'shop', '--wait')).code, 0);
  assert.equal(h.marathon!.app('/theseus/default/shop')?.container?.docker?.image, 'shop:1');

  assert.equal((await theseus('rm', 'shop', '--wait')).code, 0);
  assert.equal(h.marathon!.app('/theseus/default/shop'), undefined);
  const missing = await theseus('status', 'shop');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /service "shop" not found/);
});

test('a wrong token or an unreachable deployer is one clear line and exit 1', async () => {
  const wrong = await theseus('services', '--token-file', file('wrong-token', 'wrong-token-0000000000\n'));
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr.trim().split('\n').length, 1);
  assert.match(wrong.stderr, /the token is not valid/);
  const unreadable = await theseus('services', '--token-file', join(dir, 'no-such-file'));
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, /^theseus services: --token-file: cannot read .*no-such-file: ENOENT\n$/);
  const down = await theseus('services', '--url', 'http://127.0.0.1:1');
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the deployer/);
});
