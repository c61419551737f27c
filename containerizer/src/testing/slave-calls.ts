/**
 * Calls the built containerizer program the way a Mesos slave does: the native client
 * `containerizer/bundle/theseus-containerizer [--config f] <command>` (which hands the call to the
 * resident service), one framed record written to stdin, stdin left open until the program has
 * exited (the slave closes it only after reaping), stdout and stderr collected. For tests and the
 * benchmark. Services a test starts leave 30 s after their last call unless the env says otherwise.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { frame } from '../protocol/framing.js';
import { encodeMessage } from '../protocol/messages.js';

/** The native client, as a slave runs it (built by `npm run build`). */
export const CLIENT = fileURLToPath(new URL('../../bundle/theseus-containerizer', import.meta.url));
/** The Node program itself (what the client runs when the service cannot be used). */
export const PROGRAM = fileURLToPath(new URL('../../../bin/theseus-containerizer.js', import.meta.url));
/** `theseus containerizer ...`: the same program through the `theseus` command. */
export const THESEUS = fileURLToPath(new URL('../../../bin/theseus.js', import.meta.url));

export interface CallResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface CallOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Raw bytes for stdin instead of a framed record (bad-input tests). */
  rawStdin?: Buffer;
  /** Close stdin after writing (only to prove a truncated record is refused). */
  closeStdin?: boolean;
  /** Called with the child once spawned (to signal it). */
  onSpawn?: (pid: number) => void;
  /** Run through `theseus containerizer` instead of the native client. */
  viaTheseus?: boolean;
  /** Run the Node program (bin/theseus-containerizer.js) instead of the native client. */
  node?: boolean;
}

export function callProgram(
  args: string[],
  record: Uint8Array | undefined,
  options: CallOptions = {},
): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const [file, ...entry] = options.viaTheseus
      ? [process.execPath, THESEUS, 'containerizer']
      : options.node
        ? [process.execPath, PROGRAM]
        : [CLIENT];
    const child = spawn(file as string, [...entry, ...args], {
      cwd: options.cwd,
      env: { THESEUS_CONTAINERIZER_IDLE_SECONDS: '30', ...(options.env ?? process.env) },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.on('error', () => undefined);
    const bytes = options.rawStdin ?? (record ? frame(record) : undefined);
    if (bytes) child.stdin.write(bytes);
    if (options.closeStdin) child.stdin.end();
    child.on('error', reject);
    child.on('close', (code, signal) => {
      child.stdin.destroy();
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** A `mesos.containerizer.<type>` message carrying only a container id (Wait, Usage, Destroy). */
export function idRecord(type: 'Wait' | 'Usage' | 'Destroy', containerId: string): Uint8Array {
  return encodeMessage(`mesos.containerizer.${type}`, { container_id: { value: containerId } });
}

/** A Launch of an executor container running `sleep 300` in the local busybox image, without network. */
export function sleeperLaunch(
  containerId: string,
  directory: string,
  limits: { cpus?: number; memMb?: number } = { memMb: 32 },
): Uint8Array {
  const resources = [
    ...(limits.cpus === undefined ? [] : [{ name: 'cpus', type: 'SCALAR', scalar: { value: limits.cpus } }]),
    ...(limits.memMb === undefined ? [] : [{ name: 'mem', type: 'SCALAR', scalar: { value: limits.memMb } }]),
  ];
  return encodeMessage('mesos.containerizer.Launch', {
    container_id: { value: containerId },
    executor_info: {
      executor_id: { value: containerId },
      command: { value: 'sleep 300' },
      resources,
      container: { type: 'DOCKER', docker: { image: 'theseus/busybox:local', network: 'NONE' } },
    },
    directory,
  });
}
