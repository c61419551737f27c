/**
 * The engine's state on disk: one JSON document under the data directory, written atomically
 * (temporary file, fsync, rename) and coalesced, so a burst of changes costs one write.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TheseusError } from '@theseus/services';
import type { AppDefinition } from '../app/definition.js';
import type { DeploymentRecord } from '../deploy/deployment.js';
import type { TaskRecord } from '../tasks/task.js';

export interface PersistedState {
  engineId: string;
  /** Every version of every app, oldest first; the last is the current definition. */
  apps: Array<{ id: string; versions: AppDefinition[] }>;
  tasks: TaskRecord[];
  deployments: DeploymentRecord[];
  callbackUrls: string[];
}

/** The state file exists but cannot be used. */
export class EngineStateError extends TheseusError {
  constructor(path: string, reason: string) {
    super('ENGINE_STATE_UNREADABLE', `the engine state ${path} cannot be read: ${reason}`, {
      hint: 'restore it from a backup, or move it away to start with no apps (running tasks are then not adopted)',
    });
  }
}

export class StateFile {
  readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Called when a write fails (disk full, directory removed); the engine keeps running. */
  onError: (err: unknown) => void = () => {};

  constructor(
    dataDir: string,
    private readonly snapshot: () => PersistedState,
    private readonly delayMs = 200,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'state.json');
  }

  load(): PersistedState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new EngineStateError(this.path, (err as NodeJS.ErrnoException).code ?? String(err));
    }
    let state: PersistedState;
    try {
      state = JSON.parse(text) as PersistedState;
    } catch (err) {
      throw new EngineStateError(this.path, `not valid JSON (${(err as Error).message})`);
    }
    if (
      !state ||
      typeof state.engineId !== 'string' ||
      !Array.isArray(state.apps) ||
      !Array.isArray(state.tasks) ||
      !Array.isArray(state.deployments)
    ) {
      throw new EngineStateError(this.path, 'not an engine state document');
    }
    return state;
  }

  /** Schedules a write of the current state. */
  changed(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeNow();
    }, this.delayMs);
  }

  /** Writes at once (shutdown, or before a task is started so it is never orphaned). */
  writeNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    try {
      this.write();
    } catch (err) {
      this.onError(err);
    }
  }

  private flushing: Promise<void> | undefined;

  /** Resolves once the state as of now is on disk; flushes asked for in the same turn share one write. */
  flush(): Promise<void> {
    this.flushing ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.flushing = undefined;
        this.writeNow();
        resolve();
      }),
    );
    return this.flushing;
  }

  /** A last write; nothing is written after it. */
  close(): void {
    this.writeNow();
    this.closed = true;
  }

  private write(): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(this.snapshot()));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
