/** The docker command and the Docker bridge gateway, for tests that run containers. */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const gatewayScript = fileURLToPath(new URL('../../../cluster/scripts/bridge-gateway.mjs', import.meta.url));

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function docker(...args: string[]): Promise<DockerResult> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      args,
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as NodeJS.ErrnoException).code === 'number'
            ? Number((err as NodeJS.ErrnoException).code)
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Where containers on Docker's default bridge reach this host (and the etcd listening there). */
export function bridgeGateway(): string {
  const network = execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{json .}}'], {
    encoding: 'utf8',
  });
  const address = execFileSync(process.execPath, [gatewayScript], { input: network, encoding: 'utf8' }).trim();
  if (!address) throw new Error('the Docker bridge has no gateway address');
  return address;
}
