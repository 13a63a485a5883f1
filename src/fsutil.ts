/** Small file-system helpers shared by every stage that writes. */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ioError, MinosError } from './errors.js';

/**
 * `root/rel` for a checked relative path `rel` (pathError: no empty, `.` or
 * `..` components) under a normalized absolute `root`: what path.join gives,
 * without normalising again on every entry of a package.
 */
export function under(root: string, rel: string): string {
  return root === '/' ? `/${rel}` : `${root}/${rel}`;
}

/** open(2) flags for a file that must be new: never an existing file, never through a symlink. */
export const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Write all of `b` to `fd`, looping over short writes. */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write all of `b`. A pipe Node made non-blocking (standard output) answers
 * EAGAIN while the reader lags: wait a moment and write again.
 */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

/** After a failed write: close `fd` if still open and remove `tmp`, ignoring errors. */
export function abandonTemp(fd: number | undefined, tmp: string): void {
  if (fd !== undefined) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  try {
    unlinkSync(tmp);
  } catch {
    // nothing to remove
  }
}

/**
 * Write files durably: every temp file is written and fsynced before the
 * first rename, so a write error (e.g. ENOSPC) leaves all old files as they
 * were; then rename each in order and fsync the folders.
 */
export function writeFilesAtomic(files: readonly { file: string; data: Uint8Array; mode?: number }[]): void {
  const temps: string[] = [];
  try {
    for (const { file, data, mode } of files) {
      try {
        mkdirSync(dirname(file), { recursive: true });
      } catch (e) {
        throw ioError(e, dirname(file));
      }
      const tmp = `${file}.new-${process.pid}`;
      temps.push(tmp);
      let fd: number | undefined;
      try {
        fd = openSync(tmp, 'w', mode ?? 0o644);
        writeAll(fd, data);
        fsyncSync(fd);
      } catch (e) {
        throw ioError(e, file);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
  } catch (e) {
    for (const tmp of temps) abandonTemp(undefined, tmp);
    throw e;
  }
  for (const [i, { file }] of files.entries()) {
    try {
      renameSync(temps[i], file);
    } catch (e) {
      for (const tmp of temps.slice(i)) abandonTemp(undefined, tmp);
      throw ioError(e, file);
    }
  }
  for (const dir of new Set(files.map((f) => dirname(f.file)))) {
    let dfd: number | undefined;
    try {
      dfd = openSync(dir, 'r');
      fsyncSync(dfd);
    } catch (e) {
      throw ioError(e, dir);
    } finally {
      if (dfd !== undefined) closeSync(dfd);
    }
  }
}

/** Write one file durably and atomically: temp file, fsync, rename, fsync folder. */
export function writeFileAtomic(file: string, data: Uint8Array, mode = 0o644): void {
  writeFilesAtomic([{ file, data, mode }]);
}

/** A file's text, or undefined when it cannot be read. */
export function readTextIfAny(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}


/**
 * Make the FIFO or device node `e` at `path`, mode 0600 (the caller sets
 * owner, then mode, by path: a node is never opened, as opening a device
 * can have effects). Node has no mknod(2), so mknod(1) does it.
 */
export function makeNode(path: string, e: NodeSpec): void {
  makeNodes([{ path, e }]);
}

export interface NodeSpec {
  type: string;
  devmajor?: number;
  devminor?: number;
}

/** The script makeNodes runs: four arguments per node; on failure it prints the node's path and stops. */
const MKNODS = 'while [ $# -gt 0 ]; do if [ "$2" = p ]; then mknod -m 0600 "$1" p; else mknod -m 0600 "$1" "$2" "$3" "$4"; fi || { printf %s "$1"; exit 1; }; shift 4; done';

function mknodArgs(nodes: readonly { path: string; e: NodeSpec }[]): string[] {
  const args = ['-c', MKNODS, 'sh'];
  for (const { path, e } of nodes) {
    if (e.type === 'fifo') args.push(path, 'p', '-', '-');
    else args.push(path, e.type === 'char' ? 'c' : 'b', String(e.devmajor), String(e.devminor));
  }
  return args;
}

function mknodError(nodes: readonly { path: string; e: NodeSpec }[], stdout: string, why: string): MinosError {
  const path = stdout || nodes[0].path;
  const e = nodes.find((n) => n.path === path)?.e ?? nodes[0].e;
  return new MinosError('MN0003', `${path}: cannot create ${e.type}: ${why.trim()}`, { data: { file: path } });
}

/** makeNode for many nodes, with one process started for all of them (a /dev of a dozen nodes costs one start, not twelve). */
export function makeNodes(nodes: readonly { path: string; e: NodeSpec }[]): void {
  if (nodes.length === 0) return;
  const r = spawnSync('/bin/sh', mknodArgs(nodes), { encoding: 'utf8' });
  if (r.status !== 0) throw mknodError(nodes, r.stdout, r.stderr || String(r.error));
}

/** makeNodes without waiting: the processes run while the caller goes on; the promise settles when they end. */
export function makeNodesSoon(nodes: readonly { path: string; e: NodeSpec }[]): Promise<void> {
  if (nodes.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', mknodArgs(nodes), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('error', (e) => reject(mknodError(nodes, '', String(e))));
    c.on('close', (status) => (status === 0 ? resolve() : reject(mknodError(nodes, out, err))));
  });
}
