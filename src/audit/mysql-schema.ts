// Creating and migrating the audit schema on MySQL 8 / MariaDB 10.11, for the writers'
// ensureSchema (never the dashboard's reader, whose account may be read-only).
//
// Every step is checked against information_schema first and tolerates a concurrent writer doing
// the same step (duplicate column / key errors), so two CronJob pods starting together both
// succeed. Columns are checked rather than added with `ADD COLUMN IF NOT EXISTS`: MariaDB has
// that, MySQL 8 does not, and the same statement must work on both. The 'move' value of
// `sync_operations.operation` is added by one `MODIFY` when the column's type lacks it: adding a
// value at the end of an ENUM keeps every stored value and is an in-place (instant) change on
// MariaDB 10.3+ and MySQL 8; two writers doing it at once both succeed.
import mysql from 'mysql2/promise';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { MysqlTarget } from './dsn.js';
import { EXTRA_COLUMNS, EXTRA_INDEXES, MYSQL_TABLES, OPERATION_KINDS } from './schema.js';

const ER_BAD_DB_ERROR = 1049;
const ER_DUP_FIELDNAME = 1060;
const ER_DUP_KEYNAME = 1061;

/** Creating an index on a big existing table is a one-time migration; let it finish. */
const DDL_TIMEOUT_MS = 15 * 60_000;
const QUERY_TIMEOUT_MS = 60_000;

const errnoOf = (err: unknown): number | undefined => (err as { errno?: number }).errno;

/**
 * Creates the tables, adds the columns and indexes ha-sync added, and creates the DSN's database
 * first when it does not exist yet (a fresh server, a new user trying ha-sync).
 */
export async function createMysqlSchema(
  pool: Pool,
  target: MysqlTarget,
  connectTimeoutMs: number,
): Promise<void> {
  try {
    await createTables(pool);
  } catch (err) {
    if (errnoOf(err) !== ER_BAD_DB_ERROR) throw err;
    await createDatabase(target, connectTimeoutMs);
    await createTables(pool);
  }
}

async function createDatabase(t: MysqlTarget, connectTimeoutMs: number): Promise<void> {
  const conn = await mysql.createConnection({
    host: t.host,
    port: t.port,
    ...(t.socketPath ? { socketPath: t.socketPath } : {}),
    user: t.user,
    password: t.password,
    ...(t.tls ? { ssl: { rejectUnauthorized: t.tls === 'verify' } } : {}),
    connectTimeout: connectTimeoutMs,
  });
  try {
    await conn.query({
      sql: `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(t.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      timeout: DDL_TIMEOUT_MS,
    });
  } finally {
    await conn.end().catch(() => undefined);
  }
}

async function ddl(pool: Pool, sql: string, tolerated: number): Promise<void> {
  try {
    await pool.query({ sql, timeout: DDL_TIMEOUT_MS });
  } catch (err) {
    // Two writers migrating at once: the other one won, which is fine.
    if (errnoOf(err) !== tolerated) throw err;
  }
}

async function createTables(pool: Pool): Promise<void> {
  for (const sql of MYSQL_TABLES) await pool.query({ sql, timeout: DDL_TIMEOUT_MS });
  const tables = [...new Set([...EXTRA_COLUMNS.map((c) => c[0]), ...EXTRA_INDEXES.map((i) => i[0])])];
  const [cols] = await pool.execute<RowDataPacket[]>(
    {
      sql: `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${tables.map(() => '?').join(',')})`,
      timeout: QUERY_TIMEOUT_MS,
    },
    tables,
  );
  const haveCols = new Set(cols.map((r) => `${String(r.t)}.${String(r.c)}`));
  // Columns before indexes: two of the indexes are on added columns. An added nullable column at
  // the end of the table is an instant change on MariaDB 10.3+ and MySQL 8.0.12+.
  for (const [table, column, type] of EXTRA_COLUMNS) {
    if (haveCols.has(`${table}.${column}`)) continue;
    await ddl(pool, `ALTER TABLE ${table} ADD COLUMN ${column} ${type}`, ER_DUP_FIELDNAME);
  }
  const [idx] = await pool.execute<RowDataPacket[]>(
    {
      sql: `SELECT DISTINCT TABLE_NAME AS t, INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${tables.map(() => '?').join(',')})`,
      timeout: QUERY_TIMEOUT_MS,
    },
    tables,
  );
  const haveIdx = new Set(idx.map((r) => `${String(r.t)}.${String(r.name)}`));
  for (const [table, name, columns] of EXTRA_INDEXES) {
    if (haveIdx.has(`${table}.${name}`)) continue;
    await ddl(pool, `ALTER TABLE ${table} ADD INDEX ${name} (${columns})`, ER_DUP_KEYNAME);
  }
  await addOperationKinds(pool);
}

/**
 * Widens `sync_operations.operation` to every value this version writes (the seed's ENUM lacks
 * 'move'): the values it has, in their order, then the missing ones, so no stored value is ever
 * cut; the seed's column becomes ENUM('create','update','delete','move'). Keeps the column's
 * character set, collation, nullability (the seed's is NOT NULL) and place. Nothing happens when
 * the type already has them all.
 */
async function addOperationKinds(pool: Pool): Promise<void> {
  const [rows] = await pool.execute<RowDataPacket[]>({
    sql: "SELECT COLUMN_TYPE AS type, CHARACTER_SET_NAME AS cs, COLLATION_NAME AS coll, IS_NULLABLE AS nullable FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_operations' AND COLUMN_NAME = 'operation'",
    timeout: QUERY_TIMEOUT_MS,
  });
  const col = rows[0];
  if (!col) return;
  // Only an ENUM can refuse 'move' (a text column someone made of it takes any value).
  if (!/^enum\(/i.test(String(col.type))) return;
  const have = enumValues(String(col.type));
  const missing = OPERATION_KINDS.filter((k) => !have.includes(k));
  if (missing.length === 0) return;
  const type = `ENUM(${[...have, ...missing].map((v) => mysql.escape(v)).join(',')})`;
  const name = (v: unknown): string => (typeof v === 'string' && /^\w+$/.test(v) ? v : '');
  const charset = name(col.cs) ? ` CHARACTER SET ${name(col.cs)}` : '';
  const collate = name(col.coll) ? ` COLLATE ${name(col.coll)}` : '';
  await pool.query({
    sql: `ALTER TABLE sync_operations MODIFY operation ${type}${charset}${collate}${col.nullable === 'YES' ? ' NULL' : ' NOT NULL'}`,
    timeout: DDL_TIMEOUT_MS,
  });
}

/** The values of an ENUM column type as information_schema spells it: `enum('a','it''s')`. */
export function enumValues(type: string): string[] {
  if (!/^enum\(/i.test(type)) return [];
  return [...type.matchAll(/'((?:[^']|'')*)'/g)].map((m) => (m[1] ?? '').replace(/''/g, "'"));
}
