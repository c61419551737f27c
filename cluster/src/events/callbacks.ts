/**
 * The pre-1.5 HTTP callback bus: each event POSTed to each URL in order, retried with a growing pause;
 * a subscriber down through the retries loses its queue (logged) and gets one attempt per event until
 * it answers again, never slowing the others. The number of subscriptions is capped.
 */
import type { Logger } from '@theseus/services';
import { EngineApiError } from '../deploy/errors.js';
import type { EventBus } from './bus.js';

export interface CallbackOptions {
  retries?: number;
  retryDelayMs?: number;
  maxQueued?: number;
  timeoutMs?: number;
  /** Most subscriptions at once [10]. */
  maxSubscriptions?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
  onChange?: (urls: string[]) => void;
}

interface Queue {
  items: string[];
  busy: boolean;
  down: boolean;
  dropped: number;
}

/** The URL without user information, for log lines. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

export class CallbackSubscribers {
  private readonly queues = new Map<string, Queue>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly bus: EventBus,
    initial: string[],
    private readonly options: CallbackOptions = {},
  ) {
    for (const url of initial) this.queues.set(url, newQueue());
    this.unsubscribe = bus.subscribe((_event, json) => {
      for (const [url, queue] of this.queues) {
        if (queue.items.length >= (options.maxQueued ?? 1000)) {
          queue.items.shift();
          queue.dropped++;
        }
        queue.items.push(json);
        void this.pump(url);
      }
    });
  }

  urls(): string[] {
    return [...this.queues.keys()];
  }

  add(url: string, clientIp: string): Record<string, unknown> {
    if (!this.queues.has(url)) {
      const max = this.options.maxSubscriptions ?? 10;
      if (this.queues.size >= max) {
        throw new EngineApiError(422, {
          message: `This engine takes at most ${max} event subscriptions (engine.maxEventSubscriptions, ENGINE_MAX_EVENT_SUBSCRIPTIONS); remove one first`,
        });
      }
      this.queues.set(url, newQueue());
    }
    this.options.onChange?.(this.urls());
    return this.bus.publish('subscribe_event', { clientIp, callbackUrl: url });
  }

  remove(url: string, clientIp: string): Record<string, unknown> {
    const event = this.bus.publish('unsubscribe_event', { clientIp, callbackUrl: url });
    this.queues.delete(url);
    this.options.onChange?.(this.urls());
    return event;
  }

  close(): void {
    this.unsubscribe();
    this.queues.clear();
  }

  private async pump(url: string): Promise<void> {
    const queue = this.queues.get(url);
    if (!queue || queue.busy) return;
    queue.busy = true;
    try {
      while (queue.items.length > 0 && this.queues.get(url) === queue) {
        const body = queue.items.shift()!;
        const attempts = queue.down ? 1 : (this.options.retries ?? 3) + 1;
        let delivered = false;
        for (let attempt = 0; attempt < attempts && !delivered; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, (this.options.retryDelayMs ?? 500) * attempt));
          delivered = await this.post(url, body);
        }
        if (delivered) {
          if (queue.down)
            this.options.logger?.info('event subscriber answers again', {
              callbackUrl: shown(url),
              droppedEvents: queue.dropped,
            });
          queue.down = false;
          queue.dropped = 0;
          continue;
        }
        queue.dropped += 1 + queue.items.length;
        queue.items.length = 0;
        if (!queue.down)
          this.options.logger?.warn('event subscriber does not answer: dropping its events until it does', {
            callbackUrl: shown(url),
            droppedEvents: queue.dropped,
          });
        queue.down = true;
      }
    } finally {
      queue.busy = false;
    }
  }

  private async post(url: string, body: string): Promise<boolean> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      await res.arrayBuffer();
      return res.status < 500;
    } catch {
      return false;
    }
  }
}

function newQueue(): Queue {
  return { items: [], busy: false, down: false, dropped: 0 };
}
