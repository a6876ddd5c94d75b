// Public surface of the filesystem effects: scanning a directory, single-path copy / touch /
// delete with check-before-write, MD5, path safety and filesystem detection.
//
// Stable signatures (the live applier builds on them):
//   copyEntry(srcRoot, destRoot, relPath, { src: Expected, dest: Expected | null }, { io?, keep? }) -> OpResult
//   touchEntry(srcRoot, destRoot, relPath, { src: Expected, dest: Expected }, { io? }) -> OpResult
//   deleteEntry(root, relPath, expected: Expected, { io?, keep? }) -> OpResult
//   moveAside(root, relPath, expected: Expected, toRel, { io?, lost? }) -> OpResult (conflict copies)
//   OpResult = { ok: true, bytes, kept?, owner?, ownerDenied? } | { ok: false, code: 'CHANGED_UNDER_US' | 'UNSAFE_PATH' | 'IO', reason }
//   `owners: Owners` (any of them): the run's owner keeping, one warning a run when chown is refused.
//   Every write is made through its parent opened once without following a symlink (anchor.ts).
//   `keep: { nowMs }` on copyEntry / deleteEntry keeps the file or symlink replaced or deleted in
//   <root>/.ha-sync/versions/ (kept = its path relative to the root); see versions.ts.
//   nativeCopier(addon, { lost?, stop? }) -> BatchCopier: copyEntry's rules for a batch of small
//     files of one local directory, through the addon (null result: not started, run stopping)
export type { Io, Copied, Want } from './io.js';
export { syncIo, asyncIo, nodeSyncIo, nodeAsyncIo, pathOnly } from './io.js';
export type { OwnerChange, OwnerOutcome } from './owners.js';
export { Owners, ownerText } from './owners.js';
export type { DirScan, ScanIssue } from './scan.js';
export { scanDir, decodeName, showBytes, entryFromStats, kindOf, Limiter } from './scan.js';
export {
  isTempName,
  tempName,
  unsafeRelPath,
  unsafeParents,
  splitRel,
  TEMP_RE,
  STALE_TEMP_MS,
} from './paths.js';
export type { OpResult, OpOptions, FailCode } from './ops.js';
export { UNMARKED_ROOT_ID } from './ops.js';
export {
  copyEntry,
  touchEntry,
  deleteEntry,
  moveAside,
  moveEntry,
  restoreEntry,
  md5File,
  removeTemp,
  mismatch,
} from './ops.js';
export type { KeepIo, KeptVersion, VersionsState } from './versions.js';
export { checkStateDir, keepPath, expireVersions, listVersions, isStatePath } from './versions.js';
export { fsTypeOf, isNetworkFs, parseMountinfo } from './mounts.js';
export type { Scanner } from './scanner.js';
export { directScanner, fastScanner, workerScanner } from './scanner.js';
export type { FastscanAddon } from './native.js';
export { fastScanDirs, loadFastscan } from './native.js';
export type { PackedScan } from './packed.js';
export {
  pack,
  unpack,
  unpackEntries,
  sameListing,
  subdirNames,
  listingDigest,
  PackedDirScan,
  knownIno,
} from './packed.js';
export type { BatchCopier, CopyItem } from './batch.js';
export { nativeCopier, BATCH_FILE_MAX, BATCH_MAX_FILES, BATCH_MAX_BYTES } from './batch.js';
export { expireSides } from './expiry.js';
export type { RootMarker, RootState, RootTrouble } from './marker.js';
export {
  MARKER_REL,
  ROOT_ID_RE,
  RootGuard,
  createMarker,
  markerMismatch,
  parseMarker,
  readMarker,
} from './marker.js';
