/**
 * @theseus/guestutils: service discovery from inside a Theseus container, and the watcher that
 * reacts when peers come and go. Importing it opens no connection and reads no variable.
 */
export {
  configureGuest,
  closeGuest,
  getEnvironmentName,
  getServiceName,
  getContainerName,
  getContainerHostAddress,
  getContainerInternalAddress,
  getLabels,
  getPort,
  getEndpoints,
  getNodeList,
  getSpecificHost,
  getSpecificPort,
  getSpecificExposedPort,
  get_environment_name,
  get_service_name,
  get_container_name,
  get_container_host_address,
  get_container_internal_address,
  get_port,
  get_node_list,
  get_specific_host,
  get_specific_port,
  get_specific_exposed_port,
} from './functions.js';
export { Guest, type GuestOptions, type NodeListOptions, type EndpointQuery } from './guest.js';
export {
  watchServices,
  parseWatchList,
  type ServiceWatcher,
  type ServiceChangeHandler,
  type ServiceChangeModule,
  type WatchServicesOptions,
  type WatchStatus,
  type WatchLog,
} from './watcher.js';
export { EndpointWatch, type EndpointWatchOptions } from './endpoint-watch.js';
export { diffEndpoints, type EndpointDelta, type EndpointChange } from './delta.js';
export {
  ContainerNotFoundError,
  InvalidEnvironmentError,
  MissingEnvironmentError,
  NotEnoughNodesError,
  PortNotFoundError,
} from './errors.js';
export type { EndpointRecord, EndpointPort } from '@theseus/services/contract';
