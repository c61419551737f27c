/**
 * A private etcd server for tests that stop and restart etcd: its own random ports and data
 * directory, never the shared one on 2379.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createEtcdClient } from '@theseus/services';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export class EtcdProcess {
  private child: ChildProcess | undefined;
  private output = '';
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'theseus-etcd-'));

  private constructor(
    private readonly clientPort: number,
    private readonly peerPort: number,
  ) {}

  static async start(): Promise<EtcdProcess> {
    const etcd = new EtcdProcess(await freePort(), await freePort());
    await etcd.up();
    return etcd;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Starts (or restarts, on the same ports and data) and waits until it answers. */
  async up(): Promise<void> {
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.child = spawn('etcd', [
      '--name', 'test', '--data-dir', this.dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `test=${peer}`, '--log-level', 'error',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    const etcd = createEtcdClient({ endpoints: [this.endpoint], timeoutMs: 1_000 });
    try {
      const end = Date.now() + 20_000;
      for (;;) {
        try {
          await etcd.get('/ping').exec();
          return;
        } catch {
          if (Date.now() > end || this.child.exitCode !== null) throw new Error(`etcd did not start:\n${this.output.slice(-2000)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      etcd.close();
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s). */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.down();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
