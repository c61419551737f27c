/** `theseus config`: the effective settings, secrets hidden. */
import { commandProgram, printableSettings, reportError, setUp } from '@theseus/services';

export async function run(command: string, argv: string[]): Promise<number> {
  try {
    const program = commandProgram(command, 'print the effective settings (secrets hidden) and exit');
    const { settings } = setUp(program, argv, { component: 'config' });
    process.stdout.write(JSON.stringify(printableSettings(settings), null, 2) + '\n');
    return 0;
  } catch (err) {
    return reportError(command, err);
  }
}
