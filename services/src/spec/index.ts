export * from './schema.js';
export * from './source.js';
export * from './constraints.js';
export * from './validate.js';
