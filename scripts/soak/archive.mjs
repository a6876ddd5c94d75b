// Keeps every opslog the run writes. A flushed opslog is deleted at once, so the audit oracle could
// not compare it with the database afterwards; a hard link taken when the file appears shares its
// inode, so every line appended later is in the copy too, and the unlink leaves the copy. Files
// are found by inotify (fs.watch) and, as a backstop, by a listing every 200 ms; a run whose file
// came and went between two looks is counted by the oracle as unverified, not as missing.
import { clearInterval, setInterval } from 'node:timers';
import { watch } from 'node:fs';
import { link, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const OPSLOG_RE = /^opslog-.*\.jsonl$/;

export class OpslogArchive {
  constructor(logDir, archiveDir) {
    this.logDir = logDir;
    this.archiveDir = archiveDir;
    this.linked = new Set();
    this.watcher = null;
    this.timer = null;
  }

  start() {
    this.watcher = watch(this.logDir, (_ev, name) => {
      if (name && OPSLOG_RE.test(name)) void this.take(name);
    });
    this.watcher.on('error', () => undefined);
    this.timer = setInterval(() => void this.scan(), 200);
  }

  async take(name) {
    if (this.linked.has(name)) return;
    try {
      await link(join(this.logDir, name), join(this.archiveDir, name));
      this.linked.add(name);
    } catch (err) {
      if (err.code === 'EEXIST') this.linked.add(name);
    }
  }

  async scan() {
    const names = await readdir(this.logDir).catch(() => []);
    await Promise.all(names.filter((n) => OPSLOG_RE.test(n)).map((n) => this.take(n)));
    return names;
  }

  /** Stops watching; returns the archived paths and the opslogs still pending in the log dir. */
  async stop() {
    this.watcher?.close();
    clearInterval(this.timer);
    const left = (await this.scan()).filter((n) => OPSLOG_RE.test(n));
    return {
      archive: [...this.linked].map((n) => join(this.archiveDir, n)),
      pending: left.map((n) => join(this.logDir, n)),
    };
  }
}
