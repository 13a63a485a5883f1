/**
 * Targets: turn a stage (content folder + node map) into the final output.
 * Every output lists nodes in path-byte order with numeric owners from the
 * declared accounts and every mtime set to the build time, so the same stage
 * gives the same bytes whoever runs it.
 *
 * - directory: the staging folder itself is finished in place (owners when
 *   root, exact modes, times, device nodes) and the caller renames it;
 * - tar / tar.zst: POSIX pax tar, owners as numbers and names;
 * - cpio: "newc" (SVR4 without CRC), ready for an initramfs.
 */
import { chmodSync, closeSync, fsyncSync, lchownSync, lutimesSync, openSync, readSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ioError, MinosError } from '../errors.js';
import { makeNodesSoon, under, writeAll } from '../fsutil.js';
import type { Deferred } from '../db/installed.js';
import { encodeHeader, padLength, TAR_END } from '../unpack/tarwrite.js';
import { sortedPaths, type Node, type Stage } from '../engine/stage.js';
import { createXzEncoder } from '../unpack/xz.js';
import { createZstdEncoder } from '../unpack/zstd.js';
import { gidOf, uidOf, type Accounts } from './accounts.js';

export interface OutputOptions {
  accounts: Accounts;
  /** Seconds since the epoch for every mtime. */
  mtime: number;
}

export interface Resolved {
  node: Node;
  uid: number;
  gid: number;
}

/** Nodes in output order with numeric owners. Throws MN0113 for undeclared owners. */
export function resolveNodes(stage: Stage, acc: Accounts): Resolved[] {
  return sortedPaths(stage).map((p) => {
    const node = stage.nodes.get(p)!;
    const what = `/${p}${node.pkg ? ` (package ${node.pkg})` : ''}`;
    return { node, uid: uidOf(acc, node.owner, what), gid: gidOf(acc, node.group, what) };
  });
}

/** What a directory build by this user cannot apply: foreign owners and device nodes. */
export function deferredFor(nodes: readonly Resolved[], asRoot: boolean): Deferred[] {
  if (asRoot) return [];
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const out: Deferred[] = [];
  for (const { node, uid: u, gid: g } of nodes) {
    const dev = node.type === 'char' || node.type === 'block';
    if (u === uid && g === gid && !dev) continue;
    const d: Deferred = { path: node.path, uid: u, gid: g, mode: node.mode };
    if (dev) Object.assign(d, { type: node.type, devmajor: node.devmajor, devminor: node.devminor });
    out.push(d);
  }
  return out;
}

/**
 * Finish the staging folder as the output directory. As root: owners, modes,
 * devices and FIFOs exactly. Otherwise: modes exactly, FIFOs created, owners
 * and device nodes left to the `deferred` record. Children before parents so
 * folder times stay put.
 */
export async function finishDirectory(stage: Stage, nodes: readonly Resolved[], opts: OutputOptions & { asRoot: boolean }): Promise<void> {
  // Devices and FIFOs are made by other processes (mknod) while this one finishes every entry but them and
  // their folders, whose times their creation changes (`waits`): those come once the nodes exist.
  const made = nodes.filter(({ node: n }) => n.type === 'fifo' || ((n.type === 'char' || n.type === 'block') && opts.asRoot));
  const waits = new Set<string>();
  for (const { node } of made) for (let p = node.path, k = p.lastIndexOf('/'); k > 0; p = p.slice(0, k), k = p.lastIndexOf('/')) waits.add(p.slice(0, k));
  const making = makeNodesSoon(made.map(({ node: n }) => ({ path: under(stage.root, n.path), e: n })));
  making.catch(() => {});
  for (const { node } of made) waits.add(node.path);
  finishEntries(stage, nodes, opts, (p) => !waits.has(p));
  await making;
  finishEntries(stage, nodes, opts, (p) => waits.has(p));
  chmodSync(stage.root, 0o755);
  lutimesSync(stage.root, opts.mtime, opts.mtime);
}

/** Owners, modes and times of the entries whose path `which` takes, children before parents. */
function finishEntries(stage: Stage, nodes: readonly Resolved[], opts: OutputOptions & { asRoot: boolean }, which: (path: string) => boolean): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const { node, uid, gid } = nodes[i];
    if (!which(node.path)) continue;
    const p = under(stage.root, node.path);
    try {
      if (node.type === 'hardlink') continue; // its file's inode is finished through the file
      if ((node.type === 'char' || node.type === 'block') && !opts.asRoot) continue;
      // What this process creates is already ours: only foreign owners need a chown.
      const chown = opts.asRoot && (uid !== EUID || gid !== EGID);
      if (chown) lchownSync(p, uid, gid);
      if (node.done) {
        // chown clears setuid and setgid bits: put them back.
        if (chown && node.mode & 0o6000) chmodSync(p, node.mode);
        continue;
      }
      if (node.type !== 'symlink') chmodSync(p, node.mode);
      lutimesSync(p, opts.mtime, opts.mtime);
    } catch (e) {
      throw e instanceof MinosError ? e : ioError(e, p);
    }
  }
}

const CHUNK = 1 << 20;
const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;

/** Input per gzip member (see sinkTo): larger members compress a little better and hold more memory. */
const GZIP_MEMBER = 8 << 20;

/**
 * Buffered writer to a file descriptor, zstd-compressed (a number: the
 * level), xz-compressed ({ xz: level }: one stream, CRC64, as `xz -T1`
 * writes it) or gzip-compressed ({ gzip: level }). gzip output is a series of
 * members of GZIP_MEMBER input bytes each, as RFC 1952 allows and every
 * gunzip reads: node:zlib has no synchronous streaming deflate, and this
 * keeps memory bounded and the bytes the same wherever they are made.
 */
function sinkTo(fd: number, compress: number | { gzip: number } | { xz: number } | undefined) {
  const stage = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  let written = 0;
  const encoder =
    typeof compress === 'number' ? createZstdEncoder({ level: compress })
    : typeof compress === 'object' && 'xz' in compress ? createXzEncoder({ level: compress.xz })
    : undefined;
  const gzip = typeof compress === 'object' && 'gzip' in compress ? compress.gzip : undefined;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const raw = (b: Uint8Array) => writeAll(fd, b);
  const gzFlush = () => {
    if (pendingBytes === 0) return;
    raw(gzipSync(Buffer.concat(pending, pendingBytes), { level: gzip }));
    pending.length = 0;
    pendingBytes = 0;
  };
  const emit = (b: Uint8Array) => {
    if (encoder) encoder.push(b, raw);
    else if (gzip !== undefined) {
      pending.push(Buffer.from(b));
      pendingBytes += b.length;
      if (pendingBytes >= GZIP_MEMBER) gzFlush();
    } else raw(b);
  };
  const flush = () => {
    if (used === 0) return;
    emit(stage.subarray(0, used));
    used = 0;
  };
  return {
    get written() {
      return written;
    },
    write(b: Uint8Array) {
      written += b.length;
      if (used + b.length > CHUNK) flush();
      if (b.length >= CHUNK) {
        emit(b);
        return;
      }
      stage.set(b, used);
      used += b.length;
    },
    end() {
      flush();
      if (encoder) encoder.end(raw);
      gzFlush();
    },
    free() {
      encoder?.free();
    },
  };
}

type Writer = ReturnType<typeof sinkTo>;

/** Copy a staged file's content into the writer, checking its size. */
function copyContent(stage: Stage, n: Node, w: Writer, buf: Buffer): void {
  const p = under(stage.root, n.path);
  const fd = openSync(p, 'r');
  try {
    let total = 0;
    for (;;) {
      const got = readSync(fd, buf, 0, CHUNK, null);
      if (got === 0) break;
      total += got;
      w.write(buf.subarray(0, got));
    }
    if (total !== n.size) throw new MinosError('MN0003', `${p}: staged size ${total} differs from ${n.size}`);
  } finally {
    closeSync(fd);
  }
}

/** `-`: standard output (fd 1), neither synced nor closed. */
function openOut(file: string): number {
  if (file === '-') return 1;
  try {
    return openSync(file, 'w', 0o644);
  } catch (e) {
    throw ioError(e, file);
  }
}

/** Write a pax tar of the stage to `file`, zstd-compressed when `level` is given, gzip- or xz-compressed with `gzip` or `xz` (a level). */
export function writeTar(stage: Stage, nodes: readonly Resolved[], file: string, opts: OutputOptions & { level?: number; gzip?: number; xz?: number }): void {
  const fd = openOut(file);
  const w = sinkTo(fd, opts.gzip !== undefined ? { gzip: opts.gzip } : opts.xz !== undefined ? { xz: opts.xz } : opts.level);
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (const { node: n, uid, gid } of nodes) {
      w.write(encodeHeader({
        name: n.path, type: n.type, mode: n.mode, uid, gid, uname: n.owner, gname: n.group, size: n.size, mtime: opts.mtime,
        linkname: n.target ?? '', devmajor: n.devmajor ?? 0, devminor: n.devminor ?? 0,
      }));
      if (n.type === 'file') {
        copyContent(stage, n, w, buf);
        w.write(Buffer.alloc(padLength(n.size)));
      }
    }
    w.write(TAR_END);
    w.end();
    if (fd !== 1) fsyncSync(fd);
  } finally {
    w.free();
    if (fd !== 1) closeSync(fd);
  }
}

const S_IF: Record<Node['type'], number> = { file: 0o100000, hardlink: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000 };

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/**
 * Write a cpio "newc" archive. Hardlinked files share an inode number; as GNU
 * cpio does, the content goes with the last name of the inode, the others
 * have size 0.
 */
export function writeCpio(stage: Stage, nodes: readonly Resolved[], file: string, opts: OutputOptions): void {
  const fd = openOut(file);
  const w = sinkTo(fd, undefined);
  const buf = Buffer.allocUnsafe(CHUNK);
  // Inode numbers: one per file (shared by its hardlinks), in output order.
  const ino = new Map<string, number>();
  const links = new Map<string, string[]>();
  let next = 1;
  for (const { node } of nodes) {
    if (node.type === 'hardlink') {
      ino.set(node.path, ino.get(node.target!)!);
      links.get(node.target!)!.push(node.path);
    } else {
      ino.set(node.path, next++);
      if (node.type === 'file') links.set(node.path, [node.path]);
    }
  }
  const lastLink = new Set([...links.values()].map((l) => l[l.length - 1]));
  const entry = (name: string, mode: number, uid: number, gid: number, nlink: number, inode: number, size: number, rmaj: number, rmin: number) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const head = `070701${[inode, mode, uid, gid, nlink, opts.mtime, size, 0, 0, rmaj, rmin, nameBytes.length, 0].map(hex8).join('')}`;
    const h = Buffer.concat([Buffer.from(head, 'latin1'), nameBytes]);
    w.write(h);
    w.write(Buffer.alloc((4 - (h.length % 4)) % 4));
  };
  try {
    for (const { node: n, uid, gid } of nodes) {
      const file0 = n.type === 'hardlink' ? stage.nodes.get(n.target!)! : n;
      const group = links.get(file0.path);
      const withData = n.type === 'symlink' || ((n.type === 'file' || n.type === 'hardlink') && lastLink.has(n.path));
      const size = n.type === 'symlink' ? Buffer.byteLength(n.target!) : withData ? file0.size : 0;
      entry(n.path, S_IF[n.type] | n.mode, uid, gid, group ? group.length : n.type === 'dir' ? 2 : 1, ino.get(n.path)!, size, n.devmajor ?? 0, n.devminor ?? 0);
      if (n.type === 'symlink') w.write(Buffer.from(n.target!));
      else if (withData) copyContent(stage, file0, w, buf);
      w.write(Buffer.alloc((4 - (size % 4)) % 4));
    }
    entry('TRAILER!!!', 0, 0, 0, 1, 0, 0, 0, 0);
    w.write(Buffer.alloc((512 - (w.written % 512)) % 512)); // as cpio(1) pads
    w.end();
    if (fd !== 1) fsyncSync(fd);
  } finally {
    w.free();
    if (fd !== 1) closeSync(fd);
  }
}
