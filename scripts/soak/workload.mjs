// Executes the workload script against the two roots and keeps the ledger the oracle checks:
//   written:    every content (md5 of its bytes) the workload wrote completely, with where;
//   superseded: every content the workload itself destroyed (read just before it overwrote,
//               truncated, renamed over or deleted it).
// A content is identified by its hash alone: each write carries its seed and op number, so two
// writes never share a hash. A rename or move by the workload carries its content along (the hash
// is unchanged), so it needs no entry. What ha-sync replaced or deleted is whatever was written and
// not superseded, yet is no longer on a live path at the end: the oracle looks for it in the kept
// versions and conflict copies.
//
// Every call is asynchronous and each operation is bounded by a timeout, so a hung network mount
// stalls one operation, not the run. Errors (ENOENT after a sync moved things, ENOSPC while the
// disk is full, EIO while the mount is cut) are counted, never fatal: users see them too.
import { Buffer } from 'node:buffer';
import { clearTimeout, setTimeout } from 'node:timers';
import { createHash } from 'node:crypto';
import {
  link,
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rmdir,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Prng } from './prng.mjs';
import { sleep } from './services.mjs';

const OP_TIMEOUT_MS = 8000;

export const md5 = (buf) => createHash('md5').update(buf).digest('hex');

export function contentOf(seed, op, side, size) {
  const head = Buffer.from(`soak seed ${seed} op ${op} side ${side}\n`);
  return Buffer.concat([head, new Prng(op * 7919 + seed).bytes(Math.max(0, size - head.length))]);
}

export class Ledger {
  constructor() {
    /** md5 -> {path, side, op, atMs} */
    this.written = new Map();
    this.superseded = new Set();
  }

  wrote(buf, path, side, op, t0) {
    this.written.set(md5(buf), { path, side, op, atMs: Date.now() - t0 });
  }

  destroyed(buf) {
    this.superseded.add(md5(buf));
  }
}

export class Workload {
  /**
   * roots: {a, b} as ha-sync sees them; server: with --netfs, side a's server directory (the
   * workload's "other NFS client" writes there).
   */
  constructor({ seed, roots, server, ledger }) {
    this.seed = seed;
    this.roots = roots;
    this.server = server;
    this.ledger = ledger;
    this.t0 = Date.now();
    this.done = 0;
    this.errors = new Map();
    this.timedOut = 0;
    this.busy = new Set();
    this.background = new Set();
    /** One line per executed operation (epoch ms, op, outcome), written beside the process logs. */
    this.journal = [];
  }

  rootFor(op, side = op.side) {
    return side === 'a' && op.via === 'server' && this.server ? this.server : this.roots[side];
  }

  /**
   * Writes the initial tree on side a (before the first reconcile copies it to b); with --netfs on
   * the server, as a file server would hold it (writing it through the mount takes a minute).
   */
  async seedTree(initial) {
    for (const f of initial) {
      const p = join(this.server ?? this.roots.a, f.path);
      await mkdir(dirname(p), { recursive: true });
      const buf = contentOf(this.seed, 1e9 + f.seed, 'a', f.size);
      await writeFile(p, buf);
      this.ledger.wrote(buf, f.path, 'a', -1, this.t0);
    }
  }

  /** Runs the operations at their times; resolves when the last one (and every slow write) ended. */
  async run(ops, signal) {
    this.t0 = Date.now();
    for (const op of ops) {
      if (signal.aborted) break;
      const wait = this.t0 + op.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      if (op.kind === 'slow' || op.kind === 'both') {
        // Slow writes and the two-sided edit run beside the rest.
        const p = this.guard(op).finally(() => this.background.delete(p));
        this.background.add(p);
      } else {
        await this.guard(op);
      }
    }
    await Promise.all(this.background);
  }

  async guard(op) {
    if (this.busy.has(op.path)) return;
    let timer;
    const timeout = new Promise(
      (r) => (timer = setTimeout(() => r('timeout'), op.kind === 'slow' ? 60_000 : OP_TIMEOUT_MS)),
    );
    const started = Date.now();
    let outcome = 'ok';
    try {
      const r = await Promise.race([this.exec(op), timeout]);
      if (r === 'timeout') {
        this.timedOut++;
        outcome = 'timeout';
      } else this.done++;
    } catch (err) {
      const code = err.code ?? err.message;
      this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
      outcome = code;
    } finally {
      const where = op.via === 'server' ? 'a(server)' : op.side;
      this.journal.push(
        `${started} ${Date.now()} op ${op.n} ${op.kind} ${where} ${JSON.stringify(op.path)}${op.to ? ` -> ${JSON.stringify(op.to)}` : ''} ${outcome}`,
      );
      clearTimeout(timer);
    }
  }

  content(op, side = op.side) {
    return contentOf(this.seed, op.n, side, op.size);
  }

  async exec(op) {
    const root = this.rootFor(op);
    const p = join(root, op.path);
    switch (op.kind) {
      case 'create':
        return this.create(op, root, op.path, this.content(op));
      case 'modify':
        return this.modify(op, root, op.path, this.content(op));
      case 'renameOver':
        return this.renameOver(op, root, op.path, this.content(op));
      case 'delete':
        return this.deleteFile(p);
      case 'rename':
      case 'move':
        return this.moveFile(p, join(root, op.to));
      case 'renameDir': {
        if (!(await isDir(p)) || (await exists(join(root, op.to)))) return;
        await mkdir(dirname(join(root, op.to)), { recursive: true });
        return rename(p, join(root, op.to));
      }
      case 'mkdir':
        return mkdir(p, { recursive: true });
      case 'rmdir':
        return rmdir(p);
      case 'rmtree':
        return this.rmtree(p);
      case 'fileToDir': {
        if (!(await isFile(p))) return;
        await this.deleteFile(p);
        await mkdir(p);
        return this.create(op, root, `${op.path}/inner.txt`, this.content(op));
      }
      case 'dirToFile': {
        if (!(await isDir(p))) return;
        await this.rmtree(p);
        return this.create(op, root, op.path, this.content(op));
      }
      case 'both': {
        // The same path edited on both sides within a second.
        const other = op.side === 'a' ? 'b' : 'a';
        await this.modify(op, root, op.path, this.content(op));
        await sleep(op.delayMs);
        return this.modify(op, this.rootFor(op, other), op.path, this.content(op, other), other);
      }
      case 'slow':
        return this.slow(op, root);
      default:
        throw new Error(`unknown op ${op.kind}`);
    }
  }

  async create(op, root, rel, buf, side = op.side) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    try {
      await writeFile(p, buf, { flag: 'wx' });
    } catch (err) {
      if (err.code === 'EEXIST') return this.modify(op, root, rel, buf, side);
      throw err;
    }
    this.ledger.wrote(buf, rel, side, op.n, this.t0);
  }

  /** In place: what the open file held is read through the same descriptor, then truncated. */
  async modify(op, root, rel, buf, side = op.side) {
    let fh;
    try {
      fh = await open(join(root, rel), 'r+');
    } catch (err) {
      if (err.code === 'ENOENT') return this.create(op, root, rel, buf, side);
      throw err;
    }
    try {
      const seen = await fh.readFile();
      const truth =
        root === this.roots.a && this.server ? await this.readTruth(join(root, rel)).catch(() => null) : null;
      this.ledger.destroyed(seen);
      if (truth && !truth.equals(seen)) this.ledger.destroyed(truth);
      await fh.truncate(0);
      await writeAll(fh, buf, 0, buf.length);
    } finally {
      await fh.close();
    }
    this.ledger.wrote(buf, rel, side, op.n, this.t0);
  }

  /** As editors save: a temp file beside the target, renamed over it. */
  async renameOver(op, root, rel, buf) {
    const p = join(root, rel);
    if (!(await isFile(p))) return this.create(op, root, rel, buf);
    const tmp = join(dirname(p), `.soak-${op.n}.part`);
    try {
      await writeFile(tmp, buf, { flag: 'wx' });
      const old = await this.readTruth(p).catch(() => null);
      await rename(tmp, p);
      if (old) this.ledger.destroyed(old);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    this.ledger.wrote(buf, rel, op.side, op.n, this.t0);
  }

  async deleteFile(p) {
    const old = await this.readTruth(p);
    await unlink(p);
    this.ledger.destroyed(old);
  }

  /**
   * What `p` holds, read where it truly is: a path in side a's netfs mount is read in the server
   * directory. Through the mount a read can be cut to a size the client cached a moment before
   * (an attribute cache, as NFS has), and the oracle would then record a content nobody wrote.
   */
  async readTruth(p) {
    const mount = this.roots.a;
    if (this.server && (p === mount || p.startsWith(`${mount}/`))) {
      try {
        return await readFile(this.server + p.slice(mount.length));
      } catch {
        // Gone on the server too: read through the mount, as before.
      }
    }
    return readFile(p);
  }

  /** A rename that never replaces: link(2) fails when the target exists (rename(2) on sshfs). */
  async moveFile(from, to) {
    if (!(await isFile(from))) return;
    await mkdir(dirname(to), { recursive: true });
    try {
      await link(from, to);
    } catch (err) {
      if (err.code === 'EEXIST') return;
      if (await exists(to)) return;
      return rename(from, to);
    }
    await unlink(from);
  }

  async rmtree(p) {
    let st;
    try {
      st = await lstat(p);
    } catch {
      return;
    }
    if (!st.isDirectory()) return this.deleteFile(p);
    for (const name of await readdir(p)) await this.rmtree(join(p, name));
    await rmdir(p);
  }

  /** A large file written in chunks while sync runs; its content counts once it is complete. */
  async slow(op, root) {
    const p = join(root, op.path);
    this.busy.add(op.path);
    try {
      await mkdir(dirname(p), { recursive: true });
      const buf = this.content(op);
      const fh = await open(p, 'wx');
      try {
        const chunk = 256 * 1024;
        for (let at = 0; at < buf.length; at += chunk) {
          await writeAll(fh, buf, at, Math.min(chunk, buf.length - at));
          await sleep(op.chunkMs);
        }
      } finally {
        await fh.close();
      }
      this.ledger.wrote(buf, op.path, op.side, op.n, this.t0);
    } finally {
      this.busy.delete(op.path);
    }
  }
}

/**
 * Writes buf[at, at+len) at file offset `at`, looping over short writes: near a full disk write(2)
 * returns fewer bytes before it fails with ENOSPC, and a content counts only once it is all there.
 */
async function writeAll(fh, buf, at, len) {
  let off = at;
  while (off < at + len) {
    const { bytesWritten } = await fh.write(buf, off, at + len - off, off);
    if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    off += bytesWritten;
  }
}

async function exists(p) {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function isFile(p) {
  try {
    return (await lstat(p)).isFile();
  } catch {
    return false;
  }
}

async function isDir(p) {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}
