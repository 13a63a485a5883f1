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

export function readElf(b: Uint8Array): ElfInfo | undefined {
  if (b.length < 52 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  const cls = b[4] === 1 ? 32 : b[4] === 2 ? 64 : 0;
  if (!cls || (b[5] !== 1 && b[5] !== 2)) return undefined;
  const le = b[5] === 1;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const inb = (off: number, n: number) => off >= 0 && off + n <= b.length;
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const word = (o: number) => (cls === 64 ? Number(dv.getBigUint64(o, le)) : u32(o));
  if (cls === 64 && b.length < 64) return undefined;
  const machine = u16(18);
  const flags = u32(cls === 64 ? 48 : 36);
  const phoff = word(cls === 64 ? 32 : 28);
  const phentsize = u16(cls === 64 ? 54 : 42);
  const phnum = u16(cls === 64 ? 56 : 44);
  const info: ElfInfo = { class: cls, littleEndian: le, machine, flags };
  if (phentsize < (cls === 64 ? 56 : 32) || !inb(phoff, phentsize * phnum)) return info;

  const loads: { vaddr: number; off: number; filesz: number }[] = [];
  let dyn: { off: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = u32(p);
    const off = cls === 64 ? word(p + 8) : u32(p + 4);
    const vaddr = cls === 64 ? word(p + 16) : u32(p + 8);
    const filesz = cls === 64 ? word(p + 32) : u32(p + 16);
    if (type === PT_LOAD) loads.push({ vaddr, off, filesz });
    else if (type === PT_DYNAMIC) dyn = { off, size: filesz };
  }
  if (!dyn || !inb(dyn.off, dyn.size)) return info;
  const entsize = cls === 64 ? 16 : 8;
  let strtab: number | undefined;
  let soname: number | undefined;
  for (let o = dyn.off; o + entsize <= dyn.off + dyn.size; o += entsize) {
    const tag = cls === 64 ? Number(dv.getBigInt64(o, le)) : dv.getInt32(o, le);
    const val = word(o + entsize / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_SONAME) soname = val;
  }
  if (strtab === undefined || soname === undefined) return info;
  const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
  if (!seg) return info;
  const start = seg.off + (strtab - seg.vaddr) + soname;
  if (!inb(start, 1)) return info;
  const end = b.indexOf(0, start);
  if (end < 0) return info;
  info.soname = Buffer.from(b.subarray(start, end)).toString('latin1');
  return info;
}
