/**
 * The calls about all containers: `containers` (what the slave may re-adopt), `recover` (state
 * reconciled with the Engine after a slave restart) and the operator's `state [--rm]`.
 * Only containers labelled with this instance count: never other containers on the host.
 */
import { encodeContainers } from '../protocol/messages.js';
import { LABELS } from '../launch/plan.js';
import type { ListedContainer } from '../docker/types.js';
import type { LaunchMode } from '../state/store.js';
import type { MesosGeneration } from '../protocol/types.js';
import { LockTimeoutError, processStartTime } from '../state/lock.js';
import type { ProgramContext } from './context.js';

async function ours(ctx: ProgramContext): Promise<Map<string, ListedContainer>> {
  const listed = await (await ctx.docker()).list({ [LABELS.instance]: ctx.config.instance });
  const byId = new Map<string, ListedContainer>();
  for (const c of listed) {
    const id = c.labels[LABELS.containerId];
    if (id) byId.set(id, c);
  }
  return byId;
}

/** Fails (non-zero exit) when the Engine is down: an empty answer would make the slave drop live executors. */
export async function containers(ctx: ProgramContext): Promise<Uint8Array> {
  const byId = await ours(ctx);
  return encodeContainers([...byId.keys()].sort());
}

/** State for a container of ours that the state directory lost, rebuilt from its labels. */
async function rebuild(ctx: ProgramContext, containerId: string, listed: ListedContainer): Promise<void> {
  const details = await (await ctx.docker()).inspect(listed.id);
  if (!details) return;
  const l = listed.labels;
  ctx.store.write({
    containerId,
    dockerId: listed.id,
    dockerName: listed.name,
    image: details.image,
    executorId: l[LABELS.executorId] ?? containerId,
    ...(l[LABELS.taskId] ? { taskId: l[LABELS.taskId] } : {}),
    ...(l[LABELS.frameworkId] ? { frameworkId: l[LABELS.frameworkId] } : {}),
    ...(l[LABELS.sandbox] ? { sandbox: l[LABELS.sandbox] } : {}),
    mode: (l[LABELS.mode] as LaunchMode | undefined) ?? 'executor',
    generation:
      (l[LABELS.generation] as MesosGeneration | undefined) ?? (ctx.config.mesosVersion === '1.0' ? '1.0' : '0.22'),
    launchedAt: details.startedAt,
    ...(details.running ? { pid: details.pid } : {}),
    ...(details.running && processStartTime(details.pid) ? { pidStartTime: processStartTime(details.pid) } : {}),
    ...(details.cpuShares > 0 ? { cpus: details.cpuShares / 1024 } : {}),
    ...(details.memoryBytes > 0 ? { memMb: details.memoryBytes / (1024 * 1024) } : {}),
  });
}

export async function recover(ctx: ProgramContext): Promise<void> {
  const byId = await ours(ctx);
  let forgotten = 0;
  let rebuilt = 0;
  for (const id of ctx.store.list()) {
    if (byId.has(id)) continue;
    const lock = await ctx.store.lock(id, 0).catch((err: unknown) => {
      if (err instanceof LockTimeoutError) return undefined; // being launched right now
      throw err;
    });
    if (!lock) continue;
    try {
      ctx.store.remove(id);
      forgotten++;
    } finally {
      lock.release();
    }
  }
  for (const [id, listed] of byId) {
    if (ctx.store.read(id)) continue;
    await rebuild(ctx, id, listed);
    rebuilt++;
  }
  ctx.log.info('recovered', { containers: byId.size, forgotten, rebuilt });
}

/** `state [--rm]`: the state of ended containers (exit recorded, or gone from the Engine); `--rm` removes it and them. */
export async function state(ctx: ProgramContext, remove: boolean): Promise<void> {
  const byId = await ours(ctx);
  const rows: string[] = [];
  for (const id of ctx.store.list()) {
    const saved = ctx.store.read(id);
    const exit = ctx.store.readExit(id);
    const listed = byId.get(id);
    const ended =
      exit !== undefined ||
      !listed ||
      (listed.state !== 'running' && listed.state !== 'created' && listed.state !== 'restarting');
    if (!ended) continue;
    const how = exit ? (exit.oomKilled ? 'oom' : `exit ${exit.exitCode}`) : listed ? listed.state : 'gone';
    rows.push([id, saved?.dockerName ?? '-', saved?.launchedAt ?? '-', how].join('\t'));
    if (!remove) continue;
    const lock = await ctx.store.lock(id, 0).catch((err: unknown) => {
      ctx.log.debug('not removing a container another call holds', { containerId: id, error: String(err) });
      return undefined;
    });
    if (!lock) continue;
    try {
      // the container found by its labels, never the id the state file names
      if (listed) await (await ctx.docker()).remove(listed.id);
      ctx.store.remove(id);
    } finally {
      lock.release();
    }
  }
  ctx.io.writeText(['CONTAINER\tDOCKER\tSTARTED\tENDED', ...rows].join('\n') + '\n');
  if (remove) ctx.log.info('removed state of ended containers', { count: rows.length });
}
