/**
 * The deployer against the real engine (Docker tasks), both as `theseus` processes: a YAML
 * document becomes running containers that see the discovery environment; an unchanged re-deploy
 * is a no-op, a scale is a scale, a change rolls, `remove:` deletes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './support/processes.js';
import { startEngineAndDeployer, type EngineAndDeployer } from './support/engine-and-deployer.js';

const service = `web-${randomBytes(3).toString('hex')}`;

function doc(extra: string): string {
  return (
    [
      'deploy:',
      `  ${service}:`,
      '    image: theseus/busybox:local',
      '    labels: [it]',
      '    ports: {http: 8080}',
      '    cmd: "mkdir -p /www && env > /www/env.txt && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"',
      '    cpus: 0.1',
      '    mem: 32',
      '    healthChecks: [{protocol: HTTP, path: /, gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 1}]',
      '    upgrade: {minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5}',
      extra,
    ].join('\n') + '\n'
  );
}

describe('deployer with the engine', () => {
  let parts: EngineAndDeployer | undefined;
  let deployerUrl: string;
  let engineUrl: string;
  let auth: { Authorization: string };
  const dataDir = mkdtempSync(join(tmpdir(), 'theseus-deployer-engine-'));

  before(async () => {
    parts = await startEngineAndDeployer(dataDir);
    ({ deployerUrl, engineUrl, auth } = parts);
  });

  after(async () => {
    await fetch(`${engineUrl}/v2/apps/theseus/default/${service}--it`, { method: 'DELETE' }).catch(() => {});
    await eventually(
      'the app gone',
      async () => (await fetch(`${engineUrl}/v2/apps/theseus/default/${service}--it`)).status === 404,
      30_000,
    ).catch(() => {});
    await parts?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function deploy(
    body: string,
  ): Promise<{ state: string; steps: Array<{ action: string; state: string; error?: { message: string } }> }> {
    const res = await fetch(`${deployerUrl}/deploy?wait=true&timeout=120`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/yaml' },
      body,
    });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as never;
  }

  test('a document becomes healthy containers that see the discovery environment', async () => {
    const created = await deploy(doc('    instances: 2'));
    assert.equal(created.state, 'succeeded', JSON.stringify(created.steps));
    assert.equal(created.steps[0]!.action, 'create');

    const view = (await (await fetch(`${deployerUrl}/services/${service}`, { headers: auth })).json()) as {
      groups: Array<{ running: number; tasks: Array<{ endpoints: Record<string, string> }> }>;
    };
    const group = view.groups[0]!;
    assert.equal(group.running, 2);
    const endpoint = group.tasks[0]!.endpoints.http!;
    const env = await eventually('the task answers', async () => {
      const res = await fetch(`http://${endpoint}/env.txt`).catch(() => undefined);
      return res?.ok ? res.text() : undefined;
    });
    assert.match(env, new RegExp(`^SERVICE_NAME=${service}$`, 'm'));
    assert.match(env, /^ENVIRONMENT_NAME=default$/m);
    assert.match(env, /^LABELS=it$/m);
    assert.match(env, /^PORT_NAMES=http$/m);
    assert.match(env, /^CONTAINER_PORT_HTTP=8080$/m);
    assert.match(env, /^ETCD_ENDPOINTS=/m);
  });

  test('unchanged is a no-op, instances only is a scale, a change rolls, remove deletes', async () => {
    const same = await deploy(doc('    instances: 2'));
    assert.equal(same.steps[0]!.action, 'noop');

    const scaled = await deploy(doc('    instances: 1'));
    assert.equal(scaled.state, 'succeeded', JSON.stringify(scaled.steps));
    assert.equal(scaled.steps[0]!.action, 'scale');

    const rolled = await deploy(doc('    instances: 1\n    environment: {RELEASE: "2"}'));
    assert.equal(rolled.state, 'succeeded', JSON.stringify(rolled.steps));
    assert.equal(rolled.steps[0]!.action, 'update');
    const app = (await (await fetch(`${engineUrl}/v2/apps/theseus/default/${service}--it`)).json()) as {
      app: { env: Record<string, string>; tasks: Array<{ version: string }>; version: string };
    };
    assert.equal(app.app.env.RELEASE, '2');

    const removed = await deploy(`remove:\n  ${service}: {labels: [it]}\n`);
    assert.equal(removed.state, 'succeeded', JSON.stringify(removed.steps));
    assert.equal(removed.steps[0]!.action, 'delete');
    assert.equal((await fetch(`${engineUrl}/v2/apps/theseus/default/${service}--it`)).status, 404);
  });
});
