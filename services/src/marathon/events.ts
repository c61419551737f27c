/**
 * Marathon 1.x events as they arrive on the wire (SSE `data:` lines and HTTP callback bodies), and
 * a tolerant parser. Field sets follow the 1.10 serializer (Events.scala / EventFormats); older
 * shapes are normalised where they differ: `appID` (0.x) becomes `appId`, an integer `taskStatus`
 * (Mesos TaskState enum number) becomes its name, `taskId` in health events (<= 1.3) becomes
 * `instanceId`.
 *
 * The parser never throws: a known event with missing or mistyped fields is `malformed` (with the
 * reason), an event type it does not know is `unknown` (callers ignore it), anything else is `event`.
 */
import type { MesosTaskState } from './types.js';

interface EventBase {
  eventType: string;
  /** `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` */
  timestamp: string;
}

export interface MarathonIpAddress {
  ipAddress: string;
  protocol: 'IPv4' | 'IPv6';
}

export interface StatusUpdateEvent extends EventBase {
  eventType: 'status_update_event';
  slaveId: string;
  taskId: string;
  taskStatus: MesosTaskState;
  message: string;
  appId: string;
  /** `unknown` when Marathon does not know it. */
  host: string;
  ipAddresses: MarathonIpAddress[];
  /** Host ports, in the order of the app's port definitions / mappings. */
  ports: number[];
  /** The app version the task runs. */
  version: string;
}

export interface HealthStatusChangedEvent extends EventBase {
  eventType: 'health_status_changed_event';
  appId: string;
  instanceId: string;
  version: string;
  alive: boolean;
}

export interface InstanceHealthChangedEvent extends EventBase {
  eventType: 'instance_health_changed_event';
  instanceId: string;
  runSpecId: string;
  runSpecVersion: string;
  /** null: unknown (no result yet). */
  healthy: boolean | null;
}

export interface InstanceChangedEvent extends EventBase {
  eventType: 'instance_changed_event';
  instanceId: string;
  condition: string;
  runSpecId: string;
  runSpecVersion: string;
  host: string | null;
  agentId: string | null;
}

export interface FailedHealthCheckEvent extends EventBase {
  eventType: 'failed_health_check_event';
  appId: string;
  /** Holds the instance id from 1.4 on. */
  taskId: string;
}

export interface UnhealthyInstanceKillEvent extends EventBase {
  eventType: 'unhealthy_instance_kill_event' | 'unhealthy_task_kill_event';
  appId: string;
  taskId: string;
  instanceId?: string;
}

export interface AppTerminatedEvent extends EventBase {
  eventType: 'app_terminated_event';
  appId: string;
}

export interface ApiPostEvent extends EventBase {
  eventType: 'api_post_event';
  clientIp?: string;
  uri?: string;
  appDefinition: { id: string; [key: string]: unknown };
}

export interface DeploymentPlan {
  id: string;
  version?: string;
  steps?: Array<{ actions: Array<{ action: string; app?: string; pod?: string }> }>;
  [key: string]: unknown;
}

export interface DeploymentStepEvent extends EventBase {
  eventType: 'deployment_info' | 'deployment_step_success' | 'deployment_step_failure';
  plan: DeploymentPlan;
  currentStep?: { actions: Array<{ action: string; app?: string; pod?: string }> };
}

export interface DeploymentDoneEvent extends EventBase {
  eventType: 'deployment_success' | 'deployment_failed';
  /** The deployment id (the `deploymentId` a POST/PUT returned). */
  id: string;
  plan?: DeploymentPlan;
  /** deployment_failed only, 1.6+. */
  reason?: string;
}

export interface EventStreamEvent extends EventBase {
  eventType: 'event_stream_attached' | 'event_stream_detached';
  remoteAddress: string;
}

export type MarathonEvent =
  | StatusUpdateEvent
  | HealthStatusChangedEvent
  | InstanceHealthChangedEvent
  | InstanceChangedEvent
  | FailedHealthCheckEvent
  | UnhealthyInstanceKillEvent
  | AppTerminatedEvent
  | ApiPostEvent
  | DeploymentStepEvent
  | DeploymentDoneEvent
  | EventStreamEvent;

export type MarathonEventType = MarathonEvent['eventType'];

export type ParsedEvent =
  | { kind: 'event'; event: MarathonEvent }
  /** A well-formed event of a type this parser does not model: ignore it. */
  | { kind: 'unknown'; eventType: string; raw: Record<string, unknown> }
  /** Not JSON, not an object, no eventType, or a known type with bad fields. */
  | { kind: 'malformed'; eventType: string | undefined; problem: string };

/** Mesos TaskState numbers (mesos.proto), for the integer `taskStatus` of old callbacks. */
const TASK_STATE_BY_NUMBER: Record<number, MesosTaskState> = {
  0: 'TASK_STARTING',
  1: 'TASK_RUNNING',
  2: 'TASK_FINISHED',
  3: 'TASK_FAILED',
  4: 'TASK_KILLED',
  5: 'TASK_LOST',
  6: 'TASK_STAGING',
  7: 'TASK_ERROR',
  8: 'TASK_KILLING',
  9: 'TASK_DROPPED',
  10: 'TASK_UNREACHABLE',
  11: 'TASK_GONE',
  12: 'TASK_GONE_BY_OPERATOR',
  13: 'TASK_UNKNOWN',
};
const TASK_STATES = new Set<string>(Object.values(TASK_STATE_BY_NUMBER));

type Fields = Record<string, unknown>;
type Check = (o: Fields) => string | undefined;

const str =
  (field: string): Check =>
  (o) =>
    typeof o[field] === 'string' ? undefined : `${field} must be a string`;
const optStr =
  (field: string): Check =>
  (o) =>
    o[field] === undefined || o[field] === null || typeof o[field] === 'string'
      ? undefined
      : `${field} must be a string`;
const bool =
  (field: string): Check =>
  (o) =>
    typeof o[field] === 'boolean' ? undefined : `${field} must be true or false`;
const obj =
  (field: string): Check =>
  (o) =>
    o[field] !== null && typeof o[field] === 'object' && !Array.isArray(o[field])
      ? undefined
      : `${field} must be an object`;

const statusUpdate: Check = (o) => {
  if (o.appID !== undefined) {
    if (o.appId === undefined && typeof o.appID === 'string') o.appId = o.appID;
    delete o.appID; // (only then: a delete turns the object into a slow dictionary)
  }
  if (typeof o.taskStatus === 'number') o.taskStatus = TASK_STATE_BY_NUMBER[o.taskStatus] ?? o.taskStatus;
  if (typeof o.taskStatus !== 'string' || !TASK_STATES.has(o.taskStatus))
    return `taskStatus ${JSON.stringify(o.taskStatus)} is not a Mesos task state`;
  for (const field of ['taskId', 'appId']) {
    if (typeof o[field] !== 'string' || o[field] === '') return `${field} must be a non-empty string`;
  }
  o.host = typeof o.host === 'string' && o.host !== '' ? o.host : 'unknown';
  o.slaveId = typeof o.slaveId === 'string' ? o.slaveId : '';
  o.message = typeof o.message === 'string' ? o.message : '';
  o.version = typeof o.version === 'string' ? o.version : '';
  o.ports ??= [];
  if (!Array.isArray(o.ports) || !o.ports.every((p) => Number.isInteger(p) && p >= 0 && p <= 65535))
    return 'ports must be a list of port numbers';
  o.ipAddresses ??= [];
  if (
    !Array.isArray(o.ipAddresses) ||
    !o.ipAddresses.every((a) => a && typeof a === 'object' && typeof (a as Fields).ipAddress === 'string')
  ) {
    return 'ipAddresses must be a list of {ipAddress, protocol}';
  }
  return undefined;
};

const healthStatus: Check = (o) => {
  if (o.instanceId === undefined && typeof o.taskId === 'string') o.instanceId = o.taskId;
  return str('appId')(o) ?? str('instanceId')(o) ?? bool('alive')(o) ?? optStr('version')(o);
};

const CHECKS: Record<string, Check[]> = {
  status_update_event: [statusUpdate],
  health_status_changed_event: [healthStatus],
  instance_health_changed_event: [
    str('instanceId'),
    str('runSpecId'),
    (o) =>
      o.healthy === null || o.healthy === undefined || typeof o.healthy === 'boolean'
        ? ((o.healthy ??= null), undefined)
        : 'healthy must be true, false or null',
  ],
  instance_changed_event: [str('instanceId'), str('condition'), str('runSpecId')],
  failed_health_check_event: [str('appId'), str('taskId')],
  unhealthy_instance_kill_event: [str('appId'), str('taskId')],
  unhealthy_task_kill_event: [str('appId'), str('taskId')],
  app_terminated_event: [str('appId')],
  api_post_event: [
    obj('appDefinition'),
    (o) => str('id')(o.appDefinition as Fields) && 'appDefinition.id must be a string',
  ],
  deployment_info: [obj('plan'), (o) => str('id')(o.plan as Fields) && 'plan.id must be a string'],
  deployment_step_success: [obj('plan'), (o) => str('id')(o.plan as Fields) && 'plan.id must be a string'],
  deployment_step_failure: [obj('plan'), (o) => str('id')(o.plan as Fields) && 'plan.id must be a string'],
  deployment_success: [str('id')],
  deployment_failed: [str('id'), optStr('reason')],
  event_stream_attached: [optStr('remoteAddress')],
  event_stream_detached: [optStr('remoteAddress')],
};

/** The event types `parseMarathonEvent` models. */
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(CHECKS));

/**
 * Parses one event. `data` is the JSON text (an SSE `data:` payload) or an already parsed value
 * (an HTTP callback body). `sseEventName`, when given, is the SSE `event:` field; it must agree
 * with the payload's `eventType` when both are present.
 */
export function parseMarathonEvent(data: string | unknown, sseEventName?: string): ParsedEvent {
  let value: unknown = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data);
    } catch (err) {
      return { kind: 'malformed', eventType: sseEventName, problem: `not JSON: ${(err as Error).message}` };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'malformed', eventType: sseEventName, problem: 'an event must be a JSON object' };
  }
  // Parsed here, the object is ours to complete; a caller's (a callback body) is copied first.
  const o = value === data ? { ...(value as Fields) } : (value as Fields);
  if (typeof o.eventType !== 'string' || o.eventType === '') {
    if (sseEventName) o.eventType = sseEventName;
    else return { kind: 'malformed', eventType: undefined, problem: 'eventType is missing' };
  }
  const eventType = o.eventType as string;
  if (sseEventName && sseEventName !== 'message' && sseEventName !== eventType) {
    return {
      kind: 'malformed',
      eventType,
      problem: `SSE event name ${JSON.stringify(sseEventName)} differs from eventType ${JSON.stringify(eventType)}`,
    };
  }
  const checks = CHECKS[eventType];
  if (!checks) return { kind: 'unknown', eventType, raw: o };
  if (typeof o.timestamp !== 'string' || Number.isNaN(Date.parse(o.timestamp))) {
    return { kind: 'malformed', eventType, problem: 'timestamp must be an ISO-8601 time' };
  }
  for (const check of checks) {
    const problem = check(o);
    if (problem) return { kind: 'malformed', eventType, problem };
  }
  return { kind: 'event', event: o as unknown as MarathonEvent };
}

/**
 * True when `taskId` is a task of the instance `instanceId`: equal (instance ids before 1.8 are task
 * ids) or `<instanceId>.<suffix>` (1.8+ `._app.<n>` incarnations).
 */
export function taskOfInstance(taskId: string, instanceId: string): boolean {
  return taskId === instanceId || taskId.startsWith(instanceId + '.');
}
