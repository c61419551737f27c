/**
 * Gives back the memory a large reconcile grew. A snapshot of many tasks is read, compared and
 * dropped app by app, but V8 keeps the heap it grew (old-space pages, a full-size young
 * generation) until it needs the room again, so a subscriber holding 100,000 endpoints would sit at
 * about three times its live heap. One full collection once such a reconcile is done returns the
 * empty pages to the system.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Collect when the heap grew by more than this since the last collection here. */
const GROWTH_BYTES = 48 * 2 ** 20;

/** The heap's size after the last collection here. */
let settled = 0;

let collect: ((options?: object) => void) | null | undefined;

function collector(): ((options?: object) => void) | null {
  if (collect === undefined) {
    try {
      // Exposes gc() to contexts created from now on; the process's own context stays as it was.
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as (options?: object) => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/**
 * Runs a full, memory-reducing collection when the heap grew well past its size after the last
 * one (a first snapshot, a large drift), and not after the every-minute reconciles of a steady
 * cluster; returns the heap's size before and after and the pause, or undefined when it did not run.
 */
export function releaseHeap(): { before: number; after: number; ms: number } | undefined {
  const started = performance.now();
  const before = process.memoryUsage().heapTotal;
  if (before - settled < GROWTH_BYTES) return undefined;
  const gc = collector();
  if (!gc) return undefined;
  // A full collection frees the garbage; the memory-reducing kind after it returns the pages
  // (alone, the second does not free much: measured on Node 20).
  gc();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  settled = process.memoryUsage().heapTotal;
  return { before, after: settled, ms: Math.round(performance.now() - started) };
}
