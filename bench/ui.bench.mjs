#!/usr/bin/env node
// Dashboard benchmark: /api/pairs and /api/iterations must answer in under 50 ms with a million
// operation rows in MariaDB. Creates its own database (hasync_uibench_<random>) on
// 127.0.0.1:3306 as root, fills it, times the routes through app.inject() (fastify, JSON, the
// mysql2 pool and the queries; no socket), prints the timings, and drops the database.
//
//   npm run build && node bench/ui.bench.mjs [--operations 1000000] [--requests 50]
//
// Exit 0 when every timed API route's p95 is under 50 ms, 1 otherwise.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { openAudit, openAuditReader } from '../dist/audit/index.js';
import { systemClock } from '../dist/clock.js';
import { createLogger } from '../dist/log.js';
import { buildApp } from '../dist/ui/index.js';

const { values } = parseArgs({
  options: {
    operations: { type: 'string', default: '1000000' },
    requests: { type: 'string', default: '50' },
  },
});
const OPERATIONS = Number(values.operations);
const REQUESTS = Number(values.requests);
const OPS_PER_ITERATION = 50;
const ITERATIONS = Math.ceil(OPERATIONS / OPS_PER_ITERATION);
const BUDGET_MS = 50;
const PAIRS = ['media', 'photos', 'owncloud', 'games', 'infra', 'ai'];
const CHUNK = 100_000;

const DB = `hasync_uibench_${Math.random().toString(36).slice(2, 10)}`;
const DSN = `mysql://root@127.0.0.1:3306/${DB}`;
const log = createLogger({ silent: true });

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function dbTime(msEpoch) {
  return new Date(msEpoch).toISOString().replace('T', ' ').replace('Z', '');
}

async function fill(admin, dir) {
  // The schema exactly as the audit module creates it: one real run through its writing API.
  const audit = await openAudit({ dsn: DSN, logDir: dir, log });
  const rec = await audit.beginRun({
    runId: 'bench-schema',
    pair: 'media',
    direction: 'dell-to-hp',
    src: '/bench/a',
    dest: '/bench/b',
    startedAtMs: Date.now() - 40 * 86_400_000,
    dryRun: false,
  });
  const done = await rec.finish({
    endedAtMs: Date.now() - 40 * 86_400_000 + 1000,
    status: 'success',
    counts: { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, bytesTransferred: 0 },
    errorMessage: null,
  });
  await audit.close();
  if (!done.flushed) throw new Error('could not create the audit schema in MariaDB');

  await admin.query(`USE ${DB}`);
  await admin.query("SET time_zone = '+00:00'");
  // Iterations every 90 s up to now, round-robin over 6 pairs x 2 directions, one in five a dry run.
  const t0 = process.hrtime.bigint();
  const start = dbTime(Date.now() - ITERATIONS * 90_000);
  for (let from = 0; from < ITERATIONS; from += CHUNK) {
    const n = Math.min(CHUNK, ITERATIONS - from);
    await admin.query(
      `INSERT INTO sync_iterations (sync_pair, direction, src, dest, started_at, ended_at, status, dry_run,
         files_created, files_updated, files_deleted, files_skipped, files_failed, total_bytes_transferred, error_message)
       SELECT ELT(1 + (s % 6), ${PAIRS.map((p) => `'${p}'`).join(',')}),
              IF((s DIV 6) % 2 = 0, 'dell-to-hp', 'hp-to-dell'), '/bench/a', '/bench/b',
              TIMESTAMPADD(SECOND, s * 90, ?), TIMESTAMPADD(SECOND, s * 90 + 40, ?),
              IF(s % 97 = 0, 'partial_failure', 'success'), IF(s % 5 = 0, 1, 0),
              30, 15, 5, 1000, IF(s % 97 = 0, 1, 0), 50000000, IF(s % 97 = 0, '1 file failed', NULL)
       FROM (SELECT seq + ? AS s FROM seq_1_to_${n}) x`,
      [start, start, from],
    );
  }
  const [[{ first }]] = await admin.query(
    "SELECT MIN(id) AS first FROM sync_iterations WHERE src = '/bench/a' AND id > 1",
  );
  const itMs = ms(t0);

  const t1 = process.hrtime.bigint();
  for (let from = 0; from < OPERATIONS; from += CHUNK) {
    const n = Math.min(CHUNK, OPERATIONS - from);
    await admin.query(
      `INSERT INTO sync_operations (iteration_id, dry_run, operation, filepath, size_before, size_after,
         started_at, ended_at, status, error_message)
       SELECT ? + (s - 1) DIV ${OPS_PER_ITERATION}, 0, ELT(1 + s % 3, 'create', 'update', 'delete'),
              CONCAT('photos/2026/', s % 1000, '/IMG_', s, '.jpg'), IF(s % 3 = 0, NULL, 2000000), 2500000,
              ?, ?, IF(s % 997 = 0, 'fail', 'success'), IF(s % 997 = 0, 'EIO: input/output error', NULL)
       FROM (SELECT seq + ? AS s FROM seq_1_to_${n}) x`,
      [first, start, start, from],
    );
  }
  const opMs = ms(t1);
  await admin.query('ANALYZE TABLE sync_iterations, sync_operations');
  return { first: Number(first), itMs, opMs };
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { min: s[0], p50: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}

async function time(app, url) {
  for (let i = 0; i < 5; i++) {
    const r = await app.inject(url);
    if (r.statusCode !== 200) throw new Error(`${url}: HTTP ${r.statusCode} ${r.body}`);
  }
  const samples = [];
  let bytes = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const t = process.hrtime.bigint();
    const r = await app.inject(url);
    samples.push(ms(t));
    bytes = r.body.length;
  }
  return { ...stats(samples), bytes };
}

const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
const dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-bench-'));
let failed = false;
try {
  await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
  console.log(
    `database ${DB}: filling ${ITERATIONS.toLocaleString()} iterations, ${OPERATIONS.toLocaleString()} operations`,
  );
  const { first, itMs, opMs } = await fill(admin, dir);
  console.log(
    `filled: iterations in ${(itMs / 1000).toFixed(1)} s, operations in ${(opMs / 1000).toFixed(1)} s`,
  );
  const [[counts]] = await admin.query(
    'SELECT (SELECT COUNT(*) FROM sync_iterations) AS iterations, (SELECT COUNT(*) FROM sync_operations) AS operations',
  );
  console.log(
    `rows: ${Number(counts.iterations).toLocaleString()} iterations, ${Number(counts.operations).toLocaleString()} operations`,
  );

  const reader = await openAuditReader({ dsn: DSN, logDir: dir, log });
  const app = buildApp({ reader, clock: systemClock, schedule: { defaultMinutes: 15, perPairMinutes: {} } });
  await app.ready();
  const since = encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString());
  const mid = first + Math.floor(ITERATIONS / 2);
  const routes = [
    ['/api/pairs', true],
    ['/api/iterations', true],
    ['/api/iterations?limit=500', true],
    ['/api/iterations?pair=photos&limit=50', true],
    [`/api/iterations?pair=photos&dry_run=0&limit=500&since=${since}`, true],
    ['/api/iterations?dry_run=1&limit=50', true],
    [`/api/operations?iteration_id=${mid}&limit=500`, false],
    ['/metrics', false],
  ];
  console.log(
    `\n${REQUESTS} requests each after 5 warm-ups, milliseconds (budget ${BUDGET_MS} ms for /api/pairs and /api/iterations, p95):`,
  );
  console.log(
    `${'route'.padEnd(72)} ${'min'.padStart(7)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)} ${'bytes'.padStart(8)}`,
  );
  for (const [url, budgeted] of routes) {
    const r = await time(app, url);
    const over = budgeted && r.p95 >= BUDGET_MS;
    if (over) failed = true;
    const shown = decodeURIComponent(url).slice(0, 72);
    console.log(
      `${shown.padEnd(72)} ${r.min.toFixed(1).padStart(7)} ${r.p50.toFixed(1).padStart(7)} ${r.p95.toFixed(1).padStart(7)} ${r.max.toFixed(1).padStart(7)} ${String(r.bytes).padStart(8)}${over ? '  OVER BUDGET' : ''}`,
    );
  }
  await app.close();
  await reader.close();
  console.log(
    failed
      ? '\nFAIL: a budgeted route is over 50 ms at p95'
      : '\nPASS: every budgeted route is under 50 ms at p95',
  );
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
  console.log(`database ${DB} dropped`);
}
process.exit(failed ? 1 : 0);
