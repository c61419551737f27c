/** Test support shared by the packages' integration tests (not part of the runtime surface). */
export { EtcdProcess, freePort, type EtcdProcessTls } from './etcd-process.js';
export { TlsFiles, type CertPair } from './tls-files.js';
export { TcpProxy } from './tcp-proxy.js';
