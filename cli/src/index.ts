/** `theseus <command> [args]`: looks the command up and hands it the rest of the arguments. */
import { THESEUS_VERSION, reportError } from '@theseus/services';
import { COMMANDS } from './commands.js';

export { COMMANDS, type CommandEntry, type CommandModule } from './commands.js';

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const lines = [
    'Usage: theseus <command> [options]',
    '',
    'Deploy Docker services onto Mesos + Marathon from YAML, with discovery through etcd.',
    '',
  ];
  const groups = [...new Set(Object.values(COMMANDS).map((c) => c.group))];
  for (const group of groups) {
    lines.push(`${group}:`);
    for (const [name, entry] of Object.entries(COMMANDS))
      if (entry.group === group) lines.push(`  ${name.padEnd(width)}${entry.summary}`);
    lines.push('');
  }
  lines.push('Settings come from the environment (MARATHON_URL, ETCD_ENDPOINTS, REDIS_URL, THESEUS_API_TOKEN, ...)');
  lines.push("or a YAML file (--config). Run `theseus <command> --help` for a command's options.");
  return lines.join('\n') + '\n';
}

export async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === 'help' && rest[0] && COMMANDS[rest[0]]) return dispatch([rest[0], '--help']);
    process.stdout.write(usage());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-V') {
    process.stdout.write(`${THESEUS_VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`theseus: unknown command '${command}' (run 'theseus --help' for the list)\n`);
    return 2;
  }
  try {
    return await (await entry.load()).run(command, rest);
  } catch (err) {
    return reportError(command, err);
  }
}
