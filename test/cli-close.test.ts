// Commands' start-up failures, in process: what a command opened is closed again.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as AuditModule from '../src/audit/index.js';
import type * as UiModule from '../src/ui/index.js';

const opened = vi.hoisted(() => ({ audit: 0, auditClosed: 0, reader: 0, readerClosed: 0, breakUi: false }));
vi.mock('../src/audit/index.js', async (importOriginal) => {
  const m = await importOriginal<typeof AuditModule>();
  return {
    ...m,
    openAudit: async (...args: Parameters<typeof m.openAudit>) => {
      const store = await m.openAudit(...args);
      opened.audit++;
      const close = store.close.bind(store);
      store.close = async () => {
        opened.auditClosed++;
        await close();
      };
      return store;
    },
    openAuditReader: async (...args: Parameters<typeof m.openAuditReader>) => {
      const reader = await m.openAuditReader(...args);
      opened.reader++;
      const close = reader.close.bind(reader);
      reader.close = async () => {
        opened.readerClosed++;
        await close();
      };
      return reader;
    },
  };
});
vi.mock('../src/ui/index.js', async (importOriginal) => {
  const m = await importOriginal<typeof UiModule>();
  return {
    ...m,
    buildApp: (...args: Parameters<typeof m.buildApp>) => {
      if (opened.breakUi) throw new Error('buildApp broke');
      return m.buildApp(...args);
    },
  };
});

const { applyCommand } = await import('../src/cli/apply.js');
const { uiCommand } = await import('../src/cli/ui.js');

const ctx = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: {},
  signal: new AbortController().signal,
};

let base: string;
afterEach(() => rmSync(base, { recursive: true, force: true }));
function tempBase(): string {
  base = mkdtempSync(join(tmpdir(), 'ha-sync-cli-close-'));
  for (const d of ['a', 'b', 'state']) mkdirSync(join(base, d));
  return base;
}

describe('closing on start-up failures', () => {
  it('apply closes the audit store it opened when the bus cannot be opened (unreadable --nats-creds)', async () => {
    const b = tempBase();
    const argv = [
      ...['--pair', 'media', '--a', `dell=${join(b, 'a')}`, '--b', `hp=${join(b, 'b')}`],
      ...['--log-dir', join(b, 'state'), '--nats-creds', join(b, 'none.creds'), '--lock', 'file'],
    ];
    await expect(applyCommand(argv, ctx)).rejects.toThrow(/--nats-creds: cannot read/);
    expect(opened).toMatchObject({ audit: 1, auditClosed: 1 });
  });

  it('ui closes the audit reader when the server cannot be built', async () => {
    const b = tempBase();
    opened.breakUi = true;
    await expect(uiCommand(['--log-dir', join(b, 'state'), '--port', '0'], ctx)).rejects.toThrow(
      /buildApp broke/,
    );
    expect(opened).toMatchObject({ reader: 1, readerClosed: 1 });
  });
});
