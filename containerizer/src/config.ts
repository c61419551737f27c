/**
 * The containerizer's own configuration: one YAML file, the first found of `--config <file>`,
 * `THESEUS_CONTAINERIZER_CONFIG`, `./containerizer.yaml`, `~/.theseus/containerizer.yaml`,
 * `/etc/theseus/containerizer.yaml`; no file means all defaults. `./containerizer.yaml` is skipped
 * when the current directory is inside the slave's work directory: the slave runs most calls in
 * a task's sandbox, and a task must not be able to configure its own containerizer.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import * as yaml from 'js-yaml';
import * as z from 'zod';
import { TaskLogsSection } from '@theseus/services/config/sections';
import { ConfigError, ValidationError } from '@theseus/services/errors';

const Registry = z.strictObject({
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
});

export const ContainerizerConfigSchema = z.strictObject({
  /**
   * Root of the per-container state directories (one subdirectory per instance). Created 0700; the
   * program refuses to use it when it belongs to another user or others may write to it.
   */
  stateDir: z.string().startsWith('/', 'must be an absolute path').default('/var/run/theseus-containerizer'),
  /**
   * Marks this slave's containers (label `theseus.containerizer`). Default: derived from
   * MESOS_WORK_DIRECTORY, so several slaves on one host keep apart; `default` without it.
   */
  instance: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only')
    .optional(),
  /** Which Termination the slave parses: `0.22` (0.19-0.25, `killed` required), `1.0` (0.26-1.0), `auto` (from the launch environment). */
  mesosVersion: z.enum(['0.22', '1.0', 'auto']).default('0.22'),
  docker: z
    .strictObject({
      socketPath: z.string().min(1).optional(),
      requestTimeoutMs: z.number().int().min(100).default(30_000),
    })
    .prefault({}),
  image: z
    .strictObject({
      /** Used when a launch names no image (also MESOS_DEFAULT_CONTAINER_IMAGE, which this overrides). */
      default: z.string().min(1).optional(),
      /** `missing`: pull only absent images; `always`; `never`. `force_pull_image` in DockerInfo means always. */
      pull: z.enum(['missing', 'always', 'never']).default('missing'),
      /** Give up a pull (failing the launch) after this many seconds; the slave's registration timeout counts it too. */
      pullTimeoutSeconds: z.number().int().min(1).default(300),
      /** Credentials per registry host (`registry.example.com:5000`; `docker.io` for Docker Hub). */
      registries: z.record(z.string().min(1), Registry).default({}),
    })
    .prefault({}),
  /**
   * What tasks may ask for, whichever form asks (DockerInfo, 0.19 `options`, DockerInfo `parameters`).
   * What could give the host away is refused unless allowed here.
   */
  allow: z
    .strictObject({
      /** `privileged` in DockerInfo, `--privileged`. */
      privileged: z.boolean().default(false),
      /** Host networking: DockerInfo network HOST (Mesos's default), `--net=host`, `defaultNetwork: host`. */
      hostNetwork: z.boolean().default(true),
      /** `--pid=host`, `--ipc=host`, `--uts=host`. */
      hostNamespaces: z.boolean().default(false),
      /** Capabilities `--cap-add` may add (`NET_ADMIN`...; `ALL` allows any). */
      capabilities: z.array(z.string().regex(/^[A-Z_]+$/, 'capability names such as NET_ADMIN')).default([]),
      /** Host devices `--device` may pass in (`/dev/fuse`...). */
      devices: z.array(z.string().startsWith('/', 'must be an absolute path')).default([]),
      /** `--security-opt` (seccomp, AppArmor, no-new-privileges...). */
      securityOptions: z.boolean().default(false),
      /** `-u 0` / `--user root` (a launch whose Mesos user is root is not affected). */
      rootUser: z.boolean().default(false),
      /** Host directories (and everything below them, symlinks resolved) that volumes may mount. */
      hostPaths: z.array(z.string().startsWith('/', 'must be an absolute path')).default([]),
    })
    .prefault({}),
  /**
   * The Launch's `user` (the framework's or task's user). `apply`: the container runs as that user's
   * uid:gid on this host (as the slave's `--switch_user` does), and a user unknown to the host fails
   * the launch. `image`: the image's own user runs the task.
   */
  taskUser: z.enum(['apply', 'image']).default('apply'),
  /** Network of launches without a DockerInfo (0.19-style and default-image launches). */
  defaultNetwork: z.enum(['bridge', 'host', 'none']).default('bridge'),
  /** Where the sandbox is mounted in the container (MESOS_SANDBOX); also its working directory. */
  sandboxPath: z.string().startsWith('/').default('/mnt/mesos/sandbox'),
  /** `CommandInfo.uris`: what may be fetched into a sandbox, and how much. */
  fetch: z
    .strictObject({
      /** Directories (symlinks resolved) that local paths and `file://` URIs may be copied from. Empty: none. */
      localPaths: z.array(z.string().startsWith('/', 'must be an absolute path')).default([]),
      /** Bytes one URI may bring (download or copy, plus what its archive unpacks to). */
      maxBytes: z
        .number()
        .int()
        .min(1)
        .default(2 * 1024 ** 3),
      /** Bytes all URIs of one launch may bring together. */
      maxTaskBytes: z
        .number()
        .int()
        .min(1)
        .default(4 * 1024 ** 3),
      /** Seconds one URI may take. */
      timeoutSeconds: z.number().int().min(1).default(300),
      /** Seconds all URIs of one launch may take together. */
      taskTimeoutSeconds: z.number().int().min(1).default(600),
      /** HTTP redirects followed per URI. */
      maxRedirects: z.number().int().min(0).default(5),
    })
    .prefault({}),
  /** The task's stdout and stderr in its sandbox, rotated by size (the engine's `taskLogs` settings). */
  taskLogs: TaskLogsSection.prefault({}),
  /** Seconds between SIGTERM and SIGKILL on destroy. */
  stopGraceSeconds: z.number().int().min(0).default(5),
  /**
   * How a command task's executor registers with the slave. `host`: the slave's mesos-executor runs
   * on the host and observes the container (any image works). `container`: the container runs the
   * executor, with the slave's launcher directory mounted (the image must be able to run it).
   */
  commandExecutor: z.enum(['host', 'container']).default('host'),
  /** Seconds `wait` gives the host executor to report the task's end before it answers the slave. */
  executorGraceSeconds: z.number().min(0).default(10),
  /** Allocated ports not paired with a port mapping or an exposed port are bound host:host, up to this many. */
  maxIdentityPorts: z.number().int().min(0).default(16),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      format: z.enum(['json', 'pretty', 'auto']).default('auto'),
      /** Also send logs to a syslog server over UDP. */
      syslog: z
        .strictObject({
          host: z.string().min(1).default('127.0.0.1'),
          port: z.number().int().min(1).max(65535).default(514),
          facility: z.number().int().min(0).max(23).default(1),
        })
        .optional(),
    })
    .prefault({}),
});

export type ContainerizerConfig = z.infer<typeof ContainerizerConfigSchema> & {
  instance: string;
  source: string | null;
};

export interface LoadConfigOptions {
  /** An explicit file (`--config`): must exist. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
}

/** The files searched, in order, when no file is named. */
export function configCandidates(options: LoadConfigOptions = {}): string[] {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const candidates: string[] = [];
  // compared with symlinks resolved: the slave may name its work directory through a link
  const workDir = env.MESOS_WORK_DIRECTORY ? realOrResolved(env.MESOS_WORK_DIRECTORY) : undefined;
  const here = realOrResolved(cwd);
  const insideWorkDir =
    workDir !== undefined && (here === workDir || here.startsWith(workDir.endsWith(sep) ? workDir : workDir + sep));
  if (!insideWorkDir) candidates.push(join(cwd, 'containerizer.yaml'));
  candidates.push(join(options.home ?? homedir(), '.theseus', 'containerizer.yaml'));
  candidates.push('/etc/theseus/containerizer.yaml');
  return candidates;
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(path, `cannot read the configuration file: ${(err as Error).message}`);
  }
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<ContainerizerConfig> {
  const env = options.env ?? process.env;
  const explicit = options.path ?? env.THESEUS_CONTAINERIZER_CONFIG;
  let source: string | null = null;
  let text: string | undefined;
  if (explicit) {
    source = resolve(options.cwd ?? process.cwd(), explicit);
    text = readText(source);
    if (text === undefined) throw new ConfigError(source, 'the configuration file does not exist');
  } else {
    for (const candidate of configCandidates(options)) {
      text = readText(candidate);
      if (text !== undefined) {
        source = candidate;
        break;
      }
    }
  }
  let raw: unknown = {};
  if (text !== undefined && source !== null && text.trim() !== '') {
    try {
      raw = yaml.load(text, { filename: source }) ?? {};
    } catch (err) {
      throw new ConfigError(source, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const parsed = ContainerizerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const { zodProblems } = await import('@theseus/services/endpoints/record');
    throw new ValidationError(
      `${source ?? 'configuration'} is not a valid containerizer configuration`,
      zodProblems(parsed.error),
    );
  }
  const defaultImage = parsed.data.image.default ?? (env.MESOS_DEFAULT_CONTAINER_IMAGE || undefined);
  return {
    ...parsed.data,
    image: { ...parsed.data.image, ...(defaultImage ? { default: defaultImage } : {}) },
    instance: parsed.data.instance ?? defaultInstance(env),
    source,
  };
}

function defaultInstance(env: NodeJS.ProcessEnv): string {
  const workDir = env.MESOS_WORK_DIRECTORY;
  if (!workDir) return 'default';
  return 'slave-' + createHash('sha256').update(resolve(workDir)).digest('hex').slice(0, 12);
}

/** The configuration as `theseus-containerizer config` prints it: registry secrets hidden. */
export function printableConfig(config: ContainerizerConfig): unknown {
  const registries = Object.fromEntries(
    Object.entries(config.image.registries).map(([host, auth]) => [
      host,
      {
        ...auth,
        ...(auth.password !== undefined ? { password: '***' } : {}),
        ...(auth.identitytoken !== undefined ? { identitytoken: '***' } : {}),
      },
    ]),
  );
  return { ...config, image: { ...config.image, registries } };
}
