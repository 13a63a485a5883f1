/**
 * The universe: every candidate package visible for one target architecture,
 * sorted and numbered so the solver can work with integer ids (the catalog,
 * catalog.ts), and the dependency caches the solver reads (here). Building it is
 * the "index load" step and is kept to linear passes plus one sort of the
 * distinct names: one pass over the candidates in input order copies what
 * later steps read into flat arrays and interns the names (NameSet: a hash
 * table over a buffer of their characters, no Map); the names are radix
 * sorted and the candidates placed by name; provides are indexed eagerly;
 * dependency strings are parsed lazily, only for packages the solver reaches.
 *
 * Lazily filled caches (typed arrays, no per-package objects): each
 * dependency string of a reached package is scanned once and given a number
 * (numbers are per occurrence: looking a string up to share work costs about
 * as much as scanning it again); each package's dependency list becomes a
 * run of those numbers; each number gets its matching ids once, and every
 * dependency on a bare name shares one run. The solver reads these runs
 * directly (depsAt, matchAt); the array-returning methods are conveniences
 * built on them. Filling them makes no garbage on the JS heap (scratch and
 * pools are typed arrays): right after an index load the young generation
 * is full of the freshly parsed index, and a scavenge triggered during the
 * first solve would copy it (tens of milliseconds).
 *
 * Order of ids (the determinism contract): name ascending (code units), then
 * repository priority descending, version descending (Debian order),
 * repository name ascending, architecture ascending. The same candidates in any
 * input order give the same ids.
 */
import { OP_EQ, OP_GE, OP_GT, OP_LE, OP_LT, OP_NONE, parseDependency, scanSimple, SIMPLE } from '../depend.js';
import type { Arch, Constraint, Dependency, Descriptor, Op } from '../depend.js';
import { F_CONFLICTS, F_DEPENDS, F_OPTIONAL, FIELDS, where, type Candidate, type Field } from './candidates.js';
import { Catalog, NO_PROVIDES } from './catalog.js';
import { grown } from './grow.js';
import { hashRange } from './nameset.js';
import { compareVersionRanges } from '../version.js';

/**
 * A parsed dependency (or conflict) string of one package's list; `index`
 * is its number (see Universe.matchAt).
 */
export interface Dep {
  readonly text: string;
  readonly alts: Dependency;
  readonly index: number;
}

export class Universe extends Catalog {
  /**
   * Per dependency number: where its text is (item dK[d] of the list at
   * dSrc[d] = 3 * id + field, see depText()), and its parsed form once
   * asked for (see dep()).
   */
  private dSrc = new Int32Array(1024);
  private dK = new Int32Array(1024);
  private nDeps = 0;
  private readonly depObj: (Dep | undefined)[] = [];
  /**
   * Per dependency number, for the common forms read straight from the
   * string (see scan()): the name's entry in names (-1: unknown name), the
   * operator (OP_*; OP_SLOW: use the parsed form), the version's [start,
   * end) in the text. For OP_ALTS, dVs and dVe are the offset in altPool
   * and the count of its alternatives.
   */
  private dEntry = new Int32Array(1024);
  private dOp = new Int8Array(1024);
  private dVs = new Int32Array(1024);
  private dVe = new Int32Array(1024);
  /** What scanAlt() read: the name's entry, operator and version range (see dEntry…). */
  private aEntry = 0;
  private aOp = 0;
  private aVs = 0;
  private aVe = 0;
  /** Alternatives of dependencies with OP_ALTS: [entry, op, version start, version end] each. */
  private altPool: Int32Array = new Int32Array(1024);
  private altLen = 0;
  /** Runs [count, dep numbers…] (offset 0: the empty run); may be reallocated by depsAt (read it after calling). */
  depPool = new Int32Array(4096);
  private depLen = 1;
  /** Per dep number: offset in matchPool of its ids ([count, ids…]), -1 until computed. */
  private matchOff = new Int32Array(1024).fill(-1);
  /** Runs [count, ids…] (offset 0: the empty run); may be reallocated by matchAt (read it after calling). */
  matchPool = new Int32Array(4096);
  private matchLen = 1;
  /** Descriptor text → matching ids (requests). */
  private readonly matchByText = new Map<string, readonly number[]>();
  /** Scratch for computing one match: scr[0, scrN) (reused, so matching allocates nothing). */
  private scr: Int32Array = new Int32Array(256);
  private scrN = 0;

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
    if (x === undefined) {
      const text = this.depText(d);
      x = this.depObj[d] = { text, alts: parseDependency(text), index: d };
    }
    return x;
  }

  /** The text of dependency number d. */
  private depText(d: number): string {
    return (this.lists[2 * this.dSrc[d]] as readonly string[])[this.dK[d]];
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

  /** Does package `id` have a non-empty list for field f (F_DEPENDS…)? Reads without parsing. */
  has(id: number, f: Field): boolean {
    return this.list(id, f).length > 0;
  }

  /**
   * Offset in depPool of package `id`'s parsed list for field f
   * (F_DEPENDS…): depPool[o] is the count, the dependency numbers follow.
   * Parses on first use; throws MN0107 naming the package.
   */
  depsAt(id: number, f: Field): number {
    const lists = this.lists;
    const at = 6 * id + 2 * f;
    const o = lists[at + 1];
    if (o !== undefined) return o as number;
    const list = this.list(id, f);
    const len = list.length;
    if (len === 0) return (lists[at + 1] = 0); // the shared empty run
    if (this.depLen + len + 1 > this.depPool.length) this.depPool = grown(this.depPool, this.depLen + len + 1);
    const start = this.depLen;
    const pool = this.depPool;
    pool[start] = len;
    for (let i = 0; i < len; i++) {
      pool[start + 1 + i] = this.addDep(list[i], id, f, i);
    }
    this.depLen = start + 1 + len;
    return (lists[at + 1] = start);
  }

  /** Number a new dependency string, list `f` of package `id` at k; throws MN0107 naming the package when it is invalid. */
  private addDep(s: string, id: number, f: Field, k: number): number {
    const d = this.nDeps;
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
    this.dSrc[d] = 3 * id + f;
    this.dK[d] = k;
    this.nDeps = d + 1;
    return d;
  }

  private growDeps(): void {
    const n = this.dOp.length * 2;
    this.dOp = grown(this.dOp, n);
    this.dEntry = grown(this.dEntry, n);
    this.dVs = grown(this.dVs, n);
    this.dVe = grown(this.dVe, n);
    this.dSrc = grown(this.dSrc, n);
    this.dK = grown(this.dK, n);
  }

  /**
   * The fast path of parseDependency for the common valid forms: `name` or
   * `name OP version` (a plain version), or alternatives of those separated
   * by `|`. Records it as dependency d without allocating and returns true;
   * returns false for anything else, which then goes through
   * parseDependency (and its error messages). Accepts only strings
   * parseDependency accepts, with the same meaning.
   */
  private scan(s: string, d: number): boolean {
    const n = s.length;
    let i = this.scanAlt(s, 0, n);
    if (i < 0) return false;
    if (i === n) {
      this.dEntry[d] = this.aEntry;
      this.dOp[d] = this.aOp;
      this.dVs[d] = this.aVs;
      this.dVe[d] = this.aVe;
      return true;
    }
    // Alternatives: ALT ints each in altPool, from dVs[d], dVe[d] of them.
    const from = this.altLen;
    let count = 0;
    for (;;) {
      if (this.altLen + ALT > this.altPool.length) this.altPool = grown(this.altPool, this.altLen + ALT);
      const a = this.altPool;
      const at = this.altLen;
      a[at] = this.aEntry;
      a[at + 1] = this.aOp;
      a[at + 2] = this.aVs;
      a[at + 3] = this.aVe;
      this.altLen = at + ALT;
      count++;
      if (i === n) break;
      i = this.scanAlt(s, i + 1, n); // s[i] is "|"
      if (i < 0) {
        this.altLen = from;
        return false;
      }
    }
    this.dOp[d] = OP_ALTS;
    this.dVs[d] = from;
    this.dVe[d] = count;
    return true;
  }

  /**
   * One alternative of scan(): s[i, …) up to the end `n` or a "|". Returns
   * where it stopped (n or the index of the "|") with the name's entry,
   * operator and version range in aEntry, aOp, aVs, aVe; -1 when it
   * is not in the simple form.
   */
  private scanAlt(s: string, i: number, n: number): number {
    const stop = scanSimple(s, i, n);
    if (stop < 0) return -1;
    const x = SIMPLE;
    this.aEntry = this.names.findRange(s, x.start, x.nameEnd, hashRange(s, x.start, x.nameEnd));
    this.aOp = x.op;
    this.aVs = x.vs;
    this.aVe = x.ve;
    return stop;
  }

  /**
   * Offset in matchPool of the ids matching any alternative of dependency
   * number `d`: matchPool[o] is the count, the ids follow, deduplicated,
   * alternatives in order (computed once).
   */
  matchAt(d: number): number {
    if (d >= this.matchOff.length) this.matchOff = grown(this.matchOff, d + 1, -1);
    const o = this.matchOff[d];
    if (o >= 0) return o;
    return (this.matchOff[d] = this.computeMatchAt(d));
  }

  /** The run for matchAt(d), stored (runs for a bare name are shared by every dependency on it). */
  private computeMatchAt(d: number): number {
    const op = this.dOp[d];
    this.scrN = 0;
    if (op === OP_SLOW) {
      this.matchAlts(this.dep(d).alts);
      return this.store();
    }
    if (op === OP_ALTS) {
      this.matchScanned(this.dVs[d], this.dVe[d], this.depText(d));
      return this.store();
    }
    const e = this.dEntry[d];
    if (e < 0) return 0; // the empty run
    if (op !== OP_NONE) {
      this.matchEntry(e, op, this.depText(d), this.dVs[d], this.dVe[d]);
      return this.store();
    }
    let o = this.info[4 * e + 3];
    if (o < 0) {
      this.matchEntry(e, OP_NONE, '', 0, 0);
      o = this.info[4 * e + 3] = this.store();
    }
    return o;
  }

  /** matchAlts for the `count` alternatives at altPool[from] of the dependency string `text`. */
  private matchScanned(from: number, count: number, text: string): void {
    for (let k = 0; k < count; k++) {
      const at = from + ALT * k;
      const a = this.altPool;
      const e = a[at];
      if (e < 0) continue;
      const start = this.scrN;
      this.matchEntry(e, a[at + 1], text, a[at + 2], a[at + 3]);
      this.dedup(start);
    }
  }

  /** Drop from scr[start, scrN) the ids already in scr[0, start). */
  private dedup(start: number): void {
    const out = this.scr;
    let w = start;
    for (let r = start; r < this.scrN; r++) {
      const id = out[r];
      let dup = false;
      for (let q = 0; q < start; q++) if (out[q] === id) { dup = true; break; }
      if (!dup) out[w++] = id;
    }
    this.scrN = w;
  }

  /** Append the ids matching any of `alts` to the scratch, deduplicated, alternatives in order. */
  private matchAlts(alts: Dependency): void {
    for (const a of alts) {
      const from = this.scrN;
      this.computeMatch(a.name, a.constraint);
      this.dedup(from);
    }
  }

  /** Copy the scratch into matchPool as a run; returns its offset. */
  private store(): number {
    const len = this.scrN;
    if (this.matchLen + len + 1 > this.matchPool.length) this.matchPool = grown(this.matchPool, this.matchLen + len + 1);
    const start = this.matchLen;
    const pool = this.matchPool;
    const ids = this.scr;
    pool[start] = len;
    for (let i = 0; i < len; i++) pool[start + 1 + i] = ids[i];
    this.matchLen = start + 1 + len;
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
      this.scrN = 0;
      this.computeMatch(d.name, d.constraint);
      this.matchByText.set(key, (r = Array.from(this.scr.subarray(0, this.scrN))));
    }
    return r;
  }

  /** Append the ids satisfying `name` + `c` to the scratch (see match). */
  private computeMatch(name: string, c: Constraint | undefined): void {
    const e = this.names.find(name);
    if (e < 0) return;
    if (c === undefined) this.matchEntry(e, OP_NONE, '', 0, 0);
    else this.matchEntry(e, opCode(c.op), c.version, 0, c.version.length);
  }

  /**
   * Append the ids satisfying the descriptor "name of entry e, op, version
   * v[vs, ve)" to the scratch (see match).
   */
  private matchEntry(e: number, op: number, v: string, vs: number, ve: number): void {
    const vers = this.vers;
    const prio = this.prio;
    const info = this.info;
    const first = info[4 * e];
    const last = info[4 * e + 1];
    const j = info[4 * e + 2];
    const provs = j < 0 ? NO_PROVIDES : this.provLists[j];
    // At most every package of the name and every provider.
    if (this.scrN + (last - first) + provs.length > this.scr.length) this.scr = grown(this.scr, this.scrN + (last - first) + provs.length);
    const out = this.scr;
    let n = this.scrN;
    for (let i = first; i < last; i++) {
      if (op === OP_NONE) out[n++] = i;
      else {
        const pv = vers[i];
        if (holds(compareVersionRanges(pv, 0, pv.length, v, vs, ve), op)) out[n++] = i;
      }
    }
    const from = n;
    for (let k = 0; k < provs.length; k++) {
      const p = provs[k];
      if (op !== OP_NONE && (p.version === undefined || !holds(compareVersionRanges(p.version, 0, p.version.length, v, vs, ve), op))) continue;
      if (e < this.nNames && this.nameIndex[p.pkg] === this.rank[e]) continue; // a package of that name: already listed
      let dup = false;
      for (let q = from; q < n; q++) if (out[q] === p.pkg) { dup = true; break; }
      if (!dup) out[n++] = p.pkg;
    }
    // Providers arrive in id order; order them by priority (descending), then
    // Debian's preference (descending, as apt ranks providers), then id.
    const pref = this.pref;
    for (let a = from + 1; a < n; a++) {
      const x = out[a];
      const px = prio[x];
      const fx = pref[x];
      let b = a - 1;
      while (b >= from && (prio[out[b]] < px || (prio[out[b]] === px && pref[out[b]] < fx))) {
        out[b + 1] = out[b];
        b--;
      }
      out[b + 1] = x;
    }
    this.scrN = n;
  }
}

const OP_SLOW = 6;
/** Alternatives, each in the simple form: see scan(). */
const OP_ALTS = 7;
/** Ints per alternative in altPool. */
const ALT = 4;

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

/** Convenience: the universe of `candidates` for `arch`. */
export function prepare(candidates: readonly Candidate[], arch: Arch): Universe {
  return new Universe(candidates, arch);
}

