/**
 * The containerizer's memory between calls: a directory per Mesos container under
 * `<stateDir>/<instance>/`, holding `container.json` (written by launch), `exit.json` (the recorded
 * end, written by whichever call learns it first) and `lock`. Files are replaced atomically
 * (write, then rename), so readers never lock and a killed writer leaves no half-written file.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadRecordError } from '../protocol/errors.js';
import type { MesosGeneration } from '../protocol/types.js';
import { acquireLock, type HeldLock } from './lock.js';

/** How the container's executor runs. */
export type LaunchMode = 'executor' | 'command-host' | 'command-container';

export interface ContainerState {
  containerId: string;
  dockerId: string;
  dockerName: string;
  image: string;
  executorId: string;
  taskId?: string;
  frameworkId?: string;
  sandbox?: string;
  mode: LaunchMode;
  generation: MesosGeneration;
  launchedAt: string;
  /** Host pid of the container's first process and its start time (for `usage` from the cgroup). */
  pid?: number;
  pidStartTime?: string;
  /** Limits as last set by launch or update. */
  cpus?: number;
  memMb?: number;
  /** pid of the host executor observing a command task. */
  executorPid?: number;
  executorStartTime?: string;
}

export interface ExitRecord {
  exitCode: number;
  oomKilled: boolean;
  finishedAt: string;
  error: string | null;
  /** Ended by destroy rather than on its own. */
  destroyed: boolean;
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$/;

export function checkContainerId(id: string): string {
  if (!CONTAINER_ID.test(id) || id.includes('..')) throw new BadRecordError(`container id ${JSON.stringify(id)} is not usable: letters, digits, ".", "_", ":" and "-" only`);
  return id;
}

export class StateStore {
  readonly root: string;

  constructor(stateDir: string, instance: string) {
    this.root = join(stateDir, instance);
  }

  dir(containerId: string): string {
    return join(this.root, checkContainerId(containerId));
  }

  /** Serialises the calls that change one container (launch, update, destroy, state removal). */
  async lock(containerId: string, timeoutMs = 60_000): Promise<HeldLock> {
    const dir = this.dir(containerId);
    mkdirSync(dir, { recursive: true });
    return acquireLock(join(dir, 'lock'), timeoutMs);
  }

  read(containerId: string): ContainerState | undefined {
    return this.readJson<ContainerState>(containerId, 'container.json');
  }

  write(state: ContainerState): void {
    this.writeJson(state.containerId, 'container.json', state);
  }

  readExit(containerId: string): ExitRecord | undefined {
    return this.readJson<ExitRecord>(containerId, 'exit.json');
  }

  writeExit(containerId: string, exit: ExitRecord): void {
    this.writeJson(containerId, 'exit.json', exit);
  }

  /** Container ids with a state directory. */
  list(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && CONTAINER_ID.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  remove(containerId: string): void {
    rmSync(this.dir(containerId), { recursive: true, force: true });
  }

  private readJson<T>(containerId: string, file: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(containerId), file), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private writeJson(containerId: string, file: string, value: unknown): void {
    const dir = this.dir(containerId);
    mkdirSync(dir, { recursive: true });
    const temp = join(dir, `.${file}.${process.pid}`);
    writeFileSync(temp, JSON.stringify(value, null, 2) + '\n');
    renameSync(temp, join(dir, file));
  }
}
