/** Apps and all their versions, with cluster-unique service ports assigned to `port: 0` / `servicePort: 0`. */
import type { AppDefinition } from './definition.js';
import type { AppDraft } from './parse.js';
import { PortRange } from '../tasks/ports.js';

export class AppRepository {
  private readonly apps = new Map<string, AppDefinition[]>();
  private readonly servicePorts = new PortRange(10000, 20000);

  load(entries: Array<{ id: string; versions: AppDefinition[] }>): void {
    for (const e of entries) {
      this.apps.set(e.id, e.versions);
      this.reservePorts(e.versions[e.versions.length - 1]!);
    }
  }

  snapshot(): Array<{ id: string; versions: AppDefinition[] }> {
    return [...this.apps].map(([id, versions]) => ({ id, versions }));
  }

  get(id: string): AppDefinition | undefined {
    const versions = this.apps.get(id);
    return versions?.[versions.length - 1];
  }

  all(): AppDefinition[] {
    return [...this.apps.values()].map((v) => v[v.length - 1]!);
  }

  versions(id: string): AppDefinition[] {
    return this.apps.get(id) ?? [];
  }

  version(id: string, version: string): AppDefinition | undefined {
    return this.versions(id).find((v) => v.version === version);
  }

  /** Stores a new version; service ports 0 are assigned (kept from the previous version when the same port slot exists). */
  put(draft: AppDraft, version: string, scaleOnly: boolean): AppDefinition {
    const previous = this.get(draft.id);
    const app: AppDefinition = {
      ...structuredClone(draft),
      version,
      versionInfo: {
        lastScalingAt: version,
        lastConfigChangeAt: scaleOnly && previous ? previous.versionInfo.lastConfigChangeAt : version,
      },
    };
    this.assignServicePorts(app, previous);
    const versions = this.apps.get(app.id) ?? [];
    versions.push(app);
    if (versions.length > 50) versions.splice(0, versions.length - 50);
    this.apps.set(app.id, versions);
    return app;
  }

  delete(id: string): void {
    const app = this.get(id);
    if (app) for (const p of servicePortsOf(app)) this.servicePorts.release(p);
    this.apps.delete(id);
  }

  private reservePorts(app: AppDefinition): void {
    for (const p of servicePortsOf(app)) if (p >= 10000 && p <= 20000) this.servicePorts.reserve(p);
  }

  private assignServicePorts(app: AppDefinition, previous: AppDefinition | undefined): void {
    const old = previous ? servicePortsOf(previous) : [];
    const pick = (i: number) => old[i] ?? this.servicePorts.take() ?? 0;
    if (app.portDefinitions)
      app.portDefinitions.forEach((d, i) => (d.port === 0 ? (d.port = pick(i)) : this.servicePorts.reserve(d.port)));
    app.container?.portMappings?.forEach((m, i) =>
      m.servicePort === 0 ? (m.servicePort = pick(i)) : this.servicePorts.reserve(m.servicePort),
    );
    for (const p of old) if (!servicePortsOf(app).includes(p)) this.servicePorts.release(p);
  }
}

export function servicePortsOf(app: AppDefinition): number[] {
  if (app.networks[0]?.mode === 'host' || !app.container?.portMappings)
    return (app.portDefinitions ?? []).map((d) => d.port);
  return app.container.portMappings.map((m) => m.servicePort);
}
