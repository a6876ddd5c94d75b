// Whether both roots look mounted. An unmounted NFS export looks like an empty (or missing)
// folder, and every absence in it like a delete: nothing is applied while a root looks unmounted.
// The state is cached for a second; a delete asks uncached (`fresh`), since its only evidence is
// an absence.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { FsOps } from './fsadapter.js';
import type { SideRef } from './windows.js';

type RootState = 'missing' | 'empty' | 'ok';

const ROOT_STATE_TTL_MS = 1000;

export class MountWatch {
  private readonly states = new Map<string, { at: number; state: RootState }>();
  private readonly seenNonEmpty = new Set<string>();
  private readonly logged = new Set<string>();

  constructor(
    private readonly pair: string,
    private readonly sides: readonly [SideRef, SideRef],
    private readonly fs: FsOps,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  private async state(side: SideRef, fresh: boolean): Promise<RootState> {
    const now = this.clock.now();
    const c = this.states.get(side.label);
    if (!fresh && c && now - c.at < ROOT_STATE_TTL_MS) return c.state;
    const state = await this.fs.rootState(side.root);
    this.states.set(side.label, { at: now, state });
    if (state === 'ok') this.seenNonEmpty.add(side.label);
    return state;
  }

  /**
   * Why a root looks unmounted (logged once per reason), or null. An empty root counts only once
   * it was seen with files and while the other side still has some.
   */
  async unmounted(fresh = false): Promise<string | null> {
    const [a, b] = this.sides;
    const [sa, sb] = await Promise.all([this.state(a, fresh), this.state(b, fresh)]);
    let why: string | null = null;
    for (const [side, s, o] of [
      [a, sa, sb],
      [b, sb, sa],
    ] as const) {
      if (s === 'missing') why ??= `root of ${side.label} ('${side.root}') is missing or unreadable`;
      else if (s === 'empty' && o === 'ok' && this.seenNonEmpty.has(side.label)) {
        why ??= `root of ${side.label} ('${side.root}') is suddenly empty while the other side is not`;
      }
    }
    if (why === null) {
      if (this.logged.size > 0) {
        this.log.info({ pair: this.pair }, 'both roots look mounted again: applying');
        this.logged.clear();
      }
      return null;
    }
    if (!this.logged.has(why)) {
      this.logged.add(why);
      this.log.error({ pair: this.pair }, `${why}: looks unmounted, nothing is applied until it is back`);
    }
    return why;
  }
}
