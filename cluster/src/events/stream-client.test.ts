/** The engine's events as the rest of Theseus reads them: services' MarathonEventStream, strict about shapes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MarathonEventStream, MarathonHttp, type MarathonEvent } from '@theseus/services';
import { removeDir, testEngine, waitFor, type TestEngine } from '../test-support.js';

describe('engine events through MarathonEventStream', () => {
  let e: TestEngine;
  let stream: MarathonEventStream;
  const events: MarathonEvent[] = [];
  const malformed: unknown[] = [];
  const unknown: string[] = [];

  before(async () => {
    e = await testEngine({ eventHeartbeatMs: 200 });
    stream = new MarathonEventStream({ connection: new MarathonHttp({ urls: [e.url] }), idleTimeoutMs: 2000 });
    stream.on('event', (ev) => events.push(ev));
    stream.on('malformed', (m) => malformed.push(m));
    stream.on('unknown', (u) => unknown.push(u.eventType));
    const attached = new Promise((resolve) => stream.once('attached', resolve));
    stream.start();
    await attached;
  });
  after(async () => {
    await stream.stop();
    await e.stop();
    removeDir(e.dataDir);
  });

  it('parses every event of an app lifecycle (deploy, health, kill, delete) with no malformed one', async () => {
    const created = await e.client.createApp({
      id: '/stream/web',
      cmd: 'sleep 600',
      instances: 1,
      cpus: 0.1,
      mem: 16,
      healthChecks: [
        {
          protocol: 'COMMAND',
          command: { value: 'true' },
          gracePeriodSeconds: 5,
          intervalSeconds: 1,
          timeoutSeconds: 1,
        },
      ],
    });
    const deploymentId = created.deployments![0]!.id;
    await waitFor('deployment_success', () =>
      events.some((ev) => ev.eventType === 'deployment_success' && ev.id === deploymentId),
    );
    const [task] = await e.client.appTasks('/stream/web');
    await e.client.deleteApp('/stream/web');
    await waitFor('app_terminated_event', () =>
      events.some((ev) => ev.eventType === 'app_terminated_event' && ev.appId === '/stream/web'),
    );
    assert.deepEqual(malformed, []);
    const statuses = events
      .filter((ev) => ev.eventType === 'status_update_event' && ev.taskId === task!.id)
      .map((ev) => (ev as { taskStatus: string }).taskStatus);
    assert.deepEqual(statuses, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    const types = new Set(events.map((ev) => ev.eventType));
    for (const t of [
      'api_post_event',
      'deployment_info',
      'deployment_step_success',
      'deployment_success',
      'instance_changed_event',
      'health_status_changed_event',
      'instance_health_changed_event',
      'app_terminated_event',
    ]) {
      assert.ok(types.has(t as MarathonEvent['eventType']), `${t} not received as a known event`);
    }
    assert.ok(!unknown.includes('status_update_event'));
  });
});
