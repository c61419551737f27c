/**
 * `theseus deployer`: the parts wired together. The HTTP API and the queue worker run in the same
 * process; several such processes may share one Redis queue (`deployer.queuePrefix`).
 */
import http from 'node:http';
import type express from 'express';
import type { AddressInfo } from 'node:net';
import {
  ConfigError,
  MARATHON_LABELS,
  MarathonEventStream,
  readEtcdAccess,
  type Logger,
  type Settings,
} from '@theseus/services';
import { Deployer } from './deployer.js';
import { DeployQueue } from './deploy-queue.js';
import { DeploymentFollower } from './follow.js';
import { DeploymentStore } from './store.js';
import { createApi } from './http/api.js';
import { SandboxLogReader } from './logs.js';
import { createDashboard } from './dashboard/index.js';
import { DeployerMetrics, TimedMarathonClient } from './http/metrics.js';
import { fetchMesosAgents } from './dashboard/cluster-view.js';
import { isOomTermination, UsageReader } from './usage.js';

export interface DeployerServerOptions {
  settings: Readonly<Settings>;
  logger: Logger;
  /** Listen here instead of `settings.deployer.port` (0: any free port). */
  port?: number;
  /** Listen on this address instead of `settings.deployer.listenHost`. */
  host?: string;
  /** Process jobs in this process. @defaultValue true */
  worker?: boolean;
  /** Follow deployments with Marathon's event stream (polling stays as the fallback). @defaultValue true */
  events?: boolean;
  /** Queue tuning, for tests. */
  lockDurationMs?: number;
  backoffMs?: number;
  /** Collect Node's default metrics. @defaultValue true */
  defaultMetrics?: boolean;
}

export interface DeployerServer {
  url: string;
  /** The HTTP application (deploy API and dashboard). */
  app: express.Express;
  deployer: Deployer;
  queue: DeployQueue;
  close(): Promise<void>;
}

export async function startDeployerServer(options: DeployerServerOptions): Promise<DeployerServer> {
  const { settings, logger } = options;
  const urls = settings.marathon.urls ?? [];
  if (!settings.api.token) throw new Error('the deployer needs THESEUS_API_TOKEN');
  const etcdAccess = readEtcdAccess(settings.etcd);
  if (settings.etcd.containerUsername && !settings.etcd.containerPasswordFile)
    throw new ConfigError(
      'THESEUS_CONTAINER_ETCD_PASSWORD_FILE',
      `is required with THESEUS_CONTAINER_ETCD_USERNAME (${settings.etcd.containerUsername}): the deployer hands containers its password`,
    );
  const containerAccess = readEtcdAccess(
    {
      username: settings.etcd.containerUsername,
      passwordFile: settings.etcd.containerPasswordFile,
      caFile: settings.etcd.caFile,
      serverName: settings.etcd.serverName,
      certFile: settings.etcd.containerCertFile,
      keyFile: settings.etcd.containerKeyFile,
    },
    (setting) =>
      setting === 'caFile'
        ? 'ETCD_CA_FILE'
        : `THESEUS_CONTAINER_ETCD_${setting.replace(/File$/, '_FILE').toUpperCase()}`,
  );
  const metrics = new DeployerMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const marathon = new TimedMarathonClient(
    {
      urls,
      credentials: settings.marathon.credentials,
      token: settings.marathon.token,
      timeoutMs: settings.marathon.timeoutMs,
    },
    metrics,
  );
  const events =
    options.events === false
      ? undefined
      : new MarathonEventStream({ connection: marathon.http, idleTimeoutMs: settings.marathon.streamIdleTimeoutMs });
  if (events) {
    events.on('attached', ({ url }) => logger.info('following Marathon events', { url }));
    events.on('retry', ({ error, delayMs }) => logger.debug('event stream retry', { error, delayMs }));
    events.start();
  }
  const usage = new UsageReader({
    logger,
    agentPort: settings.deployer.agentPort,
    memoryWarnRatio: settings.deployer.memoryWarnRatio,
    timeoutMs: settings.marathon.timeoutMs,
    onSample: (sample) => metrics.usageSampled(sample),
  });
  const masterUrl = settings.deployer.mesosMasterUrl;
  metrics.sampleUsage = async () => {
    const [apps, agents] = await Promise.all([
      marathon.listApps({ label: `${MARATHON_LABELS.managed}==true`, embed: ['apps.tasks'] }),
      masterUrl
        ? fetchMesosAgents(masterUrl, settings.marathon.timeoutMs).catch((err: unknown) => err as Error)
        : undefined,
    ]);
    await usage.sample(apps, agents);
  };
  events?.on('event', (event) => {
    const appId = isOomTermination(event);
    if (appId) metrics.oomKilled(appId);
  });
  const follower = new DeploymentFollower({ marathon, events });
  const prefix = settings.deployer.queuePrefix;
  const store = new DeploymentStore({ redisUrl: settings.redis.url, prefix, logger });
  const queue = new DeployQueue({
    redisUrl: settings.redis.url,
    prefix,
    store,
    marathon,
    follower,
    logger,
    stepConcurrency: settings.deployer.concurrency,
    deploymentTimeoutMs: settings.deployer.deploymentTimeoutMs,
    ...(options.lockDurationMs !== undefined ? { lockDurationMs: options.lockDurationMs } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    onFinished: (record) => metrics.deploymentFinished(record),
  });
  if (options.worker ?? true) queue.startWorker();
  const deployer = new Deployer({
    marathon,
    logger,
    store,
    queue,
    translation: {
      appGroup: settings.appGroup,
      etcdEndpoints: settings.etcd.containerEndpoints ?? settings.etcd.endpoints,
      etcdPrefix: settings.etcd.prefix,
      etcdAccess: {
        username: containerAccess.username,
        password: containerAccess.password,
        ca: containerAccess.ca?.toString('utf8'),
        cert: containerAccess.cert?.toString('utf8'),
        key: containerAccess.key?.toString('utf8'),
        serverName: containerAccess.serverName,
      },
    },
    networkApi: settings.marathon.networkApi,
    waitTimeoutMs: settings.deployer.waitTimeoutMs,
    events,
  });
  const dashboard = createDashboard({
    marathon,
    events,
    store,
    logger,
    etcd: { endpoints: settings.etcd.endpoints, prefix: settings.etcd.prefix, access: etcdAccess },
    mesosMasterUrl: settings.deployer.mesosMasterUrl,
    usage,
  });
  const logs = new SandboxLogReader({
    mesosMasterUrl: settings.deployer.mesosMasterUrl,
    agentPort: settings.deployer.agentPort,
    // Marathon's credentials go only to the Marathon URLs themselves (the engine, which is its own agent)
    authorization: marathon.http.authorization
      ? { value: marathon.http.authorization, origins: urls.map((u) => new URL(u).origin) }
      : undefined,
    pollMs: settings.deployer.logPollMs,
    timeoutMs: settings.marathon.timeoutMs,
  });
  const api = createApi({
    deployer,
    logs,
    logger,
    metrics,
    token: settings.api.token,
    openReads: settings.deployer.openReads,
    maxBodyBytes: settings.deployer.maxBodyBytes,
    hostVolumePaths: settings.deployer.hostVolumePaths,
    fileUris: settings.deployer.fileUris,
    dashboard: dashboard.mount,
  });
  const server = http.createServer(api);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? settings.deployer.port, options.host ?? settings.deployer.listenHost, () =>
      resolve(),
    );
  });
  const address = server.address() as AddressInfo;
  const reachAt = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const url = `http://${reachAt.includes(':') ? `[${reachAt}]` : reachAt}:${address.port}`;
  logger.info('deployer listening', { host: address.address, port: address.port, marathon: urls, queuePrefix: prefix });

  return {
    url,
    app: api,
    deployer,
    queue,
    async close() {
      await dashboard.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      follower.close();
      await events?.stop();
      await queue.close();
      await store.close();
    },
  };
}
