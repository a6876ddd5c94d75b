// MySQL DSNs in the two forms ha-sync accepts, parsed into mysql2 connection options.
//
//   Go style (the seed's Kubernetes secret):  user:pass@tcp(host:3306)/general_db?param=value
//   URL style:                                mysql://user:pass@host:3306/general_db
//
// Invariant: the password never appears in any message this module produces, nor in
// `describeDsn`; errors say what shape was expected without echoing the input. The Go form follows
// the Go driver's rules exactly (the last '@' before the last '/' ends the credentials, the first
// ':' splits user from password, no percent-decoding), so a secret that works for the Go binary
// works here; the URL form percent-decodes user, password and database.
import { usage } from '../errors.js';

export interface MysqlTarget {
  user: string;
  /** May be the empty string (no password). Never log it. */
  password: string;
  host: string;
  port: number;
  /** Unix socket path (Go form `unix(/path)`); host/port are ignored when set. */
  socketPath?: string;
  database: string;
  /** TLS: undefined (off), 'verify' or 'skip-verify' (Go `tls=true` / `tls=skip-verify`). */
  tls?: 'verify' | 'skip-verify';
}

const SHAPE =
  'expected user:pass@tcp(host:3306)/db or mysql://user:pass@host:3306/db (value not shown: it may hold a password)';

function bad(flag: string, why: string): Error {
  return usage(`${flag}: ${why}; ${SHAPE}`);
}

/** Parses either DSN form. Throws one USAGE line (naming `flag`) that never contains the input. */
export function parseDsn(dsn: string, flag = '--db-dsn'): MysqlTarget {
  const s = dsn.trim();
  if (s === '') throw bad(flag, 'empty DSN');
  if (/^mysql:\/\//i.test(s) || /^mariadb:\/\//i.test(s)) return parseUrlDsn(s, flag);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) throw bad(flag, 'unsupported scheme');
  return parseGoDsn(s, flag);
}

function parseUrlDsn(s: string, flag: string): MysqlTarget {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw bad(flag, 'not a valid URL');
  }
  if (!u.hostname) throw bad(flag, 'no host');
  let user: string, password: string, database: string;
  try {
    user = decodeURIComponent(u.username);
    password = decodeURIComponent(u.password);
    database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  } catch {
    throw bad(flag, 'bad percent-encoding');
  }
  if (user === '') throw bad(flag, 'no user');
  if (database === '' || database.includes('/')) throw bad(flag, 'no database name');
  const port = u.port === '' ? 3306 : Number(u.port);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return withParams({ user, password, host, port, database }, u.searchParams, flag);
}

function parseGoDsn(s: string, flag: string): MysqlTarget {
  // [user[:password]@][net[(addr)]]/dbname[?params], as go-sql-driver/mysql ParseDSN reads it.
  const slash = s.lastIndexOf('/');
  if (slash < 0) throw bad(flag, 'no /database');
  const head = s.slice(0, slash);
  const tail = s.slice(slash + 1);
  const q = tail.indexOf('?');
  const database = q < 0 ? tail : tail.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : tail.slice(q + 1));
  if (database === '') throw bad(flag, 'no database name');

  const at = head.lastIndexOf('@');
  const cred = at < 0 ? '' : head.slice(0, at);
  const netAddr = at < 0 ? head : head.slice(at + 1);
  const colon = cred.indexOf(':');
  const user = colon < 0 ? cred : cred.slice(0, colon);
  const password = colon < 0 ? '' : cred.slice(colon + 1);
  if (user === '') throw bad(flag, 'no user');

  const m = /^([a-z]*)(?:\((.*)\))?$/.exec(netAddr);
  if (!m) throw bad(flag, 'bad network address');
  const net = m[1] === '' ? 'tcp' : m[1]!;
  const addr = m[2] ?? '';
  if (net === 'unix') {
    if (addr === '') throw bad(flag, 'unix() needs a socket path');
    return withParams(
      { user, password, host: 'localhost', port: 3306, socketPath: addr, database },
      params,
      flag,
    );
  }
  if (net !== 'tcp') throw bad(flag, `unsupported network '${net}'`);
  const hp = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(addr);
  if (!hp) throw bad(flag, 'bad host:port');
  const host = hp[1] ?? (hp[2] === '' || hp[2] === undefined ? '127.0.0.1' : hp[2]);
  const port = hp[3] === undefined ? 3306 : Number(hp[3]);
  return withParams({ user, password, host, port, database }, params, flag);
}

function withParams(t: MysqlTarget, params: URLSearchParams, flag: string): MysqlTarget {
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw bad(flag, 'port out of range');
  const tls = params.get('tls') ?? params.get('ssl');
  if (tls === null || tls === 'false' || tls === '0') return t;
  if (tls === 'true' || tls === '1' || tls === 'required') return { ...t, tls: 'verify' };
  if (tls === 'skip-verify' || tls === 'preferred') return { ...t, tls: 'skip-verify' };
  throw bad(flag, 'tls must be true, false or skip-verify');
}

/** A DSN for log lines: `mysql://user@host:port/db`, password left out. */
export function describeTarget(t: MysqlTarget): string {
  const where = t.socketPath
    ? `unix(${t.socketPath})`
    : `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  return `mysql://${t.user}@${where}/${t.database}`;
}

/**
 * Removes every occurrence of the password (raw and percent-encoded) from a message. Error text
 * from drivers and the OS is passed through this before it is logged or stored, as a second line
 * of defence: the first is never putting the DSN into a message at all. Passwords shorter than 4
 * characters are not scrubbed (every 'e' in a message would vanish), they are not secrets anyway.
 */
export function scrubber(password: string): (msg: string) => string {
  if (password.length < 4) return (m) => m;
  const forms = [...new Set([password, encodeURIComponent(password)])];
  return (m) => {
    let out = m;
    for (const f of forms) out = out.split(f).join('[redacted]');
    return out;
  };
}
