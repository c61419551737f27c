/** The HTTP face of the engine: Marathon's REST API v2 and event stream over Express 5. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DEFAULT_SETTINGS } from '@theseus/services';
import type { Engine } from '../engine.js';
import type { EngineOptions } from '../options.js';
import { EventStreamHub } from '../events/sse.js';
import { basicAuth, checkListenAddresses, hostCheck, sameOriginChanges } from './access.js';
import { appsRoutes } from './apps-routes.js';
import { miscRoutes } from './misc-routes.js';
import { mesosRoutes } from './mesos-routes.js';
import { monitorRoutes } from '../agent/monitor-routes.js';
import { agentRoutes } from '../agent/routes.js';
import { errorHandler } from './request.js';

export interface EngineServer {
  /** One per listen address. */
  servers: Server[];
  events: EventStreamHub;
  url: string;
  close(): Promise<void>;
}

/** The addresses to listen on, and whether they are all loopback; refuses a non-loopback one without credentials. */
export async function listenPlan(options: EngineOptions): Promise<{ hosts: string[]; loopbackOnly: boolean }> {
  const hosts = typeof options.listenHost === 'string' ? [options.listenHost] : (options.listenHost ?? ['127.0.0.1']);
  return { hosts, loopbackOnly: await checkListenAddresses(hosts, Boolean(options.credentials)) };
}

export async function startEngineServer(
  engine: Engine,
  { hosts, loopbackOnly }: { hosts: string[]; loopbackOnly: boolean },
): Promise<EngineServer> {
  const options = engine.options;
  const events = new EventStreamHub(engine.bus, {
    ...(options.eventHeartbeatMs !== undefined ? { heartbeatMs: options.eventHeartbeatMs } : {}),
    ...(options.eventMaxOutstanding !== undefined ? { maxOutstanding: options.eventMaxOutstanding } : {}),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // flat keys, repeated keys as arrays: Jersey's query parameters (`status[]` is a name of its own)
  app.set('query parser', 'simple');
  let leader = '';
  app.use((_req, res, next) => {
    res.setHeader('X-Marathon-Leader', `http://${leader}`);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    next();
  });
  if (loopbackOnly)
    app.use(hostCheck([...(options.hostNames ?? []), ...hosts, ...(options.hostname ? [options.hostname] : [])]));
  app.use(sameOriginChanges());
  if (options.credentials) app.use(basicAuth(options.credentials));
  app.use(express.raw({ type: () => true, limit: options.maxBodyBytes ?? 5 * 1024 * 1024 }));
  if (options.faults) app.use(options.faults.middleware);
  app.use(appsRoutes(engine));
  app.use(miscRoutes(engine, events, () => leader));
  app.use(mesosRoutes(engine));
  app.use(monitorRoutes(engine));
  app.use(agentRoutes(engine));
  app.use((_req, res) => {
    res.status(404).json({ message: 'URI not found' });
  });
  app.use(errorHandler(options.logger));

  const servers: Server[] = [];
  const closeAll = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  try {
    // every address on the same port: the first one's when the port is 0
    let port = options.port ?? DEFAULT_SETTINGS.engine.port;
    for (const host of hosts) {
      const server = createServer(app);
      server.keepAliveTimeout = 5000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      servers.push(server);
      port = (server.address() as AddressInfo).port;
    }
    leader = `${engine.hostname}:${port}`;
    const first = hosts[0]!;
    const urlHost = first === '0.0.0.0' || first === '::' ? '127.0.0.1' : first.includes(':') ? `[${first}]` : first;
    return {
      servers,
      events,
      url: `http://${urlHost}:${port}`,
      close: async () => {
        events.close();
        await closeAll();
      },
    };
  } catch (err) {
    events.close();
    await closeAll();
    throw err;
  }
}
