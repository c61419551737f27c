export { dispatch, run, usage } from './cli/dispatch.js';
