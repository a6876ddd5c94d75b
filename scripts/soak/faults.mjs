// Executes the fault schedule: each fault starts at its time, holds, then heals. Faults of
// different kinds may overlap (a kill while NATS is down); those of one kind never do.
//   kill      kill -9 of a watcher, the applier or a running reconcile; restarted after holdMs
//   nats      kill -9 of the private nats-server; restarted (same port, same store) after holdMs
//   mariadb   the private mariadbd stopped (kill -9 or SIGTERM, drawn from the schedule); restarted
//   netfs     the mount cut (`netfs cut`), healed after holdMs
//   diskfull  the tmpfs that holds side b filled with a ballast file, freed after holdMs
import { Buffer } from 'node:buffer';
import { open, unlink } from 'node:fs/promises';
import { sleep } from './services.mjs';

export class Faults {
  constructor({ system, nats, db, netfsMount, netfsCmd, ballast, log }) {
    this.system = system;
    this.nats = nats;
    this.db = db;
    this.netfsMount = netfsMount;
    this.netfsCmd = netfsCmd;
    this.ballast = ballast;
    this.log = log;
    this.injected = 0;
    this.byKind = new Map();
    this.skipped = new Map();
    this.failures = [];
    this.journal = [];
    this.cut = false;
  }

  async run(schedule, signal) {
    const t0 = Date.now();
    const running = [];
    for (const f of schedule) {
      if (signal.aborted) break;
      const wait = t0 + f.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      running.push(this.one(f));
    }
    await Promise.all(running);
  }

  async one(f) {
    try {
      const hit = await this.inject(f);
      if (!hit) {
        this.skipped.set(f.target, (this.skipped.get(f.target) ?? 0) + 1);
        return;
      }
      this.injected++;
      this.journal.push(`${Date.now()} fault ${f.target} for ${f.holdMs} ms`);
      this.byKind.set(f.target, (this.byKind.get(f.target) ?? 0) + 1);
      this.log(`fault: ${f.target} for ${f.holdMs} ms`);
      await sleep(f.holdMs);
    } catch (err) {
      this.failures.push(`${f.target}: ${err.message}`);
    } finally {
      await this.heal(f).catch((err) => this.failures.push(`heal ${f.target}: ${err.message}`));
      this.journal.push(`${Date.now()} healed ${f.target}`);
    }
  }

  async inject(f) {
    switch (f.kind) {
      case 'kill':
        return this.system.kill(f.target);
      case 'nats':
        return this.nats.proc.kill9();
      case 'mariadb':
        // Half the time a crash, half a clean stop (the schedule's holdMs parity picks).
        if (f.holdMs % 2) return this.db.proc.kill9();
        await this.db.proc.stop(20_000);
        return true;
      case 'netfs':
        if (!this.netfsMount) return false;
        this.cut = true;
        await this.netfsCmd('cut', this.netfsMount);
        return true;
      case 'diskfull':
        return this.fill();
      default:
        return false;
    }
  }

  async heal(f) {
    switch (f.kind) {
      case 'kill':
        return this.system.restart(f.target);
      case 'nats':
        if (!this.nats.proc.running) await this.nats.start();
        return;
      case 'mariadb':
        if (!this.db.proc.running) await this.db.start();
        return;
      case 'netfs':
        // Healing a mount that is not cut would start a second proxy (and leak the first).
        if (this.netfsMount && this.cut) await this.netfsCmd('heal', this.netfsMount);
        this.cut = false;
        return;
      case 'diskfull':
        if (this.ballast) await unlink(this.ballast).catch(() => undefined);
        return;
    }
  }

  /** Writes the ballast until the filesystem says ENOSPC. False when there is no tmpfs. */
  async fill() {
    if (!this.ballast) return false;
    const fh = await open(this.ballast, 'w');
    const buf = Buffer.alloc(1024 * 1024, 0x5a);
    try {
      for (;;) await fh.write(buf);
    } catch (err) {
      if (err.code !== 'ENOSPC') throw err;
    } finally {
      await fh.close();
    }
    return true;
  }

  /** Heals everything still broken (after an abort). */
  async healAll() {
    if (this.ballast) await unlink(this.ballast).catch(() => undefined);
    if (!this.nats.proc.running) await this.nats.start();
    if (!this.db.proc.running) await this.db.start();
  }
}
