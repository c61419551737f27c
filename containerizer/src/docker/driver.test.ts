import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from './driver.js';
import { ContainerNotFoundError, DockerRequestError, DockerUnavailableError, ImageUnavailableError } from './errors.js';
import type { ContainerSpec } from './types.js';
import { readCgroupUsage } from './cgroup-usage.js';
import Docker from 'dockerode';

const IMAGE = 'theseus/busybox:local';
const run = randomBytes(4).toString('hex');
const labels = { 'theseus.test.run': run };
const driver = new DockerDriver();

function spec(overrides: Partial<ContainerSpec>): ContainerSpec {
  return { image: IMAGE, env: {}, labels, network: 'bridge', ports: [], volumes: [], ...overrides };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function fetchText(url: string, attempts = 50): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      const response = await fetch(url);
      return await response.text();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function waitUntil(condition: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; !(await condition()); i++) {
    if (i >= attempts) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('DockerDriver against the Docker Engine', () => {
  let hostDir: string;

  before(async () => {
    await driver.ping();
    hostDir = mkdtempSync(join(tmpdir(), 'theseus-driver-'));
    writeFileSync(join(hostDir, 'index.html'), `hello ${run}`);
  });

  after(async () => {
    for (const c of await driver.list(labels)) await driver.remove(c.id);
    rmSync(hostDir, { recursive: true, force: true });
  });

  it('starts a container with limits, env, labels, a read-only volume and a reachable port', async () => {
    const hostPort = await freePort();
    const started = await driver.start(
      spec({
        name: `theseus-test-${run}-web`,
        shell: 'httpd -f -p 8080 -h /www',
        env: { GREETING: 'hi there' },
        cpus: 0.5,
        memMb: 64,
        ports: [{ containerPort: 8080, hostPort, protocol: 'tcp', hostIp: '127.0.0.1' }],
        volumes: [{ hostPath: hostDir, containerPath: '/www', mode: 'RO' }],
        init: true,
        stopGraceSeconds: 1,
      }),
    );
    assert.equal(started.name, `theseus-test-${run}-web`);
    assert.match(started.ipAddress ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    const details = await driver.inspect(started.id);
    assert.ok(details);
    assert.equal(details.running, true);
    assert.equal(details.cpuShares, 512);
    assert.equal(details.memoryBytes, 64 * 1024 * 1024);
    assert.deepEqual(details.hostPorts['8080/tcp'], [hostPort]);
    assert.equal(details.labels['theseus.test.run'], run);
    assert.equal(await fetchText(`http://127.0.0.1:${hostPort}/index.html`), `hello ${run}`);

    const usage = await driver.usage(started.id);
    assert.equal(usage.running, true);
    assert.equal(usage.cpusLimit, 0.5);
    assert.equal(usage.memLimitBytes, 64 * 1024 * 1024);
    assert.ok(usage.memRssBytes > 0, 'a running httpd uses memory');
    assert.ok(Math.abs(usage.timestamp - Date.now() / 1000) < 60);

    await driver.update(started.id, { cpus: 1.5, memMb: 96 });
    const updated = await driver.inspect(started.id);
    assert.equal(updated?.cpuShares, 1536);
    assert.equal(updated?.memoryBytes, 96 * 1024 * 1024);

    await driver.stop(started.id, 1);
    const stopped = await driver.usage(started.id);
    assert.equal(stopped.running, false);
    assert.equal(stopped.memLimitBytes, 96 * 1024 * 1024);
    await driver.stop(started.id, 1); // already stopped
    await driver.remove(started.id);
    assert.equal(await driver.inspect(started.id), undefined);
  });

  it('reads the same CPU and memory counters from the cgroup as the Engine reports', async () => {
    const started = await driver.start(
      spec({ shell: 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 300', memMb: 32 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const details = await driver.inspect(started.id);
    const fromCgroup = readCgroupUsage(details?.pid ?? 0, started.id);
    assert.equal(readCgroupUsage(process.pid, started.id), undefined, 'a process outside the container is refused');
    assert.ok(fromCgroup, 'the cgroup of a local container is visible');
    const stats = await new Docker().getContainer(started.id).stats({ stream: false });
    const engineUser = stats.cpu_stats.cpu_usage.usage_in_usermode / 1e9;
    assert.ok(fromCgroup.cpuUserSeconds > 0, 'the loop used CPU');
    assert.ok(
      Math.abs(fromCgroup.cpuUserSeconds - engineUser) <= 0.05,
      `cgroup ${fromCgroup.cpuUserSeconds} s vs Engine ${engineUser} s`,
    );
    const engineRss = (stats.memory_stats as { stats: Record<string, number> }).stats.total_rss ?? 0;
    assert.ok(
      Math.abs(fromCgroup.memRssBytes - engineRss) <= 256 * 1024,
      `cgroup ${fromCgroup.memRssBytes} vs Engine ${engineRss}`,
    );
    const usage = await driver.usage(started.id);
    assert.ok(usage.cpuUserSeconds >= fromCgroup.cpuUserSeconds);
    await driver.remove(started.id);
  });

  it('reports the exit code, also when the container ended before wait was called', async () => {
    const started = await driver.start(spec({ args: ['sh', '-c', 'echo "$A"; exit 3'], env: { A: 'x' } }));
    const exit = await driver.wait(started.id);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.oomKilled, false);
    const again = await driver.wait(started.id);
    assert.equal(again.exitCode, 3);
    assert.equal(again.finishedAt, exit.finishedAt);
    await driver.remove(started.id);
  });

  it('reports a container killed for exceeding its memory limit', async () => {
    const started = await driver.start(spec({ shell: 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done', memMb: 16 }));
    const exit = await driver.wait(started.id);
    assert.equal(exit.oomKilled, true);
    assert.equal(exit.exitCode, 137);
    await driver.remove(started.id);
  });

  it('lists only containers carrying the given labels', async () => {
    const mine = await driver.start(
      spec({ args: ['sleep', '30'], labels: { ...labels, 'theseus.test.kind': 'listed' } }),
    );
    const other = await driver.start(spec({ args: ['sleep', '30'] }));
    const listed = await driver.list({ ...labels, 'theseus.test.kind': 'listed' });
    assert.deepEqual(
      listed.map((c) => c.id),
      [mine.id],
    );
    assert.equal(listed[0]?.state, 'running');
    await Promise.all([driver.remove(mine.id), driver.remove(other.id)]);
  });

  it('removes a container that could not start and says why', async () => {
    const hostPort = await freePort();
    const holder = await driver.start(
      spec({ args: ['sleep', '30'], ports: [{ containerPort: 80, hostPort, protocol: 'tcp' }] }),
    );
    const before = (await driver.list(labels)).length;
    await assert.rejects(
      driver.start(spec({ args: ['sleep', '30'], ports: [{ containerPort: 80, hostPort, protocol: 'tcp' }] })),
      (err: unknown) =>
        err instanceof DockerRequestError &&
        /start container/.test(err.message) &&
        /allocated|in use/i.test(err.message),
    );
    assert.equal((await driver.list(labels)).length, before);
    await driver.remove(holder.id);
  });

  it('exec runs a shell command inside the container with the given env and reports its exit status', async () => {
    const marker = `/etc/only-in-${run}`;
    assert.equal(existsSync(marker), false, 'the marker must not exist on this host');
    const started = await driver.start(
      spec({ shell: `echo inside > ${marker} && exec sleep 300`, env: { FROM_SPEC: 'spec' }, init: true }),
    );
    await waitUntil(
      async () => (await driver.exec(started.id, `test -f ${marker}`, { timeoutMs: 10_000 })).exitCode === 0,
    );
    assert.deepEqual(
      await driver.exec(
        started.id,
        `test "$(cat ${marker})" = inside && test "$CHECK" = 'a b' && test "$FROM_SPEC" = spec`,
        { env: { CHECK: 'a b' }, timeoutMs: 10_000 },
      ),
      { exitCode: 0, timedOut: false },
    );
    assert.deepEqual(
      await driver.exec(started.id, 'test -n "$CHECK"', { timeoutMs: 10_000 }),
      { exitCode: 1, timedOut: false },
      'env is per exec',
    );
    assert.deepEqual(await driver.exec(started.id, 'echo noise; echo more >&2; exit 7', { timeoutMs: 10_000 }), {
      exitCode: 7,
      timedOut: false,
    });
    assert.equal(
      (await driver.exec(started.id, `test -f ${join(hostDir, 'index.html')}`, { timeoutMs: 10_000 })).exitCode,
      1,
      'a host-only file is not seen',
    );
    await driver.remove(started.id);
  });

  it('exec past its time limit resolves as timed out and its process is killed', async () => {
    const started = await driver.start(spec({ args: ['sleep', '300'], init: true }));
    const token = `${run}-${randomBytes(3).toString('hex')}`;
    const result = await driver.exec(started.id, `sleep 29; echo ${token}`, { timeoutMs: 1000 });
    assert.deepEqual(result, { exitCode: null, timedOut: true });
    await waitUntil(
      async () =>
        (
          await driver.exec(started.id, `! ps | grep -v grep | grep -q -e 'sleep 29' -e ${token}`, {
            timeoutMs: 10_000,
          })
        ).exitCode === 0,
    );
    assert.equal(
      await driver.exec(started.id, 'true', { timeoutMs: 10_000 }).then((r) => r.exitCode),
      0,
      'the container still runs',
    );
    await driver.remove(started.id);
  });

  it("exec in an unknown container is ContainerNotFoundError, in a stopped one the Engine's refusal", async () => {
    await assert.rejects(
      driver.exec('theseus-no-such-container', 'true', { timeoutMs: 10_000 }),
      ContainerNotFoundError,
    );
    const ended = await driver.start(spec({ args: ['true'] }));
    await driver.wait(ended.id);
    await assert.rejects(
      driver.exec(ended.id, 'true', { timeoutMs: 10_000 }),
      (err: unknown) => err instanceof DockerRequestError && /not running/i.test(err.message),
    );
    await driver.remove(ended.id);
    const nowhere = new DockerDriver({ socketPath: join(tmpdir(), `no-docker-${run}.sock`) });
    await assert.rejects(nowhere.exec('any', 'true', { timeoutMs: 10_000 }), DockerUnavailableError);
  });

  it('treats stop and remove of an unknown container as done, and wait/usage of one as not found', async () => {
    await driver.stop('theseus-no-such-container');
    await driver.remove('theseus-no-such-container');
    assert.equal(await driver.inspect('theseus-no-such-container'), undefined);
    await assert.rejects(driver.wait('theseus-no-such-container'), ContainerNotFoundError);
    await assert.rejects(driver.usage('theseus-no-such-container'), ContainerNotFoundError);
  });

  it('ensures images: present is fine, absent names the image and the reason', async () => {
    await driver.ensureImage(IMAGE);
    const missing = `theseus/absent-${run}:none`;
    await assert.rejects(
      driver.ensureImage(missing, { pull: 'never' }),
      (err: unknown) =>
        err instanceof ImageUnavailableError && err.image === missing && /pulling is disabled/.test(err.message),
    );
    // a registry that refuses connections (on loopback: tests never send traffic off this machine):
    // the Engine's own reason must come through
    const unreachable = `127.0.0.1:9/theseus/absent-${run}:none`;
    await assert.rejects(
      driver.ensureImage(unreachable, { timeoutMs: 20_000 }),
      (err: unknown) =>
        err instanceof ImageUnavailableError && err.message.includes(unreachable) && err.reason.includes('127.0.0.1:9'),
    );
  });

  it('gives up a pull that takes longer than its time limit', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket)); // accepts and never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const image = `127.0.0.1:${(silent.address() as AddressInfo).port}/theseus/slow:1`;
    try {
      await assert.rejects(
        driver.ensureImage(image, { timeoutMs: 1000 }),
        (err: unknown) => err instanceof ImageUnavailableError && /took longer than 1000 ms/.test(err.reason),
      );
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('reports an unreachable Engine as DockerUnavailableError', async () => {
    const nowhere = new DockerDriver({ socketPath: join(tmpdir(), `no-docker-${run}.sock`) });
    await assert.rejects(nowhere.ping(), (err: unknown) => err instanceof DockerUnavailableError && err.recoverable);
  });
});
