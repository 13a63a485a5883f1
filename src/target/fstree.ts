/**
 * What the filesystem image writers (squashfs.ts, erofs.ts) share: the
 * stage's nodes as a tree of inodes (hardlinks folded into their file's
 * inode, link counts, children sorted by name bytes), device numbers in the
 * kernel's encoding, staged content read in fixed-size pieces, and a
 * buffered image file.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { ioError, MinosError } from '../errors.js';
import { under } from '../fsutil.js';
import type { Node, Stage } from '../engine/stage.js';
import type { Resolved } from './output.js';

export type InodeType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';

export interface Inode {
  type: InodeType;
  /** Permission bits with setuid, setgid and sticky (no file type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes of a file; 0 otherwise. */
  size: number;
  /** Stage path of a file's content (the first name of a hardlinked file). */
  path: string;
  /** Symlink target as bytes. */
  target?: Buffer;
  /** Device number in the kernel's 32-bit encoding (see encodeDev). */
  rdev: number;
  /** Names pointing at it: hardlinks for a file; 2 + subfolders for a folder. */
  nlink: number;
  /** A folder's entries sorted by name bytes. */
  children?: Entry[];
  parent?: Inode;
}

export interface Entry {
  name: Buffer;
  inode: Inode;
}

/** Type bits of st_mode for each inode type. */
export const S_IFMT: Record<InodeType, number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000 };

/** Linux's new_encode_dev: minor's low byte, major, then minor's upper bits. */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/**
 * The tree of `nodes` (output order, parents first) under a root folder
 * 0755 root:root. Returns the root and every inode in output order (a
 * hardlinked file once, at its first name).
 */
export function buildTree(nodes: readonly Resolved[]): { root: Inode; inodes: Inode[] } {
  const root: Inode = { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, path: '', rdev: 0, nlink: 2, children: [] };
  const byPath = new Map<string, Inode>([['', root]]);
  const inodes: Inode[] = [root];
  for (const { node, uid, gid } of nodes) {
    const slash = node.path.lastIndexOf('/');
    const parent = byPath.get(slash < 0 ? '' : node.path.slice(0, slash));
    if (!parent || parent.type !== 'dir') throw new MinosError('MN0003', `/${node.path}: its folder is not in the image`);
    const name = Buffer.from(node.path.slice(slash + 1));
    let inode: Inode;
    if (node.type === 'hardlink') {
      const file = byPath.get(node.target!);
      if (!file || file.type !== 'file') throw new MinosError('MN0003', `/${node.path}: hardlink target /${node.target} is not a file of the image`);
      inode = file;
      inode.nlink++;
    } else {
      inode = inodeOf(node, uid, gid);
      inode.parent = parent;
      inodes.push(inode);
      if (inode.type === 'dir') parent.nlink++;
    }
    byPath.set(node.path, inode);
    parent.children!.push({ name, inode });
  }
  for (const i of inodes) i.children?.sort((a, b) => Buffer.compare(a.name, b.name));
  return { root, inodes };
}

function inodeOf(n: Node, uid: number, gid: number): Inode {
  const type = n.type as InodeType;
  const dev = type === 'char' || type === 'block';
  return {
    type, mode: n.mode & 0o7777, uid, gid, size: type === 'file' ? n.size : 0, path: n.path,
    target: type === 'symlink' ? Buffer.from(n.target!) : undefined,
    rdev: dev ? encodeDev(n.devmajor ?? 0, n.devminor ?? 0) : 0,
    nlink: type === 'dir' ? 2 : 1, children: type === 'dir' ? [] : undefined,
  };
}

/**
 * Read a staged file's content in pieces of `piece` bytes (the last may be
 * shorter) into `buf`, calling `fn` with a view valid until it returns.
 * Throws MN0003 when the staged size differs from the node's.
 */
export function readPieces(stage: Stage, inode: Inode, piece: number, buf: Buffer, fn: (b: Buffer) => void): void {
  const p = under(stage.root, inode.path);
  let fd: number;
  try {
    fd = openSync(p, 'r');
  } catch (e) {
    throw ioError(e, p);
  }
  try {
    let total = 0;
    for (;;) {
      let got = 0;
      while (got < piece) {
        const n = readSync(fd, buf, got, piece - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got === 0) break;
      total += got;
      if (total > inode.size) break;
      fn(buf.subarray(0, got));
      if (got < piece) break;
    }
    if (total !== inode.size) throw new MinosError('MN0003', `${p}: staged size ${total} differs from ${inode.size}`, { data: { file: p } });
  } finally {
    closeSync(fd);
  }
}

const CHUNK = 1 << 20;

/** A file written front to back through a 1 MiB buffer, with positional writes for what is known last. */
export function openImage(file: string) {
  let fd: number;
  try {
    fd = openSync(file, 'w', 0o644);
  } catch (e) {
    throw ioError(e, file);
  }
  const buf = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  let pos = 0;
  const raw = (b: Uint8Array, at: number | null) => {
    for (let off = 0; off < b.length;) off += writeSync(fd, b, off, b.length - off, at === null ? null : at + off);
  };
  const flush = () => {
    if (used) raw(buf.subarray(0, used), null);
    used = 0;
  };
  return {
    /** Bytes written so far by write(). */
    get pos() {
      return pos;
    },
    write(b: Uint8Array) {
      pos += b.length;
      if (used + b.length > CHUNK) flush();
      if (b.length >= CHUNK) raw(b, null);
      else {
        buf.set(b, used);
        used += b.length;
      }
    },
    /** Write `b` at `at`, leaving the sequential position alone. */
    writeAt(b: Uint8Array, at: number) {
      flush();
      raw(b, at);
    },
    fd,
    close() {
      flush();
      closeSync(fd);
    },
    abort() {
      closeSync(fd);
    },
  };
}

export type ImageFile = ReturnType<typeof openImage>;

/** Write `n` as a little-endian u64 at `off`. */
export function u64(b: Buffer, off: number, n: number): void {
  b.writeUInt32LE(n % 0x100000000, off);
  b.writeUInt32LE(Math.floor(n / 0x100000000), off + 4);
}
