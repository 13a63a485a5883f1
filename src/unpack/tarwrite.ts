/**
 * Writing POSIX tar (ustar + pax) headers, deterministically: the same
 * headers give the same bytes. tar.ts reads them back.
 */
import type { EntryType } from '../types.js';
import { BLOCK, checksum, type TarHeader } from './tar.js';

const TYPEFLAGS: Record<EntryType, number> = {
  file: 0x30, hardlink: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36,
};

function writeStr(b: Buffer, s: string, off: number, len: number): void {
  b.write(s, off, len, 'utf8');
}

function writeOct(b: Buffer, v: number, off: number, len: number): void {
  b.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function fitsUstar(s: string, len: number): boolean {
  return Buffer.byteLength(s) === s.length && s.length <= len;
}

/** Split a long ASCII name into ustar prefix/name, or undefined if it cannot be. */
function splitName(name: string): [string, string] | undefined {
  if (fitsUstar(name, 100)) return ['', name];
  if (Buffer.byteLength(name) !== name.length) return undefined;
  for (let i = name.indexOf('/'); i >= 0 && i <= 155; i = name.indexOf('/', i + 1)) {
    if (name.length - i - 1 <= 100 && i > 0) return [name.slice(0, i), name.slice(i + 1)];
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const blen = Buffer.byteLength(body);
  let len = blen + 1;
  while (len !== blen + String(len).length) len = blen + String(len).length;
  return `${len}${body}`;
}

function ustarBlock(h: TarHeader, name: string, prefix: string, linkname: string, size: number, flag: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeStr(b, name, 0, 100);
  writeOct(b, h.mode & 0o7777, 100, 8);
  writeOct(b, h.uid, 108, 8);
  writeOct(b, h.gid, 116, 8);
  writeOct(b, size, 124, 12);
  writeOct(b, h.mtime, 136, 12);
  b[156] = flag;
  writeStr(b, linkname, 157, 100);
  b.write('ustar\x0000', 257, 8, 'latin1');
  writeStr(b, h.uname, 265, 32);
  writeStr(b, h.gname, 297, 32);
  writeOct(b, h.devmajor, 329, 8);
  writeOct(b, h.devminor, 337, 8);
  writeStr(b, prefix, 345, 155);
  writeOct(b, checksum(new Uint32Array(b.buffer, b.byteOffset, BLOCK / 4)), 148, 7); // Buffer.alloc: its own, aligned memory
  b[155] = 0x20;
  return b;
}

/**
 * Header block(s) for one entry: a pax extended header first when the name,
 * link name or size do not fit ustar. Content and padding are the caller's.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const split = splitName(h.type === 'dir' ? `${h.name}/` : h.name);
  const linkOk = fitsUstar(h.linkname, 100);
  const sizeOk = h.size < 0o77777777777;
  const main = ustarBlock(h, split ? split[1] : h.name.slice(0, 99).replace(/[^\x20-\x7e]/g, '_'), split ? split[0] : '',
    linkOk ? h.linkname : '', sizeOk ? h.size : 0, TYPEFLAGS[h.type]);
  if (split && linkOk && sizeOk) return main;
  let records = '';
  if (!linkOk) records += paxRecord('linkpath', h.linkname);
  if (!split) records += paxRecord('path', h.type === 'dir' ? `${h.name}/` : h.name);
  if (!sizeOk) records += paxRecord('size', String(h.size));
  const body = Buffer.from(records, 'utf8');
  const paxHeader = ustarBlock({ ...h, mode: 0o644 }, 'PaxHeader', '', '', body.length, 0x78);
  return Buffer.concat([paxHeader, body, Buffer.alloc(padLength(body.length)), main]);
}

export function padLength(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);
