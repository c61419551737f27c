/** `GET /master/slaves` in a Mesos master's shape: the engine's one agent, its capacity and what its tasks use. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { destroyTestEngine, randomRange, testEngine, waitFor, type TestEngine } from '../test-support.js';

describe('engine /master/slaves', () => {
  let e: TestEngine;
  const range = randomRange();
  before(async () => {
    e = await testEngine({ cpus: 3, memMb: 2048, portRange: range });
  });
  after(() => destroyTestEngine(e));

  it('describes the single agent with its capacity, and the resources its tasks hold', async () => {
    type Agent = {
      id: string;
      hostname: string;
      active: boolean;
      resources: Record<string, unknown>;
      used_resources: Record<string, unknown>;
    };
    const read = async () => ((await (await fetch(`${e.url}/master/slaves`)).json()) as { slaves: Agent[] }).slaves;
    const [idle] = await read();
    assert.equal(idle!.id, e.engine.agentId);
    assert.equal(idle!.active, true);
    assert.deepEqual(idle!.resources, { cpus: 3, mem: 2048, disk: 0, gpus: 0, ports: `[${range[0]}-${range[1]}]` });
    assert.deepEqual(idle!.used_resources, { cpus: 0, mem: 0, disk: 0, gpus: 0 });

    await e.client.createApp({
      id: '/agent/sleeper',
      cmd: 'sleep 600',
      instances: 2,
      cpus: 0.25,
      mem: 32,
      portDefinitions: [{ port: 0 }],
    });
    await waitFor(
      'two tasks running',
      () => [...e.engine.scheduler.tasks.values()].filter((t) => t.state === 'TASK_RUNNING').length === 2,
    );
    const [busy] = await read();
    assert.equal(busy!.used_resources.cpus, 0.5);
    assert.equal(busy!.used_resources.mem, 64);
    const ports = [...e.engine.scheduler.tasks.values()].flatMap((t) => t.ports).sort((a, b) => a - b);
    assert.match(String(busy!.used_resources.ports), new RegExp(`^\\[${ports[0]}-`));

    const other = (await (await fetch(`${e.url}/master/slaves?slave_id=nobody`)).json()) as { slaves: unknown[] };
    assert.deepEqual(other.slaves, []);
  });
});
