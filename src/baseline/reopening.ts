// A baseline store for a long-lived process (the live applier, `run`): it opens the real store on
// first use and, while that fails, opens it again on a later call, instead of leaving the process
// without a baseline for the rest of its life.
//
// Why: `openBaseline` checks the store works before returning it (MySQL: connect and create the
// tables). An applier that started while the database was down used to get no store at all and
// ran in safe mode until restarted: deletes never propagated and nothing it synced was recorded,
// so later decisions saw a stale baseline (found by the soak, issue 14). Through this store a
// failed open is one more BASELINE_UNAVAILABLE call: the applier plans without the baseline for
// its retry interval, then its next call opens the store.
//
// Invariant: a call either runs on a store that opened, or throws BASELINE_UNAVAILABLE; never on
// half of one. After close, every call throws.
import { isHaSyncError } from '../errors.js';
import { unavailable } from './rows.js';
import type { BaselineChange, BaselineStore } from './types.js';

export function reopeningBaseline(
  kind: BaselineStore['kind'],
  open: () => Promise<BaselineStore>,
): BaselineStore {
  let store: BaselineStore | null = null;
  let opening: Promise<BaselineStore> | null = null;
  let closed = false;

  const current = async (): Promise<BaselineStore> => {
    if (closed) throw unavailable('baseline: store closed');
    if (store) return store;
    opening ??= open().then(
      (s) => {
        opening = null;
        if (closed) {
          // Closed while it was opening: release what just opened.
          void s.close().catch(() => undefined);
          throw unavailable('baseline: store closed');
        }
        store = s;
        return s;
      },
      (err: unknown) => {
        opening = null;
        throw isHaSyncError(err, 'BASELINE_UNAVAILABLE')
          ? err
          : unavailable(`baseline: cannot open the store: ${String((err as Error)?.message ?? err)}`, err);
      },
    );
    return opening;
  };

  return {
    kind,
    readDir: async (dir: string) => (await current()).readDir(dir),
    readPath: async (path: string) => (await current()).readPath(path),
    write: async (changes: readonly BaselineChange[]) => (await current()).write(changes),
    dropTree: async (path: string) => (await current()).dropTree(path),
    treeDirs: async (path: string) => (await current()).treeDirs(path),
    dirDigest: async (dir: string) => (await current()).dirDigest(dir),
    setDigest: async (dir: string, digest: string) => (await current()).setDigest(dir, digest),
    close: async () => {
      closed = true;
      const s = store;
      store = null;
      await s?.close();
    },
  };
}
