// The workload script and the fault schedule, drawn from the seed before anything runs: a list of
// operations ({atMs, kind, side, path, ...}) and of faults ({atMs, kind, target, holdMs}). The
// same seed always gives the same lists; executing them against a live system is timing-bound.
import { Prng } from './prng.mjs';

// Names the workload uses: spaces, Unicode in both normal forms (NFC 'é' = U+00E9, NFD 'é' = 'e' +
// U+0301: two different names to the filesystem), leading dashes (a CLI's flag look-alikes).
const CAFE_NFC = 'caf\u00e9';
const CAFE_NFD = 'cafe\u0301';
export const DIRS = [
  'docs',
  'photos 2026',
  '-opts',
  CAFE_NFC,
  CAFE_NFD,
  'docs/sub one',
  'docs/-x',
  `photos 2026/${CAFE_NFD}`,
  'deep/er/still',
  'Ünïcödé',
  'moved',
  'moved/again',
];
const STEMS = ['file', 'notes', 'a b c', '-lead', '--double', CAFE_NFC, CAFE_NFD, 'Ünïcödé', '日本語', 'x'];
const EXTS = ['.txt', '.bin', '', '.tar.gz', '.md'];

/** Operation kinds and their weights (per hundred). */
const OPS = [
  [18, 'create'],
  [14, 'modify'],
  [10, 'renameOver'],
  [10, 'delete'],
  [8, 'rename'],
  [6, 'move'],
  [3, 'renameDir'],
  [4, 'mkdir'],
  [3, 'rmdir'],
  [2, 'rmtree'],
  [8, 'both'],
  [2, 'fileToDir'],
  [1, 'dirToFile'],
  [2, 'slow'],
];

function pathPool(prng, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const dir = prng.chance(0.15) ? '' : prng.pick(DIRS);
    const name = `${prng.pick(STEMS)} ${i}${prng.pick(EXTS)}`;
    out.push(dir ? `${dir}/${name}` : name);
  }
  return out;
}

function size(prng) {
  return prng.weighted([
    [60, prng.int(0, 2048)],
    [30, prng.int(2048, 64 * 1024)],
    [10, prng.int(64 * 1024, 512 * 1024)],
  ]);
}

/**
 * The initial tree (`files` files, written on side a before the first reconcile) and the
 * operations of a workload lasting `durationMs`, about `ratePerSec` operations a second.
 */
export function makeScript(seed, { files, durationMs, ratePerSec, netfs }) {
  const root = new Prng(seed);
  const prng = root.fork();
  const faultPrng = root.fork();
  const pool = pathPool(prng, Math.max(60, Math.min(files, 400)));
  const initial = [];
  for (let i = 0; i < files; i++) {
    const dir = prng.chance(0.2) ? '' : prng.pick(DIRS);
    initial.push({
      path: `${dir ? dir + '/' : ''}init ${i}${prng.pick(EXTS)}`,
      size: size(prng),
      seed: prng.u32(),
    });
  }
  // Initial files are part of the pool, so the workload edits, moves and deletes them too.
  const paths = [...pool, ...initial.map((f) => f.path)];
  const ops = [];
  let t = 300;
  let n = 0;
  while (t < durationMs) {
    const kind = prng.weighted(OPS);
    const op = { n: n++, atMs: Math.round(t), kind, side: prng.pick(['a', 'b']), seed: prng.u32() };
    // With --netfs side a is a mount: most of its changes are made on the server (another NFS
    // client's writes, which the mount reports no event for), some through the mount.
    op.via = netfs && op.side === 'a' && prng.chance(0.8) ? 'server' : 'root';
    if (kind === 'rename' || kind === 'move') {
      op.path = prng.pick(paths);
      op.to = kind === 'rename' ? siblingOf(op.path, prng.pick(paths)) : prng.pick(paths);
    } else if (kind === 'renameDir') {
      op.path = prng.pick(DIRS);
      op.to = prng.pick(DIRS.filter((d) => !d.startsWith(op.path + '/') && d !== op.path));
    } else if (kind === 'mkdir' || kind === 'rmdir' || kind === 'rmtree' || kind === 'dirToFile') {
      op.path = prng.chance(0.7) ? prng.pick(DIRS) : prng.pick(paths);
    } else if (kind === 'slow') {
      op.path = `big/slow ${op.n}.bin`;
      op.size = prng.int(1, 4) * 1024 * 1024;
      op.chunkMs = prng.int(50, 200);
    } else {
      op.path = prng.pick(paths);
    }
    if (kind === 'both') op.delayMs = prng.int(0, 900);
    if (op.size === undefined) op.size = size(prng);
    ops.push(op);
    t += -Math.log(1 - prng.next()) * (1000 / ratePerSec);
  }
  return { initial, ops, faults: makeFaults(faultPrng, durationMs, netfs) };
}

function siblingOf(path, other) {
  const i = path.lastIndexOf('/');
  const name = other.slice(other.lastIndexOf('/') + 1);
  return i < 0 ? `renamed ${name}` : `${path.slice(0, i)}/renamed ${name}`;
}

const FAULTS = [
  [30, 'kill'],
  [12, 'nats'],
  [12, 'mariadb'],
  [10, 'diskfull'],
  [10, 'netfs'],
];
export const KILL_TARGETS = ['watcher-a', 'watcher-b', 'applier', 'reconcile'];

/**
 * Faults at random times over the workload, about one every 6 s; each holds for `holdMs`
 * (the dead time before a restart, the time the disk stays full or the mount stays cut). Faults
 * of one kind never overlap; the last one heals before the workload ends.
 */
function makeFaults(prng, durationMs, netfs) {
  const faults = [];
  const busyUntil = new Map();
  let t = 2000 + prng.int(0, 2000);
  const table = netfs ? FAULTS : FAULTS.filter(([, k]) => k !== 'netfs');
  while (t < durationMs - 4000) {
    const kind = prng.weighted(table);
    const target = kind === 'kill' ? prng.pick(KILL_TARGETS) : kind;
    const holdMs = Math.min(
      kind === 'kill' ? prng.int(200, 3000) : prng.int(1500, 6000),
      durationMs - 2000 - t,
    );
    if ((busyUntil.get(target) ?? 0) <= t) {
      faults.push({ atMs: t, kind, target, holdMs });
      busyUntil.set(target, t + holdMs + 500);
    }
    t += prng.int(1500, 6000);
  }
  return faults;
}
