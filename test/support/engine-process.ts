/**
 * `theseus engine` as a process on a free port, a temporary data directory and a random host port
 * range; `stop()` removes every app, waits for their tasks to end, stops it and removes the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, eventually, freePort, startPart, type PartProcess } from './processes.js';

export interface EngineProcess {
  url: string;
  port: number;
  part: PartProcess;
  stop(): Promise<void>;
}

export async function startEngineProcess(hostPorts = 60): Promise<EngineProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-process-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const low = 34000 + Math.floor(Math.random() * 1500);
  const part = await startPart('engine', {
    args: ['--port', String(port), '--data-dir', dataDir],
    env: { ENGINE_PORT_RANGE: `${low}-${low + hostPorts}` },
    ready: () => answers(`${url}/ping`),
  });
  const json = async (path: string) =>
    (await fetch(url + path)).json() as Promise<Record<string, Array<{ id: string }>>>;
  return {
    url,
    port,
    part,
    async stop() {
      const apps = await json('/v2/apps').then(
        (b) => b.apps ?? [],
        () => [],
      );
      for (const app of apps) await fetch(`${url}/v2/apps${app.id}?force=true`, { method: 'DELETE' }).catch(() => {});
      await eventually('every task gone', async () => (await json('/v2/tasks')).tasks?.length === 0, 60_000).catch(
        () => {},
      );
      await part.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
