/**
 * An exclusive lock file held by one process. It records the holder's pid and start time, so a
 * lock left by a killed process (the slave SIGKILLs calls) is recognised and taken over.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { TheseusError } from '@theseus/services/errors';

export class LockTimeoutError extends TheseusError {
  constructor(path: string, holder: string, waitedMs: number) {
    super('LOCK_TIMEOUT', `lock ${path} still held by ${holder || 'another process'} after ${waitedMs} ms`, {
      recoverable: true,
    });
  }
}

function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Start time of a process (clock ticks since boot), so a reused pid is not taken for the holder. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** Whether the process still runs (and is the same one, when its start time is known). Zombies do not count. */
export function processAlive(pid: number, started?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = procStat(pid);
  if (stat === undefined) return true;
  if (stat[0] === 'Z' || stat[0] === 'X') return false;
  return !started || stat[19] === started;
}

function alive(holder: string): boolean {
  const [pidText, started] = holder.trim().split(' ');
  return processAlive(Number(pidText), started);
}

function readHolder(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const MY_HOLDER = `${process.pid} ${processStartTime(process.pid) ?? ''}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface HeldLock {
  release(): void;
}

/** Takes the lock, waiting up to `timeoutMs` (0: try once and fail at once). */
export async function acquireLock(path: string, timeoutMs: number): Promise<HeldLock> {
  const started = Date.now();
  let delay = 5;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, MY_HOLDER);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          if (readHolder(path) === MY_HOLDER) unlinkSync(path);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(path);
    if (holder !== undefined && !alive(holder)) {
      breakStaleLock(path, holder);
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs)
      throw new LockTimeoutError(path, holder?.split(' ')[0] ? `pid ${holder.split(' ')[0]}` : '', waited);
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

/** Moves a dead holder's lock aside; if a live holder got there first, puts theirs back. */
function breakStaleLock(path: string, staleHolder: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it
  }
  if (readHolder(aside) !== staleHolder) {
    try {
      linkSync(aside, path);
    } catch {
      // a newer lock exists; the one moved aside was already superseded
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}
