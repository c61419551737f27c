// What a new user does, from a plain clone with nothing beside it: `npm run up`, use what it
// prints, run it again, survive a reboot-like stop, then `npm run down`. Slow (a full npm ci and
// build in the clone): run last by scripts/run-tests.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { freePort } from '../support/processes.js';

const repository = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const workspace = mkdtempSync(join(tmpdir(), 'theseus-fresh-'));
const clone = join(workspace, 'theseus');
const runDir = join(workspace, 'run');
const docker = new Docker();

interface Run {
  code: number | null;
  output: string;
}

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd = clone,
  timeoutMs = 20 * 60_000,
): Promise<Run> {
  return new Promise((done, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

/** The addresses `npm run up` prints under one of the example's services ("  echo", "  lb ..."). */
function printedAddresses(output: string, service: string): string[] {
  const section = output.split(new RegExp(`\\n  ${service}[ \\n]`))[1]?.split(/\n  [a-z]/)[0] ?? '';
  return [...section.matchAll(/http:\/\/(\d+\.\d+\.\d+\.\d+:\d+)/g)].map((m) => m[1]!);
}

function echoAddresses(output: string): string[] {
  return printedAddresses(output, 'echo');
}

async function answers(address: string): Promise<string> {
  const response = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(response.status, 200, `http://${address}/ answered ${response.status}`);
  return response.text();
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Listening TCP addresses of a process, from `ss` (iproute2). */
function listeningAddresses(pid: number): string[] {
  const out = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3]!);
}

/** Processes whose command line or working directory is inside the clone. */
function processesInClone(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.includes(workspace) || cwd.startsWith(workspace)) found.push(`${pid}: ${cmdline.trim()}`);
    } catch {
      // the process ended while being read
    }
  }
  return found;
}

// Someone else's container and network, running before `up`: both are left alone.
const foreignName = `someone-else-${process.pid}`;

after(async () => {
  await run('npm', ['run', 'down'], environment, clone, 5 * 60_000).catch(() => undefined);
  await docker
    .getContainer(foreignName)
    .remove({ force: true })
    .catch(() => undefined);
  await docker
    .getNetwork(foreignName)
    .remove()
    .catch(() => undefined);
  rmSync(workspace, { recursive: true, force: true });
});

const ports = { ENGINE_PORT: await freePort(), SUBSCRIBER_PORT: await freePort(), DEPLOYER_PORT: await freePort() };
const environment: Record<string, string> = {
  ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  THESEUS_RUN_DIR: runDir,
  // A stack directory of its own: `down` in the clone must not stop the etcd, Redis and Docker
  // Engine that were already running (here: the test suite's), only what its own `up` started.
  THESEUS_STACK_DIR: join(workspace, 'stack'),
  CI: '',
};

test('a fresh clone: npm run up works, twice, and after a reboot-like stop; npm run down leaves nothing of ours', async (t) => {
  await docker.createNetwork({ Name: foreignName });
  const foreign = await docker.createContainer({
    name: foreignName,
    Image: 'theseus/busybox:local',
    Cmd: ['sleep', '3600'],
    HostConfig: { NetworkMode: foreignName },
  });
  await foreign.start();

  const cloned = await run('git', ['clone', '--quiet', repository, clone], {}, workspace);
  assert.equal(cloned.code, 0, cloned.output);

  const started = Date.now();
  const up = await run('npm', ['run', 'up'], environment);
  t.diagnostic(`npm run up from a fresh clone: ${Math.round((Date.now() - started) / 1000)} s`);
  assert.equal(up.code, 0, up.output.slice(-4000));
  assert.match(up.output, /Theseus is running\./);
  const first = echoAddresses(up.output);
  assert.equal(first.length, 2, `two echo instances printed:\n${up.output.slice(-2000)}`);
  for (const address of first) assert.match(await answers(address), /hello from echo/);
  // The load balancer in front of echo answers with echo's reply.
  const lb = printedAddresses(up.output, 'lb');
  assert.equal(lb.length, 1, `one lb address printed:\n${up.output.slice(-2000)}`);
  assert.match(await answers(lb[0]!), /hello from echo/);

  // The engine, the subscriber and the deployer listen on loopback only (containers reach etcd and
  // each other's published ports, never these).
  for (const part of ['engine', 'subscriber', 'deployer']) {
    const addresses = listeningAddresses(Number(readFileSync(join(runDir, `${part}.pid`), 'utf8')));
    assert.ok(addresses.length > 0, `${part} listens`);
    for (const address of addresses)
      assert.match(address, /^(127\.0\.0\.1|\[::1\]):\d+$/, `${part} listens on ${address}`);
  }

  const engine = `http://127.0.0.1:${ports.ENGINE_PORT}`;
  const info = (await (await fetch(`${engine}/v2/info`)).json()) as { frameworkId: string };
  const engineId = info.frameworkId.replace(/-0000$/, '');

  // Running it again changes nothing and says where everything is.
  const again = await run('npm', ['run', 'up'], environment);
  assert.equal(again.code, 0, again.output.slice(-4000));
  assert.match(again.output, /engine already answers/);
  assert.deepEqual(echoAddresses(again.output).sort(), [...first].sort());

  // A reboot-like stop: every process and container gone, data directories kept.
  for (const part of ['deployer', 'subscriber', 'engine']) {
    const pid = Number(readFileSync(join(runDir, `${part}.pid`), 'utf8'));
    process.kill(pid, 'SIGKILL');
  }
  for (const c of await docker.listContainers({ filters: { label: [`theseus.engine=${engineId}`] } })) {
    await docker
      .getContainer(c.Id)
      .kill()
      .catch(() => undefined);
  }
  const back = await run('npm', ['run', 'up'], environment);
  assert.equal(back.code, 0, back.output.slice(-4000));
  const after = echoAddresses(back.output);
  assert.equal(after.length, 2, `the same two echo instances are back:\n${back.output.slice(-2000)}`);
  for (const address of after) assert.match(await answers(address), /hello from echo/);

  const down = await run('npm', ['run', 'down'], environment, clone, 5 * 60_000);
  assert.equal(down.code, 0, down.output.slice(-4000));
  const left = await docker.listContainers({ all: true, filters: { label: [`theseus.engine=${engineId}`] } });
  assert.deepEqual(
    left.map((c) => c.Names.join(',')),
    [],
    'no container of the engine is left',
  );
  assert.deepEqual(processesInClone(), [], 'no process of the clone is left');
  for (const [name, port] of Object.entries(ports))
    assert.equal(await listening(port), false, `${name} ${port} still listens`);
  assert.equal((await foreign.inspect()).State.Running, true, "someone else's container still runs");
  assert.equal(
    (await docker.getNetwork(foreignName).inspect()).Name,
    foreignName,
    "someone else's network is still there",
  );
});
