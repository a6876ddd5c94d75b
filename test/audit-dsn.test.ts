// DSN parsing (both forms) and the rule that a password never reaches a log line, an error message
// or the CLI's output, even when connecting fails.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeTarget, openAudit, openAuditReader, parseDsn, pruneAudit } from '../src/audit/index.js';
import { main } from '../src/cli/main.js';
import type { CliContext } from '../src/cli/context.js';
import { captureLog, closedPort, end, header, op, tempDir } from './audit.helpers.js';

describe('parseDsn', () => {
  it.each([
    [
      'user:pass@tcp(general-purpose-db.infrastructure.svc.cluster.local:3306)/general_db',
      {
        user: 'user',
        password: 'pass',
        host: 'general-purpose-db.infrastructure.svc.cluster.local',
        port: 3306,
        database: 'general_db',
      },
    ],
    [
      'root:@tcp(127.0.0.1:3307)/db',
      { user: 'root', password: '', host: '127.0.0.1', port: 3307, database: 'db' },
    ],
    [
      'root@tcp(db)/x?parseTime=true&loc=UTC',
      { user: 'root', password: '', host: 'db', port: 3306, database: 'x' },
    ],
    [
      'u:p@ss:w@rd@tcp([::1]:3306)/db',
      { user: 'u', password: 'p@ss:w@rd', host: '::1', port: 3306, database: 'db' },
    ],
    ['u:%41b@tcp(h:1)/d', { user: 'u', password: '%41b', host: 'h', port: 1, database: 'd' }],
    ['u:pw@/d', { user: 'u', password: 'pw', host: '127.0.0.1', port: 3306, database: 'd' }],
    [
      'u:pw@unix(/run/mysqld/mysqld.sock)/d',
      { user: 'u', password: 'pw', socketPath: '/run/mysqld/mysqld.sock', database: 'd' },
    ],
    [
      'mysql://user:pass@host:3306/general_db',
      { user: 'user', password: 'pass', host: 'host', port: 3306, database: 'general_db' },
    ],
    [
      'mysql://user:p%40ss%2Fw%3Ard@host/db',
      { user: 'user', password: 'p@ss/w:rd', host: 'host', port: 3306, database: 'db' },
    ],
    ['mysql://user@host:3310/db', { user: 'user', password: '', host: 'host', port: 3310, database: 'db' }],
    ['mysql://user:@[::1]:3306/db', { user: 'user', password: '', host: '::1', port: 3306, database: 'db' }],
    ['mysql://u:p@h/db?ssl=true', { tls: 'verify' }],
    ['u:p@tcp(h)/db?tls=skip-verify', { tls: 'skip-verify' }],
  ])('%s', (dsn, want) => {
    expect(parseDsn(dsn)).toMatchObject(want);
  });

  it.each([
    ['', /empty DSN/],
    ['no-slash-here', /no \/database/],
    ['u:SuperSecret1@tcp(h:3306)/', /no database name/],
    [':SuperSecret1@tcp(h:3306)/db', /no user/],
    ['u:SuperSecret1@udp(h)/db', /unsupported network/],
    ['u:SuperSecret1@tcp(h:99999)/db', /port out of range/],
    ['postgres://u:SuperSecret1@h/db', /unsupported scheme/],
    ['mysql://u:SuperSecret1@h/', /no database name/],
    ['mysql://u:SuperSecret1%zz@h/db', /bad percent-encoding/],
    ['u:SuperSecret1@tcp(h)/db?tls=maybe', /tls must be/],
  ])('rejects %j in one line without echoing it', (dsn, re) => {
    let msg = '';
    try {
      parseDsn(dsn);
    } catch (err) {
      msg = (err as Error).message;
      expect((err as { code?: string }).code).toBe('USAGE');
    }
    expect(msg).toMatch(re);
    expect(msg).toMatch(/^--db-dsn: /);
    expect(msg).not.toContain('SuperSecret1');
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('describes a target without its password', () => {
    expect(describeTarget(parseDsn('admin:SuperSecret1@tcp(db:3306)/general_db'))).toBe(
      'mysql://admin@db:3306/general_db',
    );
  });
});

function sink(): { stream: Writable; text: () => string } {
  let out = '';
  return {
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        out += c.toString();
        cb();
      },
    }),
    text: () => out,
  };
}

describe('the password never appears in output', () => {
  const secret = 'Pa55-w0rd:@/Secret';
  const enc = encodeURIComponent(secret);

  it.each([
    ['wrong password, Go form', () => `root:${secret.replace('/', '_')}@tcp(127.0.0.1:3306)/mysql`],
    ['wrong password, URL form', () => `mysql://root:${enc}@127.0.0.1:3306/mysql`],
    ['bad host', () => `mysql://root:${enc}@no-such-host.invalid:3306/db`],
    ['closed port', async () => `mysql://root:${enc}@127.0.0.1:${await closedPort()}/db`],
  ])('%s: logs, errors and CLI output are clean', async (_name, mkDsn) => {
    const dsn = await Promise.resolve(mkDsn());
    const pw = dsn.startsWith('mysql://') ? secret : secret.replace('/', '_');
    const t = tempDir();
    const cap = captureLog();
    const seen: string[] = [];
    try {
      const a = await openAudit({ dsn, logDir: t.dir, log: cap.log, connectTimeoutMs: 1500 });
      try {
        await a.flushPending();
        const run = await a.beginRun(header());
        await run.record(op(1));
        expect((await run.finish(end())).flushed).toBe(false);
        expect(await a.lastDryRun('media', 'dell-to-hp')).toBeNull();
      } finally {
        await a.close();
      }
      const r = await openAuditReader({ dsn, logDir: t.dir, log: cap.log, connectTimeoutMs: 1500 });
      try {
        for (const call of [
          () => r.ping(),
          () => r.pairs(),
          () => r.iterations({ limit: 5 }),
          () => r.operations(1),
        ]) {
          const err = await call().then(
            () => null,
            (e: unknown) => e as Error & { code?: string },
          );
          expect(err?.code).toBe('AUDIT_UNAVAILABLE');
          seen.push(err!.message, String(err!.stack), JSON.stringify(err));
        }
      } finally {
        await r.close();
      }
      const pruneErr = await pruneAudit({
        dsn,
        logDir: t.dir,
        olderThanDays: 1,
        connectTimeoutMs: 1500,
      }).catch((e: Error) => e);
      expect(pruneErr).toBeInstanceOf(Error);
      seen.push((pruneErr as Error).message, String((pruneErr as Error).stack));

      const out = sink();
      const errOut = sink();
      const ctx: CliContext = {
        stdout: out.stream,
        stderr: errOut.stream,
        env: { HA_SYNC_DEBUG: '1' },
        signal: new AbortController().signal,
      };
      expect(await main(['prune', '--older-than-days', '3', '--db-dsn', dsn], ctx)).toBe(1);
      expect(await main(['prune', '--older-than-days', 'x', '--db-dsn', dsn], ctx)).toBe(2);
      seen.push(out.text(), errOut.text());
      expect(errOut.text()).toMatch(/ha-sync prune: audit store mysql:\/\/root@/);

      const all = [cap.text(), ...seen].join('\n');
      expect(all).toMatch(/unavailable/);
      for (const form of [pw, encodeURIComponent(pw), 'Pa55-w0rd']) expect(all).not.toContain(form);
    } finally {
      t.remove();
    }
  });
});
