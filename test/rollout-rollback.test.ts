/**
 * A failed rollout rolled back, end to end: the deployer and the engine (Docker tasks) as `theseus`
 * processes. A change whose health checks never pass is cancelled once its deadline has passed;
 * Marathon's rollback keeps the previous version's instances, which serve throughout; `theseus
 * deploy --wait` shows the cause and exits non-zero.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MARATHON_LABELS } from '@theseus/services';
import { eventually, THESEUS_BIN } from './support/processes.js';
import { startEngineAndDeployer, type EngineAndDeployer } from './support/engine-and-deployer.js';

const service = `web-${randomBytes(3).toString('hex')}`;
const appPath = `theseus/default/${service}--it`;

function doc(healthPath: string, extra: string[] = []): string {
  return (
    [
      'deploy:',
      `  ${service}:`,
      '    image: theseus/busybox:local',
      '    labels: [it]',
      '    ports: {http: 8080}',
      '    cmd: "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"',
      '    instances: 2',
      '    cpus: 0.1',
      '    mem: 32',
      `    healthChecks: [{protocol: HTTP, path: ${healthPath}, gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 0}]`,
      ...extra,
    ].join('\n') + '\n'
  );
}

interface EngineTask {
  id: string;
  state: string;
  ports: number[];
  healthCheckResults?: Array<{ alive: boolean }>;
}

describe('a failed rollout is rolled back', () => {
  let parts: EngineAndDeployer | undefined;
  let deployerUrl: string;
  let engineUrl: string;
  let auth: { Authorization: string };
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-rollback-'));

  before(async () => {
    parts = await startEngineAndDeployer(dataDir);
    ({ deployerUrl, engineUrl, auth } = parts);
  });

  after(async () => {
    await fetch(`${engineUrl}/v2/apps/${appPath}?force=true`, { method: 'DELETE' }).catch(() => {});
    await eventually(
      'the app gone',
      async () =>
        (await fetch(`${engineUrl}/v2/apps/${appPath}`)).status === 404 &&
        ((await (await fetch(`${engineUrl}/v2/tasks`)).json()) as { tasks: unknown[] }).tasks.length === 0,
      30_000,
    ).catch(() => {});
    await parts?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const engineApp = async () =>
    (
      (await (await fetch(`${engineUrl}/v2/apps/${appPath}`)).json()) as {
        app: { labels: Record<string, string>; version: string; tasks: EngineTask[] };
      }
    ).app;

  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [THESEUS_BIN, ...args], {
        env: { ...process.env, THESEUS_URL: deployerUrl, THESEUS_API_TOKEN: parts!.token },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('health checks that never pass: rolled back after the deadline, the previous version serving throughout', async () => {
    const first = (await (
      await fetch(`${deployerUrl}/deploy?wait=true&timeout=120`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/yaml' },
        body: doc('/'),
      })
    ).json()) as { state: string };
    assert.equal(first.state, 'succeeded', JSON.stringify(first));
    const before = await engineApp();
    const oldTasks = before.tasks;
    assert.equal(oldTasks.length, 2);

    // every old instance is asked all along; a single failed answer is a lost instance
    let probing = true;
    const failures: string[] = [];
    let answered = 0;
    const probe = (async () => {
      while (probing) {
        for (const t of oldTasks) {
          const res = await fetch(`http://127.0.0.1:${t.ports[0]}/`, { signal: AbortSignal.timeout(5000) }).catch(
            (err: Error) => err,
          );
          if (res instanceof Error || !res.ok)
            failures.push(`${t.id}: ${res instanceof Error ? res.message : res.status}`);
          else answered++;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const file = join(dataDir, 'broken.yaml');
    writeFileSync(file, doc('/missing', ['    deadline: 15s']));
    const run = await cli(['deploy', '-f', file, '--wait']);
    probing = false;
    await probe;

    assert.equal(run.code, 1, `exit code; stdout: ${run.stdout} stderr: ${run.stderr}`);
    assert.match(run.stdout, /rolled-back/);
    assert.match(run.stdout, /deadline of 15 s/);
    assert.match(run.stdout, /health checks failing on 2 of 2 new instance\(s\) \(last failure: .*404/);
    const id = /deployment (\S+) queued/.exec(run.stdout)?.[1];
    assert.ok(id, run.stdout);
    const record = (await (await fetch(`${deployerUrl}/deployments/${id}`, { headers: auth })).json()) as {
      state: string;
      steps: Array<{
        state: string;
        previousVersion?: string;
        error?: { code: string };
        failure?: { reason: string; outcome: string; causes: Array<{ kind: string }> };
      }>;
    };
    assert.equal(record.state, 'rolled-back');
    const step = record.steps[0]!;
    assert.equal(step.state, 'rolled-back');
    assert.equal(step.error?.code, 'DEPLOY_ROLLED_BACK');
    assert.equal(step.previousVersion, before.version);
    assert.equal(step.failure?.reason, 'deadline');
    assert.equal(step.failure?.outcome, 'rolled-back');
    assert.ok(
      step.failure?.causes.some((c) => c.kind === 'health-checks'),
      JSON.stringify(step.failure),
    );

    // the previous definition, with the same instances, healthy; nothing lost on the way
    const after = await eventually(
      'the new instances gone',
      async () => {
        const app = await engineApp();
        return app.tasks.length === 2 ? app : undefined;
      },
      30_000,
    );
    assert.equal(after.labels[MARATHON_LABELS.specHash], before.labels[MARATHON_LABELS.specHash]);
    assert.deepEqual(after.tasks.map((t) => t.id).sort(), oldTasks.map((t) => t.id).sort());
    assert.ok(after.tasks.every((t) => t.state === 'TASK_RUNNING' && t.healthCheckResults?.every((r) => r.alive)));
    assert.deepEqual(failures, []);
    assert.ok(answered > 0);
  });

  async function deploy(body: string) {
    const res = await fetch(`${deployerUrl}/deploy?wait=true&timeout=120`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/yaml' },
      body,
    });
    return (await res.json()) as {
      state: string;
      steps: Array<{
        appId: string;
        state: string;
        marathonDeploymentId: string;
        error?: { message: string };
        failure?: { outcome: string; causes: Array<{ kind: string; message: string }> };
      }>;
    };
  }
  const deploymentIds = async () =>
    ((await (await fetch(`${engineUrl}/v2/deployments`)).json()) as Array<{ id: string }>).map((d) => d.id);

  test('onFailure: stop halts a rollout that cannot be placed, naming the capacity it lacks', async () => {
    const name = `${service}-big`;
    const result = await deploy(
      `deploy:\n  ${name}: {image: theseus/busybox:local, cmd: "sleep 600", cpus: 4096, mem: 16, deadline: 3s, onFailure: stop}\n`,
    );
    const step = result.steps[0]!;
    try {
      assert.equal(result.state, 'failed', JSON.stringify(result));
      assert.equal(step.failure?.outcome, 'stopped');
      const capacity = step.failure?.causes.find((c) => c.kind === 'capacity');
      assert.match(
        capacity?.message ?? '',
        /1 instance\(s\) cannot be placed: insufficient resources: needs cpus=4096/,
      );
      assert.equal(
        (await deploymentIds()).includes(step.marathonDeploymentId),
        false,
        'the Marathon deployment is stopped',
      );
      assert.equal(
        (await fetch(`${engineUrl}/v2/apps${step.appId}`)).status,
        200,
        'stopped where it was, not rolled back',
      );
    } finally {
      await fetch(`${engineUrl}/v2/apps${step.appId}?force=true`, { method: 'DELETE' });
    }
  });

  test('onFailure: keep reports failing tasks with their last message and leaves the rollout running', async () => {
    const name = `${service}-crash`;
    const result = await deploy(
      `deploy:\n  ${name}: {image: theseus/busybox:local, cmd: "sleep 1; exit 3", cpus: 0.1, mem: 16, healthChecks: [{command: "false"}], deadline: 6s, onFailure: keep}\n`,
    );
    const step = result.steps[0]!;
    try {
      assert.equal(result.state, 'failed', JSON.stringify(result));
      assert.equal(step.failure?.outcome, 'kept');
      const failures = step.failure?.causes.find((c) => c.kind === 'task-failures');
      assert.equal(failures?.message, 'task failure: TASK_FAILED: Container exited with status 3');
      assert.match(step.error?.message ?? '', /left as it is \(onFailure: keep\)/);
      assert.ok((await deploymentIds()).includes(step.marathonDeploymentId), 'the Marathon deployment still runs');
    } finally {
      await fetch(`${engineUrl}/v2/apps${step.appId}?force=true`, { method: 'DELETE' });
    }
  });
});
