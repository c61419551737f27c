/**
 * Launch-to-running of the containerizer program (invoked as a slave does: a fresh process per
 * call, a framed record on stdin) against `docker run -d` of the same image with the same limits,
 * measured alternately side by side; and `usage` latency. The program is measured as a slave runs
 * it (the native client, handing the call to the resident service, which is started once before
 * timing) and, for comparison, as the Node program in a process of its own (the single-file bundle
 * with its code cache: what the client falls back to) and inside a running process.
 *
 *   npx tsc -b && node --import tsx --conditions=source containerizer/bench/launch.ts [rounds]
 *
 * The bundle and the client are rebuilt first (containerizer/scripts/bundle.mjs).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { DockerDriver } from '../src/docker/driver.js';
import { programContext } from '../src/commands/context.js';
import { usage } from '../src/commands/lifecycle.js';
import { launch } from '../src/commands/launch.js';
import { callProgram, idRecord, sleeperLaunch, type CallOptions } from '../src/testing/slave-calls.js';

const IMAGE = 'theseus/busybox:local';
const rounds = Number(process.argv[2] ?? 15);
const run = randomBytes(4).toString('hex');
const instance = `bench-${run}`;
const work = mkdtempSync(join(tmpdir(), 'theseus-ecp-bench-'));
const configFile = join(work, 'containerizer.yaml');
writeFileSync(configFile, `stateDir: ${join(work, 'state')}\ninstance: ${instance}\nstopGraceSeconds: 0\n`);
const driver = new DockerDriver();
const CPUS = 0.25;
const MEM_MB = 32;
/** The client's service runs from a runtime directory of this run, and is stopped at the end. */
const runtimeDir = join(work, 'run');
mkdirSync(runtimeDir, { mode: 0o700 });
const ENV: NodeJS.ProcessEnv = { ...process.env, THESEUS_CONTAINERIZER_RUNTIME_DIR: runtimeDir };
/**
 * Node reads NODE_EXTRA_CA_CERTS before running any JavaScript (about 30 ms for a system CA bundle):
 * the Node program is measured without it, as the client runs it (the program opens no TLS connection).
 */
const NODE_ENV = (({ NODE_EXTRA_CA_CERTS: _, ...rest }) => rest)(ENV);
const CLIENT: CallOptions = { env: ENV };
const NODE: CallOptions = { env: NODE_ENV, node: true };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

function launchRecord(containerId: string): Uint8Array {
  const dir = join(work, 'sandboxes', containerId);
  mkdirSync(dir, { recursive: true });
  return sleeperLaunch(containerId, dir, { cpus: CPUS, memMb: MEM_MB });
}

async function programLaunch(how: CallOptions): Promise<number> {
  const record = launchRecord(randomUUID());
  const started = performance.now();
  const result = await callProgram(['--config', configFile, 'launch'], record, how);
  const elapsed = performance.now() - started;
  if (result.code !== 0) throw new Error(`launch failed: ${result.stderr}`);
  return elapsed;
}

function dockerRunLaunch(): number {
  const started = performance.now();
  const args = [
    'run',
    '-d',
    '--label',
    `theseus.containerizer=${instance}`,
    '--cpu-shares',
    String(Math.round(1024 * CPUS)),
    '-m',
    `${MEM_MB}m`,
    '--memory-swap',
    `${MEM_MB}m`,
    '--network',
    'none',
    '--init',
    IMAGE,
    'sh',
    '-c',
    'sleep 300',
  ];
  const result = spawnSync('docker', args, { encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`docker run failed: ${result.stderr}`);
  return elapsed;
}

/** Removes this run's containers between rounds, so the Engine holds about as many in every round. */
async function removeAll(): Promise<void> {
  for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
}

async function usageCalls(record: Uint8Array, how: CallOptions, calls: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    const result = await callProgram(['--config', configFile, 'usage'], record, how);
    times.push(performance.now() - t);
    if (result.code !== 0 || result.stdout.length === 0) throw new Error(`usage failed: ${result.stderr}`);
  }
  return times;
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url))], {
    stdio: 'inherit',
  });
  await driver.ping();
  execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  const { processIO } = await import('../src/program-io.js');
  const ctx = await programContext(configFile, processIO(false));
  const inProcessLaunch = async () => {
    const record = launchRecord(randomUUID());
    const t = performance.now();
    await launch(ctx, record);
    return performance.now() - t;
  };
  // warm every path once (page cache, image layers, the in-process modules; the client starts its service)
  await programLaunch(CLIENT);
  await programLaunch(NODE);
  dockerRunLaunch();
  await inProcessLaunch();
  await removeAll();

  const client: number[] = [];
  const node: number[] = [];
  const baseline: number[] = [];
  const library: number[] = [];
  const order = [
    async () => client.push(await programLaunch(CLIENT)),
    async () => baseline.push(dockerRunLaunch()),
    async () => node.push(await programLaunch(NODE)),
    async () => baseline.push(dockerRunLaunch()),
    async () => library.push(await inProcessLaunch()),
  ];
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < order.length; k++) await (order[(i + k) % order.length] as () => Promise<number>)();
    await removeAll();
  }

  // usage: in process (decode, state, cgroup counters, encode) and as whole program invocations
  const probe = randomUUID();
  const launched = await callProgram(['--config', configFile, 'launch'], launchRecord(probe), CLIENT);
  if (launched.code !== 0) throw new Error(launched.stderr);
  const record = idRecord('Usage', probe);
  for (let i = 0; i < 5; i++) await usage(ctx, record);
  const inProcess: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t = performance.now();
    await usage(ctx, record);
    inProcess.push(performance.now() - t);
  }
  const engine = new Docker();
  const dockerId = ctx.store.read(probe)?.dockerId ?? '';
  const engineStats: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await engine.getContainer(dockerId).stats({ stream: false, 'one-shot': true } as { stream: false });
    engineStats.push(performance.now() - t);
  }
  const usageClient: number[] = [];
  const usageNode: number[] = [];
  const usageRounds = Math.max(30, rounds);
  for (let i = 0; i < usageRounds; i++) {
    const calls = [
      async () => usageClient.push(...(await usageCalls(record, CLIENT, 1))),
      async () => usageNode.push(...(await usageCalls(record, NODE, 1))),
    ];
    for (let k = 0; k < calls.length; k++) await (calls[(i + k) % calls.length] as () => Promise<number>)();
  }
  const bareStart = (env: NodeJS.ProcessEnv) => {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      spawnSync(process.execPath, ['-e', '0'], { env });
      times.push(performance.now() - t);
    }
    return median(times);
  };
  const bare = bareStart(NODE_ENV);

  const ratio = (xs: number[]) => (median(xs) / median(baseline)).toFixed(2);
  console.log(
    `launch-to-running, ${rounds} rounds, alternating (image ${IMAGE}, ${CPUS} cpus, ${MEM_MB} MiB, no network):`,
  );
  console.log(
    `  theseus-containerizer launch, as a slave runs it (native client + service): median ${fmt(median(client))}  p90 ${fmt(percentile(client, 90))}`,
  );
  console.log(
    `  theseus-containerizer launch, Node program in its own process:               median ${fmt(median(node))}  p90 ${fmt(percentile(node, 90))}`,
  );
  console.log(
    `  docker run -d (CLI, ${baseline.length} runs):                                           median ${fmt(median(baseline))}  p90 ${fmt(percentile(baseline, 90))}`,
  );
  console.log(
    `  ratio of medians to docker run -d (target <= 1.0): native client ${ratio(client)}, Node program ${ratio(node)}`,
  );
  console.log(
    `  launch in process (decode, plan, Engine create+start+inspect, state): median ${fmt(median(library))}, ratio ${ratio(library)}`,
  );
  console.log('usage latency:');
  console.log(
    `  as a slave runs it (native client + service), ${usageClient.length} calls: p50 ${fmt(median(usageClient))}  p90 ${fmt(percentile(usageClient, 90))}  (target p50 < 30 ms)`,
  );
  console.log(
    `  Node program in its own process, ${usageNode.length} calls: p50 ${fmt(median(usageNode))}  p90 ${fmt(percentile(usageNode, 90))}`,
  );
  console.log(
    `  in process (decode + state + cgroup counters + encode), 100 calls: p50 ${fmt(median(inProcess))}  p90 ${fmt(percentile(inProcess, 90))}`,
  );
  console.log(`  (the Engine's own one-shot stats endpoint, for comparison: p50 ${fmt(median(engineStats))})`);
  console.log(`  (bare \`node -e 0\` start on this machine, without NODE_EXTRA_CA_CERTS: p50 ${fmt(bare)})`);
}

/** Stops the service this run's client started (its pid is in its log). */
function stopService(): void {
  for (const log of readdirSync(runtimeDir).filter((f) => f.endsWith('.log'))) {
    for (const [, pid] of readFileSync(join(runtimeDir, log), 'utf8').matchAll(/ready \(pid (\d+)/g)) {
      try {
        process.kill(Number(pid), 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await removeAll();
    stopService();
    rmSync(work, { recursive: true, force: true });
  });
