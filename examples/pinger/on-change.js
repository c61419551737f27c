// The pinger's watcher handler. `theseus watch` (WATCHES=echo WATCH_HANDLER=<this file>) and the
// pinger itself (through watchServices) call serviceChange when an instance of a watched service
// appears, goes away or changes.
import { log } from '../log.js';

/** The last changes seen, newest last (the pinger's /status shows them). */
export const recentChanges = [];
const KEEP = 50;

/**
 * @param {string} service
 * @param {import('@theseus/guestutils').EndpointDelta} delta
 */
export function serviceChange(service, delta) {
  const change = {
    at: new Date().toISOString(),
    service,
    added: delta.added.map(describe),
    removed: delta.removed.map(describe),
    changed: delta.changed.map((c) => describe(c.after)),
    current: delta.current.length,
  };
  recentChanges.push(change);
  if (recentChanges.length > KEEP) recentChanges.splice(0, recentChanges.length - KEEP);
  log('service changed', change);
}

/**
 * An endpoint record as `<taskId> <host> <port>=<hostPort>,...`.
 * @param {import('@theseus/guestutils').EndpointRecord} record
 */
function describe(record) {
  const ports = Object.entries(record.ports).map(([name, p]) => `${name}=${p.host ?? p.container ?? '?'}`);
  return `${record.taskId} ${record.host} ${ports.join(',')}`.trim();
}
