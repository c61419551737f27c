/**
 * The Docker driver's data shapes: what a caller asks to run and what the Engine reports back.
 * Shared by the containerizer program and the single-machine engine.
 */

export interface PortBinding {
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  /** Host address to bind; all addresses when unset. */
  hostIp?: string;
}

export interface VolumeMount {
  hostPath: string;
  containerPath: string;
  mode: 'RO' | 'RW';
}

export type NetworkMode = 'bridge' | 'host' | 'none';

export interface ContainerSpec {
  /** Docker container name; the Engine picks one when unset. */
  name?: string;
  image: string;
  /** Runs through `/bin/sh -c <shell>` (replaces the image's ENTRYPOINT and CMD). */
  shell?: string;
  /** Replace the image's CMD; its ENTRYPOINT is kept unless `entrypoint` is set. */
  args?: string[];
  entrypoint?: string[];
  env: Record<string, string>;
  /** Set on the container as given; the driver adds no labels of its own. */
  labels: Record<string, string>;
  /** CPU shares = max(2, round(1024 × cpus)). */
  cpus?: number;
  /** Memory limit in MiB; swap is set equal, so the container cannot swap. */
  memMb?: number;
  network: NetworkMode;
  ports: PortBinding[];
  /** Bind mounts (Engine `Mounts`, so paths may contain `:`). The host path must exist. */
  volumes: VolumeMount[];
  privileged?: boolean;
  workingDir?: string;
  user?: string;
  /** Container hostname (not with host networking). */
  hostname?: string;
  /** Run the Engine's init (tini) as PID 1, so signals and zombies are handled. */
  init?: boolean;
  /** Seconds between SIGTERM and SIGKILL when the container is stopped (Engine default 10). */
  stopGraceSeconds?: number;
  dns?: string[];
  /** `host` (or another Engine mode) per namespace; private when unset. */
  namespaces?: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
  capAdd?: string[];
  capDrop?: string[];
  /** `/dev/x[:/dev/y[:rwm]]`, as `docker run --device`. */
  devices?: string[];
  securityOpt?: string[];
  /** Docker's own copy of the output: json-file with these bounds. Unset: the Engine's configured log driver. */
  logLimits?: { maxFileBytes: number; maxFiles: number };
}

export interface StartedContainer {
  id: string;
  name: string;
  /** Address on the bridge network; null with host or no networking. */
  ipAddress: string | null;
  startedAt: string;
  /** Host pid of the container's first process (its cgroup holds the container's counters). */
  pid: number;
}

export interface ContainerExit {
  exitCode: number;
  /** The kernel killed the container for exceeding its memory limit. */
  oomKilled: boolean;
  finishedAt: string;
  /** The Engine's error text when the container could not run, else null. */
  error: string | null;
}

export interface ContainerUsage {
  /** Seconds since the epoch when the sample was taken. */
  timestamp: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  /** CPU shares / 1024; null when no limit was set. */
  cpusLimit: number | null;
  memRssBytes: number;
  /** All memory charged to the container (page cache included), when known. */
  memTotalBytes?: number;
  memLimitBytes: number | null;
  /** Processes of the container the kernel's OOM killer ended, when the kernel counts them. */
  oomKills?: number;
  running: boolean;
}

export interface ContainerLimits {
  cpus?: number;
  memMb?: number;
}

/** What `inspect` reports: the parts callers act on. */
export interface ContainerDetails {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  /** Engine state: created, running, paused, restarting, removing, exited, dead. */
  status: string;
  running: boolean;
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  error: string | null;
  ipAddress: string | null;
  cpuShares: number;
  memoryBytes: number;
  /** Bound host ports: `<containerPort>/<proto>` → host ports. */
  hostPorts: Record<string, number[]>;
}

export interface ListedContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string;
  /** Seconds since the epoch. */
  created: number;
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  /** Identity token from a registry login, instead of username/password. */
  identitytoken?: string;
  serveraddress?: string;
}

export interface EnsureImageOptions {
  /** `missing` (default): pull only when absent; `always`: pull even when present; `never`: fail when absent. */
  pull?: 'missing' | 'always' | 'never';
  auth?: RegistryAuth;
  /** Give up a pull after this long (ImageUnavailableError). Default: no limit. */
  timeoutMs?: number;
}

export interface ExecOptions {
  /** Added to the container's environment for this command (same names win). */
  env?: Record<string, string>;
  /** The command fails (`timedOut`) when it has not ended after this long. Default 20 000 (Marathon's health check timeout). */
  timeoutMs?: number;
}

export interface ExecResult {
  /** The command's exit status; null when it did not end in time. */
  exitCode: number | null;
  timedOut: boolean;
}
