/**
 * Validation of a whole deploy document into its resolved form. Every problem is collected (not
 * just the first), each with the path of the field at fault and, for YAML, its line and column.
 * Beyond the schema: names usable in Marathon ids, cmd/args exclusivity, ports named uniquely,
 * health checks pointing at existing ports, constraint operators, environment that would override
 * the discovery variables Theseus injects, host mounts outside the allowed paths, and the same
 * app appearing twice.
 */
import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import { assertName, canonicalLabels, nameProblem } from '../naming.js';
import { reservedEnvNames } from '../discovery-env.js';
import { parseConstraint, splitConstraintText } from './constraints.js';
import {
  RemoveInput,
  SERVICE_DEFAULTS,
  ServiceInput,
  type ConstraintSpec,
  type DeployDocument,
  type HealthCheckSpec,
  type PortSpec,
  type RemoveSpec,
  type ServiceInputType,
  type ServiceSpec,
  type UriSpec,
  type VolumeSpec,
} from './schema.js';
import {
  escapePointer,
  readDocumentSource,
  type DocumentFormat,
  type ReadSourceOptions,
  type SpecProblem,
} from './source.js';

export interface ValidateOptions {
  /**
   * Host directories that services may mount (a volume's host path must be one of them or below
   * one). Empty: no host mounts at all.
   * @defaultValue []
   */
  hostVolumePaths?: readonly string[];
  /**
   * Accept `file://` URIs (the agent copies a file of its own host into the sandbox, so anyone who
   * may deploy could read the agent's files).
   * @defaultValue false
   */
  fileUris?: boolean;
}

const TOP_LEVEL = ['deploy', 'remove'];
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PORT_NAME = /^[a-z][a-z0-9-]*$/;

/** Reads and validates a deploy document's text. Throws SpecSyntaxError, SpecTooLargeError or ValidationError. */
export function readDeployDocument(
  text: string,
  format: DocumentFormat,
  options: ValidateOptions & ReadSourceOptions = {},
): DeployDocument {
  const source = readDocumentSource(text, format, options);
  return validateDeployDocument(source.value, options, source.locate);
}

export function validateDeployDocument(
  value: unknown,
  options: ValidateOptions = {},
  locate: (path: string) => { line: number; column: number } | undefined = () => undefined,
): DeployDocument {
  const problems: SpecProblem[] = [];
  const result: DeployDocument = { deploy: [], remove: [] };
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('the deploy document must be a mapping with `deploy:` and/or `remove:`', [
      { path: '/', message: 'expected a mapping' },
    ]);
  }
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL.includes(key))
      problems.push({
        path: `/${escapePointer(key)}`,
        message: `unknown top-level key (expected ${TOP_LEVEL.join(' or ')})`,
      });
  }
  const seen = new Map<string, string>(); // app key -> path where first seen
  const claim = (path: string, namespace: string, service: string, labels: string[]) => {
    const key = `${namespace}/${service}/${labels.join(',')}`;
    const first = seen.get(key);
    if (first) problems.push({ path, message: `the same service, namespace and labels already appear at ${first}` });
    else seen.set(key, path);
  };

  for (const [section, entries] of [
    ['deploy', doc.deploy],
    ['remove', doc.remove],
  ] as const) {
    if (entries === undefined || entries === null) continue;
    if (typeof entries !== 'object' || Array.isArray(entries)) {
      problems.push({ path: `/${section}`, message: 'expected a mapping of service name to its entry' });
      continue;
    }
    for (const [service, entry] of Object.entries(entries as Record<string, unknown>)) {
      const servicePath = `/${section}/${escapePointer(service)}`;
      const serviceProblem = serviceNameProblem(service);
      if (serviceProblem) problems.push({ path: servicePath, message: `service name ${serviceProblem}` });
      const list = Array.isArray(entry)
        ? entry.map((e, i) => [e, `${servicePath}/${i}`] as const)
        : [[entry, servicePath] as const];
      if (list.length === 0)
        problems.push({ path: servicePath, message: 'expected an entry or a non-empty list of entries' });
      for (const [item, path] of list) {
        if (section === 'deploy') {
          const spec = resolveService(service, item, path, options, problems);
          if (spec && !serviceProblem) {
            claim(path, spec.namespace, spec.service, spec.labels);
            result.deploy.push(spec);
          }
        } else {
          const spec = resolveRemove(service, item, path, problems);
          if (spec && !serviceProblem) {
            claim(path, spec.namespace, spec.service, spec.labels);
            result.remove.push(spec);
          }
        }
      }
    }
  }
  if (problems.length === 0 && result.deploy.length === 0 && result.remove.length === 0) {
    problems.push({ path: '/', message: 'nothing to deploy or remove' });
  }
  if (problems.length > 0) {
    const located = problems.map((p) => ({ ...p, ...locateNearest(p.path, locate) }));
    const noun = located.length === 1 ? 'problem' : 'problems';
    throw new ValidationError(`the deploy document has ${located.length} ${noun}`, located);
  }
  return result;
}

function serviceNameProblem(service: string): string | undefined {
  try {
    assertName('service', service);
    return undefined;
  } catch (err) {
    return nameProblem(service) ?? 'is reserved by Marathon';
  }
}

/** The position of a path, or of its nearest ancestor that has one. */
function locateNearest(path: string, locate: (path: string) => { line: number; column: number } | undefined) {
  for (let p = path; p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) {
    const where = locate(p);
    if (where) return where;
  }
  return {};
}

function resolveLabelsAndNamespace(
  input: { labels?: string[]; namespace?: string },
  path: string,
  problems: SpecProblem[],
) {
  const namespace = input.namespace ?? SERVICE_DEFAULTS.namespace;
  let ok = true;
  const nsProblem = nameProblem(namespace);
  if (nsProblem) {
    problems.push({ path: `${path}/namespace`, message: `namespace ${nsProblem}` });
    ok = false;
  }
  const labels = input.labels ?? [];
  labels.forEach((label, i) => {
    const problem = nameProblem(label);
    if (problem) {
      problems.push({ path: `${path}/labels/${i}`, message: `label ${problem}` });
      ok = false;
    }
  });
  return ok ? { namespace, labels: canonicalLabels(labels) } : undefined;
}

function resolveRemove(service: string, item: unknown, path: string, problems: SpecProblem[]): RemoveSpec | undefined {
  const parsed = RemoveInput.safeParse(item ?? {});
  if (!parsed.success) {
    problems.push(...zodProblemsAt(parsed.error, path));
    return undefined;
  }
  const names = resolveLabelsAndNamespace(parsed.data, path, problems);
  return names && { service, ...names };
}

function resolveService(
  service: string,
  item: unknown,
  path: string,
  options: ValidateOptions,
  problems: SpecProblem[],
): ServiceSpec | undefined {
  const parsed = ServiceInput.safeParse(item);
  if (!parsed.success) {
    problems.push(...zodProblemsAt(parsed.error, path));
    return undefined;
  }
  const input = parsed.data;
  const before = problems.length;
  const names = resolveLabelsAndNamespace(input, path, problems);
  if (/\s/.test(input.image)) problems.push({ path: `${path}/image`, message: 'an image reference has no spaces' });
  if (input.cmd !== undefined && input.args !== undefined) {
    problems.push({
      path: `${path}/args`,
      message: 'give either cmd (run by /bin/sh -c) or args (passed to the image entrypoint), not both',
    });
  }
  const ports = resolvePorts(input, path, problems);
  const environment = resolveEnvironment(input, ports, path, problems);
  const volumes = resolveVolumes(input, path, options.hostVolumePaths ?? [], problems);
  const constraints = resolveConstraints(input, path, problems);
  const healthChecks = resolveHealthChecks(input, ports, path, problems);
  const uris = resolveUris(input, path, options.fileUris === true, problems);
  if (problems.length > before || !names) return undefined;
  const spec: ServiceSpec = {
    service,
    namespace: names.namespace,
    labels: names.labels,
    image: input.image,
    ports,
    environment,
    instances: input.instances ?? SERVICE_DEFAULTS.instances,
    cpus: input.cpus ?? SERVICE_DEFAULTS.cpus,
    mem: input.mem ?? SERVICE_DEFAULTS.mem,
    disk: input.disk ?? SERVICE_DEFAULTS.disk,
    volumes,
    constraints,
    healthChecks,
    upgrade: {
      minimumHealthCapacity: input.upgrade?.minimumHealthCapacity ?? SERVICE_DEFAULTS.upgrade.minimumHealthCapacity,
      maximumOverCapacity: input.upgrade?.maximumOverCapacity ?? SERVICE_DEFAULTS.upgrade.maximumOverCapacity,
    },
    uris,
    onFailure: input.onFailure ?? SERVICE_DEFAULTS.onFailure,
    deadlineSeconds: SERVICE_DEFAULTS.deadlineSeconds,
  };
  if (input.deadline !== undefined) {
    const deadline = durationSeconds(input.deadline);
    if (deadline < 1) problems.push({ path: `${path}/deadline`, message: 'a deadline is at least 1 second' });
    else spec.deadlineSeconds = deadline;
  }
  if (input.killGracePeriod !== undefined) spec.killGracePeriodSeconds = durationSeconds(input.killGracePeriod);
  if (problems.length > before) return undefined;
  if (input.cmd !== undefined) spec.cmd = input.cmd;
  if (input.args !== undefined) spec.args = input.args;
  return spec;
}

function resolvePorts(input: ServiceInputType, path: string, problems: SpecProblem[]): PortSpec[] {
  const ports: PortSpec[] = [];
  const hostPorts = new Map<number, string>();
  const containerPorts = new Map<string, string>();
  for (const [name, value] of Object.entries(input.ports ?? {})) {
    const at = `${path}/ports/${escapePointer(name)}`;
    if (!PORT_NAME.test(name) || name.length > 63 || name.endsWith('-')) {
      problems.push({
        path: at,
        message:
          'port names start with a lower-case letter and contain only lower-case letters, digits and "-" (at most 63)',
      });
      continue;
    }
    const port: PortSpec =
      typeof value === 'number'
        ? { name, containerPort: value, protocol: 'tcp', hostPort: 0 }
        : { name, containerPort: value.port, protocol: value.protocol ?? 'tcp', hostPort: value.hostPort ?? 0 };
    if (port.hostPort !== 0) {
      const other = hostPorts.get(port.hostPort);
      if (other)
        problems.push({
          path: `${at}/hostPort`,
          message: `host port ${port.hostPort} is already used by port ${other}`,
        });
      hostPorts.set(port.hostPort, name);
    }
    const key = `${port.containerPort}/${port.protocol}`;
    const other = containerPorts.get(key);
    if (other) problems.push({ path: at, message: `container port ${key} is already mapped by port ${other}` });
    containerPorts.set(key, name);
    ports.push(port);
  }
  return ports;
}

function resolveEnvironment(
  input: ServiceInputType,
  ports: PortSpec[],
  path: string,
  problems: SpecProblem[],
): Record<string, string> {
  const reserved = new Set(reservedEnvNames(ports.map((p) => p.name)));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.environment ?? {})) {
    const at = `${path}/environment/${escapePointer(key)}`;
    if (!ENV_KEY.test(key))
      problems.push({ path: at, message: 'environment names are letters, digits and "_", not starting with a digit' });
    else if (reserved.has(key) || key.startsWith('CONTAINER_PORT_')) {
      problems.push({ path: at, message: `${key} is set by Theseus for service discovery and cannot be overridden` });
    } else env[key] = String(value);
  }
  return env;
}

function resolveVolumes(
  input: ServiceInputType,
  path: string,
  allowed: readonly string[],
  problems: SpecProblem[],
): VolumeSpec[] {
  const volumes: VolumeSpec[] = [];
  (input.volumes ?? []).forEach((value, i) => {
    const at = `${path}/volumes/${i}`;
    let volume: VolumeSpec;
    if (typeof value === 'string') {
      const parts = value.split(':');
      const mode = parts[2]?.toUpperCase();
      if (parts.length < 2 || parts.length > 3 || (mode !== undefined && mode !== 'RO' && mode !== 'RW')) {
        problems.push({ path: at, message: 'expected "host-path:container-path" with an optional ":ro" or ":rw"' });
        return;
      }
      volume = { hostPath: parts[0]!, containerPath: parts[1]!, mode: (mode ?? 'RW') as 'RO' | 'RW' };
    } else {
      volume = {
        hostPath: value.hostPath,
        containerPath: value.containerPath,
        mode: (value.mode?.toUpperCase() ?? 'RW') as 'RO' | 'RW',
      };
    }
    for (const [field, p] of [
      ['hostPath', volume.hostPath],
      ['containerPath', volume.containerPath],
    ] as const) {
      if (!p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '.')) {
        problems.push({ path: at, message: `${field} must be an absolute path without "." or ".." segments` });
        return;
      }
    }
    const host = volume.hostPath.replace(/\/+$/, '') || '/';
    const permitted = allowed.some((a) => {
      const base = a.replace(/\/+$/, '');
      return host === base || host.startsWith(base + '/') || base === '';
    });
    if (!permitted) {
      problems.push({
        path: at,
        message: allowed.length
          ? `host path ${volume.hostPath} is outside the allowed host volume paths (${allowed.join(', ')})`
          : 'host mounts are not allowed on this deployer (set THESEUS_HOST_VOLUME_PATHS to permit some directories)',
      });
      return;
    }
    volumes.push(volume);
  });
  return volumes;
}

function resolveConstraints(input: ServiceInputType, path: string, problems: SpecProblem[]): ConstraintSpec[] {
  const raw = input.constraints;
  if (raw === undefined) return [];
  const pairs: Array<[string, string, string]> = []; // field, text, path
  if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      const at = `${path}/constraints/${i}`;
      if (typeof item === 'string') {
        const split = splitConstraintText(item);
        if (!split) problems.push({ path: at, message: 'expected "field OPERATOR [value]", e.g. "hostname UNIQUE"' });
        else pairs.push([split[0], split[1], at]);
      } else {
        const entries = Object.entries(item);
        if (entries.length !== 1)
          problems.push({ path: at, message: 'each list item holds one constraint, e.g. {hostname: UNIQUE}' });
        for (const [field, text] of entries) pairs.push([field, text, `${at}/${escapePointer(field)}`]);
      }
    });
  } else {
    for (const [field, text] of Object.entries(raw))
      pairs.push([field, text, `${path}/constraints/${escapePointer(field)}`]);
  }
  const constraints: ConstraintSpec[] = [];
  for (const [field, text, at] of pairs) {
    const parsed = parseConstraint(field, text);
    if (typeof parsed === 'string') problems.push({ path: at, message: parsed });
    else constraints.push(parsed);
  }
  return constraints;
}

function resolveHealthChecks(
  input: ServiceInputType,
  ports: PortSpec[],
  path: string,
  problems: SpecProblem[],
): HealthCheckSpec[] {
  const checks: HealthCheckSpec[] = [];
  (input.healthChecks ?? []).forEach((hc, i) => {
    const at = `${path}/healthChecks/${i}`;
    const protocol =
      hc.protocol ?? (hc.command !== undefined ? 'COMMAND' : hc.path !== undefined ? 'MESOS_HTTP' : 'MESOS_TCP');
    const base = {
      gracePeriodSeconds: hc.gracePeriodSeconds ?? SERVICE_DEFAULTS.healthCheck.gracePeriodSeconds,
      intervalSeconds: hc.intervalSeconds ?? SERVICE_DEFAULTS.healthCheck.intervalSeconds,
      timeoutSeconds: hc.timeoutSeconds ?? SERVICE_DEFAULTS.healthCheck.timeoutSeconds,
      maxConsecutiveFailures: hc.maxConsecutiveFailures ?? SERVICE_DEFAULTS.healthCheck.maxConsecutiveFailures,
    };
    if (protocol === 'COMMAND') {
      if (hc.command === undefined)
        problems.push({ path: `${at}/command`, message: 'a COMMAND health check needs a command' });
      if (hc.port !== undefined || hc.path !== undefined)
        problems.push({ path: at, message: 'a COMMAND health check has no port or path' });
      if (hc.command !== undefined) checks.push({ protocol, command: hc.command, ...base });
      return;
    }
    if (hc.command !== undefined)
      problems.push({ path: `${at}/command`, message: `a ${protocol} health check has no command` });
    const isHttp = protocol.includes('HTTP');
    if (!isHttp && hc.path !== undefined)
      problems.push({ path: `${at}/path`, message: `a ${protocol} health check has no path` });
    const port = hc.port ?? ports[0]?.name;
    if (port === undefined) {
      problems.push({ path: at, message: 'a health check needs a port, and this service has none' });
      return;
    }
    if (!ports.some((p) => p.name === port)) {
      problems.push({
        path: `${at}/port`,
        message: `no port named ${JSON.stringify(port)} (ports: ${ports.map((p) => p.name).join(', ') || 'none'})`,
      });
      return;
    }
    checks.push({ protocol, port, ...(isHttp ? { path: hc.path ?? '/' } : {}), ...base });
  });
  return checks;
}

function resolveUris(input: ServiceInputType, path: string, fileUris: boolean, problems: SpecProblem[]): UriSpec[] {
  const uris: UriSpec[] = [];
  (input.uris ?? []).forEach((value, i) => {
    const entry = typeof value === 'string' ? { uri: value } : value;
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(entry.uri)) {
      problems.push({ path: `${path}/uris/${i}`, message: 'expected a URI like https://host/file.tgz' });
      return;
    }
    if (!fileUris && /^file:/i.test(entry.uri)) {
      problems.push({
        path: `${path}/uris/${i}`,
        message:
          "file:// URIs are not accepted (they read files of the agent's host); set deployer.fileUris (THESEUS_FILE_URIS=true) to allow them",
      });
      return;
    }
    const uri: UriSpec = {
      uri: entry.uri,
      extract: entry.extract ?? true,
      executable: entry.executable ?? false,
      cache: entry.cache ?? false,
    };
    if (entry.destPath !== undefined) uri.destPath = entry.destPath;
    uris.push(uri);
  });
  return uris;
}

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1 };

/** Seconds of a duration already checked by the schema (`90`, `90s`, `10m`, `1h30m`). */
export function durationSeconds(value: number | string): number {
  if (typeof value === 'number') return value;
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)\s*([hms])/gi))
    total += Number(n) * UNIT_SECONDS[unit!.toLowerCase()]!;
  return total;
}

/** zod issues as problems under `base`; unions report the branch that matched the value's type. */
export function zodProblemsAt(error: z.ZodError, base: string): SpecProblem[] {
  return issuesToProblems(error.issues as unknown as Issue[], base);
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  errors?: Issue[][];
  expected?: string;
}

function issuesToProblems(issues: Issue[], base: string): SpecProblem[] {
  const out: SpecProblem[] = [];
  for (const issue of issues) {
    const path = base + issue.path.map((p) => `/${escapePointer(String(p))}`).join('');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys ?? []) out.push({ path: `${path}/${escapePointer(key)}`, message: 'unknown field' });
    } else if (issue.code === 'invalid_union' && issue.errors?.length) {
      const matching = issue.errors.filter(
        (branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0),
      );
      if (matching.length === 1) out.push(...issuesToProblems(matching[0]!, path));
      else {
        const expected = issue.errors.map((b) => b.find((i) => i.code === 'invalid_type')?.expected).filter(Boolean);
        out.push({
          path,
          message: expected.length ? `expected ${[...new Set(expected)].join(' or ')}` : issue.message,
        });
      }
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}
