/**
 * An xz (LZMA2) decoder in TypeScript, for Debian's `.tar.xz` members.
 *
 * Contract: `xzDecompress(input, { limit, onChunk })` decodes every stream of
 * `input` (concatenated streams and stream padding allowed), hands the output
 * to `onChunk` in order (each chunk is a fresh copy the caller may keep), and
 * returns the total size. It checks every header CRC32, the block sizes the
 * headers and the index declare, and each block's check (CRC32, CRC64 or
 * SHA-256). Output beyond `limit` bytes, a dictionary over 256 MiB, any filter
 * but LZMA2, or any corruption throws MinosError MN0208 (exit 4). Memory is the
 * dictionary plus one input copy.
 */
import { createHash } from 'node:crypto';
import { MinosError } from '../errors.js';
import { lzma2Chunks } from './lzma.js';

export interface XzOptions {
  /** Most output bytes accepted. */
  limit: number;
  onChunk(chunk: Uint8Array): void;
  /** Named in errors. */
  label?: string;
}

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const MAX_DICT = 256 << 20;

const CRC32 = new Int32Array(256);
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC32[n] = c;
  // CRC-64/XZ, reflected polynomial 0xC96C5795D7870F42, as two 32-bit halves.
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const bit = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (bit) {
      lo = (lo ^ 0xd7870f42) >>> 0;
      hi = (hi ^ 0xc96c5795) >>> 0;
    }
  }
  CRC64_LO[n] = lo;
  CRC64_HI[n] = hi;
}

export function crc32(b: Uint8Array, start = 0, end = b.length, seed = 0): number {
  let c = ~seed;
  for (let i = start; i < end; i++) c = CRC32[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

interface Check {
  update(b: Uint8Array): void;
  digest(): Uint8Array;
}

function newCheck(id: number): Check | undefined {
  if (id === 0) return undefined;
  if (id === 1) {
    let c = 0;
    return {
      update: (b) => (c = crc32(b, 0, b.length, c)),
      digest: () => {
        const o = new Uint8Array(4);
        new DataView(o.buffer).setUint32(0, c, true);
        return o;
      },
    };
  }
  if (id === 4) {
    let lo = 0xffffffff;
    let hi = 0xffffffff;
    return {
      update(b) {
        for (let i = 0; i < b.length; i++) {
          const k = (lo ^ b[i]) & 0xff;
          lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[k]) >>> 0;
          hi = ((hi >>> 8) ^ CRC64_HI[k]) >>> 0;
        }
      },
      digest() {
        const o = new Uint8Array(8);
        const v = new DataView(o.buffer);
        v.setUint32(0, ~lo >>> 0, true);
        v.setUint32(4, ~hi >>> 0, true);
        return o;
      },
    };
  }
  if (id === 10) {
    const h = createHash('sha256');
    return { update: (b) => h.update(b), digest: () => h.digest() };
  }
  return undefined;
}

const CHECK_SIZE = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

export function xzDecompress(input: Uint8Array, opts: XzOptions): number {
  const label = opts.label ?? 'xz data';
  const fail = (msg: string): never => {
    throw new MinosError('MN0208', `${label}: corrupt xz data: ${msg}`, { data: { file: opts.label } });
  };
  const u32 = (at: number) => (input[at] | (input[at + 1] << 8) | (input[at + 2] << 16) | (input[at + 3] << 24)) >>> 0;
  let pos = 0;
  let total = 0;
  const varint = (end: number): number => {
    let v = 0;
    for (let i = 0; i < 9; i++) {
      if (pos >= end) fail('truncated number');
      const b = input[pos++];
      v += (b & 0x7f) * 2 ** (7 * i);
      if (!(b & 0x80)) {
        if (b === 0 && i > 0) fail('number with a redundant byte');
        return v;
      }
    }
    return fail('number too long');
  };
  let streams = 0;
  while (pos < input.length) {
    if (streams > 0) {
      // Stream padding: zero bytes in multiples of four, then another stream or the end.
      const start = pos;
      while (pos < input.length && input[pos] === 0) pos++;
      if ((pos - start) % 4 !== 0) fail('stream padding not a multiple of four bytes');
      if (pos === input.length) break;
    }
    if (input.length - pos < 12) fail('truncated stream header');
    for (let i = 0; i < 6; i++) if (input[pos + i] !== MAGIC[i]) fail(streams ? 'data after the last stream' : 'not an xz stream');
    if (crc32(input, pos + 6, pos + 8) !== u32(pos + 8)) fail('stream header CRC32 mismatch');
    if (input[pos + 6] !== 0 || input[pos + 7] > 0x0f) fail('unsupported stream flags');
    const checkId = input[pos + 7];
    const flags = input.subarray(pos + 6, pos + 8);
    pos += 12;
    const records: [number, number][] = [];
    for (;;) {
      if (pos >= input.length) fail('truncated block');
      if (input[pos] === 0) break; // the index
      const hsize = (input[pos] + 1) * 4;
      const hstart = pos;
      if (hstart + hsize > input.length) fail('truncated block header');
      if (crc32(input, hstart, hstart + hsize - 4) !== u32(hstart + hsize - 4)) fail('block header CRC32 mismatch');
      const bflags = input[pos + 1];
      pos += 2;
      if (bflags & 0x3c) fail('reserved block flags set');
      const hend = hstart + hsize - 4;
      const csize = bflags & 0x40 ? varint(hend) : -1;
      const usize = bflags & 0x80 ? varint(hend) : -1;
      if ((bflags & 3) !== 0) fail('filters other than LZMA2 are not supported');
      if (varint(hend) !== 0x21) fail('filters other than LZMA2 are not supported');
      if (varint(hend) !== 1) fail('LZMA2 properties must be one byte');
      const dprop = input[pos++];
      if (dprop > 40) fail('LZMA2 dictionary size out of range');
      const dict = dprop === 40 ? 0xffffffff : (2 | (dprop & 1)) * 2 ** ((dprop >> 1) + 11);
      for (; pos < hend; pos++) if (input[pos] !== 0) fail('non-zero block header padding');
      pos = hstart + hsize;
      if (dict > MAX_DICT) fail(`dictionary of ${dict} bytes is over the ${MAX_DICT} allowed`);
      const check = newCheck(checkId);
      const cstart = pos;
      let bout = 0;
      pos = lzma2Chunks(input, pos, {
        dictSize: Math.max(4096, dict),
        limit: opts.limit - total,
        fail,
        out(chunk) {
          bout += chunk.length;
          check?.update(chunk);
          opts.onChunk(chunk);
        },
      });
      total += bout;
      const ccount = pos - cstart;
      if (csize >= 0 && csize !== ccount) fail('block compressed size differs from its header');
      if (usize >= 0 && usize !== bout) fail('block uncompressed size differs from its header');
      while ((pos - cstart) % 4 !== 0) {
        if (pos >= input.length || input[pos] !== 0) fail('bad block padding');
        pos++;
      }
      const csz = CHECK_SIZE[checkId];
      if (pos + csz > input.length) fail('truncated block check');
      if (check) {
        const d = check.digest();
        for (let i = 0; i < csz; i++) if (d[i] !== input[pos + i]) fail('block check mismatch');
      }
      pos += csz;
      records.push([hsize + ccount + csz, bout]);
    }
    // Index: the records must equal the blocks just decoded.
    const istart = pos++;
    if (varint(input.length) !== records.length) fail('index record count differs from the blocks');
    for (const [unpadded, usize] of records) {
      if (varint(input.length) !== unpadded || varint(input.length) !== usize) fail('index record differs from its block');
    }
    while ((pos - istart) % 4 !== 0) {
      if (pos >= input.length || input[pos] !== 0) fail('bad index padding');
      pos++;
    }
    if (pos + 4 > input.length || crc32(input, istart, pos) !== u32(pos)) fail('index CRC32 mismatch');
    pos += 4;
    const isize = pos - istart;
    if (pos + 12 > input.length) fail('truncated stream footer');
    if (crc32(input, pos + 4, pos + 10) !== u32(pos)) fail('stream footer CRC32 mismatch');
    if ((u32(pos + 4) + 1) * 4 !== isize) fail('stream footer index size mismatch');
    if (input[pos + 8] !== flags[0] || input[pos + 9] !== flags[1]) fail('stream footer flags differ from the header');
    if (input[pos + 10] !== 0x59 || input[pos + 11] !== 0x5a) fail('bad stream footer magic');
    pos += 12;
    streams++;
  }
  if (streams === 0) fail('empty input');
  return total;
}
