/** An in-process engine as its own process (benchmarks): prints `listening <url>`. */
import { InProcessEngine } from '@theseus/cluster/testing';

const marathon = await InProcessEngine.start({ script: () => ({ afterMs: Number(process.env.DEPLOYMENT_MS ?? 0) }) });
process.stdout.write(`listening ${marathon.url}\n`);
process.on('SIGTERM', () => void marathon.close().then(() => process.exit(0)));
