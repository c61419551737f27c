/**
 * @theseus/contract: what the Theseus parts agree on. Names (namespaces, services, labels, app and
 * task ids), the variables the deployer sets in containers, the endpoint record the subscriber
 * writes and everyone else reads, its etcd key layout, and the typed errors they all raise.
 */
export * from './errors.js';
export * from './naming.js';
export * from './discovery-env.js';
export * from './etcd-errors.js';
export * from './etcd-client.js';
export * from './endpoints/record.js';
export * from './endpoints/keys.js';
export * from './endpoints/registry-reader.js';
