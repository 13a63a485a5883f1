/**
 * squashfs 4.0 images, written from the on-disk format (the kernel's
 * fs/squashfs/squashfs_fs.h and Documentation/filesystems/squashfs.rst):
 *
 *   superblock (96 bytes) | data blocks and fragment blocks | inode table |
 *   directory table | fragment table + index | id table + index | padding to 4 KiB
 *
 * Files are cut into blocks of 128 KiB, each compressed alone (kept raw when
 * that is not smaller); a file smaller than a block goes into a shared
 * fragment block. Inodes and directory listings go into 8 KiB metadata blocks,
 * compressed the same way. Folders are written after their entries (an entry
 * names its inode's place), so inode numbers follow that order and the root
 * comes last. Owners are indexes into the id table. No xattrs, no export
 * table, no duplicate detection: the same stage always gives the same bytes.
 */
import { deflateSync } from 'node:zlib';
import { MinosError } from '../errors.js';
import type { Stage } from '../engine/stage.js';
import { xzCompress } from '../unpack/xz.js';
import { zstdCompress } from '../unpack/zstd.js';
import { buildTree, openImage, readPieces, u64, type ImageFile, type Inode } from './fstree.js';
import type { Resolved } from './output.js';
import type { SquashfsCompression } from '../formats.js';

export { SQUASHFS_COMPRESSIONS, type SquashfsCompression } from '../formats.js';

export interface SquashfsOptions {
  /** Seconds since the epoch for every inode and the superblock. */
  mtime: number;
  /** Default zstd. */
  compression?: SquashfsCompression;
  /** zstd level (default 3) or xz level (0-9, default 6); gzip always uses 9, as mksquashfs does. */
  level?: number;
  /** Data block size, a power of two from 4 KiB to 1 MiB; default 128 KiB. */
  blockSize?: number;
}

const MAGIC = 0x73717368;
const META = 8192;
const COMP_ID: Record<SquashfsCompression, number> = { gzip: 1, xz: 4, zstd: 6 };
const NO_XATTR_FLAG = 1 << 9;
const NONE64 = 0xffffffffffffffffn;
const TYPE = { dir: 1, file: 2, symlink: 3, block: 4, char: 5, fifo: 6 } as const;
const LDIR = 8;
const LREG = 9;

type Compress = (b: Buffer) => Buffer;

/**
 * xz blocks: each block one .xz stream with a CRC32 check and a dictionary of
 * at most the block size. The kernel's squashfs xz reader (xz_dec, sized
 * for the block size when the superblock carries no compressor options, as
 * here) verifies only CRC32 or no check and refuses a larger dictionary.
 */
function compressor(opts: SquashfsOptions, blockSize: number): Compress {
  if (opts.compression === 'gzip') return (b) => deflateSync(b, { level: 9, windowBits: 15 });
  if (opts.compression === 'xz') {
    const level = opts.level ?? 6;
    return (b) => xzCompress(b, { level, check: 'crc32', dictMax: blockSize });
  }
  const level = opts.level ?? 3;
  return (b) => sizedFrame(zstdCompress(b, { level }), b.length);
}

/**
 * Our encoder streams: its frame declares a window of its level (2 MiB and
 * more) and carries a checksum. The kernel's squashfs reader sizes its
 * decoder for the block size and refuses a larger window, so the frame is
 * restated as one segment of known size, as a one-shot compressor writes it:
 * the header takes the content size instead of the window, the checksum goes.
 */
function sizedFrame(f: Buffer, size: number): Buffer {
  // magic, descriptor (checksum only), window byte | blocks | checksum
  if (f.readUInt32LE(0) !== 0xfd2fb528 || f[4] !== 0x04) throw new MinosError('MN0001', `unexpected zstd frame header ${f.subarray(0, 6).toString('hex')}`);
  const fcs = size < 256 ? Buffer.from([size]) : size < 65536 + 256 ? Buffer.alloc(2) : Buffer.alloc(4);
  if (fcs.length === 2) fcs.writeUInt16LE(size - 256);
  if (fcs.length === 4) fcs.writeUInt32LE(size);
  const head = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20 | ((fcs.length >> 1) << 6)]);
  return Buffer.concat([head, fcs, f.subarray(6, f.length - 4)]);
}

/** A run of metadata blocks: each a u16 header (size; bit 15 when stored raw) and at most 8 KiB. */
function metaWriter(compress: Compress) {
  const cur = Buffer.alloc(META);
  let used = 0;
  const out: Buffer[] = [];
  let outLen = 0;
  const flush = () => {
    const raw = cur.subarray(0, used);
    const c = compress(raw);
    const head = Buffer.alloc(2);
    const stored = c.length < used ? c : Buffer.from(raw);
    head.writeUInt16LE(c.length < used ? c.length : used | 0x8000);
    out.push(head, stored);
    outLen += 2 + stored.length;
    used = 0;
  };
  return {
    /** Where the next byte goes: the start of its block within this run, and its offset in the block. */
    ref(): { block: number; offset: number } {
      return { block: outLen, offset: used };
    },
    write(b: Buffer) {
      for (let off = 0; off < b.length;) {
        const n = Math.min(META - used, b.length - off);
        b.copy(cur, used, off, off + n);
        used += n;
        off += n;
        if (used === META) flush();
      }
    },
    /** The whole run, the last block flushed; the block starts of each, relative to the run. */
    finish(): { bytes: Buffer; starts: number[] } {
      if (used) flush();
      const starts: number[] = [];
      let at = 0;
      for (let i = 0; i < out.length; i += 2) {
        starts.push(at);
        at += out[i].length + out[i + 1].length;
      }
      return { bytes: Buffer.concat(out, outLen), starts };
    },
  };
}

type Meta = ReturnType<typeof metaWriter>;

/** A table of fixed-size entries (fragments, ids): metadata blocks, then the u64 index of their positions. */
function writeTable(img: ImageFile, entries: Buffer, compress: Compress): number {
  const m = metaWriter(compress);
  m.write(entries);
  const start = img.pos;
  const { bytes, starts } = entries.length ? m.finish() : { bytes: Buffer.alloc(0), starts: [] };
  img.write(bytes);
  const index = Buffer.alloc(8 * starts.length);
  starts.forEach((s, i) => u64(index, 8 * i, start + s));
  const at = img.pos;
  img.write(index);
  return at;
}

interface Written {
  ino: number;
  /** (block start in the inode table << 16) | offset. */
  ref: number;
  block: number;
  offset: number;
}

/** Write a squashfs image of the stage to `file`. */
export function writeSquashfs(stage: Stage, nodes: readonly Resolved[], file: string, opts: SquashfsOptions): void {
  const blockSize = opts.blockSize ?? 128 << 10;
  const blockLog = Math.log2(blockSize);
  if (!Number.isInteger(blockLog) || blockLog < 12 || blockLog > 20) throw new MinosError('MN0002', `squashfs block size ${blockSize} is not a power of two from 4096 to 1048576`);
  const compress = compressor(opts, blockSize);
  const { root, inodes } = buildTree(nodes);

  // Inode numbers in writing order: entries before their folder, the root last.
  const number = new Map<Inode, number>();
  const visit = (dir: Inode, fn: (i: Inode) => void) => {
    for (const { inode } of dir.children!) {
      if (inode.type === 'dir') visit(inode, fn);
      else fn(inode);
    }
    fn(dir);
  };
  visit(root, (i) => {
    if (!number.has(i)) number.set(i, number.size + 1);
  });

  const ids = new Map<number, number>();
  const idOf = (id: number) => {
    let k = ids.get(id);
    if (k === undefined) {
      if (ids.size === 0xffff) throw new MinosError('MN0118', 'squashfs holds at most 65535 distinct owners and groups');
      ids.set(id, (k = ids.size));
    }
    return k;
  };
  // Ids in order of first use by inode number, so the table does not depend on the walk.
  for (const i of [...inodes].sort((a, b) => number.get(a)! - number.get(b)!)) {
    idOf(i.uid);
    idOf(i.gid);
  }

  const img = openImage(file);
  try {
    img.write(Buffer.alloc(96)); // the superblock, written last
    const inodeTable = metaWriter(compress);
    const dirTable = metaWriter(compress);
    const fragEntries: Buffer[] = [];
    const frag = Buffer.alloc(blockSize);
    let fragUsed = 0;
    const flushFragment = () => {
      if (!fragUsed) return;
      const e = Buffer.alloc(16);
      u64(e, 0, img.pos);
      e.writeUInt32LE(writeBlock(img, frag.subarray(0, fragUsed), compress), 8);
      fragEntries.push(e);
      fragUsed = 0;
    };
    const buf = Buffer.alloc(blockSize);
    const written = new Map<Inode, Written>();

    const put = (i: Inode, bytes: Buffer) => {
      const r = inodeTable.ref();
      written.set(i, { ino: number.get(i)!, ref: r.block * 65536 + r.offset, block: r.block, offset: r.offset });
      inodeTable.write(bytes);
    };
    const head = (i: Inode, type: number, size: number) => {
      const b = Buffer.alloc(size);
      b.writeUInt16LE(type, 0);
      b.writeUInt16LE(i.mode, 2); // permission bits only: the inode type says the rest
      b.writeUInt16LE(idOf(i.uid), 4);
      b.writeUInt16LE(idOf(i.gid), 6);
      b.writeUInt32LE(opts.mtime >>> 0, 8);
      b.writeUInt32LE(number.get(i)!, 12);
      return b;
    };

    const writeFile = (i: Inode) => {
      const sizes: number[] = [];
      let start = img.pos;
      let fragment = 0xffffffff;
      let fragOffset = 0;
      if (i.size > 0 && i.size < blockSize) {
        if (fragUsed + i.size > blockSize) flushFragment();
        readPieces(stage, i, blockSize, buf, (b) => b.copy(frag, fragUsed));
        fragment = fragEntries.length;
        fragOffset = fragUsed;
        fragUsed += i.size;
      } else if (i.size > 0) {
        readPieces(stage, i, blockSize, buf, (b) => sizes.push(writeBlock(img, b, compress)));
      } else start = 0;
      const long = i.nlink > 1 || i.size >= 2 ** 32 || start >= 2 ** 32;
      const b = head(i, long ? LREG : TYPE.file, (long ? 56 : 32) + 4 * sizes.length);
      if (long) {
        u64(b, 16, start);
        u64(b, 24, i.size);
        u64(b, 32, 0); // sparse bytes
        b.writeUInt32LE(i.nlink, 40);
        b.writeUInt32LE(fragment, 44);
        b.writeUInt32LE(fragOffset, 48);
        b.writeUInt32LE(0xffffffff, 52); // no xattrs
      } else {
        b.writeUInt32LE(start, 16);
        b.writeUInt32LE(fragment, 20);
        b.writeUInt32LE(fragOffset, 24);
        b.writeUInt32LE(i.size, 28);
      }
      sizes.forEach((s, k) => b.writeUInt32LE(s, (long ? 56 : 32) + 4 * k));
      put(i, b);
    };

    const writeOther = (i: Inode) => {
      if (i.type === 'symlink') {
        const b = head(i, TYPE.symlink, 24 + i.target!.length);
        b.writeUInt32LE(i.nlink, 16);
        b.writeUInt32LE(i.target!.length, 20);
        i.target!.copy(b, 24);
        put(i, b);
      } else if (i.type === 'char' || i.type === 'block') {
        const b = head(i, TYPE[i.type], 24);
        b.writeUInt32LE(i.nlink, 16);
        b.writeUInt32LE(i.rdev, 20);
        put(i, b);
      } else {
        const b = head(i, TYPE.fifo, 20);
        b.writeUInt32LE(i.nlink, 16);
        put(i, b);
      }
    };

    const writeDir = (d: Inode) => {
      const where = dirTable.ref();
      const size = writeListing(dirTable, d, written);
      const parent = d.parent ? number.get(d.parent)! : number.size + 1;
      if (size + 3 <= 0xffff) {
        const b = head(d, TYPE.dir, 32);
        b.writeUInt32LE(where.block, 16);
        b.writeUInt32LE(d.nlink, 20);
        b.writeUInt16LE(size + 3, 24);
        b.writeUInt16LE(where.offset, 26);
        b.writeUInt32LE(parent, 28);
        put(d, b);
      } else {
        const b = head(d, LDIR, 40);
        b.writeUInt32LE(d.nlink, 16);
        b.writeUInt32LE(size + 3, 20);
        b.writeUInt32LE(where.block, 24);
        b.writeUInt32LE(parent, 28);
        b.writeUInt16LE(0, 32); // no index: lookups read the listing from its start
        b.writeUInt16LE(where.offset, 34);
        b.writeUInt32LE(0xffffffff, 36);
        put(d, b);
      }
    };

    visit(root, (i) => {
      if (written.has(i)) return; // another name of a hardlinked file
      if (i.type === 'dir') writeDir(i);
      else if (i.type === 'file') writeFile(i);
      else writeOther(i);
    });
    flushFragment();

    const inodeStart = img.pos;
    img.write(inodeTable.finish().bytes);
    const dirStart = img.pos;
    img.write(dirTable.finish().bytes);
    const fragStart = writeTable(img, Buffer.concat(fragEntries), compress);
    const idBytes = Buffer.alloc(4 * ids.size);
    for (const [id, k] of ids) idBytes.writeUInt32LE(id >>> 0, 4 * k);
    const idStart = writeTable(img, idBytes, compress);
    const used = img.pos;
    img.write(Buffer.alloc((4096 - (used % 4096)) % 4096));

    const sb = Buffer.alloc(96);
    sb.writeUInt32LE(MAGIC, 0);
    sb.writeUInt32LE(number.size, 4);
    sb.writeUInt32LE(opts.mtime >>> 0, 8);
    sb.writeUInt32LE(blockSize, 12);
    sb.writeUInt32LE(fragEntries.length, 16);
    sb.writeUInt16LE(COMP_ID[opts.compression ?? 'zstd'], 20);
    sb.writeUInt16LE(blockLog, 22);
    sb.writeUInt16LE(NO_XATTR_FLAG, 24);
    sb.writeUInt16LE(ids.size, 26);
    sb.writeUInt16LE(4, 28);
    sb.writeUInt16LE(0, 30);
    u64(sb, 32, written.get(root)!.ref);
    u64(sb, 40, used);
    u64(sb, 48, idStart);
    sb.writeBigUInt64LE(NONE64, 56); // xattr id table
    u64(sb, 64, inodeStart);
    u64(sb, 72, dirStart);
    u64(sb, 80, fragStart);
    sb.writeBigUInt64LE(NONE64, 88); // export table
    img.writeAt(sb, 0);
    img.close();
  } catch (e) {
    img.abort();
    throw e;
  }
}

/** Compress one data or fragment block into the image; its size word (bit 24 when stored raw). */
function writeBlock(img: ImageFile, b: Buffer, compress: Compress): number {
  const c = compress(b);
  if (c.length < b.length) {
    img.write(c);
    return c.length;
  }
  img.write(b);
  return (b.length | (1 << 24)) >>> 0;
}

/**
 * A folder's listing: runs of at most 256 entries whose inodes share one
 * metadata block and whose numbers lie within ±32767 of the run's first.
 * Returns its size in bytes.
 */
function writeListing(dirTable: Meta, d: Inode, written: Map<Inode, Written>): number {
  const entries = d.children!;
  let size = 0;
  for (let k = 0; k < entries.length;) {
    const first = written.get(entries[k].inode)!;
    let n = 1;
    while (k + n < entries.length && n < 256) {
      const w = written.get(entries[k + n].inode)!;
      if (w.block !== first.block || Math.abs(w.ino - first.ino) > 32767) break;
      n++;
    }
    const h = Buffer.alloc(12);
    h.writeUInt32LE(n - 1, 0);
    h.writeUInt32LE(first.block, 4);
    h.writeUInt32LE(first.ino, 8);
    dirTable.write(h);
    size += 12;
    for (let j = k; j < k + n; j++) {
      const { name, inode } = entries[j];
      if (name.length > 256) throw new MinosError('MN0118', `squashfs names hold at most 256 bytes: ${name.toString()}`);
      const w = written.get(inode)!;
      const e = Buffer.alloc(8 + name.length);
      e.writeUInt16LE(w.offset, 0);
      e.writeInt16LE(w.ino - first.ino, 2);
      e.writeUInt16LE(TYPE[inode.type], 4);
      e.writeUInt16LE(name.length - 1, 6);
      name.copy(e, 8);
      dirTable.write(e);
      size += e.length;
    }
    k += n;
  }
  return size;
}
