/** `theseus subscriber`: keep etcd in sync with Marathon tasks. */
import type { Server } from 'node:http';
import { once } from 'node:events';
import { isMainThread } from 'node:worker_threads';
import {
  ConfigError,
  DEFAULT_SETTINGS,
  commandProgram,
  readEtcdAccess,
  readSecretFile,
  reportError,
  runUntilSignal,
  setUp,
} from '@theseus/services';
import { YOUNG_GENERATION_MB, runInHeapBudget } from './heap-budget.js';

export async function run(command: string, argv: string[]): Promise<number> {
  try {
    const program = commandProgram(
      'subscriber',
      'Follow Marathon events and keep every task endpoint in etcd (GET /healthz, /readyz, /metrics; POST /cleanup)',
    )
      .option('--port <port>', `HTTP port (default ${DEFAULT_SETTINGS.subscriber.port})`, (v) => Number(v))
      .option(
        '--host <address>',
        `address to listen on (SUBSCRIBER_LISTEN_HOST, default ${DEFAULT_SETTINGS.subscriber.listenHost})`,
      )
      .option(
        '--heap-mb <mb>',
        `JavaScript heap budget in MB (SUBSCRIBER_HEAP_MB; default ${DEFAULT_SETTINGS.subscriber.heapMb}: about 60 MB plus 1 MB per 1,000 endpoints; 0: V8's defaults and NODE_OPTIONS)`,
        (v) => Number(v),
      );
    const { settings, logger } = setUp(program, argv, {
      component: 'subscriber',
      require: ['marathon.urls'],
      flags: (o) => ({ 'subscriber.port': o.port, 'subscriber.listenHost': o.host, 'subscriber.heapMb': o.heapMb }),
    });
    if (!settings.api.token) {
      if (!isLoopback(settings.subscriber.listenHost)) {
        throw new ConfigError(
          'THESEUS_API_TOKEN',
          `is required when the subscriber listens on ${settings.subscriber.listenHost}: POST /cleanup and /reconcile would accept anyone`,
          'set THESEUS_API_TOKEN, or listen on 127.0.0.1 (SUBSCRIBER_LISTEN_HOST)',
        );
      }
      if (!isMainThread || settings.subscriber.heapMb === 0)
        logger.warn('THESEUS_API_TOKEN is not set: POST /cleanup and /reconcile accept any local caller', {
          listenHost: settings.subscriber.listenHost,
        });
    }
    // Read before anything starts, so that a missing secret or credential stops the program at once.
    const callbackSecret = settings.subscriber.callbackSecretFile
      ? readSecretFile(settings.subscriber.callbackSecretFile, 'SUBSCRIBER_CALLBACK_SECRET_FILE')
      : undefined;
    const etcdAccess = readEtcdAccess(settings.etcd);
    const heapMb = settings.subscriber.heapMb;
    if (isMainThread && heapMb > 0)
      return await runInHeapBudget(command, argv, { oldMb: heapMb, youngMb: YOUNG_GENERATION_MB }, logger);
    // Loaded only where the subscriber runs: the main thread of a budgeted process stays small.
    const [{ Subscriber }, { subscriberHttpApp }, { discoveryHttp }, { EtcdLayout }] = await Promise.all([
      import('./subscriber.js'),
      import('./http.js'),
      import('./discovery-http/routes.js'),
      import('@theseus/services'),
    ]);
    const subscriber = new Subscriber({
      marathonUrls: settings.marathon.urls!,
      marathonCredentials: settings.marathon.credentials,
      marathonToken: settings.marathon.token,
      marathonTimeoutMs: settings.marathon.timeoutMs,
      etcdEndpoints: settings.etcd.endpoints,
      etcdAccess,
      etcdPrefix: settings.etcd.prefix,
      cluster: settings.cluster,
      requireHealthy: settings.subscriber.requireHealthy,
      reconcileIntervalMs: settings.subscriber.reconcileIntervalMs,
      streamIdleTimeoutMs: settings.marathon.streamIdleTimeoutMs,
      callbackUrl: settings.subscriber.callbackUrl,
      callbackSecret,
      leaderTtlSeconds: settings.subscriber.leaderTtlSeconds,
      logger,
      processMetrics: true,
    });
    const discovery = discoveryHttp({
      client: subscriber.etcd,
      layout: new EtcdLayout(settings.etcd.prefix),
      maxWaitMs: settings.subscriber.discoveryMaxWaitMs,
      readers: settings.etcd.containerUsername
        ? { username: settings.etcd.containerUsername, cacheMs: settings.subscriber.discoveryCredentialCacheMs }
        : undefined,
    });
    if (!settings.etcd.containerUsername)
      logger.warn('discovery (GET /v1/endpoints, /v2/tasks) answers without credentials: no container user is set', {
        hint: 'set THESEUS_CONTAINER_ETCD_USERNAME (etcd.containerUsername) when etcd authentication is on',
      });
    const app = subscriberHttpApp(subscriber, { apiToken: settings.api.token, discovery });
    const server: Server = app.listen(settings.subscriber.port, settings.subscriber.listenHost);
    await once(server, 'listening');
    logger.info('subscriber listening', {
      host: settings.subscriber.listenHost,
      port: settings.subscriber.port,
      id: subscriber.id,
      cluster: settings.cluster,
      prefix: settings.etcd.prefix,
    });
    subscriber.start();
    return await runUntilSignal(logger, async () => {
      discovery.release();
      server.close();
      server.closeAllConnections();
      await subscriber.stop();
    });
  } catch (err) {
    return reportError(command, err);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
