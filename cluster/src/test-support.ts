/** Shared by the engine's integration tests: an engine on a temporary data dir, an event recorder, polling. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, MarathonClient } from '@theseus/services';
import type { MarathonEvent } from './events/bus.js';
import type { EngineOptions } from './options.js';
import { startEngine, type RunningEngine } from './run.js';

export interface TestEngine extends RunningEngine {
  client: MarathonClient;
  events: MarathonEvent[];
  dataDir: string;
}

export const quietLogger = () => createLogger({ component: 'engine-test', level: 'error', format: 'json' });

/** An engine whose apps with only a `cmd` run as host processes (what the lifecycle tests drive), unless `options` say otherwise. */
export async function testEngine(
  options: Partial<EngineOptions> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-')),
): Promise<TestEngine> {
  const running = await startEngine({
    dataDir,
    port: 0,
    listenHost: '127.0.0.1',
    portRange: randomRange(),
    logger: quietLogger(),
    allowHostCommands: true,
    ...options,
  });
  const events: MarathonEvent[] = [];
  running.engine.bus.subscribe((e) => events.push(e));
  return {
    ...running,
    client: new MarathonClient({
      urls: [running.url],
      ...(options.credentials ? { credentials: options.credentials } : {}),
    }),
    events,
    dataDir,
  };
}

/** A port range unlikely to collide with other test runs. */
export function randomRange(): [number, number] {
  const start = 33000 + Math.floor(Math.random() * 300) * 100;
  return [start, start + 99];
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function statusEvents(events: MarathonEvent[], taskId?: string): string[] {
  return events
    .filter((e) => e.eventType === 'status_update_event' && (!taskId || e.taskId === taskId))
    .map((e) => String(e.taskStatus));
}

/** Removes every app, waits until their tasks are gone, stops the engine and removes its data dir. */
export async function destroyTestEngine(e: TestEngine, timeoutMs = 20_000): Promise<void> {
  for (const app of await e.client.listApps()) await e.client.deleteApp(app.id, { force: true });
  await waitFor('tasks gone', () => e.engine.scheduler.tasks.size === 0, timeoutMs);
  await e.stop();
  removeDir(e.dataDir);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Replays the events of a rolling upgrade: the most tasks present at once (not yet terminal) and
 * the fewest healthy ones (a task stops counting as healthy when it is being killed).
 */
export function replayRollout(
  events: MarathonEvent[],
  appId: string,
  oldTaskIds: Set<string>,
): { maxPresent: number; minHealthy: number } {
  const instanceOf = (taskId: string) => taskId.replace(/\._app\.\d+$/, '');
  const present = new Set(oldTaskIds);
  const healthy = new Set([...oldTaskIds].map(instanceOf));
  let maxPresent = 0;
  let minHealthy = Infinity;
  for (const ev of events) {
    if (ev.eventType === 'status_update_event' && ev.appId === appId) {
      const id = String(ev.taskId);
      if (['TASK_KILLED', 'TASK_FAILED', 'TASK_FINISHED'].includes(String(ev.taskStatus))) present.delete(id);
      else present.add(id);
      if (ev.taskStatus !== 'TASK_RUNNING') healthy.delete(instanceOf(id));
    }
    if (ev.eventType === 'instance_health_changed_event' && ev.runSpecId === appId) {
      if (ev.healthy) healthy.add(String(ev.instanceId));
      else healthy.delete(String(ev.instanceId));
    }
    maxPresent = Math.max(maxPresent, present.size);
    minHealthy = Math.min(minHealthy, healthy.size);
  }
  return { maxPresent, minHealthy };
}
