import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError, ConfigError } from '@theseus/services/errors';
import { configCandidates, loadConfig, printableConfig } from './config.js';

const root = mkdtempSync(join(tmpdir(), 'theseus-ecp-config-'));
const cwd = join(root, 'cwd');
const home = join(root, 'home');
mkdirSync(cwd);
mkdirSync(join(home, '.theseus'), { recursive: true });

describe('containerizer configuration', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('searches ./containerizer.yaml, then ~/.theseus/containerizer.yaml, then /etc/theseus; the first found wins', async () => {
    assert.deepEqual(configCandidates({ cwd, home, env: {} }), [
      join(cwd, 'containerizer.yaml'),
      join(home, '.theseus', 'containerizer.yaml'),
      '/etc/theseus/containerizer.yaml',
    ]);
    writeFileSync(join(home, '.theseus', 'containerizer.yaml'), 'instance: from-home\n');
    const fromHome = await loadConfig({ cwd, home, env: {} });
    assert.equal(fromHome.instance, 'from-home');
    assert.equal(fromHome.source, join(home, '.theseus', 'containerizer.yaml'));
    writeFileSync(join(cwd, 'containerizer.yaml'), 'instance: from-cwd\n');
    assert.equal((await loadConfig({ cwd, home, env: {} })).instance, 'from-cwd');
    const explicit = join(root, 'explicit.yaml');
    writeFileSync(explicit, 'instance: explicit\n');
    assert.equal(
      (await loadConfig({ cwd, home, env: { THESEUS_CONTAINERIZER_CONFIG: explicit } })).instance,
      'explicit',
    );
    assert.equal((await loadConfig({ cwd, home, env: {}, path: explicit })).instance, 'explicit');
  });

  it('ignores ./containerizer.yaml inside the slave work directory (a task sandbox)', async () => {
    rmSync(join(home, '.theseus', 'containerizer.yaml'));
    const sandbox = join(cwd, 'slaves', 'S0');
    mkdirSync(sandbox, { recursive: true });
    writeFileSync(join(sandbox, 'containerizer.yaml'), 'allow:\n  privileged: true\n');
    const config = await loadConfig({ cwd: sandbox, home, env: { MESOS_WORK_DIRECTORY: cwd } });
    assert.equal(config.allow.privileged, false);
    assert.match(config.instance, /^slave-[0-9a-f]{12}$/, 'the instance follows the slave work directory');
  });

  it('ignores ./containerizer.yaml in the work directory named through a symlink', async () => {
    const real = join(root, 'real-work');
    const sandbox = join(real, 'slaves', 'S0');
    mkdirSync(sandbox, { recursive: true });
    symlinkSync(real, join(root, 'work-link'));
    writeFileSync(join(sandbox, 'containerizer.yaml'), 'allow:\n  privileged: true\n');
    assert.ok(
      !configCandidates({ cwd: sandbox, home, env: { MESOS_WORK_DIRECTORY: join(root, 'work-link') } }).includes(
        join(sandbox, 'containerizer.yaml'),
      ),
    );
    const viaLink = join(root, 'work-link', 'slaves', 'S0');
    assert.ok(
      !configCandidates({ cwd: viaLink, home, env: { MESOS_WORK_DIRECTORY: real } }).includes(
        join(viaLink, 'containerizer.yaml'),
      ),
    );
    const config = await loadConfig({ cwd: sandbox, home, env: { MESOS_WORK_DIRECTORY: join(root, 'work-link') } });
    assert.equal(config.allow.privileged, false);
  });

  it('defaults everything, taking the default image from the slave when the file names none', async () => {
    const config = await loadConfig({
      cwd: root,
      home: root,
      env: { MESOS_DEFAULT_CONTAINER_IMAGE: 'img:1' },
      path: join(root, 'explicit.yaml'),
    });
    assert.equal(config.image.default, 'img:1');
    assert.equal(config.mesosVersion, '0.22');
    assert.equal(config.commandExecutor, 'host');
    assert.deepEqual(config.allow, {
      privileged: false,
      hostNetwork: true,
      hostNamespaces: false,
      capabilities: [],
      devices: [],
      securityOptions: false,
      rootUser: false,
      hostPaths: [],
    });
    assert.equal(config.stateDir, '/var/run/theseus-containerizer');
    assert.equal(config.taskUser, 'apply');
    assert.deepEqual(config.fetch.localPaths, [], 'no local file may be fetched unless allowed');
  });

  it('names every invalid setting with its path, and bad YAML with its file', async () => {
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, 'stateDir: 7\nallow:\n  privileged: maybe\nsurprise: true\n');
    await assert.rejects(loadConfig({ path: bad }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      const paths = err.problems.map((p) => p.path).join(' ');
      assert.match(paths, /stateDir/);
      assert.match(paths, /allow.privileged|allow\/privileged/);
      assert.match(err.describe(), /surprise/);
      return true;
    });
    writeFileSync(bad, 'stateDir: [unclosed\n');
    await assert.rejects(
      loadConfig({ path: bad }),
      (err: unknown) => err instanceof ConfigError && /bad\.yaml: not valid YAML/.test(err.message),
    );
  });

  it('hides registry secrets when printed', async () => {
    const file = join(root, 'secrets.yaml');
    writeFileSync(
      file,
      'image:\n  registries:\n    registry.example.com:\n      username: deploy\n      password: hunter2\n',
    );
    const printed = JSON.stringify(printableConfig(await loadConfig({ path: file })));
    assert.doesNotMatch(printed, /hunter2/);
    assert.match(printed, /deploy/);
  });
});
