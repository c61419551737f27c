/**
 * The etcd key layout (version 1). Everything lives under one prefix (THESEUS_ETCD_PREFIX, default
 * `/theseus`), so several Theseus installations can share an etcd without touching each other:
 *
 *   <prefix>/v1/endpoints/<namespace>/<service>/<taskId>   EndpointRecord (JSON)
 *   <prefix>/v1/election/subscriber                        subscriber leader election (etcd3 Election)
 *
 * A service's instances are one range read: the prefix `<prefix>/v1/endpoints/<namespace>/<service>/`.
 */
import { assertName } from '../naming.js';

export const DEFAULT_ETCD_PREFIX = '/theseus';
export const LAYOUT_VERSION = 'v1';

export class EtcdLayout {
  readonly prefix: string;

  constructor(prefix: string = DEFAULT_ETCD_PREFIX) {
    if (!/^\/[A-Za-z0-9._\-/]*[A-Za-z0-9._-]$/.test(prefix) || prefix.includes('//')) {
      throw new Error(`invalid etcd prefix ${JSON.stringify(prefix)}: expected an absolute path like /theseus`);
    }
    this.prefix = prefix;
  }

  /** Every endpoint record of this installation. */
  allEndpoints(): string {
    return `${this.prefix}/${LAYOUT_VERSION}/endpoints/`;
  }

  namespaceEndpoints(namespace: string): string {
    return `${this.allEndpoints()}${assertName('namespace', namespace)}/`;
  }

  serviceEndpoints(namespace: string, service: string): string {
    return `${this.namespaceEndpoints(namespace)}${assertName('service', service)}/`;
  }

  endpoint(namespace: string, service: string, taskId: string): string {
    if (!taskId || taskId.includes('/')) throw new Error(`invalid task id ${JSON.stringify(taskId)}`);
    return `${this.serviceEndpoints(namespace, service)}${taskId}`;
  }

  /** The (namespace, service, taskId) of an endpoint key, or undefined for any other key. */
  parseEndpointKey(key: string): { namespace: string; service: string; taskId: string } | undefined {
    const root = this.allEndpoints();
    if (!key.startsWith(root)) return undefined;
    const parts = key.slice(root.length).split('/');
    if (parts.length !== 3 || parts.some((p) => p.length === 0)) return undefined;
    const [namespace, service, taskId] = parts as [string, string, string];
    return { namespace, service, taskId };
  }

  election(name: string): string {
    return `${this.prefix}/${LAYOUT_VERSION}/election/${name}`;
  }
}
