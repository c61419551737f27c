/** The worker thread `theseus subscriber` runs in, under its heap budget (see heap-budget.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { run } from './cli.js';
import type { SignalMessage } from './heap-budget.js';

const { command, argv } = workerData as { command: string; argv: string[] };
// Signals reach only the main thread; it forwards them here, where the command waits for them.
parentPort!.on('message', (message: SignalMessage) => process.emit(message.signal, message.signal));
process.exitCode = await run(command, argv);
parentPort!.close();
