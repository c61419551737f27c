/** Test support shared by the packages' integration tests (not part of the runtime surface). */
export { EtcdProcess, freePort } from './etcd-process.js';
