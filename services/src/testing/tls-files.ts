/**
 * Throw-away TLS material for tests, made with openssl in a temporary directory: a CA, a server
 * certificate for 127.0.0.1/localhost, client certificates (CN = the etcd user), and a second,
 * unrelated CA with a client certificate of its own (one etcd must refuse).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

export class TlsFiles {
  private constructor(readonly dir: string) {}

  /** The CA's certificate (PEM file). */
  get ca(): string {
    return join(this.dir, 'ca.crt');
  }

  readonly server = { cert: '', key: '' };

  static create(): TlsFiles {
    const files = new TlsFiles(mkdtempSync(join(tmpdir(), 'theseus-tls-')));
    files.makeCa('ca');
    files.makeCa('other-ca');
    // clientAuth too: etcd's HTTP gateway connects to its own gRPC server with this certificate.
    const server = files.issue('ca', 'server', 'etcd', ['IP:127.0.0.1', 'DNS:localhost'], 'serverAuth,clientAuth');
    files.server.cert = server.cert;
    files.server.key = server.key;
    return files;
  }

  /**
   * A client certificate signed by the CA (`signedBy: 'other'`: by the unrelated CA); an empty
   * `commonName` makes one without a Common Name.
   */
  client(commonName: string, signedBy: 'ca' | 'other' = 'ca'): CertPair {
    return this.issue(
      signedBy === 'ca' ? 'ca' : 'other-ca',
      `client-${signedBy}-${commonName}`,
      commonName,
      [],
      'clientAuth',
    );
  }

  /** Writes `content` to a file in the directory (mode 600) and returns its path. */
  file(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private makeCa(name: string): void {
    this.openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=theseus test ${name}`,
      '-keyout',
      join(this.dir, `${name}.key`),
      '-out',
      join(this.dir, `${name}.crt`),
    );
  }

  private issue(ca: string, name: string, commonName: string, altNames: string[], usage: string): CertPair {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const cert = join(this.dir, `${name}.crt`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(
      ext,
      [`extendedKeyUsage=${usage}`, ...(altNames.length ? [`subjectAltName=${altNames.join(',')}`] : [])].join('\n') +
        '\n',
    );
    this.openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      commonName ? `/CN=${commonName}` : '/O=theseus test client',
      '-keyout',
      key,
      '-out',
      csr,
    );
    this.openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      join(this.dir, `${ca}.crt`),
      '-CAkey',
      join(this.dir, `${ca}.key`),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      cert,
    );
    return { cert, key };
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}
