/**
 * Rolling back a transaction whose journal is gone or unreadable, from what
 * the transaction folder itself holds: `installed.json` (the new database,
 * present until the commit), `old/N` (every node it displaced from the root)
 * and the root's own database (the old one, until the commit).
 *
 * Before the commit: every path of the new database that the old one does
 * not list, and that still holds what the new database says, is removed;
 * every path of the old database that no longer holds what the old database
 * says gets back the saved node that does (matched by type, sha256, target
 * or device numbers); folders the new database added are removed if empty;
 * a saved hard link of a node still in place is a copy and goes.
 * After the commit (the new database is in place and the old one was kept
 * as `installed.old.json`): what the post operations do is done from the
 * two databases (complete), and the history is moved in; saved nodes that
 * hold old package content go. Saved nodes that match no path (files no
 * package owns, such as account files) are never deleted: they are moved to
 * `var/lib/minos/salvage/ID/` and reported.
 */
import { createHash } from 'node:crypto';
import { closeSync, readSync, constants, type Stats } from 'node:fs';
import { confine, type Confined } from '../confine.js';
import { DB_DIR, readDb, type InstalledDb } from '../db/installed.js';
import { ioError, MinosError } from '../errors.js';
import { CAP } from '../input.js';
import type { FileEntry } from '../types.js';
import type { Emit } from './events.js';
import { HISTORY_FILE } from './root.js';

export const SALVAGE_DIR = `${DB_DIR}/salvage`;
/** The old database, hard-linked into the transaction folder before its journal is written. */
export const OLD_DB = 'installed.old.json';

function hashFile(c: Confined, p: string): string | undefined {
  let fd: number;
  try {
    fd = c.open(p, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** Does the node at `p` (lstat `st`) hold what `e` says? Contents by sha256, links by target. */
function holdsAt(c: Confined, p: string, st: Stats | undefined, e: FileEntry): boolean {
  if (!st) return false;
  switch (e.type) {
    case 'file':
    case 'hardlink':
      return st.isFile() && (e.type === 'hardlink' || (st.size === e.size && hashFile(c, p) === e.sha256));
    case 'symlink':
      return st.isSymbolicLink() && c.readlink(p) === e.target;
    case 'dir':
      return st.isDirectory();
    case 'fifo':
      return st.isFIFO();
    case 'char':
    case 'block':
      return (e.type === 'char' ? st.isCharacterDevice() : st.isBlockDevice()) && Math.floor(st.rdev / 256) === e.devmajor;
  }
}

function entries(db: InstalledDb): Map<string, FileEntry> {
  const m = new Map<string, FileEntry>();
  for (const r of db.packages) for (const f of r.files) m.set(f.path, f);
  return m;
}

function readState(c: Confined, rel: string): InstalledDb {
  let db: InstalledDb;
  try {
    db = JSON.parse(c.readFile(rel, CAP.state)?.toString('utf8') ?? '') as InstalledDb;
    if (!Array.isArray(db.packages)) throw new Error('no packages');
  } catch (e) {
    throw new MinosError('MN0004', `${c.abs(rel)}: unreadable database of an interrupted transaction: ${(e as Error).message}`, { data: { file: c.abs(rel) } });
  }
  return db;
}

/**
 * Roll back (before its commit) or finish (after it) the transaction in
 * `dir` (relative to the root) without its journal, then remove the folder.
 * Returns what was done. Every operation is confined to the root.
 */
export function salvageTxn(root: string, dir: string, id: string, emit: Emit): 'rolled back' | 'completed' | 'discarded' {
  const c = confine(root);
  const lstat = (p: string) => c.lstat(p);
  const newDbFile = `${dir}/installed.json`;
  const oldDir = `${dir}/old`;
  const saved = lstat(oldDir)?.isDirectory() ? c.readdir(oldDir) : [];
  let action: 'rolled back' | 'completed' | 'discarded';
  try {
    if (lstat(newDbFile)) {
      const newDb = readState(c, newDbFile);
      restore(c, oldDir, saved, entries(readDb(root)), entries(newDb));
      action = 'rolled back';
    } else {
      // No new database: never started (staging only), or committed (then the old database was kept beside it).
      const oldDbFile = `${dir}/${OLD_DB}`;
      action = 'discarded';
      if (lstat(oldDbFile)) {
        complete(c, oldDir, saved, readState(c, oldDbFile), readDb(root));
        action = 'completed';
      }
      const h = `${dir}/history.json`;
      if (lstat(h)) {
        c.rename(h, HISTORY_FILE);
        action = 'completed';
      }
    }
    const left = lstat(oldDir)?.isDirectory() ? c.readdir(oldDir) : [];
    if (left.length) {
      c.mkdirp(SALVAGE_DIR, 0o700);
      c.rename(oldDir, `${SALVAGE_DIR}/${id}`);
      emit({ type: 'warning', message: `transaction ${id}: ${left.length} saved files match no path of the database; kept in /${SALVAGE_DIR}/${id}` });
    }
    c.rmTree(dir);
  } catch (e) {
    throw e instanceof MinosError ? e : ioError(e, c.abs(dir));
  }
  return action;
}

function restore(c: Confined, oldDir: string, saved: string[], before: Map<string, FileEntry>, after: Map<string, FileEntry>): void {
  const lstat = (p: string) => c.lstat(p);
  const holds = (p: string, st: Stats | undefined, e: FileEntry) => holdsAt(c, p, st, e);
  const pool = saved.map((n) => ({ n, p: `${oldDir}/${n}`, st: lstat(`${oldDir}/${n}`) }));
  // Children before parents: a path's folder is emptied before it is removed.
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort().reverse();
  for (const path of paths) {
    const p = path;
    const was = before.get(path);
    const now = after.get(path);
    const st = lstat(p);
    if (!was) {
      if (!now) continue;
      if (now.type === 'dir') {
        if (st?.isDirectory()) {
          try {
            c.rmdir(p);
          } catch {
            // holds files no package owns: it stays
          }
        }
      } else if (holds(p, st, now)) c.unlink(p);
      continue;
    }
    if (holds(p, st, was)) {
      // A saved hard link of the node still in place (its replacement never came in) is a copy, not a saved file.
      const same = pool.findIndex((s) => s.st !== undefined && !s.st.isDirectory() && s.st.ino === st!.ino && s.st.dev === st!.dev);
      if (same >= 0) {
        c.unlink(pool[same].p);
        pool.splice(same, 1);
      }
      continue;
    }
    const i = pool.findIndex((s) => s.st !== undefined && holds(s.p, s.st, was));
    if (i < 0) continue; // not displaced by this transaction, or already back
    if (st?.isDirectory()) {
      try {
        c.rmdir(p);
      } catch {
        continue; // a folder holding other files is never removed
      }
    }
    c.rename(pool[i].p, p);
    pool.splice(i, 1);
  }
}

/**
 * After the commit: what the post operations do, from the two databases.
 * Paths only the old database lists are removed if they still hold what it
 * says (folders if empty); a changed config file of a removed package is
 * kept as PATH.minos-save; folders both list get the new mode. Saved nodes
 * holding what the old database says of a path are old package content and
 * go; any other is kept (by the caller, in the salvage folder).
 */
function complete(c: Confined, oldDir: string, saved: string[], before: InstalledDb, after: InstalledDb): void {
  const lstat = (p: string) => c.lstat(p);
  const holds = (p: string, st: Stats | undefined, e: FileEntry) => holdsAt(c, p, st, e);
  const was = entries(before);
  const now = entries(after);
  const configs = new Set(before.packages.flatMap((r) => r.config.map((c) => c.replace(/^\/+/, ''))));
  for (const path of [...was.keys()].sort().reverse()) {
    const e = was.get(path)!;
    const p = path;
    const st = lstat(p);
    const n = now.get(path);
    if (n) {
      if (n.type === 'dir' && st?.isDirectory() && (st.mode & 0o7777) !== n.mode) c.chmod(p, n.mode);
      continue;
    }
    if (!st) continue;
    if (e.type === 'dir') {
      if (st.isDirectory()) {
        try {
          c.rmdir(p);
        } catch {
          // holds files no package owns: it stays
        }
      }
    } else if (holds(p, st, e)) c.unlink(p);
    else if (configs.has(path) && e.type === 'file' && st.isFile()) c.rename(p, `${p}.minos-save`);
  }
  const shas = new Set([...was.values()].flatMap((e) => (e.type === 'file' ? [e.sha256] : [])));
  const targets = new Set([...was.values()].flatMap((e) => (e.type === 'symlink' ? [e.target] : [])));
  for (const n of saved) {
    const p = `${oldDir}/${n}`;
    const st = lstat(p);
    if (!st) continue;
    if (st.isDirectory()) {
      try {
        c.rmdir(p);
      } catch {
        // not empty: kept
      }
    } else if (st.isFile() ? shas.has(hashFile(c, p) ?? '') : st.isSymbolicLink() && targets.has(c.readlink(p))) c.unlink(p);
  }
}
