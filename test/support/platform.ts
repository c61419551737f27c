/**
 * The whole platform on this machine as real processes, for end-to-end tests: a private etcd on
 * the Docker bridge (containers reach it there), the engine running tasks in Docker, the
 * subscriber writing endpoints under a random etcd prefix, and the deployer with a random queue
 * prefix. `stop()` stops them and removes the engine's containers and data.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { MarathonClient, type EtcdAccess } from '@theseus/services';
import { EtcdProcess } from '@theseus/services/testing';
import { bridgeGateway as findBridgeGateway } from '../../cluster/scripts/bridge-gateway.mjs';
import { answers, freePort, startPart, type PartProcess } from './processes.js';

export interface PlatformOptions {
  /** Host ports the engine hands to tasks, e.g. `34000-34499` (keep test files apart). */
  enginePortRange: string;
  /** Extra deployer settings (e.g. THESEUS_OPEN_READS); a function gets the engine's URL. */
  deployerEnv?: Record<string, string> | ((urls: { engineUrl: string }) => Record<string, string>);
  /** @defaultValue 5000 */
  reconcileIntervalMs?: number;
  /**
   * Turn etcd's authentication on (cluster/scripts/etcd-auth.mjs): the subscriber, the deployer and
   * the containers each get their own user. @defaultValue false
   */
  etcdAuth?: boolean;
}

export interface Platform {
  etcd: EtcdProcess;
  engine: PartProcess;
  subscriber: PartProcess;
  deployer: PartProcess;
  engineUrl: string;
  deployerUrl: string;
  subscriberUrl: string;
  /** Containers of this engine carry the label `theseus.engine=<engineId>`. */
  engineId: string;
  marathon: MarathonClient;
  /** THESEUS_API_TOKEN of the deployer. */
  token: string;
  etcdPrefix: string;
  /** With `etcdAuth`: etcd's root user, for the test's own reads. */
  etcdAccess: EtcdAccess | undefined;
  /** The Docker bridge gateway: where tasks are reported and etcd listens. */
  gateway: string;
  /** Starts the subscriber again after a test killed it. */
  restartSubscriber(): Promise<PartProcess>;
  stop(): Promise<void>;
}

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** The address containers reach this host at, found as the stack script finds it. */
export async function bridgeGateway(): Promise<string> {
  const found = findBridgeGateway(await docker.getNetwork('bridge').inspect());
  if (!found) throw new Error('the Docker bridge has no IPv4 gateway, interface address or subnet');
  return found.address;
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const token = `test-${randomUUID()}`;
  const etcdPrefix = `/test-${randomUUID().slice(0, 8)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-engine-'));
  const parts: PartProcess[] = [];
  let etcd: EtcdProcess | undefined;
  let engineId = '';
  const cleanUp = async () => {
    for (const part of [...parts].reverse()) await part.stop();
    if (engineId) {
      const leftovers = await docker
        .listContainers({ all: true, filters: { label: [`theseus.engine=${engineId}`] } })
        .catch(() => []);
      await Promise.all(
        leftovers.map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
    }
    await etcd?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const gateway = await bridgeGateway();
    etcd = await EtcdProcess.start(gateway);
    const passwords = join(dataDir, 'etcd-passwords');
    const etcdUser = (user: string, prefix = ''): Record<string, string> =>
      options.etcdAuth
        ? { [`${prefix}ETCD_USERNAME`]: user, [`${prefix}ETCD_PASSWORD_FILE`]: join(passwords, `${user}.password`) }
        : {};
    let etcdAccess: EtcdAccess | undefined;
    if (options.etcdAuth) {
      const script = fileURLToPath(new URL('../../cluster/scripts/etcd-auth.mjs', import.meta.url));
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', script, passwords], {
        env: { ...process.env, ETCD_ENDPOINTS: etcd.endpoint, THESEUS_ETCD_PREFIX: etcdPrefix },
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`etcd-auth.mjs failed: ${run.stderr}`);
      etcdAccess = { username: 'root', password: readFileSync(join(passwords, 'root.password'), 'utf8').trim() };
    }

    const enginePort = await freePort();
    const engineUrl = `http://127.0.0.1:${enginePort}`;
    const engine = await startPart('engine', {
      args: ['--port', String(enginePort), '--data-dir', dataDir, '--hostname', gateway],
      env: { ENGINE_PORT_RANGE: options.enginePortRange },
      ready: () => answers(`${engineUrl}/ping`),
    });
    parts.push(engine);
    const marathon = new MarathonClient({ urls: [engineUrl] });
    engineId = String((await marathon.info()).frameworkId).replace(/-0000$/, '');

    const subscriberPort = await freePort();
    const subscriberUrl = `http://127.0.0.1:${subscriberPort}`;
    const startSubscriber = () =>
      startPart('subscriber', {
        args: ['--port', String(subscriberPort)],
        env: {
          MARATHON_URL: engineUrl,
          ETCD_ENDPOINTS: etcd!.endpoint,
          THESEUS_ETCD_PREFIX: etcdPrefix,
          RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs ?? 5000),
          ...etcdUser('theseus-subscriber'),
        },
        ready: () => answers(`${subscriberUrl}/readyz`),
      });
    let subscriber = await startSubscriber();
    parts.push(subscriber);

    const deployerPort = await freePort();
    const deployerUrl = `http://127.0.0.1:${deployerPort}`;
    const deployer = await startPart('deployer', {
      args: ['--port', String(deployerPort)],
      env: {
        MARATHON_URL: engineUrl,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        THESEUS_API_TOKEN: token,
        THESEUS_QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
        ETCD_ENDPOINTS: etcd.endpoint,
        THESEUS_ETCD_PREFIX: etcdPrefix,
        ...etcdUser('theseus-deployer'),
        ...etcdUser('theseus-container', 'THESEUS_CONTAINER_'),
        ...(typeof options.deployerEnv === 'function' ? options.deployerEnv({ engineUrl }) : options.deployerEnv),
      },
      ready: () => answers(`${deployerUrl}/healthz`),
    });
    parts.push(deployer);

    return {
      etcd,
      engine,
      deployer,
      engineUrl,
      deployerUrl,
      subscriberUrl,
      engineId,
      marathon,
      token,
      etcdPrefix,
      etcdAccess,
      gateway,
      get subscriber() {
        return subscriber;
      },
      async restartSubscriber() {
        const index = parts.indexOf(subscriber);
        subscriber = await startSubscriber();
        parts[index] = subscriber;
        return subscriber;
      },
      stop: cleanUp,
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
