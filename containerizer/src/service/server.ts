/**
 * The resident containerizer service. A slave starts the program for every call (`usage` about once
 * a second per container), and a Node process costs ~20 ms to start before any of the program runs;
 * the native client (`native/theseus-containerizer.c`) starts in about a millisecond and hands the
 * call to this service, which runs it with modules, codecs and configuration parsing already warm.
 * Each call runs exactly as the program would run it in its own process: with the client's
 * arguments, environment, working directory and stdin bytes, its answer and log sent back to the
 * client (`ProgramIO`). The state directory's locks serialise calls on one container here as
 * between processes. The client starts the service when none answers; it leaves after
 * `idleSeconds` without a call.
 */
import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { chmodSync, statSync, unlinkSync } from 'node:fs';
import { frame, recordFromBytes } from '../protocol/framing.js';
import { BadRecordError } from '../protocol/errors.js';
import type { ProgramIO } from '../program-io.js';
import {
  FRAME,
  IncompleteRequest,
  MAX_REQUEST_BYTES,
  answerFrame,
  exitFrame,
  parseRequest,
  type ServiceRequest,
} from './wire.js';
import type { ServiceOptions } from './service-options.js';

export interface RunningService {
  /** Resolves once the service has stopped taking calls and every call under way has answered. */
  readonly closed: Promise<void>;
  close(): void;
}

type Runner = (argv: string[], io: ProgramIO) => Promise<number>;

export async function startService(options: ServiceOptions, runProgram: Runner): Promise<RunningService> {
  let active = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let closing = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const server = createServer((socket) => {
    active++;
    clearTimeout(idleTimer);
    serveConnection(socket, options, runProgram, close)
      .catch((err: unknown) => options.log(`theseus-containerizer service: a call failed: ${String(err)}`))
      .finally(() => {
        active--;
        if (active === 0) closing ? finish() : armIdle();
      });
  });
  const armIdle = () => {
    clearTimeout(idleTimer);
    if (options.idleSeconds > 0) idleTimer = setTimeout(close, options.idleSeconds * 1000).unref();
  };
  let socketIno: number | undefined;
  const finish = () => {
    try {
      if (socketIno !== undefined && statSync(options.socketPath).ino === socketIno) unlinkSync(options.socketPath);
    } catch {
      // already gone or replaced: not ours to remove
    }
    resolveClosed();
  };
  function close() {
    if (closing) return;
    closing = true;
    clearTimeout(idleTimer);
    options.log(`theseus-containerizer service on ${options.socketPath}: stopping`);
    server.close();
    if (active === 0) finish();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(options.socketPath, 0o600);
  socketIno = statSync(options.socketPath).ino;
  server.on('error', (err) => options.log(`theseus-containerizer service: ${err.message}`));
  options.log(
    `theseus-containerizer service on ${options.socketPath}: ready (pid ${process.pid}, leaves after ${options.idleSeconds} s idle)`,
  );
  armIdle();
  return { closed, close };
}

/** Reads one request, runs it, answers; never throws. */
async function serveConnection(
  socket: Socket,
  options: ServiceOptions,
  runProgram: Runner,
  retire: () => void,
): Promise<void> {
  let gone = false;
  socket.on('error', () => (gone = true));
  socket.on('close', () => (gone = true));
  const send = (bytes: Buffer) => {
    if (!gone) socket.write(bytes);
  };
  const request = await readRequest(socket).catch((err: Error) => {
    send(answerFrame(FRAME.stderr, Buffer.from(`theseus-containerizer service: ${err.message}\n`)));
    send(exitFrame(2));
    return undefined;
  });
  if (request && options.isCurrent && !options.isCurrent()) {
    options.log('theseus-containerizer service: the installed program changed; retiring');
    retire();
    send(answerFrame(FRAME.callAgain, Buffer.alloc(0)));
  } else if (request) {
    const stderr = new Writable({
      write(chunk: Buffer, _encoding, done) {
        send(answerFrame(FRAME.stderr, chunk));
        done();
      },
    });
    let status: number;
    try {
      status = await runProgram(request.argv, {
        env: request.env,
        cwd: request.cwd,
        readRecord: () => {
          if (!request.stdin) throw new BadRecordError('the client sent no record');
          return recordFromBytes(request.stdin);
        },
        writeRecord: (payload) => send(answerFrame(FRAME.stdout, frame(payload))),
        writeText: (text) => send(answerFrame(FRAME.stdout, Buffer.from(text))),
        stderr,
        self: options.self,
      });
    } catch (err) {
      send(
        answerFrame(
          FRAME.stderr,
          Buffer.from(`theseus-containerizer: ${err instanceof Error ? err.message : String(err)}\n`),
        ),
      );
      status = 1;
    }
    send(exitFrame(status));
  }
  if (!gone) await new Promise<void>((resolve) => socket.end(resolve));
}

function readRequest(socket: Socket): Promise<ServiceRequest> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | undefined, request?: ServiceRequest) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(request as ServiceRequest);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) return done(new Error(`request larger than ${MAX_REQUEST_BYTES} bytes`));
      try {
        done(undefined, parseRequest(chunks.length === 1 ? chunk : Buffer.concat(chunks)));
      } catch (err) {
        if (!(err instanceof IncompleteRequest)) done(err as Error);
      }
    };
    const onEnd = () => done(new Error('the client closed the connection before its request was complete'));
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}
