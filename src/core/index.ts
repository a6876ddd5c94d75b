// Public surface of the pure planning core (no filesystem, no clock, no network).
export type * from './types.js';
export { deleteGuard } from './guard.js';
export type { Decision, DecideOptions, Hashes, SideName } from './reconcile.js';
export {
  decidePath,
  unchanged,
  sameVersion,
  baseEntry,
  copiedEntry,
  agreed,
  writesInto,
  otherSide,
} from './reconcile.js';
export type { Gone, Appeared, Listed, MoveDecision, MoveHalf } from './moves.js';
export {
  moveHalf,
  fileKey,
  goneKey,
  appearedKey,
  listingSignature,
  goneSignature,
  decideMove,
  couldMove,
  knownMd5,
  sameInode,
  sameDirectory,
} from './moves.js';
export { RACY_WINDOW_MS, isRacy, settle, racyRecord } from './racy.js';
export type { PairOptions, PathPlan, PairDescend, PairDirPlan } from './pairplan.js';
export { planPairDir, joinPath } from './pairplan.js';
export type { ParsedVersion } from './names.js';
export {
  STATE_DIR,
  VERSIONS_DIR,
  versionName,
  parseVersionName,
  conflictName,
  isConflictName,
  splitExt,
  timeTag,
} from './names.js';
export type { IdOnRecord, MarkerSeen, RefuseReason, RootAction } from './roots.js';
export { decideRoot } from './roots.js';
