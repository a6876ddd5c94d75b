// Public surface of the reconciler: one run over both trees against the pair's baseline (one-way or two-way).
export type { ReconcileConfig } from './config.js';
export { RECONCILE_DEFAULTS } from './config.js';
export type { ReconcileDeps, ReconcileResult, RunOutcome } from './run.js';
export { runReconcile, newRunId } from './run.js';
export type { OpEvent, EngineOptions, EngineResult } from './engine.js';
export { runEngine } from './engine.js';
export { quotePath, planLine, summaryLine, formatBytes } from './print.js';
export { Progress, ProgressCount, type ProgressSink } from './progress.js';
export { openPairBaseline, stateDirProblem } from './sidestate.js';
export type { RootSide, RootsVerdict } from './roots.js';
export { verifyRoots } from './roots.js';
export { fileLedger, type RootLedger } from './ledger.js';
