/**
 * Service discovery from inside a container: who am I (from the environment) and where are my
 * peers (from the endpoint records the subscriber keeps in etcd). Every question about peers is one
 * etcd range read, or, with `cache: true`, an answer from memory kept current by a watch per
 * service (and served, stale, while etcd is unreachable).
 *
 * The names are maestro-ng's, so code written against maestro's guestutils ports over; unlike the
 * original, ports are numbers and whatever is missing is an error that names it, unless the caller
 * gave a default.
 */
import type { Etcd3 } from 'etcd3';
import type { DecodedEndpoints, EndpointRecord, EtcdLayout } from '@theseus/services/contract';
import { EndpointWatch } from './endpoint-watch.js';
import {
  containerHostAddress,
  containerInternalAddress,
  containerName,
  environmentName,
  etcdEndpoints,
  etcdPrefix,
  ownPort,
  serviceLabels,
  serviceName,
  type Env,
} from './environment.js';
import { ContainerNotFoundError, NotEnoughNodesError, PortNotFoundError } from './errors.js';
import { connectEtcd, loadContract, type ContractModule } from './etcd-connection.js';
import { sortedRecords } from './delta.js';

export interface GuestOptions {
  /** Where the container's variables are read. @defaultValue process.env */
  env?: Env;
  /** The namespace peers are looked up in. @defaultValue ENVIRONMENT_NAME */
  namespace?: string;
  /** etcd client URLs. @defaultValue ETCD_ENDPOINTS, else http://127.0.0.1:2379 */
  endpoints?: readonly string[];
  /** Key prefix of the endpoint records. @defaultValue THESEUS_ETCD_PREFIX, else /theseus */
  prefix?: string;
  /** Use this etcd client instead of opening one; `close()` leaves it open. */
  client?: Etcd3;
  /** Deadline of each etcd call, in ms. @defaultValue 5000 */
  timeoutMs?: number;
  /** Answer from memory, kept current by one etcd watch per service asked about. @defaultValue false */
  cache?: boolean;
  /** Told about stored records that do not decode (they are skipped). @defaultValue a process warning, once per key */
  onInvalidRecord?: (key: string, problem: string) => void;
}

export interface EndpointQuery {
  /** Only instances whose label set includes all of these. */
  labels?: readonly string[];
  /** Include instances whose health checks fail. @defaultValue false */
  includeUnhealthy?: boolean;
}

export interface NodeListOptions extends EndpointQuery {
  /** Port names; each node is `host:port1:port2...` with the host ports, in this order. @defaultValue [] (hosts only) */
  ports?: readonly string[];
  /** Fewer instances than this is a NotEnoughNodesError. @defaultValue 1 */
  minimum?: number;
}

interface Registry {
  client: Etcd3;
  services: ContractModule;
  layout: EtcdLayout;
  /** Records decoded by earlier reads: an unchanged record is not parsed again. */
  decoded: DecodedEndpoints;
}

export class Guest {
  private readonly env: Env;
  private readonly options: GuestOptions;
  private registry: Promise<Registry> | undefined;
  private readonly watches = new Map<string, Promise<EndpointWatch>>();
  private readonly warned = new Set<string>();
  private closed = false;

  constructor(options: GuestOptions = {}) {
    this.options = options;
    this.env = options.env ?? process.env;
  }

  getEnvironmentName(): string {
    return this.options.namespace ?? environmentName(this.env);
  }

  getServiceName(): string {
    return serviceName(this.env);
  }

  getContainerName(): string {
    return containerName(this.env);
  }

  getContainerHostAddress(): string {
    return containerHostAddress(this.env);
  }

  getContainerInternalAddress(): string {
    return containerInternalAddress();
  }

  getLabels(): string[] {
    return serviceLabels(this.env);
  }

  /** The port this container listens on for a named port. */
  getPort(name: string, fallback?: number): number {
    return ownPort(this.env, name, fallback);
  }

  /** The records of a service's running instances, in task-id order. */
  async getEndpoints(service: string, query: EndpointQuery = {}): Promise<EndpointRecord[]> {
    const [registry, records] = await this.serviceRecords(service);
    const labels = query.labels ?? [];
    return records.filter(
      (r) => registry.services.labelsMatch(r.labels, labels) && (query.includeUnhealthy || r.healthy !== false),
    );
  }

  /** `host[:port...]` of each running instance of `service`, with the host ports of `options.ports`. */
  async getNodeList(service: string, options: NodeListOptions = {}): Promise<string[]> {
    const minimum = options.minimum ?? 1;
    if (!Number.isInteger(minimum) || minimum < 0)
      throw new RangeError(`minimum must be a whole number >= 0, got ${minimum}`);
    const records = await this.getEndpoints(service, options);
    if (records.length < minimum)
      throw new NotEnoughNodesError(this.getEnvironmentName(), service, records.length, minimum, options.labels ?? []);
    const ports = options.ports ?? [];
    return records.map((record) => [record.host, ...ports.map((port) => hostPort(record, port))].join(':'));
  }

  /** The host a container (task id) of `service` runs on. */
  async getSpecificHost(service: string, container: string): Promise<string> {
    const record = await this.serviceRecord(service, container);
    if (!record) throw new ContainerNotFoundError(this.getEnvironmentName(), service, container);
    return record.host;
  }

  /** The host port a container publishes for a named port. */
  async getSpecificPort(service: string, container: string, port: string, fallback?: number): Promise<number> {
    const record = await this.serviceRecord(service, container);
    if (!record) {
      if (fallback !== undefined) return fallback;
      throw new ContainerNotFoundError(this.getEnvironmentName(), service, container);
    }
    return record.ports[port]?.host == null && fallback !== undefined ? fallback : hostPort(record, port);
  }

  /** The port a container listens on (inside the container) for a named port. */
  async getSpecificExposedPort(service: string, container: string, port: string, fallback?: number): Promise<number> {
    const record = await this.serviceRecord(service, container);
    if (!record) {
      if (fallback !== undefined) return fallback;
      throw new ContainerNotFoundError(this.getEnvironmentName(), service, container);
    }
    const mapping = record.ports[port];
    // With host networking the container port is the host port.
    const exposed = mapping?.container ?? mapping?.host ?? undefined;
    if (exposed != null) return exposed;
    if (fallback !== undefined) return fallback;
    throw new PortNotFoundError(
      port,
      describe(record),
      mapping ? 'it has neither a container nor a host port' : undefined,
    );
  }

  /** Stops the cache's watches and closes the etcd client (unless it was given). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watches = await Promise.allSettled([...this.watches.values()]);
    await Promise.all(watches.map((w) => (w.status === 'fulfilled' ? w.value.stop() : undefined)));
    this.watches.clear();
    if (this.registry && !this.options.client) {
      // a registry that never connected has nothing to close
      const [registry] = await Promise.allSettled([this.registry]);
      if (registry.status === 'fulfilled') registry.value.client.close();
    }
  }

  private connect(): Promise<Registry> {
    if (this.closed) return Promise.reject(new Error('this Guest is closed'));
    this.registry ??= (async () => {
      const services = await loadContract();
      const layout = new services.EtcdLayout(this.options.prefix ?? etcdPrefix(this.env));
      const client =
        this.options.client ??
        (await connectEtcd({
          endpoints: this.options.endpoints ?? etcdEndpoints(this.env),
          env: this.env,
          ...(this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {}),
        }));
      return { client, services, layout, decoded: new services.DecodedEndpoints() };
    })();
    return this.registry;
  }

  private async serviceRecords(service: string): Promise<[Registry, EndpointRecord[]]> {
    const registry = await this.connect();
    const namespace = this.getEnvironmentName();
    if (this.options.cache) return [registry, sortedRecords((await this.watch(registry, namespace, service)).current)];
    const snapshot = await registry.services.readServiceEndpoints(
      registry.client,
      registry.layout,
      namespace,
      service,
      { decoded: registry.decoded },
    );
    for (const invalid of snapshot.invalid)
      this.reportInvalid(invalid.key, registry.services.describeError(invalid.error));
    return [registry, snapshot.endpoints.map((e) => e.record)];
  }

  private async serviceRecord(service: string, container: string): Promise<EndpointRecord | undefined> {
    const registry = await this.connect();
    const namespace = this.getEnvironmentName();
    if (this.options.cache) return (await this.watch(registry, namespace, service)).current.get(container);
    if (!container || container.includes('/')) return undefined;
    return (await registry.services.readEndpoint(registry.client, registry.layout, namespace, service, container))
      ?.record;
  }

  private watch(registry: Registry, namespace: string, service: string): Promise<EndpointWatch> {
    const key = `${namespace}/${service}`;
    let watch = this.watches.get(key);
    if (!watch) {
      const created = new EndpointWatch({
        client: registry.client,
        services: registry.services,
        layout: registry.layout,
        namespace,
        service,
      });
      created.on('invalid', (invalid) =>
        this.reportInvalid(invalid.key, registry.services.describeError(invalid.error)),
      );
      watch = created.start().then(() => created);
      this.watches.set(key, watch);
      // A failed first read is the caller's error; the next question tries again.
      watch.catch(() => this.watches.delete(key));
    }
    return watch;
  }

  private reportInvalid(key: string, problem: string): void {
    if (this.options.onInvalidRecord) return this.options.onInvalidRecord(key, problem);
    const id = `${key}\n${problem}`;
    if (this.warned.has(id)) return;
    this.warned.add(id);
    process.emitWarning(`skipping endpoint record ${key}: ${problem}`, { code: 'THESEUS_INVALID_ENDPOINT' });
  }
}

function describe(record: EndpointRecord): string {
  return `container ${JSON.stringify(record.taskId)} of service ${JSON.stringify(record.service)}`;
}

function hostPort(record: EndpointRecord, port: string): number {
  const mapping = record.ports[port];
  if (!mapping)
    throw new PortNotFoundError(port, describe(record), `it has ${Object.keys(record.ports).join(', ') || 'no ports'}`);
  if (mapping.host === null) throw new PortNotFoundError(port, describe(record), 'it has no host port');
  return mapping.host;
}
