/** `node --import tsx --conditions=source run-cli.ts <command> [args]`: the client commands from source, for tests. */
import { run } from '../cli.js';

process.exitCode = await run(process.argv[2] ?? '', process.argv.slice(3));
