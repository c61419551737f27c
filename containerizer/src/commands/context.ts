/** What every subcommand works with: configuration, state, the Docker driver and the log. */
import { loadConfig, type ContainerizerConfig } from '../config.js';
import { DockerDriver } from '../docker/driver.js';
import { programLog, type ProgramLog } from '../log.js';
import { StateStore } from '../state/store.js';

export interface ProgramContext {
  config: ContainerizerConfig;
  store: StateStore;
  driver: DockerDriver;
  log: ProgramLog;
  /** How to run this program again (the host executor's `--override` argv). */
  self: string[];
}

export async function programContext(configPath: string | undefined, self: string[]): Promise<ProgramContext> {
  const config = await loadConfig(configPath === undefined ? {} : { path: configPath });
  const log = programLog(config.log);
  return {
    config,
    store: new StateStore(config.stateDir, config.instance),
    driver: new DockerDriver({ ...(config.docker.socketPath ? { socketPath: config.docker.socketPath } : {}), requestTimeoutMs: config.docker.requestTimeoutMs, logger: log }),
    log,
    self,
  };
}
