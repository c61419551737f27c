/**
 * Loads the module `theseus watch` calls (`--handler` / WATCH_HANDLER). It exports
 * `serviceChange(service, delta)`; `service_change`, or a default export that is such a function or
 * has it, are accepted too (for handlers ported from the Python watcher).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@theseus/services/errors';
import type { ServiceChangeHandler } from './watcher.js';

export async function loadHandlerModule(path: string, setting = 'WATCH_HANDLER'): Promise<ServiceChangeHandler> {
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(process.cwd(), path)).href;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ERR_MODULE_NOT_FOUND' ? 'no such module' : (err as Error).message.split('\n')[0];
    throw new ConfigError(setting, `cannot load ${path}: ${reason}`);
  }
  const fallback = module.default as Record<string, unknown> | ((...args: unknown[]) => unknown) | undefined;
  const candidates = [
    module.serviceChange,
    module.service_change,
    typeof fallback === 'function' ? fallback : fallback?.serviceChange,
    typeof fallback === 'function' ? undefined : fallback?.service_change,
  ];
  const handler = candidates.find((c) => typeof c === 'function') as ServiceChangeHandler | undefined;
  if (!handler) throw new ConfigError(setting, `${path} exports no serviceChange(service, delta) function`);
  return handler;
}
