// Shared fixtures of the audit tests: a throwaway MariaDB database per test file, a log capture,
// and builders for headers, ops and opslog files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { createLogger, type Logger } from '../src/log.js';
import type { IterationEnd, IterationHeader, OpRecord } from '../src/audit/index.js';

export const MYSQL_ROOT = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

/** Creates `hasync_test_<random>`; returns its DSN (Go form) and a function that drops it. */
export async function createTestDatabase(): Promise<{
  name: string;
  dsn: string;
  urlDsn: string;
  query: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  drop: () => Promise<void>;
}> {
  const name = `hasync_test_${Math.random().toString(36).slice(2, 10)}`;
  const admin = await mysql.createConnection({ ...MYSQL_ROOT, dateStrings: true, timezone: 'Z' });
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
  await admin.query(`USE ${name}`);
  return {
    name,
    dsn: `root:@tcp(127.0.0.1:3306)/${name}`,
    urlDsn: `mysql://root@127.0.0.1:3306/${name}`,
    query: async (sql, params = []) => (await admin.query(sql, params))[0] as Record<string, unknown>[],
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    },
  };
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function tempDir(prefix = 'hasync-audit-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A logger whose lines (JSON) are collected in `lines`. */
export function captureLog(): { log: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ destination: dest, verbose: true }), lines, text: () => lines.join('\n') };
}

let seq = 0;
export function header(over: Partial<IterationHeader> = {}): IterationHeader {
  seq++;
  return {
    runId: `run-${process.pid}-${Date.now()}-${seq}-${Math.random().toString(36).slice(2, 8)}`,
    pair: 'media',
    direction: 'dell-to-hp',
    src: '/mnt/dell/media',
    dest: '/mnt/hp/media',
    startedAtMs: Date.UTC(2026, 10, 20, 10, 0, 0, 123),
    dryRun: false,
    ...over,
  };
}

export function op(i: number, over: Partial<OpRecord> = {}): OpRecord {
  return {
    operation: 'create',
    filepath: `dir/file-${i}.bin`,
    sizeBefore: null,
    sizeAfter: 1000 + i,
    md5Before: null,
    md5After: 'd41d8cd98f00b204e9800998ecf8427e',
    startedAtMs: Date.UTC(2026, 10, 20, 10, 0, 1, i % 1000),
    endedAtMs: Date.UTC(2026, 10, 20, 10, 0, 2, i % 1000),
    status: 'success',
    errorMessage: null,
    ...over,
  };
}

export function end(over: Partial<IterationEnd> = {}): IterationEnd {
  return {
    endedAtMs: Date.UTC(2026, 10, 20, 10, 5, 0, 456),
    status: 'success',
    counts: { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, moved: 0, bytesTransferred: 0 },
    errorMessage: null,
    ...over,
  };
}

/** Writes an opslog by hand (what a run, maybe a killed one, left behind). */
export function writeOpslog(
  dir: string,
  name: string,
  h: IterationHeader & { pid?: number; host?: string },
  ops: OpRecord[],
  e: IterationEnd | null,
  extraLines: string[] = [],
): string {
  const path = join(dir, name);
  const lines = [
    JSON.stringify({ v: 1, type: 'header', ...h }),
    ...ops.map((o) => JSON.stringify({ type: 'op', ...o })),
    ...extraLines,
    ...(e ? [JSON.stringify({ type: 'end', ...e })] : []),
  ];
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
