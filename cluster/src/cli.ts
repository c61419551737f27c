/**
 * `theseus engine`: the single-machine Marathon-compatible engine. Settings: the `engine` section
 * (ENGINE_DATA_DIR, ENGINE_PORT_RANGE, ENGINE_HOSTNAME) and MARATHON_CREDENTIALS (when set, the
 * engine requires that basic auth, so every Theseus part that reaches it through MARATHON_URL already
 * sends it). SIGTERM/SIGINT stop the engine and leave tasks running; the next start adopts them.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { commandProgram, reportError, runUntilSignal, setUp } from '@theseus/services';
import { startEngine } from './run.js';
import { dockerRunnerIfAvailable } from './tasks/docker-runner.js';

function intFlag(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number (0-65535), got ${JSON.stringify(value)}`);
    return n;
  };
}

function positive(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(value)}`);
    return n;
  };
}

export async function run(command: string, argv: string[]): Promise<number> {
  const program = commandProgram(command, 'serve the Marathon REST API v2 and event bus, running tasks on this machine')
    .option('--port <port>', 'HTTP port (default 8080; 0 picks a free one)', intFlag('port'))
    .option('--data-dir <dir>', 'where apps, versions and tasks are kept (default ~/.theseus/engine)')
    .option('--hostname <host>', 'address tasks are reported at (default 127.0.0.1)')
    .option('--cpus <n>', 'CPUs offered to tasks (default: all of the machine)', positive('cpus'))
    .option('--mem-mb <n>', 'memory offered to tasks, MB (default: all of the machine)', positive('mem-mb'))
    .option('--enable-features <list>', 'Marathon features to enable, comma-separated (secrets, external_volumes)')
    .option('--allow-privileged', 'let apps run privileged containers')
    .option('--allow-host-volumes', 'let apps bind-mount host paths');
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
      }),
    });
    const engineSettings = settings.engine;
    const dataDir = engineSettings.dataDir ?? join(homedir(), '.theseus', 'engine');
    const dockerRunner = await dockerRunnerIfAvailable(logger);
    if (!dockerRunner) logger.warn('Docker Engine not reachable: apps with a container image will fail (TASK_FAILED)');
    const running = await startEngine({
      dataDir,
      port: opts.port === 0 ? 0 : engineSettings.port,
      hostname: engineSettings.hostname,
      portRange: [engineSettings.portRange[0], engineSettings.portRange[1]],
      ...(engineSettings.cpus !== undefined ? { cpus: engineSettings.cpus } : {}),
      ...(engineSettings.memMb !== undefined ? { memMb: engineSettings.memMb } : {}),
      ...(settings.marathon.credentials ? { credentials: settings.marathon.credentials } : {}),
      features: typeof opts.enableFeatures === 'string' ? opts.enableFeatures.split(',').map((s) => s.trim()).filter(Boolean) : [],
      allowPrivileged: Boolean(opts.allowPrivileged),
      allowHostVolumes: Boolean(opts.allowHostVolumes),
      ...(dockerRunner ? { dockerRunner } : {}),
      logger,
    });
    logger.info('engine listening', { url: running.url, dataDir, docker: Boolean(dockerRunner), tasks: running.engine.scheduler.tasks.size });
    return await runUntilSignal(logger, () => running.stop());
  } catch (err) {
    if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`theseus ${command}: the port is already in use (choose another with --port)\n`);
      return 1;
    }
    return reportError(command, err);
  }
}
