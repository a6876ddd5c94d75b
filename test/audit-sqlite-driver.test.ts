// The SQLite driver shim: node:sqlite where the runtime has it (Node 24: better-sqlite3 12 aborts
// there when a statement is garbage-collected), better-sqlite3 on Node 20.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/audit/sqlite-driver.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ha-sqlite-driver-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hasNodeSqlite = (): boolean => {
  try {
    return Boolean(
      (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite'),
    );
  } catch {
    return false;
  }
};

describe('openSqlite', () => {
  it('picks node:sqlite when the runtime has it, else better-sqlite3', () => {
    const db = openSqlite(join(dir, 'a.sqlite'), { busyTimeoutMs: 1000 });
    try {
      expect(db.driver).toBe(hasNodeSqlite() ? 'node:sqlite' : 'better-sqlite3');
    } finally {
      db.close();
    }
  });

  it('runs statements, commits an immediate transaction, and rolls one back on throw', () => {
    const db = openSqlite(join(dir, 'b.sqlite'), { busyTimeoutMs: 1000 });
    try {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      const r = db.immediate(() => db.prepare('INSERT INTO t (v) VALUES (?)').run('it\'s "quoted"'));
      expect(Number(r.lastInsertRowid)).toBe(1);
      expect(() =>
        db.immediate(() => {
          db.prepare('INSERT INTO t (v) VALUES (?)').run('rolled back');
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(db.prepare('SELECT v FROM t ORDER BY id').all()).toEqual([{ v: 'it\'s "quoted"' }]);
      expect({
        ...(db.prepare('SELECT COUNT(*) AS n FROM t WHERE v = ?').get('rolled back') as object),
      }).toEqual({
        n: 0,
      });
    } finally {
      db.close();
    }
  });
});
