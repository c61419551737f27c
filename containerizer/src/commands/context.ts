/** What every subcommand works with: configuration, state, the Docker driver and the log. */
import { loadConfig, type ContainerizerConfig } from '../config.js';
import type { DockerDriver } from '../docker/driver.js';
import { programLog, type ProgramLog } from '../log.js';
import { StateStore } from '../state/store.js';

export interface ProgramContext {
  config: ContainerizerConfig;
  store: StateStore;
  log: ProgramLog;
  /** The Docker driver, loaded on first use: `usage` usually answers from the cgroup without it. */
  docker(): Promise<DockerDriver>;
  /** How to run this program again (the host executor's `--override` argv). */
  self: string[];
}

export async function programContext(configPath: string | undefined, self: string[]): Promise<ProgramContext> {
  const config = await loadConfig(configPath === undefined ? {} : { path: configPath });
  const log = programLog(config.log);
  let driver: Promise<DockerDriver> | undefined;
  return {
    config,
    store: new StateStore(config.stateDir, config.instance),
    log,
    docker: () =>
      (driver ??= import('../docker/driver.js').then(
        ({ DockerDriver }) =>
          new DockerDriver({ ...(config.docker.socketPath ? { socketPath: config.docker.socketPath } : {}), requestTimeoutMs: config.docker.requestTimeoutMs, logger: log }),
      )),
    self,
  };
}
