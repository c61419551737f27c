export { Engine, type AppEmbed } from './engine.js';
export { startEngine, type RunningEngine } from './run.js';
export type { EngineOptions } from './options.js';
export type { TaskRunner, TaskLaunchSpec, LaunchedTask, TaskExit } from './tasks/runner.js';
export { parseApp } from './app/parse.js';
export { AppValidationError } from './app/problems.js';
