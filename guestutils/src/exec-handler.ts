/**
 * `theseus watch --exec 'command'`: a handler that runs a shell command for each delta, the delta
 * as JSON on its stdin and in THESEUS_DELTA (THESEUS_SERVICE names the service). The watcher
 * already guarantees that calls never overlap and that a failed call's changes come again (merged
 * with newer ones); a command that exits non-zero is such a failure, with its stderr in the log.
 */
import { spawn } from 'node:child_process';
import type { EndpointDelta } from './delta.js';
import type { ServiceChangeHandler } from './watcher.js';

/** Linux refuses a single variable longer than 128 KiB; stdin always has the whole delta. */
const MAX_DELTA_VARIABLE = 120 * 1024;
/** The end of a failed command's stderr kept for the log. */
const KEPT_STDERR = 2_000;

export class CommandFailedError extends Error {
  constructor(
    readonly command: string,
    readonly exit: string,
    readonly stderr: string,
  ) {
    super(`${JSON.stringify(command)} ${exit}${stderr ? `: ${stderr}` : ''}`);
  }
}

export function execHandler(command: string, env: NodeJS.ProcessEnv = process.env): ServiceChangeHandler {
  return (service: string, delta: EndpointDelta) =>
    new Promise<void>((resolve, reject) => {
      const payload = JSON.stringify(delta);
      const child = spawn('/bin/sh', ['-c', command], {
        stdio: ['pipe', 'inherit', 'pipe'],
        env: {
          ...env,
          THESEUS_SERVICE: service,
          ...(payload.length <= MAX_DELTA_VARIABLE ? { THESEUS_DELTA: payload } : {}),
        },
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        process.stderr.write(chunk);
        stderr = (stderr + chunk.toString()).slice(-KEPT_STDERR);
      });
      // A command that does not read its stdin closes it early: that is not a failure.
      child.stdin.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') reject(new CommandFailedError(command, `its stdin failed (${err.message})`, ''));
      });
      child.stdin.end(payload);
      child.on('error', (err) => reject(new CommandFailedError(command, `could not start (${err.message})`, '')));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else
          reject(
            new CommandFailedError(command, signal ? `was killed by ${signal}` : `exited with ${code}`, stderr.trim()),
          );
      });
    });
}
