/**
 * The universe: every candidate package visible for one target architecture,
 * sorted and numbered so the solver can work with integer ids. Building it is
 * the "index load" step and is kept to one sort and a few linear passes:
 * package names are looked up by binary search over the sorted ids (no hash
 * table over every name), provides are indexed eagerly, and dependency
 * strings are parsed lazily, only for packages the solver reaches.
 *
 * Lazily filled caches (all in typed arrays, no per-package objects): each
 * distinct dependency string is parsed once and given a number; each
 * package's dependency list becomes a run of those numbers; each dependency
 * number gets its matching ids once. The solver reads these runs directly
 * (depsAt, matchAt); the array-returning methods are conveniences built on
 * them.
 *
 * Order of ids (the determinism contract): name ascending (code units), then
 * repository priority descending, version descending (Debian order),
 * repository name ascending, architecture ascending. The same candidates in any
 * input order give the same ids.
 */
import { MinosError } from '../errors.js';
import type { PackageMeta } from '../types.js';
import { parseDependency, parseProvide } from './depend.js';
import type { Arch, Constraint, Dependency, Descriptor, Op } from './depend.js';
import { compareVersionRanges, compareVersions } from './version.js';

/** One package offered by one repository. */
export interface Candidate {
  meta: PackageMeta;
  /** Repository name (as written in lockfiles and messages). */
  repo: string;
  /** Higher wins over newer versions from lower-priority repositories. */
  priority: number;
}

/** A chosen package: exactly one version of one name from one repository. */
export interface Locator {
  name: string;
  version: string;
  arch: string;
  repo: string;
}

/**
 * A parsed dependency (or conflict) string, shared by every package that
 * writes the same string; `index` is its number (see Universe.matchAt).
 */
export interface Dep {
  readonly text: string;
  readonly alts: Dependency;
  readonly index: number;
}

export interface Provide {
  pkg: number;
  /** The provided version (`sh = 1`), undefined for an unversioned provide. */
  version: string | undefined;
}

/** Fields with dependency lists, as numbers for depsAt. */
export const F_DEPENDS = 0;
export const F_OPTIONAL = 1;
export const F_CONFLICTS = 2;
const FIELDS = ['depends', 'optional', 'conflicts'] as const;
type Field = 0 | 1 | 2;

const NO_PROVIDES: readonly Provide[] = [];

/** Scratch for computing one match (reused; never escapes). */
const scratch: number[] = [];

export class Universe {
  readonly arch: Arch;
  /** Visible candidates by id. */
  readonly pkgs: readonly Candidate[];
  /** Every candidate given, including other architectures (for messages and rebuilds). */
  readonly source: readonly Candidate[];
  /** Per id: a small integer standing for its name (equal names, equal numbers). */
  readonly nameIndex: Int32Array;
  /** Per name number k: first id; nameStart[k+1] is the end. Names are pkgs[nameStart[k]].meta.name, ascending. */
  private readonly nameStart: Int32Array;
  /**
   * Every package or provided name: keys[0, nNames) are the package names by
   * name number (ascending), provided-only names follow. Looked up through
   * an open-addressing hash table (slots: entry + 1, 0 empty) with a string
   * hash computed in JavaScript: no Map over every name, and no string
   * comparisons on descriptor names (often sliced strings, slow to compare).
   */
  private readonly keys: string[];
  private readonly nNames: number;
  private keyHash: Int32Array;
  private slots: Int32Array;
  /** Per entry: index in provLists, or -1. */
  private provOf: Int32Array;
  /** Providers of each provided name, in id order. */
  private readonly provLists: Provide[][] = [];
  private otherArchNames: Map<string, Set<string>> | undefined;

  /** Dependency string → its number (dense from 0). */
  private readonly depNo = new Map<string, number>();
  /** Per dependency number: its text, and its parsed form once asked for (see dep()). */
  private readonly depText: string[] = [];
  private readonly depObj: (Dep | undefined)[] = [];
  /**
   * Per dependency number, for the common one-descriptor form read straight
   * from the string (see scan()): the name's entry in keys (-1: unknown
   * name), the operator (OP_*; OP_SLOW: use the parsed form), the version's
   * [start, end) in the text.
   */
  private dEntry = new Int32Array(1024);
  private dOp = new Int8Array(1024);
  private dVs = new Int32Array(1024);
  private dVe = new Int32Array(1024);
  /**
   * Per package and field: offset in depPool of its list ([count, dep
   * numbers…]), -1 until parsed. Allocated on first use.
   */
  private readonly listAt: (Int32Array | undefined)[] = [undefined, undefined, undefined];
  /** Runs [count, dep numbers…] (offset 0: the empty run); may be reallocated by depsAt (read it after calling). */
  depPool = new Int32Array(4096);
  private depLen = 1;
  /** Per dep number: offset in matchPool of its ids ([count, ids…]), -1 until computed. */
  private matchOff = new Int32Array(1024).fill(-1);
  /** Runs [count, ids…]; may be reallocated by matchAt (read it after calling). */
  matchPool = new Int32Array(4096);
  private matchLen = 0;
  /** Descriptor text → matching ids (requests). */
  private readonly matchByText = new Map<string, readonly number[]>();

  /** Build from candidates; throws MN0107 for an invalid provide. */
  constructor(candidates: readonly Candidate[], arch: Arch) {
    this.arch = arch;
    this.source = candidates;
    const vis: Candidate[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      const a = c.meta.arch;
      if (a === arch || a === 'noarch') vis.push(c);
    }
    vis.sort(compareCandidates);
    // Drop exact duplicates (keep the first in full order); number the names.
    const n0 = vis.length;
    const pkgs: Candidate[] = [];
    const keys: string[] = [];
    const nameIndex = new Int32Array(n0);
    const starts = new Int32Array(n0 + 1);
    let k = -1;
    let prevName = '';
    for (let i = 0; i < n0; i++) {
      const c = vis[i];
      const nm = c.meta.name;
      if (k < 0 || nm !== prevName) {
        k++;
        starts[k] = pkgs.length;
        keys.push(nm);
        prevName = nm;
      } else if (sameLocator(pkgs[pkgs.length - 1], c)) {
        continue;
      }
      nameIndex[pkgs.length] = k;
      pkgs.push(c);
    }
    const n = pkgs.length;
    this.keys = keys;
    this.nNames = keys.length;
    let cap = 16;
    while (cap < keys.length * 2) cap <<= 1;
    this.slots = new Int32Array(cap);
    this.keyHash = new Int32Array(cap >> 1);
    this.provOf = new Int32Array(cap >> 1).fill(-1);
    for (let e = 0; e < keys.length; e++) this.insert(e, hashString(keys[e]));
    starts[k + 1] = n;
    this.nameStart = starts;
    this.nameIndex = n === n0 ? nameIndex : nameIndex.slice(0, n);
    this.pkgs = pkgs;

    // Provides: (name, id, version) collected in id order, then grouped by name.
    const provName: string[] = [];
    const provPkg: number[] = [];
    const provVer: (string | undefined)[] = [];
    for (let i = 0; i < n; i++) {
      const pv = pkgs[i].meta.provides;
      if (!pv || pv.length === 0) continue;
      for (const s of pv) {
        let d: Descriptor;
        try {
          d = parseProvide(s);
        } catch (e) {
          throw where(e, pkgs[i], 'provides');
        }
        provName.push(d.name);
        provPkg.push(i);
        provVer.push(d.constraint?.version);
      }
    }
    for (let j = 0; j < provName.length; j++) {
      const nm = provName[j];
      const h = hashString(nm);
      let e = this.find(nm, h);
      if (e < 0) {
        e = this.keys.length;
        this.keys.push(nm);
        this.insert(e, h);
      }
      let l = this.provOf[e];
      if (l < 0) {
        l = this.provOf[e] = this.provLists.length;
        this.provLists.push([]);
      }
      this.provLists[l].push({ pkg: provPkg[j], version: provVer[j] });
    }
  }

  /** Entry of `name` in keys, or -1. */
  private find(name: string, h: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = slots[i];
      if (s === 0) return -1;
      if (this.keyHash[s - 1] === h && this.keys[s - 1] === name) return s - 1;
    }
  }

  /** Add entry e (hash h) to the table, growing it to stay at most half full. */
  private insert(e: number, h: number): void {
    if ((e + 1) * 2 > this.slots.length) {
      const cap = this.slots.length * 2;
      this.slots = new Int32Array(cap);
      const kh = new Int32Array(cap >> 1);
      kh.set(this.keyHash.subarray(0, e));
      this.keyHash = kh;
      const po = new Int32Array(cap >> 1).fill(-1);
      po.set(this.provOf.subarray(0, e));
      this.provOf = po;
      for (let x = 0; x < e; x++) this.place(x, this.keyHash[x]);
    }
    this.keyHash[e] = h;
    this.place(e, h);
  }

  private place(e: number, h: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = h & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = e + 1;
  }

  get size(): number {
    return this.pkgs.length;
  }

  name(id: number): string {
    return this.pkgs[id].meta.name;
  }

  version(id: number): string {
    return this.pkgs[id].meta.version;
  }

  locator(id: number): Locator {
    const c = this.pkgs[id];
    return { name: c.meta.name, version: c.meta.version, arch: c.meta.arch, repo: c.repo };
  }

  /** Name number of `name` (see nameIndex), or -1 when no package has that name. */
  private nameNo(name: string): number {
    const e = this.find(name, hashString(name));
    return e < this.nNames ? e : -1;
  }

  /** Index of `name`'s providers in provLists, or -1. */
  private provNo(name: string): number {
    const e = this.find(name, hashString(name));
    return e < 0 ? -1 : this.provOf[e];
  }

  /** [first, end) ids of packages named `name` (empty range when none). */
  named(name: string): [number, number] {
    const k = this.nameNo(name);
    return k < 0 ? [0, 0] : [this.nameStart[k], this.nameStart[k + 1]];
  }

  providersOf(name: string): readonly Provide[] {
    const j = this.provNo(name);
    return j < 0 ? NO_PROVIDES : this.provLists[j];
  }

  /** Is `name` a package name or a provided name for this architecture? */
  knows(name: string): boolean {
    return this.find(name, hashString(name)) >= 0;
  }

  /** All package and provided names visible here, sorted. */
  allNames(): string[] {
    return this.keys.slice().sort();
  }

  /** Architectures other than this one where `name` is a package or provide. */
  otherArches(name: string): string[] {
    if (!this.otherArchNames) {
      const m = new Map<string, Set<string>>();
      const add = (nm: string, a: string): void => {
        let s = m.get(nm);
        if (!s) m.set(nm, (s = new Set()));
        s.add(a);
      };
      for (const c of this.source) {
        if (c.meta.arch === this.arch || c.meta.arch === 'noarch') continue;
        add(c.meta.name, c.meta.arch);
        for (const p of c.meta.provides ?? []) add(p.split(/[\s=]/)[0], c.meta.arch);
      }
      this.otherArchNames = m;
    }
    return [...(this.otherArchNames.get(name) ?? [])].sort();
  }

  /** Parsed `depends` of a package (cached). Throws MN0107 naming the package. */
  depends(id: number): readonly Dep[] {
    return this.depList(id, F_DEPENDS);
  }

  /** Parsed `optional` of a package (cached). */
  optional(id: number): readonly Dep[] {
    return this.depList(id, F_OPTIONAL);
  }

  /** Parsed `conflicts` of a package (cached); a package conflicts with whatever matches any alternative. */
  conflicts(id: number): readonly Dep[] {
    return this.depList(id, F_CONFLICTS);
  }

  /** The dependency numbered `d` (see depsAt), parsed. */
  dep(d: number): Dep {
    let x = this.depObj[d];
    if (x === undefined) x = this.depObj[d] = { text: this.depText[d], alts: parseDependency(this.depText[d]), index: d };
    return x;
  }

  /**
   * Parse every dependency, optional and conflict string now instead of on
   * first use (to validate a whole index at load). Returns how many strings
   * were parsed; throws MN0107 naming the first bad package.
   */
  parseAll(): number {
    let n = 0;
    for (let i = 0; i < this.pkgs.length; i++) {
      n += this.depPool[this.depsAt(i, F_DEPENDS)];
      n += this.depPool[this.depsAt(i, F_OPTIONAL)];
      n += this.depPool[this.depsAt(i, F_CONFLICTS)];
    }
    return n;
  }

  private depList(id: number, f: Field): Dep[] {
    const o = this.depsAt(id, f);
    const pool = this.depPool;
    const out: Dep[] = new Array(pool[o]);
    for (let i = 0; i < out.length; i++) out[i] = this.dep(pool[o + 1 + i]);
    return out;
  }

  /**
   * Offset in depPool of package `id`'s parsed list for field f
   * (F_DEPENDS…): depPool[o] is the count, the dependency numbers follow.
   * Parses on first use; throws MN0107 naming the package.
   */
  depsAt(id: number, f: Field): number {
    let offs = this.listAt[f];
    if (offs === undefined) offs = this.listAt[f] = new Int32Array(this.pkgs.length).fill(-1);
    const o = offs[id];
    if (o >= 0) return o;
    const m = this.pkgs[id].meta;
    const list = f === F_DEPENDS ? m.depends : f === F_OPTIONAL ? m.optional : m.conflicts;
    const len = list ? list.length : 0;
    if (len === 0) return (offs[id] = 0); // the shared empty run
    if (this.depLen + len + 1 > this.depPool.length) {
      const b = new Int32Array(Math.max(this.depPool.length * 2, this.depLen + len + 1));
      b.set(this.depPool.subarray(0, this.depLen));
      this.depPool = b;
    }
    const start = this.depLen;
    const pool = this.depPool;
    pool[start] = len;
    for (let i = 0; i < len; i++) {
      const s = list![i];
      let d = this.depNo.get(s);
      if (d === undefined) d = this.addDep(s, id, f);
      pool[start + 1 + i] = d;
    }
    this.depLen = start + 1 + len;
    return (offs[id] = start);
  }

  /** Number a new dependency string; throws MN0107 naming the package when it is invalid. */
  private addDep(s: string, id: number, f: Field): number {
    const d = this.depText.length;
    if (d === this.dOp.length) this.growDeps();
    if (!this.scan(s, d)) {
      let alts: Dependency;
      try {
        alts = parseDependency(s);
      } catch (e) {
        throw where(e, this.pkgs[id], FIELDS[f]);
      }
      this.depObj[d] = { text: s, alts, index: d };
      this.dOp[d] = OP_SLOW;
    }
    this.depText.push(s);
    this.depNo.set(s, d);
    return d;
  }

  private growDeps(): void {
    const n = this.dOp.length * 2;
    const e = new Int32Array(n);
    e.set(this.dEntry);
    this.dEntry = e;
    const o = new Int8Array(n);
    o.set(this.dOp);
    this.dOp = o;
    const vs = new Int32Array(n);
    vs.set(this.dVs);
    this.dVs = vs;
    const ve = new Int32Array(n);
    ve.set(this.dVe);
    this.dVe = ve;
  }

  /**
   * The fast path of parseDependency for the common valid form `name` or
   * `name OP version` (no alternatives, a plain version): records it as
   * dependency d without allocating and returns true. Returns false for
   * anything else, which then goes through parseDependency (and its error
   * messages). Accepts only strings parseDependency accepts, with the same
   * meaning.
   */
  private scan(s: string, d: number): boolean {
    const n = s.length;
    let i = 0;
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    if (i === n) return false;
    const start = i;
    const c0 = s.charCodeAt(i);
    if (!((c0 >= 97 && c0 <= 122) || (c0 >= 48 && c0 <= 57))) return false;
    let h = FNV_BASIS;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (!isNameChar(c)) break;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const nameEnd = i;
    if (nameEnd - start > 128) return false;
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    let op = OP_NONE;
    let vs = 0;
    let ve = 0;
    if (i < n) {
      const a = s.charCodeAt(i);
      const b = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (a === 61) {
        if (b === 61 || b === 60 || b === 62) return false;
        op = OP_EQ;
        i += 1;
      } else if (a === 60 || a === 62) {
        if (b === 61) {
          op = a === 60 ? OP_LE : OP_GE;
          i += 2;
        } else if (b === 60 || b === 62) {
          return false;
        } else {
          op = a === 60 ? OP_LT : OP_GT;
          i += 1;
        }
      } else {
        return false;
      }
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      vs = i;
      while (i < n && isVersionChar(s.charCodeAt(i))) i++;
      ve = i;
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      // A version that is certainly valid: a digit first, no epoch, not ending in "-".
      if (i !== n || ve === vs || ve - vs > 128) return false;
      const v0 = s.charCodeAt(vs);
      if (v0 < 48 || v0 > 57 || s.charCodeAt(ve - 1) === 45) return false;
    }
    this.dEntry[d] = this.findRange(s, start, nameEnd, h);
    this.dOp[d] = op;
    this.dVs[d] = vs;
    this.dVe[d] = ve;
    return true;
  }

  /** Entry of the name s[from, to) (hash h) in keys, or -1. */
  private findRange(s: string, from: number, to: number, h: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const len = to - from;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = slots[i];
      if (x === 0) return -1;
      if (this.keyHash[x - 1] !== h) continue;
      const k = this.keys[x - 1];
      if (k.length !== len) continue;
      let j = 0;
      while (j < len && k.charCodeAt(j) === s.charCodeAt(from + j)) j++;
      if (j === len) return x - 1;
    }
  }

  /**
   * Offset in matchPool of the ids matching any alternative of dependency
   * number `d`: matchPool[o] is the count, the ids follow, deduplicated,
   * alternatives in order (computed once).
   */
  matchAt(d: number): number {
    if (d >= this.matchOff.length) {
      const b = new Int32Array(Math.max(this.matchOff.length * 2, d + 1)).fill(-1);
      b.set(this.matchOff);
      this.matchOff = b;
    }
    const o = this.matchOff[d];
    if (o >= 0) return o;
    scratch.length = 0;
    const op = this.dOp[d];
    if (op !== OP_SLOW) {
      const e = this.dEntry[d];
      if (e >= 0) this.matchEntry(e, op, this.depText[d], this.dVs[d], this.dVe[d], scratch);
    } else {
      const alts = this.dep(d).alts;
      for (const a of alts) {
        const from = scratch.length;
        this.computeMatch(a.name, a.constraint, scratch);
        // Deduplicate against what earlier alternatives matched.
        let w = from;
        for (let r = from; r < scratch.length; r++) {
          const id = scratch[r];
          let dup = false;
          for (let q = 0; q < from; q++) if (scratch[q] === id) { dup = true; break; }
          if (!dup) scratch[w++] = id;
        }
        scratch.length = w;
      }
    }
    const len = scratch.length;
    if (this.matchLen + len + 1 > this.matchPool.length) {
      const b = new Int32Array(Math.max(this.matchPool.length * 2, this.matchLen + len + 1));
      b.set(this.matchPool.subarray(0, this.matchLen));
      this.matchPool = b;
    }
    const start = this.matchLen;
    const pool = this.matchPool;
    pool[start] = len;
    for (let i = 0; i < len; i++) pool[start + 1 + i] = scratch[i];
    this.matchLen = start + 1 + len;
    this.matchOff[d] = start;
    return start;
  }

  /** Ids matching any alternative of `dep`, deduplicated, alternatives in order. */
  ids(dep: Dep): readonly number[] {
    const o = this.matchAt(dep.index);
    return Array.from(this.matchPool.subarray(o + 1, o + 1 + this.matchPool[o]));
  }

  /**
   * Ids of packages satisfying one descriptor, in preference order: packages
   * with that name first (as in id order: priority, then newest), then
   * providers (priority descending, then id). A versioned descriptor is met by
   * a package of that name and version or by a versioned provide that
   * satisfies it; an unversioned provide meets only unversioned descriptors.
   */
  match(d: Descriptor): readonly number[] {
    const key = d.constraint ? `${d.name} ${d.constraint.op} ${d.constraint.version}` : d.name;
    let r = this.matchByText.get(key);
    if (r === undefined) {
      const out: number[] = [];
      this.computeMatch(d.name, d.constraint, out);
      this.matchByText.set(key, (r = out));
    }
    return r;
  }

  /** Append the ids satisfying `name` + `c` to `out` (see match). */
  private computeMatch(name: string, c: Constraint | undefined, out: number[]): void {
    const e = this.find(name, hashString(name));
    if (e < 0) return;
    if (c === undefined) this.matchEntry(e, OP_NONE, '', 0, 0, out);
    else this.matchEntry(e, opCode(c.op), c.version, 0, c.version.length, out);
  }

  /**
   * Append the ids satisfying the descriptor "name of entry e, op, version
   * v[vs, ve)" to `out` (see match).
   */
  private matchEntry(e: number, op: number, v: string, vs: number, ve: number, out: number[]): void {
    const pkgs = this.pkgs;
    if (e < this.nNames) {
      for (let i = this.nameStart[e], end = this.nameStart[e + 1]; i < end; i++) {
        if (op === OP_NONE) out.push(i);
        else {
          const pv = pkgs[i].meta.version;
          if (holds(compareVersionRanges(pv, 0, pv.length, v, vs, ve), op)) out.push(i);
        }
      }
    }
    const j = this.provOf[e];
    if (j < 0) return;
    const from = out.length;
    for (const p of this.provLists[j]) {
      if (op !== OP_NONE && (p.version === undefined || !holds(compareVersionRanges(p.version, 0, p.version.length, v, vs, ve), op))) continue;
      if (e < this.nNames && this.nameIndex[p.pkg] === e) continue; // a package of that name: already listed
      let dup = false;
      for (let q = from; q < out.length; q++) if (out[q] === p.pkg) { dup = true; break; }
      if (!dup) out.push(p.pkg);
    }
    // Providers arrive in id order; order them by priority (descending), then id.
    for (let a = from + 1; a < out.length; a++) {
      const x = out[a];
      const px = pkgs[x].priority;
      let b = a - 1;
      while (b >= from && pkgs[out[b]].priority < px) {
        out[b + 1] = out[b];
        b--;
      }
      out[b + 1] = x;
    }
  }
}

const OP_NONE = 0;
const OP_EQ = 1;
const OP_LT = 2;
const OP_LE = 3;
const OP_GT = 4;
const OP_GE = 5;
const OP_SLOW = 6;

function opCode(op: Op): number {
  switch (op) {
    case '=': return OP_EQ;
    case '<': return OP_LT;
    case '<=': return OP_LE;
    case '>': return OP_GT;
    default: return OP_GE;
  }
}

/** Does a comparison result r (version against the constraint's) satisfy op? */
function holds(r: number, op: number): boolean {
  switch (op) {
    case OP_EQ: return r === 0;
    case OP_LT: return r < 0;
    case OP_LE: return r <= 0;
    case OP_GT: return r > 0;
    case OP_GE: return r >= 0;
    default: return true;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** a-z 0-9 + . _ - */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 46 || c === 95 || c === 45;
}

/** A-Z a-z 0-9 . + ~ - (a version without an epoch). */
function isVersionChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 46 || c === 43 || c === 126 || c === 45;
}

const FNV_BASIS = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** Convenience: the universe of `candidates` for `arch`. */
export function prepare(candidates: readonly Candidate[], arch: Arch): Universe {
  return new Universe(candidates, arch);
}

/** FNV-1a over UTF-16 code units (as scan() computes it over a name). */
function hashString(s: string): number {
  let h = FNV_BASIS;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

function compareCandidates(a: Candidate, b: Candidate): number {
  const an = a.meta.name;
  const bn = b.meta.name;
  if (an !== bn) return an < bn ? -1 : 1;
  return compareSameName(a, b);
}

function compareSameName(a: Candidate, b: Candidate): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const v = compareVersions(b.meta.version, a.meta.version);
  if (v !== 0) return v;
  if (a.meta.version !== b.meta.version) return a.meta.version < b.meta.version ? -1 : 1;
  if (a.repo !== b.repo) return a.repo < b.repo ? -1 : 1;
  if (a.meta.arch !== b.meta.arch) return a.meta.arch < b.meta.arch ? -1 : 1;
  // Same locator twice: order by content so the kept one does not depend on input order.
  const ak = contentKey(a);
  const bk = contentKey(b);
  return ak < bk ? -1 : ak > bk ? 1 : 0;
}

function contentKey(c: Candidate): string {
  const m = c.meta;
  return JSON.stringify([m.depends, m.provides, m.conflicts, m.optional]);
}

function sameLocator(a: Candidate, b: Candidate): boolean {
  return a.meta.name === b.meta.name && a.meta.version === b.meta.version && a.repo === b.repo && a.meta.arch === b.meta.arch;
}

function where(e: unknown, c: Candidate, field: string): unknown {
  if (e instanceof MinosError) {
    return new MinosError(e.code, `${c.meta.name} ${c.meta.version} (repo ${c.repo}), ${field}: ${e.message}`, {
      cause: e,
      data: { package: c.meta.name, version: c.meta.version, repo: c.repo, field },
    });
  }
  return e;
}
