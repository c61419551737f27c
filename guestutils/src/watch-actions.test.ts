// `theseus watch --exec` and `--template` as a container runs them: the built bin, real processes, real etcd.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLayout } from '@theseus/services';
import { endpointRecord, eventually, putRecord } from './test-support/records.js';

const bin = fileURLToPath(new URL('../../bin/theseus.js', import.meta.url));
const buildScript = fileURLToPath(new URL('../scripts/build-guest.mjs', import.meta.url));
const etcdUrl = (process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',')[0]!;
const prefix = `/test-watch-actions-${randomUUID().slice(0, 8)}`;
const layout = new EtcdLayout(prefix);
const client = new Etcd3({ hosts: etcdUrl });
const dir = mkdtempSync(join(tmpdir(), 'watch-actions-'));
const clean = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      !/^(MARATHON_|ETCD_|REDIS_|THESEUS_|LOG_|WATCH|CONTAINER_|ENVIRONMENT_NAME|SERVICE_NAME|HOST$|PORT)/.test(k),
  ),
) as Record<string, string>;
const env = {
  ...clean,
  ETCD_ENDPOINTS: etcdUrl,
  THESEUS_ETCD_PREFIX: prefix,
  ENVIRONMENT_NAME: 'default',
  LOG_FORMAT: 'json',
  WATCHES: 'cache',
};

after(async () => {
  await client.delete().prefix(prefix + '/');
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]) {
  const child = spawn(process.execPath, [bin, 'watch', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stderr: '' };
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}

function read(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

test('--exec runs the command per change with the delta on stdin and in THESEUS_DELTA; a failing run is logged and its change delivered again', async () => {
  const log = join(dir, 'exec.jsonl');
  const fail = join(dir, 'fail');
  const script = join(dir, 'on-change.sh');
  writeFileSync(
    script,
    `#!/bin/sh\ndelta=$(cat)\nif [ -f ${fail} ]; then rm ${fail}; echo "refused by the test" >&2; exit 4; fi\n` +
      `[ "$delta" = "$THESEUS_DELTA" ] || echo ENV-DIFFERS >> ${log}\necho "$delta" >> ${log}\n`,
    { mode: 0o755 },
  );
  const a = endpointRecord({ service: 'cache', host: '10.6.0.1' });
  await putRecord(client, layout, a);
  const watcher = start(['--exec', script, '--coalesce-ms', '20']);
  const deltas = () =>
    read(log)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { service: string; added: { host: string }[] });
  try {
    await eventually(
      () => deltas().length === 1 || watcher.output.stderr.includes('"level":"error"'),
      'the initial run',
      20_000,
    );
    assert.deepEqual(
      deltas()[0]!.added.map((r) => r.host),
      ['10.6.0.1'],
      watcher.output.stderr,
    );

    writeFileSync(fail, '');
    await putRecord(client, layout, endpointRecord({ service: 'cache', host: '10.6.0.2' }));
    await eventually(
      () => watcher.output.stderr.includes('serviceChange failed'),
      'the failed run to be logged',
      20_000,
    );
    assert.match(watcher.output.stderr, /"level":"error".*serviceChange failed.*exited with 4: refused by the test/);
    await eventually(() => deltas().length === 2, 'the change delivered again', 20_000);
    assert.deepEqual(
      deltas()[1]!.added.map((r) => r.host),
      ['10.6.0.2'],
    );
    assert.doesNotMatch(read(log), /ENV-DIFFERS/);
  } finally {
    watcher.child.kill('SIGTERM');
  }
  assert.equal(await watcher.exited, 0);
});

test('--template is rendered by theseus-guest with the same settings; conflicting ways to act are refused', async () => {
  execFileSync(process.execPath, [buildScript, '--install'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const template = join(dir, 'backends.tmpl');
  const out = join(dir, 'backends.conf');
  writeFileSync(template, '{{range healthy (service "cache")}}{{.Host}}\n{{end}}');
  const watcher = start(['--template', template, '--out', out, '--reload', `touch ${join(dir, 'reloaded')}`]);
  try {
    await eventually(
      () => read(out) === '10.6.0.1\n10.6.0.2\n' || read(out) === '10.6.0.2\n10.6.0.1\n',
      'the rendered file',
      20_000,
    );
    await eventually(() => existsSync(join(dir, 'reloaded')), 'the reload', 20_000);
  } finally {
    watcher.child.kill('SIGTERM');
  }
  assert.equal(await watcher.exited, 0, watcher.output.stderr);

  const both = spawnSync(process.execPath, [bin, 'watch', '--exec', 'true', '--template', template, '--out', out], {
    env,
    encoding: 'utf8',
  });
  assert.equal(both.status, 1);
  assert.equal(
    both.stderr,
    'theseus watch: --exec, --template: these are different ways to act on a change: use one\n',
  );
  const noOut = spawnSync(process.execPath, [bin, 'watch', '--template', template], { env, encoding: 'utf8' });
  assert.equal(noOut.stderr, 'theseus watch: --template: needs --out <file>\n');
});
