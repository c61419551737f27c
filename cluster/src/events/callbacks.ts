/**
 * The pre-1.5 HTTP callback bus (`/v2/eventSubscriptions`): every event is POSTed as JSON to each
 * subscribed URL, in order, retried a few times with a growing pause; a callback that keeps failing
 * only loses its own events (bounded queue), never slows the others.
 */
import type { EventBus } from './bus.js';

export interface CallbackOptions {
  retries?: number;
  retryDelayMs?: number;
  maxQueued?: number;
  timeoutMs?: number;
  onChange?: (urls: string[]) => void;
}

export class CallbackSubscribers {
  private readonly queues = new Map<string, { items: string[]; busy: boolean }>();
  private readonly unsubscribe: () => void;

  constructor(private readonly bus: EventBus, initial: string[], private readonly options: CallbackOptions = {}) {
    for (const url of initial) this.queues.set(url, { items: [], busy: false });
    this.unsubscribe = bus.subscribe((_event, json) => {
      for (const [url, queue] of this.queues) {
        if (queue.items.length >= (options.maxQueued ?? 1000)) queue.items.shift();
        queue.items.push(json);
        void this.pump(url);
      }
    });
  }

  urls(): string[] {
    return [...this.queues.keys()];
  }

  add(url: string, clientIp: string): Record<string, unknown> {
    if (!this.queues.has(url)) this.queues.set(url, { items: [], busy: false });
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
        for (let attempt = 0; attempt <= (this.options.retries ?? 3); attempt++) {
          if (await this.post(url, body)) break;
          await new Promise((r) => setTimeout(r, (this.options.retryDelayMs ?? 500) * (attempt + 1)));
        }
      }
    } finally {
      queue.busy = false;
    }
  }

  private async post(url: string, body: string): Promise<boolean> {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
      await res.arrayBuffer();
      return res.status < 500;
    } catch {
      return false;
    }
  }
}
