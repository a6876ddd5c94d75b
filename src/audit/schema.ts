// The audit schema, for MySQL/MariaDB and for the embedded SQLite file. The two `sync_*` tables are
// the seed's, column for column (types, enums, defaults, indexes, foreign key); ha-sync only adds:
//   - indexes its queries need (dashboard summary per pair+direction, last dry-run lookup, the
//     iteration list per pair, the file history and conflict lists), so no dashboard or
//     idempotency query scans the tables;
//   - two nullable columns at the end of `sync_operations`, `kept_path` and `kept_kind`: where the
//     version an operation replaced or deleted went (a kept version or a conflict copy). The seed's
//     columns and their values stay as they were;
//   - two more after them, `owner_before` and `owner_after` ("uid:gid"): the owner change a copy
//     made (types.ts OpRecord.ownerBefore); written, not read by the dashboard;
//   - moves (issue 16): a fourth value of `sync_operations.operation`, 'move' (one row per entry
//     renamed instead of deleted and copied; `filepath` is the new path), and two nullable columns
//     after the owner ones, `moved_from` (the old path; set exactly on 'move' rows; TEXT on MySQL,
//     see EXTRA_COLUMNS) and `bytes_not_copied` (what a copy would have transferred), with the
//     index `idx_moved_from`; on `sync_iterations` the column `files_moved` (INT DEFAULT 0),
//     after the seed's columns, whose values stay as they were. A move row keeps the seed's
//     columns meaningful: size_before = size_after = the moved entry's size (a file) or NULL (a
//     directory), md5_before and md5_after NULL;
//   - `sync_flushes`: one marker row per flushed opslog (run id), written in the same transaction
//     as the rows it stands for, so an opslog is flushed exactly once even when the process dies
//     between the commit and the deletion of the file;
//   - `sync_versions_state`: one row per pair and side, the versions area as the last expiry pass
//     left it (files, bytes, oldest).
// Statements are idempotent (IF NOT EXISTS / checked before adding) and never drop data. The
// tables are created as the seed has them (operation without 'move') and then migrated: the added
// columns, indexes and the 'move' value are added by the same migration step on a fresh database
// and on one the seed (or an older ha-sync) created, so both paths are the one the tests run.
// MariaDB/MySQL gets 'move' through `ALTER TABLE ... MODIFY operation ENUM(...)` (mysql-schema.ts);
// SQLite cannot alter a CHECK, so its `sync_operations` is rebuilt once, in one transaction, with
// every row and id kept (sqlite-schema.ts).

export const MYSQL_TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS sync_iterations (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  sync_pair VARCHAR(255) NOT NULL,
  direction VARCHAR(64) NOT NULL,
  src VARCHAR(512) NOT NULL,
  dest VARCHAR(512) NOT NULL,
  started_at DATETIME(3) NOT NULL,
  ended_at DATETIME(3),
  status ENUM('running','success','partial_failure','failed') NOT NULL DEFAULT 'running',
  dry_run TINYINT(1) NOT NULL DEFAULT 0,
  files_created INT DEFAULT 0,
  files_updated INT DEFAULT 0,
  files_deleted INT DEFAULT 0,
  files_skipped INT DEFAULT 0,
  files_failed INT DEFAULT 0,
  total_bytes_transferred BIGINT DEFAULT 0,
  error_message TEXT,
  INDEX idx_pair (sync_pair),
  INDEX idx_started (started_at),
  INDEX idx_dry_run (dry_run)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS sync_operations (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  iteration_id BIGINT NOT NULL,
  dry_run TINYINT(1) NOT NULL DEFAULT 0,
  operation ENUM('create','update','delete') NOT NULL,
  filepath VARCHAR(4096) NOT NULL,
  size_before BIGINT,
  size_after BIGINT,
  md5_before VARCHAR(32),
  md5_after VARCHAR(32),
  started_at DATETIME(3) NOT NULL,
  ended_at DATETIME(3),
  status ENUM('success','fail') NOT NULL,
  error_message VARCHAR(4096),
  INDEX idx_iteration (iteration_id),
  CONSTRAINT fk_iteration FOREIGN KEY (iteration_id) REFERENCES sync_iterations(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS sync_flushes (
  run_id VARCHAR(128) NOT NULL PRIMARY KEY,
  iteration_id BIGINT,
  flushed_at DATETIME(3) NOT NULL,
  INDEX idx_flushed (flushed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  `CREATE TABLE IF NOT EXISTS sync_versions_state (
  pair VARCHAR(255) NOT NULL,
  side_label VARCHAR(64) NOT NULL,
  root VARCHAR(512) NOT NULL,
  files BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0,
  oldest_at DATETIME(3),
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (pair, side_label)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
];

/** Columns ha-sync adds to the seed's tables: [table, column, MySQL type, SQLite type]. */
export const EXTRA_COLUMNS: readonly (readonly [string, string, string, string])[] = [
  ['sync_operations', 'kept_path', 'VARCHAR(4096) NULL', 'VARCHAR(4096)'],
  [
    'sync_operations',
    'kept_kind',
    "ENUM('version','conflict') NULL",
    "TEXT CHECK (kept_kind IS NULL OR kept_kind IN ('version','conflict'))",
  ],
  ['sync_operations', 'owner_before', 'VARCHAR(32) NULL', 'VARCHAR(32)'],
  ['sync_operations', 'owner_after', 'VARCHAR(32) NULL', 'VARCHAR(32)'],
  // TEXT on MySQL/MariaDB, not VARCHAR(4096): a fourth VARCHAR(4096) in utf8mb4 (16 KiB each)
  // would pass the 65535-byte row limit of InnoDB (ER_TOO_BIG_ROWSIZE); TEXT is stored off the row.
  // The writers cut the value to 4096 characters, like filepath (rows.ts LIMITS).
  ['sync_operations', 'moved_from', 'TEXT NULL', 'VARCHAR(4096)'],
  ['sync_operations', 'bytes_not_copied', 'BIGINT NULL', 'INTEGER'],
  ['sync_iterations', 'files_moved', 'INT NULL DEFAULT 0', 'INTEGER DEFAULT 0'],
];

/** Every value of `sync_operations.operation` this version writes (the seed's three, then 'move'). */
export const OPERATION_KINDS = ['create', 'update', 'delete', 'move'] as const;

/** Indexes ha-sync adds to the seed's tables: [table, name, columns]. */
export const EXTRA_INDEXES: readonly (readonly [string, string, string])[] = [
  // pairs(): lastReal / lastDryRun per (pair, direction); DISTINCT (pair, direction) by loose scan.
  ['sync_iterations', 'idx_pair_dir_dry_started', 'sync_pair, direction, dry_run, started_at'],
  // lastDryRun() (seed query: status = 'success') and pairs(): lastRealSuccess.
  ['sync_iterations', 'idx_pair_dir_dry_status_started', 'sync_pair, direction, dry_run, status, started_at'],
  // iterations({pair}) newest first.
  ['sync_iterations', 'idx_pair_started', 'sync_pair, started_at'],
  // fileHistory(): a path and its conflict copies (equality and prefix ranges). A 191-character
  // prefix fits InnoDB's key limit in every row format; the full value is compared after it.
  ['sync_operations', 'idx_filepath', 'filepath(191)'],
  // fileHistory(): operations that kept a version or conflict copy of a path.
  ['sync_operations', 'idx_kept_path', 'kept_path(191)'],
  // conflicts(): the last days' conflict copies.
  ['sync_operations', 'idx_kept_kind_started', 'kept_kind, started_at'],
  // fileHistory(): the move that took a path (or a directory above it) away.
  ['sync_operations', 'idx_moved_from', 'moved_from(191)'],
];

/**
 * SQLite: the same tables and columns. Enums become CHECK constraints, DATETIME(3) is TEXT in the
 * same 'YYYY-MM-DD HH:MM:SS.mmm' UTC form MySQL returns (so it sorts and maps identically).
 */
export const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS sync_iterations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sync_pair VARCHAR(255) NOT NULL,
  direction VARCHAR(64) NOT NULL,
  src VARCHAR(512) NOT NULL,
  dest VARCHAR(512) NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','success','partial_failure','failed')),
  dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
  files_created INTEGER DEFAULT 0,
  files_updated INTEGER DEFAULT 0,
  files_deleted INTEGER DEFAULT 0,
  files_skipped INTEGER DEFAULT 0,
  files_failed INTEGER DEFAULT 0,
  total_bytes_transferred INTEGER DEFAULT 0,
  error_message TEXT
);
CREATE INDEX IF NOT EXISTS idx_pair ON sync_iterations (sync_pair);
CREATE INDEX IF NOT EXISTS idx_started ON sync_iterations (started_at);
CREATE INDEX IF NOT EXISTS idx_dry_run ON sync_iterations (dry_run);
CREATE INDEX IF NOT EXISTS idx_pair_dir_dry_started ON sync_iterations (sync_pair, direction, dry_run, started_at);
CREATE INDEX IF NOT EXISTS idx_pair_dir_dry_status_started ON sync_iterations (sync_pair, direction, dry_run, status, started_at);
CREATE INDEX IF NOT EXISTS idx_pair_started ON sync_iterations (sync_pair, started_at);
CREATE TABLE IF NOT EXISTS sync_operations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  iteration_id INTEGER NOT NULL,
  dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
  operation TEXT NOT NULL CHECK (operation IN ('create','update','delete')),
  filepath VARCHAR(4096) NOT NULL,
  size_before INTEGER,
  size_after INTEGER,
  md5_before VARCHAR(32),
  md5_after VARCHAR(32),
  started_at TEXT NOT NULL,
  ended_at TEXT,
  status TEXT NOT NULL CHECK (status IN ('success','fail')),
  error_message VARCHAR(4096),
  CONSTRAINT fk_iteration FOREIGN KEY (iteration_id) REFERENCES sync_iterations(id)
);
CREATE INDEX IF NOT EXISTS idx_iteration ON sync_operations (iteration_id);
CREATE TABLE IF NOT EXISTS sync_flushes (
  run_id TEXT NOT NULL PRIMARY KEY,
  iteration_id INTEGER,
  flushed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_flushed ON sync_flushes (flushed_at);
CREATE TABLE IF NOT EXISTS sync_versions_state (
  pair VARCHAR(255) NOT NULL,
  side_label VARCHAR(64) NOT NULL,
  root VARCHAR(512) NOT NULL,
  files INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  oldest_at TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (pair, side_label)
);
`;

/** SQLite indexes on the added columns: created after EXTRA_COLUMNS are there. */
export const SQLITE_EXTRA_INDEXES = `
CREATE INDEX IF NOT EXISTS idx_filepath ON sync_operations (filepath);
CREATE INDEX IF NOT EXISTS idx_kept_path ON sync_operations (kept_path);
CREATE INDEX IF NOT EXISTS idx_kept_kind_started ON sync_operations (kept_kind, started_at);
CREATE INDEX IF NOT EXISTS idx_moved_from ON sync_operations (moved_from);
`;

/** The seed's columns of `sync_operations` on SQLite, in their order. */
const SQLITE_SEED_OPERATION_COLUMNS = [
  'id INTEGER PRIMARY KEY AUTOINCREMENT',
  'iteration_id INTEGER NOT NULL',
  'dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1))',
  `operation TEXT NOT NULL CHECK (operation IN (${OPERATION_KINDS.map((k) => `'${k}'`).join(',')}))`,
  'filepath VARCHAR(4096) NOT NULL',
  'size_before INTEGER',
  'size_after INTEGER',
  'md5_before VARCHAR(32)',
  'md5_after VARCHAR(32)',
  'started_at TEXT NOT NULL',
  'ended_at TEXT',
  "status TEXT NOT NULL CHECK (status IN ('success','fail'))",
  'error_message VARCHAR(4096)',
];

/** The names of the columns of `sync_operations` this version knows (seed's, then added). */
export const OPERATIONS_COLUMN_NAMES: readonly string[] = [
  ...SQLITE_SEED_OPERATION_COLUMNS.map((c) => c.slice(0, c.indexOf(' '))),
  ...EXTRA_COLUMNS.filter((c) => c[0] === 'sync_operations').map((c) => c[1]),
];

/**
 * SQLite: the `sync_operations` a rebuild creates under `name`: the seed's columns with 'move' in
 * the operation CHECK, the added columns (EXTRA_COLUMNS order), then `more` column definitions (any
 * column the old table had that this version does not know: kept, never dropped), then the seed's
 * foreign key.
 */
export function sqliteOperationsTable(name: string, more: readonly string[] = []): string {
  const cols = [
    ...SQLITE_SEED_OPERATION_COLUMNS,
    ...EXTRA_COLUMNS.filter((c) => c[0] === 'sync_operations').map((c) => `${c[1]} ${c[3]}`),
    ...more,
    'CONSTRAINT fk_iteration FOREIGN KEY (iteration_id) REFERENCES sync_iterations(id)',
  ];
  return `CREATE TABLE ${name} (\n  ${cols.join(',\n  ')}\n)`;
}

/** SQLite: every index of `sync_operations` (the seed's and the added ones), for a rebuild. */
export const SQLITE_OPERATIONS_INDEXES = `
CREATE INDEX IF NOT EXISTS idx_iteration ON sync_operations (iteration_id);
${SQLITE_EXTRA_INDEXES}`;
