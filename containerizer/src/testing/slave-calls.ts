/**
 * Calls the built containerizer program the way a Mesos slave does: `node bin/theseus-containerizer.js
 * [--config f] <command>`, one framed record written to stdin, stdin left open until the program
 * has exited (the slave closes it only after reaping), stdout and stderr collected. For tests and
 * the benchmark.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { frame } from '../protocol/framing.js';
import { encodeMessage } from '../protocol/messages.js';

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
  /** Run through `theseus containerizer` instead of `theseus-containerizer`. */
  viaTheseus?: boolean;
}

export function callProgram(args: string[], record: Uint8Array | undefined, options: CallOptions = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const entry = options.viaTheseus ? [THESEUS, 'containerizer'] : [PROGRAM];
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
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
