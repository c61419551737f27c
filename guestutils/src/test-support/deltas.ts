/** Recording handlers and loggers for watcher tests, and the check that a delta sequence adds up. */
import assert from 'node:assert/strict';
import type { EndpointRecord } from '@theseus/services';
import type { EndpointDelta } from '../delta.js';
import type { WatchLog } from '../watcher.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  meta: Record<string, unknown>;
}

export function memoryLog(): WatchLog & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, meta: Record<string, unknown> = {}) =>
      lines.push({ level, message, meta });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A handler that records every call, can be held (to pile changes up behind a call), and tracks overlap. */
export function recordingHandler() {
  const calls: Array<{ service: string; delta: EndpointDelta }> = [];
  let active = 0;
  let release: (() => void) | undefined;
  let held: Promise<void> | undefined;
  const state = {
    calls,
    maxActive: 0,
    hold() {
      held = new Promise((resolve) => (release = resolve));
    },
    release() {
      release?.();
      held = undefined;
    },
    async handler(service: string, delta: EndpointDelta) {
      active++;
      state.maxActive = Math.max(state.maxActive, active);
      calls.push({ service, delta });
      try {
        if (held) await held;
      } finally {
        active--;
      }
    },
  };
  return state;
}

const ids = (records: readonly EndpointRecord[]) => records.map((r) => r.taskId);

/**
 * Applies deltas in order to an empty view, checking each against the view so far: nothing added
 * twice, nothing removed or changed that was not there, `current` equal to the view. Returns the view.
 */
export function replay(deltas: readonly EndpointDelta[]): Map<string, EndpointRecord> {
  const view = new Map<string, EndpointRecord>();
  for (const [i, delta] of deltas.entries()) {
    assert.ok(delta.added.length + delta.removed.length + delta.changed.length > 0, `delta ${i} is empty`);
    for (const record of delta.added) {
      assert.ok(!view.has(record.taskId), `delta ${i} adds ${record.taskId} again`);
      view.set(record.taskId, record);
    }
    for (const record of delta.removed) {
      assert.deepEqual(
        view.get(record.taskId),
        record,
        `delta ${i} removes ${record.taskId}, which was not there as such`,
      );
      view.delete(record.taskId);
    }
    for (const { before, after } of delta.changed) {
      assert.deepEqual(
        view.get(before.taskId),
        before,
        `delta ${i} changes ${before.taskId} from a state never reported`,
      );
      view.set(after.taskId, after);
    }
    assert.deepEqual(
      ids(delta.current),
      [...view.keys()].sort(),
      `delta ${i}: current is not what the deltas add up to`,
    );
    for (const record of delta.current) assert.deepEqual(view.get(record.taskId), record);
  }
  return view;
}
