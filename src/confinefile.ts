/**
 * Whole-file operations on a confined target (confine.ts), made of its
 * primitives only: reading a regular file with a cap, mkdir -p, and
 * writing a file durably and atomically.
 */
import { closeSync, constants, fstatSync, fsyncSync, readSync } from 'node:fs';
import { checkRel, linkError, type Confined } from './confine.js';
import { MinosError } from './errors.js';
import { writeAll } from './fsutil.js';
import { kindOf } from './input.js';

const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** An OS error about `rel`, named by its path in the target. */
function named(c: Confined, rel: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && !(e instanceof MinosError)) err.path = c.abs(rel);
  return e;
}

/**
 * A regular file's bytes, at most `max` (else MN0003 naming the cap);
 * undefined when absent. Looked at before it is opened: a FIFO or a device
 * is never opened, and the descriptor must be the inode looked at.
 */
export function readFileIn(c: Confined, rel: string, max: number): Buffer | undefined {
  const file = c.abs(rel);
  const st = c.lstat(rel);
  if (!st) return undefined;
  if (!st.isFile()) throw new MinosError('MN0003', `${file}: is ${kindOf(st)}, not a regular file`, { hint: 'it must be a regular file: remove what is there', data: { file, kind: kindOf(st) } });
  if (st.size > max) throw new MinosError('MN0003', `${file}: larger than ${max} bytes`, { data: { file, size: st.size, max } });
  const fd = c.open(rel, READ_FLAGS);
  try {
    const now = fstatSync(fd);
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) throw new MinosError('MN0003', `${file}: changed while being opened`, { data: { file } });
    const buf = Buffer.allocUnsafe(Math.min(now.size, max) + 1);
    let off = 0;
    while (off < buf.length) {
      let n: number;
      try {
        n = readSync(fd, buf, off, buf.length - off, off);
      } catch (e) {
        throw named(c, rel, e);
      }
      if (n === 0) break;
      off += n;
    }
    if (off > max) throw new MinosError('MN0003', `${file}: larger than ${max} bytes`, { data: { file, max } });
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p: each missing folder is made with `mode`; a link (MN0604) or a file (ENOTDIR) on the way is refused. */
export function mkdirpIn(c: Confined, rel: string, mode: number): void {
  checkRel(rel);
  let cur = '';
  for (const part of rel === '' ? [] : rel.split('/')) {
    cur = cur ? `${cur}/${part}` : part;
    const st = c.lstat(cur);
    if (st?.isDirectory()) continue;
    if (st?.isSymbolicLink()) throw linkError(c.abs(cur));
    if (st) throw Object.assign(new Error(`ENOTDIR: not a directory, '${c.abs(cur)}'`), { code: 'ENOTDIR', path: c.abs(cur) });
    try {
      c.mkdir(cur, mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !c.lstat(cur)?.isDirectory()) throw e;
    }
  }
}

/** Temp file `REL.new-PID`, fsync, rename over REL, fsync the folder; the temp file is removed on failure. */
export function writeFileAtomicIn(c: Confined, rel: string, data: Uint8Array, mode: number): void {
  const tmp = `${rel}.new-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = c.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } catch (e) {
      throw named(c, tmp, e);
    }
    closeSync(fd);
    fd = undefined;
    c.rename(tmp, rel);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      c.unlink(tmp);
    } catch {
      // nothing to remove
    }
    throw e;
  }
  c.fsyncDir(rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
}
