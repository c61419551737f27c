/** The engine (Docker tasks) and a deployer in front of it, both as `theseus` processes, for end-to-end tests. */
import { randomBytes } from 'node:crypto';
import { answers, freePort, startPart, type PartProcess } from './processes.js';

export interface EngineAndDeployer {
  engine: PartProcess;
  deployer: PartProcess;
  engineUrl: string;
  deployerUrl: string;
  token: string;
  auth: { Authorization: string };
  /** Stops the deployer, then the engine. */
  stop(): Promise<void>;
}

export async function startEngineAndDeployer(
  dataDir: string,
  /** Added to the deployer's environment; a function gets the engine's URL. */
  deployerEnv: Record<string, string> | ((engineUrl: string) => Record<string, string>) = {},
): Promise<EngineAndDeployer> {
  const token = `engine-test-${randomBytes(8).toString('hex')}`;
  const enginePort = await freePort();
  const engineUrl = `http://127.0.0.1:${enginePort}`;
  const low = 33000 + Math.floor(Math.random() * 2000);
  const engine = await startPart('engine', {
    args: ['--port', String(enginePort), '--data-dir', dataDir],
    env: { ENGINE_PORT_RANGE: `${low}-${low + 50}` },
    ready: () => answers(`${engineUrl}/ping`),
  });
  const port = await freePort();
  const deployerUrl = `http://127.0.0.1:${port}`;
  let deployer: PartProcess;
  try {
    deployer = await startPart('deployer', {
      args: ['--port', String(port)],
      env: {
        MARATHON_URL: engineUrl,
        THESEUS_API_TOKEN: token,
        THESEUS_QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}`,
        THESEUS_DEPLOYMENT_TIMEOUT_MS: '90000',
        ...(typeof deployerEnv === 'function' ? deployerEnv(engineUrl) : deployerEnv),
      },
      ready: () => answers(`${deployerUrl}/healthz`),
    });
  } catch (err) {
    await engine.stop();
    throw err;
  }
  return {
    engine,
    deployer,
    engineUrl,
    deployerUrl,
    token,
    auth: { Authorization: `Bearer ${token}` },
    async stop() {
      await deployer.stop();
      await engine.stop();
    },
  };
}
