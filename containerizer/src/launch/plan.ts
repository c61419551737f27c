/**
 * Turns a Mesos `Launch` into what to run: the container spec, the image pull policy, and (for
 * command tasks in `host` mode) the executor to start on the host. Pure: every refusal is a
 * LaunchRefusedError that names the field at fault.
 */
import type { ContainerizerConfig } from '../config.js';
import type { ContainerSpec, NetworkMode, PortBinding, RegistryAuth, VolumeMount } from '../docker/types.js';
import { LaunchRefusedError } from '../protocol/errors.js';
import type { CommandInfo, ContainerInfo, MesosGeneration, MesosLaunch, Resource } from '../protocol/types.js';
import type { LaunchMode } from '../state/store.js';
import { parseDockerOptions, parseDockerParameters, type DockerOptions } from './docker-options.js';
import { checkPrivileges, type RequestForm } from './policy.js';

/** Labels on every container this program starts; `containers` and `recover` find them by these. */
export const LABELS = {
  instance: 'theseus.containerizer',
  containerId: 'theseus.mesos.container-id',
  executorId: 'theseus.mesos.executor-id',
  taskId: 'theseus.mesos.task-id',
  frameworkId: 'theseus.mesos.framework-id',
  mode: 'theseus.mesos.mode',
  generation: 'theseus.mesos.generation',
  sandbox: 'theseus.mesos.sandbox',
} as const;

/** Executor variables passed from the slave's launch environment into the container. */
const EXECUTOR_ENV = [
  'MESOS_RECOVERY_TIMEOUT',
  'MESOS_AGENT_ENDPOINT',
  'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD',
  'MESOS_HTTP_COMMAND_EXECUTOR',
  'MESOS_NATIVE_LIBRARY',
  'MESOS_NATIVE_JAVA_LIBRARY',
];

export interface LaunchPlan {
  spec: ContainerSpec;
  pull: 'missing' | 'always' | 'never';
  auth: RegistryAuth | undefined;
  mode: LaunchMode;
  generation: MesosGeneration;
  executorId: string;
  taskId: string | undefined;
  frameworkId: string | undefined;
  /** Allocated host ports; paired with the image's exposed ports when the plan says so. */
  pairWithExposedPorts: boolean;
  allocatedPorts: number[];
  /** The executor to start on the host for a command task (`host` mode). */
  hostExecutor: string | undefined;
  /** To fetch into the sandbox before the container starts. */
  uris: NonNullable<CommandInfo['uris']>;
  /** The Launch's user, to run the container as (its uid:gid on this host) when `taskUser` is `apply`. */
  runAs: string | undefined;
}

/** `docker:///image`, `docker://registry/repo:tag` (0.19 `CommandInfo.ContainerInfo.image`). */
export function imageFromUrl(url: string): string {
  const match = /^docker:\/\/\/?(.*)$/.exec(url.trim());
  if (!match)
    throw new LaunchRefusedError(
      `container image ${JSON.stringify(url)} is not a docker:// URL`,
      'use docker:///image or docker://registry/repo:tag',
    );
  return match[1] ?? '';
}

/** The registry host of an image reference (`docker.io` for Docker Hub). */
export function registryOf(image: string): string {
  const first = image.split('/')[0] ?? '';
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
    ? first
    : 'docker.io';
}

function scalar(resources: Resource[], name: string): number | undefined {
  const found = resources.filter((r) => r.name === name && r.type === 'SCALAR' && r.scalar);
  return found.length ? found.reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0) : undefined;
}

export function allocatedPorts(resources: Resource[]): number[] {
  const ports: number[] = [];
  for (const r of resources) {
    if (r.name !== 'ports' || r.type !== 'RANGES') continue;
    for (const range of r.ranges?.range ?? [])
      for (let p = range.begin; p <= range.end && p <= 65535; p++) ports.push(p);
  }
  return ports;
}

/** The resources that size the container, as cpus/memMb/ports. */
export function limitsOf(resources: Resource[]): { cpus?: number; memMb?: number } {
  const cpus = scalar(resources, 'cpus');
  const memMb = scalar(resources, 'mem');
  return { ...(cpus !== undefined ? { cpus } : {}), ...(memMb !== undefined ? { memMb } : {}) };
}

function commandLine(command: CommandInfo | undefined): Pick<ContainerSpec, 'shell' | 'args'> {
  if (!command) return {};
  if (command.shell !== false) return command.value ? { shell: command.value } : {};
  const args = [...(command.value ? [command.value] : []), ...(command.arguments ?? [])];
  return args.length ? { args } : {};
}

function dockerName(containerId: string): string {
  return `theseus-${containerId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

function volumesOf(info: ContainerInfo | undefined): VolumeMount[] {
  return (info?.volumes ?? []).map((v, i) => {
    if (!v.host_path)
      throw new LaunchRefusedError(
        `ContainerInfo.volumes[${i}] (${v.container_path}) has no host_path: only host directories can be mounted`,
      );
    return { hostPath: v.host_path, containerPath: v.container_path, mode: v.mode === 'RO' ? 'RO' : 'RW' };
  });
}

function networkOf(info: ContainerInfo | undefined, config: ContainerizerConfig): NetworkMode {
  if (!info?.docker) return config.defaultNetwork;
  const network = info.docker.network ?? 'HOST';
  return network === 'BRIDGE' ? 'bridge' : network === 'NONE' ? 'none' : 'host';
}

export function detectGeneration(config: ContainerizerConfig, env: NodeJS.ProcessEnv): MesosGeneration {
  if (config.mesosVersion !== 'auto') return config.mesosVersion;
  // only 0.26+ slaves (1.0 line) set these on launch
  return env.MESOS_AGENT_ENDPOINT || env.MESOS_HTTP_COMMAND_EXECUTOR ? '1.0' : '0.22';
}

export function planLaunch(
  launch: MesosLaunch,
  config: ContainerizerConfig,
  env: NodeJS.ProcessEnv = process.env,
): LaunchPlan {
  const containerId = launch.container_id.value;
  const executor = launch.executor_info;
  const task = launch.task_info;
  if (!executor && !task) throw new LaunchRefusedError('Launch has neither executor_info nor task_info');
  const commandTask = task !== undefined && task.command !== undefined && task.executor === undefined;
  const mode: LaunchMode = commandTask
    ? config.commandExecutor === 'host'
      ? 'command-host'
      : 'command-container'
    : 'executor';
  const executorId = executor?.executor_id.value ?? task?.task_id.value ?? containerId;

  // What runs in the container, and which resources size it
  const runsTask = mode === 'command-host';
  const command = runsTask ? task?.command : executor?.command;
  const resources = (runsTask ? task?.resources : executor?.resources) ?? task?.resources ?? [];
  const containerInfo = (commandTask ? task?.container : undefined) ?? executor?.container ?? task?.container;
  const legacy = task?.command?.container ?? executor?.command?.container;

  if (containerInfo && containerInfo.type !== 'DOCKER') {
    throw new LaunchRefusedError(
      `ContainerInfo type ${containerInfo.type} is not handled by this containerizer`,
      'use type DOCKER with a DockerInfo',
    );
  }
  if (containerInfo && !containerInfo.docker)
    throw new LaunchRefusedError('ContainerInfo of type DOCKER has no DockerInfo (docker.image)');
  let image = containerInfo?.docker?.image ?? (legacy ? imageFromUrl(legacy.image) : '');
  // the slave passes --default_container_image as given (docker:///busybox), as for 0.19 task images
  if (!image && config.image.default)
    image = config.image.default.startsWith('docker:') ? imageFromUrl(config.image.default) : config.image.default;
  if (!image) {
    throw new LaunchRefusedError(
      'the launch names no image and no default image is configured',
      'set image.default in containerizer.yaml or the slave flag --default_container_image',
    );
  }

  const network = networkOf(containerInfo, config);
  const docker = containerInfo?.docker;
  const askedVolumes = checkPrivileges(
    { privileged: docker?.privileged ?? false, ...(docker ? { network } : {}), volumes: volumesOf(containerInfo) },
    'DockerInfo',
    config,
  );
  const options: Array<[DockerOptions, RequestForm]> = [];
  if (legacy?.options?.length) options.push([parseDockerOptions(legacy.options), 'docker option']);
  if (docker?.parameters?.length) options.push([parseDockerParameters(docker.parameters), 'DockerInfo.parameters']);

  // Ports
  const allocated = allocatedPorts(resources);
  const ports: PortBinding[] = [];
  const mappings = docker?.port_mappings ?? [];
  if (mappings.length && network !== 'bridge')
    throw new LaunchRefusedError(`DockerInfo.port_mappings need BRIDGE networking, not ${network.toUpperCase()}`);
  for (const [i, m] of mappings.entries()) {
    const protocol = (m.protocol ?? 'tcp').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp')
      throw new LaunchRefusedError(`DockerInfo.port_mappings[${i}].protocol ${m.protocol} must be tcp or udp`);
    if (!allocated.includes(m.host_port))
      throw new LaunchRefusedError(
        `DockerInfo.port_mappings[${i}].host_port ${m.host_port} is not among the task's allocated ports`,
      );
    ports.push({ containerPort: m.container_port, hostPort: m.host_port, protocol });
  }
  const pairWithExposedPorts = network === 'bridge' && mappings.length === 0 && allocated.length > 0;

  // Environment: executor variables, ports, then the task's own (which win)
  const sandbox = config.sandboxPath;
  const portEnv: Record<string, string> = {};
  if (allocated.length) {
    portEnv.PORT = String(allocated[0]);
    allocated.forEach((p, i) => (portEnv[`PORT${i}`] = String(p)));
    portEnv.PORTS = allocated.join(',');
  }
  const passed = Object.fromEntries(EXECUTOR_ENV.filter((k) => env[k] !== undefined).map((k) => [k, env[k] as string]));
  const taskEnv = Object.fromEntries((command?.environment?.variables ?? []).map((v) => [v.name, v.value]));
  const containerEnv: Record<string, string> = {
    ...passed,
    ...(executor?.framework_id ? { MESOS_FRAMEWORK_ID: executor.framework_id.value } : {}),
    MESOS_EXECUTOR_ID: executorId,
    ...(launch.slave_id ? { MESOS_SLAVE_ID: launch.slave_id.value } : {}),
    ...(launch.slave_pid ? { MESOS_SLAVE_PID: launch.slave_pid } : {}),
    MESOS_CHECKPOINT: launch.checkpoint ? '1' : '0',
    MESOS_DIRECTORY: sandbox,
    MESOS_SANDBOX: sandbox,
    ...(task ? { MESOS_TASK_ID: task.task_id.value } : {}),
    ...portEnv,
    ...taskEnv,
  };

  // Mounts: the sandbox, then what the task asks for (checked against allow.hostPaths)
  const volumes: VolumeMount[] = [];
  if (launch.directory) volumes.push({ hostPath: launch.directory, containerPath: sandbox, mode: 'RW' });
  let hostExecutor: string | undefined;
  if (mode === 'command-container') {
    const libexec = env.MESOS_LIBEXEC_DIRECTORY;
    if (!libexec)
      throw new LaunchRefusedError(
        'command tasks run their executor in the container, but MESOS_LIBEXEC_DIRECTORY is not set',
      );
    volumes.push({ hostPath: libexec, containerPath: libexec, mode: 'RO' });
    containerEnv.MESOS_LIBEXEC_DIRECTORY = libexec;
  } else if (mode === 'command-host') {
    const libexec = env.MESOS_LIBEXEC_DIRECTORY;
    const generated = executor?.command.value;
    hostExecutor = libexec
      ? `${libexec.replace(/\/+$/, '')}/mesos-executor`
      : generated?.startsWith('/') && !/\s/.test(generated)
        ? generated
        : undefined;
    if (!hostExecutor) {
      throw new LaunchRefusedError(
        "command task: cannot find the slave's mesos-executor to register for it",
        'the slave sets MESOS_LIBEXEC_DIRECTORY (--launcher_dir)',
      );
    }
  }
  volumes.push(...askedVolumes);

  const labels: Record<string, string> = {
    [LABELS.instance]: config.instance,
    [LABELS.containerId]: containerId,
    [LABELS.executorId]: executorId,
    ...(task ? { [LABELS.taskId]: task.task_id.value } : {}),
    ...(executor?.framework_id ? { [LABELS.frameworkId]: executor.framework_id.value } : {}),
    [LABELS.mode]: mode,
    [LABELS.generation]: detectGeneration(config, env),
    ...(launch.directory ? { [LABELS.sandbox]: launch.directory } : {}),
  };

  const spec: ContainerSpec = {
    name: dockerName(containerId),
    image,
    ...commandLine(command),
    env: containerEnv,
    labels,
    ...limitsOf(resources),
    network,
    ports,
    volumes,
    privileged: docker?.privileged ?? false,
    workingDir: launch.directory ? sandbox : undefined,
    init: true,
    stopGraceSeconds: config.stopGraceSeconds,
    logLimits: { maxFileBytes: config.taskLogs.dockerFileBytes, maxFiles: 2 },
    ...(containerInfo?.hostname ? { hostname: containerInfo.hostname } : {}),
  };
  for (const [o, form] of options) applyOptions(spec, o, checkPrivileges(o, form, config));
  const killGrace = task?.kill_policy?.grace_period?.nanoseconds;
  if (killGrace !== undefined) spec.stopGraceSeconds = Math.ceil(killGrace / 1e9);
  if (spec.hostname && spec.network === 'host')
    throw new LaunchRefusedError('a hostname cannot be set with HOST networking');

  const registry = registryOf(image);
  const credentials = config.image.registries[registry];
  return {
    spec,
    pull: docker?.force_pull_image ? 'always' : config.image.pull,
    auth: credentials ? { ...credentials, serveraddress: registry } : undefined,
    mode,
    generation: labels[LABELS.generation] as MesosGeneration,
    executorId,
    taskId: task?.task_id.value,
    frameworkId: executor?.framework_id?.value,
    pairWithExposedPorts,
    allocatedPorts: allocated,
    hostExecutor,
    uris: command?.uris ?? [],
    runAs: config.taskUser === 'apply' && !spec.user && launch.user ? launch.user : undefined,
  };
}

/** Merges what a form's options ask for (already through the policy; `volumes` resolved) into the spec. */
function applyOptions(spec: ContainerSpec, o: DockerOptions, volumes: VolumeMount[]): void {
  Object.assign(spec.env, o.env);
  spec.labels = { ...o.labels, ...spec.labels };
  spec.volumes.push(...volumes);
  if (o.cpus !== undefined) spec.cpus = o.cpus;
  if (o.memMb !== undefined) spec.memMb = o.memMb;
  if (o.dns.length) spec.dns = [...(spec.dns ?? []), ...o.dns];
  for (const [ns, value] of Object.entries(o.namespaces)) spec.namespaces = { ...spec.namespaces, [ns]: value };
  if (o.capAdd.length) spec.capAdd = [...(spec.capAdd ?? []), ...o.capAdd];
  if (o.capDrop.length) spec.capDrop = [...(spec.capDrop ?? []), ...o.capDrop];
  if (o.devices.length) spec.devices = [...(spec.devices ?? []), ...o.devices];
  if (o.securityOpt.length) spec.securityOpt = [...(spec.securityOpt ?? []), ...o.securityOpt];
  if (o.network) spec.network = o.network;
  if (o.workingDir) spec.workingDir = o.workingDir;
  if (o.user) spec.user = o.user;
  if (o.hostname) spec.hostname = o.hostname;
  if (o.entrypoint) spec.entrypoint = o.entrypoint;
  if (o.privileged !== undefined) spec.privileged = o.privileged;
  if (o.init !== undefined) spec.init = o.init;
  if (o.stopGraceSeconds !== undefined) spec.stopGraceSeconds = o.stopGraceSeconds;
}

/**
 * Binds allocated host ports to the image's exposed ports in order (bridge networking without
 * port mappings); the rest map host:host up to `maxIdentityPorts`.
 */
export function pairPorts(
  allocated: number[],
  exposed: Array<{ port: number; protocol: 'tcp' | 'udp' }>,
  maxIdentityPorts: number,
): { ports: PortBinding[]; unbound: number } {
  const ports: PortBinding[] = [];
  allocated.forEach((hostPort, i) => {
    const target = exposed[i];
    if (target) ports.push({ hostPort, containerPort: target.port, protocol: target.protocol });
  });
  const rest = allocated.slice(exposed.length);
  for (const hostPort of rest.slice(0, maxIdentityPorts))
    ports.push({ hostPort, containerPort: hostPort, protocol: 'tcp' });
  return { ports, unbound: Math.max(0, rest.length - maxIdentityPorts) };
}
