/**
 * The native client and the resident service: started on demand, one per build, private to its
 * user; each call run with the caller's environment, working directory and stdin; replaced when
 * killed or when the program under it is rebuilt; the Node program used whenever the service
 * cannot be. Real Docker Engine; needs `npm run build` first (the client is compiled there).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from '../docker/driver.js';
import { unframe } from '../protocol/framing.js';
import { decodeMessage } from '../protocol/messages.js';
import { callProgram, idRecord, sleeperLaunch, type CallResult, type CallOptions } from '../testing/slave-calls.js';
import { startService } from './server.js';
import { FRAME, answerFrame, encodeRequest, exitFrame } from './wire.js';

const run = randomBytes(4).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'theseus-ecp-service-'));
const driver = new DockerDriver();
const instances = [`svc-a-${run}`, `svc-b-${run}`];

/** A working directory whose ./containerizer.yaml names its own instance and state directory. */
function workDir(instance: string): string {
  const dir = join(work, instance);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'containerizer.yaml'),
    `stateDir: ${join(dir, 'state')}\ninstance: ${instance}\nstopGraceSeconds: 0\n`,
  );
  return dir;
}
const [dirA, dirB] = instances.map(workDir) as [string, string];

/** A fresh runtime directory for the service (0700, as mkdtemp makes it). */
const runtimeDir = () => mkdtempSync(join(work, 'run-'));
const sockets = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.sock'));
const readyPids = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/ready \(pid (\d+)/g)].map((m) => Number(m[1])));

function call(
  runtime: string,
  args: string[],
  record?: Uint8Array,
  options: CallOptions & { extraEnv?: NodeJS.ProcessEnv } = {},
): Promise<CallResult> {
  const { extraEnv, ...rest } = options;
  return callProgram(args, record, {
    cwd: dirA,
    ...rest,
    env: { ...process.env, THESEUS_CONTAINERIZER_RUNTIME_DIR: runtime, ...extraEnv },
  });
}

function ok(result: CallResult, what: string): void {
  assert.equal(result.code, 0, `${what}: exit ${result.code}, stderr: ${result.stderr}`);
}

function containerIds(result: CallResult): string[] {
  ok(result, 'containers');
  return (
    decodeMessage('mesos.containerizer.Containers', unframe(result.stdout)).containers as Array<{ value: string }>
  ).map((c) => c.value);
}

function sleeper(containerId: string): Uint8Array {
  const dir = join(work, 'sandboxes', containerId);
  mkdirSync(dir, { recursive: true });
  return sleeperLaunch(containerId, dir);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the native client and the resident service', () => {
  const runtimes: string[] = [];
  const runtime = () => {
    const dir = runtimeDir();
    runtimes.push(dir);
    return dir;
  };

  before(async () => {
    await driver.ping();
  });

  after(async () => {
    for (const dir of runtimes) for (const pid of readyPids(dir)) if (alive(pid)) process.kill(pid, 'SIGTERM');
    for (const instance of instances)
      for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
    rmSync(work, { recursive: true, force: true });
  });

  it('starts the service on the first call and serves the next calls from it, on a socket only its user can use', async () => {
    const dir = runtime();
    ok(await call(dir, ['containers']), 'first call');
    ok(await call(dir, ['containers']), 'second call');
    const [socket, ...others] = sockets(dir);
    assert.ok(socket, 'a socket in the runtime directory');
    assert.deepEqual(others, []);
    assert.equal(statSync(join(dir, socket)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const pids = readyPids(dir);
    assert.equal(pids.length, 1, 'one service started');
    assert.ok(alive(pids[0] as number));
  });

  it("runs each call with the caller's working directory, environment and stdin", async () => {
    const dir = runtime();
    const id = randomUUID();
    // the service is started from B's directory; the launch comes from A's
    assert.deepEqual(await call(dir, ['containers'], undefined, { cwd: dirB }).then(containerIds), []);
    ok(await call(dir, ['launch'], sleeper(id), { cwd: dirA }), 'launch from A');
    assert.deepEqual(await call(dir, ['containers'], undefined, { cwd: dirA }).then(containerIds), [id]);
    assert.deepEqual(await call(dir, ['containers'], undefined, { cwd: dirB }).then(containerIds), []);
    // the configuration named in the call's environment wins over ./containerizer.yaml
    const fromEnv = await call(dir, ['containers'], undefined, {
      cwd: dirB,
      extraEnv: { THESEUS_CONTAINERIZER_CONFIG: join(dirA, 'containerizer.yaml') },
    });
    assert.deepEqual(containerIds(fromEnv), [id]);
    const usage = await call(dir, ['usage'], idRecord('Usage', id));
    ok(usage, 'usage');
    const stats = decodeMessage('mesos.ResourceStatistics', unframe(usage.stdout));
    assert.equal(stats.mem_limit_bytes, 32 * 1024 * 1024);
    ok(await call(dir, ['destroy'], idRecord('Destroy', id)), 'destroy');
    assert.equal(readyPids(dir).length, 1, 'all served by one service');
  });

  it('runs the Node program itself when the runtime directory is not private, the service is turned off or cannot start', async () => {
    const open = runtime();
    chmodSync(open, 0o755);
    const shared = await call(open, ['containers']);
    assert.deepEqual(containerIds(shared), []);
    assert.match(shared.stderr, /is not a private directory of this user; running without the service/);
    assert.deepEqual(sockets(open), []);
    const off = runtime();
    assert.deepEqual(
      containerIds(await call(off, ['containers'], undefined, { extraEnv: { THESEUS_CONTAINERIZER_SERVICE: '0' } })),
      [],
    );
    assert.deepEqual(sockets(off), []);
    // a service that cannot start: the call is run by the Node program at once
    const node = join(work, 'node-without-serve');
    writeFileSync(
      node,
      `#!/bin/sh\ncase "$*" in *" serve "*) echo "no service here" >&2; exit 1 ;; esac\nexec ${process.execPath} "$@"\n`,
      { mode: 0o755 },
    );
    const broken = runtime();
    assert.deepEqual(
      containerIds(await call(broken, ['containers'], undefined, { extraEnv: { THESEUS_CONTAINERIZER_NODE: node } })),
      [],
    );
    assert.deepEqual(sockets(broken), []);
    assert.match(
      readFileSync(join(broken, readdirSync(broken).find((f) => f.endsWith('.log')) as string), 'utf8'),
      /no service here/,
    );
    // and commands other than the protocol's always run in their own process
    const config = await call(runtime(), ['config']);
    ok(config, 'config');
    assert.equal(JSON.parse(config.stdout.toString()).instance, instances[0]);
  });

  it('is replaced by the next call when killed, and a SIGKILLed client harms neither it nor the container', async () => {
    const dir = runtime();
    ok(await call(dir, ['containers']), 'first call');
    const [first] = readyPids(dir) as [number];
    process.kill(first, 'SIGKILL');
    while (alive(first)) await new Promise((r) => setTimeout(r, 10));
    ok(await call(dir, ['containers']), 'call after the kill');
    const pids = readyPids(dir);
    assert.equal(pids.length, 2);
    const second = pids[1] as number;
    assert.notEqual(second, first);

    const id = randomUUID();
    ok(await call(dir, ['launch'], sleeper(id)), 'launch');
    let waitPid = 0;
    const waiting = call(dir, ['wait'], idRecord('Wait', id), { onSpawn: (pid) => (waitPid = pid) });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(waitPid, 'SIGKILL');
    assert.equal((await waiting).signal, 'SIGKILL');
    assert.ok(alive(second), 'the service outlives its client');
    const [container] = await driver.list({
      'theseus.containerizer': instances[0] as string,
      'theseus.mesos.container-id': id,
    });
    assert.equal(container?.state, 'running');
    ok(await call(dir, ['usage'], idRecord('Usage', id)), 'usage after the killed wait');
    ok(await call(dir, ['destroy'], idRecord('Destroy', id)), 'destroy');
    assert.deepEqual(readyPids(dir), [first, second]);
  });

  it('makes the call again when the service asks it to (a service retiring after a rebuild)', async () => {
    const dir = runtime();
    ok(await call(dir, ['containers']), 'a real call, to learn the socket name');
    const [name] = sockets(dir) as [string];
    const [pid] = readyPids(dir) as [number];
    process.kill(pid, 'SIGTERM');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 10));
    // a stand-in on that socket: "call again" the first time, then an answer of its own
    const requests: Buffer[] = [];
    const fake: Server = createServer((socket) => {
      socket.once('data', (request: Buffer) => {
        requests.push(request);
        if (requests.length === 1) socket.end(answerFrame(FRAME.callAgain, Buffer.alloc(0)));
        else socket.end(Buffer.concat([answerFrame(FRAME.stderr, Buffer.from('second time\n')), exitFrame(7)]));
      });
    });
    fake.listen(join(dir, name));
    await once(fake, 'listening');
    try {
      const result = await call(dir, ['update'], idRecord('Usage', 'x'));
      assert.equal(result.code, 7);
      assert.equal(result.stderr, 'second time\n');
      assert.equal(requests.length, 2);
      assert.ok(requests[1]?.equals(requests[0] as Buffer), 'the same request both times');
    } finally {
      fake.close();
    }
  });
});

describe('the resident service on its socket', () => {
  it('answers a call, refuses garbage without ending, and retires when the program under it changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'theseus-ecp-socket-'));
    const socketPath = join(dir, 'test.sock');
    let current = true;
    const lines: string[] = [];
    const service = await startService(
      { socketPath, idleSeconds: 0, self: [], log: (line) => lines.push(line), isCurrent: () => current },
      async (argv, io) => {
        io.stderr.write(`argv ${argv.join(' ')} cwd ${io.cwd} X=${io.env.X}\n`);
        io.writeRecord(io.readRecord());
        return 3;
      },
    );
    const exchange = (bytes: Buffer) =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = connect(socketPath, () => socket.write(bytes));
        socket.on('data', (d: Buffer) => chunks.push(d));
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
      });
    const record = Buffer.from([3, 0, 0, 0, 1, 2, 3]);
    const answer = await exchange(encodeRequest({ argv: ['usage'], cwd: '/x', env: { X: 'y' }, stdin: record }));
    assert.deepEqual(
      answer,
      Buffer.concat([
        answerFrame(FRAME.stderr, Buffer.from('argv usage cwd /x X=y\n')),
        answerFrame(FRAME.stdout, record),
        exitFrame(3),
      ]),
    );
    const refused = await exchange(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    assert.equal(refused[0], FRAME.stderr);
    assert.match(refused.toString(), /not a theseus-containerizer request/);
    assert.deepEqual(refused.subarray(refused.length - 9), exitFrame(2));
    current = false;
    const retired = await exchange(encodeRequest({ argv: ['usage'], cwd: '/', env: {}, stdin: record }));
    assert.deepEqual(retired, answerFrame(FRAME.callAgain, Buffer.alloc(0)));
    await service.closed;
    assert.equal(existsSync(socketPath), false, 'the socket is removed');
    assert.ok(lines.some((l) => l.includes('retiring')));
    rmSync(dir, { recursive: true, force: true });
  });
});
