/** The text/plain task list for port mappings: which host port belongs to which service port. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AppDefinition } from '../app/definition.js';
import type { TaskRecord } from '../tasks/task.js';
import { tasksText } from './tasks-text.js';

const bridged = {
  id: '/shop/web',
  networks: [{ mode: 'container/bridge' }],
  container: {
    type: 'DOCKER',
    volumes: [],
    portMappings: [
      { containerPort: 80, hostPort: 0, servicePort: 10001, protocol: 'tcp' },
      { containerPort: 9000, servicePort: 10002, protocol: 'tcp' },
      { containerPort: 443, hostPort: 0, servicePort: 10003, protocol: 'tcp' },
    ],
  },
} as unknown as AppDefinition;

const task = (id: string, state: string, ports: number[]) =>
  ({ id, state, host: '10.0.0.5', ports }) as unknown as TaskRecord;

describe('tasksText', () => {
  it('maps each service port to the host port of its mapping; a mapping without host port lists no endpoint', () => {
    const tasks = [
      task('a', 'TASK_RUNNING', [31001, 31002]),
      task('b', 'TASK_STAGING', [31003, 31004]),
      task('c', 'TASK_RUNNING', [31005, 31006]),
    ];
    assert.equal(
      tasksText([bridged], () => tasks),
      'shop_web\t10001\t10.0.0.5:31001\t10.0.0.5:31005\t\n' +
        'shop_web\t10002\t\n' +
        'shop_web\t10003\t10.0.0.5:31002\t10.0.0.5:31006\t\n',
    );
  });
});
