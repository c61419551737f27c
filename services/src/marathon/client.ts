/**
 * A thin, typed client for Marathon's REST API v2 (and the Theseus engine, which speaks the same),
 * over the connection every Marathon client shares (http.ts: failover across URLs, auth, timeout).
 * Errors keep Marathon's status, message and details.
 */
import { MarathonHttp, type HttpMethod, type MarathonConnectionOptions } from './http.js';
import type {
  MarathonApp,
  MarathonAppInfo,
  MarathonDeployment,
  MarathonDeploymentResult,
  MarathonInfo,
  MarathonTask,
} from './types.js';

export type MarathonClientOptions = MarathonConnectionOptions;

export interface AppListOptions {
  embed?: Array<'apps.tasks' | 'apps.counts' | 'apps.deployments' | 'apps.lastTaskFailure'>;
  /** Label selector, e.g. `THESEUS_MANAGED==true`. */
  label?: string;
  /** Id substring filter. */
  id?: string;
}

export interface DeployOptions {
  /** Cancel deployments of the same app instead of failing with 409 locked. */
  force?: boolean;
}

export class MarathonClient {
  /** The connection: hand it to the event stream and list readers so that they share its settings. */
  readonly http: MarathonHttp;

  constructor(options: MarathonClientOptions) {
    this.http = new MarathonHttp(options);
  }

  /** The URL that answered last (the one tried first). */
  get currentUrl(): string {
    return this.http.currentUrl;
  }

  /** The Authorization header Marathon gets, if any. */
  get authHeader(): string | undefined {
    return this.http.authorization;
  }

  async ping(): Promise<void> {
    await this.request('GET', '/ping', undefined, undefined, 'ping');
  }

  info(): Promise<MarathonInfo> {
    return this.request('GET', '/v2/info', undefined, undefined, 'get info');
  }

  async leader(): Promise<string | undefined> {
    const body = await this.request<{ leader?: string }>('GET', '/v2/leader', undefined, undefined, 'get leader');
    return body.leader;
  }

  async listApps(options: AppListOptions = {}): Promise<MarathonAppInfo[]> {
    const params = new URLSearchParams();
    for (const e of options.embed ?? []) params.append('embed', e);
    if (options.label) params.set('label', options.label);
    if (options.id) params.set('id', options.id);
    const body = await this.request<{ apps: MarathonAppInfo[] }>('GET', '/v2/apps', params, undefined, 'list apps');
    return body.apps;
  }

  async getApp(appId: string): Promise<MarathonAppInfo> {
    const body = await this.request<{ app: MarathonAppInfo }>(
      'GET',
      `/v2/apps${appPath(appId)}`,
      undefined,
      undefined,
      `get app ${appId}`,
    );
    return body.app;
  }

  /** POST /v2/apps: creates; 409 MarathonConflictError when the id exists. */
  createApp(app: MarathonApp): Promise<MarathonAppInfo> {
    return this.request('POST', '/v2/apps', undefined, app, `create app ${app.id}`);
  }

  /** PUT /v2/apps/{id}?partialUpdate=false: declarative replace (creates when absent). */
  replaceApp(app: MarathonApp, options: DeployOptions = {}): Promise<MarathonDeploymentResult> {
    const params = new URLSearchParams({ partialUpdate: 'false' });
    if (options.force) params.set('force', 'true');
    return this.request('PUT', `/v2/apps${appPath(app.id)}`, params, app, `update app ${app.id}`);
  }

  /** PATCH /v2/apps/{id}: changes only the given fields (e.g. `{instances}` for a scale). */
  patchApp(appId: string, patch: Partial<MarathonApp>, options: DeployOptions = {}): Promise<MarathonDeploymentResult> {
    return this.request('PATCH', `/v2/apps${appPath(appId)}`, forceParam(options), patch, `patch app ${appId}`);
  }

  /** Rolls an app back to an earlier version. */
  rollbackApp(appId: string, version: string, options: DeployOptions = {}): Promise<MarathonDeploymentResult> {
    return this.request('PUT', `/v2/apps${appPath(appId)}`, forceParam(options), { version }, `roll back app ${appId}`);
  }

  deleteApp(appId: string, options: DeployOptions = {}): Promise<MarathonDeploymentResult> {
    return this.request('DELETE', `/v2/apps${appPath(appId)}`, forceParam(options), undefined, `delete app ${appId}`);
  }

  restartApp(appId: string, options: DeployOptions = {}): Promise<MarathonDeploymentResult> {
    return this.request(
      'POST',
      `/v2/apps${appPath(appId)}/restart`,
      forceParam(options),
      undefined,
      `restart app ${appId}`,
    );
  }

  async appVersions(appId: string): Promise<string[]> {
    const body = await this.request<{ versions: string[] }>(
      'GET',
      `/v2/apps${appPath(appId)}/versions`,
      undefined,
      undefined,
      `list versions of ${appId}`,
    );
    return body.versions;
  }

  appVersion(appId: string, version: string): Promise<MarathonApp> {
    return this.request(
      'GET',
      `/v2/apps${appPath(appId)}/versions/${encodeURIComponent(version)}`,
      undefined,
      undefined,
      `get version ${version} of ${appId}`,
    );
  }

  async appTasks(appId: string): Promise<MarathonTask[]> {
    const body = await this.request<{ tasks: MarathonTask[] }>(
      'GET',
      `/v2/apps${appPath(appId)}/tasks`,
      undefined,
      undefined,
      `list tasks of ${appId}`,
    );
    return body.tasks;
  }

  async listTasks(status?: 'running' | 'staging'): Promise<MarathonTask[]> {
    const params = status ? new URLSearchParams({ status }) : undefined;
    const body = await this.request<{ tasks: MarathonTask[] }>('GET', '/v2/tasks', params, undefined, 'list tasks');
    return body.tasks;
  }

  /** Kills tasks; with `scale`, the app's instance count drops by as many. */
  killTasks(taskIds: string[], options: { scale?: boolean; force?: boolean } = {}): Promise<unknown> {
    const params = new URLSearchParams();
    if (options.scale) params.set('scale', 'true');
    if (options.force) params.set('force', 'true');
    return this.request('POST', '/v2/tasks/delete', params, { ids: taskIds }, `kill ${taskIds.length} task(s)`);
  }

  listDeployments(): Promise<MarathonDeployment[]> {
    return this.request('GET', '/v2/deployments', undefined, undefined, 'list deployments');
  }

  /** Rolls a deployment back (a new deployment), or with `force` just stops it. */
  cancelDeployment(deploymentId: string, options: DeployOptions = {}): Promise<MarathonDeploymentResult | undefined> {
    return this.request(
      'DELETE',
      `/v2/deployments/${encodeURIComponent(deploymentId)}`,
      forceParam(options),
      undefined,
      `cancel deployment ${deploymentId}`,
    );
  }

  /** One request with failover across the URLs. */
  request<T>(
    method: HttpMethod,
    path: string,
    params: URLSearchParams | undefined,
    body: unknown,
    what: string,
  ): Promise<T> {
    return this.http.request<T>(method, path, params, body, what);
  }

  /** Closes idle connections. */
  close(): void {
    this.http.close();
  }
}

/** `/my/app` -> `/my/app` with each segment URL-encoded; relative ids are made absolute. */
function appPath(appId: string): string {
  return '/' + appId.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
}

function forceParam(options: DeployOptions): URLSearchParams | undefined {
  return options.force ? new URLSearchParams({ force: 'true' }) : undefined;
}
