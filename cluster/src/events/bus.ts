/** The engine's event bus: every Marathon event goes through here to SSE clients and HTTP callbacks. */
import { timestamp } from '../time.js';

export interface MarathonEvent {
  eventType: string;
  timestamp: string;
  [key: string]: unknown;
}

export type EventListener = (event: MarathonEvent, json: string) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  /** Adds `eventType` and `timestamp` and delivers the event, serialized once, to every listener. */
  publish(eventType: string, fields: Record<string, unknown>): MarathonEvent {
    const event: MarathonEvent = { ...fields, eventType, timestamp: timestamp() };
    const json = JSON.stringify(event);
    if (this.intercept) this.intercept(event, json, () => this.deliver(event, json));
    else this.deliver(event, json);
    return event;
  }

  /** Delivers `json` as it is, an event of `eventType` whatever its shape (another Marathon version's, say). */
  publishRaw(eventType: string, json: string): void {
    this.deliver({ eventType, timestamp: timestamp() }, json);
  }

  /** Sees every published event first and delivers it, later or never (a fault layer). */
  intercept: ((event: MarathonEvent, json: string, deliver: () => void) => void) | undefined;

  private deliver(event: MarathonEvent, json: string): void {
    for (const listener of this.listeners) {
      try {
        listener(event, json);
      } catch {
        // one failing listener must not keep the event from the others
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
