/** The public surface of the npm package marathon-event-bus-client (it ships no types). */
declare module 'marathon-event-bus-client' {
  import type { EventEmitter } from 'node:events';

  interface MarathonEventBusClientOptions {
    marathonHost?: string;
    marathonPort?: number;
    marathonProtocol?: string;
    marathonUri?: string;
    marathonHeaders?: Record<string, string>;
    eventTypes?: string[];
    handlers?: Record<string, (name: string, data: Record<string, unknown>) => void>;
  }

  interface MarathonEventBusClient extends EventEmitter {
    subscribe(): void;
    unsubscribe(): void;
  }

  const MarathonEventBusClient: new (options: MarathonEventBusClientOptions) => MarathonEventBusClient;
  export default MarathonEventBusClient;
}
