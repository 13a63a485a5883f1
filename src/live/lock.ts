/**
 * One writer per root: ROOT/var/lib/minos/lock holds {pid, start, command,
 * since}. It is created whole and atomically (written to a private name, then
 * hard-linked to `lock`, which fails if a lock exists). A lock whose process
 * is gone (process.kill(pid, 0) fails with ESRCH, or the pid now belongs to a
 * process started at another time) is stale: it is taken over by renaming it
 * aside and checking that what was renamed is what was judged stale.
 */
import { closeSync, constants, fsyncSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { confine, type Confined } from '../confine.js';
import { DB_DIR } from '../db/installed.js';
import { ioError, MinosError } from '../errors.js';
import { kindOf } from '../input.js';
import type { Emit } from './events.js';
import { CACHE_DIR, CONFIG_DIR, KEYRINGS_DIR, KEYS_DIR, LOCK_FILE } from './root.js';

export interface LockInfo {
  pid: number;
  /** Process start time (clock ticks since boot, /proc/PID/stat field 22); 0 if unknown. */
  start: number;
  command: string;
  /** ISO time the lock was taken. */
  since: string;
}

export interface Lock {
  file: string;
  info: LockInfo;
  release(): void;
}

/** A process's state letter and start time (/proc/PID/stat fields 3 and 22); undefined if it cannot be read. */
function procStat(pid: number): { state: string; start: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: Number(fields[19]) || 0 };
  } catch {
    return undefined;
  }
}

function procStart(pid: number): number {
  return procStat(pid)?.start ?? 0;
}

/** The lock file `rel` of a root (or any file named so), read without following a link. */
function readLockAt(c: Confined, rel: string): LockInfo | undefined {
  const file = c.abs(rel);
  const st = c.lstat(rel);
  if (!st) return undefined;
  if (!st.isFile()) {
    throw new MinosError('MN0115', `${file}: is ${kindOf(st)}, not a lock file`, {
      hint: 'no minos is running if this is not a file minos made: remove it',
      data: { file },
    });
  }
  let text: string | undefined;
  try {
    text = c.readFile(rel, 4096)?.toString('utf8');
  } catch (e) {
    if (e instanceof MinosError && e.data?.errno !== undefined) throw e; // cannot read it (EACCES…): not judged stale
    text = '';
  }
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text) as LockInfo;
    return typeof o?.pid === 'number' ? o : { pid: 0, start: 0, command: '?', since: '?' };
  } catch {
    return { pid: 0, start: 0, command: '?', since: '?' };
  }
}

export function readLockInfo(root: string): LockInfo | undefined {
  return readLockAt(confine(root), LOCK_FILE);
}

/** The folders of a root where minos writes temporary files (`NAME.new-PID`, `lock.stale-PID`, `SHA.part-PID`). */
const TEMP_DIRS = [DB_DIR, CONFIG_DIR, KEYS_DIR, KEYRINGS_DIR, CACHE_DIR];
const TEMP = /\.(new|stale|part)-([0-9]+)$/;

/** Temporary files of processes that are gone, in the root's state folders. */
function deadTemps(root: string): string[] {
  const c = confine(root);
  const out: string[] = [];
  for (const d of TEMP_DIRS) {
    let names: string[];
    try {
      names = c.readdir(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = TEMP.exec(n);
      if (!m || Number(m[2]) === process.pid || holderAlive({ pid: Number(m[2]), start: 0, command: '', since: '' })) continue;
      if (c.lstat(`${d}/${n}`)?.isDirectory()) continue; // minos makes no temporary folders: not its own
      out.push(`${d}/${n}`);
    }
  }
  return out;
}

/** Did a killed minos leave temporary files (for queries: recover first)? */
export function hasLitter(root: string): boolean {
  return deadTemps(root).length > 0;
}

/**
 * Remove the temporary files dead minos processes left in the root's state
 * folders (`NAME.corrupt-…` files are kept): called with the lock held, so
 * no live writer owns them.
 */
export function sweepLitter(root: string): void {
  const c = confine(root);
  for (const f of deadTemps(root)) {
    try {
      c.unlink(f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, c.abs(f));
    }
  }
}

/** Is the process that wrote this lock still running? */
export function holderAlive(info: LockInfo): boolean {
  if (info.pid <= 0) return false;
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = procStat(info.pid);
  // A zombie (killed, not yet reaped by its parent) holds nothing.
  if (now?.state === 'Z' || now?.state === 'X') return false;
  if (info.start && now?.start && now.start !== info.start) return false; // pid reused
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Remove `rel` if it is there, ignoring errors (a temporary file on a failure path). */
function drop(c: Confined, rel: string): void {
  try {
    c.unlink(rel);
  } catch {
    // nothing to remove
  }
}

function tryLink(c: Confined, info: LockInfo): boolean {
  const file = LOCK_FILE;
  const tmp = `${file}.new-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = c.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    writeSync(fd, `${JSON.stringify(info)}\n`);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    drop(c, tmp);
    throw ioError(e, c.abs(file));
  }
  let linked = false;
  try {
    c.link(tmp, file);
    linked = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      drop(c, tmp);
      throw ioError(e, c.abs(file));
    }
  }
  try {
    c.unlink(tmp);
  } catch (e) {
    if (linked) drop(c, file);
    throw ioError(e, c.abs(tmp));
  }
  return linked;
}

/** Remove a stale lock if it is still the one judged stale. */
function takeOver(c: Confined, stale: LockInfo): boolean {
  const file = LOCK_FILE;
  const aside = `${file}.stale-${process.pid}`;
  try {
    c.rename(file, aside);
  } catch {
    return false; // someone else moved it first
  }
  const got = readLockAt(c, aside);
  if (got && (got.pid !== stale.pid || got.start !== stale.start || got.since !== stale.since)) {
    // A live lock replaced the stale one between our read and rename: put it back.
    try {
      c.link(aside, file);
    } catch {
      // a third process holds the lock now; the one we moved is lost to it either way
    }
    c.unlink(aside);
    return false;
  }
  c.unlink(aside);
  return true;
}

export function describeHolder(info: LockInfo): string {
  return `pid ${info.pid}, \`minos ${info.command}\`, since ${info.since}`;
}

/**
 * Take the write lock of `root`. Throws MN0501 (exit 5) naming the holder, or
 * with `wait` polls until it is free. Emits 'stale-lock' when a dead holder's
 * lock is taken over (the caller then recovers any interrupted transaction).
 */
export async function acquireLock(root: string, opts: { command: string; wait?: boolean; onEvent?: Emit }): Promise<Lock> {
  const file = join(root, LOCK_FILE);
  const c = confine(root);
  c.reset(); // folders are looked up afresh for this command
  try {
    c.mkdirp(DB_DIR, 0o755);
  } catch (e) {
    throw ioError(e, c.abs(DB_DIR));
  }
  readLockAt(c, LOCK_FILE); // a lock path that is not a file stops here, before any link or rename
  const info: LockInfo = { pid: process.pid, start: procStart(process.pid), command: opts.command, since: new Date().toISOString() };
  let waited = false;
  for (;;) {
    if (tryLink(c, info)) break;
    const holder = readLockAt(c, LOCK_FILE);
    if (!holder) continue; // released in between
    if (!holderAlive(holder)) {
      if (takeOver(c, holder)) opts.onEvent?.({ type: 'stale-lock', pid: holder.pid, command: holder.command, since: holder.since });
      continue;
    }
    if (!opts.wait) {
      throw new MinosError('MN0501', `${root} is locked by another minos (${describeHolder(holder)})`, {
        hint: 'wait for it to finish, or pass --wait',
        data: { ...holder, file },
      });
    }
    if (!waited) opts.onEvent?.({ type: 'waiting', pid: holder.pid, command: holder.command, since: holder.since });
    waited = true;
    await sleep(100);
  }
  sweepLitter(root);
  let released = false;
  const lock: Lock = {
    file,
    info,
    release() {
      if (released) return;
      released = true;
      try {
        const now = readLockAt(c, LOCK_FILE);
        if (now && now.pid === info.pid && now.since === info.since) c.unlink(LOCK_FILE);
        c.reset();
      } catch (e) {
        // The work is done; a lock left behind is taken over by the next command (its process is gone by then).
        opts.onEvent?.({ type: 'warning', message: `${ioError(e, file).message}: the lock stays until the next minos command takes it over` });
      }
    },
  };
  const hold = Number(process.env.MINOS_HOLD_LOCK_MS ?? 0);
  if (hold > 0) await sleep(hold); // test hook: keep the lock to exercise contention
  return lock;
}

/** The live holder of the lock, if any (queries use it to decide whether to recover). */
export function lockHolder(root: string): LockInfo | undefined {
  const info = readLockInfo(root);
  return info && holderAlive(info) ? info : undefined;
}
