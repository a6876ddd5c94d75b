// Public surface of the live applier: consumes a pair's change events and makes both sides equal
// (see docs/live-sync.md for the lease protocol and the rules).
export { Applier, type ApplierConfig, type ApplierDeps, type ApplierStats } from './applier.js';
export { fsOpsAdapter, type FsOps, type CopyResult, type Stat, type Keep } from './fsadapter.js';
export { LeaseKeeper, type LeaseKeeperOptions, type LeaseGrant } from './lease.js';
export { AuditWindows, directionName, type SideRef } from './windows.js';
export { equalize, type EqualizeReport } from './equalize.js';
