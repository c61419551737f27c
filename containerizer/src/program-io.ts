/**
 * What one call of the program sees of the world: its environment, working directory, the record
 * on its stdin, where its answer and its log go, and how to run the program again. A call started
 * by the slave uses the process's own (`processIO`); a call the resident service runs for a client
 * uses the client's (`service/server.ts`), so both behave alike.
 */
import { readRecord, writeAll, writeRecord } from './protocol/framing.js';

export interface ProgramIO {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The one framed record on stdin (throws BadRecordError for bad framing). */
  readRecord(): Buffer;
  /** The one answer record (usage, wait, containers), framed. */
  writeRecord(payload: Uint8Array): void;
  /** Text for the operator commands (`config`, `state`). */
  writeText(text: string): void;
  /** Logs and the one-line failure. */
  stderr: NodeJS.WritableStream;
  /** argv that runs this program again in its own process (the host executor's `--override`). */
  self: string[];
  /**
   * For a protocol call: sends stray writes to the process's stdout to stderr instead, where only
   * the answer record may appear (a full pipe hangs the slave). Returns the undo.
   */
  guardStdout?(): () => void;
}

/** The process's own streams and environment: the program started by the slave. */
export function processIO(viaTheseus: boolean): ProgramIO {
  const script = process.argv[1];
  return {
    env: process.env,
    cwd: process.cwd(),
    readRecord: () => readRecord(0),
    writeRecord: (payload) => writeRecord(payload, 1),
    writeText: (text) => writeAll(1, Buffer.from(text)),
    stderr: process.stderr,
    guardStdout() {
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((chunk: never, ...args: never[]) =>
        process.stderr.write(chunk, ...args)) as typeof process.stdout.write;
      return () => {
        process.stdout.write = write;
      };
    },
    self: [
      process.execPath,
      ...process.execArgv,
      ...(script ? [script] : []),
      ...(viaTheseus ? ['containerizer'] : []),
    ],
  };
}
