/** The HTTP face of the engine: Marathon's REST API v2 and event stream over Express 5. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Engine } from '../engine.js';
import { EventStreamHub } from '../events/sse.js';
import { appsRoutes } from './apps-routes.js';
import { miscRoutes } from './misc-routes.js';
import { mesosRoutes } from './mesos-routes.js';
import { errorHandler } from './request.js';

export interface EngineServer {
  server: Server;
  events: EventStreamHub;
  url: string;
  close(): Promise<void>;
}

function basicAuth(credentials: string) {
  const expected = `Basic ${Buffer.from(credentials).toString('base64')}`;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.path === '/ping' || req.headers.authorization === expected) return next();
    res.status(401).setHeader('WWW-Authenticate', 'Basic realm="Mesosphere"').json({ message: 'Invalid username or password.' });
  };
}

export async function startEngineServer(engine: Engine): Promise<EngineServer> {
  const options = engine.options;
  const events = new EventStreamHub(engine.bus, {
    ...(options.eventHeartbeatMs !== undefined ? { heartbeatMs: options.eventHeartbeatMs } : {}),
    ...(options.eventMaxOutstanding !== undefined ? { maxOutstanding: options.eventMaxOutstanding } : {}),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  let leader = '';
  app.use((_req, res, next) => {
    res.setHeader('X-Marathon-Leader', `http://${leader}`);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    next();
  });
  if (options.credentials) app.use(basicAuth(options.credentials));
  app.use(express.raw({ type: () => true, limit: options.maxBodyBytes ?? 5 * 1024 * 1024 }));
  app.use(appsRoutes(engine));
  app.use(miscRoutes(engine, events, () => leader));
  app.use(mesosRoutes(engine));
  app.use((_req, res) => {
    res.status(404).json({ message: 'URI not found' });
  });
  app.use(errorHandler(options.logger));

  const server = createServer(app);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.listenHost ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  leader = `${options.hostname ?? '127.0.0.1'}:${port}`;
  return {
    server,
    events,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        events.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
