/** Test support shared by the packages' integration tests (not part of the runtime surface). */
export { EtcdProcess } from './etcd-process.js';
