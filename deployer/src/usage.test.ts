import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MarathonEvent } from '@theseus/services';
import { agentUrlOf, isOomTermination } from './usage.js';

test("an agent's pid names the address of its HTTP API", () => {
  assert.equal(agentUrlOf('slave(1)@10.0.0.5:5051'), 'http://10.0.0.5:5051');
  assert.equal(agentUrlOf('slave(1)@::1:43067'), 'http://[::1]:43067');
  assert.equal(agentUrlOf('slave(1)'), undefined);
  assert.equal(agentUrlOf(undefined), undefined);
});

test('a failed task counts as an OOM kill when its status says the memory limit ended it', () => {
  const failed = (message: string, taskStatus = 'TASK_FAILED') =>
    ({
      eventType: 'status_update_event',
      appId: '/theseus/default/web',
      taskStatus,
      message,
    }) as unknown as MarathonEvent;
  // the engine's Docker runner, the containerizer, Mesos's cgroups memory isolator
  assert.equal(isOomTermination(failed('Container was killed because it ran out of memory')), '/theseus/default/web');
  assert.equal(
    isOomTermination(failed('container exceeded its memory limit and was killed (OOM)')),
    '/theseus/default/web',
  );
  assert.equal(
    isOomTermination(failed('Memory limit exceeded: Requested: 64MB Maximum Used: 64MB')),
    '/theseus/default/web',
  );
  assert.equal(isOomTermination(failed('Container exited with status 1')), undefined);
  assert.equal(isOomTermination(failed('Container was killed because it ran out of memory', 'TASK_KILLED')), undefined);
});
