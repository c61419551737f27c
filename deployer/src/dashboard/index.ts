/**
 * The dashboard served by the deployer at `/ui`: one place to see services, instances (Marathon's
 * view beside the endpoint records), deployments, Marathon's events and the cluster, live.
 */
import type { RequestHandler, Router } from 'express';
import { DashboardFeed, type DashboardFeedOptions } from './feed.js';
import { dashboardRouter } from './router.js';

export interface Dashboard {
  feed: DashboardFeed;
  /** The routes, behind the API's read check. */
  mount(readAuth: RequestHandler): Router;
  close(): Promise<void>;
}

export function createDashboard(options: DashboardFeedOptions): Dashboard {
  const feed = new DashboardFeed(options);
  feed.startStream(); // the events view shows what happened since the deployer started
  return {
    feed,
    mount: (readAuth) => dashboardRouter({ feed, readAuth }),
    close: () => feed.close(),
  };
}

export { DashboardFeed, type DashboardFeedOptions, type DashboardSnapshot, type FeedMessage } from './feed.js';
export { dashboardRouter, type DashboardRouterDeps } from './router.js';
export { serviceRow, serviceRows, type ServiceRow, type InstanceRow, type Agreement } from './read-model.js';
export { clusterView, fetchMesosAgents, type ClusterView, type HostRow, type MesosAgent } from './cluster-view.js';
