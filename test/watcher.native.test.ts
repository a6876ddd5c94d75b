// Native mode (chokidar on inotify) through the in-process bus: the same events as the poller
// for a local folder, with prev and last-known sizes from its index.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBus, type ChangeEvent } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../src/watcher/index.js';
import { markRootSync } from './applier.helpers.js';
import { tempName } from '../src/fsops/index.js';

const root = mkdtempSync(join(tmpdir(), 'hasync-native-'));
const rootId = markRootSync(root, 'local', 'laptop');
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function waitFor<T>(f: () => T | undefined, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('native mode', () => {
  it('publishes creates, modifications, mkdir, deletes; skips temp files', async () => {
    writeFileSync(join(root, 'old.txt'), 'old');
    const bus = await openBus({ kind: 'memory' });
    const seen: ChangeEvent[] = [];
    const stop = new AbortController();
    const tap = bus.watch({}, (d) => d.event && seen.push(d.event), stop.signal);
    const w = new RootWatcher(
      { pair: 'local', side: 'laptop', root },
      { ...DEFAULT_WATCHER_OPTIONS, mode: 'native' },
      { bus, clock: systemClock, logger: createLogger({ silent: true }) },
    );
    await w.start(stop.signal);
    const running = w.run(stop.signal);
    const find = (t: string, p: string): ChangeEvent | undefined =>
      seen.find((e) => e.type === t && e.path === p);

    writeFileSync(join(root, 'new.txt'), 'new!');
    writeFileSync(join(root, tempName(rootId)), 'tmp');
    expect((await waitFor(() => find('upsert', 'new.txt'))).size).toBe(4);
    appendFileSync(join(root, 'old.txt'), '+more');
    const mod = await waitFor(() => find('upsert', 'old.txt'));
    expect(mod.prev).toMatchObject({ size: 3 });
    mkdirSync(join(root, 'd'));
    expect((await waitFor(() => find('upsert', 'd'))).kind).toBe('dir');
    unlinkSync(join(root, 'new.txt'));
    expect((await waitFor(() => find('delete', 'new.txt'))).size).toBe(4);
    expect(seen.some((e) => e.path.includes('.ha-sync-'))).toBe(false);
    // A name starting with '..' is inside the root (it was once taken for '../', outside it).
    writeFileSync(join(root, '..notes.txt'), 'dots');
    expect((await waitFor(() => find('upsert', '..notes.txt'))).size).toBe(4);

    stop.abort();
    await running;
    await tap;
    await bus.close();
  });
});
