/**
 * /etc/ld.so.cache as glibc 2.36's `ldconfig -r ROOT` writes it, for any
 * target architecture, without running anything: the new format only
 * ("glibc-ld.so.cache1.1"), entries sorted as ldconfig sorts them, the
 * string table tail-merged as its stringtable.c does, and the generator
 * extension naming the libc-bin version. Directories are /etc/ld.so.conf
 * (with its includes) then the system directories, each scanned once (a
 * directory reached again through a link is skipped, as ldconfig skips a
 * seen inode).
 */
import { MinosError, quote } from '../../errors.js';
import { readElfAt, EM } from './elf.js';
import type { FsIndex } from './fsindex.js';
import { normalizePath } from './fsindex.js';

/** Debian architecture -> GNU multiarch triplet. */
export const TRIPLETS: Readonly<Record<string, string>> = {
  amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', armhf: 'arm-linux-gnueabihf', armel: 'arm-linux-gnueabi',
  i386: 'i386-linux-gnu', riscv64: 'riscv64-linux-gnu', ppc64el: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu',
  mips64el: 'mips64el-linux-gnuabi64', loong64: 'loongarch64-linux-gnu', x32: 'x86_64-linux-gnux32',
};

const BIG_ENDIAN = new Set(['s390x', 'ppc64', 'powerpc', 'mips', 'sparc64', 'hppa', 'm68k']);

const FLAG_ELF_LIBC6 = 0x0003;

/** ldconfig's flag word for a library (sysdeps/.../readelflib.c). */
export function cacheFlags(machine: number, cls: 32 | 64, eflags: number): number {
  switch (machine) {
    case EM.X86_64: return FLAG_ELF_LIBC6 | (cls === 64 ? 0x0300 : 0x0800);
    case EM.AARCH64: return FLAG_ELF_LIBC6 | 0x0a00;
    case EM.ARM: return FLAG_ELF_LIBC6 | (eflags & 0x400 ? 0x0900 : eflags & 0x200 ? 0x0b00 : 0);
    case EM.PPC64: return FLAG_ELF_LIBC6 | 0x0500;
    case EM.S390: return FLAG_ELF_LIBC6 | (cls === 64 ? 0x0400 : 0);
    case EM.RISCV: return FLAG_ELF_LIBC6 | ((eflags & 0x6) === 0x4 ? 0x1000 : (eflags & 0x6) === 0 ? 0x0f00 : 0);
    case EM.LOONGARCH: return FLAG_ELF_LIBC6 | ((eflags & 0x7) === 0x3 ? 0x1200 : (eflags & 0x7) === 0x1 ? 0x1100 : 0);
    default: return FLAG_ELF_LIBC6;
  }
}

/** glibc's _dl_cache_libcmp: digit runs compare as numbers. */
export function libcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const digit = (s: string, k: number) => k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57;
  while (i < a.length) {
    if (digit(a, i)) {
      if (!digit(b, j)) return 1;
      let x = 0;
      let y = 0;
      while (digit(a, i)) x = x * 10 + a.charCodeAt(i++) - 48;
      while (digit(b, j)) y = y * 10 + b.charCodeAt(j++) - 48;
      if (x !== y) return x - y;
    } else if (digit(b, j)) return -1;
    else if (a[i] !== b[j]) return (a.charCodeAt(i) || 0) - (b.charCodeAt(j) || 0);
    else { i++; j++; }
  }
  return 0 - (b.charCodeAt(j) || 0);
}

export interface CacheEntry { soname: string; path: string; flags: number }

const enc = new TextEncoder();

/** Lines of an ld.so.conf file: `include GLOB` expanded against the index, others as folders. */
function confDirs(ix: FsIndex, file: string, depth: number, out: string[]): void {
  const data = ix.read(ix.resolve(file));
  if (!data || depth > 8) return;
  const text = Buffer.from(data).toString('utf8');
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^include\s+(.+)$/.exec(line);
    if (m) {
      for (const pat of m[1].trim().split(/\s+/)) {
        const abs = pat.startsWith('/') ? pat : `${file.slice(0, file.lastIndexOf('/'))}/${pat}`;
        for (const f of glob(ix, abs)) confDirs(ix, f, depth + 1, out);
      }
      continue;
    }
    if (/^hwcap\s/.test(line)) continue;
    const dir = line.replace(/\s.*$/, '').replace(/=.*$/, '');
    if (!dir.startsWith('/') || normalizePath(dir) !== dir.replace(/\/+$/, '') || dir.split('/').includes('..')) {
      throw new MinosError('MN0117', `${file}: ld.so path ${quote(dir)} is not an absolute path inside the root`, { data: { file, path: dir } });
    }
    out.push(dir.replace(/\/+$/, '') || '/');
  }
}

/** Expand one glob (`*` and `?` in the last component only, as ld.so.conf uses them). */
function glob(ix: FsIndex, pattern: string): string[] {
  const i = pattern.lastIndexOf('/');
  const dir = pattern.slice(0, i) || '/';
  const last = pattern.slice(i + 1);
  if (!/[*?[]/.test(last)) return [pattern];
  const re = new RegExp(`^${last.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  return ix.children(ix.resolve(dir)).filter((n) => !n.startsWith('.') && re.test(n)).map((n) => `${dir === '/' ? '' : dir}/${n}`);
}

/** The libraries ldconfig would put in the cache, in its order. */
export function cacheEntries(ix: FsIndex, arch: string): CacheEntry[] {
  const dirs: string[] = [];
  confDirs(ix, '/etc/ld.so.conf', 0, dirs);
  const t = TRIPLETS[arch];
  dirs.push(...(t ? [`/lib/${t}`, `/usr/lib/${t}`] : []), '/lib', '/usr/lib');
  const seen = new Set<string>();
  const found: CacheEntry[] = [];
  for (const dir of dirs) {
    const real = ix.resolve(dir);
    const names = ix.children(real);
    if (seen.has(real) || (names.length === 0 && !ix.entries.has(real))) continue;
    seen.add(real);
    const libs = new Map<string, { name: string; isLink: boolean; flags: number }>();
    for (const name of names) {
      if (!(name.startsWith('lib') || name.startsWith('ld-')) || !name.includes('.so')) continue;
      const own = ix.entries.get(`${real}/${name}`);
      if (!own) continue;
      let isLink = own.entry.type === 'symlink';
      const target = isLink ? ix.resolve(`${real}/${name}`) : `${real}/${name}`;
      const te = ix.entries.get(target);
      if (!te || (te.entry.type !== 'file' && te.entry.type !== 'hardlink')) continue;
      const elf = readElfAt((offset, length) => ix.readAt(target, offset, length));
      if (!elf) continue;
      let soname = elf.soname ?? name;
      if (isLink) {
        const base = target.slice(target.lastIndexOf('/') + 1);
        if (base !== soname && !(base.endsWith('.so') && soname.startsWith(base))) isLink = false;
      }
      if (isLink) soname = name;
      const flags = cacheFlags(elf.machine, elf.class, elf.flags);
      const prev = libs.get(soname);
      if (!prev) libs.set(soname, { name, isLink, flags });
      else if ((!isLink && prev.isLink) || libcmp(prev.name, name) < 0) libs.set(soname, { name, isLink, flags });
    }
    for (const [soname, l] of libs) found.push({ soname, path: `${dir}/${soname}`, flags: l.flags });
  }
  // ldconfig's compare(): by name (libcmp, descending), then flags descending; ties keep scan order.
  return found
    .map((e, i) => ({ e, i }))
    .sort((a, b) => libcmp(b.e.soname, a.e.soname) || b.e.flags - a.e.flags || a.i - b.i)
    .map((x) => x.e);
}

/** glibc's stringtable: strings sorted by their bytes from the end, descending (longer first on ties), suffixes shared. */
function stringTable(strings: Iterable<string>): { bytes: Uint8Array; offsets: Map<string, number> } {
  const uniq = [...new Set(strings)].map((s) => ({ s, b: enc.encode(s), off: 0 }));
  const signed = (x: number) => (x > 127 ? x - 256 : x);
  uniq.sort((l, r) => {
    let i = l.b.length;
    let j = r.b.length;
    while (i > 0 && j > 0) {
      i--; j--;
      if (l.b[i] !== r.b[j]) return signed(r.b[j]) - signed(l.b[i]);
    }
    return i > 0 ? -1 : j > 0 ? 1 : 0;
  });
  for (let k = 1; k < uniq.length; k++) {
    const p = uniq[k - 1];
    const c = uniq[k];
    const tail = p.b.length > c.b.length && Buffer.from(p.b.subarray(p.b.length - c.b.length)).equals(Buffer.from(c.b));
    c.off = tail ? p.off + p.b.length - c.b.length : p.off + p.b.length + 1;
  }
  const last = uniq[uniq.length - 1];
  const bytes = new Uint8Array(last ? last.off + last.b.length + 1 : 0);
  for (const u of uniq) bytes.set(u.b, u.off);
  return { bytes, offsets: new Map(uniq.map((u) => [u.s, u.off])) };
}

/** The cache file bytes. GENERATOR is the text ldconfig records (see generatorFor). */
export function ldCacheBytes(entries: readonly CacheEntry[], arch: string, generator: string): Uint8Array {
  const le = !BIG_ENDIAN.has(arch);
  const header = 48;
  const strStart = header + entries.length * 24;
  const st = stringTable(entries.flatMap((e) => [e.path, e.soname]));
  const extOff = Math.ceil((strStart + st.bytes.length) / 4) * 4;
  const gen = enc.encode(generator);
  const total = extOff + 8 + 16 + gen.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(enc.encode('glibc-ld.so.cache1.1'), 0);
  dv.setUint32(20, entries.length, le);
  dv.setUint32(24, st.bytes.length, le);
  out[28] = le ? 2 : 3;
  dv.setUint32(32, extOff, le);
  entries.forEach((e, i) => {
    const o = header + i * 24;
    dv.setInt32(o, e.flags, le);
    dv.setUint32(o + 4, strStart + st.offsets.get(e.soname)!, le);
    dv.setUint32(o + 8, strStart + st.offsets.get(e.path)!, le);
  });
  out.set(st.bytes, strStart);
  dv.setUint32(extOff, 0xeaa42174, le);
  dv.setUint32(extOff + 4, 1, le);
  dv.setUint32(extOff + 16, extOff + 24, le);
  dv.setUint32(extOff + 20, gen.length, le);
  out.set(gen, extOff + 24);
  return out;
}

/** The generator text of Debian's ldconfig for a libc-bin VERSION ("2.36-9+deb12u14"). */
export function generatorFor(version: string): string {
  const upstream = version.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
  return `ldconfig (Debian GLIBC ${version}) stable release version ${upstream}`;
}
