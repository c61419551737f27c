/**
 * What an app may ask of this machine: Docker `parameters` applied when understood and allowed, else
 * refused (422), never dropped; host paths checked at launch after resolving symlinks.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { AppDraft } from '../app/definition.js';
import type { ProblemEntry } from '../app/problems.js';
import type { TaskLaunchSpec } from './runner.js';

export interface PrivilegePolicy {
  allowPrivileged: boolean;
  allowHostNetwork: boolean;
  allowUser: boolean;
  allowHostVolumes: boolean;
  /** Host directories apps may mount (or below). */
  hostVolumePaths: string[];
}

/** What `parameters` set on the container. */
export interface ParameterOptions {
  env: Record<string, string>;
  labels: Record<string, string>;
  volumes: TaskLaunchSpec['volumes'];
  workingDir?: string;
  hostname?: string;
  cpus?: number;
  memMb?: number;
  privileged?: boolean;
  user?: string;
  network?: 'host' | 'bridge' | 'none';
}

type Apply = (value: string, into: ParameterOptions, policy: PrivilegePolicy) => string | undefined;

function keyValue(value: string, into: Record<string, string>): string | undefined {
  const at = value.indexOf('=');
  if (at <= 0) return `expected KEY=VALUE, got ${JSON.stringify(value)}`;
  into[value.slice(0, at)] = value.slice(at + 1);
  return undefined;
}

function bytesToMb(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(value.trim());
  if (!m) return undefined;
  const scale: Record<string, number> = { '': 1 / (1024 * 1024), b: 1 / (1024 * 1024), k: 1 / 1024, m: 1, g: 1024 };
  return Number(m[1]) * scale[m[2]!.toLowerCase()]!;
}

const NETWORKS = new Set(['host', 'bridge', 'none', 'default']);

const PARAMETERS: Record<string, Apply> = {
  env: (v, o) => keyValue(v, o.env),
  label: (v, o) => keyValue(v, o.labels),
  workdir: (v, o) => (v.startsWith('/') ? void (o.workingDir = v) : 'must be an absolute path'),
  hostname: (v, o) => void (o.hostname = v),
  'cpu-shares': (v, o) =>
    /^\d+$/.test(v) && Number(v) >= 2
      ? void (o.cpus = Number(v) / 1024)
      : 'must be a whole number of shares, at least 2',
  memory: (v, o) => {
    const mb = bytesToMb(v);
    return mb !== undefined && mb >= 4 ? void (o.memMb = mb) : 'must be a size such as 512m or 1g, at least 4m';
  },
  privileged: (v, o, p) => {
    if (v !== 'true' && v !== 'false') return 'must be true or false';
    if (v === 'true' && !p.allowPrivileged)
      return 'privileged containers are not allowed by this engine (engine.allowPrivileged, ENGINE_ALLOW_PRIVILEGED)';
    o.privileged = v === 'true';
    return undefined;
  },
  user: (v, o, p) =>
    p.allowUser
      ? void (o.user = v)
      : 'choosing the container user is not allowed by this engine (engine.allowUser, ENGINE_ALLOW_USER)',
  net: (v, o, p) => {
    if (!NETWORKS.has(v)) return 'must be bridge, host or none';
    if (v === 'host' && !p.allowHostNetwork)
      return "the host's network namespace is not allowed by this engine (engine.allowHostNetwork, ENGINE_ALLOW_HOST_NETWORK)";
    o.network = v === 'default' ? 'bridge' : (v as ParameterOptions['network']);
    return undefined;
  },
  volume: (v, o) => {
    const parts = v.split(':');
    const mode = (parts[2] ?? 'rw').toLowerCase();
    if (
      parts.length < 2 ||
      parts.length > 3 ||
      !parts[0]!.startsWith('/') ||
      !parts[1]!.startsWith('/') ||
      (mode !== 'ro' && mode !== 'rw')
    ) {
      return 'must be /host/path:/container/path[:ro|:rw]';
    }
    o.volumes.push({ hostPath: parts[0]!, containerPath: parts[1]!, mode: mode === 'ro' ? 'RO' : 'RW' });
    return undefined;
  },
};
const ALIASES: Record<string, string> = {
  e: 'env',
  l: 'label',
  w: 'workdir',
  h: 'hostname',
  c: 'cpu-shares',
  m: 'memory',
  u: 'user',
  v: 'volume',
  network: 'net',
};
const SUPPORTED = Object.keys(PARAMETERS).join(', ');

/** Applies `parameters` under `policy`; each one refused is a problem at its path. */
export function applyParameters(
  parameters: Array<{ key: string; value: string }>,
  policy: PrivilegePolicy,
): { options: ParameterOptions; problems: ProblemEntry[] } {
  const options: ParameterOptions = { env: {}, labels: {}, volumes: [] };
  const problems: ProblemEntry[] = [];
  parameters.forEach(({ key, value }, i) => {
    const bare = String(key).replace(/^-+/, '');
    const name = Object.hasOwn(ALIASES, bare) ? ALIASES[bare]! : bare;
    const apply = Object.hasOwn(PARAMETERS, name) ? PARAMETERS[name] : undefined;
    const problem = apply
      ? apply(String(value), options, policy)
      : `parameter ${JSON.stringify(key)} is not supported by this engine (supported: ${SUPPORTED})`;
    if (problem)
      problems.push({
        path: `/container/docker/parameters(${i})`,
        errors: [apply ? `parameter ${JSON.stringify(key)}: ${problem}` : problem],
      });
  });
  return { options, problems };
}

/** Whether `path` is `dir` or below it (both absolute and normalised). */
export function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** What a draft asks that this engine refuses up front (422): parameters, and volume paths leaving the task's own directory. */
export function appPrivilegeProblems(app: AppDraft, policy: PrivilegePolicy): ProblemEntry[] {
  const problems = applyParameters(app.container?.docker?.parameters ?? [], policy).problems;
  (app.container?.volumes ?? []).forEach((v, i) => {
    const own =
      v.persistent != null
        ? v.containerPath
        : typeof v.hostPath === 'string' && !isAbsolute(v.hostPath)
          ? v.hostPath
          : undefined;
    if (typeof own === 'string' && !within(resolve('/task', own), '/task')) {
      problems.push({
        path: `/container/volumes(${i})/${v.persistent != null ? 'containerPath' : 'hostPath'}`,
        errors: [`${JSON.stringify(own)} leaves the task's own volume directory`],
      });
    }
  });
  return problems;
}

export class MountRefusedError extends Error {}

function real(path: string, what: string): string {
  try {
    return realpathSync(path);
  } catch (err) {
    throw new MountRefusedError(
      `${what} ${path} cannot be mounted: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** The volumes with host paths resolved: a task's own directories (created here) contain theirs, others allowed. */
export function resolveMounts(
  volumes: TaskLaunchSpec['volumes'],
  ownDirs: string[],
  policy: PrivilegePolicy,
): TaskLaunchSpec['volumes'] {
  return volumes.map((v) => {
    const own = ownDirs.find((d) => within(resolve(v.hostPath), d));
    if (own) {
      mkdirSync(resolve(v.hostPath), { recursive: true });
      const resolved = real(v.hostPath, 'volume');
      if (!within(resolved, real(own, 'directory')))
        throw new MountRefusedError(
          `volume ${v.containerPath} leaves the task's own directory (${v.hostPath} is ${resolved})`,
        );
      return { ...v, hostPath: resolved };
    }
    const resolved = real(v.hostPath, 'host path');
    if (policy.allowHostVolumes) return { ...v, hostPath: resolved };
    const allowed = policy.hostVolumePaths.some((dir) => {
      try {
        return within(resolved, realpathSync(dir));
      } catch {
        return false;
      }
    });
    if (!allowed) {
      const shownPath = resolved === v.hostPath ? v.hostPath : `${v.hostPath} (${resolved})`;
      throw new MountRefusedError(
        `host volumes are not allowed by this engine outside engine.hostVolumePaths (ENGINE_HOST_VOLUME_PATHS): ${shownPath}`,
      );
    }
    return { ...v, hostPath: resolved };
  });
}
