/**
 * The one privilege policy: every form a task can ask in (DockerInfo fields, 0.19 `options`,
 * DockerInfo `parameters`) is checked here with the same rules, so what is refused in one form is
 * refused in all, with the option and the setting that would allow it named. Harmless options
 * (`-c`, `-m`, `--dns`, `-e`, `-l`, `-w`, `--entrypoint`...) need nothing.
 */
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import type { ContainerizerConfig } from '../config.js';
import type { NetworkMode, VolumeMount } from '../docker/types.js';
import { LaunchRefusedError } from '../protocol/errors.js';

/** What one form of the launch asks for that the policy decides on. */
export interface PrivilegeRequest {
  privileged?: boolean;
  network?: NetworkMode;
  namespaces?: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
  capAdd?: string[];
  devices?: string[];
  securityOpt?: string[];
  user?: string;
  volumes?: VolumeMount[];
}

/** How the form spells each option in messages: DockerInfo fields or `docker run` flags. */
export type RequestForm = 'DockerInfo' | 'docker option' | 'DockerInfo.parameters';

function refuse(form: RequestForm, option: string, setting: string): never {
  throw new LaunchRefusedError(`${form} ${option} is not allowed`, `set ${setting} in the containerizer configuration`);
}

/** `path` is `root` or lies below it (both already resolved). */
export function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function real(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The host path with symlinks resolved, when it lies in `allow.hostPaths` (also resolved); refuses otherwise. */
export function allowedHostPath(hostPath: string, config: ContainerizerConfig, where: string): string {
  const hint = 'add it (or a parent) to allow.hostPaths in the containerizer configuration';
  if (!hostPath.startsWith('/')) throw new LaunchRefusedError(`${where}: host path ${hostPath} is not absolute`);
  const resolved = real(hostPath);
  if (resolved === undefined) throw new LaunchRefusedError(`${where}: host path ${hostPath} does not exist`, hint);
  const roots = config.allow.hostPaths.map(real).filter((r): r is string => r !== undefined);
  if (!roots.some((root) => under(resolved, root))) {
    const shown = resolved === hostPath ? hostPath : `${hostPath} (${resolved})`;
    throw new LaunchRefusedError(`${where}: host path ${shown} may not be mounted`, hint);
  }
  return resolved;
}

/** uid 0 (however written) or group 0. */
const ROOT_USER = /^(0+|root)(:.*)?$|:(0+|root)$/;
const HARMLESS_SECURITY_OPTS = /^no-new-privileges(?:[:=]true)?$/;

/** Checks one form's request; returns its volumes with host paths resolved. */
export function checkPrivileges(
  request: PrivilegeRequest,
  form: RequestForm,
  config: ContainerizerConfig,
): VolumeMount[] {
  const flags = form !== 'DockerInfo';
  const { allow } = config;
  if (request.privileged && !allow.privileged)
    refuse(form, flags ? '--privileged' : 'privileged', 'allow.privileged: true');
  if (request.network === 'host' && !allow.hostNetwork)
    refuse(form, flags ? '--net=host' : 'network HOST', 'allow.hostNetwork: true');
  for (const [ns, value] of Object.entries(request.namespaces ?? {})) {
    if (value === 'host') {
      if (!allow.hostNamespaces) refuse(form, `--${ns}=host`, 'allow.hostNamespaces: true');
    } else if (!(ns === 'ipc' && ['private', 'none', 'shareable'].includes(value))) {
      throw new LaunchRefusedError(
        `${form} --${ns}=${value} is not supported`,
        `--${ns} accepts host${ns === 'ipc' ? ', private, none or shareable' : ''}`,
      );
    }
  }
  for (const cap of request.capAdd ?? []) {
    if (!allow.capabilities.includes('ALL') && !allow.capabilities.includes(cap))
      refuse(form, `--cap-add=${cap}`, `allow.capabilities: [${cap}]`);
  }
  for (const device of request.devices ?? []) {
    const host = device.split(':')[0] ?? '';
    const resolved = real(host);
    const allowed = allow.devices.some((d) => d === host || (resolved !== undefined && real(d) === resolved));
    if (!allowed) refuse(form, `--device=${device}`, `allow.devices: [${host}]`);
  }
  for (const opt of request.securityOpt ?? []) {
    if (!HARMLESS_SECURITY_OPTS.test(opt) && !allow.securityOptions)
      refuse(form, `--security-opt=${opt}`, 'allow.securityOptions: true');
  }
  if (request.user !== undefined && ROOT_USER.test(request.user) && !allow.rootUser)
    refuse(form, `--user=${request.user}`, 'allow.rootUser: true');
  return (request.volumes ?? []).map((v, i) => {
    const where = flags ? `${form} --volume ${v.hostPath}:${v.containerPath}` : `ContainerInfo.volumes[${i}]`;
    return { ...v, hostPath: allowedHostPath(v.hostPath, config, where) };
  });
}
