/**
 * The module-level functions (maestro-ng's names, in camelCase and snake_case) over one shared
 * `Guest`, made on first use from the environment. Nothing connects at import time.
 *
 *   import { getNodeList } from '@theseus/guestutils';
 *   const redis = await getNodeList('redis', { ports: ['api'] });   // ['10.0.0.5:31002', ...]
 */
import { Guest, type EndpointQuery, type GuestOptions, type NodeListOptions } from './guest.js';
import type { EndpointRecord } from '@theseus/services/contract';

let shared: Guest | undefined;

function guest(): Guest {
  return (shared ??= new Guest());
}

/**
 * Replaces the shared Guest, e.g. `configureGuest({ cache: true })` to answer from memory kept
 * current by watches. The previous one is closed.
 */
export async function configureGuest(options: GuestOptions = {}): Promise<Guest> {
  const previous = shared;
  shared = new Guest(options);
  await previous?.close();
  return shared;
}

/** Closes the shared Guest's etcd connection and watches (the next call opens a new one). */
export async function closeGuest(): Promise<void> {
  const previous = shared;
  shared = undefined;
  await previous?.close();
}

export const getEnvironmentName = (): string => guest().getEnvironmentName();
export const getServiceName = (): string => guest().getServiceName();
export const getContainerName = (): string => guest().getContainerName();
export const getContainerHostAddress = (): string => guest().getContainerHostAddress();
export const getContainerInternalAddress = (): string => guest().getContainerInternalAddress();
export const getLabels = (): string[] => guest().getLabels();
export const getPort = (name: string, fallback?: number): number => guest().getPort(name, fallback);
export const getEndpoints = (service: string, query?: EndpointQuery): Promise<EndpointRecord[]> =>
  guest().getEndpoints(service, query);
export const getNodeList = (service: string, options?: NodeListOptions): Promise<string[]> =>
  guest().getNodeList(service, options);
export const getSpecificHost = (service: string, container: string): Promise<string> =>
  guest().getSpecificHost(service, container);
export const getSpecificPort = (service: string, container: string, port: string, fallback?: number): Promise<number> =>
  guest().getSpecificPort(service, container, port, fallback);
export const getSpecificExposedPort = (
  service: string,
  container: string,
  port: string,
  fallback?: number,
): Promise<number> => guest().getSpecificExposedPort(service, container, port, fallback);

// snake_case, for code ported from maestro-ng's guestutils.
export const get_environment_name = getEnvironmentName;
export const get_service_name = getServiceName;
export const get_container_name = getContainerName;
export const get_container_host_address = getContainerHostAddress;
export const get_container_internal_address = getContainerInternalAddress;
export const get_port = getPort;
export const get_specific_host = getSpecificHost;
export const get_specific_port = getSpecificPort;
export const get_specific_exposed_port = getSpecificExposedPort;

/** maestro's positional form `get_node_list(service, ports, minimum, labels)`, or the options object. */
export function get_node_list(
  service: string,
  portsOrOptions?: readonly string[] | NodeListOptions,
  minimum?: number,
  labels?: readonly string[],
): Promise<string[]> {
  if (portsOrOptions !== undefined && !Array.isArray(portsOrOptions))
    return getNodeList(service, portsOrOptions as NodeListOptions);
  return getNodeList(service, {
    ...(portsOrOptions ? { ports: portsOrOptions as readonly string[] } : {}),
    ...(minimum !== undefined ? { minimum } : {}),
    ...(labels ? { labels } : {}),
  });
}
