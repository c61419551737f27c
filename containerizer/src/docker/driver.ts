/**
 * The Docker driver: runs containers through the Engine API (dockerode over the Unix socket).
 * Used by the containerizer program and by the single-machine engine. Every request but `wait`
 * and image pulls has a timeout, so a hung daemon never hangs a caller forever.
 */
import Docker from 'dockerode';
import { readCgroupUsage, type CgroupUsage } from './cgroup-usage.js';
import { ContainerNotFoundError, DockerRequestError, DockerUnavailableError, ImageUnavailableError } from './errors.js';
import { engineSocket } from './engine-socket.js';
import { execInContainer } from './exec.js';
import type {
  ContainerDetails,
  ContainerExit,
  ContainerLimits,
  ContainerSpec,
  ContainerUsage,
  EnsureImageOptions,
  ExecOptions,
  ExecResult,
  ListedContainer,
  StartedContainer,
} from './types.js';

/** Where the driver reports pulls; a winston Logger from @theseus/services fits. */
export interface DriverLog {
  info(message: string, meta?: Record<string, unknown>): unknown;
}

export interface DockerDriverOptions {
  /** Engine socket. Default: `DOCKER_HOST` when it is a `unix://` URL, else `/var/run/docker.sock`. */
  socketPath?: string;
  logger?: DriverLog;
  /** Timeout of each request except `wait` and pulls, in ms. Default 30 000. */
  requestTimeoutMs?: number;
}

interface EngineError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'EPIPE', 'ECONNRESET']);

/** CPU shares for a fractional CPU count (the Engine's minimum is 2). */
export function cpuShares(cpus: number): number {
  return Math.max(2, Math.round(1024 * cpus));
}

export class DockerDriver {
  readonly socketPath: string;
  private readonly docker: Docker;
  /** No timeout: for waits and pulls, which last as long as they must. */
  private readonly longDocker: Docker;
  private readonly logger: DriverLog | undefined;

  constructor(options: DockerDriverOptions = {}) {
    this.socketPath = options.socketPath ?? engineSocket();
    this.logger = options.logger;
    this.docker = new Docker({ socketPath: this.socketPath, timeout: options.requestTimeoutMs ?? 30_000 });
    this.longDocker = new Docker({ socketPath: this.socketPath });
  }

  async ping(): Promise<void> {
    await this.call('ping the Engine', () => this.docker.ping());
  }

  async ensureImage(image: string, options: EnsureImageOptions = {}): Promise<void> {
    const pull = options.pull ?? 'missing';
    if (pull !== 'always') {
      const present = await this.imageExists(image);
      if (present) return;
      if (pull === 'never') throw new ImageUnavailableError(image, 'not present locally and pulling is disabled');
    }
    this.logger?.info('pulling image', { image });
    const abort = new AbortController();
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), options.timeoutMs);
    try {
      await this.pull(image, options, abort.signal);
    } catch (err) {
      if (abort.signal.aborted)
        throw new ImageUnavailableError(image, `the pull took longer than ${options.timeoutMs} ms`, err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.logger?.info('pulled image', { image });
  }

  private async pull(image: string, options: EnsureImageOptions, signal: AbortSignal): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.longDocker.pull(image, {
        ...(options.auth ? { authconfig: options.auth } : {}),
        abortSignal: signal,
      })) as NodeJS.ReadableStream;
    } catch (err) {
      this.rethrowUnreachable(err);
      throw new ImageUnavailableError(image, engineReason(err), err);
    }
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        reject(new Error('aborted'));
      });
      this.longDocker.modem.followProgress(
        stream,
        (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
          const failed = events?.find((e) => e.error || e.errorDetail);
          if (err || failed) {
            reject(
              new ImageUnavailableError(
                image,
                failed?.errorDetail?.message ?? failed?.error ?? engineReason(err),
                err ?? undefined,
              ),
            );
          } else resolve();
        },
      );
    });
  }

  /** Creates and starts the container; returns as soon as it runs. A container that fails to start is removed. */
  async start(spec: ContainerSpec): Promise<StartedContainer> {
    const created = await this.call(`create container from ${spec.image}`, () =>
      this.docker.createContainer(createOptions(spec)),
    );
    try {
      await this.call(`start container ${spec.name ?? created.id}`, () => created.start());
    } catch (err) {
      await this.remove(created.id).catch((removeErr: unknown) =>
        this.logger?.info('removing a container that did not start failed', {
          container: created.id,
          error: String(removeErr),
        }),
      );
      throw err;
    }
    const details = await this.inspect(created.id);
    if (!details) throw new ContainerNotFoundError(created.id);
    return {
      id: details.id,
      name: details.name,
      ipAddress: details.ipAddress,
      startedAt: details.startedAt,
      pid: details.pid,
    };
  }

  /** Resolves when the container has ended; at once when it already has. */
  async wait(id: string): Promise<ContainerExit> {
    const result = (await this.call(`wait for container ${id}`, () => this.longDocker.getContainer(id).wait(), id)) as {
      StatusCode: number;
    };
    const details = await this.inspect(id);
    return {
      exitCode: details?.exitCode ?? result.StatusCode,
      oomKilled: details?.oomKilled ?? false,
      finishedAt: details?.finishedAt ?? new Date().toISOString(),
      error: details?.error ?? null,
    };
  }

  /**
   * CPU and memory counters with the container's limits. A running container's counters come from
   * its cgroup when visible (fast), else from one Engine stats sample; a stopped one reports zeros.
   */
  async usage(id: string): Promise<ContainerUsage> {
    const details = await this.inspect(id);
    if (!details) throw new ContainerNotFoundError(id);
    const limits = {
      cpusLimit: details.cpuShares > 0 ? details.cpuShares / 1024 : null,
      memLimitBytes: details.memoryBytes > 0 ? details.memoryBytes : null,
      running: details.running,
    };
    if (!details.running)
      return { timestamp: Date.now() / 1000, cpuUserSeconds: 0, cpuSystemSeconds: 0, memRssBytes: 0, ...limits };
    const counters = readCgroupUsage(details.pid, details.id) ?? (await this.engineUsage(id));
    return { timestamp: Date.now() / 1000, ...counters, ...limits };
  }

  private async engineUsage(id: string): Promise<CgroupUsage> {
    const stats = await this.call(
      `read stats of container ${id}`,
      () => this.docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false }),
      id,
    );
    const cpu = stats.cpu_stats?.cpu_usage;
    const memory = stats.memory_stats as { usage?: number; stats?: Record<string, number> } | undefined;
    const memStats = memory?.stats ?? {};
    return {
      cpuUserSeconds: (cpu?.usage_in_usermode ?? 0) / 1e9,
      cpuSystemSeconds: (cpu?.usage_in_kernelmode ?? 0) / 1e9,
      // cgroup v1 reports rss; v2 reports anon
      memRssBytes: memStats.total_rss ?? memStats.rss ?? memStats.anon ?? memory?.usage ?? 0,
      ...(memory?.usage !== undefined ? { memTotalBytes: memory.usage } : {}),
    };
  }

  async update(id: string, limits: ContainerLimits): Promise<void> {
    const body: Record<string, number> = {};
    if (limits.cpus !== undefined) body.CpuShares = cpuShares(limits.cpus);
    if (limits.memMb !== undefined) {
      body.Memory = Math.round(limits.memMb * 1024 * 1024);
      body.MemorySwap = body.Memory;
    }
    if (Object.keys(body).length === 0) return;
    await this.call(`update limits of container ${id}`, () => this.docker.getContainer(id).update(body), id);
  }

  /** SIGTERM, then SIGKILL after the grace period. A stopped or unknown container is fine. */
  async stop(id: string, graceSeconds?: number): Promise<void> {
    try {
      const timeoutMs = ((graceSeconds ?? 10) + 30) * 1000;
      await this.call(
        `stop container ${id}`,
        () =>
          this.longDocker.getContainer(id).stop({
            ...(graceSeconds === undefined ? {} : { t: graceSeconds }),
            abortSignal: AbortSignal.timeout(timeoutMs),
          }),
        id,
      );
    } catch (err) {
      if (err instanceof ContainerNotFoundError) return;
      if (err instanceof DockerRequestError && err.statusCode === 304) return;
      throw err;
    }
  }

  /** Removes the container (killing it if it still runs) and its anonymous volumes. Unknown is fine. */
  async remove(id: string): Promise<void> {
    try {
      await this.call(
        `remove container ${id}`,
        () => this.docker.getContainer(id).remove({ force: true, v: true }),
        id,
      );
    } catch (err) {
      if (err instanceof ContainerNotFoundError) return;
      // another caller is already removing it
      if (err instanceof DockerRequestError && err.statusCode === 409 && /already in progress/i.test(err.message))
        return;
      throw err;
    }
  }

  /** The container's state, limits and addresses; undefined when it does not exist. */
  async inspect(id: string): Promise<ContainerDetails | undefined> {
    try {
      const info = await this.call(`inspect container ${id}`, () => this.docker.getContainer(id).inspect(), id);
      return toDetails(info);
    } catch (err) {
      if (err instanceof ContainerNotFoundError) return undefined;
      throw err;
    }
  }

  /** Containers (running or not) carrying all of these labels. */
  async list(labels: Record<string, string>): Promise<ListedContainer[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const found = await this.call('list containers', () => this.docker.listContainers({ all: true, filters }));
    return found.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels ?? {},
      state: c.State,
      created: c.Created,
    }));
  }

  /**
   * Runs `/bin/sh -c <command>` inside the running container with `env` added, as its user and in its
   * working directory; the output is dropped. Resolves with the exit status, or `timedOut` after `timeoutMs`.
   */
  exec(id: string, command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return execInContainer(this.longDocker, (action, request) => this.call(action, request, id), id, command, options);
  }

  /** Copies the container's output (from its start, or from `sinceSeconds` since the epoch) to the given streams until it ends. */
  async followLogs(
    id: string,
    stdout: NodeJS.WritableStream,
    stderr: NodeJS.WritableStream,
    options: { sinceSeconds?: number } = {},
  ): Promise<void> {
    const container = this.longDocker.getContainer(id);
    const stream = (await this.call(
      `follow output of container ${id}`,
      () =>
        container.logs({
          follow: true,
          stdout: true,
          stderr: true,
          ...(options.sinceSeconds !== undefined ? { since: options.sinceSeconds } : {}),
        }),
      id,
    )) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((resolve) => {
      this.longDocker.modem.demuxStream(stream, stdout, stderr);
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
  }

  /** The image's exposed container ports (`ExposedPorts`), numerically sorted. */
  async exposedPorts(image: string): Promise<Array<{ port: number; protocol: 'tcp' | 'udp' }>> {
    const info = await this.call(`inspect image ${image}`, () => this.docker.getImage(image).inspect());
    const exposed = Object.keys(info.Config?.ExposedPorts ?? {});
    return exposed
      .map((key) => {
        const [port, protocol] = key.split('/');
        return { port: Number(port), protocol: protocol === 'udp' ? ('udp' as const) : ('tcp' as const) };
      })
      .filter((p) => Number.isInteger(p.port))
      .sort((a, b) => a.port - b.port);
  }

  private async imageExists(image: string): Promise<boolean> {
    try {
      await this.call(`inspect image ${image}`, () => this.docker.getImage(image).inspect());
      return true;
    } catch (err) {
      if (err instanceof DockerRequestError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** Runs one Engine request, turning its failure into a driver error. `containerId` makes a 404 a ContainerNotFoundError. */
  private async call<T>(action: string, request: () => Promise<T>, containerId?: string): Promise<T> {
    try {
      return await request();
    } catch (err) {
      this.rethrowUnreachable(err);
      const statusCode = (err as EngineError).statusCode;
      if (statusCode === 404 && containerId !== undefined) throw new ContainerNotFoundError(containerId);
      throw new DockerRequestError(action, engineReason(err), statusCode, err);
    }
  }

  private rethrowUnreachable(err: unknown): void {
    const code = (err as EngineError).code;
    if (code && UNREACHABLE.has(code)) throw new DockerUnavailableError(this.socketPath, code, err);
    if ((err as EngineError).message === 'timeout' || (err as Error).name === 'TimeoutError') {
      throw new DockerUnavailableError(this.socketPath, 'request timed out', err);
    }
  }
}

/** The Engine's own explanation: its JSON `message`, else the text after docker-modem's `(HTTP code N) reason - ` prefix. */
function engineReason(err: unknown): string {
  const e = err as EngineError | null;
  if (e?.json?.message) return e.json.message.trim();
  const detail = /^\(HTTP code \d+\) [^-]*- (.+)$/s.exec(e?.message ?? '')?.[1]?.trim();
  return detail || e?.reason || e?.message || String(err);
}

function createOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string; HostIp?: string }>> = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostPort: String(p.hostPort), ...(p.hostIp ? { HostIp: p.hostIp } : {}) });
  }
  const memory = spec.memMb === undefined ? undefined : Math.round(spec.memMb * 1024 * 1024);
  let entrypoint = spec.entrypoint;
  let cmd = spec.args;
  if (spec.shell !== undefined) {
    entrypoint = ['/bin/sh', '-c'];
    cmd = [spec.shell];
  }
  return {
    ...(spec.name ? { name: spec.name } : {}),
    Image: spec.image,
    ...(entrypoint ? { Entrypoint: entrypoint } : {}),
    ...(cmd ? { Cmd: cmd } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    ExposedPorts: exposed,
    ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    ...(spec.hostname ? { Hostname: spec.hostname } : {}),
    ...(spec.stopGraceSeconds !== undefined ? { StopTimeout: spec.stopGraceSeconds } : {}),
    HostConfig: {
      NetworkMode: spec.network,
      PortBindings: bindings,
      Mounts: spec.volumes.map((v) => ({
        Type: 'bind' as const,
        Source: v.hostPath,
        Target: v.containerPath,
        ReadOnly: v.mode === 'RO',
      })),
      Privileged: spec.privileged ?? false,
      Init: spec.init ?? false,
      ...(spec.cpus !== undefined ? { CpuShares: cpuShares(spec.cpus) } : {}),
      ...(memory !== undefined ? { Memory: memory, MemorySwap: memory } : {}),
      ...(spec.dns?.length ? { Dns: spec.dns } : {}),
      ...(spec.namespaces?.pid ? { PidMode: spec.namespaces.pid } : {}),
      ...(spec.namespaces?.ipc ? { IpcMode: spec.namespaces.ipc } : {}),
      ...(spec.namespaces?.uts ? { UTSMode: spec.namespaces.uts } : {}),
      ...(spec.capAdd?.length ? { CapAdd: spec.capAdd } : {}),
      ...(spec.capDrop?.length ? { CapDrop: spec.capDrop } : {}),
      ...(spec.devices?.length ? { Devices: spec.devices.map(deviceMapping) } : {}),
      ...(spec.securityOpt?.length ? { SecurityOpt: spec.securityOpt } : {}),
      ...(spec.logLimits
        ? {
            LogConfig: {
              Type: 'json-file',
              Config: { 'max-size': String(spec.logLimits.maxFileBytes), 'max-file': String(spec.logLimits.maxFiles) },
            },
          }
        : {}),
    },
  };
}

function deviceMapping(device: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [host = '', inContainer, permissions] = device.split(':');
  return { PathOnHost: host, PathInContainer: inContainer || host, CgroupPermissions: permissions || 'rwm' };
}

function toDetails(info: Docker.ContainerInspectInfo): ContainerDetails {
  const networks = Object.values(info.NetworkSettings?.Networks ?? {});
  const ip = networks.find((n) => n.IPAddress)?.IPAddress || null;
  const hostPorts: Record<string, number[]> = {};
  for (const [key, bound] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    if (bound) hostPorts[key] = [...new Set(bound.map((b) => Number(b.HostPort)))];
  }
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    labels: info.Config.Labels ?? {},
    status: info.State.Status,
    running: info.State.Running,
    pid: info.State.Pid,
    exitCode: info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    startedAt: info.State.StartedAt,
    finishedAt: info.State.FinishedAt,
    error: info.State.Error || null,
    ipAddress: ip,
    cpuShares: info.HostConfig.CpuShares ?? 0,
    memoryBytes: info.HostConfig.Memory ?? 0,
    hostPorts,
  };
}
