/**
 * Following Marathon deployments to their end. A deployment is finished when it is gone from
 * `GET /v2/deployments`; only the event bus says how it ended (`deployment_success` /
 * `deployment_failed`). With an event stream attached, waiters resolve on the event at once; the
 * shared poll of /v2/deployments (one request per tick for every waiter) is the fallback for
 * events missed across reconnects, and the only source without a stream. A deployment that is gone
 * without a failure event is reported `finished`: callers check the app reached the wanted state.
 */
import { describeError, type MarathonClient, type MarathonEvent, type MarathonEventStream } from '@theseus/services';

export type FollowOutcome =
  | { state: 'succeeded' }
  /** Gone from /v2/deployments without an event saying how it ended. */
  | { state: 'finished' }
  | { state: 'failed'; reason: string }
  | { state: 'timeout' };

export interface DeploymentFollowerOptions {
  marathon: MarathonClient;
  /** Marathon's event stream; started and stopped by its owner. */
  events?: MarathonEventStream | undefined;
  /**
   * First poll delay; each later one is 1.5 times longer up to `maxPollMs`.
   * @defaultValue 10
   */
  minPollMs?: number;
  /**
   * Longest poll delay without events.
   * @defaultValue 1000
   */
  maxPollMs?: number;
  /**
   * Poll delay while the event stream is attached (polling only catches missed events then).
   * @defaultValue 5000
   */
  attachedPollMs?: number;
}

interface Waiter {
  id: string;
  resolve: (outcome: FollowOutcome) => void;
  timer: NodeJS.Timeout;
}

export class DeploymentFollower {
  private readonly marathon: MarathonClient;
  private readonly events: MarathonEventStream | undefined;
  private readonly minPollMs: number;
  private readonly maxPollMs: number;
  private readonly attachedPollMs: number;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Outcomes seen in events before anyone waited (the event can beat the HTTP answer). */
  private readonly recent = new Map<string, FollowOutcome>();
  private attached = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollDelay: number;
  private polling = false;
  private closed = false;

  constructor(options: DeploymentFollowerOptions) {
    this.marathon = options.marathon;
    this.events = options.events;
    this.minPollMs = options.minPollMs ?? 10;
    this.maxPollMs = options.maxPollMs ?? 1000;
    this.attachedPollMs = options.attachedPollMs ?? 5000;
    this.pollDelay = this.minPollMs;
    if (this.events) {
      this.events.on('attached', this.onAttached);
      this.events.on('detached', this.onDetached);
      this.events.on('event', this.onEvent);
    }
  }

  /** Resolves when deployment `id` ends, or with `timeout` after `timeoutMs`. */
  waitFor(id: string, timeoutMs: number): Promise<FollowOutcome> {
    const known = this.recent.get(id);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        id,
        resolve,
        timer: setTimeout(() => this.settle(id, { state: 'timeout' }, waiter), timeoutMs),
      };
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
      this.pollDelay = this.minPollMs;
      this.schedulePoll();
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.pollTimer);
    for (const [id, set] of this.waiters) for (const w of set) this.settle(id, { state: 'timeout' }, w);
    if (this.events) {
      this.events.off('attached', this.onAttached);
      this.events.off('detached', this.onDetached);
      this.events.off('event', this.onEvent);
    }
  }

  private readonly onAttached = () => {
    this.attached = true;
    this.schedulePoll(0); // events may have been missed while detached
  };

  private readonly onDetached = () => {
    this.attached = false;
    this.pollDelay = this.minPollMs;
    this.schedulePoll();
  };

  private readonly onEvent = (event: MarathonEvent) => {
    if (event.eventType === 'deployment_success') this.finish(event.id, { state: 'succeeded' });
    else if (event.eventType === 'deployment_failed')
      this.finish(event.id, { state: 'failed', reason: event.reason ?? 'Marathon reported the deployment failed' });
  };

  private finish(id: string, outcome: FollowOutcome): void {
    const set = this.waiters.get(id);
    if (!set) {
      this.recent.set(id, outcome);
      if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
      return;
    }
    for (const w of [...set]) this.settle(id, outcome, w);
  }

  private settle(id: string, outcome: FollowOutcome, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const set = this.waiters.get(id);
    set?.delete(waiter);
    if (set && set.size === 0) this.waiters.delete(id);
    waiter.resolve(outcome);
  }

  private schedulePoll(delay?: number): void {
    if (this.closed || this.waiters.size === 0) return;
    const wanted = delay ?? (this.attached ? this.attachedPollMs : this.pollDelay);
    if (this.pollTimer && !this.polling) {
      clearTimeout(this.pollTimer);
    } else if (this.polling) return;
    this.pollTimer = setTimeout(() => void this.poll(), wanted);
  }

  private async poll(): Promise<void> {
    this.pollTimer = undefined;
    if (this.waiters.size === 0 || this.closed) return;
    this.polling = true;
    try {
      const running = new Set((await this.marathon.listDeployments()).map((d) => d.id));
      for (const id of [...this.waiters.keys()]) if (!running.has(id)) this.finish(id, { state: 'finished' });
    } catch (err) {
      // Marathon unreachable: keep waiting; the step's timeout bounds it.
      void describeError(err);
    } finally {
      this.polling = false;
    }
    this.pollDelay = Math.min(this.maxPollMs, Math.ceil(this.pollDelay * 1.5));
    this.schedulePoll();
  }
}
