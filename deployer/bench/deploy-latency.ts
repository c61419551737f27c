/**
 * The deployer's own added latency per deploy: the wall time of `POST /deploy?wait=true` (one new
 * service each time) minus Marathon's time, which is the union of the time Marathon (the engine
 * in-process, timed by its fault layer's request log) spent answering this deploy's calls and the time
 * its deployment ran (from its deployment events). What is left is ours: HTTP, validation, the Redis queue and records, the per-app lock, and
 * noticing that the deployment ended (Marathon's event stream, with polling as the fallback).
 * Run with deployments of 0 ms and of 200 ms, with events and with polling only. Target: < 20 ms.
 *
 *   node --import tsx --conditions=source deployer/bench/deploy-latency.ts [--deploys 40]
 */
import { startHarness, type Harness } from '../src/testing/harness.js';
import { median, percentile } from './support/stats.js';

const i = process.argv.indexOf('--deploys');
const DEPLOYS = i > 0 ? Number(process.argv[i + 1]) : 40;

/** Total length of the union of intervals. */
function unionLength(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [start, end] = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const [s, e] of sorted) {
    if (s > end) {
      if (end > start) total += end - start;
      [start, end] = [s, e];
    } else end = Math.max(end, e);
  }
  if (end > start) total += end - start;
  return total;
}

/** Deployments of the engine that ended, with when they started and ended (performance.now()). */
function deploymentTimes(h: Harness): Array<{ app: string; startMs: number; endMs: number }> {
  const ended: Array<{ app: string; startMs: number; endMs: number }> = [];
  const running = new Map<string, { app: string; startMs: number }>();
  h.marathon!.engine.bus.subscribe((event) => {
    const plan = event.plan as { id: string; steps: Array<{ actions: Array<{ app: string }> }> } | undefined;
    if (!plan) return;
    const app = plan.steps[0]?.actions[0]?.app ?? '';
    if (!running.has(plan.id)) running.set(plan.id, { app, startMs: performance.now() });
    if (event.eventType === 'deployment_success' || event.eventType === 'deployment_failed') {
      ended.push({ ...running.get(plan.id)!, endMs: performance.now() });
      running.delete(plan.id);
    }
  });
  return ended;
}

async function measure(h: Harness, label: string, count: number): Promise<void> {
  const marathonCalls = h.marathon!.calls;
  const ended = deploymentTimes(h);
  const totals: number[] = [];
  const marathon: number[] = [];
  const added: number[] = [];
  for (let n = 0; n < count + 3; n++) {
    const service = `lat-${label.replace(/\W+/g, '-')}-${n}`;
    const appId = `/theseus/default/${service}`;
    const callsBefore = marathonCalls.length;
    const t0 = performance.now();
    const res = await fetch(`${h.url}/deploy?wait=true`, {
      method: 'POST',
      headers: { ...h.auth, 'Content-Type': 'application/yaml' },
      body: `deploy:\n  ${service}: {image: nginx, ports: {http: 80}}\n`,
    });
    const body = (await res.json()) as { state: string };
    const t1 = performance.now();
    if (body.state !== 'succeeded') throw new Error(`deploy ${n} ended ${body.state}`);
    const intervals: Array<[number, number]> = marathonCalls.slice(callsBefore).map((c) => [c.startMs, c.endMs]);
    for (const d of ended) if (d.app === appId) intervals.push([d.startMs, d.endMs]);
    const inMarathon = unionLength(intervals);
    if (n >= 3) {
      totals.push(t1 - t0);
      marathon.push(inMarathon);
      added.push(t1 - t0 - inMarathon);
    }
  }
  const f = (x: number) => x.toFixed(1);
  console.log(
    `${label}: total median ${f(median(totals))} ms | Marathon ${f(median(marathon))} ms | added median ${f(median(added))} ms, p90 ${f(percentile(added, 90))} ms (target < 20 ms: ${median(added) < 20 ? 'met' : 'NOT met'})`,
  );
}

for (const [deploymentMs, events] of [
  [0, true],
  [200, true],
  [200, false],
] as const) {
  const h = await startHarness({ marathon: { script: () => ({ afterMs: deploymentMs }) }, events });
  try {
    await new Promise((r) => setTimeout(r, 300)); // let the event stream attach
    await measure(
      h,
      `deployment ${deploymentMs} ms, ${events ? 'events' : 'polling only'}`,
      deploymentMs ? Math.ceil(DEPLOYS / 2) : DEPLOYS,
    );
  } finally {
    await h.close();
  }
}
