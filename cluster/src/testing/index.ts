/** The engine for the tests and benchmarks of its clients (not part of the engine's runtime surface). */
export { InProcessEngine, type InProcessOptions, type TaskOptions } from './in-process.js';
export { FaultLayer, type InjectedAnswer, type RecordedCall } from '../faults/fault-layer.js';
export { ScriptedRunner, type TaskScript } from '../tasks/scripted-runner.js';
export {
  appDefinitionProblems,
  APP_DEFINITION_SCHEMA_PATH,
  APP_DEFINITION_1_4_SCHEMA_PATH,
} from './app-definition-schema.js';
