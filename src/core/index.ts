// Public surface of the pure planning core (no filesystem, no clock, no network).
export type * from './types.js';
export { planDir, compareEntries, joinPath, auditOperation, deleteGuard } from './plan.js';
