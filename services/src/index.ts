export * from './errors.js';
export * from './version.js';
export * from './naming.js';
export * from './discovery-env.js';
export * from './endpoints/record.js';
export * from './endpoints/keys.js';
export * from './endpoints/registry-reader.js';
export * from './config/settings.js';
export * from './config/secret-file.js';
export * from './logging.js';
export * from './etcd.js';
export * from './retry.js';
export * from './marathon/types.js';
export * from './marathon/errors.js';
export * from './marathon/http.js';
export * from './marathon/client.js';
export * from './marathon/json-list.js';
export * from './marathon/events.js';
export * from './marathon/event-stream.js';
export {
  commandProgram,
  setUp,
  reportError,
  runUntilSignal,
  printableSettings,
  Command,
  type CommandSetup,
} from './cli/program.js';
export * from './spec/index.js';
export * from './etcd-rbac.js';
