// Creating and migrating the audit schema in the embedded SQLite file (writers and the laptop
// dashboard, which creates its file when missing).
//
// Steps, each idempotent: the seed's tables (IF NOT EXISTS); the columns ha-sync added (checked
// first: SQLite has no ADD COLUMN IF NOT EXISTS); 'move' in the CHECK of
// `sync_operations.operation`; the added indexes. A CHECK constraint cannot be altered in SQLite,
// so a `sync_operations` whose stored CREATE statement lacks 'move' is rebuilt the way the SQLite
// documentation prescribes (https://sqlite.org/lang_altertable.html#otheralter): create the new
// table, copy every row with its id, drop the old one, rename the new one, recreate the indexes,
// all in ONE transaction (a crash or another process sees the old table or the new one, never
// half of each), with foreign key enforcement off around it. The columns and the rebuild run in
// one IMMEDIATE transaction, so two processes migrating at once do each step once.
import type { SqlDb } from './sqlite-driver.js';
import type { DbRow } from './rows.js';
import {
  EXTRA_COLUMNS,
  OPERATIONS_COLUMN_NAMES,
  OPERATION_KINDS,
  SQLITE_EXTRA_INDEXES,
  SQLITE_OPERATIONS_INDEXES,
  SQLITE_SCHEMA,
  sqliteOperationsTable,
} from './schema.js';

/** The name the rebuilt table is created under before it replaces `sync_operations`. */
const REBUILT = 'sync_operations_rebuilt';

export function createSqliteSchema(db: SqlDb): void {
  db.exec(SQLITE_SCHEMA);
  // PRAGMA foreign_keys cannot change inside a transaction; it is set per connection, and this
  // connection runs nothing else meanwhile (the drivers are synchronous).
  db.exec('PRAGMA foreign_keys = OFF');
  try {
    db.immediate(() => {
      for (const [table, column, , type] of EXTRA_COLUMNS) {
        if (!columnsOf(db, table).includes(column))
          db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      }
      if (!operationCheckHasEveryKind(db)) rebuildOperations(db);
    });
  } finally {
    db.exec('PRAGMA foreign_keys = ON');
  }
  db.exec(SQLITE_EXTRA_INDEXES);
}

function columnsOf(db: SqlDb, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as DbRow[]).map((c) => String(c.name));
}

/** True when the stored CREATE statement of `sync_operations` names every operation kind. */
function operationCheckHasEveryKind(db: SqlDb): boolean {
  const row = db
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sync_operations'")
    .get() as DbRow | undefined;
  const sql = typeof row?.sql === 'string' ? row.sql : '';
  return OPERATION_KINDS.every((k) => sql.includes(`'${k}'`));
}

/**
 * Replaces `sync_operations` by a copy whose operation CHECK admits every kind; runs inside the
 * caller's transaction. Every row keeps its id and values; a column this version does not know
 * (someone else's) is carried over with its declared type rather than dropped. The AUTOINCREMENT
 * counter is carried over too, so an id once used is never handed out again.
 */
function rebuildOperations(db: SqlDb): void {
  const info = db.prepare('PRAGMA table_info(sync_operations)').all() as DbRow[];
  const unknown = info
    .filter((c) => !OPERATIONS_COLUMN_NAMES.includes(String(c.name)))
    .map((c) =>
      `"${String(c.name).replace(/"/g, '""')}" ${typeof c.type === 'string' ? c.type : ''}`.trimEnd(),
    );
  const cols = info.map((c) => `"${String(c.name).replace(/"/g, '""')}"`).join(', ');
  const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'sync_operations'").get() as
    DbRow | undefined;
  db.exec(`DROP TABLE IF EXISTS ${REBUILT}`);
  db.exec(sqliteOperationsTable(REBUILT, unknown));
  db.exec(`INSERT INTO ${REBUILT} (${cols}) SELECT ${cols} FROM sync_operations ORDER BY id`);
  db.exec('DROP TABLE sync_operations');
  db.exec(`ALTER TABLE ${REBUILT} RENAME TO sync_operations`);
  if (seq) {
    const old = Number(seq.seq);
    db.prepare(
      "INSERT INTO sqlite_sequence (name, seq) SELECT 'sync_operations', ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sync_operations')",
    ).run(old);
    db.prepare("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'sync_operations'").run(old);
  }
  db.exec(SQLITE_OPERATIONS_INDEXES);
}
