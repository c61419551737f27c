/**
 * What every `theseus` command shares: commander parsing with `--config`, settings validated at
 * start, a logger, one clear line on error (never a stack trace), and clean shutdown on signals.
 */
import { Command, CommanderError } from 'commander';
import { describeError } from '../errors.js';
import { createLogger, redact, type Logger } from '../logging.js';
import { loadSettings, type Settings } from '../config/settings.js';

export { Command };

export interface CommandSetup {
  settings: Readonly<Settings>;
  logger: Logger;
}

/**
 * Builds the commander program of one command. `configure` adds its own options; standard ones
 * (`--config`) are added here.
 */
export function commandProgram(name: string, description: string): Command {
  return new Command(`theseus ${name}`)
    .description(description)
    .option('--config <file>', 'YAML settings file (same keys as `theseus config` prints)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .showHelpAfterError(false);
}

/** Parses argv, loads and validates settings, and makes the logger. Throws ConfigError / CommanderError. */
export function setUp(
  program: Command,
  argv: string[],
  options: {
    component: string;
    require?: string[];
    flags?: (opts: Record<string, unknown>) => Record<string, unknown>;
    logStream?: NodeJS.WritableStream;
  },
): CommandSetup & { opts: Record<string, unknown>; args: string[] } {
  program.parse(argv, { from: 'user' });
  const opts = program.opts();
  const settings = loadSettings({
    configPath: opts.config as string | undefined,
    flags: options.flags?.(opts) ?? {},
    require: options.require ?? [],
  });
  const logger = createLogger({
    component: options.component,
    level: settings.log.level,
    format: settings.log.format,
    ...(options.logStream ? { stream: options.logStream } : {}),
  });
  return { settings, logger, opts, args: program.args };
}

/** Exit code and message for an error raised while starting or running a command. */
export function reportError(command: string, err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    // commander already printed its message
    return 2;
  }
  process.stderr.write(`theseus ${command}: ${describeError(err)}\n`);
  return 1;
}

/**
 * Runs a long-lived part until SIGTERM/SIGINT, then calls `stop` (with a hard deadline). A second
 * signal exits at once. Unexpected errors are logged, never crash the process silently.
 */
export function runUntilSignal(logger: Logger, stop: () => Promise<void>, graceMs = 10_000): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn('second signal, exiting now', { signal });
        resolve(1);
        return;
      }
      stopping = true;
      logger.info('stopping', { signal });
      const timer = setTimeout(() => {
        logger.error('shutdown took too long, exiting', { graceMs });
        resolve(1);
      }, graceMs);
      timer.unref();
      stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error('error while stopping', { error: describeError(err) });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('unhandledRejection', (reason) =>
      logger.error('unhandled rejection', { error: reason instanceof Error ? reason : String(reason) }),
    );
  });
}

/** Settings as `theseus config` prints them: secrets replaced. */
export function printableSettings(settings: Readonly<Settings>): unknown {
  return redact(settings);
}
