/** A Mesos agent's resource monitor endpoint: `GET /monitor/statistics` (and its older `.json` name). */
import { Router } from 'express';
import type { Engine } from '../engine.js';

export function monitorRoutes(engine: Engine): Router {
  const router = Router();
  router.get(['/monitor/statistics', '/monitor/statistics.json'], async (_req, res) => {
    res.json(await engine.statistics());
  });
  return router;
}
