/**
 * `theseus engine`: settings are the `engine` section and MARATHON_CREDENTIALS (the basic auth every
 * Theseus part already sends through MARATHON_URL). SIGTERM/SIGINT leave tasks running for the next start.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, commandProgram, reportError, runUntilSignal, setUp } from '@theseus/services';
import { startEngine } from './run.js';
import { dockerRunnerIfAvailable } from './tasks/docker-runner.js';

function numberFlag(name: string, what: string, ok: (n: number) => boolean) {
  return (value: string) => {
    const n = Number(value);
    if (!ok(n)) throw new Error(`--${name} must be ${what}, got ${JSON.stringify(value)}`);
    return n;
  };
}
const intFlag = (name: string) =>
  numberFlag(name, 'a port number (0-65535)', (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
const positive = (name: string) => numberFlag(name, 'a positive number', (n) => Number.isFinite(n) && n > 0);

const commaList = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export async function run(command: string, argv: string[]): Promise<number> {
  const program = commandProgram(command, 'serve the Marathon REST API v2 and event bus, running tasks on this machine')
    .option('--port <port>', `HTTP port (default ${DEFAULT_SETTINGS.engine.port}; 0 picks a free one)`, intFlag('port'))
    .option('--data-dir <dir>', 'where apps, versions and tasks are kept (default ~/.theseus/engine)')
    .option('--hostname <host>', `address tasks are reported at (default ${DEFAULT_SETTINGS.engine.hostname})`)
    .option('--cpus <n>', 'CPUs offered to tasks (default: all of the machine)', positive('cpus'))
    .option('--mem-mb <n>', 'memory offered to tasks, MB (default: all of the machine)', positive('mem-mb'))
    .option('--enable-features <list>', 'Marathon features to enable, comma-separated (secrets, external_volumes)')
    .option(
      '--listen <addresses>',
      `addresses to listen on, comma-separated (default ${DEFAULT_SETTINGS.engine.listen.join(',')}; others need MARATHON_CREDENTIALS)`,
    )
    .option(
      '--default-container-image <image>',
      `image apps with a cmd and no container run in (default ${DEFAULT_SETTINGS.engine.defaultContainerImage})`,
    )
    .option(
      '--allow-host-commands',
      "run apps with a cmd and no container as processes on this host, with the engine's rights",
    )
    .option('--allow-privileged', 'let apps run privileged containers')
    .option('--allow-host-network', "let apps join this host's network namespace")
    .option('--allow-user', 'let apps choose the user their container runs as')
    .option('--allow-host-volumes', 'let apps bind-mount any host path');
  try {
    const { settings, logger, opts } = setUp(program, argv, {
      component: 'engine',
      flags: (o) => ({
        // 0 (any free port) is for tests and scripts; the settings schema knows real ports only
        'engine.port': o.port === 0 ? undefined : o.port,
        'engine.dataDir': o.dataDir,
        'engine.hostname': o.hostname,
        'engine.cpus': o.cpus,
        'engine.memMb': o.memMb,
        'engine.listen': typeof o.listen === 'string' ? commaList(o.listen) : undefined,
        'engine.defaultContainerImage': o.defaultContainerImage,
        'engine.allowHostCommands': o.allowHostCommands ? true : undefined,
        'engine.allowPrivileged': o.allowPrivileged ? true : undefined,
        'engine.allowHostNetwork': o.allowHostNetwork ? true : undefined,
        'engine.allowUser': o.allowUser ? true : undefined,
        'engine.allowHostVolumes': o.allowHostVolumes ? true : undefined,
      }),
    });
    const engineSettings = settings.engine;
    const dataDir = engineSettings.dataDir ?? join(homedir(), '.theseus', 'engine');
    const dockerRunner = await dockerRunnerIfAvailable(logger, { taskLogs: engineSettings.taskLogs });
    if (!dockerRunner) {
      logger.warn(
        `Docker Engine not reachable: apps with a container image${engineSettings.allowHostCommands ? '' : ' and apps with only a cmd'} will fail (TASK_FAILED)`,
      );
    }
    if (engineSettings.allowHostCommands) {
      logger.warn(
        "apps with a cmd and no container run as processes on this host with the engine's user and rights (engine.allowHostCommands): whoever can create an app can run any command here",
        { user: process.getuid?.() === 0 ? 'root' : process.env.USER },
      );
    }
    const running = await startEngine({
      dataDir,
      taskLogs: engineSettings.taskLogs,
      port: opts.port === 0 ? 0 : engineSettings.port,
      listenHost: [...engineSettings.listen],
      hostNames: [...engineSettings.hostNames],
      hostname: engineSettings.hostname,
      portRange: [engineSettings.portRange[0], engineSettings.portRange[1]],
      cpus: engineSettings.cpus,
      memMb: engineSettings.memMb,
      ...(settings.marathon.credentials ? { credentials: settings.marathon.credentials } : {}),
      features: typeof opts.enableFeatures === 'string' ? commaList(opts.enableFeatures) : [],
      defaultContainerImage: engineSettings.defaultContainerImage,
      allowHostCommands: engineSettings.allowHostCommands,
      allowPrivileged: engineSettings.allowPrivileged,
      allowHostNetwork: engineSettings.allowHostNetwork,
      allowUser: engineSettings.allowUser,
      allowHostVolumes: engineSettings.allowHostVolumes,
      hostVolumePaths: [...engineSettings.hostVolumePaths],
      maxEventSubscriptions: engineSettings.maxEventSubscriptions,
      eventSubscriptionTimeoutMs: engineSettings.eventSubscriptionTimeoutMs,
      ...(dockerRunner ? { dockerRunner } : {}),
      logger,
    });
    logger.info('engine listening', {
      url: running.url,
      dataDir,
      docker: Boolean(dockerRunner),
      tasks: running.engine.scheduler.tasks.size,
    });
    return await runUntilSignal(logger, () => running.stop());
  } catch (err) {
    if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`theseus ${command}: the port is already in use (choose another with --port)\n`);
      return 1;
    }
    return reportError(command, err);
  }
}
