/**
 * The contract: what the Theseus parts and the code in containers agree on. Names (namespaces,
 * services, labels, app and task ids), the variables the deployer sets in containers, the endpoint
 * record the subscriber writes and everyone else reads, its etcd key layout, the etcd client and
 * the typed errors they all raise. These modules import nothing else of services, so guestutils
 * takes them alone (`@theseus/services/contract`) and carries them in its packed tarball.
 */
export * from './errors.js';
export * from './naming.js';
export * from './discovery-env.js';
export * from './etcd-errors.js';
export * from './etcd-client.js';
export * from './endpoints/record.js';
export * from './endpoints/keys.js';
export * from './endpoints/registry-reader.js';
