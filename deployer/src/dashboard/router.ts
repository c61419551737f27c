/**
 * The dashboard over HTTP: the page's files at `/ui/`, the snapshot at `/ui/api/snapshot` and the
 * live channel at `/ui/api/live` (Server-Sent Events: a `snapshot` event, then one event per
 * change, see DashboardFeed). Reads go through the API's own read check; the page's actions use
 * the API's mutating endpoints with the token the person gives it.
 */
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import type { DashboardFeed, FeedMessage } from './feed.js';

export interface DashboardRouterDeps {
  feed: DashboardFeed;
  /** The API's read check: passes everyone when reads are open, else asks for the bearer token. */
  readAuth: RequestHandler;
  /** The page's files. @defaultValue deployer/ui */
  uiDir?: string;
  /** Comment line sent on an idle live channel, so proxies keep it open. @defaultValue 15000 */
  heartbeatMs?: number;
  /** A watcher further behind than this many bytes is dropped (it reconnects and gets a snapshot). @defaultValue 32 MiB */
  maxBufferedBytes?: number;
}

export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

export function dashboardRouter(deps: DashboardRouterDeps): Router {
  const { feed, readAuth } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const maxBuffered = deps.maxBufferedBytes ?? 32 * 1024 * 1024;
  const router = Router();

  // The page's module paths are relative: /ui must become /ui/ (routing is not strict: /ui/ lands here too).
  router.get('/ui', (req, res, next) => {
    const [path, query] = req.originalUrl.split(/\?(.*)/s, 2) as [string, string | undefined];
    if (path.endsWith('/')) return next();
    res.redirect(302, `/ui/${query ? `?${query}` : ''}`);
  });

  router.get('/ui/api/snapshot', readAuth, async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await feed.snapshot());
  });

  router.get('/ui/api/live', readAuth, async (req, res) => {
    let open = true;
    let unsubscribe: (() => void) | undefined;
    const end = () => {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      unsubscribe?.();
      res.end();
    };
    const write = (message: FeedMessage) => {
      if (!open) return;
      if (res.writableLength > maxBuffered) return void res.destroy();
      res.write(`event: ${message.type}\ndata: ${JSON.stringify(message.data)}\n\n`);
    };
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store, no-transform',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const heartbeat = setInterval(() => open && res.write(': heartbeat\n\n'), heartbeatMs);
    res.on('close', end);
    res.on('error', end);
    const stop = await feed.watch(write, end);
    if (open) unsubscribe = stop;
    else stop();
  });

  router.use(
    '/ui',
    (_req, res, next) => {
      // Everything the page needs comes from here: no inline code, no other origin, no framing.
      res.setHeader(
        'Content-Security-Policy',
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      );
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      next();
    },
    express.static(deps.uiDir ?? UI_DIR, { index: 'index.html', redirect: false, maxAge: 0, dotfiles: 'ignore' }),
  );
  return router;
}
