/**
 * Writes a host-process task's output into its sandbox's rotated `stdout` and `stderr`, as Mesos's
 * logrotate logger process does: the task's stdout arrives on fd 0 and its stderr on fd 3, and this
 * process, started detached beside the task, outlives an engine restart just as the task does.
 * Usage: sandbox-logger <sandbox> <maxFileBytes> <maxFiles>
 */
import { createReadStream } from 'node:fs';
import { RotatingFile } from '@theseus/containerizer/sandbox-output';

const [sandbox, maxFileBytes, maxFiles] = process.argv.slice(2);
const limits = { maxFileBytes: Number(maxFileBytes), maxFiles: Number(maxFiles) };
if (!sandbox || !Number.isInteger(limits.maxFileBytes) || !Number.isInteger(limits.maxFiles)) {
  process.stderr.write('usage: sandbox-logger <sandbox> <maxFileBytes> <maxFiles>\n');
  process.exit(2);
}

function copy(fd: number, name: string): Promise<void> {
  const file = new RotatingFile(sandbox!, name, limits, (err) => process.stderr.write(`${err.message}\n`));
  file.write(Buffer.alloc(0));
  return new Promise((resolve) => {
    const input = createReadStream('', { fd });
    input.on('data', (chunk) => file.write(chunk as Buffer));
    input.on('error', (err) => {
      process.stderr.write(`reading the task's ${name}: ${err.message}\n`);
      file.close();
      resolve();
    });
    input.on('close', () => {
      file.close();
      resolve();
    });
  });
}

await Promise.all([copy(0, 'stdout'), copy(3, 'stderr')]);
