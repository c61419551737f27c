/** Options of the engine; defaults in brackets. */
import type { Logger } from '@theseus/services';
import type { TaskRunner } from './tasks/runner.js';

export interface EngineOptions {
  /** Where state, task sandboxes and persistent volumes live. */
  dataDir: string;
  /** HTTP port [8080]; 0 picks a free one. */
  port?: number;
  /** Address to listen on [0.0.0.0]. */
  listenHost?: string;
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
  /** Allow privileged containers / host bind mounts [false / false]. */
  allowPrivileged?: boolean;
  allowHostVolumes?: boolean;
  /** Labels added to every container (e.g. to find a test run's containers) [none]. */
  containerLabels?: Record<string, string>;
  /** SSE heartbeat [10 s] and per-client buffer [1024 events]. */
  eventHeartbeatMs?: number;
  eventMaxOutstanding?: number;
  /** Largest request body [5 MiB]. */
  maxBodyBytes?: number;
  /** The Docker runner; without one, apps with an image fail with TASK_FAILED. */
  dockerRunner?: TaskRunner;
  logger: Logger;
}
