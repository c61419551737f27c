/**
 * A deployer wired to an in-process engine (or a given Marathon URL) and a Redis, with its own
 * queue prefix, for tests and benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { createLogger, loadSettings } from '@theseus/services';
import { startDeployerServer, type DeployerServer } from '../server.js';
import { InProcessEngine, type InProcessOptions } from '@theseus/cluster/testing';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface HarnessOptions {
  marathon?: InProcessOptions;
  /** Use this Marathon instead of an in-process engine. */
  marathonUrl?: string;
  redisUrl?: string;
  /** Extra environment settings (e.g. THESEUS_OPEN_READS). */
  env?: Record<string, string>;
  worker?: boolean;
  events?: boolean;
  /** Share a queue with another harness. */
  queuePrefix?: string;
  lockDurationMs?: number;
  /** Write the deployer's JSON log lines here (otherwise silent unless TEST_LOGS is set). */
  logStream?: NodeJS.WritableStream;
}

export interface Harness {
  marathon: InProcessEngine | undefined;
  server: DeployerServer;
  url: string;
  queuePrefix: string;
  auth: { Authorization: string };
  close(): Promise<void>;
}

export function randomPrefix(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const marathon = options.marathonUrl ? undefined : await InProcessEngine.start(options.marathon);
  const marathonUrl = options.marathonUrl ?? marathon!.url;
  const queuePrefix = options.queuePrefix ?? randomPrefix();
  const settings = loadSettings({
    env: {
      MARATHON_URL: marathonUrl,
      REDIS_URL: options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      THESEUS_API_TOKEN: TEST_TOKEN,
      THESEUS_QUEUE_PREFIX: queuePrefix,
      THESEUS_DEPLOYMENT_TIMEOUT_MS: '20000',
      ...options.env,
    },
  });
  const logger = createLogger({
    component: 'deployer',
    silent: !process.env.TEST_LOGS && !options.logStream,
    format: 'json',
    ...(options.logStream ? { stream: options.logStream } : {}),
  });
  const server = await startDeployerServer({
    settings,
    logger,
    port: 0,
    host: '127.0.0.1',
    worker: options.worker ?? true,
    events: options.events ?? true,
    lockDurationMs: options.lockDurationMs ?? 2000,
    backoffMs: 20,
    defaultMetrics: false,
  });
  return {
    marathon,
    server,
    url: server.url,
    queuePrefix,
    auth: { Authorization: `Bearer ${TEST_TOKEN}` },
    async close() {
      await server.close();
      await marathon?.close();
    },
  };
}
