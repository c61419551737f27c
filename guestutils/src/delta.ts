/**
 * What changed in a service between two moments: the records added, removed and changed, and
 * every record now. A delta is the difference between two states, not a replay of events, so a
 * burst of writes, a replayed event or a re-read after compaction all come out as the same exact
 * answer, and a change that was undone within one window is no change at all.
 */
import type { EndpointRecord } from '@theseus/services/contract';

export interface EndpointChange {
  before: EndpointRecord;
  after: EndpointRecord;
}

export interface EndpointDelta {
  namespace: string;
  service: string;
  /** Instances that appeared. */
  added: EndpointRecord[];
  /** Instances that went away (their last known record). */
  removed: EndpointRecord[];
  /** Instances whose record changed (host, ports, health, version, labels...; `updatedAt` alone is no change). */
  changed: EndpointChange[];
  /** Every instance now, in task-id order. */
  current: EndpointRecord[];
  /** The etcd revision `current` reflects. */
  revision: string;
}

/** Records by task id. */
export type EndpointState = ReadonlyMap<string, EndpointRecord>;

/** `same` is the service model's `sameEndpoint`, passed in so this module loads without it. */
export function diffEndpoints(
  before: EndpointState,
  after: EndpointState,
  same: (a: EndpointRecord, b: EndpointRecord) => boolean,
): Pick<EndpointDelta, 'added' | 'removed' | 'changed'> {
  const added: EndpointRecord[] = [];
  const removed: EndpointRecord[] = [];
  const changed: EndpointChange[] = [];
  for (const taskId of [...after.keys()].sort()) {
    const now = after.get(taskId)!;
    const was = before.get(taskId);
    if (!was) added.push(now);
    // The same object is the same record (the watch keeps records it did not see rewritten).
    else if (was !== now && !same(was, now)) changed.push({ before: was, after: now });
  }
  for (const taskId of [...before.keys()].sort()) if (!after.has(taskId)) removed.push(before.get(taskId)!);
  return { added, removed, changed };
}

export function isEmptyDelta(delta: Pick<EndpointDelta, 'added' | 'removed' | 'changed'>): boolean {
  return delta.added.length === 0 && delta.removed.length === 0 && delta.changed.length === 0;
}

export function sortedRecords(state: EndpointState): EndpointRecord[] {
  return [...state.keys()].sort().map((taskId) => state.get(taskId)!);
}
