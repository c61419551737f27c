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
    for (const listener of this.listeners) {
      try {
        listener(event, json);
      } catch {
        // one failing listener must not keep the event from the others
      }
    }
    return event;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
