/**
 * `theseus-containerizer [--config <file>] <command>` and `theseus containerizer ...`: the Mesos
 * external containerizer program. The slave runs `<containerizer_path> <command>` through
 * `/bin/sh -c`, so options go before the command. Modules load per command: `usage` runs about
 * once a second per container and must start fast.
 */
import { TheseusError } from '@theseus/services/errors';
import { processIO, type ProgramIO } from './program-io.js';

const PROTOCOL = ['launch', 'update', 'usage', 'wait', 'destroy', 'containers', 'recover'] as const;
type ProtocolCommand = (typeof PROTOCOL)[number];

const HELP = `Usage: theseus-containerizer [--config <file>] <command>

The Mesos external containerizer (slave flag --containerizer_path): runs every task and executor
in a Docker container.

Slave protocol (one framed record on stdin; usage, wait and containers answer one on stdout):
  launch       start the container of a Launch and return
  wait         block until the container ends, answer its Termination
  usage        answer the container's ResourceStatistics
  update       apply new cpu/mem limits
  destroy      stop and remove the container (unknown containers are fine)
  containers   answer the ids of this slave's containers
  recover      reconcile the state directory with the Docker Engine

Operators:
  state [--rm] list (and with --rm remove) the state of ended containers
  config       print the effective configuration
  serve --socket <path> [--idle-seconds <n>]
               the resident service the native client hands calls to

Configuration: --config <file>, $THESEUS_CONTAINERIZER_CONFIG, ./containerizer.yaml,
~/.theseus/containerizer.yaml, /etc/theseus/containerizer.yaml (the first found).
`;

function fail(io: ProgramIO, command: string, err: unknown): number {
  const text = err instanceof TheseusError ? err.describe() : err instanceof Error ? err.message : String(err);
  io.stderr.write(`theseus-containerizer ${command}: ${text.replace(/\n/g, ' ')}\n`);
  return 1;
}

export async function run(_command: string, argv: string[]): Promise<number> {
  return runProgram(argv, processIO(process.argv[2] === 'containerizer'));
}

function parseArgs(argv: string[]): { configPath: string | undefined; sub: string | undefined; rest: string[] } {
  let configPath: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--config') configPath = argv[++i];
    else if (arg.startsWith('--config=')) configPath = arg.slice('--config='.length);
    else break;
  }
  return { configPath, sub: argv[i], rest: argv.slice(i + 1) };
}

/** Whether `argv` is a call of the slave protocol (what the resident service runs). */
export function isProtocolCall(argv: string[]): boolean {
  const { sub } = parseArgs(argv);
  return sub !== undefined && (PROTOCOL as readonly string[]).includes(sub);
}

/** One call of the program with `io` as its world (the process's own, or a service client's). */
export async function runProgram(argv: string[], io: ProgramIO): Promise<number> {
  const { configPath, sub, rest } = parseArgs(argv);
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    if (sub === undefined) io.stderr.write(HELP);
    else io.writeText(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (configPath === '') return fail(io, sub, new Error('--config needs a file name'));
  if ((PROTOCOL as readonly string[]).includes(sub)) return runProtocol(sub as ProtocolCommand, configPath, io);
  switch (sub) {
    case 'observe':
      return runObserve(rest[0], configPath, io);
    case 'state':
      return runOperator('state', configPath, rest, io);
    case 'config':
      return runOperator('config', configPath, rest, io);
    case 'serve':
      return (await import('./service/serve-command.js')).serveCommand(rest, io, runServiceCall);
    default:
      io.stderr.write(
        `theseus-containerizer: unknown command '${sub}' (commands: ${PROTOCOL.join(', ')}, state, config, serve)\n`,
      );
      return 2;
  }
}

/** A call the resident service was sent: protocol calls only. */
function runServiceCall(argv: string[], io: ProgramIO): Promise<number> {
  if (isProtocolCall(argv)) return runProgram(argv, io);
  io.stderr.write(
    `theseus-containerizer service: runs protocol calls only (${PROTOCOL.join(', ')}), not '${argv.join(' ')}'\n`,
  );
  return Promise.resolve(2);
}

async function runProtocol(command: ProtocolCommand, configPath: string | undefined, io: ProgramIO): Promise<number> {
  let ctx: import('./commands/context.js').ProgramContext | undefined;
  const restoreStdout = io.guardStdout?.();
  try {
    const record = command === 'containers' || command === 'recover' ? undefined : io.readRecord();
    const { programContext } = await import('./commands/context.js');
    ctx = await programContext(configPath, io);
    let answer: Uint8Array | undefined;
    if (command === 'launch') await (await import('./commands/launch.js')).launch(ctx, record as Buffer);
    else if (command === 'containers' || command === 'recover') {
      const inventory = await import('./commands/inventory.js');
      if (command === 'containers') answer = await inventory.containers(ctx);
      else await inventory.recover(ctx);
    } else {
      const lifecycle = await import('./commands/lifecycle.js');
      if (command === 'wait') answer = await lifecycle.wait(ctx, record as Buffer);
      else if (command === 'usage') answer = await lifecycle.usage(ctx, record as Buffer);
      else if (command === 'update') await lifecycle.update(ctx, record as Buffer);
      else await lifecycle.destroy(ctx, record as Buffer);
    }
    if (answer) io.writeRecord(answer);
    return 0;
  } catch (err) {
    // stderr gets the one line below; syslog, when configured, gets the failure too
    if (ctx?.config.log.syslog)
      ctx.log.error(`${command} failed`, { error: err instanceof Error ? err.message : String(err) });
    await ctx?.log.flush();
    return fail(io, command, err);
  } finally {
    await ctx?.log.flush();
    restoreStdout?.();
  }
}

async function runObserve(
  containerId: string | undefined,
  configPath: string | undefined,
  io: ProgramIO,
): Promise<number> {
  if (!containerId) return fail(io, 'observe', new Error('usage: observe <container-id>'));
  const { programContext } = await import('./commands/context.js');
  let ctx: import('./commands/context.js').ProgramContext | undefined;
  try {
    ctx = await programContext(configPath, io);
    return await (await import('./commands/lifecycle.js')).observe(ctx, containerId);
  } catch (err) {
    return fail(io, 'observe', err);
  } finally {
    await ctx?.log.flush();
  }
}

async function runOperator(
  command: 'state' | 'config',
  configPath: string | undefined,
  args: string[],
  io: ProgramIO,
): Promise<number> {
  let ctx: import('./commands/context.js').ProgramContext | undefined;
  try {
    const unknown = args.filter((a) => a !== '--rm' || command !== 'state');
    if (unknown.length) throw new Error(`unexpected argument ${unknown[0]}`);
    const { programContext } = await import('./commands/context.js');
    ctx = await programContext(configPath, io);
    if (command === 'config') {
      const { printableConfig } = await import('./config.js');
      io.writeText(JSON.stringify(printableConfig(ctx.config), null, 2) + '\n');
    } else await (await import('./commands/inventory.js')).state(ctx, args.includes('--rm'));
    return 0;
  } catch (err) {
    return fail(io, command, err);
  } finally {
    await ctx?.log.flush();
  }
}
