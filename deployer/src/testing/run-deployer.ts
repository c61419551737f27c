/**
 * A deployer as its own process, configured from the environment like `theseus deployer`, for
 * tests that kill it. Prints `listening <url>` once it answers. DEPLOY_LOCK_DURATION_MS shortens
 * the queue's job lock so a killed deployer's jobs are taken over quickly.
 */
import { createLogger, loadSettings } from '@theseus/services';
import { startDeployerServer } from '../server.js';

const settings = loadSettings({ require: ['marathon.urls', 'api.token'] });
const logger = createLogger({ component: 'deployer', format: 'json', silent: !process.env.TEST_LOGS });
const lock = Number(process.env.DEPLOY_LOCK_DURATION_MS ?? 30_000);
const server = await startDeployerServer({
  settings,
  logger,
  port: 0,
  host: '127.0.0.1',
  lockDurationMs: lock,
  backoffMs: 20,
  defaultMetrics: false,
});
process.stdout.write(`listening ${server.url}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
