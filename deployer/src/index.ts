export { toMarathonApp, specHash, type TranslationContext } from './translate.js';
export {
  planAction,
  planDocument,
  diffApps,
  managedApps,
  type PlannedService,
  type PlannedAction,
  type AppChange,
  type ServiceIdentity,
} from './plan.js';
export { Deployer, AmbiguousServiceError, IdempotencyKeyReusedError, type DeployerOptions } from './deployer.js';
export { DeploymentFollower, type DeploymentFollowerOptions, type FollowOutcome } from './follow.js';
export { DeployQueue, type DeployQueueOptions } from './deploy-queue.js';
export {
  DeploymentStore,
  HIDDEN_VALUE,
  publicRecord,
  type DeploymentRecord,
  type StepRecord,
  type DeploymentState,
  type StepState,
  type StepTarget,
} from './store.js';
export {
  summarize,
  detail,
  matchesFilter,
  taskView,
  type ServiceFilter,
  type ServiceGroupSummary,
  type ServiceGroupDetail,
  type TaskView,
} from './service-view.js';
export { createApi, type ApiOptions } from './http/api.js';
export { openApiDocument } from './http/openapi.js';
export { startDeployerServer, type DeployerServer, type DeployerServerOptions } from './server.js';
export { DeployerClient, ApiError, type DeployerClientOptions } from './client.js';
