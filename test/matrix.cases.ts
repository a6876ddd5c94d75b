// The change matrix: one table of named two-way situations, each a baseline (both sides synced),
// a change on each side, and the state both sides must end in. test/matrix.test.ts runs every case
// through every caller of the core (two-way reconcile, the one-way CronJob pair, the live applier,
// run's start), so a caller that decides differently fails here, not for a user.
//
// Holds rclone bisync's test_changes situations (new, newer, older and deleted on each side;
// changed on both; newer against deleted; deleted on both) and Syncthing's conflict cases (the
// same contents on both sides; an edit against a delete).
//
// States: path -> 'contents@t' (a file; t = seconds after T0, the mtime), 'dir', '->target' (a
// symlink), or null (nothing there / deleted). Expected trees name conflict copies with '*' for
// the time: 'f.sync-conflict-*-right.txt'.

export type State = Record<string, string | null>;

export interface MatrixCase {
  readonly name: string;
  /** Written identically on both sides and synced first (the baseline). Absent: no baseline. */
  readonly base?: State;
  /** What changes on each side after the sync (unlisted paths stay as they are). */
  readonly a?: State;
  readonly b?: State;
  readonly deleteMissing?: boolean;
  /** Both sides' trees at the end (every entry; `.ha-sync/` left out). */
  readonly want: { readonly a: State; readonly b: State };
  /** The contents kept as versions during the change run, per side (sorted). */
  readonly versions?: { readonly a?: string[]; readonly b?: string[] };
  /** Left alone and reported (type conflicts): the path stays different. */
  readonly leftAlone?: boolean;
  /** Callers that cannot act on this case (e.g. the applier has no event for it). */
  readonly skip?: readonly string[];
}

export const T0 = 1_700_000_000;

const same = (s: State): { a: State; b: State } => ({ a: s, b: s });

export const CASES: MatrixCase[] = [
  // -- one side changed --
  { name: 'new on a', b: {}, a: { 'n.txt': 'new@100' }, want: same({ 'n.txt': 'new@100' }) },
  { name: 'new on b', b: { 'n.txt': 'new@100' }, want: same({ 'n.txt': 'new@100' }) },
  {
    name: 'new directory with a file on a',
    a: { d: 'dir', 'd/x.txt': 'x@100' },
    want: same({ d: 'dir', 'd/x.txt': 'x@100' }),
  },
  {
    name: 'newer on a: copied, b keeps its old version',
    base: { 'f.txt': 'v1@0' },
    a: { 'f.txt': 'v2 longer@100' },
    want: same({ 'f.txt': 'v2 longer@100' }),
    versions: { b: ['v1'] },
  },
  {
    name: 'newer on b: copied, a keeps its old version',
    base: { 'f.txt': 'v1@0' },
    b: { 'f.txt': 'v2 longer@100' },
    want: same({ 'f.txt': 'v2 longer@100' }),
    versions: { a: ['v1'] },
  },
  {
    name: 'restored with an OLDER mtime on a: still the change that wins',
    base: { 'f.txt': 'current@100' },
    a: { 'f.txt': 'restored old@-500' },
    want: same({ 'f.txt': 'restored old@-500' }),
    versions: { b: ['current'] },
  },
  {
    name: 'second same-size save within the threshold arrives',
    base: { 'f.txt': 'aaaa@0' },
    a: { 'f.txt': 'bbbb@1' },
    want: same({ 'f.txt': 'bbbb@1' }),
    versions: { b: ['aaaa'] },
  },
  {
    name: 'a future mtime can still be edited: the edit made today wins',
    base: { 'f.txt': 'from 2040@2200000000' },
    b: { 'f.txt': 'edited today@100' },
    want: same({ 'f.txt': 'edited today@100' }),
    versions: { a: ['from 2040'] },
  },
  {
    name: 'symlink retargeted on a',
    base: { ln: '->one' },
    a: { ln: '->two' },
    want: same({ ln: '->two' }),
    versions: { b: ['->one'] },
  },
  {
    name: 'deleted on a, --delete-missing: deleted on b, kept as a version',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null },
    deleteMissing: true,
    want: same({ 'k.txt': 'k@0' }),
    versions: { b: ['v1'] },
  },
  {
    name: 'deleted on b, --delete-missing: deleted on a',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    b: { 'f.txt': null },
    deleteMissing: true,
    want: same({ 'k.txt': 'k@0' }),
    versions: { a: ['v1'] },
  },
  {
    name: 'directory deleted on a, --delete-missing: gone on b, its files kept',
    base: { d: 'dir', 'd/x.txt': 'x@0', 'k.txt': 'k@0' },
    a: { 'd/x.txt': null, d: null },
    deleteMissing: true,
    want: same({ 'k.txt': 'k@0' }),
    versions: { b: ['x'] },
  },
  {
    name: 'deleted on a without --delete-missing: b keeps it and a gets it back',
    base: { 'f.txt': 'v1@0' },
    a: { 'f.txt': null },
    want: same({ 'f.txt': 'v1@0' }),
  },
  {
    name: 'a file moved onto a path (old mtime) survives a stale delete of that path (a rename on b)',
    base: { 'x.txt': 'old x@50', 'y.txt': 'moved y@10', 'k.txt': 'k@0', 'k2.txt': 'k@0' },
    a: { 'y.txt': null, 'x.txt': 'moved y@10' },
    b: { 'x.txt': null },
    deleteMissing: true,
    want: same({ 'k.txt': 'k@0', 'k2.txt': 'k@0', 'x.txt': 'moved y@10' }),
  },
  // -- moves (issue 16): a rename on the other side, nothing copied, no version kept --
  {
    name: 'file moved on a: renamed on b, nothing kept',
    base: { old: 'dir', 'old/f.txt': 'moved file@0', new: 'dir', 'k.txt': 'k@0' },
    a: { 'old/f.txt': null, 'new/g.txt': 'moved file@0' },
    deleteMissing: true,
    want: same({ old: 'dir', new: 'dir', 'new/g.txt': 'moved file@0', 'k.txt': 'k@0' }),
  },
  {
    name: 'directory moved on b: renamed on a as a whole, nothing kept',
    base: {
      photos: 'dir',
      'photos/2019': 'dir',
      'photos/2019/a.jpg': 'aa@0',
      'photos/2019/b.jpg': 'bbb@5',
      'k.txt': 'k@0',
    },
    b: {
      'photos/2019': null,
      albums: 'dir',
      'albums/2019': 'dir',
      'albums/2019/a.jpg': 'aa@0',
      'albums/2019/b.jpg': 'bbb@5',
    },
    deleteMissing: true,
    want: same({
      photos: 'dir',
      albums: 'dir',
      'albums/2019': 'dir',
      'albums/2019/a.jpg': 'aa@0',
      'albums/2019/b.jpg': 'bbb@5',
      'k.txt': 'k@0',
    }),
  },
  {
    name: 'moved on both sides to different names: both names kept',
    base: { 'f.txt': 'x@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null, 'a name.txt': 'x@0' },
    b: { 'f.txt': null, 'b name.txt': 'x@0' },
    deleteMissing: true,
    want: same({ 'a name.txt': 'x@0', 'b name.txt': 'x@0', 'k.txt': 'k@0' }),
  },
  {
    name: 'directory moved on a, a file in it edited on b: the edit follows the move',
    base: { d: 'dir', 'd/e.txt': 'v1@0', 'd/f.txt': 'f@0', 'k.txt': 'k@0' },
    a: { d: null, m: 'dir', 'm/e.txt': 'v1@0', 'm/f.txt': 'f@0' },
    b: { 'd/e.txt': 'v2 edited@100' },
    deleteMissing: true,
    want: same({ m: 'dir', 'm/e.txt': 'v2 edited@100', 'm/f.txt': 'f@0', 'k.txt': 'k@0' }),
    versions: { a: ['v1'] },
  },
  {
    name: 'file moved on a, edited on b: not a rename, the edit comes back and nothing is lost',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null, 'g.txt': 'v1@0' },
    b: { 'f.txt': 'v2 edited@100' },
    deleteMissing: true,
    want: same({ 'f.txt': 'v2 edited@100', 'g.txt': 'v1@0', 'k.txt': 'k@0' }),
  },
  {
    name: 'moved on a, deleted on b: the moved file is copied to b',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null, 'g.txt': 'v1@0' },
    b: { 'f.txt': null },
    deleteMissing: true,
    want: same({ 'g.txt': 'v1@0', 'k.txt': 'k@0' }),
  },
  {
    name: 'moved on a onto an existing file: b keeps that file as a version, then the rename',
    base: { 'f.txt': 'moved@0', 'g.txt': 'old g, longer@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null, 'g.txt': 'moved@0' },
    deleteMissing: true,
    want: same({ 'g.txt': 'moved@0', 'k.txt': 'k@0' }),
    versions: { b: ['old g, longer'] },
  },
  // -- both changed --
  {
    name: 'changed on both, a newer: a keeps the name, b is a conflict copy on both sides',
    base: { 'f.txt': 'v1@0' },
    a: { 'f.txt': 'a edit@200' },
    b: { 'f.txt': 'b edit!@100' },
    want: same({ 'f.txt': 'a edit@200', 'f.sync-conflict-*-right.txt': 'b edit!@100' }),
  },
  {
    name: 'changed on both, b newer: b keeps the name, a is a conflict copy on both sides',
    base: { 'f.txt': 'v1@0' },
    a: { 'f.txt': 'a edit@100' },
    b: { 'f.txt': 'b edit!@200' },
    want: same({ 'f.txt': 'b edit!@200', 'f.sync-conflict-*-left.txt': 'a edit@100' }),
  },
  {
    name: 'changed on both to the same contents (mtimes within the threshold): nothing copied',
    base: { 'f.txt': 'v1@0' },
    a: { 'f.txt': 'same@100' },
    b: { 'f.txt': 'same@101' },
    want: { a: { 'f.txt': 'same@100' }, b: { 'f.txt': 'same@101' } },
  },
  {
    name: 'changed on both to the same contents (mtimes apart, equal MD5): nothing copied',
    base: { 'f.txt': 'v1@0' },
    a: { 'f.txt': 'same@100' },
    b: { 'f.txt': 'same@900' },
    want: { a: { 'f.txt': 'same@100' }, b: { 'f.txt': 'same@900' } },
  },
  {
    name: 'newer on a against deleted on b: the edit wins and comes back to b',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    a: { 'f.txt': 'edited@100' },
    b: { 'f.txt': null },
    deleteMissing: true,
    want: same({ 'f.txt': 'edited@100', 'k.txt': 'k@0' }),
  },
  {
    name: 'deleted on a against newer on b: the edit wins and comes back to a',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null },
    b: { 'f.txt': 'edited@100' },
    deleteMissing: true,
    want: same({ 'f.txt': 'edited@100', 'k.txt': 'k@0' }),
  },
  {
    name: 'deleted on both: nothing to do',
    base: { 'f.txt': 'v1@0', 'k.txt': 'k@0' },
    a: { 'f.txt': null },
    b: { 'f.txt': null },
    deleteMissing: true,
    want: same({ 'k.txt': 'k@0' }),
  },
  // -- no baseline --
  {
    name: 'no baseline, both present and different: newest wins, the older is kept as a version',
    a: { 'f.txt': 'older@100' },
    b: { 'f.txt': 'newer!@200' },
    deleteMissing: true,
    want: same({ 'f.txt': 'newer!@200' }),
    versions: { a: ['older'] },
  },
  {
    name: 'no baseline, only on b, --delete-missing: copied, never deleted',
    b: { 'only.txt': 'b@100' },
    deleteMissing: true,
    want: same({ 'only.txt': 'b@100' }),
  },
  // -- guards --
  {
    name: 'a side emptied (unmounted?) with --delete-missing: nothing is deleted anywhere',
    base: { 'f.txt': 'v1@0', 'g.txt': 'v1@0' },
    a: { 'f.txt': null, 'g.txt': null },
    deleteMissing: true,
    want: { a: {}, b: { 'f.txt': 'v1@0', 'g.txt': 'v1@0' } },
    skip: ['live applier'],
  },
  // -- kinds --
  {
    name: "a replaced a directory by a file: the directory wins, a's file is kept beside it",
    base: { x: 'dir', 'x/in.txt': 'in@0' },
    a: { 'x/in.txt': null, x: 'file now@100' },
    deleteMissing: true,
    want: same({ x: 'dir', 'x/in.txt': 'in@0', 'x.sync-conflict-*-left': 'file now@100' }),
  },
  {
    name: "a made a directory where b edited the file: the directory wins, b's edit is kept beside it",
    base: { y: 'old y@0' },
    a: { y: 'dir', 'y/z.txt': 'z@100' },
    b: { y: 'b edit@200' },
    want: same({ y: 'dir', 'y/z.txt': 'z@100', 'y.sync-conflict-*-right': 'b edit@200' }),
  },
  {
    name: 'no baseline, a file on a and a directory on b: the directory wins, the file is kept beside it',
    a: { w: 'a file@100' },
    b: { w: 'dir', 'w/in.txt': 'in@100' },
    want: same({ w: 'dir', 'w/in.txt': 'in@100', 'w.sync-conflict-*-left': 'a file@100' }),
  },
  {
    name: 'a replaced a file by a directory: b keeps the file as a version, gets the directory',
    base: { y: 'old y@0' },
    a: { y: 'dir', 'y/z.txt': 'z@100' },
    want: same({ y: 'dir', 'y/z.txt': 'z@100' }),
    versions: { b: ['old y'] },
  },
];
