/**
 * `theseus guest <function> [args] [--json]`: discovery for containers that do not run Node.
 *   theseus guest node-list redis --ports api      one host:port a line
 *   theseus guest specific-port redis <task> api   a number
 * Function names may be written as maestro wrote them (get_node_list, getNodeList, node-list).
 * A question without an answer exits 1 with one line naming what is missing; misuse exits 2.
 *
 * `theseus watch [--handler ./watch_methods.js | --exec 'command']`: calls serviceChange(service,
 * delta), or runs the command, when a service of WATCHES changes; without either, prints each delta
 * as a JSON line. `--template t --out f [--check c] [--reload r]` is theseus-guest's renderer
 * (Go templates, as confd's), run with the same settings.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@theseus/services/errors';
import { commandProgram, reportError, runUntilSignal, setUp } from '@theseus/services';
import { Guest, type NodeListOptions } from './guest.js';
import { execHandler } from './exec-handler.js';
import { loadHandlerModule } from './handler-module.js';
import { parseWatchList, watchServices, type ServiceChangeHandler } from './watcher.js';
import type { EndpointDelta } from './delta.js';

type Answer = string | number | readonly unknown[];

interface FunctionEntry {
  args: string[];
  summary: string;
  answer(guest: Guest, args: string[], opts: GuestFlags): Answer | Promise<Answer>;
}

interface GuestFlags {
  json?: boolean;
  ports?: string[];
  labels?: string[];
  minimum?: number;
  default?: number;
  includeUnhealthy?: boolean;
  namespace?: string;
}

const FUNCTIONS: Record<string, FunctionEntry> = {
  'environment-name': {
    args: [],
    summary: 'the namespace this container runs in',
    answer: (g) => g.getEnvironmentName(),
  },
  'service-name': { args: [], summary: "this container's service", answer: (g) => g.getServiceName() },
  'container-name': { args: [], summary: "this container's name (its task id)", answer: (g) => g.getContainerName() },
  'container-host-address': {
    args: [],
    summary: 'the address of the host this container runs on',
    answer: (g) => g.getContainerHostAddress(),
  },
  'container-internal-address': {
    args: [],
    summary: "this container's own IPv4 address",
    answer: (g) => g.getContainerInternalAddress(),
  },
  labels: { args: [], summary: "this service's labels", answer: (g) => g.getLabels() },
  port: {
    args: ['name'],
    summary: 'the port this container listens on for a named port [--default]',
    answer: (g, [name], o) => g.getPort(name!, o.default),
  },
  'node-list': {
    args: ['service'],
    summary: 'host[:port...] of each instance [--ports a,b] [--labels x,y] [--minimum n]',
    answer: (g, [service], o) => g.getNodeList(service!, nodeListOptions(o)),
  },
  endpoints: {
    args: ['service'],
    summary: 'the endpoint records of each instance [--labels x,y]',
    answer: (g, [service], o) => g.getEndpoints(service!, nodeListOptions(o)),
  },
  'specific-host': {
    args: ['service', 'container'],
    summary: 'the host of one container',
    answer: (g, [s, c]) => g.getSpecificHost(s!, c!),
  },
  'specific-port': {
    args: ['service', 'container', 'port'],
    summary: "the host port of one container's named port [--default]",
    answer: (g, [s, c, p], o) => g.getSpecificPort(s!, c!, p!, o.default),
  },
  'specific-exposed-port': {
    args: ['service', 'container', 'port'],
    summary: "the container port of one container's named port [--default]",
    answer: (g, [s, c, p], o) => g.getSpecificExposedPort(s!, c!, p!, o.default),
  },
};

function nodeListOptions(o: GuestFlags): NodeListOptions {
  return {
    ...(o.ports ? { ports: o.ports } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.minimum !== undefined ? { minimum: o.minimum } : {}),
    ...(o.includeUnhealthy ? { includeUnhealthy: true } : {}),
  };
}

/** get_node_list, getNodeList, node_list and node-list all name `node-list`. */
export function functionName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/_/g, '-')
    .replace(/^get-/, '');
}

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function wholeNumber(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new Error(`${flag} must be a whole number, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

function format(answer: Answer, json: boolean): string {
  if (json) return JSON.stringify(answer) + '\n';
  if (Array.isArray(answer))
    return answer.map((item) => (typeof item === 'object' ? JSON.stringify(item) : String(item)) + '\n').join('');
  return `${String(answer)}\n`;
}

async function runGuest(command: string, argv: string[]): Promise<number> {
  const functions = Object.entries(FUNCTIONS).map(
    ([name, f]) => `  ${[name, ...f.args.map((a) => `<${a}>`)].join(' ').padEnd(52)}${f.summary}`,
  );
  const program = commandProgram(command, 'service discovery from inside a container')
    .argument('<function>', 'what to ask (see below)')
    .argument('[args...]', 'its arguments')
    .option('--json', 'print the answer as JSON')
    .option('--ports <names>', 'port names for node-list, comma-separated', list)
    .option('--labels <labels>', 'only instances with all these labels, comma-separated', list)
    .option('--minimum <n>', 'fewer instances than this is an error (node-list, default 1)', wholeNumber('--minimum'))
    .option('--default <port>', 'answer this port when the one asked for does not exist', wholeNumber('--default'))
    .option('--include-unhealthy', 'include instances whose health checks fail')
    .option('--namespace <namespace>', 'look peers up in this namespace (default: ENVIRONMENT_NAME)')
    .addHelpText('after', `\nFunctions:\n${functions.join('\n')}\n`);
  const { settings, opts, args } = setUp(program, argv, { component: 'guest' });
  const [requested, ...rest] = args as [string, ...string[]];
  const name = functionName(requested);
  const entry = FUNCTIONS[name];
  if (!entry) {
    process.stderr.write(
      `theseus ${command}: unknown function '${requested}' (one of: ${Object.keys(FUNCTIONS).join(', ')})\n`,
    );
    return 2;
  }
  if (rest.length !== entry.args.length) {
    process.stderr.write(
      `theseus ${command}: ${name} takes ${entry.args.map((a) => `<${a}>`).join(' ') || 'no arguments'}\n`,
    );
    return 2;
  }
  const flags = opts as GuestFlags;
  const guest = new Guest({
    endpoints: settings.etcd.endpoints,
    prefix: settings.etcd.prefix,
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
  });
  try {
    process.stdout.write(format(await entry.answer(guest, rest, flags), Boolean(flags.json)));
    return 0;
  } finally {
    await guest.close();
  }
}

/** Without a handler module: one JSON line per delta on stdout. */
const printDelta: ServiceChangeHandler = (_service: string, delta: EndpointDelta) => {
  process.stdout.write(JSON.stringify(delta) + '\n');
};

async function runWatch(command: string, argv: string[]): Promise<number> {
  const program = commandProgram(command, 'call a handler when the services of WATCHES change')
    .option(
      '--handler <module>',
      'module exporting serviceChange(service, delta) (default: WATCH_HANDLER; none: print deltas)',
    )
    .option(
      '--coalesce-ms <ms>',
      'deliver changes within this window as one delta (default: WATCH_COALESCE_MS or 100)',
      wholeNumber('--coalesce-ms'),
    )
    .option('--namespace <namespace>', 'watch services of this namespace (default: ENVIRONMENT_NAME)')
    .option('--labels <labels>', 'only instances with all these labels, comma-separated', list)
    .option('--no-initial', 'do not report the instances already running at start')
    .option(
      '--exec <command>',
      'run this command (sh -c) on each change: the delta as JSON on stdin and in THESEUS_DELTA',
    )
    .option('--template <file>', 'render the watched services through this Go template (theseus-guest) into --out')
    .option('--out <file>', 'the file --template renders to (written atomically, only when it changed)')
    .option(
      '--check <command>',
      'validate the rendered file first ({{out}} is the temporary file); on failure the old file stays',
    )
    .option('--reload <command>', 'run after --out changed; a failure is reported and retried');
  const { settings, logger, opts } = setUp(program, argv, {
    component: 'watch',
    logStream: process.stderr,
    flags: (o) => ({ 'guest.handler': o.handler, 'guest.coalesceMs': o.coalesceMs }),
  });
  const services = parseWatchList(settings.guest.watches, 'WATCHES');
  const ways = [
    opts.exec && '--exec',
    opts.template && '--template',
    settings.guest.handler && (opts.handler ? '--handler' : 'WATCH_HANDLER'),
  ].filter(Boolean);
  if (ways.length > 1) throw new ConfigError(ways.join(', '), 'these are different ways to act on a change: use one');
  if (!opts.template && (opts.out || opts.check || opts.reload))
    throw new ConfigError('--out, --check, --reload', 'go with --template');
  if (opts.template) {
    const args = [
      'watch',
      ...services,
      '--template',
      opts.template as string,
      '--out',
      requiredOut(opts.out),
      '--coalesce-ms',
      String(settings.guest.coalesceMs),
    ];
    args.push('--etcd', settings.etcd.endpoints.join(','), '--prefix', settings.etcd.prefix);
    for (const flag of ['check', 'reload', 'namespace'] as const)
      if (opts[flag]) args.push(`--${flag}`, String(opts[flag]));
    if (opts.labels) args.push('--labels', (opts.labels as string[]).join(','));
    if (opts.initial === false) args.push('--no-initial');
    return runGuestProgram(args);
  }
  const handler = opts.exec
    ? execHandler(opts.exec as string)
    : settings.guest.handler
      ? await loadHandlerModule(settings.guest.handler, opts.handler ? '--handler' : 'WATCH_HANDLER')
      : printDelta;
  const watcher = watchServices(services, handler, {
    endpoints: settings.etcd.endpoints,
    prefix: settings.etcd.prefix,
    coalesceMs: settings.guest.coalesceMs,
    reportInitial: opts.initial !== false,
    logger,
    ...(opts.labels ? { labels: opts.labels as string[] } : {}),
    ...(opts.namespace ? { namespace: opts.namespace as string } : {}),
  });
  return runUntilSignal(logger, () => watcher.stop());
}

function requiredOut(out: unknown): string {
  if (typeof out !== 'string' || out === '') throw new ConfigError('--template', 'needs --out <file>');
  return out;
}

/** theseus-guest as built by `npm run build` (guestutils/bundle/), else from PATH. */
function guestProgram(): string {
  const built = fileURLToPath(new URL('../bundle/theseus-guest', import.meta.url));
  return existsSync(built) ? built : 'theseus-guest';
}

/** Runs theseus-guest in the foreground, passing on SIGTERM and SIGINT; resolves to its exit code. */
function runGuestProgram(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(guestProgram(), args, { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGTERM', forward).on('SIGINT', forward);
    child.on('error', (err) => {
      process.stderr.write(
        `theseus watch: --template needs theseus-guest (${err.message}); build it with npm run build where Go is installed\n`,
      );
      resolve(1);
    });
    child.on('close', (code) => {
      process.off('SIGTERM', forward).off('SIGINT', forward);
      resolve(code ?? 1);
    });
  });
}

export async function run(command: string, argv: string[]): Promise<number> {
  try {
    return command === 'watch' ? await runWatch(command, argv) : await runGuest(command, argv);
  } catch (err) {
    return reportError(command, err);
  }
}
