import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseMarathonEvent, taskOfInstance, KNOWN_EVENT_TYPES } from './events.js';

const SAMPLE = new URL('../../../conformance/marathon/schema/raml-v1.10.26/v2/examples/events.txt', import.meta.url);

test('parses every event of the real SSE sample', () => {
  const dataLines = readFileSync(SAMPLE, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6));
  assert.ok(dataLines.length >= 3);
  const parsed = dataLines.map((d) => parseMarathonEvent(d));
  assert.deepEqual(
    parsed.map((p) => p.kind),
    dataLines.map(() => 'event'),
  );
  const failed = parsed[1]!;
  assert.equal(failed.kind === 'event' && failed.event.eventType, 'status_update_event');
  if (failed.kind === 'event' && failed.event.eventType === 'status_update_event') {
    assert.equal(failed.event.taskStatus, 'TASK_FAILED');
    assert.equal(failed.event.appId, '/foo');
    assert.deepEqual(failed.event.ports, [31776]);
    assert.deepEqual(failed.event.ipAddresses, []);
  }
});

test('normalises 0.x callbacks: appID and integer taskStatus', () => {
  const p = parseMarathonEvent({
    eventType: 'status_update_event',
    timestamp: '2014-03-01T23:29:30.158Z',
    taskId: 'sleep_0-1',
    taskStatus: 1,
    appID: 'sleep',
    host: 'zwerg',
    ports: [31372],
  });
  assert.equal(p.kind, 'event');
  if (p.kind === 'event' && p.event.eventType === 'status_update_event') {
    assert.equal(p.event.taskStatus, 'TASK_RUNNING');
    assert.equal(p.event.appId, 'sleep');
    assert.equal(p.event.slaveId, '');
  }
  const killing = parseMarathonEvent({
    eventType: 'status_update_event',
    timestamp: '2020-01-01T00:00:00.000Z',
    taskId: 'a.1',
    appId: '/a',
    taskStatus: 8,
  });
  assert.equal(
    killing.kind === 'event' && killing.event.eventType === 'status_update_event' && killing.event.taskStatus,
    'TASK_KILLING',
  );
});

test('health events of 1.3 (taskId) and 1.4+ (instanceId) both give instanceId', () => {
  const old = parseMarathonEvent({
    eventType: 'health_status_changed_event',
    timestamp: '2016-01-01T00:00:00.000Z',
    appId: '/a',
    taskId: 'a.1',
    version: 'v',
    alive: true,
  });
  const cur = parseMarathonEvent({
    eventType: 'health_status_changed_event',
    timestamp: '2020-01-01T00:00:00.000Z',
    appId: '/a',
    instanceId: 'a.instance-1',
    version: 'v',
    alive: false,
  });
  assert.equal(
    old.kind === 'event' && old.event.eventType === 'health_status_changed_event' && old.event.instanceId,
    'a.1',
  );
  assert.equal(cur.kind === 'event' && cur.event.eventType === 'health_status_changed_event' && cur.event.alive, false);
  const unknownHealth = parseMarathonEvent({
    eventType: 'instance_health_changed_event',
    timestamp: '2020-01-01T00:00:00.000Z',
    instanceId: 'a.instance-1',
    runSpecId: '/a',
    runSpecVersion: 'v',
  });
  assert.equal(
    unknownHealth.kind === 'event' &&
      unknownHealth.event.eventType === 'instance_health_changed_event' &&
      unknownHealth.event.healthy,
    null,
  );
});

test('malformed input is reported with the reason, never thrown', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['{not json', /not JSON/],
    ['[1,2]', /JSON object/],
    [{ timestamp: '2020-01-01T00:00:00.000Z' }, /eventType is missing/],
    [
      {
        eventType: 'status_update_event',
        timestamp: 'yesterday',
        taskId: 'a.1',
        appId: '/a',
        taskStatus: 'TASK_RUNNING',
      },
      /timestamp/,
    ],
    [
      {
        eventType: 'status_update_event',
        timestamp: '2020-01-01T00:00:00.000Z',
        taskId: 'a.1',
        appId: '/a',
        taskStatus: 'RUNNING',
      },
      /taskStatus/,
    ],
    [
      {
        eventType: 'status_update_event',
        timestamp: '2020-01-01T00:00:00.000Z',
        appId: '/a',
        taskStatus: 'TASK_RUNNING',
      },
      /taskId/,
    ],
    [
      {
        eventType: 'status_update_event',
        timestamp: '2020-01-01T00:00:00.000Z',
        taskId: 'a.1',
        appId: '/a',
        taskStatus: 'TASK_RUNNING',
        ports: ['x'],
      },
      /ports/,
    ],
    [{ eventType: 'app_terminated_event', timestamp: '2020-01-01T00:00:00.000Z' }, /appId/],
    [{ eventType: 'deployment_info', timestamp: '2020-01-01T00:00:00.000Z', plan: {} }, /plan.id/],
  ];
  for (const [input, reason] of cases) {
    const p = parseMarathonEvent(input);
    assert.equal(p.kind, 'malformed', JSON.stringify(input));
    assert.match(p.kind === 'malformed' ? p.problem : '', reason);
  }
});

test('unknown event types are set apart, not rejected', () => {
  const p = parseMarathonEvent(
    '{"eventType":"pod_created_event","timestamp":"2020-01-01T00:00:00.000Z","clientIp":"1.2.3.4"}',
    'pod_created_event',
  );
  assert.equal(p.kind, 'unknown');
  assert.equal(p.kind === 'unknown' && p.eventType, 'pod_created_event');
  assert.ok(!KNOWN_EVENT_TYPES.has('pod_created_event'));
});

test('an SSE event name that contradicts eventType is malformed', () => {
  const p = parseMarathonEvent(
    '{"eventType":"app_terminated_event","timestamp":"2020-01-01T00:00:00.000Z","appId":"/a"}',
    'status_update_event',
  );
  assert.equal(p.kind, 'malformed');
});

test('taskOfInstance: equal ids (<= 1.7) and incarnation suffixes (1.8+)', () => {
  assert.ok(taskOfInstance('a.instance-1._app.2', 'a.instance-1'));
  assert.ok(taskOfInstance('a.marathon-1', 'a.marathon-1'));
  assert.ok(!taskOfInstance('a.instance-12._app.1', 'a.instance-1'));
});
