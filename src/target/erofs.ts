/**
 * EROFS images, uncompressed, written from the on-disk format (the kernel's
 * fs/erofs/erofs_fs.h):
 *
 *   block 0: superblock at byte 1024 | inodes from byte 1152 (nid 36 on), each
 *   32-byte aligned and followed by its inline tail | data blocks
 *
 * Blocks are 4 KiB; nids count 32-byte slots from the image start (the
 * metadata area begins at block 0). An inode is compact (32 bytes; its mtime
 * is the superblock's build time, which is every node's mtime) unless an
 * owner, link count or size needs the extended form (64 bytes). Content is
 * "flat": whole blocks at raw_blkaddr, and the last partial block either
 * inline right after the inode (when inode and tail fit in one block, moving
 * the inode to the next block when that wastes less than a data block would)
 * or in a data block of its own. Folders hold sorted dirents ("." and ".."
 * included) in 4 KiB blocks; symlink targets are their content. No
 * compression, no xattrs, no checksum: the same stage always gives the same
 * bytes.
 */
import { MinosError } from '../errors.js';
import type { Stage } from '../engine/stage.js';
import { buildTree, openImage, readPieces, S_IFMT, u64, type Inode, type InodeType } from './fstree.js';
import type { Resolved } from './output.js';

export interface ErofsOptions {
  /** Seconds since the epoch: the build time every inode's mtime equals. */
  mtime: number;
}

const BLK = 4096;
const MAGIC = 0xe0f5e1e2;
const SB_OFFSET = 1024;
const FIRST_INODE = 1152;
const FT: Record<InodeType, number> = { file: 1, dir: 2, char: 3, block: 4, fifo: 5, symlink: 7 };
const FLAT_PLAIN = 0;
const FLAT_INLINE = 2;

interface Placed {
  inode: Inode;
  ino: number;
  /** Byte offset of the inode; nid = off / 32. */
  off: number;
  extended: boolean;
  layout: number;
  size: number;
  /** Bytes of content kept inline after the inode. */
  inline: number;
  /** Content bytes in data blocks (whole blocks, the last zero-padded). */
  inData: number;
  blkaddr: number;
  /** The dirents of a folder. */
  listing?: DirBlock[];
}

interface DirBlock {
  entries: { name: Buffer; inode: Inode }[];
  used: number;
}

/** A folder's entries, "." and ".." included, sorted by name and cut into blocks. */
function dirBlocks(d: Inode): DirBlock[] {
  const all = [{ name: Buffer.from('.'), inode: d }, { name: Buffer.from('..'), inode: d.parent ?? d }, ...d.children!];
  all.sort((a, b) => Buffer.compare(a.name, b.name));
  const blocks: DirBlock[] = [{ entries: [], used: 0 }];
  for (const e of all) {
    if (e.name.length > 255) throw new MinosError('MN0118', `erofs names hold at most 255 bytes: ${e.name.toString()}`);
    let b = blocks[blocks.length - 1];
    if (b.used + 12 + e.name.length > BLK) blocks.push((b = { entries: [], used: 0 }));
    b.entries.push(e);
    b.used += 12 + e.name.length;
  }
  return blocks;
}

/** The folder's content: each block its dirents then their names; the last block as long as it is used. */
function dirBytes(blocks: DirBlock[], nidOf: (i: Inode) => number): Buffer {
  const out = Buffer.alloc((blocks.length - 1) * BLK + blocks[blocks.length - 1].used);
  blocks.forEach((b, k) => {
    const base = k * BLK;
    let nameoff = 12 * b.entries.length;
    b.entries.forEach((e, j) => {
      const at = base + 12 * j;
      u64(out, at, nidOf(e.inode));
      out.writeUInt16LE(nameoff, at + 8);
      out.writeUInt8(FT[e.inode.type], at + 10);
      e.name.copy(out, base + nameoff);
      nameoff += e.name.length;
    });
  });
  return out;
}

/** Where every inode goes, and its content. Returns the placements and the first data block. */
function layout(inodes: Inode[]): { placed: Placed[]; dataStart: number } {
  const placed: Placed[] = [];
  let off = FIRST_INODE;
  inodes.forEach((inode, k) => {
    const listing = inode.type === 'dir' ? dirBlocks(inode) : undefined;
    const size = listing ? (listing.length - 1) * BLK + listing[listing.length - 1].used : inode.type === 'symlink' ? inode.target!.length : inode.size;
    const extended = inode.uid > 0xffff || inode.gid > 0xffff || inode.nlink > 0xffff || size >= 2 ** 32;
    const isize = extended ? 64 : 32;
    const tail = size % BLK;
    let inline = 0;
    if (tail > 0 && isize + tail <= BLK) {
      const room = BLK - (off % BLK);
      if (isize + tail <= room) inline = tail;
      else if (room < BLK - tail) {
        off += room; // the rest of this block wastes less than a data block for the tail would
        inline = tail;
      }
    }
    placed.push({ inode, ino: k + 1, off, extended, layout: inline ? FLAT_INLINE : FLAT_PLAIN, size, inline, inData: size - inline, blkaddr: 0, listing });
    off += isize + inline;
    off = Math.ceil(off / 32) * 32;
  });
  const dataStart = Math.ceil(off / BLK);
  let next = dataStart;
  for (const p of placed) {
    if (p.inData === 0) continue;
    p.blkaddr = next;
    next += Math.ceil(p.inData / BLK);
  }
  if (next >= 2 ** 32) throw new MinosError('MN0118', 'erofs with 4 KiB blocks holds at most 16 TiB');
  return { placed, dataStart };
}

function inodeBytes(p: Placed): Buffer {
  const i = p.inode;
  const b = Buffer.alloc(p.extended ? 64 : 32);
  const iu = i.type === 'char' || i.type === 'block' ? i.rdev : p.blkaddr;
  b.writeUInt16LE((p.extended ? 1 : 0) | (p.layout << 1), 0);
  b.writeUInt16LE(0, 2); // no xattrs
  b.writeUInt16LE(S_IFMT[i.type] | i.mode, 4);
  if (p.extended) {
    u64(b, 8, p.size);
    b.writeUInt32LE(iu >>> 0, 16);
    b.writeUInt32LE(p.ino, 20);
    b.writeUInt32LE(i.uid >>> 0, 24);
    b.writeUInt32LE(i.gid >>> 0, 28);
    // mtime (32..43) is filled in by the caller
    b.writeUInt32LE(i.nlink, 44);
  } else {
    b.writeUInt16LE(i.nlink, 6);
    b.writeUInt32LE(p.size, 8);
    b.writeUInt32LE(iu >>> 0, 16);
    b.writeUInt32LE(p.ino, 20);
    b.writeUInt16LE(i.uid, 24);
    b.writeUInt16LE(i.gid, 26);
  }
  return b;
}

/** Write an uncompressed EROFS image of the stage to `file`. */
export function writeErofs(stage: Stage, nodes: readonly Resolved[], file: string, opts: ErofsOptions): void {
  const { inodes } = buildTree(nodes);
  const { placed, dataStart } = layout(inodes);
  const nid = new Map(placed.map((p) => [p.inode, p.off / 32]));
  const meta = Buffer.alloc(dataStart * BLK);
  const img = openImage(file);
  try {
    img.write(meta); // the metadata area, written last
    const piece = Buffer.alloc(1 << 20);
    for (const p of placed) {
      const ib = inodeBytes(p);
      if (p.extended) u64(ib, 32, opts.mtime);
      ib.copy(meta, p.off);
      const tailAt = p.off + ib.length;
      // Content: bytes below inData go to the data blocks, the rest inline after the inode.
      let pos = 0;
      const take = (b: Buffer) => {
        const toData = Math.max(0, Math.min(b.length, p.inData - pos));
        if (toData) img.write(b.subarray(0, toData));
        if (toData < b.length) b.copy(meta, tailAt + pos + toData - p.inData, toData);
        pos += b.length;
      };
      if (p.listing) take(dirBytes(p.listing, (i) => nid.get(i)!));
      else if (p.inode.type === 'symlink') take(p.inode.target!);
      else if (p.inode.type === 'file' && p.size) readPieces(stage, p.inode, piece.length, piece, take);
      if (p.inData % BLK) img.write(Buffer.alloc(BLK - (p.inData % BLK)));
    }
    const blocks = img.pos / BLK;
    const sb = Buffer.alloc(128);
    sb.writeUInt32LE(MAGIC, 0);
    sb.writeUInt32LE(0, 4); // checksum: unused without the SB_CHKSUM feature
    sb.writeUInt32LE(0, 8); // feature_compat
    sb.writeUInt8(12, 12); // 4 KiB blocks
    sb.writeUInt16LE(nid.get(inodes[0])!, 14);
    u64(sb, 16, inodes.length);
    u64(sb, 24, opts.mtime);
    sb.writeUInt32LE(0, 32);
    sb.writeUInt32LE(blocks, 36);
    sb.writeUInt32LE(0, 40); // meta_blkaddr
    sb.writeUInt32LE(0, 44); // xattr_blkaddr
    sb.copy(meta, SB_OFFSET);
    img.writeAt(meta, 0);
    img.close();
  } catch (e) {
    img.abort();
    throw e;
  }
}
