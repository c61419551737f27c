/**
 * Attacks on the containerizer and its fetcher, each made against the built program (driven as a
 * slave drives it) and the real Docker Engine, each shown refused with nothing written or touched
 * outside the sandbox, and the legitimate form beside it shown still working. Needs `npm run build`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { ZipFile } from 'yazl';
import { DockerDriver } from './docker/driver.js';
import { encodeMessage } from './protocol/messages.js';
import { callProgram, idRecord, type CallResult } from './testing/slave-calls.js';

const IMAGE = 'theseus/busybox:local';
const NOBODY = 65534;
const run = randomBytes(4).toString('hex');
const instance = `sec-${run}`;
const driver = new DockerDriver();
const work = mkdtempSync(join(tmpdir(), 'theseus-ecp-sec-'));
const victim = join(work, 'victim');
const shared = join(work, 'shared');
const localFiles = join(shared, 'files');
const configFile = join(work, 'containerizer.yaml');
const files = new Map<string, Buffer>();
let server: Server;
let base = '';

/** The test's configuration with `overrides` merged one level deep (JSON is YAML). */
function writeConfig(file: string, overrides: Record<string, Record<string, unknown> | string> = {}): void {
  const config: Record<string, unknown> = {
    stateDir: join(work, 'state'),
    instance,
    image: { default: IMAGE, pull: 'never' },
    allow: { hostPaths: [shared] },
    stopGraceSeconds: 1,
    fetch: {
      localPaths: [localFiles],
      maxBytes: 1048576,
      maxTaskBytes: 1572864,
      maxRedirects: 2,
      timeoutSeconds: 5,
      taskTimeoutSeconds: 20,
    },
  };
  for (const [key, value] of Object.entries(overrides))
    config[key] = typeof value === 'string' ? value : { ...(config[key] as object), ...value };
  writeFileSync(file, JSON.stringify(config));
}

const call = (command: string, record?: Uint8Array, config = configFile, env?: NodeJS.ProcessEnv) =>
  callProgram(['--config', config, command], record, env ? { env } : {});

function ok(result: CallResult, what: string): void {
  assert.equal(result.code, 0, `${what}: exit ${result.code}, stderr: ${result.stderr}`);
}

function refused(result: CallResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `expected a refusal, stderr: ${result.stderr}`);
  assert.equal(result.stdout.length, 0);
  assert.match(result.stderr, pattern);
}

function sandbox(owner?: number): string {
  const dir = join(work, 'slave', 'slaves', 'S0', 'frameworks', 'F0', 'executors', randomUUID(), 'runs', 'latest');
  mkdirSync(dir, { recursive: true });
  if (owner !== undefined) chownSync(dir, owner, owner);
  return dir;
}

/** `../` n times (archive entry names that climb out of the directory they unpack into). */
const climb = (n: number) => Array.from({ length: n }, () => '..').join('/');

/** Everything under `victim`, which no attack may change. */
function victimListing(): string[] {
  return readdirSync(victim, { recursive: true }).map(String).sort();
}

interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  linkpath?: string;
  body?: string | Buffer;
  mode?: number;
}

/** A tar archive written header by header, so entries a tar tool would sanitise can be made. */
function tarOf(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'File';
    const header = new Header({
      path: e.path,
      type,
      size: type === 'File' ? body.length : 0,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    header.encode();
    blocks.push(header.block as Buffer);
    if (type === 'File') blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function zipOf(entries: Array<{ path: string; body: string; symlink?: boolean }>): Promise<Buffer> {
  const zip = new ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.body), e.path, { mode: e.symlink ? 0o120777 : 0o100644 });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

function serve(name: string, body: Buffer | string): string {
  files.set(name, Buffer.from(body));
  return `${base}/files/${name}`;
}

/** An executor in the busybox image, without network, running `command` in its sandbox after fetching `uris`. */
function launchOf(
  id: string,
  dir: string,
  command: string,
  uris: object[] = [],
  extra: { user?: string; docker?: object; volumes?: object[] } = {},
): Uint8Array {
  return encodeMessage('mesos.containerizer.Launch', {
    container_id: { value: id },
    executor_info: {
      executor_id: { value: id },
      command: { value: command, uris },
      container: {
        type: 'DOCKER',
        volumes: extra.volumes ?? [],
        docker: { image: IMAGE, network: 'NONE', ...extra.docker },
      },
    },
    directory: dir,
    ...(extra.user ? { user: extra.user } : {}),
  });
}

/** Launches, waits for the end, destroys; returns the exit status. */
async function runToEnd(record: Uint8Array, id: string, config = configFile): Promise<void> {
  ok(await call('launch', record, config), 'launch');
  ok(await call('wait', idRecord('Wait', id), config), 'wait');
  ok(await call('destroy', idRecord('Destroy', id), config), 'destroy');
}

async function noContainer(id: string): Promise<void> {
  assert.deepEqual(
    await driver.list({ 'theseus.containerizer': instance, 'theseus.mesos.container-id': id }),
    [],
    'a refused launch leaves no container',
  );
}

describe('the containerizer gives nothing on the host away', () => {
  before(async () => {
    await driver.ping();
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, 'secret'), 'host secret');
    mkdirSync(localFiles, { recursive: true });
    writeFileSync(join(localFiles, 'ok.txt'), `local ${run}`);
    symlinkSync('/etc/passwd', join(localFiles, 'passwd-link'));
    writeFileSync(join(shared, 'index.html'), `shared ${run}`);
    symlinkSync('/etc', join(shared, 'etc-link'));
    writeConfig(configFile);
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const hop = /^\/hop\/(\d+)\/(.*)$/.exec(url.pathname);
      if (hop) {
        const left = Number(hop[1]);
        res.writeHead(302, { location: left > 0 ? `/hop/${left - 1}/${hop[2]}` : `/files/${hop[2]}` }).end();
      } else if (url.pathname === '/to-file') {
        res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      } else if (url.pathname === '/endless') {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 1);
        const push = () => (res.write(chunk) ? setImmediate(push) : res.once('drain', push));
        push();
        res.on('close', () => undefined);
      } else if (url.pathname === '/trickle') {
        res.writeHead(200);
        const timer = setInterval(() => res.write('x'), 200);
        res.on('close', () => clearInterval(timer));
      } else {
        const body = files.get(url.pathname.replace(/^\/files\//, ''));
        if (body) res.end(body);
        else res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    for (const c of await driver.list({ 'theseus.containerizer': instance })) await driver.remove(c.id);
    rmSync(work, { recursive: true, force: true });
  });

  describe('the fetcher', () => {
    it('refuses an archive symlink pointing out of the sandbox, so a later URI of that name writes nothing outside; internal symlinks still unpack', async () => {
      const dir = sandbox();
      const before = victimListing();
      const outward = relative(dir, join(victim, 'owned'));
      const evil = serve('evil.tar', tarOf([{ path: 'b.sh', type: 'SymbolicLink', linkpath: outward }]));
      serve('b.sh', '#!/bin/sh\necho pwned\n');
      const id = randomUUID();
      refused(
        await call(
          'launch',
          launchOf(id, dir, 'true', [{ value: evil }, { value: `${base}/files/b.sh`, executable: true }]),
        ),
        /cannot fetch .*evil\.tar: the archive is refused: symlink b\.sh points outside the archive/,
      );
      assert.equal(existsSync(join(victim, 'owned')), false, 'nothing written through the link');
      assert.deepEqual(victimListing(), before);
      assert.equal(existsSync(join(dir, 'b.sh')), false, 'the refused archive left nothing');
      await noContainer(id);

      const inside = sandbox();
      const linked = serve('linked.tar', tarOf([{ path: 'b.sh', type: 'SymbolicLink', linkpath: 'target.sh' }]));
      refused(
        await call(
          'launch',
          launchOf(randomUUID(), inside, 'true', [
            { value: linked },
            { value: `${base}/files/b.sh`, executable: true },
          ]),
        ),
        /cannot fetch .*b\.sh: b\.sh is already in the sandbox/,
      );
      assert.equal(
        existsSync(join(inside, 'target.sh')),
        false,
        'a URI never writes through a link the archive left, even one pointing inside',
      );

      const good = sandbox();
      const app = serve(
        'app.tar.gz',
        gzipSync(
          tarOf([
            { path: 'app/', type: 'Directory' },
            { path: 'app/v1/', type: 'Directory' },
            { path: 'app/v1/run.sh', body: `#!/bin/sh\necho "ran v1 ${run}"\n`, mode: 0o755 },
            { path: 'app/current', type: 'SymbolicLink', linkpath: 'v1' },
            { path: 'app/run', type: 'SymbolicLink', linkpath: 'current/run.sh' },
            { path: 'lib/', type: 'Directory' },
            { path: 'lib/libx.so.1.2', body: run },
            { path: 'lib/libx.so.1', type: 'SymbolicLink', linkpath: 'libx.so.1.2' },
            { path: 'lib/libx.so', type: 'SymbolicLink', linkpath: 'libx.so.1' },
            { path: 'app/v1/copy.sh', type: 'Link', linkpath: 'app/v1/run.sh' },
          ]),
        ),
      );
      const id2 = randomUUID();
      await runToEnd(
        launchOf(id2, good, 'app/run > out.txt && app/v1/copy.sh >> out.txt && cat lib/libx.so >> out.txt', [
          { value: app },
        ]),
        id2,
      );
      assert.equal(readFileSync(join(good, 'out.txt'), 'utf8'), `ran v1 ${run}\nran v1 ${run}\n${run}`);
      assert.equal(readlinkSync(join(good, 'app', 'current')), 'v1');
      assert.ok(
        readdirSync(good).every((name) => !name.startsWith('.unpack-')),
        'the private unpack directory is gone',
      );
    });

    it('refuses every archive entry that could leave the directory it unpacks into, and writes nothing', async () => {
      writeFileSync(join(victim, 'abs'), 'untouched');
      const escapes: Array<[string, TarEntry[], RegExp]> = [
        ['absolute', [{ path: join(victim, 'abs'), body: 'overwritten' }], /is an absolute path/],
        ['dot-dot', [{ path: `${climb(8)}/victim-dots`, body: 'x' }], /climbs out with "\.\."/],
        [
          'hard link out',
          [{ path: 'hl', type: 'Link', linkpath: `${climb(6)}/etc/passwd` }],
          /climbs out|not a file before it/,
        ],
        [
          'hard link to a symlink',
          [
            { path: 'l', type: 'SymbolicLink', linkpath: 'x' },
            { path: 'hl', type: 'Link', linkpath: 'l' },
          ],
          /not a file before it/,
        ],
        [
          'symlink to an absolute path',
          [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }],
          /points to the absolute path \/etc/,
        ],
        [
          'symlink up from a subdirectory',
          [
            { path: 'sub/', type: 'Directory' },
            { path: 'sub/up', type: 'SymbolicLink', linkpath: '../..' },
          ],
          /points outside the archive/,
        ],
        [
          'a link chain that only escapes once followed',
          [
            { path: 'a', type: 'SymbolicLink', linkpath: '.' },
            { path: 'sub/', type: 'Directory' },
            { path: 'sub/b', type: 'SymbolicLink', linkpath: '../a/../..' },
          ],
          /points outside the archive/,
        ],
        [
          'an entry written through a symlink',
          [
            { path: 'sub/', type: 'Directory' },
            { path: 'l', type: 'SymbolicLink', linkpath: 'sub' },
            { path: 'l/x', body: 'x' },
          ],
          /lies under the symlink l/,
        ],
        [
          'a path repeated as a symlink',
          [
            { path: 'f', body: 'x' },
            { path: 'f', type: 'SymbolicLink', linkpath: 'g' },
          ],
          /appears twice/,
        ],
      ];
      for (const [what, entries, reason] of escapes) {
        const dir = sandbox();
        const before = victimListing();
        const uri = serve(`escape-${what.replace(/\W+/g, '-')}.tar`, tarOf(entries));
        const id = randomUUID();
        refused(await call('launch', launchOf(id, dir, 'true', [{ value: uri }])), reason);
        assert.deepEqual(victimListing(), before, what);
        assert.equal(readFileSync(join(victim, 'abs'), 'utf8'), 'untouched', what);
        assert.deepEqual(
          readdirSync(dir).filter((n) => !n.endsWith('.tar')),
          [],
          `${what}: nothing unpacked`,
        );
        await noContainer(id);
      }
    });

    it('refuses a zip symlink pointing out; a zip with an internal symlink unpacks', async () => {
      const bad = serve('bad.zip', await zipOf([{ path: 'up', body: climb(6), symlink: true }]));
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: bad }])),
        /symlink up points outside the archive/,
      );
      const dir = sandbox();
      const good = serve(
        'good.zip',
        await zipOf([
          { path: 'conf/app.conf', body: `zip ${run}` },
          { path: 'app.conf', body: 'conf/app.conf', symlink: true },
        ]),
      );
      const id = randomUUID();
      await runToEnd(launchOf(id, dir, 'cat app.conf > out.txt', [{ value: good }]), id);
      assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), `zip ${run}`);
    });

    it('never unpacks over earlier files, strips set-id bits, and bounds what an archive unpacks to', async () => {
      const dir = sandbox();
      const tool = serve('tool.sh', 'echo original');
      const over = serve('over.tar', tarOf([{ path: 'tool.sh', body: 'echo replaced' }]));
      refused(
        await call('launch', launchOf(randomUUID(), dir, 'true', [{ value: tool }, { value: over }])),
        /holds tool\.sh, which is already in the sandbox/,
      );
      assert.equal(readFileSync(join(dir, 'tool.sh'), 'utf8'), 'echo original');

      const setid = sandbox();
      const id = randomUUID();
      await runToEnd(
        launchOf(id, setid, 'true', [
          { value: serve('setuid.tar', tarOf([{ path: 'su', body: '#!/bin/sh\n', mode: 0o6755 }])) },
        ]),
        id,
      );
      assert.equal(statSync(join(setid, 'su')).mode & 0o7777, 0o755);

      const bomb = serve('bomb.tar.gz', gzipSync(tarOf([{ path: 'zeros', body: Buffer.alloc(4 * 1024 * 1024) }])));
      const bombed = sandbox();
      refused(
        await call('launch', launchOf(randomUUID(), bombed, 'true', [{ value: bomb }])),
        /content is over the size limit .*fetch\.maxBytes/,
      );
      assert.equal(existsSync(join(bombed, 'zeros')), false);
    });

    it('copies local files only from fetch.localPaths, judged by their real path', async () => {
      const dir = sandbox();
      const id = randomUUID();
      await runToEnd(launchOf(id, dir, 'true', [{ value: `file://${join(localFiles, 'ok.txt')}` }]), id);
      assert.equal(readFileSync(join(dir, 'ok.txt'), 'utf8'), `local ${run}`);
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: join(localFiles, 'passwd-link') }])),
        /\/etc\/passwd is outside the directories local files may come from \(add the directory to fetch\.localPaths/,
      );
      refused(
        await call(
          'launch',
          launchOf(randomUUID(), sandbox(), 'true', [{ value: `${localFiles}/../../victim/secret` }]),
        ),
        /victim\/secret is outside the directories/,
      );
      const none = join(work, 'no-local.yaml');
      writeConfig(none, { fetch: { localPaths: [] } });
      const bare = sandbox();
      refused(
        await call('launch', launchOf(randomUUID(), bare, 'true', [{ value: 'file:///etc/shadow' }]), none),
        /cannot fetch file:\/\/\/etc\/shadow: local files may not be fetched \(add the directory to fetch\.localPaths/,
      );
      assert.equal(existsSync(join(bare, 'shadow')), false);
    });

    it('follows a bounded number of http(s) redirects and holds downloads to the size and time limits', async () => {
      serve('hopped.txt', `hopped ${run}`);
      const dir = sandbox();
      const id = randomUUID();
      await runToEnd(launchOf(id, dir, 'true', [{ value: `${base}/hop/1/hopped.txt` }]), id);
      assert.equal(readFileSync(join(dir, 'hopped.txt'), 'utf8'), `hopped ${run}`);
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: `${base}/hop/5/hopped.txt` }])),
        /more than 2 redirects \(fetch\.maxRedirects\)/,
      );
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: `${base}/to-file` }])),
        /redirected to file: URL/,
      );
      refused(
        await call(
          'launch',
          launchOf(randomUUID(), sandbox(), 'true', [{ value: serve('big.bin', Buffer.alloc(2 * 1024 * 1024)) }]),
        ),
        /over the size limit of 1048576 bytes \(fetch\.maxBytes\)/,
      );
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: `${base}/endless` }])),
        /over the size limit of 1048576 bytes \(fetch\.maxBytes\)/,
      );
      const pair = [serve('part1.bin', Buffer.alloc(900 * 1024)), serve('part2.bin', Buffer.alloc(900 * 1024))].map(
        (value) => ({ value }),
      );
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', pair)),
        /part2\.bin: it is \d+ bytes, over the size limit of \d+ bytes \(fetch\.maxTaskBytes\)/,
      );
      const slow = join(work, 'slow.yaml');
      writeConfig(slow, { fetch: { timeoutSeconds: 1 } });
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: `${base}/trickle` }]), slow),
        /it took longer than fetch\.timeoutSeconds \(1 s\)/,
      );
      writeConfig(slow, { fetch: { timeoutSeconds: 30, taskTimeoutSeconds: 1 } });
      refused(
        await call('launch', launchOf(randomUUID(), sandbox(), 'true', [{ value: `${base}/trickle` }]), slow),
        /took longer than fetch\.taskTimeoutSeconds \(1 s\)/,
      );
    });
  });

  describe('the privilege policy', () => {
    const legacy = (id: string, options: string[]) =>
      encodeMessage('mesos.containerizer.Launch', {
        container_id: { value: id },
        executor_info: {
          executor_id: { value: id },
          command: { value: 'sleep 300', container: { image: `docker:///${IMAGE}`, options } },
        },
        directory: sandbox(),
      });
    const parameters = (id: string, params: Array<[string, string]>) =>
      launchOf(id, sandbox(), 'sleep 300', [], {
        docker: { network: 'BRIDGE', parameters: params.map(([key, value]) => ({ key, value })) },
      });
    const gated: Array<[string, [string, string], RegExp]> = [
      ['--net=host', ['net', 'host'], /--net=host is not allowed \(set allow\.hostNetwork: true/],
      ['-u 0', ['user', '0'], /--user=0 is not allowed \(set allow\.rootUser: true/],
      ['--privileged', ['privileged', 'true'], /--privileged is not allowed \(set allow\.privileged: true/],
      ['--pid=host', ['pid', 'host'], /--pid=host is not allowed \(set allow\.hostNamespaces: true/],
      [
        '--cap-add=SYS_ADMIN',
        ['cap-add', 'SYS_ADMIN'],
        /--cap-add=SYS_ADMIN is not allowed \(set allow\.capabilities: \[SYS_ADMIN\]/,
      ],
      [
        '--device=/dev/mem',
        ['device', '/dev/mem'],
        /--device=\/dev\/mem is not allowed \(set allow\.devices: \[\/dev\/mem\]/,
      ],
      [
        '--security-opt=apparmor=unconfined',
        ['security-opt', 'apparmor=unconfined'],
        /is not allowed \(set allow\.securityOptions: true/,
      ],
      [
        `-v /etc:/host-etc`,
        ['volume', '/etc:/host-etc'],
        /host path \/etc may not be mounted \(add it \(or a parent\) to allow\.hostPaths/,
      ],
    ];

    it('refuses what gives the host away in 0.19 options and in DockerInfo parameters alike', async () => {
      const strict = join(work, 'no-host-network.yaml');
      writeConfig(strict, { allow: { hostPaths: [], hostNetwork: false } });
      for (const [option, parameter, reason] of gated) {
        const a = randomUUID();
        refused(await call('launch', legacy(a, [option]), strict), new RegExp(`docker option .*${reason.source}`));
        const b = randomUUID();
        refused(
          await call('launch', parameters(b, [parameter]), strict),
          new RegExp(`DockerInfo\\.parameters .*${reason.source}`),
        );
        for (const id of [a, b]) await noContainer(id);
      }
    });

    it("runs Deimos's own example options and an allowlisted host path in both forms", async () => {
      for (const [id, record] of [
        [randomUUID(), null],
        [randomUUID(), 'parameters'],
      ] as const) {
        const launch =
          record === null
            ? legacy(id, [
                '-c 10240',
                '-m 64m',
                '--dns=10.0.0.2',
                '-e GREETING=hi',
                '-l team=web',
                '-w /tmp',
                `-v ${shared}:/shared:ro`,
              ])
            : parameters(id, [
                ['cpu-shares', '10240'],
                ['memory', '64m'],
                ['dns', '10.0.0.2'],
                ['env', 'GREETING=hi'],
                ['label', 'team=web'],
                ['workdir', '/tmp'],
                ['volume', `${shared}:/shared:ro`],
              ]);
        ok(await call('launch', launch), 'launch');
        const [container] = await driver.list({ 'theseus.containerizer': instance, 'theseus.mesos.container-id': id });
        const details = await driver.inspect(container?.id ?? '');
        assert.equal(details?.cpuShares, 10240);
        assert.equal(details?.memoryBytes, 64 * 1024 * 1024);
        assert.equal(details?.labels.team, 'web');
        const read = await driver.exec(container?.id ?? '', 'grep -q "shared ' + run + '" /shared/index.html');
        assert.equal(read.exitCode, 0, 'the allowlisted host path is mounted');
        ok(await call('destroy', idRecord('Destroy', id)), 'destroy');
      }
    });

    it('refuses a host path that leaves the allowlist through a symlink, and mounts the allowlisted one', async () => {
      const dir = sandbox();
      const id = randomUUID();
      await runToEnd(
        launchOf(id, dir, 'cat /shared/index.html > out.txt', [], {
          volumes: [{ container_path: '/shared', host_path: shared, mode: 'RO' }],
        }),
        id,
      );
      assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), `shared ${run}`);
      const bad = randomUUID();
      refused(
        await call(
          'launch',
          launchOf(bad, sandbox(), 'true', [], {
            volumes: [{ container_path: '/e', host_path: join(shared, 'etc-link'), mode: 'RO' }],
          }),
        ),
        /host path .*etc-link \(\/etc\) may not be mounted/,
      );
      refused(
        await call('launch', legacy(randomUUID(), [`-v ${shared}/etc-link:/e`])),
        /docker option --volume .*etc-link.* \(\/etc\) may not be mounted/,
      );
      await noContainer(bad);
    });

    it("runs the task as the Launch's user (its uid:gid on the host), and refuses a user the host does not know", async () => {
      const dir = sandbox(NOBODY);
      const id = randomUUID();
      const fetched = serve('owned.txt', 'mine');
      await runToEnd(
        launchOf(id, dir, 'id -u > uid.txt; id -g >> uid.txt; echo more >> owned.txt', [{ value: fetched }], {
          user: 'nobody',
        }),
        id,
      );
      assert.equal(readFileSync(join(dir, 'uid.txt'), 'utf8'), `${NOBODY}\n${NOBODY}\n`);
      assert.equal(statSync(join(dir, 'owned.txt')).uid, NOBODY, "fetched files belong to the task's user");
      assert.equal(readFileSync(join(dir, 'owned.txt'), 'utf8'), 'minemore\n');
      const unknown = randomUUID();
      refused(
        await call('launch', launchOf(unknown, sandbox(), 'true', [], { user: `no-such-user-${run}` })),
        /the launch's user "no-such-user-\w+" does not exist on this host .*taskUser: image/,
      );
      await noContainer(unknown);
    });

    it("never appends a command task's executor output through a symlink left in the sandbox", async () => {
      const dir = sandbox();
      writeFileSync(join(victim, 'log-target'), 'untouched');
      symlinkSync(join(victim, 'log-target'), join(dir, 'stdout'));
      const id = randomUUID();
      const task = encodeMessage('mesos.containerizer.Launch', {
        container_id: { value: id },
        task_info: {
          name: 't',
          task_id: { value: `t.${run}` },
          slave_id: { value: 'S0' },
          command: { value: 'echo out' },
          container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } },
        },
        executor_info: { executor_id: { value: `t.${run}` }, command: { value: '/usr/libexec/mesos/mesos-executor' } },
        directory: dir,
      });
      const env = { ...process.env, MESOS_LIBEXEC_DIRECTORY: join(work, 'libexec') };
      refused(
        await callProgram(['--config', configFile, 'launch'], task, { env }),
        /the sandbox's stdout is a symbolic link/,
      );
      assert.equal(readFileSync(join(victim, 'log-target'), 'utf8'), 'untouched');
      await noContainer(id);
    });

    it('ignores ./containerizer.yaml in a sandbox reached through a symlinked work directory', async () => {
      const home = join(work, 'home');
      mkdirSync(join(home, '.theseus'), { recursive: true });
      writeConfig(join(home, '.theseus', 'containerizer.yaml'));
      const link = join(work, 'slave-link');
      symlinkSync(join(work, 'slave'), link);
      const dir = sandbox();
      writeFileSync(
        join(dir, 'containerizer.yaml'),
        `stateDir: ${join(work, 'state')}\ninstance: ${instance}\nallow: { privileged: true }\n`,
      );
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, MESOS_WORK_DIRECTORY: link };
      delete env.THESEUS_CONTAINERIZER_CONFIG;
      const id = randomUUID();
      const privileged = launchOf(id, dir, 'true', [], { docker: { privileged: true } });
      const result = await callProgram(['launch'], privileged, { cwd: dir, env });
      refused(result, /DockerInfo privileged is not allowed/);
      await noContainer(id);
    });
  });

  describe('the state directory', () => {
    it('is created 0700 with 0600 records, and refused when another user owns it or others may write to it', async () => {
      const stateDir = join(work, 'fresh-state');
      const config = join(work, 'fresh.yaml');
      writeConfig(config, { stateDir });
      const id = randomUUID();
      ok(await call('launch', launchOf(id, sandbox(), 'sleep 300'), config), 'launch');
      assert.equal(statSync(stateDir).mode & 0o777, 0o700);
      assert.equal(statSync(join(stateDir, instance)).mode & 0o777, 0o700);
      assert.equal(statSync(join(stateDir, instance, id)).mode & 0o777, 0o700);
      assert.equal(statSync(join(stateDir, instance, id, 'container.json')).mode & 0o777, 0o600);

      chownSync(stateDir, NOBODY, NOBODY);
      refused(
        await call('destroy', idRecord('Destroy', id), config),
        /state directory .*fresh-state belongs to uid 65534, not to this program's uid 0/,
      );
      refused(await call('launch', launchOf(randomUUID(), sandbox(), 'true'), config), /belongs to uid 65534/);
      chownSync(stateDir, 0, 0);
      chmodSync(stateDir, 0o777);
      refused(
        await call('usage', idRecord('Usage', id), config),
        /state directory .*fresh-state may be written by others \(mode 0777\)/,
      );
      chmodSync(stateDir, 0o700);
      ok(await call('destroy', idRecord('Destroy', id), config), 'destroy once the directory is private again');
    });

    it('destroy and update act only on a container carrying its labels, and destroy only on its own host executor', async () => {
      const bystander = await driver.start({
        name: `theseus-bystander-${run}`,
        image: IMAGE,
        shell: 'sleep 300',
        env: {},
        labels: {},
        network: 'none',
        ports: [],
        volumes: [],
        init: true,
      });
      const sleeper = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
      try {
        const id = randomUUID();
        ok(await call('launch', launchOf(id, sandbox(), 'sleep 300')), 'launch');
        const file = join(work, 'state', instance, id, 'container.json');
        const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        writeFileSync(file, JSON.stringify({ ...state, dockerId: bystander.id, executorPid: sleeper.pid }));
        refused(
          await call('destroy', idRecord('Destroy', id)),
          new RegExp(
            `Docker container theseus-bystander-${run} does not carry its labels.*nothing was stopped or removed`,
          ),
        );
        assert.equal((await driver.inspect(bystander.id))?.running, true, 'the other container still runs');
        const update = encodeMessage('mesos.containerizer.Update', {
          container_id: { value: id },
          resources: [{ name: 'mem', type: 'SCALAR', scalar: { value: 8 } }],
        });
        refused(await call('update', update), /does not carry its labels/);
        assert.equal(
          (await driver.inspect(bystander.id))?.memoryBytes,
          0,
          "the other container's limits are untouched",
        );
        assert.equal(sleeper.exitCode, null);

        writeFileSync(file, JSON.stringify({ ...state, executorPid: sleeper.pid }));
        ok(await call('destroy', idRecord('Destroy', id)), 'destroy of its own container');
        await noContainer(id);
        assert.equal(sleeper.exitCode, null, 'a process that is not its host executor is not signalled');
        assert.doesNotThrow(() => process.kill(sleeper.pid as number, 0));
      } finally {
        sleeper.kill('SIGKILL');
        await driver.remove(bystander.id);
      }
    });
  });
});
