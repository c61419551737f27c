/** Test support shared by the packages' integration tests (not part of the runtime surface). */
export { EtcdProcess, freePort, type EtcdProcessTls } from './etcd-process.js';
export { TlsFiles, type CertPair } from './tls-files.js';
export { MarathonDouble, DOUBLE_AGENT_ID, type MarathonDoubleOptions, type RecordedCall, type InjectedFault, type AppState, type DeploymentState, type EndedDeployment } from './marathon-double.js';
export { MarathonEventBus, type MarathonEventBusOptions } from './marathon-event-bus.js';
export { appDefinitionProblems, APP_DEFINITION_SCHEMA_PATH, APP_DEFINITION_1_4_SCHEMA_PATH } from './app-definition-schema.js';
