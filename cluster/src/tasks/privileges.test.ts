/** What a task of an app gets under the engine's privilege settings (no Docker needed: the launch plan). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MarathonApp } from '@theseus/services';
import type { AppDefinition } from '../app/definition.js';
import { parseApp } from '../app/parse.js';
import { planLaunch, type LaunchContext } from './launch-spec.js';
import { PortRange } from './ports.js';
import { MountRefusedError, resolveMounts, type PrivilegePolicy } from './privileges.js';

const NONE: PrivilegePolicy = {
  allowPrivileged: false,
  allowHostNetwork: false,
  allowUser: false,
  allowHostVolumes: false,
  hostVolumePaths: [],
};

function app(body: MarathonApp): AppDefinition {
  return {
    ...parseApp(body),
    version: '2026-01-01T00:00:00.000Z',
    versionInfo: { lastScalingAt: '2026-01-01T00:00:00.000Z', lastConfigChangeAt: '2026-01-01T00:00:00.000Z' },
  };
}

function context(extra: Partial<LaunchContext> = {}): LaunchContext {
  return {
    hostname: '127.0.0.1',
    engineId: 'e1',
    hostPorts: new PortRange(40000, 40009),
    containerLabels: {},
    volumesDir: '/data/volumes',
    sandboxesDir: '/data/sandboxes',
    hostCommands: false,
    defaultContainerImage: 'theseus/busybox:local',
    privileges: NONE,
    ...extra,
  };
}

describe('launch plans', () => {
  it('a cmd-only app runs in the default image, its sandbox mounted as working directory, on the bridge with its ports published at the same numbers', () => {
    const { spec } = planLaunch(
      app({ id: '/a', cmd: 'exec httpd -f -p $PORT0', portDefinitions: [{ port: 0 }] }),
      { taskId: 't1' },
      context(),
    );
    assert.equal(spec.image, 'theseus/busybox:local');
    assert.equal(spec.workingDir, '/mnt/mesos/sandbox');
    assert.equal(spec.env.MESOS_SANDBOX, '/mnt/mesos/sandbox');
    assert.deepEqual(spec.volumes, [
      { hostPath: '/data/sandboxes/t1', containerPath: '/mnt/mesos/sandbox', mode: 'RW' },
    ]);
    assert.equal(spec.network, 'bridge');
    const port = Number(spec.env.PORT0);
    assert.deepEqual(spec.ports, [{ containerPort: port, hostPort: port, protocol: 'tcp' }]);
  });

  it('with host commands allowed it stays a host process; with the host network allowed it joins it', () => {
    assert.equal(
      planLaunch(app({ id: '/a', cmd: 'true' }), { taskId: 't1' }, context({ hostCommands: true })).spec.image,
      undefined,
    );
    const { spec } = planLaunch(
      app({ id: '/a', cmd: 'true', portDefinitions: [{ port: 0 }] }),
      { taskId: 't1' },
      context({ privileges: { ...NONE, allowHostNetwork: true } }),
    );
    assert.equal(spec.network, 'host');
    assert.deepEqual(spec.ports, []);
  });

  it('applies allowed parameters and refuses the launch when a setting no longer allows one', () => {
    const docker = (parameters: Array<{ key: string; value: string }>) =>
      app({ id: '/a', cmd: 'true', container: { type: 'DOCKER', docker: { image: 'x', parameters } } });
    const fine = planLaunch(
      docker([
        { key: 'e', value: 'A=1' },
        { key: 'memory', value: '64m' },
        { key: 'cpu-shares', value: '512' },
        { key: 'hostname', value: 'h' },
      ]),
      { taskId: 't1' },
      context(),
    );
    assert.equal(fine.refused, undefined);
    assert.equal(fine.spec.env.A, '1');
    assert.equal(fine.spec.memMb, 64);
    assert.equal(fine.spec.cpus, 0.5);
    assert.equal(fine.spec.hostname, 'h');
    assert.match(
      planLaunch(
        docker([
          { key: '__proto__', value: 'x' },
          { key: 'constructor', value: 'x' },
        ]),
        { taskId: 't4' },
        context(),
      ).refused ?? '',
      /"__proto__" is not supported.*"constructor" is not supported/,
    );
    const refused = planLaunch(docker([{ key: 'privileged', value: 'true' }]), { taskId: 't2' }, context());
    assert.match(refused.refused ?? '', /engine\.allowPrivileged/);
    const allowed = planLaunch(
      docker([{ key: 'privileged', value: 'true' }]),
      { taskId: 't3' },
      context({ privileges: { ...NONE, allowPrivileged: true } }),
    );
    assert.equal(allowed.refused, undefined);
    assert.equal(allowed.spec.privileged, true);
  });
});

describe('host mounts', () => {
  it('resolve symlinks before the allowlist is checked, and mount the resolved path', () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'theseus-mounts-')));
    try {
      mkdirSync(join(root, 'allowed', 'real'), { recursive: true });
      symlinkSync(join(root, 'allowed', 'real'), join(root, 'inside-link'));
      symlinkSync('/etc', join(root, 'allowed', 'out'));
      const policy = { ...NONE, hostVolumePaths: [join(root, 'allowed')] };
      const mount = (hostPath: string) =>
        resolveMounts([{ hostPath, containerPath: '/m', mode: 'RO' }], [join(root, 'own')], policy);
      assert.deepEqual(mount(join(root, 'inside-link')), [
        { hostPath: join(root, 'allowed', 'real'), containerPath: '/m', mode: 'RO' },
      ]);
      assert.throws(
        () => mount(join(root, 'allowed', 'out')),
        (err: Error) => err instanceof MountRefusedError && /\(\/etc\)/.test(err.message),
      );
      assert.throws(() => mount(join(root, 'allowed', '..')), MountRefusedError);
      assert.throws(() => mount(join(root, 'missing')), /host path .*missing cannot be mounted: ENOENT/);
      // the task's own directory is created, and must stay its own
      assert.deepEqual(mount(join(root, 'own', 'data')), [
        { hostPath: join(root, 'own', 'data'), containerPath: '/m', mode: 'RO' },
      ]);
      symlinkSync('/etc', join(root, 'own', 'escape'));
      assert.throws(() => mount(join(root, 'own', 'escape')), /leaves the task's own directory/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
