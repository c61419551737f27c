/** Options of the engine; defaults in brackets. */
import type { Logger } from '@theseus/services';
import type { FaultLayer } from './faults/fault-layer.js';
import type { TaskRunner } from './tasks/runner.js';

export interface EngineOptions {
  /** Where state, task sandboxes and persistent volumes live. */
  dataDir: string;
  /** HTTP port [8080]; 0 picks a free one. */
  port?: number;
  /** Address(es) to listen on [127.0.0.1]. A non-loopback address needs `credentials`. */
  listenHost?: string | string[];
  /** Host header names accepted besides IP addresses and `localhost`, while listening on loopback only [none]. */
  hostNames?: string[];
  /** The address tasks are reported at (`task.host`) [127.0.0.1]. */
  hostname?: string;
  /** Host ports for tasks, inclusive [31000-32000]. */
  portRange?: [number, number];
  /** Capacity offered to tasks [the machine's CPUs and memory]. */
  cpus?: number;
  memMb?: number;
  /** Basic auth `user:password` required on every request except /ping [none]. */
  credentials?: string;
  /** Marathon `--enable_features` [none]. */
  features?: string[];
  /** The image apps with a `cmd` and no container run in [none: they fail unless `allowHostCommands`]. */
  defaultContainerImage?: string;
  /** Run apps with a `cmd` and no container as host processes instead [false]. */
  allowHostCommands?: boolean;
  /** Allow privileged containers / the host network namespace / choosing the container user [false / false / false]. */
  allowPrivileged?: boolean;
  allowHostNetwork?: boolean;
  allowUser?: boolean;
  /** Allow bind mounts of any host path [false], or of these directories and below [none]. */
  allowHostVolumes?: boolean;
  hostVolumePaths?: string[];
  /** Most event subscriptions at once [10] and the time a callback POST may take [5 s]. */
  maxEventSubscriptions?: number;
  eventSubscriptionTimeoutMs?: number;
  /** Labels added to every container (e.g. to find a test run's containers) [none]. */
  containerLabels?: Record<string, string>;
  /** SSE heartbeat [10 s] and per-client buffer [1024 events]. */
  eventHeartbeatMs?: number;
  eventMaxOutstanding?: number;
  /** Largest request body [5 MiB]. */
  maxBodyBytes?: number;
  /** The Docker runner; without one, apps with an image fail with TASK_FAILED. */
  dockerRunner?: TaskRunner;
  /** Rotation of host-process tasks' stdout and stderr in their sandboxes (Docker tasks: the Docker runner's). */
  taskLogs?: { maxFileBytes: number; maxFiles: number };
  /** Runs every task instead of Docker and local processes (a `ScriptedRunner`, for clients' tests) [none]. */
  scriptedRunner?: TaskRunner;
  /** Faults switched on in-process: the HTTP middleware slot and the event delivery hook [none]. */
  faults?: FaultLayer;
  logger: Logger;
}
