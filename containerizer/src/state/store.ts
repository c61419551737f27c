/**
 * The containerizer's memory between calls: a directory per Mesos container under
 * `<stateDir>/<instance>/`, holding `container.json` (written by launch), `exit.json` (the recorded
 * end, written by whichever call learns it first) and `lock`. Files are replaced atomically
 * (write, then rename), so readers never lock and a killed writer leaves no half-written file.
 * What is recorded here decides which process `destroy` signals and which container it removes,
 * so the directories are this user's alone (0700) and are refused otherwise.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TheseusError } from '@theseus/services/errors';
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
  /** SIGTERM-to-SIGKILL time chosen at launch (the task's kill policy, else --stop-timeout, else the configured one). */
  stopGraceSeconds?: number;
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
  if (!CONTAINER_ID.test(id) || id.includes('..'))
    throw new BadRecordError(
      `container id ${JSON.stringify(id)} is not usable: letters, digits, ".", "_", ":" and "-" only`,
    );
  return id;
}

/** The state directory could be changed by someone other than this program's user. */
export class StateDirError extends TheseusError {
  constructor(dir: string, problem: string) {
    super('STATE_DIR_UNSAFE', `state directory ${dir} ${problem}`, {
      hint: `make it a directory of uid ${process.geteuid?.() ?? 0} with mode 0700 (chown, chmod 700), or set stateDir to one`,
    });
  }
}

/** Creates `dir` (0700) when missing; refuses one owned by another user or writable by group or others. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StateDirError(
      dir,
      `cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new StateDirError(dir, 'is not a directory');
  const me = process.geteuid?.() ?? 0;
  if (st.uid !== me) throw new StateDirError(dir, `belongs to uid ${st.uid}, not to this program's uid ${me}`);
  if ((st.mode & 0o022) !== 0)
    throw new StateDirError(dir, `may be written by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`);
}

export class StateStore {
  readonly root: string;
  private readonly stateDir: string;
  private checked = false;

  constructor(stateDir: string, instance: string) {
    this.stateDir = stateDir;
    this.root = join(stateDir, instance);
  }

  /** The instance's directory, checked once per store before anything in it is read or written. */
  private base(): string {
    if (!this.checked) {
      ensurePrivateDir(this.stateDir);
      ensurePrivateDir(this.root);
      this.checked = true;
    }
    return this.root;
  }

  dir(containerId: string): string {
    return join(this.base(), checkContainerId(containerId));
  }

  /** Serialises the calls that change one container (launch, update, destroy, state removal). */
  async lock(containerId: string, timeoutMs = 60_000): Promise<HeldLock> {
    const dir = this.dir(containerId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
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
      return readdirSync(this.base(), { withFileTypes: true })
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
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${file}.${process.pid}`);
    writeFileSync(temp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
    renameSync(temp, join(dir, file));
  }
}
