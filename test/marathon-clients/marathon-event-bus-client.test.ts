/**
 * The npm package marathon-event-bus-client (an EventSource reader of Marathon's /v2/events) against
 * `theseus engine` run as a process: it subscribes, gets the deployment and task events of an app
 * deploying as Docker tasks, and unsubscribes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import MarathonEventBusClient from 'marathon-event-bus-client';
import { startEngineProcess, type EngineProcess } from '../support/engine-process.js';
import { eventually } from '../support/processes.js';

const APP = `/bus${Math.floor(Math.random() * 1e6)}/app`;
const TYPES = ['deployment_info', 'deployment_step_success', 'deployment_success', 'status_update_event'];

describe('marathon-event-bus-client against the engine', () => {
  let engine: EngineProcess;
  let port: number;

  before(async () => {
    engine = await startEngineProcess(20);
    port = engine.port;
  });
  after(() => engine?.stop());

  it('subscribes and receives the deployment and task events of an app as it deploys', async () => {
    const received: Array<{ name: string; data: Record<string, unknown> }> = [];
    const errors: unknown[] = [];
    const handlers = Object.fromEntries(
      TYPES.map((t) => [t, (name: string, data: Record<string, unknown>) => received.push({ name, data })]),
    );
    const client = new MarathonEventBusClient({
      marathonHost: '127.0.0.1',
      marathonPort: port,
      eventTypes: TYPES,
      handlers,
    });
    const subscribed = new Promise<void>((resolve) => client.once('subscribed', () => resolve()));
    client.on('error', (e: unknown) => errors.push(e));
    client.subscribe();
    await subscribed;

    const res = await fetch(`http://127.0.0.1:${port}/v2/apps`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        id: APP,
        cmd: 'sleep 1000',
        instances: 1,
        cpus: 0.05,
        mem: 16,
        container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local' } },
      }),
    });
    assert.equal(res.status, 201);
    const deploymentId = res.headers.get('marathon-deployment-id');
    await eventually(
      'deployment_success',
      async () => received.some((e) => e.name === 'deployment_success' && e.data.id === deploymentId),
      90_000,
      100,
    );
    client.unsubscribe();

    const ofDeployment = received
      .filter((e) => (e.data.plan as { id?: string } | undefined)?.id === deploymentId)
      .map((e) => e.name);
    assert.equal(ofDeployment[0], 'deployment_info');
    assert.ok(ofDeployment.includes('deployment_step_success'));
    assert.equal(ofDeployment[ofDeployment.length - 1], 'deployment_success');
    const statuses = received
      .filter((e) => e.name === 'status_update_event' && e.data.appId === APP)
      .map((e) => e.data.taskStatus);
    assert.deepEqual(statuses, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']);
    for (const e of received) assert.equal(e.data.eventType, e.name, 'the SSE event name is the eventType');
    assert.deepEqual(errors, []);
  });
});
