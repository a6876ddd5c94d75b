// Public surface of the lock module. Placeholder until issue 4 lands: a lock that is always free.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { LockConfig } from '../config/index.js';
import type { Lock, LockHandle } from './types.js';

export type * from './types.js';

export interface LockOptions extends LockConfig {
  pair: string;
  logDir: string;
  clock: Clock;
  log: Logger;
  env: NodeJS.ProcessEnv;
}

/** The holder identity: `<pod-name>/<run-id>` (pod name from POD_NAME, else the hostname). */
export { holderIdentity } from './holder.js';

// eslint-disable-next-line @typescript-eslint/require-await
export async function openLock(opts: LockOptions): Promise<Lock> {
  return {
    kind: 'none',
    name: `ha-sync-${opts.pair}`,
    acquire: ({ holder }): Promise<LockHandle> =>
      Promise.resolve({
        holder,
        lost: new AbortController().signal,
        contended: () => false,
        release: () => Promise.resolve(),
      }),
  };
}
