/**
 * `docker run` flags from 0.19 `CommandInfo.ContainerInfo.options` and DockerInfo `parameters`,
 * translated to Engine API fields. Only the flags below are understood; any other is refused,
 * because silently dropping a flag the task relies on is worse than failing its launch.
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
  if (mode !== 'ro' && mode !== 'rw') throw new LaunchRefusedError(`docker option --volume ${value}: mode must be ro or rw`);
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
  'stop-timeout': (v, o) => {
    const seconds = Number(v);
    if (!Number.isInteger(seconds) || seconds < 0) throw new LaunchRefusedError(`docker option --stop-timeout ${v}: expected whole seconds`);
    o.stopGraceSeconds = seconds;
  },
};
const BOOLEAN: Record<string, (o: DockerOptions, on: boolean) => void> = {
  privileged: (o, on) => void (o.privileged = on),
  init: (o, on) => void (o.init = on),
};
const ALIASES: Record<string, string> = { e: 'env', l: 'label', v: 'volume', w: 'workdir', u: 'user', h: 'hostname', network: 'net' };

export const SUPPORTED_OPTIONS = [...Object.keys(WITH_VALUE), ...Object.keys(BOOLEAN)].map((f) => `--${f}`).join(', ');

function unsupported(flag: string): never {
  throw new LaunchRefusedError(`docker option ${flag} is not supported`, `supported: ${SUPPORTED_OPTIONS} (and -e, -l, -v, -w, -u, -h)`);
}

/** Parses `docker run` words such as `["-e FOO=1", "--net=host", "-v", "/a:/b:ro"]` (each entry is split on spaces). */
export function parseDockerOptions(options: string[]): DockerOptions {
  const words = options.flatMap((o) => o.trim().split(/\s+/)).filter((w) => w.length > 0);
  const out: DockerOptions = { env: {}, labels: {}, volumes: [] };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const match = /^(--?)([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?$/.exec(word);
    if (!match) throw new LaunchRefusedError(`docker option ${JSON.stringify(word)} is not a flag`, 'options are docker run flags such as -e KEY=VALUE or --net=host');
    const [, dashes, rawName, inline] = match as unknown as [string, string, string, string | undefined];
    if (dashes === '-' && rawName.length !== 1) unsupported(word);
    const name = ALIASES[rawName] ?? rawName;
    const flag = `${dashes}${rawName}`;
    const boolean = BOOLEAN[name];
    if (boolean) {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') throw new LaunchRefusedError(`docker option ${word}: expected true or false`);
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

/** DockerInfo `parameters` are `docker run --<key>=<value>` pairs. */
export function parseDockerParameters(parameters: Array<{ key: string; value: string }>): DockerOptions {
  return parseDockerOptions(parameters.map((p) => `--${p.key.replace(/^-+/, '')}=${p.value}`));
}
