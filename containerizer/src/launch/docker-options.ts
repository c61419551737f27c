/**
 * `docker run` flags from 0.19 `CommandInfo.ContainerInfo.options` and DockerInfo `parameters`,
 * translated to Engine API fields. Only the flags below are understood; any other is refused,
 * because silently dropping a flag the task relies on is worse than failing its launch. Whether a
 * flag is allowed is decided by the privilege policy (`policy.ts`), the same for every form.
 */
import { LaunchRefusedError } from '../protocol/errors.js';
import type { NetworkMode, VolumeMount } from '../docker/types.js';

/** What the options ask for; the launch plan merges it into the container spec and checks permissions. */
export interface DockerOptions {
  env: Record<string, string>;
  labels: Record<string, string>;
  volumes: VolumeMount[];
  network?: NetworkMode;
  workingDir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string[];
  privileged?: boolean;
  init?: boolean;
  stopGraceSeconds?: number;
  cpus?: number;
  memMb?: number;
  dns: string[];
  /** `--pid`, `--ipc`, `--uts` values. */
  namespaces: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
  capAdd: string[];
  capDrop: string[];
  devices: string[];
  securityOpt: string[];
}

type Handler = (value: string, into: DockerOptions) => void;

const NETWORKS: Record<string, NetworkMode> = { bridge: 'bridge', host: 'host', none: 'none', default: 'bridge' };

function keyValue(flag: string, value: string): [string, string] {
  const at = value.indexOf('=');
  if (at <= 0) throw new LaunchRefusedError(`docker option ${flag} ${value}: expected KEY=VALUE`);
  return [value.slice(0, at), value.slice(at + 1)];
}

/** `-v /host:/container[:ro|:rw]` (a volume without a host path is refused: no anonymous volumes). */
function volume(value: string): VolumeMount {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new LaunchRefusedError(`docker option --volume ${value}: expected /host/path:/container/path[:ro|:rw]`);
  }
  const mode = (parts[2] ?? 'rw').toLowerCase();
  if (mode !== 'ro' && mode !== 'rw')
    throw new LaunchRefusedError(`docker option --volume ${value}: mode must be ro or rw`);
  return { hostPath: parts[0], containerPath: parts[1], mode: mode === 'ro' ? 'RO' : 'RW' };
}

const WITH_VALUE: Record<string, Handler> = {
  env: (v, o) => {
    const [k, val] = keyValue('--env', v);
    o.env[k] = val;
  },
  label: (v, o) => {
    const [k, val] = keyValue('--label', v);
    o.labels[k] = val;
  },
  volume: (v, o) => void o.volumes.push(volume(v)),
  net: (v, o) => {
    const network = NETWORKS[v];
    if (!network) throw new LaunchRefusedError(`docker option --net ${v}: only bridge, host and none are supported`);
    o.network = network;
  },
  workdir: (v, o) => void (o.workingDir = v),
  user: (v, o) => void (o.user = v),
  hostname: (v, o) => void (o.hostname = v),
  entrypoint: (v, o) => void (o.entrypoint = [v]),
  'cpu-shares': (v, o) => {
    const shares = Number(v);
    if (!Number.isInteger(shares) || shares < 2)
      throw new LaunchRefusedError(`docker option --cpu-shares ${v}: expected a whole number from 2`);
    o.cpus = shares / 1024;
  },
  memory: (v, o) => void (o.memMb = memoryMb(v)),
  dns: (v, o) => void o.dns.push(v),
  pid: (v, o) => void (o.namespaces.pid = v),
  ipc: (v, o) => void (o.namespaces.ipc = v),
  uts: (v, o) => void (o.namespaces.uts = v),
  'cap-add': (v, o) => void o.capAdd.push(v.toUpperCase().replace(/^CAP_/, '')),
  'cap-drop': (v, o) => void o.capDrop.push(v.toUpperCase().replace(/^CAP_/, '')),
  device: (v, o) => void o.devices.push(v),
  'security-opt': (v, o) => void o.securityOpt.push(v),
  'stop-timeout': (v, o) => {
    const seconds = Number(v);
    if (!Number.isInteger(seconds) || seconds < 0)
      throw new LaunchRefusedError(`docker option --stop-timeout ${v}: expected whole seconds`);
    o.stopGraceSeconds = seconds;
  },
};
const BOOLEAN: Record<string, (o: DockerOptions, on: boolean) => void> = {
  privileged: (o, on) => void (o.privileged = on),
  init: (o, on) => void (o.init = on),
};
const ALIASES: Record<string, string> = {
  e: 'env',
  l: 'label',
  v: 'volume',
  w: 'workdir',
  u: 'user',
  h: 'hostname',
  network: 'net',
  c: 'cpu-shares',
  m: 'memory',
};

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `-m 512m` → 512 (MiB); units b, k, m, g as `docker run` reads them. */
function memoryMb(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(value.trim());
  if (!match) throw new LaunchRefusedError(`docker option --memory ${value}: expected a size such as 512m or 1g`);
  const bytes = Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  if (bytes < 6 * 1024 ** 2)
    throw new LaunchRefusedError(`docker option --memory ${value}: the Docker Engine needs at least 6m`);
  return bytes / 1024 ** 2;
}

export const SUPPORTED_OPTIONS = [...Object.keys(WITH_VALUE), ...Object.keys(BOOLEAN)].map((f) => `--${f}`).join(', ');

function unsupported(flag: string): never {
  throw new LaunchRefusedError(
    `docker option ${flag} is not supported`,
    `supported: ${SUPPORTED_OPTIONS} (and -e, -l, -v, -w, -u, -h, -c, -m)`,
  );
}

/** Parses `docker run` words such as `["-e FOO=1", "--net=host", "-v", "/a:/b:ro"]` (each entry is split on spaces). */
export function parseDockerOptions(options: string[]): DockerOptions {
  return parseWords(options.flatMap((o) => o.trim().split(/\s+/)).filter((w) => w.length > 0));
}

function parseWords(words: string[]): DockerOptions {
  const out: DockerOptions = {
    env: {},
    labels: {},
    volumes: [],
    dns: [],
    namespaces: {},
    capAdd: [],
    capDrop: [],
    devices: [],
    securityOpt: [],
  };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const match = /^(--?)([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?$/.exec(word);
    if (!match)
      throw new LaunchRefusedError(
        `docker option ${JSON.stringify(word)} is not a flag`,
        'options are docker run flags such as -e KEY=VALUE or --net=host',
      );
    const [, dashes, rawName, inline] = match as unknown as [string, string, string, string | undefined];
    if (dashes === '-' && rawName.length !== 1) unsupported(word);
    const name = ALIASES[rawName] ?? rawName;
    const flag = `${dashes}${rawName}`;
    const boolean = BOOLEAN[name];
    if (boolean) {
      if (inline !== undefined && inline !== 'true' && inline !== 'false')
        throw new LaunchRefusedError(`docker option ${word}: expected true or false`);
      boolean(out, inline !== 'false');
      continue;
    }
    const handler = WITH_VALUE[name];
    if (!handler) unsupported(flag);
    const value = inline ?? words[++i];
    if (value === undefined) throw new LaunchRefusedError(`docker option ${flag} needs a value`);
    handler(value, out);
  }
  return out;
}

/** DockerInfo `parameters` are `docker run --<key>=<value>` pairs; a value is one word, spaces and all. */
export function parseDockerParameters(parameters: Array<{ key: string; value: string }>): DockerOptions {
  return parseWords(parameters.map((p) => `--${p.key.replace(/^-+/, '')}=${p.value}`));
}
