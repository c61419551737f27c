/** The Marathon test double as its own process (benchmarks): prints `listening <url>`. */
import { MarathonDouble } from '@theseus/services/testing';

const double = await MarathonDouble.start({ deploymentMs: Number(process.env.DOUBLE_DEPLOYMENT_MS ?? 0) });
process.stdout.write(`listening ${double.url}\n`);
process.on('SIGTERM', () => void double.close().then(() => process.exit(0)));
