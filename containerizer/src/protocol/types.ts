/**
 * The parts of the Mesos messages the containerizer reads, as protobufjs decodes them with
 * `keepCase` (snake_case names, enums as names, 64-bit values as numbers, unset fields absent).
 */

/** Which `Termination` the slave parses: 0.19-0.25 (`killed` required) or 0.26-1.0. */
export type MesosGeneration = '0.22' | '1.0';

export interface Value {
  value: string;
}

export interface Resource {
  name: string;
  type: 'SCALAR' | 'RANGES' | 'SET';
  scalar?: { value: number };
  ranges?: { range?: Array<{ begin: number; end: number }> };
  set?: { item?: string[] };
  role?: string;
}

export interface CommandInfo {
  uris?: Array<{ value: string; executable?: boolean; extract?: boolean }>;
  environment?: { variables?: Array<{ name: string; value: string }> };
  value?: string;
  /** 0.19-0.26: `docker:///image` URL plus `docker run` options. */
  container?: { image: string; options?: string[] };
  user?: string;
  /** Unset means true (the proto default). */
  shell?: boolean;
  arguments?: string[];
}

export interface DockerInfo {
  image: string;
  /** Unset means HOST (the proto default). */
  network?: 'HOST' | 'BRIDGE' | 'NONE';
  port_mappings?: Array<{ host_port: number; container_port: number; protocol?: string }>;
  privileged?: boolean;
  parameters?: Array<{ key: string; value: string }>;
  force_pull_image?: boolean;
}

export interface ContainerInfo {
  type: 'DOCKER' | 'MESOS';
  volumes?: Array<{ container_path: string; host_path?: string; mode: 'RW' | 'RO' }>;
  hostname?: string;
  docker?: DockerInfo;
}

export interface ExecutorInfo {
  executor_id: Value;
  framework_id?: Value;
  command: CommandInfo;
  container?: ContainerInfo;
  resources?: Resource[];
  name?: string;
  source?: string;
}

export interface TaskInfo {
  name: string;
  task_id: Value;
  slave_id: Value;
  resources?: Resource[];
  executor?: ExecutorInfo;
  command?: CommandInfo;
  container?: ContainerInfo;
  /** Mesos 0.28+: how long the task gets between SIGTERM and SIGKILL. */
  kill_policy?: { grace_period?: { nanoseconds: number } };
}

export interface MesosLaunch {
  container_id: Value;
  task_info?: TaskInfo;
  executor_info?: ExecutorInfo;
  directory?: string;
  user?: string;
  slave_id?: Value;
  slave_pid?: string;
  checkpoint?: boolean;
}

export interface TerminationFields {
  /** The container was killed for exceeding a resource limit (OOM). */
  killed: boolean;
  message: string;
  /** waitpid encoding: exit code N is N << 8. */
  status: number;
}

export interface ResourceStatistics {
  timestamp: number;
  cpus_user_time_secs?: number;
  cpus_system_time_secs?: number;
  cpus_limit?: number;
  mem_rss_bytes?: number;
  mem_limit_bytes?: number;
}
