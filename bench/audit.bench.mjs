#!/usr/bin/env node
// Audit flush benchmark: flushing an opslog of 100k operations into MariaDB must take <= 5 s.
// Creates its own database (hasync_auditbench_<random>) on 127.0.0.1:3306 as root and a temp log
// dir, writes the opslog the way a run does (beginRun + record), times finish() (the flush:
// iteration row + 100k operation rows in one transaction + marker, then unlink), checks the row
// count, and also times flushPending() of a left-behind opslog of the same size. Drops everything.
//
//   npm run build && node bench/audit.bench.mjs [--operations 100000] [--sqlite]
//
// Exit 0 when both MariaDB flushes are within budget, 1 otherwise.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { openAudit } from '../dist/audit/index.js';
import { createLogger } from '../dist/log.js';

const { values } = parseArgs({
  options: {
    operations: { type: 'string', default: '100000' },
    sqlite: { type: 'boolean', default: false },
  },
});
const OPERATIONS = Number(values.operations);
const BUDGET_MS = 5000;
const DB = `hasync_auditbench_${Math.random().toString(36).slice(2, 10)}`;
const DSN = `root:@tcp(127.0.0.1:3306)/${DB}`;
const log = createLogger({ silent: true });

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function opAt(i, t) {
  const kind = i % 10 === 0 ? 'delete' : i % 3 === 0 ? 'update' : 'create';
  return {
    operation: kind,
    filepath: `photos/${2000 + (i % 25)}/${String(i % 1000).padStart(3, '0')}/IMG_${i}.jpg`,
    sizeBefore: kind === 'create' ? null : 1_000_000 + i,
    sizeAfter: kind === 'delete' ? null : 2_000_000 + i,
    md5Before: kind === 'create' ? null : 'd41d8cd98f00b204e9800998ecf8427e',
    md5After: kind === 'delete' ? null : '9e107d9d372bb6826bd81d3542a419d6',
    startedAtMs: t + i,
    endedAtMs: t + i + 3,
    status: i % 997 === 0 ? 'fail' : 'success',
    errorMessage: i % 997 === 0 ? 'EACCES: permission denied' : null,
  };
}

const counts = { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, bytesTransferred: 0 };

async function timedRun(dsn, logDir, label) {
  const audit = await openAudit({ dsn, logDir, log });
  try {
    await audit.flushPending();
    const t = Date.now();
    const run = await audit.beginRun({
      runId: `bench-${label}-${t}`,
      pair: 'photos',
      direction: 'dell-to-hp',
      src: '/mnt/dell/photos',
      dest: '/mnt/hp/photos',
      startedAtMs: t,
      dryRun: false,
    });
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) await run.record(opAt(i, t));
    const recordMs = ms(t0);
    t0 = process.hrtime.bigint();
    const res = await run.finish({
      endedAtMs: t + OPERATIONS + 10,
      status: 'success',
      counts,
      errorMessage: null,
    });
    const flushMs = ms(t0);
    if (!res.flushed) throw new Error(`${label}: finish did not flush`);
    return { recordMs, flushMs, iterationId: res.iterationId };
  } finally {
    await audit.close();
  }
}

async function timedPending(dsn, logDir) {
  const t = Date.now();
  const header = {
    v: 1,
    type: 'header',
    runId: `bench-pending-${t}`,
    pair: 'photos',
    direction: 'hp-to-dell',
    src: '/mnt/hp/photos',
    dest: '/mnt/dell/photos',
    startedAtMs: t,
    dryRun: false,
    pid: 1,
    host: 'elsewhere',
  };
  const lines = [JSON.stringify(header)];
  for (let i = 0; i < OPERATIONS; i++) lines.push(JSON.stringify({ type: 'op', ...opAt(i, t) }));
  lines.push(
    JSON.stringify({ type: 'end', endedAtMs: t + OPERATIONS, status: 'success', counts, errorMessage: null }),
  );
  await writeFile(join(logDir, `opslog-photos-hp-to-dell-bench.jsonl`), lines.join('\n') + '\n');
  const audit = await openAudit({ dsn, logDir, log });
  try {
    const t0 = process.hrtime.bigint();
    const r = await audit.flushPending();
    const flushMs = ms(t0);
    if (r.flushed !== 1) throw new Error(`flushPending: ${JSON.stringify(r)}`);
    return { flushMs };
  } finally {
    await audit.close();
  }
}

const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
const dir = await mkdtemp(join(tmpdir(), 'hasync-auditbench-'));
let ok = true;
try {
  await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
  const run = await timedRun(DSN, dir, 'mysql');
  const [[{ n }]] = await admin.query(
    `SELECT COUNT(*) AS n FROM ${DB}.sync_operations WHERE iteration_id = ?`,
    [run.iterationId],
  );
  if (Number(n) !== OPERATIONS) throw new Error(`expected ${OPERATIONS} operation rows, found ${n}`);
  const pending = await timedPending(DSN, dir);
  const [[{ total }]] = await admin.query(`SELECT COUNT(*) AS total FROM ${DB}.sync_operations`);
  if (Number(total) !== 2 * OPERATIONS)
    throw new Error(`expected ${2 * OPERATIONS} rows in all, found ${total}`);
  console.log(`audit: ${OPERATIONS} record() calls to the opslog: ${run.recordMs.toFixed(0)} ms`);
  console.log(
    `audit: finish() flush of ${OPERATIONS} operations into MariaDB: ${run.flushMs.toFixed(0)} ms (budget ${BUDGET_MS} ms)`,
  );
  console.log(
    `audit: flushPending() of a left-behind opslog of ${OPERATIONS} operations: ${pending.flushMs.toFixed(0)} ms (budget ${BUDGET_MS} ms)`,
  );
  ok = run.flushMs <= BUDGET_MS && pending.flushMs <= BUDGET_MS;
  if (values.sqlite) {
    const sdir = await mkdtemp(join(tmpdir(), 'hasync-auditbench-sqlite-'));
    try {
      const s = await timedRun(undefined, sdir, 'sqlite');
      console.log(
        `audit: finish() flush of ${OPERATIONS} operations into SQLite: ${s.flushMs.toFixed(0)} ms (informational)`,
      );
    } finally {
      await rm(sdir, { recursive: true, force: true });
    }
  }
} catch (err) {
  ok = false;
  console.error(`audit bench failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
}
console.log(ok ? 'audit: OK' : 'audit: OVER BUDGET or FAILED');
process.exit(ok ? 0 : 1);
