// A move's baseline: the records of a path and everything below it re-keyed to the new path, so
// the next decisions there compare each side with what both held before the move (an edit made
// on the other side before the rename still reads as that side's change, and follows the move).
//
// Three steps: what stood at the new path is dropped, the records are written under the new path
// (a transaction per 2,000 records), the old ones dropped. A process that dies between them leaves
// records at both paths (the old ones are dropped when a run finds nothing there) or none at the
// new one (decided then without a baseline: newest wins, nothing deleted). Never a wrong record.
import { splitPath, subtreeRange } from './rows.js';
import type { BaseRecord, BaselineChange, BaselineStore } from './types.js';

/** Changes written per transaction. */
const BATCH = 2000;

/**
 * Re-keys the record of `from` and every record below it to `to`. Returns the records moved and
 * the bytes of the files among them (side a's sizes).
 */
export async function moveTree(
  store: BaselineStore,
  from: string,
  to: string,
): Promise<{ records: number; bytes: number }> {
  if (from === '' || to === '' || from === to || to.startsWith(subtreeRange(from).lo)) {
    throw new RangeError(`cannot move the baseline of '${from}' to '${to}'`);
  }
  const self = await store.readPath(from);
  const dirs = await store.treeDirs(from);
  await store.dropTree(to);
  let moved = 0;
  let bytes = 0;
  let batch: BaselineChange[] = [];
  const put = async (dir: string, rec: BaseRecord): Promise<void> => {
    batch.push({ dir, name: rec.name, rec });
    moved++;
    if (rec.a.kind === 'file') bytes += rec.a.size;
    if (batch.length >= BATCH) {
      await store.write(batch);
      batch = [];
    }
  };
  if (self) {
    const { dir, name } = splitPath(to);
    await put(dir, { ...self, name });
  }
  for (const dir of dirs) {
    const target = `${to}${dir.slice(from.length)}`;
    for (const rec of await store.readDir(dir)) await put(target, rec);
  }
  if (batch.length > 0) await store.write(batch);
  await store.dropTree(from);
  return { records: moved, bytes };
}
