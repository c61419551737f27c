/**
 * Launch-to-running of the containerizer program (invoked as a slave does: a fresh process per
 * call, a framed record on stdin) against `docker run -d` of the same image with the same limits,
 * measured alternately side by side; and `usage` latency. The program is measured as built (the
 * single-file bundle with its code cache, what bin/theseus-containerizer.js runs) and, for
 * comparison, as the compiled modules it is built from (THESEUS_CONTAINERIZER_BUNDLE=0).
 *
 *   npx tsc -b && node --import tsx --conditions=source containerizer/bench/launch.ts [rounds]
 *
 * The bundle is rebuilt first (containerizer/scripts/bundle.mjs), so it matches the compiled modules.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { DockerDriver } from '../src/docker/driver.js';
import { programContext } from '../src/commands/context.js';
import { usage } from '../src/commands/lifecycle.js';
import { launch } from '../src/commands/launch.js';
import { encodeMessage } from '../src/protocol/messages.js';
import { callProgram, idRecord } from '../src/testing/slave-calls.js';

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
/** The compiled modules instead of the bundle. */
const UNBUNDLED = { ...process.env, THESEUS_CONTAINERIZER_BUNDLE: '0' };
/**
 * Node reads NODE_EXTRA_CA_CERTS before running any JavaScript (about 30 ms for a system CA bundle);
 * where the benchmark's environment sets it and a slave's would not, the bundle is also measured without it.
 */
const WITHOUT_EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS ? (({ NODE_EXTRA_CA_CERTS: _, ...rest }) => rest)(process.env) : undefined;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

function launchRecord(containerId: string): Uint8Array {
  const dir = join(work, 'sandboxes', containerId);
  mkdirSync(dir, { recursive: true });
  return encodeMessage('mesos.containerizer.Launch', {
    container_id: { value: containerId },
    executor_info: {
      executor_id: { value: containerId },
      command: { value: 'sleep 300' },
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: { value: CPUS } },
        { name: 'mem', type: 'SCALAR', scalar: { value: MEM_MB } },
      ],
      container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } },
    },
    directory: dir,
  });
}

async function programLaunch(env: NodeJS.ProcessEnv): Promise<number> {
  const record = launchRecord(randomUUID());
  const started = performance.now();
  const result = await callProgram(['--config', configFile, 'launch'], record, { env });
  const elapsed = performance.now() - started;
  if (result.code !== 0) throw new Error(`launch failed: ${result.stderr}`);
  return elapsed;
}

function dockerRunLaunch(): number {
  const started = performance.now();
  const args = ['run', '-d', '--label', `theseus.containerizer=${instance}`, '--cpu-shares', String(Math.round(1024 * CPUS)), '-m', `${MEM_MB}m`, '--memory-swap', `${MEM_MB}m`, '--network', 'none', '--init', IMAGE, 'sh', '-c', 'sleep 300'];
  const result = spawnSync('docker', args, { encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`docker run failed: ${result.stderr}`);
  return elapsed;
}

/** Removes this run's containers between rounds, so the Engine holds about as many in every round. */
async function removeAll(): Promise<void> {
  for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
}

async function usageCalls(record: Uint8Array, env: NodeJS.ProcessEnv, calls: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    const result = await callProgram(['--config', configFile, 'usage'], record, { env });
    times.push(performance.now() - t);
    if (result.code !== 0 || result.stdout.length === 0) throw new Error(`usage failed: ${result.stderr}`);
  }
  return times;
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url))], { stdio: 'inherit' });
  await driver.ping();
  execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  const ctx = await programContext(configFile, []);
  const inProcessLaunch = async () => {
    const record = launchRecord(randomUUID());
    const t = performance.now();
    await launch(ctx, record);
    return performance.now() - t;
  };
  // warm every path once (page cache, image layers, the in-process modules)
  await programLaunch(process.env);
  await programLaunch(UNBUNDLED);
  dockerRunLaunch();
  await inProcessLaunch();
  await removeAll();

  const bundled: number[] = [];
  const unbundled: number[] = [];
  const bundledWithoutExtraCa: number[] = [];
  const baseline: number[] = [];
  const library: number[] = [];
  const order = [
    async () => bundled.push(await programLaunch(process.env)),
    async () => baseline.push(dockerRunLaunch()),
    async () => unbundled.push(await programLaunch(UNBUNDLED)),
    async () => baseline.push(dockerRunLaunch()),
    async () => library.push(await inProcessLaunch()),
    ...(WITHOUT_EXTRA_CA ? [async () => bundledWithoutExtraCa.push(await programLaunch(WITHOUT_EXTRA_CA)), async () => baseline.push(dockerRunLaunch())] : []),
  ];
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < order.length; k++) await (order[(i + k) % order.length] as () => Promise<number>)();
    await removeAll();
  }

  // usage: in process (decode, state, cgroup counters, encode) and as whole program invocations
  const probe = randomUUID();
  const launched = await callProgram(['--config', configFile, 'launch'], launchRecord(probe));
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
  const usageBundled: number[] = [];
  const usageUnbundled: number[] = [];
  const usageWithoutExtraCa: number[] = [];
  const usageRounds = Math.max(20, rounds);
  for (let i = 0; i < usageRounds; i++) {
    const calls = [
      async () => usageBundled.push(...(await usageCalls(record, process.env, 1))),
      async () => usageUnbundled.push(...(await usageCalls(record, UNBUNDLED, 1))),
      ...(WITHOUT_EXTRA_CA ? [async () => usageWithoutExtraCa.push(...(await usageCalls(record, WITHOUT_EXTRA_CA, 1)))] : []),
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
  const bare = bareStart(process.env);
  const bareWithoutExtraCa = WITHOUT_EXTRA_CA ? bareStart(WITHOUT_EXTRA_CA) : undefined;

  const ratio = (xs: number[]) => (median(xs) / median(baseline)).toFixed(2);
  console.log(`launch-to-running, ${rounds} rounds, alternating (image ${IMAGE}, ${CPUS} cpus, ${MEM_MB} MiB, no network):`);
  console.log(`  theseus-containerizer launch, as built (bundle):   median ${fmt(median(bundled))}  p90 ${fmt(percentile(bundled, 90))}`);
  console.log(`  theseus-containerizer launch, compiled modules:    median ${fmt(median(unbundled))}  p90 ${fmt(percentile(unbundled, 90))}`);
  console.log(`  docker run -d (CLI, ${baseline.length} runs):                 median ${fmt(median(baseline))}  p90 ${fmt(percentile(baseline, 90))}`);
  if (WITHOUT_EXTRA_CA) console.log(`  theseus-containerizer launch, bundle, without NODE_EXTRA_CA_CERTS: median ${fmt(median(bundledWithoutExtraCa))}  p90 ${fmt(percentile(bundledWithoutExtraCa, 90))}`);
  console.log(`  ratio of medians to docker run -d (target <= 1.0): bundle ${ratio(bundled)}, compiled modules ${ratio(unbundled)}${WITHOUT_EXTRA_CA ? `, bundle without NODE_EXTRA_CA_CERTS ${ratio(bundledWithoutExtraCa)}` : ''}`);
  console.log(`  launch in process (decode, plan, image check, Engine create+start+inspect, state): median ${fmt(median(library))}, ratio ${ratio(library)}`);
  console.log('usage latency:');
  console.log(`  whole process, as built (bundle), ${usageBundled.length} calls: p50 ${fmt(median(usageBundled))}  p90 ${fmt(percentile(usageBundled, 90))}  (target p50 < 30 ms)`);
  console.log(`  whole process, compiled modules, ${usageUnbundled.length} calls: p50 ${fmt(median(usageUnbundled))}  p90 ${fmt(percentile(usageUnbundled, 90))}`);
  if (WITHOUT_EXTRA_CA) console.log(`  whole process, bundle without NODE_EXTRA_CA_CERTS, ${usageWithoutExtraCa.length} calls: p50 ${fmt(median(usageWithoutExtraCa))}  p90 ${fmt(percentile(usageWithoutExtraCa, 90))}`);
  console.log(`  in process (decode + state + cgroup counters + encode), 100 calls: p50 ${fmt(median(inProcess))}  p90 ${fmt(percentile(inProcess, 90))}`);
  console.log(`  (the Engine's own one-shot stats endpoint, for comparison: p50 ${fmt(median(engineStats))})`);
  console.log(`  (bare \`node -e 0\` start on this machine: p50 ${fmt(bare)}${bareWithoutExtraCa === undefined ? '' : `; without NODE_EXTRA_CA_CERTS ${fmt(bareWithoutExtraCa)}`})`);
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await removeAll();
    rmSync(work, { recursive: true, force: true });
  });
