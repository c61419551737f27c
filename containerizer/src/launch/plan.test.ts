import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerizerConfigSchema, type ContainerizerConfig } from '../config.js';
import { LaunchRefusedError } from '../protocol/errors.js';
import type { MesosLaunch } from '../protocol/types.js';
import { imageFromUrl, pairPorts, planLaunch, registryOf } from './plan.js';
import { parseDockerOptions } from './docker-options.js';
import { decodeLaunch, encodeMessage } from '../protocol/messages.js';

const scratch = mkdtempSync(join(tmpdir(), 'theseus-plan-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function config(overrides: Record<string, unknown> = {}): ContainerizerConfig {
  return { ...ContainerizerConfigSchema.parse(overrides), instance: 'unit', source: null };
}

const ports = (begin: number, end: number) => ({
  name: 'ports',
  type: 'RANGES' as const,
  ranges: { range: [{ begin, end }] },
});

function executorLaunch(extra: Partial<NonNullable<MesosLaunch['executor_info']>> = {}): MesosLaunch {
  return {
    container_id: { value: 'c1' },
    executor_info: {
      executor_id: { value: 'e1' },
      command: { value: 'run-it' },
      resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1.5 } }],
      ...extra,
    },
    directory: '/var/lib/mesos/slaves/S/runs/2014-01-01T00:00:00',
    slave_id: { value: 'S' },
    slave_pid: 'slave(1)@10.0.0.5:5051',
    checkpoint: true,
  };
}

describe('planLaunch', () => {
  it('translates a DockerInfo executor: image, network, mappings, limits, env, sandbox and labels', () => {
    const plan = planLaunch(
      executorLaunch({
        framework_id: { value: 'F' },
        command: { value: 'serve', environment: { variables: [{ name: 'PORT', value: 'from-task' }] } },
        resources: [
          { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } },
          { name: 'mem', type: 'SCALAR', scalar: { value: 128 } },
          ports(31000, 31001),
        ],
        container: {
          type: 'DOCKER',
          docker: { image: 'web:2', network: 'BRIDGE', port_mappings: [{ host_port: 31001, container_port: 80 }] },
        },
      }),
      config(),
      { MESOS_RECOVERY_TIMEOUT: '15mins', MESOS_MASTER: 'zk://secret' },
    );
    const { spec } = plan;
    assert.equal(spec.image, 'web:2');
    assert.equal(spec.shell, 'serve');
    assert.equal(spec.network, 'bridge');
    assert.deepEqual(spec.ports, [{ containerPort: 80, hostPort: 31001, protocol: 'tcp' }]);
    assert.equal(plan.pairWithExposedPorts, false);
    assert.deepEqual([spec.cpus, spec.memMb], [0.5, 128]);
    assert.equal(spec.env.PORT, 'from-task', 'the task environment wins');
    assert.deepEqual([spec.env.PORT0, spec.env.PORT1, spec.env.PORTS], ['31000', '31001', '31000,31001']);
    assert.equal(spec.env.MESOS_SLAVE_PID, 'slave(1)@10.0.0.5:5051');
    assert.equal(spec.env.MESOS_CHECKPOINT, '1');
    assert.equal(spec.env.MESOS_RECOVERY_TIMEOUT, '15mins');
    assert.equal(spec.env.MESOS_MASTER, undefined, "the slave's own settings stay out");
    assert.deepEqual(spec.volumes, [
      { hostPath: '/var/lib/mesos/slaves/S/runs/2014-01-01T00:00:00', containerPath: '/mnt/mesos/sandbox', mode: 'RW' },
    ]);
    assert.equal(spec.labels['theseus.mesos.container-id'], 'c1');
    assert.equal(spec.labels['theseus.containerizer'], 'unit');
    assert.equal(spec.name, 'theseus-c1');
    assert.equal(plan.mode, 'executor');
  });

  it('reads a 0.19 docker:/// URL, falls back to the default image, and refuses when there is none', () => {
    const legacy = planLaunch(
      executorLaunch({
        command: { value: 'x', container: { image: 'docker://registry:5000/team/app:1', options: ['-e A=1'] } },
      }),
      config(),
    );
    assert.equal(legacy.spec.image, 'registry:5000/team/app:1');
    assert.equal(legacy.spec.env.A, '1');
    assert.equal(legacy.spec.network, 'bridge');
    assert.equal(planLaunch(executorLaunch(), config({ image: { default: 'base:1' } })).spec.image, 'base:1');
    assert.throws(() => planLaunch(executorLaunch(), config()), /no image/);
    assert.throws(
      () => planLaunch(executorLaunch({ command: { value: 'x', container: { image: 'http://x/y' } } }), config()),
      /not a docker:\/\/ URL/,
    );
  });

  it('runs shell=false commands as argv and keeps the image command when there is none', () => {
    const argv = planLaunch(
      executorLaunch({
        command: { shell: false, value: '/bin/app', arguments: ['--port', '80'] },
        container: { type: 'DOCKER', docker: { image: 'a' } },
      }),
      config(),
    );
    assert.deepEqual(argv.spec.args, ['/bin/app', '--port', '80']);
    assert.equal(argv.spec.shell, undefined);
    assert.equal(argv.spec.network, 'host', 'DockerInfo network defaults to HOST');
    const bare = planLaunch(
      executorLaunch({ command: { shell: false }, container: { type: 'DOCKER', docker: { image: 'a' } } }),
      config(),
    );
    assert.deepEqual([bare.spec.args, bare.spec.shell], [undefined, undefined]);
  });

  it('refuses what the configuration does not allow, and mappings outside the allocation', () => {
    const docker = (d: object, volumes: object[] = []) =>
      executorLaunch({ container: { type: 'DOCKER', volumes, docker: { image: 'a', ...d } } as never });
    assert.throws(() => planLaunch(docker({ privileged: true }), config()), LaunchRefusedError);
    assert.equal(
      planLaunch(docker({ privileged: true }), config({ allow: { privileged: true } })).spec.privileged,
      true,
    );
    assert.equal(
      planLaunch(docker({ parameters: [{ key: 'env', value: 'A=1' }] }), config()).spec.env.A,
      '1',
      'harmless parameters need no setting',
    );
    const data = join(scratch, 'data');
    mkdirSync(join(data, 'x'), { recursive: true });
    mkdirSync(join(scratch, 'data-other'), { recursive: true });
    assert.throws(
      () => planLaunch(docker({}, [{ container_path: '/d', host_path: join(data, 'x'), mode: 'RW' }]), config()),
      /may not be mounted/,
    );
    assert.throws(
      () =>
        planLaunch(
          docker({}, [{ container_path: '/d', host_path: join(scratch, 'data-other'), mode: 'RW' }]),
          config({ allow: { hostPaths: [data] } }),
        ),
      /may not be mounted/,
    );
    assert.equal(
      planLaunch(
        docker({}, [{ container_path: '/d', host_path: join(data, 'x'), mode: 'RO' }]),
        config({ allow: { hostPaths: [data] } }),
      ).spec.volumes[1]?.mode,
      'RO',
    );
    assert.throws(
      () =>
        planLaunch(
          docker({}, [{ container_path: '/d', host_path: join(data, 'absent'), mode: 'RO' }]),
          config({ allow: { hostPaths: [data] } }),
        ),
      /does not exist/,
    );
    assert.throws(
      () =>
        planLaunch(docker({ network: 'BRIDGE', port_mappings: [{ host_port: 9999, container_port: 80 }] }), config()),
      /not among the task's allocated ports/,
    );
    assert.throws(
      () => planLaunch(docker({ network: 'HOST', port_mappings: [{ host_port: 9999, container_port: 80 }] }), config()),
      /need BRIDGE/,
    );
    assert.throws(
      () => planLaunch(executorLaunch({ container: { type: 'MESOS' } }), config({ image: { default: 'a' } })),
      /type MESOS is not handled/,
    );
  });

  it('resolves symlinks in host paths before checking them against allow.hostPaths', () => {
    const allowed = join(scratch, 'allowed');
    mkdirSync(allowed, { recursive: true });
    symlinkSync('/etc', join(allowed, 'etc-link'));
    symlinkSync(allowed, join(scratch, 'allowed-link'));
    const mount = (hostPath: string) =>
      executorLaunch({
        container: {
          type: 'DOCKER',
          volumes: [{ container_path: '/d', host_path: hostPath, mode: 'RO' }],
          docker: { image: 'a' },
        } as never,
      });
    const allow = config({ allow: { hostPaths: [allowed] } });
    assert.throws(
      () => planLaunch(mount(join(allowed, 'etc-link')), allow),
      /host path .*etc-link \(\/etc\) may not be mounted/,
    );
    assert.throws(
      () =>
        planLaunch(
          executorLaunch({
            command: { value: 'x', container: { image: 'docker:///a', options: [`-v ${allowed}/etc-link:/e`] } },
          }),
          allow,
        ),
      /docker option --volume .* may not be mounted/,
    );
    assert.equal(
      planLaunch(mount(join(scratch, 'allowed-link')), allow).spec.volumes[1]?.hostPath,
      allowed,
      'an allowed directory named through a link mounts as its real path',
    );
  });

  it("takes the slave's default image as the slave passes it (docker:///image)", () => {
    for (const given of ['docker:///theseus/busybox:local', 'theseus/busybox:local']) {
      assert.equal(
        planLaunch(executorLaunch(), config({ image: { default: given } })).spec.image,
        'theseus/busybox:local',
      );
    }
  });

  it("applies the Launch's user unless the options name one or taskUser is image", () => {
    const launch = { ...executorLaunch({ container: { type: 'DOCKER', docker: { image: 'a' } } }), user: 'nobody' };
    assert.equal(planLaunch(launch, config()).runAs, 'nobody');
    assert.equal(planLaunch(launch, config({ taskUser: 'image' })).runAs, undefined);
    const named = {
      ...launch,
      executor_info: {
        ...launch.executor_info!,
        container: { type: 'DOCKER', docker: { image: 'a', parameters: [{ key: 'user', value: '1000' }] } },
      },
    } as MesosLaunch;
    assert.deepEqual([planLaunch(named, config()).runAs, planLaunch(named, config()).spec.user], [undefined, '1000']);
  });
  it('gives a command task to the host mesos-executor, or to the container with the launcher directory mounted', () => {
    const launch: MesosLaunch = {
      ...executorLaunch({ command: { value: '/usr/libexec/mesos/mesos-executor' } }),
      task_info: {
        name: 't',
        task_id: { value: 'task-1' },
        slave_id: { value: 'S' },
        command: { value: 'echo hi' },
        resources: [{ name: 'mem', type: 'SCALAR', scalar: { value: 64 } }],
      },
    };
    const host = planLaunch(launch, config({ image: { default: 'a' } }), {
      MESOS_LIBEXEC_DIRECTORY: '/opt/mesos/libexec',
    });
    assert.equal(host.mode, 'command-host');
    assert.equal(host.hostExecutor, '/opt/mesos/libexec/mesos-executor');
    assert.equal(host.spec.shell, 'echo hi', 'the container runs the task');
    assert.equal(host.spec.memMb, 64, 'sized by the task');
    const inside = planLaunch(launch, config({ image: { default: 'a' }, commandExecutor: 'container' }), {
      MESOS_LIBEXEC_DIRECTORY: '/opt/mesos/libexec',
    });
    assert.equal(inside.spec.shell, '/usr/libexec/mesos/mesos-executor', 'the container runs the executor');
    assert.ok(inside.spec.volumes.some((v) => v.hostPath === '/opt/mesos/libexec' && v.mode === 'RO'));
    assert.equal(inside.spec.env.MESOS_EXECUTOR_ID, 'e1');
    assert.equal(inside.spec.env.MESOS_TASK_ID, 'task-1');
    assert.throws(
      () => planLaunch(launch, config({ image: { default: 'a' }, commandExecutor: 'container' }), {}),
      /MESOS_LIBEXEC_DIRECTORY/,
    );
  });
});

describe('kill policy', () => {
  const launch = (grace?: number) =>
    encodeMessage(
      'mesos.containerizer.Launch',
      {
        container_id: { value: 'c1' },
        task_info: {
          name: 't',
          task_id: { value: 'task-1' },
          slave_id: { value: 'S' },
          command: { value: 'echo hi' },
          ...(grace === undefined ? {} : { kill_policy: { grace_period: { nanoseconds: grace * 1e9 } } }),
        },
        executor_info: { executor_id: { value: 'task-1' }, command: { value: '/opt/mesos/libexec/mesos-executor' } },
      },
      '1.0.4',
    );
  const env = { MESOS_LIBEXEC_DIRECTORY: '/opt/mesos/libexec', MESOS_AGENT_ENDPOINT: '127.0.0.1:5051' };

  it("a 1.0 slave's task kill policy sets the container's stop grace; without one the configured grace holds", () => {
    const cfg = config({ image: { default: 'a' }, stopGraceSeconds: 2 });
    assert.equal(planLaunch(decodeLaunch(launch(30), '1.0.4'), cfg, env).spec.stopGraceSeconds, 30);
    assert.equal(
      planLaunch(decodeLaunch(launch(0.5), '1.0.4'), cfg, env).spec.stopGraceSeconds,
      1,
      'rounded up to whole seconds',
    );
    assert.equal(planLaunch(decodeLaunch(launch(), '1.0.4'), cfg, env).spec.stopGraceSeconds, 2);
    // 0.22 definitions know no kill policy
    assert.equal(planLaunch(decodeLaunch(launch(30)), cfg, env).spec.stopGraceSeconds, 2);
  });
});

describe('slave generation and registry credentials', () => {
  it('detects a 0.26+ slave from its launch environment when asked to', () => {
    const launch = executorLaunch({ container: { type: 'DOCKER', docker: { image: 'a' } } });
    assert.equal(planLaunch(launch, config({ mesosVersion: 'auto' }), {}).generation, '0.22');
    assert.equal(
      planLaunch(launch, config({ mesosVersion: 'auto' }), { MESOS_AGENT_ENDPOINT: '10.0.0.5:5051' }).generation,
      '1.0',
    );
    assert.equal(
      planLaunch(launch, config(), { MESOS_AGENT_ENDPOINT: '10.0.0.5:5051' }).generation,
      '0.22',
      'the default is the 0.22 Termination',
    );
  });

  it("pulls with the credentials of the image's registry only", () => {
    const registries = { 'registry.example.com:5000': { username: 'deploy', password: 'pw' } };
    const launch = (image: string) =>
      executorLaunch({ container: { type: 'DOCKER', docker: { image, force_pull_image: true } } });
    const privateImage = planLaunch(launch('registry.example.com:5000/team/app:1'), config({ image: { registries } }));
    assert.deepEqual(privateImage.auth, {
      username: 'deploy',
      password: 'pw',
      serveraddress: 'registry.example.com:5000',
    });
    assert.equal(privateImage.pull, 'always', 'force_pull_image');
    assert.equal(planLaunch(launch('library/ubuntu:14.04'), config({ image: { registries } })).auth, undefined);
  });
});

describe('docker run options and ports', () => {
  it('translates the supported flags and refuses the rest', () => {
    const o = parseDockerOptions([
      '-e A=1',
      '--env=B=2',
      '-v /h:/c:ro',
      '--net',
      'host',
      '-w',
      '/w',
      '--user=nobody',
      '--privileged',
      '--init=false',
      '-l team=x',
    ]);
    assert.deepEqual(o.env, { A: '1', B: '2' });
    assert.deepEqual(o.volumes, [{ hostPath: '/h', containerPath: '/c', mode: 'RO' }]);
    assert.deepEqual([o.network, o.workingDir, o.user, o.privileged, o.init], ['host', '/w', 'nobody', true, false]);
    assert.deepEqual(o.labels, { team: 'x' });
    assert.throws(() => parseDockerOptions(['--oom-kill-disable']), /--oom-kill-disable is not supported/);
    const sized = parseDockerOptions(['-c 10240', '-m', '512m', '--dns=10.0.0.2', '--memory=1g']);
    assert.deepEqual([sized.cpus, sized.memMb, sized.dns], [10, 1024, ['10.0.0.2']]);
    assert.throws(() => parseDockerOptions(['-m 1x']), /expected a size/);
    assert.throws(() => parseDockerOptions(['-e']), /needs a value/);
    assert.throws(() => parseDockerOptions(['--net=macvlan']), /only bridge, host and none/);
    assert.throws(() => parseDockerOptions(['image-name']), /is not a flag/);
  });

  it('pairs allocated ports with exposed ports, then maps the rest host:host up to the limit', () => {
    const { ports: bound, unbound } = pairPorts([31000, 31001, 31002, 31003], [{ port: 80, protocol: 'tcp' }], 2);
    assert.deepEqual(bound, [
      { hostPort: 31000, containerPort: 80, protocol: 'tcp' },
      { hostPort: 31001, containerPort: 31001, protocol: 'tcp' },
      { hostPort: 31002, containerPort: 31002, protocol: 'tcp' },
    ]);
    assert.equal(unbound, 1);
  });

  it('knows image URLs and registries', () => {
    assert.equal(imageFromUrl('docker:///ubuntu:14.04'), 'ubuntu:14.04');
    assert.equal(imageFromUrl('docker://ubuntu'), 'ubuntu');
    assert.equal(registryOf('registry.example.com:5000/a/b:1'), 'registry.example.com:5000');
    assert.equal(registryOf('library/ubuntu'), 'docker.io');
    assert.equal(registryOf('localhost/app'), 'localhost');
  });
});

describe('one privilege policy for DockerInfo, 0.19 options and DockerInfo parameters', () => {
  const viaOptions = (flags: string[]) =>
    executorLaunch({ command: { value: 'x', container: { image: 'docker:///a', options: flags } } });
  const viaParameters = (flags: Array<[string, string]>) =>
    executorLaunch({
      container: {
        type: 'DOCKER',
        docker: { image: 'a', network: 'BRIDGE', parameters: flags.map(([key, value]) => ({ key, value })) },
      } as never,
    });
  const cases: Array<{ option: string; parameter: [string, string]; setting: string; allow: Record<string, unknown> }> =
    [
      {
        option: '--privileged',
        parameter: ['privileged', 'true'],
        setting: 'allow.privileged: true',
        allow: { privileged: true },
      },
      {
        option: '--pid=host',
        parameter: ['pid', 'host'],
        setting: 'allow.hostNamespaces: true',
        allow: { hostNamespaces: true },
      },
      {
        option: '--ipc=host',
        parameter: ['ipc', 'host'],
        setting: 'allow.hostNamespaces: true',
        allow: { hostNamespaces: true },
      },
      {
        option: '--uts=host',
        parameter: ['uts', 'host'],
        setting: 'allow.hostNamespaces: true',
        allow: { hostNamespaces: true },
      },
      {
        option: '--cap-add=SYS_ADMIN',
        parameter: ['cap-add', 'SYS_ADMIN'],
        setting: 'allow.capabilities: [SYS_ADMIN]',
        allow: { capabilities: ['SYS_ADMIN'] },
      },
      {
        option: '--device=/dev/fuse',
        parameter: ['device', '/dev/fuse'],
        setting: 'allow.devices: [/dev/fuse]',
        allow: { devices: ['/dev/fuse'] },
      },
      {
        option: '--security-opt=seccomp=unconfined',
        parameter: ['security-opt', 'seccomp=unconfined'],
        setting: 'allow.securityOptions: true',
        allow: { securityOptions: true },
      },
      { option: '--user=0', parameter: ['user', '0'], setting: 'allow.rootUser: true', allow: { rootUser: true } },
      {
        option: '--net=host',
        parameter: ['net', 'host'],
        setting: 'allow.hostNetwork: true',
        allow: { hostNetwork: true },
      },
    ];
  for (const { option, parameter, setting, allow } of cases) {
    it(`${option}: refused in both forms naming ${setting}, allowed in both with it`, () => {
      const refusing = config({ allow: { hostNetwork: false } });
      const allowing = config({ allow: { hostNetwork: false, ...allow } });
      for (const [form, launch] of [
        ['docker option', viaOptions([option])],
        ['DockerInfo.parameters', viaParameters([parameter])],
      ] as const) {
        assert.throws(
          () => planLaunch(launch, refusing),
          (err: unknown) =>
            err instanceof LaunchRefusedError &&
            err.message.includes(`${form} --`) &&
            err.message.includes('is not allowed') &&
            err.describe().includes(setting),
          `${form} ${option}`,
        );
        assert.doesNotThrow(() => planLaunch(launch, allowing), `${form} ${option} with ${setting}`);
      }
    });
  }

  it("gates DockerInfo's own fields the same way, and leaves harmless options alone", () => {
    const docker = (d: object) =>
      executorLaunch({ container: { type: 'DOCKER', docker: { image: 'a', ...d } } as never });
    assert.throws(() => planLaunch(docker({ privileged: true }), config()), /DockerInfo privileged is not allowed/);
    assert.throws(
      () => planLaunch(docker({ network: 'HOST' }), config({ allow: { hostNetwork: false } })),
      /DockerInfo network HOST is not allowed/,
    );
    assert.equal(
      planLaunch(docker({ network: 'HOST' }), config()).spec.network,
      'host',
      "host networking (Mesos's default) is allowed by default",
    );
    const harmless = planLaunch(
      viaOptions([
        '-c 10240',
        '-m 256m',
        '--dns 10.0.0.2',
        '-e A=1',
        '-l team=x',
        '-w /srv',
        '--entrypoint=/bin/sh',
        '--cap-drop=NET_RAW',
        '--security-opt=no-new-privileges',
      ]),
      config(),
    ).spec;
    assert.deepEqual(
      [harmless.cpus, harmless.memMb, harmless.dns, harmless.env.A, harmless.labels.team, harmless.workingDir],
      [10, 256, ['10.0.0.2'], '1', 'x', '/srv'],
    );
    assert.deepEqual(
      [harmless.entrypoint, harmless.capDrop, harmless.securityOpt],
      [['/bin/sh'], ['NET_RAW'], ['no-new-privileges']],
    );
    assert.equal(
      planLaunch(viaParameters([['user', 'nobody']]), config()).spec.user,
      'nobody',
      'a user other than root needs no setting',
    );
    assert.throws(
      () => planLaunch(viaOptions(['--pid=container:other']), config({ allow: { hostNamespaces: true } })),
      /--pid=container:other is not supported/,
    );
    for (const root of ['00', 'root:root', '1000:0'])
      assert.throws(
        () => planLaunch(viaParameters([['user', root]]), config()),
        (err: unknown) => err instanceof LaunchRefusedError && err.describe().includes('allow.rootUser'),
        root,
      );
    assert.equal(
      planLaunch(viaParameters([['env', 'GREETING=hello --privileged world']]), config()).spec.env.GREETING,
      'hello --privileged world',
      'a parameter value is one word',
    );
  });
});
