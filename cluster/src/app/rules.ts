/** Marathon's semantic rules for an app (AppValidation, PathId, network and port validators). */
import type { AppDraft } from './definition.js';
import type { Problems } from './problems.js';

export const ID_SEGMENT =
  /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$|^(\.|\.\.)$/;
const ID_SEGMENT_TEXT =
  "must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\\\-]*[a-z0-9])\\\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\\\-]*[a-z0-9])|(\\\\.|\\\\.\\\\.)$'";
const RESERVED = ['restart', 'tasks', 'versions', '.', '..'];
const PORT_NAME = /^[a-z0-9-]+$/;
const OPERATORS = new Set(['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS']);
const PROTOCOLS = new Set(['tcp', 'udp', 'udp,tcp']);
const HEALTH_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP']);

/** Problems of an app id, or none. */
export function checkAppId(id: string, problems: Problems, path = '/id'): void {
  const segments = id.split('/').filter(Boolean);
  if (segments.length === 0) {
    problems.add(path, 'Path must contain at least one path element');
    return;
  }
  if (segments.some((s) => !ID_SEGMENT.test(s))) problems.add(path, ID_SEGMENT_TEXT);
  const last = segments[segments.length - 1]!;
  if (RESERVED.includes(last))
    problems.add(path, `must not end with any of the following reserved keywords: ${RESERVED.join(', ')}`);
}

function range(problems: Problems, path: string, value: number, min: number, max?: number): void {
  if (value < min) problems.add(path, `got ${value}, expected ${min} or more`);
  else if (max !== undefined && value > max) problems.add(path, `got ${value}, expected ${max} or less`);
}

export function checkApp(app: AppDraft, enabledFeatures: ReadonlySet<string>, problems: Problems): void {
  checkAppId(app.id, problems);
  const hasCmd = typeof app.cmd === 'string' && app.cmd.length > 0;
  const hasArgs = Array.isArray(app.args) && app.args.length > 0;
  const hasImage = Boolean(app.container?.docker?.image);
  if ((hasCmd && hasArgs) || (!hasCmd && !hasArgs && !app.container?.docker)) {
    problems.add('/', "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
  }
  if (hasArgs && !hasImage && app.container?.type !== 'MESOS')
    problems.add('/args', 'args can only be used with a container image');
  range(problems, '/instances', app.instances, 0);
  range(problems, '/cpus', app.cpus, 0.001);
  range(problems, '/mem', app.mem, 0);
  range(problems, '/disk', app.disk, 0);
  range(problems, '/gpus', app.gpus, 0);
  range(problems, '/backoffSeconds', app.backoffSeconds, 0);
  range(problems, '/backoffFactor', app.backoffFactor, 1);
  range(problems, '/maxLaunchDelaySeconds', app.maxLaunchDelaySeconds, 0);
  if (typeof app.taskKillGracePeriodSeconds === 'number')
    range(problems, '/taskKillGracePeriodSeconds', app.taskKillGracePeriodSeconds, 0);
  for (const key of ['minimumHealthCapacity', 'maximumOverCapacity'] as const) {
    const v = app.upgradeStrategy[key];
    if (v > 1) problems.add(`/upgradeStrategy/${key}`, 'is greater than 1');
    if (v < 0) problems.add(`/upgradeStrategy/${key}`, 'is less than 0');
  }
  if (!['YOUNGEST_FIRST', 'OLDEST_FIRST'].includes(app.killSelection))
    problems.add('/killSelection', 'error.expected.validenumvalue');
  if (typeof app.unreachableStrategy === 'string' && app.unreachableStrategy !== 'disabled')
    problems.add('/unreachableStrategy', 'error.expected.validenumvalue');
  app.constraints.forEach((c, i) => {
    const path = `/constraints(${i})`;
    if (c.length < 2 || c.length > 3) problems.add(path, 'Each constraint must have either 2 or 3 fields');
    else if (!OPERATORS.has(c[1]!))
      problems.add(
        path,
        'Constraint operator must be one of the following: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS',
      );
    else if (['LIKE', 'UNLIKE', 'MAX_PER', 'IS'].includes(c[1]!) && c.length !== 3)
      problems.add(path, `${c[1]} must have a value`);
  });
  checkNetworks(app, problems);
  checkContainer(app, enabledFeatures, problems);
  checkHealthChecks(app, problems);
  checkSecrets(app, enabledFeatures, problems);
}

function checkNetworks(app: AppDraft, problems: Problems): void {
  const modes = app.networks.map((n) => n.mode);
  app.networks.forEach((n, i) => {
    if (!['host', 'container/bridge', 'container'].includes(n.mode ?? ''))
      problems.add(`/networks(${i})/mode`, 'error.expected.validenumvalue');
    if (n.mode !== 'container' && n.name !== undefined) problems.add(`/networks(${i})/name`, 'must be empty');
  });
  if (modes.length > 1 && modes.some((m) => m !== 'container'))
    problems.add('/networks', 'host and container/bridge networks cannot be combined with other networks');
  if (modes.filter((m) => m === 'container').length > 1 && app.container?.type === 'DOCKER')
    problems.add('/networks', 'may only specify a single container network when using the Docker containerizer');
  if (modes[0] === 'host') {
    const defs = app.portDefinitions ?? [];
    const numbers = defs.map((d) => d.port).filter((p) => p !== 0);
    if (new Set(numbers).size !== numbers.length) problems.add('/portDefinitions', 'Ports must be unique.');
    const names = defs.map((d) => d.name).filter(Boolean);
    if (new Set(names).size !== names.length) problems.add('/portDefinitions', 'Port names must be unique.');
    defs.forEach((d, i) => {
      range(problems, `/portDefinitions(${i})/port`, d.port, 0, 65535);
      if (!PROTOCOLS.has(d.protocol)) problems.add(`/portDefinitions(${i})/protocol`, 'error.expected.validenumvalue');
      if (d.name !== undefined && !PORT_NAME.test(d.name))
        problems.add(`/portDefinitions(${i})/name`, "must fully match regular expression '^[a-z0-9-]+$'");
    });
  } else {
    const mappings = app.container?.portMappings ?? [];
    const names = mappings.map((m) => m.name).filter(Boolean);
    if (new Set(names).size !== names.length) problems.add('/container/portMappings', 'Port names must be unique.');
    mappings.forEach((m, i) => {
      const path = `/container/portMappings(${i})`;
      range(problems, `${path}/containerPort`, m.containerPort, 0, 65535);
      if (m.hostPort !== undefined) range(problems, `${path}/hostPort`, m.hostPort, 0, 65535);
      range(problems, `${path}/servicePort`, m.servicePort, 0, 65535);
      if (!PROTOCOLS.has(m.protocol)) problems.add(`${path}/protocol`, 'error.expected.validenumvalue');
      if (m.name !== undefined && !PORT_NAME.test(m.name))
        problems.add(`${path}/name`, "must fully match regular expression '^[a-z0-9-]+$'");
      if (modes[0] === 'container/bridge' && m.networkNames?.length)
        problems.add(`${path}/networkNames`, 'must be empty');
    });
  }
}

function checkContainer(app: AppDraft, features: ReadonlySet<string>, problems: Problems): void {
  const c = app.container;
  if (!c) return;
  if (!['DOCKER', 'MESOS'].includes(c.type)) problems.add('/container/type', 'error.expected.validenumvalue');
  if (c.type === 'DOCKER' && !c.docker) problems.add('/container/docker', 'not defined');
  if (c.docker && !c.docker.image) problems.add('/container/docker/image', 'must not be empty');
  if (c.type === 'MESOS' && c.docker?.privileged)
    problems.add(
      '/container/docker/privileged',
      'Privileged containers are only supported with the Docker containerizer',
    );
  c.volumes.forEach((v, i) => {
    const path = `/container/volumes(${i})`;
    if (!v.containerPath) problems.add(`${path}/containerPath`, 'must not be empty');
    if (!['RO', 'RW'].includes(v.mode)) problems.add(`${path}/mode`, 'error.expected.validenumvalue');
    if (v.external != null && !features.has('external_volumes'))
      problems.add(path, 'Feature external_volumes is not enabled. Enable with --enable_features external_volumes)');
    if (v.hostPath === undefined && v.persistent == null && v.external == null && v.secret == null)
      problems.add(path, 'Volume must define hostPath, persistent, external or secret');
  });
}

function checkHealthChecks(app: AppDraft, problems: Problems): void {
  const portCount =
    app.networks[0]?.mode === 'host' ? (app.portDefinitions ?? []).length : (app.container?.portMappings ?? []).length;
  app.healthChecks.forEach((h, i) => {
    const path = `/healthChecks(${i})`;
    if (!HEALTH_PROTOCOLS.has(h.protocol)) {
      problems.add(`${path}/protocol`, 'error.expected.validenumvalue');
      return;
    }
    if (h.protocol === 'COMMAND' && !h.command?.value)
      problems.add(`${path}/command`, 'must be defined for COMMAND health checks');
    if (h.protocol !== 'COMMAND' && h.port === undefined && (h.portIndex ?? 0) >= portCount) {
      problems.add(
        path,
        'Health check port indices must address an element of the ports array or container port mappings.',
      );
    }
    range(problems, `${path}/gracePeriodSeconds`, h.gracePeriodSeconds, 0);
    range(problems, `${path}/intervalSeconds`, h.intervalSeconds, 0);
    range(problems, `${path}/timeoutSeconds`, h.timeoutSeconds, 0);
    range(problems, `${path}/maxConsecutiveFailures`, h.maxConsecutiveFailures, 0);
  });
}

function checkSecrets(app: AppDraft, features: ReadonlySet<string>, problems: Problems): void {
  const secrets = (app.secrets ?? {}) as Record<string, unknown>;
  if (Object.keys(secrets).length > 0 && !features.has('secrets'))
    problems.add('/secrets', 'Feature secrets is not enabled. Enable with --enable_features secrets)');
  for (const [name, value] of Object.entries(app.env)) {
    if (typeof value === 'object' && !(value.secret in secrets))
      problems.add(`/env/${name}/secret`, 'references an undefined secret');
  }
}
