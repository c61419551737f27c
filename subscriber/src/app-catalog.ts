/**
 * What the subscriber knows of Marathon apps (identity labels, port names, health checks), filled by
 * reconciles and fetched on demand for an app first seen in an event. One fetch per app at a time.
 */
import { MarathonNotFoundError, type MarathonAppInfo, type MarathonClient } from '@theseus/services';
import { appModelOf, type AppModel } from './endpoint-of-task.js';

export class AppCatalog {
  /** null: the app is not managed by Theseus or does not exist. */
  private readonly models = new Map<string, AppModel | null>();
  private readonly fetching = new Map<string, Promise<{ app: MarathonAppInfo; model: AppModel } | null>>();

  constructor(private readonly marathon: MarathonClient) {}

  /** The cached model; undefined when unknown or older than `version`. */
  cached(appId: string, version?: string): AppModel | null | undefined {
    const model = this.models.get(appId);
    if (model && version && model.version < version) return undefined;
    return model;
  }

  set(model: AppModel): void {
    this.models.set(model.id, model.ref ? model : null);
  }

  forget(appId: string): void {
    this.models.delete(appId);
  }

  /** Replaces everything with a full listing of Theseus apps. */
  replaceAll(models: AppModel[]): void {
    for (const [id, model] of this.models) if (model) this.models.delete(id);
    for (const model of models) this.set(model);
  }

  /**
   * Fetches the app (with its tasks) from Marathon and caches its model; null when it does not exist.
   * Concurrent calls for one app share one request.
   */
  fetch(appId: string): Promise<{ app: MarathonAppInfo; model: AppModel } | null> {
    let running = this.fetching.get(appId);
    if (!running) {
      running = this.marathon
        .getApp(appId)
        .then(
          (app) => {
            const model = appModelOf(app);
            this.set(model);
            return { app, model };
          },
          (err: unknown) => {
            if (err instanceof MarathonNotFoundError) {
              this.models.set(appId, null);
              return null;
            }
            throw err;
          },
        )
        .finally(() => this.fetching.delete(appId));
      this.fetching.set(appId, running);
    }
    return running;
  }
}
