/**
 * What the discovery API answers, computed from endpoint records: one service's nodes (as
 * `theseus-guest node-list` prints them) and the whole cluster in the text form of Marathon's
 * `GET /v2/tasks`. Pure functions: the routes read etcd and hand the records here.
 */
import { labelsMatch, type EndpointRecord } from '@theseus/services';

export interface NodeQuery {
  /** Port names; each node is `host:port1:port2...` (host ports). Empty: hosts only. */
  ports: string[];
  labels: string[];
  includeUnhealthy: boolean;
}

export interface ServiceAnswer {
  namespace: string;
  service: string;
  /** The etcd revision the answer reflects: pass it back as `?wait=` to wait for a change. */
  revision: string;
  nodes: string[];
  endpoints: EndpointRecord[];
}

/** Instances that count for a query, in task-id order, with the node string of each. */
export function serviceAnswer(
  namespace: string,
  service: string,
  revision: string,
  records: readonly EndpointRecord[],
  query: NodeQuery,
): ServiceAnswer {
  const endpoints: EndpointRecord[] = [];
  const nodes: string[] = [];
  for (const record of [...records].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0))) {
    if (!labelsMatch(record.labels, query.labels)) continue;
    if (!query.includeUnhealthy && record.healthy === false) continue;
    const ports = query.ports.map((name) => record.ports[name]?.host);
    // An instance without a host port for a wanted port cannot be reached through it.
    if (ports.some((p) => p === undefined || p === null)) continue;
    endpoints.push(record);
    nodes.push([record.host, ...ports].join(':'));
  }
  return { namespace, service, revision, nodes, endpoints };
}

/** What a change is judged by: the answer without its revision. */
export function answerIdentity(answer: ServiceAnswer): string {
  return JSON.stringify([answer.nodes, answer.endpoints.map(({ updatedAt: _, ...rest }) => rest)]);
}

/**
 * The cluster in the text form of Marathon's `GET /v2/tasks` (what haproxy-marathon-bridge style
 * scripts parse): per app and port, `<app id as a_b_c>\t<port>\t<host>:<hostPort>\t...`, one line
 * each, apps in id order, addresses sorted. Marathon's second column is the app's service port,
 * which endpoint records do not carry; here it is the port inside the container (the same for every
 * instance of the app), or an instance's host port under host networking. Only healthy
 * instances are listed (instances of apps without health checks count as healthy).
 */
export function marathonTasksText(records: readonly EndpointRecord[]): string {
  const byApp = new Map<string, EndpointRecord[]>();
  for (const record of records) {
    if (record.healthy === false) continue;
    const list = byApp.get(record.appId) ?? [];
    list.push(record);
    byApp.set(record.appId, list);
  }
  let text = '';
  for (const appId of [...byApp.keys()].sort()) {
    const instances = byApp.get(appId)!;
    const safePath = appId.replace(/^\/+/, '').split('/').join('_');
    const portNames = [...new Set(instances.flatMap((r) => Object.keys(r.ports)))];
    if (portNames.length === 0) {
      text += `${safePath}\t \t${instances
        .map((r) => r.host)
        .sort()
        .map((h) => `${h}\t`)
        .join('')}\n`;
      continue;
    }
    for (const name of portNames) {
      const first = instances.find((r) => r.ports[name])!.ports[name]!;
      const port = first.container ?? first.host ?? 0;
      const addresses = instances
        .map((r) => r.ports[name]?.host)
        .map((hostPort, i) => (hostPort == null ? undefined : `${instances[i]!.host}:${hostPort}`))
        .filter((a): a is string => a !== undefined)
        .sort();
      text += `${safePath}\t${port}\t${addresses.map((a) => `${a}\t`).join('')}\n`;
    }
  }
  return text;
}
