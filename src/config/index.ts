export * from './flags.js';
export * from './common.js';
