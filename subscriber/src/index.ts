export {
  Subscriber,
  NotLeaderError,
  SUBSCRIBED_EVENT_TYPES,
  type SubscriberOptions,
  type SubscriberStatus,
} from './subscriber.js';
export { subscriberHttpApp, type SubscriberHttpOptions } from './http.js';
export type { ReconcileResult } from './reconcile.js';
export { appModelOf, type AppModel, type TaskFacts } from './endpoint-of-task.js';
