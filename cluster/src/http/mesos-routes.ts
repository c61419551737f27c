/**
 * `GET /master/slaves` (also `/slaves`) in a Mesos master's shape for the engine's one agent: what it
 * offers and what its tasks use, for tools that read capacity from a Mesos master (MESOS_MASTER_URL).
 */
import { Router, type Request, type Response } from 'express';
import type { Engine } from '../engine.js';

export function mesosRoutes(engine: Engine): Router {
  const router = Router();
  const registeredTime = Date.parse(engine.startedAt) / 1000;

  const slaves = (req: Request, res: Response) => {
    const { cpus, memMb: mem } = engine.capacity;
    const [min, max] = engine.portRange;
    const tasks = engine.allTasks();
    const used = engine.usedResources();
    const usedPorts = ranges(tasks.flatMap((t) => t.ports).filter((p) => p >= min && p <= max));
    const slave = {
      id: engine.agentId,
      // the agent's API (`/monitor/statistics`) answers where this request came in
      pid: `slave(1)@${listenAddress(req.socket.localAddress) ?? engine.hostname}:${req.socket.localPort ?? 5051}`,
      hostname: engine.hostname,
      port: req.socket.localPort ?? 5051,
      registered_time: registeredTime,
      resources: { cpus, mem, disk: 0, gpus: 0, ports: `[${min}-${max}]` },
      used_resources: {
        cpus: round(used.cpus),
        mem: used.memMb,
        disk: 0,
        gpus: 0,
        ...(usedPorts ? { ports: usedPorts } : {}),
      },
      offered_resources: { cpus: 0, mem: 0, disk: 0, gpus: 0 },
      reserved_resources: {},
      unreserved_resources: { cpus, mem, disk: 0, gpus: 0, ports: `[${min}-${max}]` },
      attributes: {},
      active: true,
      version: '1.0.1',
      capabilities: [],
    };
    const wanted = typeof req.query.slave_id === 'string' ? req.query.slave_id : undefined;
    res.json({ slaves: !wanted || wanted === slave.id ? [slave] : [], recovered_slaves: [] });
  };
  router.get('/master/slaves', slaves);
  router.get('/slaves', slaves);
  return router;
}

/** The local address of a connection as a URL host (`127.0.0.1`, `[::1]`). */
export function listenAddress(local: string | undefined): string | undefined {
  if (!local) return undefined;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(local)?.[1];
  if (v4) return v4;
  return local.includes(':') ? `[${local}]` : local;
}

/** Port numbers as Mesos writes a ranges resource: `[31000-31002, 31005-31005]`. */
function ranges(ports: number[]): string | undefined {
  if (ports.length === 0) return undefined;
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0]!;
  let end = start;
  for (const p of sorted.slice(1)) {
    if (p === end + 1) end = p;
    else {
      parts.push(`${start}-${end}`);
      start = end = p;
    }
  }
  parts.push(`${start}-${end}`);
  return `[${parts.join(', ')}]`;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
