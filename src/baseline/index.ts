// Public surface of the baseline module: per pair and per path, each side's entry when the two
// sides last agreed (the ancestor of the two-way decision in src/core). `openBaseline` picks the
// store (MySQL with a DSN, else `<logDir>/baseline.sqlite`); every failure is
// HaSyncError('BASELINE_UNAVAILABLE'), on which callers run in safe mode.
export type * from './types.js';
export { openBaseline, openMemoryBaseline, baselinePath, BASELINE_FILE } from './open.js';
export { DIR_MAX_BYTES, NAME_MAX_BYTES, TARGET_MAX_BYTES, DIGEST_MAX_BYTES } from './rows.js';
export { orientedBaseline, oneWaySideNames } from './oriented.js';
export { reopeningBaseline } from './reopening.js';
export { moveTree } from './move.js';
