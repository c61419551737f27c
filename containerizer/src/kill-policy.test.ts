/**
 * A 1.0 slave's task kill policy, through the built program and the real Docker Engine: `destroy`
 * gives the container the task's grace period between SIGTERM and SIGKILL instead of the configured
 * one. Needs `npm run build` first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from './docker/driver.js';
import { decodeMessage, encodeMessage } from './protocol/messages.js';
import { unframe } from './protocol/framing.js';
import { callProgram, idRecord } from './testing/slave-calls.js';

const IMAGE = 'theseus/busybox:local';
const instance = `test-${randomBytes(4).toString('hex')}`;
const driver = new DockerDriver();
const work = mkdtempSync(join(tmpdir(), 'theseus-ecp-kill-'));
const configFile = join(work, 'containerizer.yaml');
// what a 1.0 slave sets on launch (`mesosVersion: auto` reads it)
const slaveEnv = { ...process.env, MESOS_AGENT_ENDPOINT: '127.0.0.1:5051' };

const call = (command: string, record: Uint8Array) =>
  callProgram(['--config', configFile, command], record, { env: slaveEnv });

/** An executor that traps SIGTERM: it takes a second, then exits 3. Its task carries the kill policy. */
function launch(containerId: string, graceSeconds: number | undefined): Uint8Array {
  const dir = join(work, 'sandboxes', containerId);
  mkdirSync(dir, { recursive: true });
  const executor = {
    executor_id: { value: `exec-${containerId}` },
    framework_id: { value: 'F0' },
    command: { value: "trap 'sleep 1; exit 3' TERM; sleep 600 & wait $!" },
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 16 } },
    ],
    container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } },
  };
  return encodeMessage(
    'mesos.containerizer.Launch',
    {
      container_id: { value: containerId },
      executor_info: executor,
      task_info: {
        name: 'drain',
        task_id: { value: `task-${containerId}` },
        slave_id: { value: 'S0' },
        executor,
        ...(graceSeconds === undefined ? {} : { kill_policy: { grace_period: { nanoseconds: graceSeconds * 1e9 } } }),
      },
      directory: dir,
      slave_id: { value: 'S0' },
      slave_pid: 'slave(1)@127.0.0.1:5051',
      checkpoint: false,
    },
    '1.0.4',
  );
}

/** Launches, destroys, and answers the exit code `wait` reports. */
async function exitAfterDestroy(graceSeconds: number | undefined): Promise<number> {
  const id = randomUUID();
  const launched = await call('launch', launch(id, graceSeconds));
  assert.equal(launched.code, 0, launched.stderr);
  const [container] = await driver.list({ 'theseus.containerizer': instance, 'theseus.mesos.container-id': id });
  assert.ok(container, 'the container runs');
  // the trap is set once the shell has started its sleep
  for (
    let i = 0;
    i < 100 &&
    !(await driver.exec(container.id, 'pgrep sleep', { timeoutMs: 5000 }).then(
      (r) => r.exitCode === 0,
      () => false,
    ));
    i++
  )
    await new Promise((r) => setTimeout(r, 100));
  const waiting = call('wait', idRecord('Wait', id));
  const destroyed = await call('destroy', idRecord('Destroy', id));
  assert.equal(destroyed.code, 0, destroyed.stderr);
  const ended = await waiting;
  assert.equal(ended.code, 0, ended.stderr);
  const termination = decodeMessage('mesos.containerizer.Termination', unframe(ended.stdout), '1.0.4') as {
    status?: number;
  };
  return (termination.status ?? 0) >> 8;
}

describe("kill policy of a 1.0 slave's task", () => {
  before(async () => {
    await driver.ping();
    writeFileSync(
      configFile,
      `stateDir: ${join(work, 'state')}\ninstance: ${instance}\nmesosVersion: auto\nstopGraceSeconds: 0\n`,
    );
  });
  after(async () => {
    for (const c of await driver.list({ 'theseus.containerizer': instance })) {
      await driver.stop(c.id, 0).catch(() => undefined);
      await driver.remove(c.id).catch(() => undefined);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it("destroy waits the task's grace period: its SIGTERM handler finishes", async () => {
    assert.equal(await exitAfterDestroy(5), 3);
  });

  it('without a kill policy the configured grace (0 s here) holds: killed', async () => {
    assert.equal(await exitAfterDestroy(undefined), 137);
  });
});
