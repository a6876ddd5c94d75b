// The oracle, run once the workload stopped, the faults healed and a final reconcile ran:
//   trees:    both sides hold the same paths (kind, and content for files) outside `.ha-sync/`;
//   temps:    no ha-sync temp file (`.ha-sync-*.tmp`, any naming scheme) is left anywhere;
//   versions: every content the workload wrote and did not itself destroy is on a live path, or,
//             when ha-sync replaced or deleted it, in a kept version (`.ha-sync/versions/`) or a
//             conflict copy (`*.sync-conflict-*`) on either side; anything else is lost;
//   audit:    every operation line of every opslog is a row of the database exactly once, and no
//             iteration is left 'running'.
import { readFile, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { md5 } from './workload.mjs';

export const TEMP_RE = /^\.ha-sync-.*\.tmp$/;
const CONFLICT_RE = /\.sync-conflict-\d{8}-\d{6}-/;

/**
 * Every entry below `root`: live entries (outside the root's `.ha-sync/`) by path with their kind
 * and md5, the md5s of the versions area, and every temp file wherever it is.
 */
export async function scanSide(root) {
  const live = new Map();
  const kept = new Map();
  const conflicts = [];
  const temps = [];
  const walk = async (rel, inState) => {
    let names;
    try {
      names = await readdir(join(root, rel));
    } catch (err) {
      if (err.code === 'ENOENT') return;
      throw err;
    }
    for (const name of names.sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, r));
      const state = inState || (rel === '' && name === '.ha-sync');
      if (TEMP_RE.test(name)) temps.push(r);
      if (st.isDirectory()) {
        if (!state) live.set(r, { kind: 'dir' });
        await walk(r, state);
      } else if (st.isFile()) {
        const sum = md5(await readFile(join(root, r)));
        if (state) kept.set(sum, r);
        else {
          live.set(r, { kind: 'file', md5: sum });
          if (CONFLICT_RE.test(name)) conflicts.push(r);
        }
      } else if (!state) live.set(r, { kind: st.isSymbolicLink() ? 'symlink' : 'other' });
    }
  };
  await walk('', false);
  return { live, kept, conflicts, temps };
}

/** Paths that differ between the two sides (missing on one, other kind, other content). */
export function compareTrees(a, b) {
  const diffs = [];
  for (const [p, ea] of a.live) {
    const eb = b.live.get(p);
    if (!eb) diffs.push(`only on a: ${p}`);
    else if (ea.kind !== eb.kind) diffs.push(`${p}: ${ea.kind} on a, ${eb.kind} on b`);
    else if (ea.md5 !== eb.md5) diffs.push(`${p}: different contents`);
  }
  for (const p of b.live.keys()) if (!a.live.has(p)) diffs.push(`only on b: ${p}`);
  return diffs;
}

/**
 * Classifies every content the workload wrote: superseded (the workload destroyed it itself),
 * live (on a path of either side), kept (only in a version or a conflict copy: ha-sync replaced
 * or deleted it and kept it), lost (nowhere).
 */
export function checkVersions(ledger, a, b) {
  const liveSums = new Set();
  for (const side of [a, b]) for (const e of side.live.values()) if (e.md5) liveSums.add(e.md5);
  const keptSums = new Set([...a.kept.keys(), ...b.kept.keys()]);
  const r = { tracked: ledger.written.size, superseded: 0, live: 0, kept: 0, lost: [] };
  for (const [sum, w] of ledger.written) {
    if (ledger.superseded.has(sum)) r.superseded++;
    else if (liveSums.has(sum)) r.live++;
    else if (keptSums.has(sum)) r.kept++;
    else r.lost.push({ md5: sum, ...w });
  }
  return r;
}

/**
 * Compares the archived opslogs with the database. `archive`: the opslog copies (hard links
 * taken while the run went on, since a flushed opslog is deleted); `pending`: opslogs still in
 * the log dir (never flushed); `parseLine`: the audit's own line parser, so a line counts as an
 * operation exactly when the flush would insert it.
 */
export async function checkAudit({ dsn, archive, pending, parseLine, toDbTime }) {
  const runs = new Map();
  for (const path of archive) {
    const run = await readOpslog(path, parseLine, toDbTime);
    if (run) runs.set(run.runId, run);
  }
  const conn = await mysql.createConnection({ uri: dsn, dateStrings: true, timezone: 'Z' });
  try {
    const [flushes] = await conn.query('SELECT run_id, iteration_id FROM sync_flushes');
    const [ops] = await conn.query(
      'SELECT iteration_id, operation, filepath, started_at, status FROM sync_operations',
    );
    const [running] = await conn.query(
      "SELECT id, direction, started_at FROM sync_iterations WHERE status = 'running'",
    );
    const byIteration = new Map();
    for (const o of ops) {
      const k = opKey(o.operation, o.filepath, o.status, String(o.started_at).slice(0, 23));
      const m = byIteration.get(o.iteration_id) ?? new Map();
      m.set(k, (m.get(k) ?? 0) + 1);
      byIteration.set(o.iteration_id, m);
    }
    const flushed = new Map(flushes.map((f) => [f.run_id, f.iteration_id]));
    const r = {
      opslogs: runs.size,
      ops: 0,
      missing: 0,
      duplicate: 0,
      unverified: 0,
      running: running.length,
      notes: [],
    };
    const verified = new Set();
    for (const run of runs.values()) {
      r.ops += run.ops.size === 0 ? 0 : [...run.ops.values()].reduce((s, n) => s + n, 0);
      const id = flushed.get(run.runId);
      if (id === undefined || id === null) {
        const n = [...run.ops.values()].reduce((s, x) => s + x, 0);
        if (n > 0) {
          r.missing += n;
          r.notes.push(`opslog ${run.path} (${n} ops) was never flushed`);
        }
        continue;
      }
      verified.add(Number(id));
      const db = byIteration.get(Number(id)) ?? new Map();
      for (const [k, n] of run.ops) {
        const d = db.get(k) ?? 0;
        if (d < n) {
          r.missing += n - d;
          r.notes.push(`missing in iteration ${id}: ${k.replace(/\0/g, ' | ')}`);
        }
        if (d > n) {
          r.duplicate += d - n;
          r.notes.push(`duplicate in iteration ${id}: ${k.replace(/\0/g, ' | ')} x${d}`);
        }
      }
      for (const [k, d] of db)
        if (!run.ops.has(k)) {
          r.duplicate += d;
          r.notes.push(`row not in its opslog, iteration ${id}: ${k.replace(/\0/g, ' | ')}`);
        }
    }
    // Iterations whose opslog was flushed before the archive could link it: only identical rows
    // within the iteration can be told apart as duplicates there.
    for (const [id, db] of byIteration) {
      if (verified.has(Number(id))) continue;
      r.unverified++;
      for (const [k, d] of db)
        if (d > 1) {
          r.duplicate += d - 1;
          r.notes.push(`identical rows in iteration ${id}: ${k.replace(/\0/g, ' | ')} x${d}`);
        }
    }
    for (const p of pending) r.notes.push(`opslog left in the log dir: ${p}`);
    for (const it of running)
      r.notes.push(`iteration ${it.id} (${it.direction}, ${it.started_at}) left 'running'`);
    return r;
  } finally {
    await conn.end();
  }
}

const opKey = (operation, filepath, status, startedAt) =>
  `${operation}\0${filepath}\0${status}\0${startedAt}`;

/** The op lines a flush of this opslog would insert, as a multiset of keys. */
async function readOpslog(path, parseLine, toDbTime) {
  const text = await readFile(path, 'utf8');
  let header = null;
  let ended = false;
  const ops = new Map();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const l = parseLine(lines[i]);
    if (l.type === 'header' && i === 0) header = l.header;
    else if (l.type === 'end') ended = true;
    else if (l.type === 'op' && header && !ended) {
      const k = opKey(l.op.operation, l.op.filepath, l.op.status, toDbTime(l.op.startedAtMs));
      ops.set(k, (ops.get(k) ?? 0) + 1);
    }
  }
  return header ? { runId: header.runId, path, ops } : null;
}
