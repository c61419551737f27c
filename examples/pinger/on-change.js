// The pinger's watcher handler. `theseus watch` (WATCHES=echo WATCH_HANDLER=<this file>) and the
// pinger itself (through watchServices) call serviceChange when an instance of a watched service
// appears, goes away or changes.
import { log } from '../log.js';

/** The last changes seen, newest last (the pinger's /status shows them). */
export const recentChanges = [];
const KEEP = 50;

/**
 * @param {string} service
 * @param {{ added: unknown[]; removed: unknown[]; changed: unknown[]; current: unknown[] }} delta
 */
export function serviceChange(service, delta) {
  const change = {
    at: new Date().toISOString(),
    service,
    added: delta.added.map(describe),
    removed: delta.removed.map(describe),
    changed: delta.changed.map(describe),
    current: delta.current.length,
  };
  recentChanges.push(change);
  if (recentChanges.length > KEEP) recentChanges.splice(0, recentChanges.length - KEEP);
  log('service changed', change);
}

/** An endpoint as a short string: its task id and address when it is a record, else as given. */
function describe(endpoint) {
  if (typeof endpoint !== 'object' || endpoint === null) return String(endpoint);
  const e = /** @type {Record<string, any>} */ (endpoint);
  const ports = Object.entries(e.ports ?? {}).map(([name, p]) => `${name}=${p?.host ?? p?.container ?? '?'}`);
  return [e.taskId ?? '?', `${e.host ?? '?'}`, ports.join(',')].filter(Boolean).join(' ');
}
