/**
 * A Debian `Packages` file → minos index entries.
 *
 * Contract: `parsePackages(text, opts)` returns one IndexPackage (with its
 * DebianMeta) per stanza whose Architecture is the image's Debian
 * architecture or `all`; other architectures are skipped. `file` is the
 * stanza's Filename (a relative path under the mirror, checked: no `..`, no
 * leading `/`), `size` and `sha256` what the stanza lists. Relations are
 * rewritten into minos syntax: `foo (>= 1)` → `foo >= 1`, `<<` → `<`, `>>` →
 * `>`, the obsolete `<` and `>` → `<=` and `>=`. Architecture qualifiers
 * (`:any`, `:native`) are dropped: an image has one architecture, on which
 * every package is native. Pre-Depends join Depends; Breaks join Conflicts;
 * Recommends are optional. A malformed stanza is MinosError MN0216 naming the
 * file, line and package. With `lazy`, relation fields are converted (and
 * checked) when a package's relations are first read (lazyentry.ts).
 */
import { MinosError } from '../errors.js';
import { nameError, type Arch } from '../depend.js';
import { versionError } from '../version.js';
import type { DebianMeta, IndexPackage } from '../types.js';
import { bad } from './control.js';
import { ByteTable, FieldNames, grownTo, hashBytes, isSpace, lower, nameByte, nameStart, safePath, StanzaSkipper } from './bytetable.js';
import { convertClause, DEB_ARCH, OPS, relationError } from './relations.js';
import { DebEntry, KeptBytes, type RelationReader, type Relations } from './lazyentry.js';

export type DebianPackage = IndexPackage & { debian: DebianMeta };

export interface ParseOptions {
  /** Named in errors. */
  label: string;
  /** The image's architecture (minos name). */
  arch: Arch;
  /** The Release's Date (seconds): each package's build date, so an image's mtimes follow the snapshot. */
  date?: number;
  /**
   * Keep the relation fields as bytes and convert each package's on first
   * read (lazyentry.ts): a malformed relation is then reported when its
   * package is first considered. Default: every stanza converted and
   * checked while parsing.
   */
  lazy?: boolean;
  /**
   * Only packages of these names are wanted: other stanzas that start with
   * a `Package:` line are skipped unread (not checked); see packagesParser.
   */
  only?: ReadonlySet<string>;
  /** Called with each package as its stanza is parsed (the caller must know the bytes are the signed ones). */
  onPackage?: (p: DebianPackage) => void;
}

/** The fields of a Packages stanza parsePackages reads, by number. */
const FIELDS = ['package', 'version', 'architecture', 'installed-size', 'pre-depends', 'depends', 'breaks', 'recommends', 'provides',
  'conflicts', 'replaces', 'source', 'description', 'essential', 'priority', 'multi-arch', 'section', 'filename', 'size', 'sha256'] as const;
const [PACKAGE, VERSION, ARCHITECTURE, INSTALLED_SIZE, PRE_DEPENDS, DEPENDS, BREAKS, RECOMMENDS, PROVIDES,
  CONFLICTS, REPLACES, SOURCE, DESCRIPTION, ESSENTIAL, PRIORITY, MULTI_ARCH, SECTION, FILENAME, SIZE, SHA256] = FIELDS.map((_, k) => k);
/** Relation fields: their continuation lines are part of the value (deb822 folding); other fields keep their first line only. */
const FOLDED = new Set([PRE_DEPENDS, DEPENDS, BREAKS, RECOMMENDS, PROVIDES, CONFLICTS, REPLACES]);
/** The relation fields a lazy parser keeps as bytes. */
const KEPT = [PRE_DEPENDS, DEPENDS, BREAKS, RECOMMENDS, CONFLICTS, REPLACES];
/** Fields a stanza must have beyond Package and Version (FIELDS indexes, and their names for messages). */
const REQUIRED = [FILENAME, SIZE, SHA256];
const REQUIRED_NAMES = ['Filename', 'Size', 'SHA256'];
/** Shared by every empty relation list (frozen: nobody adds to an index entry's lists). */
const NONE = Object.freeze([]) as unknown as string[];

/** A Packages file read piece by piece (see parsePackages): push the bytes in order, then end. */
export interface PackagesParser {
  push(chunk: Uint8Array): void;
  /** The packages of every stanza, once the last bytes are pushed. */
  end(): DebianPackage[];
}

/**
 * Parsed as bytes, without decoding the file: each line is found with
 * indexOf, each stanza's fields are byte ranges, and only the values minos
 * keeps become strings (the summary decoded as UTF-8; every other field
 * minos keeps is ASCII by its own syntax). As strict as parseStanzas
 * (MN0110) and stanzaMeta (MN0216) for every stanza of the architecture.
 * Pieces may split the file anywhere: whole stanzas are parsed as they
 * arrive and the rest is kept for the next piece, so a file is never held
 * whole.
 */
export function packagesParser(opts: ParseOptions): PackagesParser {
  const { label, only } = opts;
  /** The bytes being parsed; each function below reads it into a local first (a const local lets the compiler keep its checks out of loops). */
  let cur: Buffer = Buffer.alloc(0);
  const text = (s: number, e: number): string => (cur as unknown as Latin1).latin1Slice(s, e);
  const want = DEB_ARCH[opts.arch];
  const out: DebianPackage[] = [];
  const names = new FieldNames(FIELDS);
  // Sized for Debian's main: 111,000 distinct clauses of 25 bytes on average.
  const clauses = new ByteTable(1 << 17, 1 << 22);
  const versions = new ByteTable(1 << 15);
  const words = new ByteTable();
  const vs = new Int32Array(FIELDS.length);
  const ve = new Int32Array(FIELDS.length);
  let seen: Int32Array = new Int32Array(64);
  let stamp = 0;
  let first = 0;
  let lineNo = 0;
  let inStanza = false;
  /** FIELDS index of the last field line when it folds, else -1. */
  let last = -1;
  /** Bytes of an unfinished stanza, always at the front of work. */
  let carry: Buffer | undefined;
  /** The clauses of the relation field being read. */
  const scratch: string[] = [];
  let work = Buffer.allocUnsafe(1 << 16);
  /** Lazy parsing: the relation bytes kept (see KeptBytes). */
  const kept = opts.lazy ? new KeptBytes(KEPT) : undefined;
  const skipper = only === undefined ? undefined : new StanzaSkipper(only);

  /** An interned short value (Section, Priority, Multi-Arch, Source's name). */
  const word = (s: number, e: number): string => {
    const b = cur;
    const h = hashBytes(b, s, e);
    return words.get(b, s, e, h) ?? words.set(b, s, e, h, text(s, e));
  };
  const is = (f: number, v: string): boolean => {
    const b = cur;
    if (vs[f] < 0 || ve[f] - vs[f] !== v.length) return false;
    for (let k = 0; k < v.length; k++) if (b[vs[f] + k] !== v.charCodeAt(k)) return false;
    return true;
  };
  /** The decimal number of field f, or -1 when it is not 1 to max digits. */
  const decimal = (f: number, max: number): number => {
    const b = cur;
    const n = ve[f] - vs[f];
    if (n < 1 || n > max) return -1;
    let v = 0;
    for (let k = vs[f]; k < ve[f]; k++) {
      if (b[k] < 48 || b[k] > 57) return -1;
      v = v * 10 + b[k] - 48;
    }
    return v;
  };
  /** A version, checked once per distinct version. */
  const version = (s: number, e: number, bad: (why: string) => MinosError): string => {
    const b = cur;
    const h = hashBytes(b, s, e);
    let v = versions.get(b, s, e, h);
    if (v === undefined) {
      v = text(s, e);
      const verr = versionError(v);
      if (verr) throw bad(verr);
      versions.set(b, s, e, h, v);
    }
    return v;
  };

  const finish = (): void => {
    const b = cur;
    inStanza = false;
    last = -1;
    const found = is(ARCHITECTURE, want) ? opts.arch : is(ARCHITECTURE, 'all') ? 'noarch' : undefined;
    if (vs[PACKAGE] >= 0 && found === undefined) return;
    const arch: Arch = found ?? opts.arch;
    if (vs[PACKAGE] < 0) throw new MinosError('MN0216', `${label}:${first}: stanza without a Package field`, { data: { file: label, line: first } });
    const name = text(vs[PACKAGE], ve[PACKAGE]);
    if (only !== undefined && !only.has(name)) return;
    const fail = (field: string, why: string) => relationError(label, first, name, field, why);
    const nerr = nameError(name);
    if (nerr) throw fail('Package', nerr);
    if (vs[VERSION] < 0 || vs[VERSION] === ve[VERSION]) throw fail('Version', 'missing');
    const ver = version(vs[VERSION], ve[VERSION], (why) => fail('Version', why));
    const isz = vs[INSTALLED_SIZE] < 0 ? 0 : decimal(INSTALLED_SIZE, 12);
    if (isz < 0) throw fail('Installed-Size', `"${text(vs[INSTALLED_SIZE], ve[INSTALLED_SIZE])}" is not a number`);
    const provides = relations(PROVIDES, name, 'Provides');
    for (const p of provides) if (/[|<>]/.test(p)) throw fail('Provides', `"${p}" is not a name or name (= version)`);
    const r = opts.lazy ? undefined : convert(name);
    let source = name;
    if (vs[SOURCE] >= 0) {
      let k = vs[SOURCE];
      while (k < ve[SOURCE] && !isSpace(b[k])) k++;
      source = word(vs[SOURCE], k);
    }
    for (let r = 0; r < REQUIRED.length; r++) if (vs[REQUIRED[r]] < 0 || vs[REQUIRED[r]] === ve[REQUIRED[r]]) throw fail(REQUIRED_NAMES[r], 'missing');
    const file = text(vs[FILENAME], ve[FILENAME]);
    if (!safePath(b, vs[FILENAME], ve[FILENAME])) throw fail('Filename', `"${file}" is not a path inside the mirror`);
    const size = decimal(SIZE, 15);
    if (size < 0) throw fail('Size', `"${text(vs[SIZE], ve[SIZE])}" is not a size`);
    let hex = ve[SHA256] - vs[SHA256] === 64;
    for (let k = vs[SHA256]; hex && k < ve[SHA256]; k++) hex = (b[k] >= 48 && b[k] <= 57) || (b[k] >= 97 && b[k] <= 102);
    if (!hex) throw fail('SHA256', `"${text(vs[SHA256], ve[SHA256])}" is not a sha256`);
    const essential = is(ESSENTIAL, 'yes');
    const priority = vs[PRIORITY] < 0 ? 'optional' : word(vs[PRIORITY], ve[PRIORITY]);
    const multiArch = vs[MULTI_ARCH] < 0 ? '' : word(vs[MULTI_ARCH], ve[MULTI_ARCH]);
    const debArch = arch === 'noarch' ? 'all' : want;
    const section = vs[SECTION] < 0 ? '' : word(vs[SECTION], ve[SECTION]);
    if (r === undefined) {
      const eager = { name, version: ver, arch, summary: summary(), provides, builddate: opts.date ?? 0, installedSize: isz * 1024, file, size, sha256: text(vs[SHA256], ve[SHA256]) };
      const p = new DebEntry(eager, { essential, priority, multiArch, debArch, section, source }, convertKept, kept!.keep(b, vs, ve, first)) as unknown as DebianPackage;
      out.push(p);
      opts.onPackage?.(p);
      return;
    }
    const p: DebianPackage = {
      name, version: ver, arch, summary: summary(), license: '',
      depends: r.depends, provides, conflicts: r.conflicts, replaces: r.replaces, optional: r.optional,
      builddate: opts.date ?? 0, installedSize: isz * 1024,
      debian: { preDepends: r.preDepends, breaks: r.breaks, recommends: r.recommends, essential, priority, multiArch, debArch, section, source },
      file, size, sha256: text(vs[SHA256], ve[SHA256]),
    };
    out.push(p);
    opts.onPackage?.(p);
  };

  /** The relation fields of the stanza in vs/ve (of cur), converted; errors name `name` and the line `first`. */
  const convert = (name: string): Relations => {
    const preDepends = relations(PRE_DEPENDS, name, 'Pre-Depends');
    const breaks = relations(BREAKS, name, 'Breaks');
    const recommends = relations(RECOMMENDS, name, 'Recommends');
    const depends = relations(DEPENDS, name, 'Depends');
    const conflicts = relations(CONFLICTS, name, 'Conflicts');
    const replaces = relations(REPLACES, name, 'Replaces');
    return {
      depends: preDepends.length === 0 ? depends : depends.length === 0 ? preDepends : preDepends.concat(depends),
      conflicts: breaks.length === 0 ? conflicts : conflicts.length === 0 ? breaks : conflicts.concat(breaks),
      replaces, optional: recommends, preDepends, breaks, recommends,
    };
  };

  /** convert, for a package parsed lazily: its kept bytes become the stanza being read, for the time of the call. */
  const convertKept: RelationReader = (slot, name) => {
    const saved = { cur, first, vs: vs.slice(), ve: ve.slice() };
    vs.fill(-1);
    ve.fill(-1);
    first = kept!.load(slot, vs, ve);
    cur = kept!.bytes;
    try {
      return convert(name);
    } finally {
      cur = saved.cur;
      first = saved.first;
      vs.set(saved.vs);
      ve.set(saved.ve);
    }
  };

  /** The first line of Description, at most 200 characters, decoded as UTF-8. */
  const summary = (): string => {
    const b = cur;
    const s = vs[DESCRIPTION];
    if (s < 0) return '';
    const e = ve[DESCRIPTION];
    for (let k = s; k < e; k++) if (b[k] >= 128) return b.toString('utf8', s, e).slice(0, 200);
    return text(s, Math.min(e, s + 200));
  };

  /** A relation field's clauses in minos syntax, each distinct clause converted once (see convertRelations). */
  const relations = (f: number, pkg: string, field: string): string[] => {
    const b = cur;
    const s = vs[f];
    if (s < 0) return NONE;
    const e = ve[f];
    let n = 0;
    for (let a = s; a <= e; ) {
      let z = a;
      while (z < e && b[z] !== 44) z++;
      let p = a;
      let q = z;
      while (p < q && isSpace(b[p])) p++;
      while (q > p && isSpace(b[q - 1])) q--;
      a = z + 1;
      if (p === q) {
        let blank = true;
        for (let k = s; blank && k < e; k++) blank = isSpace(b[k]);
        if (blank) continue;
        throw relationError(label, first, pkg, field, 'empty relation');
      }
      const h = hashBytes(b, p, q);
      let c = clauses.get(b, p, q, h);
      if (c === undefined) {
        const bad = (why: string) => relationError(label, first, pkg, field, why);
        c = clauses.set(b, p, q, h, simpleClause(p, q, bad) ?? convertClause(text(p, q), bad));
      }
      scratch[n++] = c;
    }
    // An exact-length copy: an array grown by push keeps room for 17 and more.
    return n === 0 ? NONE : scratch.slice(0, n);
  };

  /**
   * The common clause `name` or `name (op version)` (no qualifier,
   * alternatives, architectures or profiles) in minos syntax; undefined
   * for anything else, which convertClause reads.
   */
  const simpleClause = (p: number, q: number, bad: (why: string) => MinosError): string | undefined => {
    const b = cur;
    let k = p;
    if (!nameStart(b[k])) return undefined;
    while (k < q && nameByte(b[k])) k++;
    const nameEnd = k;
    if (nameEnd - p > 128) return undefined;
    if (k === q) return text(p, q);
    while (k < q && isSpace(b[k])) k++;
    if (b[k] !== 40 /* ( */) return undefined;
    k++;
    while (k < q && isSpace(b[k])) k++;
    const o = k;
    while (k < q && (b[k] === 60 || b[k] === 61 || b[k] === 62)) k++;
    const op = OPS[text(o, k)];
    if (op === undefined) return undefined;
    while (k < q && isSpace(b[k])) k++;
    const v = k;
    while (k < q && !isSpace(b[k]) && b[k] !== 41 && b[k] !== 124 && b[k] !== 91 && b[k] !== 60) k++;
    const w = k;
    while (k < q && isSpace(b[k])) k++;
    if (v === w || k !== q - 1 || b[k] !== 41 /* ) */) return undefined;
    return `${text(p, nameEnd)} ${op} ${version(v, w, () => bad(`invalid version "${text(v, w)}"`))}`;
  };

  /** Parse the complete lines of b (the whole of b when it ends a stanza or the file). */
  const scan = (): void => {
    const b = cur;
    const n = b.length;
    const hasCR = b.indexOf(13) >= 0;
    const skip = hasCR ? undefined : skipper;
    skip?.reset();
    let i = 0;
    while (i < n) {
      if (skip !== undefined && !inStanza) {
        const end = skip.skip(b, i, n);
        if (end >= 0) {
          lineNo += skip.lines;
          i = end;
          continue;
        }
      }
      let j = b.indexOf(10, i);
      if (j < 0) j = n;
      lineNo++;
      const s = i;
      const e = j > s && b[j - 1] === 13 ? j - 1 : j;
      i = j + 1;
      const c = e > s ? b[s] : 32;
      if (c === 32 || c === 9) {
        let k = s;
        while (k < e && (b[k] === 32 || b[k] === 9)) k++;
        if (k === e) {
          if (inStanza) finish();
          continue;
        }
        if (!inStanza) throw bad(label, lineNo, 'continuation line without a field');
        if (last >= 0) ve[last] = e;
        continue;
      }
      if (c === 35 /* # */) continue;
      let k = s;
      let h = 0x811c9dc5;
      for (; k < e; k++) {
        const x = b[k];
        if (x < 33 || x > 126 || x === 58) break;
        h = Math.imul(h ^ lower(x), 16777619);
      }
      if (k === s || k === e || b[k] !== 58 || (hasCR && b.indexOf(13, k) >= 0 && b.indexOf(13, k) < e)) {
        throw bad(label, lineNo, `not a "Field: value" line: ${JSON.stringify(text(s, e).slice(0, 60))}`);
      }
      const id = names.id(b, s, k, h);
      if (!inStanza) {
        inStanza = true;
        first = lineNo;
        stamp++;
        vs.fill(-1);
        ve.fill(-1);
      }
      if (id >= seen.length) seen = grownTo(seen, 2 * id + 2);
      if (seen[id] === stamp) throw bad(label, lineNo, `field ${text(s, k)} given twice`);
      seen[id] = stamp;
      const f = names.known[id];
      last = f >= 0 && FOLDED.has(f) ? f : -1;
      if (f < 0) continue;
      let v = k + 1;
      while (v < e && (b[v] === 32 || b[v] === 9)) v++;
      let w = e;
      while (w > v && (b[w - 1] === 32 || b[w - 1] === 9)) w--;
      vs[f] = v;
      ve[f] = w;
    }
  };

  return {
    push(chunk: Uint8Array): void {
      let all: Buffer;
      if (carry) {
        // carry is the front of work: append the piece after it.
        if (carry.length + chunk.length > work.length) {
          const w = Buffer.allocUnsafe(Math.max(2 * work.length, carry.length + chunk.length));
          carry.copy(w);
          work = w;
        }
        work.set(chunk, carry.length);
        all = work.subarray(0, carry.length + chunk.length);
      } else all = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      // Up to the last blank line: whole stanzas only (their fields are ranges of b).
      let cut = all.length - 2;
      while (cut >= 0 && !(all[cut] === 10 && (all[cut + 1] === 10 || (all[cut + 1] === 13 && all[cut + 2] === 10)))) cut--;
      const end = cut < 0 ? 0 : all[cut + 1] === 10 ? cut + 2 : cut + 3;
      if (end > 0) {
        cur = all.subarray(0, end);
        scan();
      }
      // The rest moves to the front of work (copyWithin: it may overlap).
      if (end === all.length) carry = undefined;
      else if (all.buffer === work.buffer && all.byteOffset === work.byteOffset) {
        work.copyWithin(0, end, all.length);
        carry = work.subarray(0, all.length - end);
      } else {
        if (all.length - end > work.length) work = Buffer.allocUnsafe(2 * (all.length - end));
        all.copy(work, 0, end);
        carry = work.subarray(0, all.length - end);
      }
    },
    end(): DebianPackage[] {
      if (carry) {
        cur = carry;
        carry = undefined;
        scan();
      }
      if (inStanza) finish();
      cur = Buffer.alloc(0);
      return out;
    },
  };
}

/** `input` is a whole Packages file's bytes (or its text, taken as UTF-8); see packagesParser. */
export function parsePackages(input: string | Buffer, opts: ParseOptions): DebianPackage[] {
  const p = packagesParser(opts);
  p.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  return p.end();
}

/** Buffer's latin1 decoder of a range, without toString's argument handling (one call per kept value). */
interface Latin1 {
  latin1Slice(start: number, end: number): string;
}
