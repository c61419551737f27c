import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerizerConfigSchema, type ContainerizerConfig } from '../config.js';
import { LaunchRefusedError } from '../protocol/errors.js';
import type { MesosLaunch } from '../protocol/types.js';
import { imageFromUrl, pairPorts, planLaunch, registryOf } from './plan.js';
import { parseDockerOptions } from './docker-options.js';

function config(overrides: Record<string, unknown> = {}): ContainerizerConfig {
  return { ...ContainerizerConfigSchema.parse(overrides), instance: 'unit', source: null };
}

const ports = (begin: number, end: number) => ({ name: 'ports', type: 'RANGES' as const, ranges: { range: [{ begin, end }] } });

function executorLaunch(extra: Partial<NonNullable<MesosLaunch['executor_info']>> = {}): MesosLaunch {
  return {
    container_id: { value: 'c1' },
    executor_info: { executor_id: { value: 'e1' }, command: { value: 'run-it' }, resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1.5 } }], ...extra },
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
        resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } }, { name: 'mem', type: 'SCALAR', scalar: { value: 128 } }, ports(31000, 31001)],
        container: { type: 'DOCKER', docker: { image: 'web:2', network: 'BRIDGE', port_mappings: [{ host_port: 31001, container_port: 80 }] } },
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
    assert.equal(spec.env.MESOS_MASTER, undefined, 'the slave\'s own settings stay out');
    assert.deepEqual(spec.volumes, [{ hostPath: '/var/lib/mesos/slaves/S/runs/2014-01-01T00:00:00', containerPath: '/mnt/mesos/sandbox', mode: 'RW' }]);
    assert.equal(spec.labels['theseus.mesos.container-id'], 'c1');
    assert.equal(spec.labels['theseus.containerizer'], 'unit');
    assert.equal(spec.name, 'theseus-c1');
    assert.equal(plan.mode, 'executor');
  });

  it('reads a 0.19 docker:/// URL, falls back to the default image, and refuses when there is none', () => {
    const legacy = planLaunch(executorLaunch({ command: { value: 'x', container: { image: 'docker://registry:5000/team/app:1', options: ['-e A=1'] } } }), config());
    assert.equal(legacy.spec.image, 'registry:5000/team/app:1');
    assert.equal(legacy.spec.env.A, '1');
    assert.equal(legacy.spec.network, 'bridge');
    assert.equal(planLaunch(executorLaunch(), config({ image: { default: 'base:1' } })).spec.image, 'base:1');
    assert.throws(() => planLaunch(executorLaunch(), config()), /no image/);
    assert.throws(() => planLaunch(executorLaunch({ command: { value: 'x', container: { image: 'http://x/y' } } }), config()), /not a docker:\/\/ URL/);
  });

  it('runs shell=false commands as argv and keeps the image command when there is none', () => {
    const argv = planLaunch(executorLaunch({ command: { shell: false, value: '/bin/app', arguments: ['--port', '80'] }, container: { type: 'DOCKER', docker: { image: 'a' } } }), config());
    assert.deepEqual(argv.spec.args, ['/bin/app', '--port', '80']);
    assert.equal(argv.spec.shell, undefined);
    assert.equal(argv.spec.network, 'host', 'DockerInfo network defaults to HOST');
    const bare = planLaunch(executorLaunch({ command: { shell: false }, container: { type: 'DOCKER', docker: { image: 'a' } } }), config());
    assert.deepEqual([bare.spec.args, bare.spec.shell], [undefined, undefined]);
  });

  it('refuses what the configuration does not allow, and mappings outside the allocation', () => {
    const docker = (d: object, volumes: object[] = []) => executorLaunch({ container: { type: 'DOCKER', volumes, docker: { image: 'a', ...d } } as never });
    assert.throws(() => planLaunch(docker({ privileged: true }), config()), LaunchRefusedError);
    assert.equal(planLaunch(docker({ privileged: true }), config({ allow: { privileged: true } })).spec.privileged, true);
    assert.throws(() => planLaunch(docker({ parameters: [{ key: 'env', value: 'A=1' }] }), config()), /parameters are not allowed/);
    assert.equal(planLaunch(docker({ parameters: [{ key: 'env', value: 'A=1' }] }), config({ allow: { parameters: true } })).spec.env.A, '1');
    assert.throws(() => planLaunch(docker({}, [{ container_path: '/d', host_path: '/data/x', mode: 'RW' }]), config()), /may not be mounted/);
    assert.throws(() => planLaunch(docker({}, [{ container_path: '/d', host_path: '/data-other', mode: 'RW' }]), config({ allow: { hostPaths: ['/data'] } })), /may not be mounted/);
    assert.equal(planLaunch(docker({}, [{ container_path: '/d', host_path: '/data/x', mode: 'RO' }]), config({ allow: { hostPaths: ['/data'] } })).spec.volumes[1]?.mode, 'RO');
    assert.throws(() => planLaunch(docker({ network: 'BRIDGE', port_mappings: [{ host_port: 9999, container_port: 80 }] }), config()), /not among the task's allocated ports/);
    assert.throws(() => planLaunch(docker({ network: 'HOST', port_mappings: [{ host_port: 9999, container_port: 80 }] }), config()), /need BRIDGE/);
    assert.throws(() => planLaunch(executorLaunch({ container: { type: 'MESOS' } }), config({ image: { default: 'a' } })), /type MESOS is not handled/);
  });

  it('gives a command task to the host mesos-executor, or to the container with the launcher directory mounted', () => {
    const launch: MesosLaunch = {
      ...executorLaunch({ command: { value: '/usr/libexec/mesos/mesos-executor' } }),
      task_info: { name: 't', task_id: { value: 'task-1' }, slave_id: { value: 'S' }, command: { value: 'echo hi' }, resources: [{ name: 'mem', type: 'SCALAR', scalar: { value: 64 } }] },
    };
    const host = planLaunch(launch, config({ image: { default: 'a' } }), { MESOS_LIBEXEC_DIRECTORY: '/opt/mesos/libexec' });
    assert.equal(host.mode, 'command-host');
    assert.equal(host.hostExecutor, '/opt/mesos/libexec/mesos-executor');
    assert.equal(host.spec.shell, 'echo hi', 'the container runs the task');
    assert.equal(host.spec.memMb, 64, 'sized by the task');
    const inside = planLaunch(launch, config({ image: { default: 'a' }, commandExecutor: 'container' }), { MESOS_LIBEXEC_DIRECTORY: '/opt/mesos/libexec' });
    assert.equal(inside.spec.shell, '/usr/libexec/mesos/mesos-executor', 'the container runs the executor');
    assert.ok(inside.spec.volumes.some((v) => v.hostPath === '/opt/mesos/libexec' && v.mode === 'RO'));
    assert.equal(inside.spec.env.MESOS_EXECUTOR_ID, 'e1');
    assert.equal(inside.spec.env.MESOS_TASK_ID, 'task-1');
    assert.throws(() => planLaunch(launch, config({ image: { default: 'a' }, commandExecutor: 'container' }), {}), /MESOS_LIBEXEC_DIRECTORY/);
  });
});

describe('slave generation and registry credentials', () => {
  it('detects a 0.26+ slave from its launch environment when asked to', () => {
    const launch = executorLaunch({ container: { type: 'DOCKER', docker: { image: 'a' } } });
    assert.equal(planLaunch(launch, config({ mesosVersion: 'auto' }), {}).generation, '0.22');
    assert.equal(planLaunch(launch, config({ mesosVersion: 'auto' }), { MESOS_AGENT_ENDPOINT: '10.0.0.5:5051' }).generation, '1.0');
    assert.equal(planLaunch(launch, config(), { MESOS_AGENT_ENDPOINT: '10.0.0.5:5051' }).generation, '0.22', 'the default is the 0.22 Termination');
  });

  it('pulls with the credentials of the image\'s registry only', () => {
    const registries = { 'registry.example.com:5000': { username: 'deploy', password: 'pw' } };
    const launch = (image: string) => executorLaunch({ container: { type: 'DOCKER', docker: { image, force_pull_image: true } } });
    const privateImage = planLaunch(launch('registry.example.com:5000/team/app:1'), config({ image: { registries } }));
    assert.deepEqual(privateImage.auth, { username: 'deploy', password: 'pw', serveraddress: 'registry.example.com:5000' });
    assert.equal(privateImage.pull, 'always', 'force_pull_image');
    assert.equal(planLaunch(launch('library/ubuntu:14.04'), config({ image: { registries } })).auth, undefined);
  });
});

describe('docker run options and ports', () => {
  it('translates the supported flags and refuses the rest', () => {
    const o = parseDockerOptions(['-e A=1', '--env=B=2', '-v /h:/c:ro', '--net', 'host', '-w', '/w', '--user=nobody', '--privileged', '--init=false', '-l team=x']);
    assert.deepEqual(o.env, { A: '1', B: '2' });
    assert.deepEqual(o.volumes, [{ hostPath: '/h', containerPath: '/c', mode: 'RO' }]);
    assert.deepEqual([o.network, o.workingDir, o.user, o.privileged, o.init], ['host', '/w', 'nobody', true, false]);
    assert.deepEqual(o.labels, { team: 'x' });
    assert.throws(() => parseDockerOptions(['--cap-add=SYS_ADMIN']), /--cap-add is not supported/);
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
