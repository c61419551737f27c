/** Starts an engine and its HTTP server together; `stop` leaves tasks running for the next start to adopt. */
import { Engine } from './engine.js';
import { listenPlan, startEngineServer, type EngineServer } from './http/server.js';
import type { EngineOptions } from './options.js';

export interface RunningEngine {
  engine: Engine;
  http: EngineServer;
  url: string;
  stop(): Promise<void>;
}

export async function startEngine(options: EngineOptions): Promise<RunningEngine> {
  const listen = await listenPlan(options);
  const engine = new Engine(options);
  await engine.start();
  let http: EngineServer;
  try {
    http = await startEngineServer(engine, listen);
  } catch (err) {
    engine.stop();
    throw err;
  }
  return {
    engine,
    http,
    url: http.url,
    stop: async () => {
      await http.close();
      engine.stop();
    },
  };
}
