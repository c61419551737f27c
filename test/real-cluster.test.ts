// Every configuration file of cluster/real-cluster is checked: YAML parses and has what compose
// needs, systemd units parse (and pass systemd-analyze where it exists), shell scripts pass
// `bash -n`, cluster.env is accepted and bad values are refused, the install scripts write what the
// units read, and the ports and images agree between the compose file, the units and cluster.env.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import { EtcdPermissionDeniedError, type Etcd3 } from 'etcd3';
import {
  createEtcdClient,
  DEFAULT_ETCD_PREFIX,
  EtcdLayout,
  loadSettings,
  readEtcdAccess,
  type EtcdAccess,
} from '@theseus/services';
import { freePort, TlsFiles } from '@theseus/services/testing';

const DIR = fileURLToPath(new URL('../cluster/real-cluster/', import.meta.url));
const LIB = join(DIR, 'install/lib.sh');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [relative(DIR, path)];
  });
}

/** KEY=value lines (comments and blank lines skipped). */
function readEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `not KEY=value: ${line}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

interface Unit {
  file: string;
  sections: Map<string, Array<[string, string]>>;
}

/** systemd unit syntax: [Section] headers, Key=Value, `\` continuation, # and ; comments. */
function parseUnit(file: string, text: string): Unit {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (/^\s*([#;].*)?$/.test(line)) continue;
    while (line.endsWith('\\')) {
      i++;
      assert.ok(i < lines.length, `${file}: continuation at end of file`);
      line = line.slice(0, -1) + ' ' + lines[i]!.trim();
    }
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      assert.ok(!sections.has(header[1]!), `${file}: section [${header[1]}] twice`);
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    assert.ok(kv, `${file}:${i + 1}: not Key=Value: ${line}`);
    assert.ok(current, `${file}:${i + 1}: ${kv[1]} outside a section`);
    current.push([kv[1]!, kv[2]!.trim()]);
  }
  return { file, sections };
}

function values(unit: Unit, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** systemd's ${VAR} expansion in Exec lines; an unknown variable is an error. */
function expand(unit: string, text: string, env: Record<string, string>): string {
  assert.doesNotMatch(
    text.replace(/\$\{[A-Z0-9_]+\}/g, ''),
    /\$[A-Za-z_]/,
    `${unit}: use \${VAR}, not $VAR (whitespace splitting)`,
  );
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    assert.ok(name in env, `${unit}: \${${name}} is set by neither cluster.env nor host.env`);
    return env[name]!;
  });
}

function bash(script: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', script, 'bash', ...args], { encoding: 'utf8' });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function renderHostEnv(config: string, address: string): Record<string, string> {
  const r = bash('set -euo pipefail; source "$1"; load_config "$2"; render_host_env "$3"', LIB, config, address);
  assert.equal(r.code, 0, r.stderr);
  return readEnv(r.stdout);
}

const portOf = (url: string) =>
  Number(new URL(url.replace(/^zk:\/\/([^,/]+).*$/, 'http://$1/').replace(/^redis:\/\/(?:[^@]*@)?/, 'http://')).port);

const files = filesUnder(DIR);
const clusterEnv = readEnv(readFileSync(join(DIR, 'cluster.env'), 'utf8'));
const unitFiles = files.filter((f) => f.endsWith('.service'));
const units = unitFiles.map((f) => parseUnit(f, readFileSync(join(DIR, f), 'utf8')));

test('every file is of a kind these tests check', () => {
  const unchecked = files.filter((f) => !/\.(ya?ml|service|sh|md)$|(^|\/)cluster\.env$|\.env\.example$/.test(f));
  assert.deepEqual(unchecked, []);
  for (const kind of ['.yaml', '.service', '.sh'])
    assert.ok(
      files.some((f) => f.endsWith(kind)),
      `has ${kind} files`,
    );
});

test('shell scripts pass bash -n and are executable where they are run directly', () => {
  for (const f of files.filter((f) => f.endsWith('.sh'))) {
    const r = spawnSync('bash', ['-n', join(DIR, f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    if (f.startsWith('install/install-')) assert.ok(statSync(join(DIR, f)).mode & 0o100, `${f} is executable`);
  }
});

describe('cluster.env', () => {
  test('is accepted by the install scripts and names every port the units use', () => {
    const r = bash(
      'set -euo pipefail; source "$1"; load_config "$2"; echo "$MARATHON_PORT"',
      LIB,
      join(DIR, 'cluster.env'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), clusterEnv.MARATHON_PORT);
    const lib = readFileSync(LIB, 'utf8');
    for (const key of Object.keys(clusterEnv)) assert.match(lib, new RegExp(`"${key}:`), `${key} is a checked setting`);
  });

  test('bad values are refused with the key and the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'theseus-cluster-env-'));
    try {
      const cases: Array<[string, RegExp]> = [
        ['ZK_PORT=zk', /ZK_PORT=zk is not a port/],
        ['REDIS_PORT=70000', /REDIS_PORT=70000 is not a port/],
        ['TASK_PORTS=32000-31000', /TASK_PORTS=32000-31000 is not a port range/],
        ['MASTER_HOSTS=10.0.0.1 10.0.0.2', /MASTER_HOSTS needs an odd number of hosts/],
        ['SLAVE_CONTAINERIZER=deimos', /SLAVE_CONTAINERIZER=deimos/],
        ['MARATHON_IMAGE=', /MARATHON_IMAGE is not set/],
        ['DEPLOYER_IMAGE="quoted"', /no quotes or \$ in values/],
        ['THESEUS_CLUSTER=Prod_1', /THESEUS_CLUSTER=Prod_1: lowercase/],
      ];
      for (const [line, message] of cases) {
        const key = line.slice(0, line.indexOf('='));
        const text = readFileSync(join(DIR, 'cluster.env'), 'utf8').replace(new RegExp(`^${key}=.*$`, 'm'), line);
        const file = join(dir, 'cluster.env');
        writeFileSync(file, text);
        const r = bash('set -euo pipefail; source "$1"; load_config "$2"', LIB, file);
        assert.notEqual(r.code, 0, `${line} is refused`);
        assert.match(r.stderr, message);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('systemd units', () => {
  const hostEnv = renderHostEnv(join(DIR, 'cluster.env'), clusterEnv.MASTER_HOSTS!.split(' ')[0]!);
  const env = { ...clusterEnv, ...hostEnv };

  test('parse, with the keys a service needs, and run one named container each', () => {
    assert.equal(units.length, 8);
    for (const unit of units) {
      const name = unit.file.replace(/^units\//, '').replace(/\.service$/, '');
      assert.deepEqual([...unit.sections.keys()], ['Unit', 'Service', 'Install'], unit.file);
      assert.equal(values(unit, 'Unit', 'Description').length, 1, `${unit.file}: Description`);
      assert.match(values(unit, 'Unit', 'Requires').join(' '), /docker\.service/);
      assert.deepEqual(
        values(unit, 'Service', 'EnvironmentFile'),
        ['/etc/theseus/cluster.env', '/etc/theseus/host.env'],
        unit.file,
      );
      assert.deepEqual(values(unit, 'Service', 'Restart'), ['always'], unit.file);
      assert.deepEqual(values(unit, 'Install', 'WantedBy'), ['multi-user.target'], unit.file);
      const [start, ...more] = values(unit, 'Service', 'ExecStart');
      assert.ok(start && more.length === 0, `${unit.file}: one ExecStart`);
      assert.ok(start.startsWith(`/usr/bin/docker run --rm --name ${name} --net host `), `${unit.file}: ${start}`);
      assert.deepEqual(values(unit, 'Service', 'ExecStop'), [`/usr/bin/docker stop -t 30 ${name}`]);
      assert.deepEqual(values(unit, 'Service', 'ExecStartPre'), [`-/usr/bin/docker rm -f ${name}`]);
      assert.doesNotMatch(start, /--privileged/, `${unit.file}: no privileged containers`);
      expand(unit.file, start, env);
    }
  });

  test('carry no port numbers of their own: every port comes from cluster.env', () => {
    const ports = Object.entries(clusterEnv)
      .filter(([k]) => k.endsWith('_PORT'))
      .map(([, v]) => v);
    for (const unit of units) {
      const start = values(unit, 'Service', 'ExecStart')[0]!;
      for (const port of ports)
        assert.doesNotMatch(start, new RegExp(`[^0-9$]${port}(?![0-9])`), `${unit.file} spells port ${port} out`);
    }
  });

  test('pass systemd-analyze verify', (t) => {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) return t.skip('systemd-analyze is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'theseus-units-'));
    try {
      // Verify checks that ExecStart's program exists; point it at this machine's docker client.
      const docker = execFileSync('bash', ['-c', 'command -v docker || command -v true'], { encoding: 'utf8' }).trim();
      for (const f of unitFiles) {
        const target = join(dir, f.replace(/^units\//, ''));
        writeFileSync(target, readFileSync(join(DIR, f), 'utf8').replaceAll('/usr/bin/docker', docker));
        const r = spawnSync('systemd-analyze', ['verify', '--man=no', target], { encoding: 'utf8' });
        const complaints = (r.stdout + r.stderr)
          .split('\n')
          .filter((l) => l.includes(target) || l.startsWith(f.replace(/^units\//, '')));
        assert.deepEqual(complaints, [], `${f}:\n${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('install scripts', () => {
  const ports = {
    ZK_PORT: '12181',
    ZK_PEER_PORT: '12888',
    ZK_ELECTION_PORT: '13888',
    MESOS_MASTER_PORT: '15050',
    MESOS_SLAVE_PORT: '15051',
    MARATHON_PORT: '18080',
    ETCD_CLIENT_PORT: '12379',
    ETCD_PEER_PORT: '12380',
    REDIS_PORT: '16379',
    DEPLOYER_PORT: '15000',
    SUBSCRIBER_PORT: '15001',
  };
  const masters = ['10.1.0.1', '10.1.0.2', '10.1.0.3'];
  let work = '';
  let config = '';
  let secrets = '';
  let credentials = '';

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'theseus-install-'));
    let text = readFileSync(join(DIR, 'cluster.env'), 'utf8');
    for (const [key, value] of Object.entries(ports))
      text = text.replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=${value}`);
    text = text
      .replace(/^MASTER_HOSTS=.*$/m, `MASTER_HOSTS=${masters.join(' ')}`)
      .replace(/^DATA_HOSTS=.*$/m, 'DATA_HOSTS=10.1.0.1 10.1.0.2 10.1.0.3')
      .replace(/^THESEUS_HOSTS=.*$/m, 'THESEUS_HOSTS=10.1.0.4');
    config = join(work, 'cluster.env');
    writeFileSync(config, text);
    secrets = join(work, 'secrets.env');
    writeFileSync(
      secrets,
      'THESEUS_API_TOKEN=0123456789abcdef0123456789abcdef0123\nREDIS_PASSWORD=fedcba9876543210fedcba98\n',
    );
    credentials = join(work, 'credentials');
    const made = spawnSync(
      'bash',
      [join(DIR, 'install/make-credentials.sh'), '--config', config, '--out', credentials],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(made.status, 0, made.stderr);
  });

  const install = (role: string, address: string, root: string, extra: string[] = []) =>
    spawnSync(
      'bash',
      [
        join(DIR, `install/install-${role}.sh`),
        '--config',
        config,
        '--address',
        address,
        '--root',
        root,
        '--no-start',
        ...extra,
      ],
      { encoding: 'utf8' },
    );

  test("write host settings whose URLs carry cluster.env's ports, and units that resolve against them", () => {
    const root = join(work, 'master-2');
    const r = install('master', masters[1]!, root);
    assert.equal(r.status, 0, r.stderr);
    const host = readEnv(readFileSync(join(root, 'etc/theseus/host.env'), 'utf8'));
    assert.equal(host.ZK_ID, '2');
    assert.equal(host.MESOS_QUORUM, '2');
    assert.equal(host.MESOS_ZK, `zk://${masters.map((m) => `${m}:12181`).join(',')}/mesos`);
    assert.equal(host.ZOO_SERVERS, masters.map((m, i) => `server.${i + 1}=${m}:12888:13888`).join(' '));
    assert.equal(host.MARATHON_URL, masters.map((m) => `http://${m}:18080`).join(','));
    assert.equal(host.ETCD_ENDPOINTS, ['10.1.0.1', '10.1.0.2', '10.1.0.3'].map((m) => `https://${m}:12379`).join(','));
    assert.deepEqual(
      readEnv(readFileSync(join(root, 'etc/theseus/cluster.env'), 'utf8')),
      readEnv(readFileSync(config, 'utf8')),
    );

    const env = { ...readEnv(readFileSync(config, 'utf8')), ...host };
    const resolved = (name: string) => {
      const unit = parseUnit(name, readFileSync(join(root, 'etc/systemd/system', `${name}.service`), 'utf8'));
      return expand(name, values(unit, 'Service', 'ExecStart')[0]!, env);
    };
    assert.match(
      resolved('theseus-zookeeper'),
      /-e ZOO_MY_ID=2 -e ZOO_PORT=12181 -e ZOO_SERVERS=server\.1=10\.1\.0\.1:12888:13888 /,
    );
    assert.match(
      resolved('theseus-mesos-master'),
      /-e MESOS_ZK=zk:\/\/10\.1\.0\.1:12181,.* -e MESOS_QUORUM=2 -e MESOS_PORT=15050 .*-e LIBPROCESS_IP=10\.1\.0\.2 /,
    );
    assert.match(
      resolved('theseus-marathon'),
      /--master zk:\/\/[^ ]*:12181\/mesos --zk zk:\/\/[^ ]*:12181\/marathon --http_port 18080 --hostname 10\.1\.0\.2/,
    );
  });

  test('refuse a host that is not listed for the role', () => {
    const r = install('master', '10.9.9.9', join(work, 'nowhere'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /10\.9\.9\.9 is not in MASTER_HOSTS/);
  });

  test('data and theseus roles keep secrets private and point the deployer at Redis on its port', () => {
    const dataRoot = join(work, 'data-1');
    let r = install('data', '10.1.0.1', dataRoot, ['--secrets', secrets, '--credentials', credentials]);
    assert.equal(r.status, 0, r.stderr);
    const redisConf = readFileSync(join(dataRoot, 'etc/theseus/private/redis.conf'), 'utf8');
    assert.match(redisConf, /^port 16379$/m);
    assert.match(redisConf, /^appendonly yes$/m);
    assert.match(redisConf, /^requirepass fedcba9876543210fedcba98$/m);
    assert.equal(statSync(join(dataRoot, 'etc/theseus/private')).mode & 0o777, 0o700);
    const etcd = expand(
      'theseus-etcd',
      values(
        parseUnit('etcd', readFileSync(join(dataRoot, 'etc/systemd/system/theseus-etcd.service'), 'utf8')),
        'Service',
        'ExecStart',
      )[0]!,
      {
        ...readEnv(readFileSync(config, 'utf8')),
        ...readEnv(readFileSync(join(dataRoot, 'etc/theseus/host.env'), 'utf8')),
      },
    );
    assert.match(etcd, / --config-file \/etc\/theseus\/private\/etcd\/etcd\.conf\.yml$/);
    const etcdConfig = yaml.load(
      readFileSync(join(dataRoot, 'etc/theseus/private/etcd/etcd.conf.yml'), 'utf8'),
    ) as Record<string, unknown>;
    assert.equal(etcdConfig['listen-client-urls'], 'https://10.1.0.1:12379,https://127.0.0.1:12379');
    assert.equal(etcdConfig['listen-peer-urls'], 'https://10.1.0.1:12380', "peers on this host's address only");
    assert.equal(
      etcdConfig['initial-cluster'],
      ['10.1.0.1', '10.1.0.2', '10.1.0.3'].map((h, i) => `etcd-${i + 1}=https://${h}:12380`).join(','),
    );
    for (const side of ['client-transport-security', 'peer-transport-security'])
      assert.deepEqual(etcdConfig[side], {
        'cert-file': '/etc/theseus/private/etcd/member.crt',
        'key-file': '/etc/theseus/private/etcd/member.key',
        'client-cert-auth': true,
        'trusted-ca-file': '/etc/theseus/private/etcd/ca.crt',
      });
    assert.equal(statSync(join(dataRoot, 'etc/theseus/private/etcd/member.key')).mode & 0o777, 0o600);
    const member = execFileSync(
      'openssl',
      [
        'x509',
        '-in',
        join(dataRoot, 'etc/theseus/private/etcd/member.crt'),
        '-noout',
        '-subject',
        '-ext',
        'subjectAltName',
      ],
      { encoding: 'utf8' },
    );
    assert.match(member, /CN ?= ?etcd-1/);
    assert.match(member, /IP Address:10\.1\.0\.1/);
    assert.match(member, /DNS:theseus-etcd\b/, 'the name clients check');
    assert.ok(
      !readdirSync(join(dataRoot, 'etc/theseus/private/etcd')).includes('ca.key'),
      "the CA's key stays off the hosts",
    );

    // Only the first data host runs Redis.
    r = install('data', '10.1.0.2', join(work, 'data-2'), ['--secrets', secrets, '--credentials', credentials]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(join(work, 'data-2/etc/systemd/system')), ['theseus-etcd.service']);

    const theseusRoot = join(work, 'theseus');
    r = install('theseus', '10.1.0.4', theseusRoot, ['--secrets', secrets, '--credentials', credentials]);
    assert.equal(r.status, 0, r.stderr);
    const privateEnv = join(theseusRoot, 'etc/theseus/private/theseus.env');
    assert.equal(statSync(privateEnv).mode & 0o777, 0o600);
    const theseusEnv = readEnv(readFileSync(privateEnv, 'utf8'));
    assert.equal(theseusEnv.REDIS_URL, 'redis://:fedcba9876543210fedcba98@10.1.0.1:16379');
    assert.equal(portOf(theseusEnv.REDIS_URL!), 16379);
    assert.equal(theseusEnv.THESEUS_API_TOKEN?.length, 36);
    assert.doesNotMatch(
      readFileSync(join(theseusRoot, 'etc/theseus/host.env'), 'utf8'),
      /fedcba|0123456789abcdef/,
      'no secret outside private/',
    );
    // Each part: its own etcd user and certificate, all as files; the deployer also the container user's password.
    for (const part of ['subscriber', 'deployer']) {
      const partEnv = readEnv(readFileSync(join(theseusRoot, `etc/theseus/private/${part}.env`), 'utf8'));
      const client = '/etc/theseus/private/etcd-client';
      assert.deepEqual(partEnv, {
        ETCD_CA_FILE: `${client}/ca.crt`,
        ETCD_SERVER_NAME: 'theseus-etcd',
        ETCD_CERT_FILE: `${client}/theseus-${part}.crt`,
        ETCD_KEY_FILE: `${client}/theseus-${part}.key`,
        ETCD_USERNAME: `theseus-${part}`,
        ETCD_PASSWORD_FILE: `${client}/theseus-${part}.password`,
        THESEUS_CONTAINER_ETCD_USERNAME: 'theseus-container',
        ...(part === 'deployer'
          ? {
              THESEUS_CONTAINER_ETCD_PASSWORD_FILE: `${client}/theseus-container.password`,
              THESEUS_CONTAINER_ETCD_CERT_FILE: `${client}/theseus-container.crt`,
              THESEUS_CONTAINER_ETCD_KEY_FILE: `${client}/theseus-container.key`,
            }
          : {}),
      });
      for (const file of Object.values(partEnv).filter((v) => v.startsWith('/')))
        assert.ok(statSync(join(theseusRoot, file)).isFile(), `${part}: ${file} is installed`);
    }
    assert.deepEqual(
      readdirSync(join(theseusRoot, 'etc/theseus/private/etcd-client')).filter((f) => /root|ca\.key/.test(f)),
      [],
      "neither root's credentials nor the CA's key are on a theseus host",
    );
  });

  test('refuse the example secrets', () => {
    const example = join(work, 'example-secrets.env');
    cpSync(join(DIR, 'secrets.env.example'), example);
    const r = install('theseus', '10.1.0.4', join(work, 'refused'), ['--secrets', example]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /THESEUS_API_TOKEN|REDIS_PASSWORD/);
  });
});

describe('compose files', () => {
  type Service = {
    image: string;
    network_mode?: string;
    environment?: Record<string, string>;
    command?: string[];
    restart?: string;
    depends_on?: string[];
    volumes?: string[];
    pid?: string;
    privileged?: boolean;
  };
  const load = (f: string) =>
    yaml.load(readFileSync(join(DIR, f), 'utf8')) as {
      services: Record<string, Service>;
      volumes?: Record<string, unknown>;
    };
  const trial = load('compose.yaml');
  const modern = load('compose.modern.yaml');
  const s = trial.services;
  const env = (name: string, key: string) => {
    const value = s[name]?.environment?.[key];
    assert.ok(value !== undefined, `${name}: ${key} is set`);
    return value;
  };
  const arg = (name: string, flag: string) => {
    const command = s[name]?.command ?? [];
    const i = command.indexOf(flag);
    assert.ok(i >= 0 && i + 1 < command.length, `${name}: ${flag} is given`);
    return command[i + 1]!;
  };

  test('compose.yaml runs every component on the host network, restarted, with named volumes declared', () => {
    assert.deepEqual(Object.keys(s).sort(), [
      'deployer',
      'etcd',
      'marathon',
      'mesos-master',
      'mesos-slave',
      'redis',
      'subscriber',
      'zookeeper',
    ]);
    for (const [name, service] of Object.entries(s)) {
      assert.match(service.image, /^[a-z0-9./-]+(:[A-Za-z0-9.${}:_-]+)?$/, `${name}: image`);
      assert.equal(service.network_mode, 'host', name);
      assert.equal(service.restart, 'unless-stopped', name);
      for (const dep of service.depends_on ?? []) assert.ok(dep in s, `${name} depends on ${dep}, which exists`);
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        // A path, or a directory the caller names (${VARIABLE}), or a named volume.
        if (!source.startsWith('/') && !source.startsWith('${'))
          assert.ok(trial.volumes && source in trial.volumes, `${name}: volume ${source} is declared`);
      }
    }
    // Only these variables come from the caller's environment.
    const text = readFileSync(join(DIR, 'compose.yaml'), 'utf8');
    const variables = new Set([...text.matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!));
    assert.deepEqual([...variables].sort(), ['HOST_IP', 'THESEUS_API_TOKEN', 'THESEUS_CREDENTIALS', 'THESEUS_TAG']);
  });

  test('compose.yaml agrees with cluster.env on every port', () => {
    const c = clusterEnv;
    assert.equal(env('zookeeper', 'ZOO_PORT'), c.ZK_PORT);
    assert.equal(env('mesos-master', 'MESOS_PORT'), c.MESOS_MASTER_PORT);
    assert.equal(portOf(env('mesos-master', 'MESOS_ZK')), Number(c.ZK_PORT));
    assert.equal(arg('marathon', '--http_port'), c.MARATHON_PORT);
    assert.equal(portOf(arg('marathon', '--master')), Number(c.ZK_PORT));
    assert.equal(portOf(arg('marathon', '--zk')), Number(c.ZK_PORT));
    assert.equal(env('mesos-slave', 'MESOS_PORT'), c.MESOS_SLAVE_PORT);
    assert.equal(portOf(env('mesos-slave', 'MESOS_MASTER')), Number(c.ZK_PORT));
    assert.equal(env('mesos-slave', 'MESOS_RESOURCES'), `ports(*):[${c.TASK_PORTS}]`);
    assert.equal(env('mesos-slave', 'MESOS_CONTAINERIZERS'), c.SLAVE_CONTAINERIZER);
    assert.equal(env('mesos-slave', 'MESOS_EXECUTOR_REGISTRATION_TIMEOUT'), c.EXECUTOR_REGISTRATION_TIMEOUT);
    for (const flag of ['--listen-client-urls', '--advertise-client-urls'])
      assert.equal(portOf(arg('etcd', flag)), Number(c.ETCD_CLIENT_PORT), flag);
    for (const flag of ['--listen-peer-urls', '--initial-advertise-peer-urls'])
      assert.equal(portOf(arg('etcd', flag)), Number(c.ETCD_PEER_PORT), flag);
    assert.equal(portOf(arg('etcd', '--initial-cluster').split('=').slice(1).join('=')), Number(c.ETCD_PEER_PORT));
    assert.equal(arg('redis', '--port'), c.REDIS_PORT);
    assert.equal(arg('subscriber', '--port'), c.SUBSCRIBER_PORT);
    assert.equal(arg('deployer', '--port'), c.DEPLOYER_PORT);
    for (const part of ['subscriber', 'deployer']) {
      assert.equal(portOf(env(part, 'MARATHON_URL')), Number(c.MARATHON_PORT), `${part} MARATHON_URL`);
      assert.equal(portOf(env(part, 'ETCD_ENDPOINTS')), Number(c.ETCD_CLIENT_PORT), `${part} ETCD_ENDPOINTS`);
      assert.equal(
        portOf(env(part, 'THESEUS_HEALTH_URL')),
        Number(part === 'deployer' ? c.DEPLOYER_PORT : c.SUBSCRIBER_PORT),
        `${part} health URL`,
      );
    }
    assert.equal(portOf(env('deployer', 'REDIS_URL')), Number(c.REDIS_PORT));
  });

  test('compose.yaml pins the images cluster.env pins', () => {
    const pairs: Array<[string, string]> = [
      ['zookeeper', 'ZOOKEEPER_IMAGE'],
      ['mesos-master', 'MESOS_MASTER_IMAGE'],
      ['marathon', 'MARATHON_IMAGE'],
      ['etcd', 'ETCD_IMAGE'],
      ['redis', 'REDIS_IMAGE'],
    ];
    for (const [service, key] of pairs) assert.equal(s[service]!.image, clusterEnv[key], service);
    // The external containerizer's Mesos line (0.19-1.0.x) and the Marathon line made for it (1.3).
    assert.match(s['mesos-master']!.image, /:1\.0\.\d/);
    assert.match(s.marathon!.image, /:v1\.3\./);
  });

  test('compose.modern.yaml overrides only existing services, for Mesos 1.1+ and Marathon 1.5+ with Docker containerizer', () => {
    for (const name of Object.keys(modern.services)) assert.ok(name in s, `${name} exists in compose.yaml`);
    const version = (image: string) =>
      image
        .replace(/^.*:v?/, '')
        .split(/[.-]/)
        .slice(0, 2)
        .map(Number);
    const [mesosMajor, mesosMinor] = version(modern.services['mesos-master']!.image);
    assert.ok(mesosMajor! > 1 || (mesosMajor === 1 && mesosMinor! >= 1), 'Mesos 1.1 or later');
    const [marathonMajor, marathonMinor] = version(modern.services.marathon!.image);
    assert.ok(marathonMajor! > 1 || (marathonMajor === 1 && marathonMinor! >= 5), 'Marathon 1.5 or later');
    assert.equal(modern.services['mesos-slave']!.environment?.MESOS_CONTAINERIZERS, 'docker,mesos');
    assert.doesNotMatch(modern.services['mesos-slave']!.image, /theseus/);
    assert.ok(!('subscriber' in modern.services) && !('deployer' in modern.services), 'Theseus parts unchanged');
  });
});

describe('etcd as the install scripts set it up, run for real', () => {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const layout = new EtcdLayout(DEFAULT_ETCD_PREFIX);
  let work = '';
  let credentials = '';
  let etcd: ChildProcess | undefined;
  let endpoint = '';
  let etcdLog = '';
  const clients: Etcd3[] = [];
  const other = TlsFiles.create();

  const script = (name: string, ...args: string[]) =>
    spawnSync('bash', [join(DIR, 'install', name), ...args], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '--import tsx --conditions=source' },
    });
  const connect = (access: EtcdAccess) => {
    const client = createEtcdClient({ endpoints: [endpoint], access, timeoutMs: 3_000 });
    clients.push(client);
    return client;
  };
  const file = (name: string) => readFileSync(join(credentials, name));
  const user = (name: string): EtcdAccess => ({
    ca: file('ca.crt'),
    serverName: 'theseus-etcd',
    cert: file(`${name}.crt`),
    key: file(`${name}.key`),
    username: name,
    password: file(`etcd-users/${name}.password`).toString('utf8').trim(),
  });
  /** A part as its unit runs it: the env file install-theseus.sh wrote, read through the settings schema. */
  const part = (theseusRoot: string, name: string) => {
    const env = readEnv(readFileSync(join(theseusRoot, `etc/theseus/private/${name}.env`), 'utf8'));
    for (const [key, value] of Object.entries(env))
      if (value.startsWith('/etc/theseus/')) env[key] = join(theseusRoot, value);
    const settings = loadSettings({ env: { ...env, ETCD_ENDPOINTS: endpoint } });
    return connect(readEtcdAccess(settings.etcd));
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'theseus-etcd-tls-'));
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    endpoint = `https://127.0.0.1:${clientPort}`;
    const config = join(work, 'cluster.env');
    writeFileSync(
      config,
      readFileSync(join(DIR, 'cluster.env'), 'utf8')
        .replace(/^(MASTER_HOSTS|DATA_HOSTS|THESEUS_HOSTS)=.*$/gm, '$1=127.0.0.1')
        .replace(/^ETCD_CLIENT_PORT=.*$/m, `ETCD_CLIENT_PORT=${clientPort}`)
        .replace(/^ETCD_PEER_PORT=.*$/m, `ETCD_PEER_PORT=${peerPort}`)
        .replace(/^DATA_DIR=.*$/m, `DATA_DIR=${join(work, 'data')}`),
    );
    const secrets = join(work, 'secrets.env');
    writeFileSync(secrets, `THESEUS_API_TOKEN=${'a1'.repeat(20)}\nREDIS_PASSWORD=${'b2'.repeat(12)}\n`);
    credentials = join(work, 'credentials');
    let r = script('make-credentials.sh', '--config', config, '--out', credentials);
    assert.equal(r.status, 0, r.stderr);
    const dataRoot = join(work, 'data-host');
    const options = ['--config', config, '--address', '127.0.0.1', '--no-start', '--secrets', secrets];
    r = script('install-data.sh', ...options, '--root', dataRoot, '--credentials', credentials);
    assert.equal(r.status, 0, r.stderr);
    r = script('install-theseus.sh', ...options, '--root', join(work, 'theseus-host'), '--credentials', credentials);
    assert.equal(r.status, 0, r.stderr);

    // The generated configuration as the unit runs it, its /etc/theseus being under the test's root.
    const etcdConfig = join(work, 'etcd.conf.yml');
    writeFileSync(
      etcdConfig,
      readFileSync(join(dataRoot, 'etc/theseus/private/etcd/etcd.conf.yml'), 'utf8').replaceAll(
        '/etc/theseus/',
        `${dataRoot}/etc/theseus/`,
      ),
    );
    etcd = spawn('etcd', ['--config-file', etcdConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
    etcd.stderr!.on('data', (chunk: Buffer) => (etcdLog = (etcdLog + chunk.toString()).slice(-4000)));
    const asRoot = connect({
      ca: file('ca.crt'),
      cert: file('root.crt'),
      key: file('root.key'),
      serverName: 'theseus-etcd',
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await asRoot.get('probe');
        break;
      } catch (err) {
        if (etcd.exitCode !== null || Date.now() > deadline)
          throw new Error(`etcd did not answer: ${(err as Error).message}\n${etcdLog}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    for (const run of [1, 2]) {
      r = script('apply-etcd-rbac.sh', '--config', config, '--credentials', credentials);
      assert.equal(r.status, 0, `run ${run}: ${r.stderr}`);
    }
  });

  after(async () => {
    for (const client of clients) client.close();
    if (etcd && etcd.exitCode === null) {
      const exited = once(etcd, 'exit');
      etcd.kill('SIGKILL');
      await exited;
    }
    other.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the subscriber writes and the deployer reads, each configured by its env file; the deployer cannot write', async () => {
    const key = layout.endpoint('default', 'web', 'web.task-1');
    await part(join(work, 'theseus-host'), 'subscriber').put(key).value('{"v":1}');
    const deployer = part(join(work, 'theseus-host'), 'deployer');
    assert.equal(await deployer.get(key).string(), '{"v":1}');
    await assert.rejects(deployer.put(key).value('forged').exec(), EtcdPermissionDeniedError);
  });

  test('the container user reads the endpoint records and nothing else, and cannot write or delete', async () => {
    const key = layout.endpoint('default', 'web', 'web.task-2');
    await connect(user('theseus-subscriber')).put(key).value('{"v":1}');
    const container = connect(user('theseus-container'));
    assert.equal(await container.get(key).string(), '{"v":1}');
    await assert.rejects(container.put(key).value('forged').exec(), EtcdPermissionDeniedError);
    await assert.rejects(container.delete().key(key).exec(), EtcdPermissionDeniedError);
    await assert.rejects(container.get(`${DEFAULT_ETCD_PREFIX}/elsewhere`).string(), EtcdPermissionDeniedError);
  });

  test('a client without a certificate, or with one of another CA, is refused even with the right password', async () => {
    const { cert: _cert, key: _key, ...noCert } = user('theseus-subscriber');
    const otherPair = other.client('theseus-subscriber', 'other');
    const key = layout.endpoint('default', 'web', 'web.task-3');
    for (const access of [
      noCert,
      { ...noCert, cert: readFileSync(otherPair.cert), key: readFileSync(otherPair.key) },
    ]) {
      await assert.rejects(connect(access).put(key).value('{"v":1}').exec());
    }
    assert.equal(await connect(user('theseus-container')).get(key).string(), null, 'nothing was written');
  });
});
