/** The Marathon test double as its own process (benchmarks): prints `listening <url>`. */
import { MarathonDouble } from './marathon-double.js';

const double = new MarathonDouble({ deploymentMs: Number(process.env.DOUBLE_DEPLOYMENT_MS ?? 0) });
process.stdout.write(`listening ${await double.start()}\n`);
process.on('SIGTERM', () => void double.stop().then(() => process.exit(0)));
