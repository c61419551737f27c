/**
 * `theseus deployer` (the server) and the client commands: deploy, services, status, scale,
 * restart, versions, rollback, logs, rm. Client commands find the deployer through --url or THESEUS_URL and send the token
 * read from --token-file or THESEUS_API_TOKEN (a file, so the token is never in the process list). `deploy --wait` shows each service's progress as it happens
 * and exits non-zero when anything failed.
 */
import { readFileSync } from 'node:fs';
import {
  DEFAULT_SETTINGS,
  commandProgram,
  readSecretFile,
  reportError,
  runUntilSignal,
  setUp,
  type Command,
} from '@theseus/services';
import { DeployerClient, type Selector } from './client.js';
import { startDeployerServer } from './server.js';
import { isFinished, type DeploymentRecord, type StepRecord } from './store.js';

const DEFAULT_URL = 'http://127.0.0.1:5000';

export async function run(command: string, argv: string[]): Promise<number> {
  try {
    switch (command) {
      case 'deployer':
        return await serve(argv);
      case 'deploy':
        return await deploy(argv);
      case 'services':
        return await services(argv);
      case 'status':
        return await status(argv);
      case 'scale':
        return await scale(argv);
      case 'restart':
        return await restart(argv);
      case 'versions':
        return await versions(argv);
      case 'rollback':
        return await rollback(argv);
      case 'logs':
        return await logs(argv);
      case 'rm':
        return await rm(argv);
      default:
        process.stderr.write(`theseus: the deployer has no command '${command}'\n`);
        return 2;
    }
  } catch (err) {
    return reportError(command, err);
  }
}

async function serve(argv: string[]): Promise<number> {
  const program = commandProgram('deployer', 'run the YAML deploy API (default port 5000)')
    .option('--port <port>', `listen on this port (deployer.port, default ${DEFAULT_SETTINGS.deployer.port})`, (v) =>
      Number(v),
    )
    .option(
      '--host <address>',
      `listen on this address (DEPLOYER_LISTEN_HOST, default ${DEFAULT_SETTINGS.deployer.listenHost})`,
    )
    .option('--no-worker', 'accept requests but leave the queue to other deployers');
  const { settings, logger, opts } = setUp(program, argv, {
    component: 'deployer',
    require: ['marathon.urls', 'api.token'],
    flags: (o) => ({ 'deployer.port': o.port, 'deployer.listenHost': o.host }),
  });
  const server = await startDeployerServer({ settings, logger, worker: opts.worker !== false });
  return runUntilSignal(logger, () => server.close());
}

/** Options every client command has. */
function clientProgram(name: string, description: string): Command {
  return commandProgram(name, description)
    .option('--url <url>', `deployer URL (THESEUS_URL, default ${DEFAULT_URL})`)
    .option('--token-file <file>', 'file holding the API token (default: THESEUS_API_TOKEN)');
}

function selectorProgram(program: Command): Command {
  return program
    .option('-n, --namespace <namespace>', 'namespace of the service')
    .option('-l, --labels <labels>', 'comma-separated labels of the group');
}

function clientOf(opts: Record<string, unknown>): DeployerClient {
  return new DeployerClient({
    url: (opts.url as string | undefined) ?? process.env.THESEUS_URL ?? DEFAULT_URL,
    token:
      typeof opts.tokenFile === 'string'
        ? readSecretFile(opts.tokenFile, '--token-file').trim()
        : process.env.THESEUS_API_TOKEN,
  });
}

function selectorOf(opts: Record<string, unknown>): Selector {
  const labels =
    typeof opts.labels === 'string'
      ? opts.labels
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean)
      : undefined;
  return { namespace: opts.namespace as string | undefined, labels };
}

function parse(program: Command, argv: string[]): { opts: Record<string, unknown>; args: string[] } {
  program.parse(argv, { from: 'user' });
  return { opts: program.opts(), args: program.args };
}

const out = (line = '') => process.stdout.write(line + '\n');

async function deploy(argv: string[]): Promise<number> {
  const program = clientProgram('deploy', 'send a deploy document and follow it')
    .requiredOption('-f, --file <file>', 'the deploy document (YAML or JSON; - for stdin)')
    .option('--dry-run', 'show what would change (Marathon JSON and diff), change nothing')
    .option('--wait', 'follow the deployment until every service has settled')
    .option('--idempotency-key <key>', 'a retried command with the same key does not deploy twice');
  const { opts } = parse(program, argv);
  const file = opts.file as string;
  const body = readFileSync(file === '-' ? 0 : file, 'utf8');
  const contentType = /\.json$/i.test(file) ? 'application/json' : 'application/yaml';
  const client = clientOf(opts);

  if (opts.dryRun) {
    for (const s of await client.dryRun(body, contentType)) {
      out(`${s.action.padEnd(7)} ${s.appId}`);
      for (const c of s.changes) out(`          ${c.path}: ${short(c.from)} -> ${short(c.to)}`);
    }
    return 0;
  }
  const accepted = await client.deploy(
    body,
    contentType,
    opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey as string } : {},
  );
  out(
    `deployment ${accepted.id} ${accepted.replayed ? '(already submitted with this key) ' : ''}queued: ${accepted.statusUrl}`,
  );
  if (!opts.wait) return 0;
  return follow(client, accepted.id);
}

/** Prints each step as it changes until the deployment ends; 0 when it succeeded. */
async function follow(client: DeployerClient, id: string, pollMs = 300): Promise<number> {
  const shown = new Map<string, string>();
  for (;;) {
    const record = await client.deployment(id);
    for (const step of record.steps) {
      const line = stepLine(step);
      if (shown.get(step.appId) !== line) {
        shown.set(step.appId, line);
        out(line);
      }
    }
    if (isFinished(record.state)) {
      out(summaryLine(record));
      return record.state === 'succeeded' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function stepLine(step: StepRecord): string {
  const what = [step.state.padEnd(9), step.appId, step.action ? `(${step.action})` : ''].filter(Boolean).join(' ');
  if (step.error) {
    const problems = (step.error.problems ?? []).map((p) => `\n    ${p.path}: ${p.message}`).join('');
    return `${what}: ${step.error.message}${problems}`;
  }
  return step.message ? `${what}: ${step.message}` : what;
}

function summaryLine(record: DeploymentRecord): string {
  const ok = record.steps.filter((s) => s.state === 'succeeded').length;
  return `deployment ${record.id} ${record.state}: ${ok}/${record.steps.length} service(s) succeeded`;
}

async function services(argv: string[]): Promise<number> {
  const { opts } = parse(selectorProgram(clientProgram('services', 'list deployed services')), argv);
  const rows = (await clientOf(opts).services(selectorOf(opts))).map((s) => [
    s.namespace,
    s.service,
    s.labels.join(',') || '-',
    `${s.running}/${s.instances}`,
    String(s.healthy),
    s.deployments.length ? 'deploying' : 'stable',
    s.image ?? '',
  ]);
  table(['NAMESPACE', 'SERVICE', 'LABELS', 'RUNNING', 'HEALTHY', 'STATE', 'IMAGE'], rows);
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const { opts, args } = parse(
    selectorProgram(clientProgram('status', 'show one service: spec, tasks, endpoints')).argument('<service>'),
    argv,
  );
  for (const g of await clientOf(opts).service(args[0]!, selectorOf(opts))) {
    out(`${g.appId}  (namespace ${g.namespace}, labels ${g.labels.join(',') || '-'})`);
    out(
      `  image ${g.spec.image ?? '-'}  instances ${g.running}/${g.instances} running, ${g.healthy} healthy  version ${g.version}${g.deployments.length ? '  deploying' : ''}`,
    );
    out(
      `  cpus ${g.spec.cpus ?? '-'}  mem ${g.spec.mem ?? '-'} MB  ports ${
        Object.entries(g.spec.ports)
          .map(([n, p]) => `${n}:${p.containerPort}/${p.protocol ?? 'tcp'}`)
          .join(' ') || '-'
      }`,
    );
    const env = Object.entries(g.spec.environment);
    if (env.length) out(`  env ${env.map(([name, value]) => `${name}=${value ?? '(hidden)'}`).join(' ')}`);
    for (const t of g.tasks)
      out(
        `  task ${t.id}  ${t.state ?? ''}${t.healthy === undefined ? '' : t.healthy ? ' healthy' : ' unhealthy'}  ${Object.entries(
          t.endpoints,
        )
          .map(([n, e]) => `${n}=${e}`)
          .join(' ')}`,
      );
  }
  return 0;
}

async function scale(argv: string[]): Promise<number> {
  const program = selectorProgram(clientProgram('scale', 'change the instance count of a service'))
    .argument('<service>')
    .argument('<instances>')
    .option('--wait', 'follow until done');
  const { opts, args } = parse(program, argv);
  const instances = Number(args[1]);
  if (!Number.isInteger(instances) || instances < 0) {
    process.stderr.write(`theseus scale: instances must be a whole number >= 0, not ${JSON.stringify(args[1])}\n`);
    return 2;
  }
  return submitted(
    clientOf(opts),
    await clientOf(opts).scale(args[0]!, instances, selectorOf(opts)),
    Boolean(opts.wait),
  );
}

async function restart(argv: string[]): Promise<number> {
  const program = selectorProgram(
    clientProgram('restart', 'replace every instance of a service, rolling per its upgrade settings'),
  )
    .argument('<service>')
    .option('--wait', 'follow until done');
  const { opts, args } = parse(program, argv);
  return submitted(clientOf(opts), await clientOf(opts).restart(args[0]!, selectorOf(opts)), Boolean(opts.wait));
}

async function versions(argv: string[]): Promise<number> {
  const { opts, args } = parse(
    selectorProgram(clientProgram('versions', "list a service's versions and what changed between them")).argument(
      '<service>',
    ),
    argv,
  );
  const { appId, versions } = await clientOf(opts).versions(args[0]!, selectorOf(opts));
  out(appId);
  for (const v of versions) {
    out(`${v.current ? '*' : ' '} ${v.version}  ${v.kind}`);
    for (const c of v.changes) out(`      ${c.path}: ${short(c.from)} -> ${short(c.to)}`);
  }
  return 0;
}

async function logs(argv: string[]): Promise<number> {
  const program = selectorProgram(
    clientProgram('logs', "print a service's output (stdout by default), every instance's lines prefixed with its id"),
  )
    .argument('<service>')
    .option('-i, --instance <id>', 'only this instance (its id, or the short id in the line prefix)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--tail <lines>', 'start with the last lines of each instance (default: its whole current file)')
    .option('--since <duration>', 'refused: sandbox files carry no timestamps (use --tail)')
    .option('--stderr', 'print stderr instead of stdout');
  const { opts, args } = parse(program, argv);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await clientOf(opts).logs(
      args[0]!,
      selectorOf(opts),
      {
        instance: opts.instance as string | undefined,
        follow: Boolean(opts.follow),
        tail: opts.tail as string | undefined,
        since: opts.since as string | undefined,
        stream: opts.stderr ? 'stderr' : 'stdout',
      },
      (text) => process.stdout.write(text),
      abort.signal,
    );
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}

async function rollback(argv: string[]): Promise<number> {
  const program = selectorProgram(clientProgram('rollback', 'roll a service back to its previous version'))
    .argument('<service>')
    .option('--to <version>', 'a version to return to, as `theseus versions` lists them (default: the previous one)')
    .option('--version <version>', 'the same as --to')
    .option('--wait', 'follow until done');
  const { opts, args } = parse(program, argv);
  const version = (opts.to ?? opts.version) as string | undefined;
  return submitted(
    clientOf(opts),
    await clientOf(opts).rollback(args[0]!, version, selectorOf(opts)),
    Boolean(opts.wait),
  );
}

async function rm(argv: string[]): Promise<number> {
  const program = selectorProgram(clientProgram('rm', 'remove a service'))
    .argument('<service>')
    .option('--wait', 'follow until done');
  const { opts, args } = parse(program, argv);
  return submitted(clientOf(opts), await clientOf(opts).remove(args[0]!, selectorOf(opts)), Boolean(opts.wait));
}

async function submitted(
  client: DeployerClient,
  accepted: { id: string; statusUrl: string },
  wait: boolean,
): Promise<number> {
  out(`deployment ${accepted.id} queued: ${accepted.statusUrl}`);
  return wait ? follow(client, accepted.id) : 0;
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows])
    out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
