/**
 * A strict, synchronous POSIX tar (ustar + pax) reader; tarwrite.ts writes.
 *
 * The reader accepts only what a package may contain: ustar headers with valid
 * checksums and octal fields, pax extended headers ('x') with well-formed
 * records, and entry types file, hardlink, symlink, char, block, dir, fifo.
 * GNU long names, sparse files, global pax headers and base-256 numbers are
 * refused. After the end-of-archive blocks only zero padding may follow.
 * */
import { MinosError } from '../errors.js';
import type { EntryType } from '../types.js';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

export interface TarHandlers {
  /** A new entry begins; its `size` bytes of content follow through `data`. */
  entry(h: TarHeader): void;
  data(chunk: Uint8Array): void;
  entryEnd(): void;
}

export interface TarReader {
  push(chunk: Uint8Array): void;
  /** Input ended: throws if the archive was not properly terminated. */
  end(): void;
}

/** Bytes in a tar block: headers, content padding and the end-of-archive blocks. */
export const BLOCK = 512;
const MAX_PAX = 1 << 20;
const MAX_PATH = 4096;

function malformed(msg: string, offset: number): MinosError {
  return new MinosError('MN0110', `malformed tar archive at offset ${offset}: ${msg}`, { data: { offset } });
}

const TYPES: Record<number, EntryType> = {
  0x30: 'file', 0x31: 'hardlink', 0x32: 'symlink', 0x33: 'char',
  0x34: 'block', 0x35: 'dir', 0x36: 'fifo',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function utf8Name(b: Uint8Array, at: number): string {
  try {
    return utf8.decode(b);
  } catch {
    throw malformed('a long name that is not UTF-8', at);
  }
}

/** A NUL-terminated header field; ASCII (the usual case) skips the UTF-8 decoder. */
function cstr(b: Buffer, off: number, len: number, at: number): string {
  let end = off;
  let high = 0; // OR of the bytes: < 0x80 iff all are ASCII
  for (const stop = off + len; end < stop; end++) {
    const c = b[end];
    if (c === 0) break;
    high |= c;
  }
  if (end === off) return '';
  if (high < 0x80) return b.toString('latin1', off, end);
  try {
    return utf8.decode(b.subarray(off, end));
  } catch {
    throw malformed('header field is not valid UTF-8', at);
  }
}

/**
 * cstr for a field that usually repeats from header to header (owner and
 * group names): the last value is reused while the bytes up to the NUL match.
 */
function createFieldCache(off: number, len: number): (b: Buffer, at: number) => string {
  const last = new Uint8Array(len);
  let value = '';
  return (b, at) => {
    for (let k = 0; k < len; k++) {
      const c = b[off + k];
      if (c !== last[k]) {
        value = cstr(b, off, len, at);
        last.set(b.subarray(off, off + len));
        return value;
      }
      if (c === 0) break;
    }
    return value;
  };
}

function octal(b: Uint8Array, off: number, len: number, at: number, field: string): number {
  if (b[off] & 0x80) throw malformed(`base-256 ${field} is not supported`, at);
  let i = off;
  const end = off + len;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x37) {
      v = v * 8 + (c - 0x30);
      digits++;
    } else break;
  }
  for (; i < end; i++) if (b[i] !== 0 && b[i] !== 0x20) throw malformed(`invalid octal ${field}`, at);
  if (digits === 0) {
    // An all-NUL numeric field means 0 for the optional fields only.
    if (field === 'size' || field === 'mode' || field === 'checksum') throw malformed(`empty ${field}`, at);
  }
  return v;
}

/**
 * Header checksum: the byte sum of the block with the checksum field itself
 * (bytes 148-155, words 37-38) counted as spaces. Summed through the block's
 * 32-bit words, two bytes of each per 16-bit lane, which cannot overflow
 * (128 words x 2 x 255 < 65536).
 */
export function checksum(w: Uint32Array): number {
  let lanes = 0;
  for (let i = 0; i < 37; i++) lanes += (w[i] & 0xff00ff) + ((w[i] >>> 8) & 0xff00ff);
  for (let i = 39; i < BLOCK / 4; i++) lanes += (w[i] & 0xff00ff) + ((w[i] >>> 8) & 0xff00ff);
  const low = lanes % 0x10000;
  return 8 * 0x20 + low + (lanes - low) / 0x10000;
}

/** Is the UTF-8 form of `s` longer than `max` bytes? (A code unit is 1 to 3 bytes.) */
function utf8Longer(s: string, max: number): boolean {
  return s.length > max || (s.length * 3 > max && Buffer.byteLength(s) > max);
}

/** Does the magic field hold exactly "ustar\0" and the version "00"? */
function isUstar(b: Uint8Array): boolean {
  return b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72 && b[262] === 0 && b[263] === 0x30 && b[264] === 0x30;
}

/** GNU tar's magic "ustar  \0", as dpkg-deb writes Debian's data.tar. */
function isGnu(b: Uint8Array): boolean {
  return b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72 && b[262] === 0x20 && b[263] === 0x20 && b[264] === 0;
}

function isZero(b: Uint8Array): boolean {
  return firstNonZero(b, 0, b.length) < 0;
}

/**
 * Index of the first non-zero byte of b[start, end), or -1. A function of its
 * own, called for every entry's padding, is optimised sooner than a loop
 * inside push(), which runs only once per chunk.
 */
function firstNonZero(b: Uint8Array, start: number, end: number): number {
  for (let k = start; k < end; k++) if (b[k] !== 0) return k;
  return -1;
}

/** Parse a pax extended header body strictly: `LEN key=value\n` records. */
export function parsePax(b: Uint8Array, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < b.length) {
    let j = i;
    let len = 0;
    while (j < b.length && b[j] >= 0x30 && b[j] <= 0x39 && j - i < 8) len = len * 10 + (b[j++] - 0x30);
    if (j === i || b[j] !== 0x20 || b[i] === 0x30) throw malformed('bad pax record length', at);
    if (len < j - i + 3 || i + len > b.length) throw malformed('pax record length out of range', at);
    if (b[i + len - 1] !== 0x0a) throw malformed('pax record not terminated by newline', at);
    let rec: string;
    try {
      rec = utf8.decode(b.subarray(j + 1, i + len - 1));
    } catch {
      throw malformed('pax record is not valid UTF-8', at);
    }
    const eq = rec.indexOf('=');
    if (eq <= 0) throw malformed('pax record without key', at);
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (key.startsWith('GNU.sparse')) throw malformed('sparse files are not supported', at);
    if (!PAX_KEYS.has(key)) throw malformed(`pax record "${key.slice(0, 64)}" is not accepted (only ${[...PAX_KEYS].join(', ')})`, at);
    if (out.has(key)) throw malformed(`duplicate pax record "${key}"`, at);
    out.set(key, value);
    i += len;
  }
  return out;
}

/**
 * The pax records a package may carry: those that take effect, and the times
 * and comment that GNU tar and bsdtar write and that are ignored. Anything
 * else (extended attributes, hdrcharset, vendor records) would be dropped
 * silently or change how names are read, so it is refused.
 */
const PAX_KEYS = new Set(['path', 'linkpath', 'size', 'uname', 'gname', 'uid', 'gid', 'mtime', 'atime', 'ctime', 'comment']);

function paxTime(v: string, key: string, at: number): number {
  if (!/^-?[0-9]{1,16}(\.[0-9]{1,9})?$/.test(v)) throw malformed(`pax ${key} is not a decimal time`, at);
  return Math.floor(Number(v.split('.')[0]));
}

function paxNumber(v: string, key: string, at: number): number {
  if (!/^[0-9]{1,16}$/.test(v)) throw malformed(`pax ${key} is not a decimal integer`, at);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw malformed(`pax ${key} too large`, at);
  return n;
}

/** Create a push-driven tar reader delivering entries to `h`. */
export interface TarReaderOptions {
  /**
   * Also accept GNU headers and their long names ('L', 'K'), for Debian's
   * archives; a package's own payload stays POSIX-only.
   */
  gnu?: boolean;
}

export function createTarReader(h: TarHandlers, opts: TarReaderOptions = {}): TarReader {
  const gnuOk = opts.gnu === true;
  let longName: string | undefined;
  let longLink: string | undefined;
  let gnuKind = 0;
  const block = Buffer.alloc(BLOCK); // its own ArrayBuffer, so word-aligned
  const words = new Uint32Array(block.buffer, block.byteOffset, BLOCK / 4);
  const unameField = createFieldCache(265, 32);
  const gnameField = createFieldCache(297, 32);
  let have = 0; // bytes in `block`
  let offset = 0; // archive offset of the next byte pushed
  let state: 'header' | 'data' | 'pad' | 'pax' | 'eof1' | 'done' = 'header';
  let remaining = 0; // data bytes left in the current entry
  let padding = 0;
  let pax: Map<string, string> | undefined;
  let paxBuf: Uint8Array | undefined;
  let paxHave = 0;
  let headerAt = 0;

  function header(b: Buffer, w: Uint32Array): void {
    headerAt = offset - BLOCK;
    if (isZero(b)) {
      if (pax) throw malformed('pax header not followed by an entry', headerAt);
      if (longName !== undefined || longLink !== undefined) throw malformed('long name not followed by an entry', headerAt);
      state = 'eof1';
      return;
    }
    const gnu = gnuOk && isGnu(b);
    if (!gnu && !isUstar(b)) {
      cstr(b, 257, 6, headerAt); // a magic that is not UTF-8 is reported as such
      throw malformed(b[257 + 5] === 0x20 ? 'GNU tar format is not supported (use --format=pax)' : 'not a POSIX ustar header', headerAt);
    }
    const sum = octal(b, 148, 8, headerAt, 'checksum');
    if (sum !== checksum(w)) throw malformed('header checksum mismatch', headerAt);
    const flag = b[156];
    const size = octal(b, 124, 12, headerAt, 'size');
    if (flag === 0x78 /* x */) {
      if (pax) throw malformed('two pax headers in a row', headerAt);
      if (size > MAX_PAX) throw malformed(`pax header of ${size} bytes is too large`, headerAt);
      paxBuf = new Uint8Array(size);
      paxHave = 0;
      remaining = size;
      padding = (BLOCK - (size % BLOCK)) % BLOCK;
      state = size === 0 ? 'pad' : 'pax';
      if (size === 0) pax = new Map();
      return;
    }
    if (gnu && (flag === 0x4c /* L */ || flag === 0x4b /* K */)) {
      if (pax || (flag === 0x4c ? longName : longLink) !== undefined) throw malformed('two long-name headers for one entry', headerAt);
      if (size > MAX_PATH + 1) throw malformed(`long name of ${size} bytes is too large`, headerAt);
      paxBuf = new Uint8Array(size);
      paxHave = 0;
      gnuKind = flag;
      remaining = size;
      padding = (BLOCK - (size % BLOCK)) % BLOCK;
      state = size === 0 ? 'pad' : 'pax';
      return;
    }
    const type = flag === 0x00 ? undefined : TYPES[flag];
    if (!type) {
      if (flag === 0) throw malformed('typeflag NUL (a pre-POSIX regular file) is not accepted: write \'0\'', headerAt);
      const c = String.fromCharCode(flag);
      throw malformed(`unsupported entry type '${c}'${c === 'L' || c === 'K' ? ' (GNU long name; use --format=pax)' : c === 'g' ? ' (global pax header)' : ''}`, headerAt);
    }
    // GNU headers keep times, not a prefix, at offset 345.
    const prefix = gnu ? '' : cstr(b, 345, 155, headerAt);
    let name = cstr(b, 0, 100, headerAt);
    if (prefix) name = `${prefix}/${name}`;
    let linkname = cstr(b, 157, 100, headerAt);
    if (longName !== undefined) name = longName;
    if (longLink !== undefined) linkname = longLink;
    longName = longLink = undefined;
    let uname = unameField(b, headerAt);
    let gname = gnameField(b, headerAt);
    let uid = octal(b, 108, 8, headerAt, 'uid');
    let gid = octal(b, 116, 8, headerAt, 'gid');
    let mtime = octal(b, 136, 12, headerAt, 'mtime');
    let realSize = size;
    if (pax) {
      for (const [k, v] of pax) {
        if (k === 'path') name = v;
        else if (k === 'linkpath') linkname = v;
        else if (k === 'uname') uname = v;
        else if (k === 'gname') gname = v;
        else if (k === 'size') realSize = paxNumber(v, k, headerAt);
        else if (k === 'uid') uid = paxNumber(v, k, headerAt);
        else if (k === 'gid') gid = paxNumber(v, k, headerAt);
        else if (k === 'mtime') mtime = paxTime(v, k, headerAt);
        else if (k === 'atime' || k === 'ctime') paxTime(v, k, headerAt);
      }
      pax = undefined;
    }
    if (name.length === 0) throw malformed('empty entry name', headerAt);
    if (name.includes('\0') || linkname.includes('\0')) throw malformed('NUL byte in a name', headerAt);
    if (utf8Longer(name, MAX_PATH) || utf8Longer(linkname, MAX_PATH)) throw malformed('name longer than 4096 bytes', headerAt);
    if (type === 'dir' && name.endsWith('/')) name = name.slice(0, -1);
    if (type !== 'file' && realSize !== 0) throw malformed(`${type} entry "${name}" has a non-zero size`, headerAt);
    h.entry({
      name, type, mode: octal(b, 100, 8, headerAt, 'mode') & 0o7777, uid, gid, uname, gname, size: realSize, mtime, linkname,
      devmajor: octal(b, 329, 8, headerAt, 'devmajor'), devminor: octal(b, 337, 8, headerAt, 'devminor'),
    });
    remaining = realSize;
    padding = (BLOCK - (realSize % BLOCK)) % BLOCK;
    if (remaining === 0) {
      h.entryEnd();
      state = padding ? 'pad' : 'header';
    } else state = 'data';
  }

  function push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (state === 'data') {
        const take = Math.min(remaining, n - i);
        h.data(chunk.subarray(i, i + take));
        i += take;
        offset += take;
        remaining -= take;
        if (remaining === 0) {
          h.entryEnd();
          state = padding ? 'pad' : 'header';
        }
        continue;
      }
      if (state === 'pax') {
        const take = Math.min(remaining, n - i);
        paxBuf!.set(chunk.subarray(i, i + take), paxHave);
        paxHave += take;
        i += take;
        offset += take;
        remaining -= take;
        if (remaining === 0) {
          if (gnuKind) {
            const end = paxBuf!.indexOf(0);
            const text = utf8Name(paxBuf!.subarray(0, end < 0 ? paxBuf!.length : end), headerAt);
            if (gnuKind === 0x4c) longName = text;
            else longLink = text;
            gnuKind = 0;
          } else pax = parsePax(paxBuf!, headerAt);
          paxBuf = undefined;
          state = padding ? 'pad' : 'header';
        }
        continue;
      }
      if (state === 'pad') {
        const take = Math.min(padding, n - i);
        const bad = firstNonZero(chunk, i, i + take);
        if (bad >= 0) throw malformed('non-zero padding', offset + bad - i);
        i += take;
        offset += take;
        padding -= take;
        if (padding === 0) state = 'header';
        continue;
      }
      if (state === 'done') {
        const bad = firstNonZero(chunk, i, n);
        if (bad >= 0) throw malformed('data after the end of the archive', offset + bad - i);
        offset += n - i;
        return;
      }
      // header or eof1: assemble one block
      const take = Math.min(BLOCK - have, n - i);
      block.set(chunk.subarray(i, i + take), have);
      have += take;
      i += take;
      offset += take;
      if (have < BLOCK) continue;
      have = 0;
      if (state === 'eof1') {
        if (!isZero(block)) throw malformed('single zero block before more data', offset - BLOCK);
        state = 'done';
      } else header(block, words);
    }
  }

  function end(): void {
    if (state === 'done') return;
    if (state === 'eof1' && have === 0) throw malformed('archive ends after one zero block', offset);
    throw malformed('archive is truncated', offset);
  }

  return { push, end };
}
