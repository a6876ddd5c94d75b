// Whether both roots are the pair's roots right now: each holds its marker (`.ha-sync/root.json`
// naming this pair and side; see fsops marker.ts). An NFS export that is not mounted leaves a bare
// mount point behind, empty or with stale files in it, and without the marker: nothing is applied
// while a root lacks it, the event waits in NATS, and work resumes by itself once it is back. A
// root emptied for real still holds its marker: its deletes follow the deletion rules.
//
// A check costs one stat per root while the marker file is unchanged, so it is made right before
// every write, not only per event: a share unmounted between the decision and the write must not
// receive it.
import type { Clock } from '../clock.js';
import { RootGuard } from '../fsops/index.js';
import type { Logger } from '../log.js';
import type { FsOps } from './fsadapter.js';
import type { SideRef } from './windows.js';

/** A good check is trusted this long for reads, ms (writes always check again). */
const ROOT_STATE_TTL_MS = 1000;

export class MountWatch {
  private readonly guards: readonly [RootGuard, RootGuard];
  private okAt: number | null = null;
  private logged: string | null = null;

  constructor(
    private readonly pair: string,
    private readonly sides: readonly [SideRef, SideRef],
    private readonly fs: FsOps,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.guards = [
      new RootGuard(sides[0].root, pair, sides[0].label),
      new RootGuard(sides[1].root, pair, sides[1].label),
    ];
  }

  /**
   * Why a root is not the pair's now (one line, logged once per reason), or null when both hold
   * their markers. `fresh`: check now, even if a good check is less than a second old.
   */
  async unmounted(fresh = false): Promise<string | null> {
    const now = this.clock.now();
    if (!fresh && this.okAt !== null && now - this.okAt < ROOT_STATE_TTL_MS) return null;
    const states = await Promise.all(this.guards.map((g) => g.check()));
    let why: string | null = null;
    for (const [i, s] of states.entries()) {
      const side = this.sides[i]!;
      if (s.ok) this.fs.useRootId(side.root, s.marker.rootId);
      else why ??= `${side.label}: ${s.why}`;
    }
    if (why === null) {
      this.okAt = now;
      if (this.logged !== null) {
        this.log.info({ pair: this.pair }, 'both roots hold their markers again: applying');
        this.logged = null;
      }
      return null;
    }
    this.okAt = null;
    if (this.logged !== why) {
      this.logged = why;
      this.log.error(
        { pair: this.pair },
        `${why}: counts as not mounted; nothing is applied until it is back`,
      );
    }
    return why;
  }

  /** Why nothing is applied now (a root not the pair's), or null: from the last check. */
  get blocked(): string | null {
    return this.logged;
  }

  /** The root id of a side from its last good check (temp names carry it), or null. */
  rootId(side: SideRef): string | null {
    return this.guards[side.label === this.sides[0].label ? 0 : 1].rootId;
  }
}
