/**
 * Just enough ELF to do what ldconfig does with a library: class, byte
 * order, machine, flags and DT_SONAME (through PT_DYNAMIC and the PT_LOAD
 * that maps DT_STRTAB). ELF32 and ELF64, little and big endian. Returns
 * undefined for anything that is not a well-formed ELF file; never throws.
 */

export interface ElfInfo {
  class: 32 | 64;
  littleEndian: boolean;
  machine: number;
  flags: number;
  /** DT_SONAME, or undefined when the file has none. */
  soname?: string;
}

export const EM = { I386: 3, MIPS: 8, PPC: 20, PPC64: 21, S390: 22, ARM: 40, X86_64: 62, AARCH64: 183, RISCV: 243, LOONGARCH: 258 } as const;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_STRTAB = 5;
const DT_SONAME = 14;

/** Bytes [offset, offset + length) of a file, fewer where it ends; undefined when it cannot be read. */
export type ReadAt = (offset: number, length: number) => Uint8Array | undefined;

export function readElf(b: Uint8Array): ElfInfo | undefined {
  return readElfAt((o, n) => b.subarray(o, o + n));
}

/** readElf through positional reads: the header, program headers, dynamic section and the name, not the whole file. */
export function readElfAt(at: ReadAt): ElfInfo | undefined {
  const h = at(0, 64);
  if (!h || h.length < 52 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) return undefined;
  const cls = h[4] === 1 ? 32 : h[4] === 2 ? 64 : 0;
  if (!cls || (h[5] !== 1 && h[5] !== 2)) return undefined;
  const le = h[5] === 1;
  if (cls === 64 && h.length < 64) return undefined;
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  /** `n` bytes at `off`, or undefined when the file holds fewer there. */
  const need = (off: number, n: number) => {
    if (off < 0 || !Number.isSafeInteger(off + n)) return undefined;
    const b = at(off, n);
    return b && b.length === n ? b : undefined;
  };
  const hv = view(h);
  const word = (dv: DataView, o: number) => (cls === 64 ? Number(dv.getBigUint64(o, le)) : dv.getUint32(o, le));
  const machine = hv.getUint16(18, le);
  const flags = hv.getUint32(cls === 64 ? 48 : 36, le);
  const phoff = word(hv, cls === 64 ? 32 : 28);
  const phentsize = hv.getUint16(cls === 64 ? 54 : 42, le);
  const phnum = hv.getUint16(cls === 64 ? 56 : 44, le);
  const info: ElfInfo = { class: cls, littleEndian: le, machine, flags };
  const ph = phentsize < (cls === 64 ? 56 : 32) ? undefined : need(phoff, phentsize * phnum);
  if (!ph) return info;

  const pv = view(ph);
  const loads: { vaddr: number; off: number; filesz: number }[] = [];
  let dyn: { off: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = i * phentsize;
    const type = pv.getUint32(p, le);
    const off = cls === 64 ? word(pv, p + 8) : pv.getUint32(p + 4, le);
    const vaddr = cls === 64 ? word(pv, p + 16) : pv.getUint32(p + 8, le);
    const filesz = cls === 64 ? word(pv, p + 32) : pv.getUint32(p + 16, le);
    if (type === PT_LOAD) loads.push({ vaddr, off, filesz });
    else if (type === PT_DYNAMIC) dyn = { off, size: filesz };
  }
  const db = dyn && need(dyn.off, dyn.size);
  if (!db) return info;
  const dv = view(db);
  const entsize = cls === 64 ? 16 : 8;
  let strtab: number | undefined;
  let soname: number | undefined;
  for (let o = 0; o + entsize <= db.length; o += entsize) {
    const tag = cls === 64 ? Number(dv.getBigInt64(o, le)) : dv.getInt32(o, le);
    const val = word(dv, o + entsize / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_SONAME) soname = val;
  }
  if (strtab === undefined || soname === undefined) return info;
  const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
  if (!seg) return info;
  const start = seg.off + (strtab - seg.vaddr) + soname;
  // The name ends at the next NUL, however far.
  const parts: Uint8Array[] = [];
  for (let off = start, n = 256; ; off += n, n *= 2) {
    const b = off >= 0 && Number.isSafeInteger(off + n) ? at(off, n) : undefined;
    if (!b || b.length === 0) return info;
    const end = b.indexOf(0);
    parts.push(end < 0 ? b : b.subarray(0, end));
    if (end >= 0) break;
    if (b.length < n) return info;
  }
  info.soname = Buffer.concat(parts).toString('latin1');
  return info;
}
