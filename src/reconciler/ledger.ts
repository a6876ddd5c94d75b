// A second record of each root's id, in the run's log dir (`root-ids-<pair>.json`), beside the one
// in the pair's baseline. When the database that holds the baseline is down, a root that lost its
// marker (a share not mounted) must still be told from one never marked: the ledger says which
// roots were marked before. Written through a temp file and a rename; unreadable or garbled, it
// knows nothing (never an error: the baseline is the main record).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ROOT_ID_RE } from '../fsops/index.js';

export interface RootLedger {
  get(key: string): Promise<string | null>;
  set(key: string, id: string): Promise<void>;
}

export function fileLedger(logDir: string, pair: string): RootLedger {
  const file = join(logDir, `root-ids-${pair}.json`);
  const read = async (): Promise<Record<string, string>> => {
    try {
      const o = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { roots?: unknown };
      const roots = (o.roots ?? {}) as Record<string, unknown>;
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(roots)) if (typeof v === 'string' && ROOT_ID_RE.test(v)) out[k] = v;
      return out;
    } catch {
      return {};
    }
  };
  return {
    get: async (key) => (await read())[key] ?? null,
    set: async (key, id) => {
      const roots = { ...(await read()), [key]: id };
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await fs.promises.writeFile(tmp, `${JSON.stringify({ v: 1, roots })}\n`, { mode: 0o644 });
        await fs.promises.rename(tmp, file);
      } catch {
        await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      }
    },
  };
}
