/**
 * Marathon's wire shapes (REST API v2, 1.5+ canonical form) as Theseus reads and writes them.
 * Fields Theseus never touches are left to the index signature. Source: Marathon 1.10 RAML
 * (conformance/marathon/schema/raml-v1.10.26/v2/types).
 */

export interface MarathonPortMapping {
  containerPort?: number;
  hostPort?: number;
  servicePort?: number;
  protocol?: 'tcp' | 'udp' | 'udp,tcp';
  name?: string;
  labels?: Record<string, string>;
  networkNames?: string[];
}

export interface MarathonPortDefinition {
  port: number;
  protocol?: 'tcp' | 'udp' | 'udp,tcp';
  name?: string;
  labels?: Record<string, string>;
}

export interface MarathonVolume {
  containerPath: string;
  hostPath?: string;
  mode: 'RO' | 'RW';
  [key: string]: unknown;
}

export interface MarathonContainer {
  type?: 'DOCKER' | 'MESOS';
  docker?: {
    image: string;
    forcePullImage?: boolean;
    privileged?: boolean;
    parameters?: Array<{ key: string; value: string }>;
    /** Pre-1.5 input form only. */
    network?: 'HOST' | 'BRIDGE' | 'USER' | 'NONE';
    portMappings?: MarathonPortMapping[];
    [key: string]: unknown;
  };
  portMappings?: MarathonPortMapping[];
  volumes?: MarathonVolume[];
  [key: string]: unknown;
}

export interface MarathonHealthCheck {
  protocol?: 'HTTP' | 'HTTPS' | 'TCP' | 'COMMAND' | 'MESOS_HTTP' | 'MESOS_HTTPS' | 'MESOS_TCP';
  path?: string;
  portIndex?: number;
  port?: number;
  command?: { value: string };
  gracePeriodSeconds?: number;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  maxConsecutiveFailures?: number;
  delaySeconds?: number;
  ignoreHttp1xx?: boolean;
}

export interface MarathonNetwork {
  mode?: 'host' | 'container/bridge' | 'container';
  name?: string;
  labels?: Record<string, string>;
}

/** An app definition (request body of POST/PUT /v2/apps). */
export interface MarathonApp {
  id: string;
  cmd?: string | null;
  args?: string[] | null;
  instances?: number;
  cpus?: number;
  mem?: number;
  disk?: number;
  gpus?: number;
  env?: Record<string, string | { secret: string }>;
  labels?: Record<string, string>;
  constraints?: string[][];
  container?: MarathonContainer | null;
  networks?: MarathonNetwork[];
  portDefinitions?: MarathonPortDefinition[];
  requirePorts?: boolean;
  healthChecks?: MarathonHealthCheck[];
  upgradeStrategy?: { minimumHealthCapacity?: number; maximumOverCapacity?: number };
  backoffSeconds?: number;
  backoffFactor?: number;
  maxLaunchDelaySeconds?: number;
  taskKillGracePeriodSeconds?: number;
  fetch?: Array<{ uri: string; extract?: boolean; executable?: boolean; cache?: boolean; destPath?: string }>;
  uris?: string[];
  version?: string;
  versionInfo?: { lastScalingAt: string; lastConfigChangeAt: string };
  [key: string]: unknown;
}

export interface MarathonHealthCheckResult {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastFailureCause?: string | null;
  instanceId: string;
}

export type MesosTaskState =
  | 'TASK_STAGING'
  | 'TASK_STARTING'
  | 'TASK_RUNNING'
  | 'TASK_KILLING'
  | 'TASK_FINISHED'
  | 'TASK_FAILED'
  | 'TASK_KILLED'
  | 'TASK_ERROR'
  | 'TASK_LOST'
  | 'TASK_DROPPED'
  | 'TASK_UNREACHABLE'
  | 'TASK_GONE'
  | 'TASK_GONE_BY_OPERATOR'
  | 'TASK_UNKNOWN';

/** States after which a task is not (or no longer) serving: its endpoint must go. */
export const LEAVING_TASK_STATES: ReadonlySet<MesosTaskState> = new Set<MesosTaskState>([
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_UNREACHABLE',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
]);

export interface MarathonTask {
  id: string;
  appId: string;
  host: string;
  slaveId?: string;
  state?: MesosTaskState;
  stagedAt?: string;
  startedAt?: string | null;
  version?: string;
  ports?: number[];
  servicePorts?: number[];
  ipAddresses?: Array<{ ipAddress: string; protocol: 'IPv4' | 'IPv6' }>;
  healthCheckResults?: MarathonHealthCheckResult[];
  [key: string]: unknown;
}

/** An app as Marathon returns it (GET /v2/apps). */
export interface MarathonAppInfo extends MarathonApp {
  version: string;
  tasksStaged?: number;
  tasksRunning?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  deployments?: Array<{ id: string }>;
  tasks?: MarathonTask[];
}

export interface MarathonDeploymentAction {
  action: string;
  app?: string;
  pod?: string;
  readinessCheckResults?: unknown[];
}

export interface MarathonDeployment {
  id: string;
  version: string;
  affectedApps: string[];
  affectedPods: string[];
  steps: Array<{ actions: MarathonDeploymentAction[] }>;
  currentActions: MarathonDeploymentAction[];
  currentStep: number;
  totalSteps: number;
}

/** Body of PUT/PATCH/DELETE/restart answers. */
export interface MarathonDeploymentResult {
  deploymentId: string;
  version: string;
}

export interface MarathonInfo {
  name: string;
  version: string;
  leader: string | null;
  frameworkId?: string | null;
  [key: string]: unknown;
}
