/**
 * The subscriber's heap budget, applied by `theseus subscriber` itself.
 *
 * With V8's defaults a subscriber holding 100,000 endpoints sits near 300 MB of RSS for a live heap
 * of about 56 MB: the young generation grows to 32 MB after the first snapshot and stays there, and
 * the old generation keeps most of what the snapshot grew. V8 reads its heap limits only when a heap
 * is created (flags set later with `v8.setFlagsFromString` leave the limits as they were), so rather
 * than ask every user for `NODE_OPTIONS`, the command runs the subscriber in a worker thread whose
 * heap is created with the budget. The main thread only forwards SIGTERM / SIGINT and reports how
 * the worker ended; a subscriber that outgrows its budget ends with a clear error (and is restarted
 * by its supervisor) instead of swapping.
 */
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { describeError, type Logger } from '@theseus/services';

export interface HeapBudget {
  /** Old generation limit, MB. */
  oldMb: number;
  /** Young generation limit, MB (V8 splits it into two semi-spaces and a large-object space). */
  youngMb: number;
}

/** Young generation of the budget: 2 MB semi-spaces (larger ones cost RSS and gain nothing measurable here). */
export const YOUNG_GENERATION_MB = 6;

/**
 * How far the old generation may grow past what the last full collection kept, in percent. Below
 * 256 MB V8 lets a heap grow by only ~1.3x between full collections (it assumes a small device), so
 * a 160 MB budget meant a full collection every few MB during a burst: a third more CPU per event. The
 * flag is process-wide and read at each collection, so it holds for the worker created after it.
 */
export const OLD_GENERATION_GROWTH_PERCENT = 200;

/** A signal forwarded from the main thread to the subscriber's thread. */
export interface SignalMessage {
  signal: NodeJS.Signals;
}

/**
 * Runs `theseus <command> <argv>` in a worker thread created with the budget and resolves with its
 * exit code. The worker runs the same command (see subscriber-thread.ts).
 */
export function runInHeapBudget(command: string, argv: string[], budget: HeapBudget, logger: Logger): Promise<number> {
  const entry = new URL(
    import.meta.url.endsWith('.ts') ? './subscriber-thread.ts' : './subscriber-thread.js',
    import.meta.url,
  );
  setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
  const worker = new Worker(entry, {
    workerData: { command, argv },
    resourceLimits: { maxOldGenerationSizeMb: budget.oldMb, maxYoungGenerationSizeMb: budget.youngMb },
  });
  const forward = (signal: NodeJS.Signals) => worker.postMessage({ signal } satisfies SignalMessage);
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  return new Promise((resolve) => {
    let failure: Error | undefined;
    worker.on('error', (err) => (failure = err));
    worker.on('exit', (code) => {
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      if ((failure as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        logger.error('the subscriber outgrew its heap budget', {
          heapMb: budget.oldMb,
          hint: 'raise it with --heap-mb or SUBSCRIBER_HEAP_MB (about 60 MB plus 1 MB per 1,000 endpoints)',
        });
      } else if (failure) {
        logger.error('the subscriber stopped on an error', { error: describeError(failure) });
      }
      resolve(failure ? 1 : code);
    });
  });
}
