/**
 * Launch-to-running of the containerizer (the built program, invoked as a slave does) against
 * `docker run -d` of the same image with the same limits, measured alternately side by side; and
 * `usage` latency, in process and as a whole program invocation.
 *
 *   npx tsc -b && node --import tsx --conditions=source containerizer/bench/launch.ts [rounds]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

async function containerizerLaunch(): Promise<number> {
  const id = randomUUID();
  const record = launchRecord(id);
  const started = performance.now();
  const result = await callProgram(['--config', configFile, 'launch'], record);
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

async function main(): Promise<void> {
  await driver.ping();
  execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  // warm both paths once (page cache, image layers)
  await containerizerLaunch();
  dockerRunLaunch();

  const ctx = await programContext(configFile, []);
  const inProcessLaunch = async () => {
    const record = launchRecord(randomUUID());
    const t = performance.now();
    await launch(ctx, record);
    return performance.now() - t;
  };
  await inProcessLaunch();

  const ours: number[] = [];
  const baseline: number[] = [];
  const library: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = [
      async () => ours.push(await containerizerLaunch()),
      async () => baseline.push(dockerRunLaunch()),
      async () => library.push(await inProcessLaunch()),
    ];
    for (let k = 0; k < order.length; k++) await (order[(i + k) % order.length] as () => Promise<number>)();
  }

  // usage: in process (decode, state, Engine stats, encode) and as a whole program invocation
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
  const wholeProcess: number[] = [];
  for (let i = 0; i < Math.max(20, rounds); i++) {
    const t = performance.now();
    const result = await callProgram(['--config', configFile, 'usage'], record);
    wholeProcess.push(performance.now() - t);
    if (result.code !== 0) throw new Error(result.stderr);
  }
  const bare: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    bare.push(performance.now() - t);
  }

  const ratio = median(ours) / median(baseline);
  console.log(`launch-to-running, ${rounds} rounds each, alternating (image ${IMAGE}, ${CPUS} cpus, ${MEM_MB} MiB, no network):`);
  console.log(`  theseus-containerizer launch (whole process): median ${fmt(median(ours))}  p90 ${fmt(percentile(ours, 90))}`);
  console.log(`  docker run -d (CLI):                          median ${fmt(median(baseline))}  p90 ${fmt(percentile(baseline, 90))}`);
  console.log(`  ratio of medians (target <= 1.0): ${ratio.toFixed(2)}`);
  console.log(`  launch in process (decode, plan, image check, Engine create+start+inspect, state): median ${fmt(median(library))}, ratio to docker run -d ${(median(library) / median(baseline)).toFixed(2)}`);
  console.log('usage latency:');
  console.log(`  in process (decode + state + cgroup counters + encode), 100 calls: p50 ${fmt(median(inProcess))}  p90 ${fmt(percentile(inProcess, 90))}  (target p50 < 30 ms)`);
  console.log(`  (the Engine's own one-shot stats endpoint, for comparison: p50 ${fmt(median(engineStats))})`);
  console.log(`  whole process invocation, ${wholeProcess.length} calls: p50 ${fmt(median(wholeProcess))}  p90 ${fmt(percentile(wholeProcess, 90))}`);
  console.log(`  (bare \`node -e 0\` start on this machine: p50 ${fmt(median(bare))})`);
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
    rmSync(work, { recursive: true, force: true });
  });
