export {
  Subscriber,
  NotLeaderError,
  SUBSCRIBED_EVENT_TYPES,
  type SubscriberOptions,
  type SubscriberStatus,
} from './subscriber.js';
export { subscriberHttpApp, type SubscriberHttpOptions } from './http.js';
export { discoveryHttp, type DiscoveryHttp, type DiscoveryHttpOptions } from './discovery-http/routes.js';
export type { DiscoveryReaders } from './discovery-http/readers.js';
export type { ReconcileResult } from './reconcile.js';
export { appModelOf, type AppModel, type TaskFacts } from './endpoint-of-task.js';
