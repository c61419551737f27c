/**
 * The built program driven exactly as a slave drives it (spawned, one framed record on stdin kept
 * open), against the real Docker Engine. Needs `npx tsc -b` first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDriver } from './docker/driver.js';
import { decodeMessage, encodeMessage } from './protocol/messages.js';
import { unframe } from './protocol/framing.js';
import { callProgram, idRecord, type CallResult } from './testing/slave-calls.js';

const IMAGE = 'theseus/busybox:local';
const NOBODY = 65534;
const run = randomBytes(4).toString('hex');
const instance = `test-${run}`;
const driver = new DockerDriver();
const work = mkdtempSync(join(tmpdir(), 'theseus-ecp-'));
const configFile = join(work, 'containerizer.yaml');
const allowedDir = join(work, 'shared-data');
const CONFORMANCE = new URL('../../conformance/mesos/', import.meta.url);

function writeConfig(file: string, extra = '', defaultImage = IMAGE): void {
  const image = defaultImage ? `image:\n  default: ${defaultImage}\n  pull: missing\n` : '';
  writeFileSync(
    file,
    `stateDir: ${join(work, 'state')}\ninstance: ${instance}\n${image}allow:\n  hostPaths: [${allowedDir}]\nstopGraceSeconds: 1\n${extra}`,
  );
}

const call = (command: string, record?: Uint8Array, config = configFile) =>
  callProgram(['--config', config, command], record);

/** A run directory, owned by the task's user as the slave leaves it (launches here run as `nobody`). */
function sandbox(): string {
  const dir = join(work, 'slaves', 'S0', 'frameworks', 'F0', 'executors', randomUUID(), 'runs', 'latest:colon');
  mkdirSync(dir, { recursive: true });
  chownSync(dir, NOBODY, NOBODY);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function ok(result: CallResult, what: string): void {
  assert.equal(result.code, 0, `${what}: exit ${result.code}, stderr: ${result.stderr}`);
}

/** A Launch of an executor in a DockerInfo container (0.20+ form). */
function dockerLaunch(
  containerId: string,
  options: {
    shell?: string;
    network?: string;
    ports?: number[];
    mappings?: object[];
    cpus?: number;
    mem?: number;
    env?: Record<string, string>;
    volumes?: object[];
    image?: string;
    dir?: string;
    privileged?: boolean;
  },
) {
  const resources: object[] = [
    { name: 'cpus', type: 'SCALAR', scalar: { value: options.cpus ?? 0.25 } },
    { name: 'mem', type: 'SCALAR', scalar: { value: options.mem ?? 32 } },
  ];
  if (options.ports?.length)
    resources.push({
      name: 'ports',
      type: 'RANGES',
      ranges: { range: options.ports.map((p) => ({ begin: p, end: p })) },
    });
  return encodeMessage('mesos.containerizer.Launch', {
    container_id: { value: containerId },
    executor_info: {
      executor_id: { value: `exec-${containerId}` },
      framework_id: { value: 'F0' },
      command: {
        value: options.shell ?? 'sleep 300',
        environment: { variables: Object.entries(options.env ?? {}).map(([name, value]) => ({ name, value })) },
      },
      resources,
      container: {
        type: 'DOCKER',
        volumes: options.volumes ?? [],
        docker: {
          image: options.image ?? IMAGE,
          network: options.network ?? 'BRIDGE',
          port_mappings: options.mappings ?? [],
          privileged: options.privileged ?? false,
        },
      },
    },
    directory: options.dir ?? sandbox(),
    user: 'nobody',
    slave_id: { value: 'S0' },
    slave_pid: 'slave(1)@127.0.0.1:5051',
    checkpoint: true,
  });
}

function termination(result: CallResult, version: '0.22.0' | '1.0.4' = '0.22.0') {
  ok(result, 'wait');
  return decodeMessage('mesos.containerizer.Termination', unframe(result.stdout), version) as {
    killed?: boolean;
    message?: string;
    status?: number;
    reasons?: string[];
  };
}

async function dockerOf(containerId: string) {
  const [found] = await driver.list({ 'theseus.containerizer': instance, 'theseus.mesos.container-id': containerId });
  return found;
}

describe('theseus-containerizer driven as a Mesos slave drives it', () => {
  before(async () => {
    await driver.ping();
    mkdirSync(allowedDir, { recursive: true });
    writeFileSync(join(allowedDir, 'index.html'), `shared ${run}`);
    writeConfig(configFile);
  });

  after(async () => {
    for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
    rmSync(work, { recursive: true, force: true });
  });

  it("launches the real Launch record from the Mesos docs, in the slave's default image as the slave names it, and runs it to its Termination", async () => {
    const record = readFileSync(new URL('fixtures/launch-0.22-docs-example.recordio', CONFORMANCE));
    const fixture = JSON.parse(
      readFileSync(new URL('fixtures/launch-0.22-docs-example.json', CONFORMANCE), 'utf8'),
    ) as { directory: string; container_id: { value: string }; user: string };
    mkdirSync(fixture.directory, { recursive: true });
    const hostConfig = join(work, 'host-network.yaml');
    // the record's user (till) is not an account of this host: the task runs as its image's user
    writeConfig(hostConfig, 'defaultNetwork: host\ntaskUser: image\n', '');
    const slaveEnv = { ...process.env, MESOS_DEFAULT_CONTAINER_IMAGE: `docker:///${IMAGE}` };
    const id = fixture.container_id.value;
    try {
      const applying = join(work, 'host-network-user.yaml');
      writeConfig(applying, 'defaultNetwork: host\n', '');
      const unknownUser = await callProgram(['--config', applying, 'launch'], undefined, {
        rawStdin: record,
        env: slaveEnv,
      });
      assert.notEqual(unknownUser.code, 0);
      assert.match(
        unknownUser.stderr,
        new RegExp(`the launch's user "${fixture.user}" does not exist on this host .*taskUser: image`),
      );
      assert.equal(await dockerOf(id), undefined);
      const launched = await callProgram(['--config', hostConfig, 'launch'], undefined, {
        rawStdin: record,
        env: slaveEnv,
      });
      ok(launched, 'launch');
      assert.equal(launched.stdout.length, 0, 'launch writes nothing on stdout');
      const container = await dockerOf(id);
      assert.ok(container, 'the container carries our labels');
      const details = await driver.inspect(container.id);
      assert.equal(details?.image, IMAGE, "docker:/// stripped from the slave's default image");
      assert.equal(details?.cpuShares, 2048);
      assert.equal(details?.memoryBytes, 1024 * 1024 * 1024);
      const listed = await call('containers', undefined, hostConfig);
      ok(listed, 'containers');
      const ids = (
        decodeMessage('mesos.containerizer.Containers', unframe(listed.stdout)).containers as Array<{ value: string }>
      ).map((c) => c.value);
      assert.ok(ids.includes(id));
      const ended = termination(await call('wait', idRecord('Wait', id), hostConfig));
      assert.deepEqual({ killed: ended.killed, status: ended.status }, { killed: false, status: 1 << 8 });
      const usage = await call('usage', idRecord('Usage', id), hostConfig);
      ok(usage, 'usage of an ended container');
      const stats = decodeMessage('mesos.ResourceStatistics', unframe(usage.stdout)) as {
        timestamp: number;
        cpus_limit: number;
        mem_limit_bytes: number;
      };
      assert.ok(stats.timestamp > 0);
      assert.equal(stats.cpus_limit, 2);
      assert.equal(stats.mem_limit_bytes, 1024 * 1024 * 1024);
      ok(await call('destroy', idRecord('Destroy', id), hostConfig), 'destroy');
      assert.equal(await dockerOf(id), undefined);
      ok(await call('destroy', idRecord('Destroy', id), hostConfig), 'second destroy');
    } finally {
      rmSync('/tmp/ExternalContainerizerTest_Launch_lXUh9f', { recursive: true, force: true });
    }
  });

  it('launches a DockerInfo container with limits, env, a read-only volume and a reachable mapped port; update and usage see the limits', async () => {
    const id = randomUUID();
    const hostPort = await freePort();
    const dir = sandbox();
    const launched = await call(
      'launch',
      dockerLaunch(id, {
        shell: 'echo "$GREETING $PORT0 $MESOS_EXECUTOR_ID" > $MESOS_SANDBOX/env.txt; exec httpd -f -p 80 -h /www',
        ports: [hostPort],
        mappings: [{ host_port: hostPort, container_port: 80, protocol: 'tcp' }],
        cpus: 0.5,
        mem: 48,
        env: { GREETING: 'hello' },
        volumes: [{ container_path: '/www', host_path: allowedDir, mode: 'RO' }],
        dir,
      }),
    );
    ok(launched, 'launch');
    const container = await dockerOf(id);
    assert.ok(container);
    const details = await driver.inspect(container.id);
    assert.equal(details?.cpuShares, 512);
    assert.equal(details?.memoryBytes, 48 * 1024 * 1024);
    assert.deepEqual(details?.hostPorts['80/tcp'], [hostPort]);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
        (r) => r.text(),
        () => '',
      );
      if (!body) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(body, `shared ${run}`);
    assert.equal(readFileSync(join(dir, 'env.txt'), 'utf8').trim(), `hello ${hostPort} exec-${id}`);

    const update = encodeMessage('mesos.containerizer.Update', {
      container_id: { value: id },
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: { value: 1 } },
        { name: 'mem', type: 'SCALAR', scalar: { value: 64 } },
      ],
    });
    const updated = await call('update', update);
    ok(updated, 'update');
    assert.equal(updated.stdout.length, 0);
    const after = await driver.inspect(container.id);
    assert.equal(after?.cpuShares, 1024);
    assert.equal(after?.memoryBytes, 64 * 1024 * 1024);
    const usage = await call('usage', idRecord('Usage', id));
    ok(usage, 'usage');
    const stats = decodeMessage('mesos.ResourceStatistics', unframe(usage.stdout)) as Record<string, number>;
    assert.equal(stats.cpus_limit, 1);
    assert.equal(stats.mem_limit_bytes, 64 * 1024 * 1024);
    assert.ok((stats.mem_rss_bytes ?? 0) > 0);
    ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
  });

  it('binds allocated ports host:host when nothing maps them, so a task listening on $PORT0 is reachable', async () => {
    const id = randomUUID();
    const hostPort = await freePort();
    ok(
      await call(
        'launch',
        dockerLaunch(id, {
          shell: 'echo "port $PORT0" > /tmp/index.html; exec httpd -f -p "$PORT0" -h /tmp',
          ports: [hostPort],
        }),
      ),
      'launch',
    );
    const container = await dockerOf(id);
    assert.deepEqual((await driver.inspect(container?.id ?? ''))?.hostPorts[`${hostPort}/tcp`], [hostPort]);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
        (r) => r.text(),
        () => '',
      );
      if (!body) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(body.trim(), `port ${hostPort}`);
    ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
  });

  it('launches a 0.19-style task: docker:/// URL with docker run options translated, others refused', async () => {
    const id = randomUUID();
    const dir = sandbox();
    const legacy = (options: string[]) =>
      encodeMessage('mesos.containerizer.Launch', {
        container_id: { value: id },
        executor_info: {
          executor_id: { value: 'legacy' },
          command: {
            value: 'echo "$FOO $(pwd)" > $MESOS_SANDBOX/legacy.txt',
            container: { image: `docker:///${IMAGE}`, options },
          },
          resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } }],
        },
        directory: dir,
      });
    const refused = await call('launch', legacy(['--cap-add=NET_ADMIN']));
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /docker option --cap-add=NET_ADMIN is not allowed \(set allow\.capabilities: \[NET_ADMIN\]/,
    );
    assert.equal(refused.stdout.length, 0);
    assert.equal(await dockerOf(id), undefined, 'a refused launch leaves no container');

    ok(await call('launch', legacy(['-e FOO=bar', '--workdir=/tmp'])), 'launch');
    const ended = termination(await call('wait', idRecord('Wait', id)));
    assert.equal(ended.status, 0);
    assert.equal(readFileSync(join(dir, 'legacy.txt'), 'utf8').trim(), 'bar /tmp');
    ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
  });

  it('reports exit codes and OOM kills in waitpid encoding, for 0.22 and 1.0 slaves', async () => {
    const exits = randomUUID();
    ok(await call('launch', dockerLaunch(exits, { shell: 'exit 3', network: 'NONE' })), 'launch');
    const three = termination(await call('wait', idRecord('Wait', exits)));
    assert.deepEqual({ killed: three.killed, status: three.status }, { killed: false, status: 3 << 8 });
    assert.match(three.message ?? '', /exited with code 3/);

    const newer = join(work, 'mesos-1.0.yaml');
    writeConfig(newer, "mesosVersion: '1.0'\n");
    const oom = randomUUID();
    ok(
      await call(
        'launch',
        dockerLaunch(oom, { shell: 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done', mem: 16, network: 'NONE' }),
        newer,
      ),
      'launch',
    );
    const killed = termination(await call('wait', idRecord('Wait', oom), newer), '1.0.4');
    assert.equal(killed.status, 137 << 8);
    assert.deepEqual(killed.reasons, ['REASON_CONTAINER_LIMITATION_MEMORY']);
    assert.match(killed.message ?? '', /memory limit/);
    // the 1.0 answer has no `killed`, which a 0.19-0.25 slave requires: the generation must match the slave
    const again = await call('wait', idRecord('Wait', oom), newer);
    assert.throws(
      () => decodeMessage('mesos.containerizer.Termination', unframe(again.stdout), '0.22.0'),
      /missing required 'killed'/,
    );
    for (const id of [exits, oom]) ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
  });

  it('refuses a missing image with the reason and leaves nothing behind', async () => {
    const id = randomUUID();
    const result = await call('launch', dockerLaunch(id, { image: `127.0.0.1:9/theseus/absent-${run}:none` }));
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout.length, 0);
    const lines = result.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', new RegExp(`image 127\\.0\\.0\\.1:9/theseus/absent-${run}:none is not available: .+`));
    assert.equal(await dockerOf(id), undefined);
    ok(await call('destroy', idRecord('Destroy', id)), 'destroy of a failed launch');
  });

  it('fetches the URIs into the sandbox first: executables marked, archives unpacked, failures named', async () => {
    const files = join(work, 'served');
    mkdirSync(join(files, 'data'), { recursive: true });
    writeFileSync(join(files, 'tool.sh'), '#!/bin/sh\necho "tool ran with $(cat data/hello.txt)"\n');
    writeFileSync(join(files, 'data', 'hello.txt'), `hello ${run}`);
    execFileSync('tar', ['czf', join(files, 'data.tar.gz'), '-C', files, 'data']);
    const server = createHttpServer((req, res) => {
      try {
        res.end(readFileSync(join(files, (req.url ?? '/').slice(1))));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const withUris = (id: string, dir: string, uris: object[]) =>
        encodeMessage('mesos.containerizer.Launch', {
          container_id: { value: id },
          executor_info: {
            executor_id: { value: id },
            command: { value: './tool.sh > fetched.txt', uris },
            container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } },
          },
          directory: dir,
        });
      const id = randomUUID();
      const dir = sandbox();
      ok(
        await call(
          'launch',
          withUris(id, dir, [{ value: `${base}/tool.sh`, executable: true }, { value: `${base}/data.tar.gz` }]),
        ),
        'launch',
      );
      assert.equal(termination(await call('wait', idRecord('Wait', id))).status, 0);
      assert.equal(readFileSync(join(dir, 'fetched.txt'), 'utf8').trim(), `tool ran with hello ${run}`);
      ok(await call('destroy', idRecord('Destroy', id)), 'destroy');

      const missing = await call('launch', withUris(randomUUID(), sandbox(), [{ value: `${base}/absent.sh` }]));
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /cannot fetch http:\/\/127\.0\.0\.1:\d+\/absent\.sh: HTTP 404/);
      const scheme = await call('launch', withUris(randomUUID(), sandbox(), [{ value: 'hdfs://namenode/app.jar' }]));
      assert.match(scheme.stderr, /only http\(s\) URLs and local paths/);
    } finally {
      server.close();
    }
  });

  it('refuses privileged containers and host paths the configuration does not allow', async () => {
    const privileged = await call('launch', dockerLaunch(randomUUID(), { privileged: true }));
    assert.notEqual(privileged.code, 0);
    assert.match(privileged.stderr, /DockerInfo privileged is not allowed \(set allow\.privileged: true/);
    const volume = await call(
      'launch',
      dockerLaunch(randomUUID(), { volumes: [{ container_path: '/etc-host', host_path: '/etc', mode: 'RO' }] }),
    );
    assert.notEqual(volume.code, 0);
    assert.match(volume.stderr, /host path \/etc may not be mounted/);
  });
});
