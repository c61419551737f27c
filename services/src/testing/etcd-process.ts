/**
 * A private etcd server for tests that restart or compact etcd: random ports on 127.0.0.1 and its
 * own data directory, so the shared etcd (and every other test using it) is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TCP port free on `host` right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Client TLS of a test etcd: its certificate and key, and the CA whose client certificates it accepts. */
export interface EtcdProcessTls {
  cert: string;
  key: string;
  /** With it, etcd requires a client certificate signed by this CA (--client-cert-auth). */
  clientCa?: string;
}

export class EtcdProcess {
  private child: ChildProcess | undefined;
  private log = '';
  /** Plain-HTTP /health while clients speak TLS. */
  private metricsPort = 0;

  private constructor(
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly tls: EtcdProcessTls | undefined,
  ) {}

  /** `host`: the address to listen on (e.g. the docker bridge for containers without host networking). */
  static async start(host = '127.0.0.1', options: { tls?: EtcdProcessTls } = {}): Promise<EtcdProcess> {
    const etcd = new EtcdProcess(
      host,
      await freePort(host),
      await freePort(host),
      mkdtempSync(join(tmpdir(), 'theseus-etcd-')),
      options.tls,
    );
    if (options.tls) etcd.metricsPort = await freePort(host);
    await etcd.run();
    return etcd;
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://${this.host}:${this.clientPort}`;
  }

  private async run(): Promise<void> {
    const peer = `http://${this.host}:${this.peerPort}`;
    this.log = '';
    const child = spawn(
      'etcd',
      [
        '--name',
        'theseus-test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        this.endpoint,
        '--advertise-client-urls',
        this.endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `theseus-test=${peer}`,
        '--log-level',
        'error',
        '--logger',
        'zap',
        ...(this.tls
          ? [
              '--cert-file',
              this.tls.cert,
              '--key-file',
              this.tls.key,
              ...(this.tls.clientCa ? ['--client-cert-auth', '--trusted-ca-file', this.tls.clientCa] : []),
              '--listen-metrics-urls',
              `http://${this.host}:${this.metricsPort}`,
            ]
          : []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-4000)));
    this.child = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${this.log}`);
      try {
        const response = await fetch(
          this.tls ? `http://${this.host}:${this.metricsPort}/health` : `${this.endpoint}/health`,
        );
        if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server (SIGKILL: an abrupt loss, like a crash) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Starts it again on the same ports and data: revisions and keys survive. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
