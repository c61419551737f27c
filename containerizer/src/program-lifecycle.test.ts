/**
 * The built program under the conditions a slave creates: overlapping calls on one container, a
 * SIGKILLed wait, a restart with lost or stale state, bad input of every kind, and command tasks
 * whose executor must register with the slave. Real Docker Engine; needs `npx tsc -b` first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { DockerDriver } from './docker/driver.js';
import { decodeMessage, encodeMessage } from './protocol/messages.js';
import { unframe } from './protocol/framing.js';
import { callProgram, idRecord, sleeperLaunch, type CallResult } from './testing/slave-calls.js';

const IMAGE = 'theseus/busybox:local';
const run = randomBytes(4).toString('hex');
const instance = `test-${run}`;
const driver = new DockerDriver();
const work = mkdtempSync(join(tmpdir(), 'theseus-ecp-life-'));
const stateRoot = join(work, 'state', instance);
const configFile = join(work, 'containerizer.yaml');
const libexec = join(work, 'libexec');

const call = (command: string, record?: Uint8Array, config = configFile) =>
  callProgram(['--config', config, command], record);

function ok(result: CallResult, what: string): void {
  assert.equal(result.code, 0, `${what}: exit ${result.code}, stderr: ${result.stderr}`);
}

function sandbox(): string {
  const dir = join(work, 'sandboxes', randomUUID());
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sleeper(containerId: string, dir = sandbox()): Uint8Array {
  return sleeperLaunch(containerId, dir);
}

/** A command task as a 0.22 slave sends it: the task plus the command executor it made up. */
function commandTask(containerId: string, taskId: string, dir: string, command: string): Uint8Array {
  return encodeMessage('mesos.containerizer.Launch', {
    container_id: { value: containerId },
    task_info: {
      name: 'web',
      task_id: { value: taskId },
      slave_id: { value: 'S0' },
      resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.2 } }],
      command: { value: command, shell: true },
      container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } },
    },
    executor_info: {
      executor_id: { value: taskId },
      framework_id: { value: 'F0' },
      command: { value: join(libexec, 'mesos-executor'), shell: true },
      resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.3 } }],
      name: `Command Executor (Task: ${taskId})`,
      source: taskId,
    },
    directory: dir,
    slave_id: { value: 'S0' },
    slave_pid: 'slave(1)@127.0.0.1:5051',
    checkpoint: false,
  });
}

const launchEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  MESOS_LIBEXEC_DIRECTORY: libexec,
  MESOS_FRAMEWORK_ID: 'F0',
  MESOS_SLAVE_PID: 'slave(1)@127.0.0.1:5051',
  LIBPROCESS_PORT: '0',
});

async function running(containerId: string): Promise<boolean> {
  const [c] = await driver.list({ 'theseus.containerizer': instance, 'theseus.mesos.container-id': containerId });
  return c?.state === 'running';
}

function containerIds(result: CallResult): string[] {
  ok(result, 'containers');
  return (
    decodeMessage('mesos.containerizer.Containers', unframe(result.stdout)).containers as Array<{ value: string }>
  ).map((c) => c.value);
}

/** Fails with exactly one line on stderr and nothing on stdout. */
function refused(result: CallResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `expected a failure, stderr: ${result.stderr}`);
  assert.equal(result.stdout.length, 0, 'nothing on stdout');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

describe('theseus-containerizer under slave conditions', () => {
  before(async () => {
    await driver.ping();
    writeFileSync(
      configFile,
      `stateDir: ${join(work, 'state')}\ninstance: ${instance}\nstopGraceSeconds: 1\nexecutorGraceSeconds: 10\n`,
    );
    mkdirSync(libexec, { recursive: true });
  });

  after(async () => {
    for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
    rmSync(work, { recursive: true, force: true });
  });

  it('serialises overlapping calls on one container: launches race, usage/update/wait/destroy overlap', async () => {
    const id = randomUUID();
    const launches = await Promise.all([call('launch', sleeper(id)), call('launch', sleeper(id))]);
    assert.deepEqual(launches.map((r) => r.code === 0).sort(), [false, true], launches.map((r) => r.stderr).join('\n'));
    assert.match(launches.find((r) => r.code !== 0)?.stderr ?? '', /already launched/);
    assert.equal(
      (await driver.list({ 'theseus.containerizer': instance, 'theseus.mesos.container-id': id })).length,
      1,
    );

    const update = encodeMessage('mesos.containerizer.Update', {
      container_id: { value: id },
      resources: [{ name: 'mem', type: 'SCALAR', scalar: { value: 40 } }],
    });
    const waiting = call('wait', idRecord('Wait', id));
    const overlapping = await Promise.all([
      ...Array.from({ length: 4 }, () => call('usage', idRecord('Usage', id))),
      call('update', update),
      call('destroy', idRecord('Destroy', id)),
      call('destroy', idRecord('Destroy', id)),
    ]);
    overlapping.forEach((r, i) => ok(r, `overlapping call ${i}`));
    for (const r of overlapping.slice(0, 4))
      assert.ok((decodeMessage('mesos.ResourceStatistics', unframe(r.stdout)).timestamp as number) > 0);
    const ended = decodeMessage('mesos.containerizer.Termination', unframe((await waiting).stdout)) as {
      killed: boolean;
      message: string;
    };
    assert.equal(ended.killed, false);
    assert.match(ended.message, /destroyed|exited/);
    assert.equal(await running(id), false);
  });

  it('survives a SIGKILLed wait: the container keeps running and its state stays whole', async () => {
    const id = randomUUID();
    ok(await call('launch', sleeper(id)), 'launch');
    let pid = 0;
    const waiting = callProgram(['--config', configFile, 'wait'], idRecord('Wait', id), { onSpawn: (p) => (pid = p) });
    await new Promise((resolve) => setTimeout(resolve, 700));
    process.kill(-pid, 'SIGKILL'); // what the slave does after destroy: the whole process tree
    const killed = await waiting;
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(await running(id), true);
    assert.equal(JSON.parse(readFileSync(join(stateRoot, id, 'container.json'), 'utf8')).containerId, id);
    ok(await call('usage', idRecord('Usage', id)), 'usage after the kill');
    ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
    const ended = await call('wait', idRecord('Wait', id));
    ok(ended, 'wait after destroy');
  });

  it('recovers: rebuilds state the directory lost, forgets containers that vanished', async () => {
    const lost = randomUUID();
    const vanished = randomUUID();
    ok(await call('launch', sleeper(lost)), 'launch lost');
    ok(await call('launch', sleeper(vanished)), 'launch vanished');
    rmSync(join(stateRoot, lost), { recursive: true });
    const [gone] = await driver.list({ 'theseus.mesos.container-id': vanished });
    await driver.remove(gone?.id ?? '');
    refused(await call('usage', idRecord('Usage', lost)), /no container .* was launched here/);

    const recovered = await call('recover');
    ok(recovered, 'recover');
    assert.equal(recovered.stdout.length, 0);
    assert.equal(existsSync(join(stateRoot, vanished)), false, 'state of the vanished container is forgotten');
    const ids = containerIds(await call('containers'));
    assert.ok(ids.includes(lost));
    assert.ok(!ids.includes(vanished));
    ok(await call('usage', idRecord('Usage', lost)), 'usage after recovery');
    ok(await call('destroy', idRecord('Destroy', lost)), 'destroy after recovery');
    assert.equal(await running(lost), false);
  });

  it('refuses every kind of bad input with one line on stderr and nothing on stdout', async () => {
    const id = randomUUID();
    const header = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    refused(
      await callProgram(['--config', configFile, 'launch'], undefined, {
        rawStdin: Buffer.concat([header(100), Buffer.alloc(10)]),
        closeStdin: true,
      }),
      /stdin ended after 10 of the 100 bytes/,
    );
    refused(
      await callProgram(['--config', configFile, 'wait'], undefined, {
        rawStdin: Buffer.from([0x02]),
        closeStdin: true,
      }),
      /stdin ended after 1 of the 4 bytes/,
    );
    refused(
      await callProgram(['--config', configFile, 'wait'], undefined, {
        rawStdin: Buffer.concat([header(8), Buffer.alloc(8, 0xff)]),
      }),
      /not a mesos.containerizer.Wait record/,
    );
    refused(await callProgram(['--config', configFile, 'usage'], undefined, { rawStdin: header(0) }), /empty record/);
    refused(
      await callProgram(['--config', configFile, 'usage'], undefined, { rawStdin: header(0xffffffff) }),
      /not a framed record/,
    );
    refused(
      await call('usage', encodeMessage('mesos.ResourceStatistics', { timestamp: 1 })),
      /usage: .*not a .*Usage record|no container_id/,
    );
    refused(await call('launch', idRecord('Wait', id)), /neither executor_info nor task_info/);
    refused(await call('usage', idRecord('Usage', '../../etc')), /container id .* is not usable/);
    refused(await call('wait', idRecord('Wait', id)), /no container .* was launched here/);
    refused(await callProgram(['--config', configFile, 'frobnicate'], undefined), /unknown command 'frobnicate'/);
    const badConfig = join(work, 'bad.yaml');
    writeFileSync(badConfig, 'stateDir: 42\nallow:\n  privileged: maybe\n');
    const invalid = await call('containers', undefined, badConfig);
    assert.notEqual(invalid.code, 0);
    assert.equal(invalid.stdout.length, 0);
    assert.match(invalid.stderr, /bad\.yaml is not a valid containerizer configuration/);
    assert.match(invalid.stderr, /allow\.privileged|allow\/privileged/);
    refused(
      await callProgram(['--config', join(work, 'missing.yaml'), 'usage'], idRecord('Usage', id)),
      /missing\.yaml: the configuration file does not exist/,
    );
    const noEngine = join(work, 'no-engine.yaml');
    writeFileSync(
      noEngine,
      `stateDir: ${join(work, 'state')}\ninstance: ${instance}\ndocker:\n  socketPath: ${join(work, 'no-docker.sock')}\n`,
    );
    refused(await call('containers', undefined, noEngine), /Docker Engine at .*no-docker\.sock is unavailable/);
    refused(await call('recover', undefined, noEngine), /Docker Engine at .*no-docker\.sock is unavailable/);
  });

  it('lists and removes the state of ended containers (state [--rm]), and logs to syslog when configured', async () => {
    const syslog = createSocket('udp4');
    const datagrams: string[] = [];
    syslog.on('message', (m) => datagrams.push(m.toString()));
    await new Promise<void>((resolve) => syslog.bind(0, '127.0.0.1', resolve));
    const withSyslog = join(work, 'syslog.yaml');
    writeFileSync(
      withSyslog,
      `stateDir: ${join(work, 'state')}\ninstance: ${instance}\nlog:\n  syslog:\n    host: 127.0.0.1\n    port: ${syslog.address().port}\n`,
    );
    const ended = randomUUID();
    const live = randomUUID();
    const quick = encodeMessage('mesos.containerizer.Launch', {
      container_id: { value: ended },
      executor_info: {
        executor_id: { value: ended },
        command: { value: 'exit 0' },
        container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } },
      },
    });
    ok(await call('launch', quick, withSyslog), 'launch');
    ok(await call('launch', sleeper(live)), 'launch');
    ok(await call('wait', idRecord('Wait', ended)), 'wait');
    const listed = await callProgram(['--config', configFile, 'state'], undefined);
    ok(listed, 'state');
    assert.match(listed.stdout.toString(), new RegExp(`^${ended}\t.*\texit 0$`, 'm'));
    assert.doesNotMatch(listed.stdout.toString(), new RegExp(live));
    ok(await callProgram(['--config', configFile, 'state', '--rm'], undefined), 'state --rm');
    assert.equal(existsSync(join(stateRoot, ended)), false);
    assert.equal(existsSync(join(stateRoot, live)), true, 'a running container keeps its state');
    assert.equal((await driver.list({ 'theseus.mesos.container-id': ended })).length, 0);
    ok(await call('destroy', idRecord('Destroy', live)), 'destroy');
    for (let i = 0; i < 20 && !datagrams.some((d) => d.includes('launched')); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    syslog.close();
    assert.ok(
      datagrams.some((d) => /^<14>theseus-containerizer\[\d+\]: launched /.test(d)),
      datagrams.join('\n'),
    );
  });

  it('answers containers and recover without reading stdin (which stays open)', async () => {
    // stdin is a pipe nobody writes to: a program that read it would never exit
    containerIds(await call('containers'));
    ok(await call('recover'), 'recover');
    containerIds(await callProgram(['--config', configFile, 'containers'], undefined, { viaTheseus: true }));
  });

  it("runs a command task with the slave's mesos-executor on the host observing the container", async () => {
    writeFileSync(
      join(libexec, 'mesos-executor'),
      [
        '#!/bin/sh',
        '# stands in for the stock executor: records how it was started, runs the --override argv, reports',
        'env > "$MESOS_DIRECTORY/executor-env.txt"',
        'echo "$@" > "$MESOS_DIRECTORY/executor-argv.txt"',
        'shift',
        '"$@"',
        'echo "exit=$?" > "$MESOS_DIRECTORY/executor-result.txt"',
        'sleep 1',
        'echo reported > "$MESOS_DIRECTORY/executor-done.txt"',
        '',
      ].join('\n'),
    );
    chmodSync(join(libexec, 'mesos-executor'), 0o755);
    const id = randomUUID();
    const taskId = `web.${run}`;
    const dir = sandbox();
    ok(
      await callProgram(['--config', configFile, 'launch'], commandTask(id, taskId, dir, 'echo task-output; exit 4'), {
        env: launchEnv(),
        cwd: dir,
      }),
      'launch',
    );
    const ended = decodeMessage(
      'mesos.containerizer.Termination',
      unframe((await call('wait', idRecord('Wait', id))).stdout),
    ) as { status: number };
    assert.equal(ended.status, 4 << 8);
    assert.ok(existsSync(join(dir, 'executor-done.txt')), 'the executor reported before wait answered');
    assert.equal(readFileSync(join(dir, 'executor-result.txt'), 'utf8').trim(), 'exit=4');
    const argv = readFileSync(join(dir, 'executor-argv.txt'), 'utf8');
    assert.match(
      argv,
      new RegExp(`^--override .*theseus-containerizer\\.js --config ${configFile} observe ${id}$`, 'm'),
    );
    const env = readFileSync(join(dir, 'executor-env.txt'), 'utf8');
    assert.match(env, new RegExp(`^MESOS_EXECUTOR_ID=${taskId.replace('.', '\\.')}$`, 'm'));
    assert.match(env, /^MESOS_FRAMEWORK_ID=F0$/m);
    assert.match(env, /^MESOS_SLAVE_PID=slave\(1\)@127\.0\.0\.1:5051$/m);
    assert.doesNotMatch(env, /^LIBPROCESS_PORT=/m);
    assert.match(readFileSync(join(dir, 'stdout'), 'utf8'), /task-output/);
    ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
  });

  it("writes a command task's output into the sandbox's stdout, rotated by the taskLogs limits", async () => {
    const rotating = join(work, 'rotating.yaml');
    writeFileSync(
      rotating,
      `stateDir: ${join(work, 'state')}\ninstance: ${instance}\nstopGraceSeconds: 1\nexecutorGraceSeconds: 10\ntaskLogs: {maxFileBytes: 65536, maxFiles: 2}\n`,
    );
    // stands in for the stock executor: runs the --override argv
    writeFileSync(join(libexec, 'mesos-executor'), '#!/bin/sh\nshift\n"$@"\n');
    chmodSync(join(libexec, 'mesos-executor'), 0o755);
    const id = randomUUID();
    const dir = sandbox();
    // written once the output is followed: Docker's own copy holds only 2 files of maxFileBytes
    const command = 'sleep 2; yes 0123456789abcdef | head -c 300000; echo the-end';
    ok(
      await callProgram(['--config', rotating, 'launch'], commandTask(id, `big.${run}`, dir, command), {
        env: launchEnv(),
        cwd: dir,
      }),
      'launch',
    );
    ok(await call('wait', idRecord('Wait', id), rotating), 'wait');
    assert.deepEqual(
      readdirSync(dir)
        .filter((n) => n.startsWith('stdout'))
        .sort(),
      ['stdout', 'stdout.1', 'stdout.2'],
    );
    for (const n of ['stdout', 'stdout.1', 'stdout.2'])
      assert.ok(statSync(join(dir, n)).size <= 65536, `${n}: ${statSync(join(dir, n)).size} bytes`);
    assert.match(readFileSync(join(dir, 'stdout'), 'utf8'), /the-end\n$/);
    ok(await call('destroy', idRecord('Destroy', id), rotating), 'destroy');
  });

  it("runs a command task's executor inside the container with the launcher directory and sandbox mounted", async () => {
    const inside = join(work, 'container-mode.yaml');
    writeFileSync(
      inside,
      `stateDir: ${join(work, 'state')}\ninstance: ${instance}\ncommandExecutor: container\nstopGraceSeconds: 1\n`,
    );
    writeFileSync(
      join(libexec, 'mesos-executor'),
      '#!/bin/sh\nenv > "$MESOS_SANDBOX/in-container-env.txt"\ngrep " $MESOS_LIBEXEC_DIRECTORY " /proc/mounts > "$MESOS_SANDBOX/in-container-mounts.txt"\n',
    );
    chmodSync(join(libexec, 'mesos-executor'), 0o755);
    const id = randomUUID();
    const taskId = `worker.${run}`;
    const dir = sandbox();
    ok(
      await callProgram(
        ['--config', inside, 'launch'],
        commandTask(id, taskId, dir, 'echo never-run-by-the-containerizer'),
        { env: launchEnv(), cwd: dir },
      ),
      'launch',
    );
    const ended = decodeMessage(
      'mesos.containerizer.Termination',
      unframe((await call('wait', idRecord('Wait', id), inside)).stdout),
    ) as { status: number };
    assert.equal(ended.status, 0);
    const env = readFileSync(join(dir, 'in-container-env.txt'), 'utf8');
    for (const line of [
      `MESOS_EXECUTOR_ID=${taskId}`,
      `MESOS_TASK_ID=${taskId}`,
      'MESOS_FRAMEWORK_ID=F0',
      'MESOS_SLAVE_ID=S0',
      'MESOS_SLAVE_PID=slave(1)@127.0.0.1:5051',
      'MESOS_DIRECTORY=/mnt/mesos/sandbox',
      `MESOS_LIBEXEC_DIRECTORY=${libexec}`,
    ]) {
      assert.ok(env.split('\n').includes(line), `${line} in the executor's environment`);
    }
    assert.match(
      readFileSync(join(dir, 'in-container-mounts.txt'), 'utf8'),
      /\bro\b/,
      'the launcher directory is mounted read-only',
    );
    ok(await call('destroy', idRecord('Destroy', id), inside), 'destroy');
  });
});
