/**
 * The SAT encoding of a request over a universe (Encoding): packages as
 * variables, dependencies, conflicts and one version per name as clauses,
 * added lazily as the search reaches packages; info() says why a clause
 * exists, for explanations.
 */
import type { ParsedRequest, RequestAlt } from '../depend.js';
import { F_CONFLICTS, F_DEPENDS, F_OPTIONAL } from './candidates.js';
import type { ClauseInfo } from './explain.js';
import { grown } from './grow.js';
import { Sat, type Expander } from './sat.js';
import type { Universe } from './universe.js';

/** A growable Int32Array: push() appends; read a[i] for i < n. */
class IntVec {
  a: Int32Array;
  n = 0;
  constructor(cap = 1024) {
    this.a = new Int32Array(cap);
  }
  push(x: number): void {
    if (this.n === this.a.length) this.reserve(1);
    this.a[this.n++] = x;
  }
  /** Make room for k more elements (then a[n…n+k) may be written directly). */
  reserve(k: number): void {
    if (this.n + k > this.a.length) this.a = grown(this.a, this.n + k);
  }
}

/** Why a clause exists (Encoding.kind), read back by info(). */
const K_ROOT = 0;
const K_REQUEST = 1;
const K_INSTALLED = 2;
const K_REQUIRES = 3;
const K_CONFLICTS = 4;
const K_SAME = 5;
const K_REMOVE = 6;

/**
 * The SAT encoding of one request, built lazily: a package becomes a
 * variable when some clause mentions it, and its own clauses (its
 * dependencies, its conflicts, one version per name) are added by expand()
 * only when the search first makes it true. Every such clause contains the
 * package's negation, so a false package needs none of them (see
 * Sat.addVar): the search stays complete while parsing and matching only the
 * dependencies of packages it actually tries, typically the result and a
 * few alternatives, not everything reachable.
 *
 * Clauses live in one flat array (`lits`, `starts`) numbered as the solver
 * numbers original clauses; the literals of a clause keep the order they
 * were written in, which for "needs" clauses (one negative literal, then
 * candidates) is the preference order, best first. The dependency clauses of
 * one package are consecutive, so a variable's obligations are a range of
 * clause ids. Variable 0 is the root: the requests and the installed names
 * to keep are its clauses.
 */
export class Encoding implements Expander {
  readonly u: Universe;
  readonly pins: Map<string, Set<string>>;
  readonly optional: boolean;
  readonly sat: Sat;
  /** Variable of each package id; 0 = none yet (variable 0 is the root). */
  readonly pkgToVar: Int32Array;
  readonly varToPkg = new IntVec();
  readonly lits = new IntVec(4096);
  /** Clause c is lits[starts[c], starts[c+1]) (the last one ends at lits.n). */
  readonly starts = new IntVec();
  /** Per clause: K_REQUEST… and a reference (request index, first id of a kept name, or dependency number). */
  private readonly kind = new IntVec();
  private readonly ref = new IntVec();
  /** Per variable: [from, to) clause ids of its dependencies (root: requests and kept names). */
  readonly hardFrom = new IntVec();
  readonly hardTo = new IntVec();
  /** Optional wishes: flat candidate lists (positive literals) softLits[softStarts[w], softEnds[w]), per variable a range of wishes. */
  readonly softLits = new IntVec();
  readonly softStarts = new IntVec();
  readonly softEnds = new IntVec();
  readonly softFrom = new IntVec();
  readonly softTo = new IntVec();
  /** Per package id: 1 when it is an installed version to keep. */
  readonly keep: Uint8Array;
  /** Packages expanded so far (statistics). */
  expanded = 0;
  private searching = false;
  private readonly mark: Int32Array;
  private stamp = 0;

  constructor(u: Universe, pins: Map<string, Set<string>>, optional: boolean, keepPkgs: Set<number>) {
    this.u = u;
    this.pins = pins;
    this.optional = optional;
    this.sat = new Sat(0, 1024, 4096, this);
    this.pkgToVar = new Int32Array(u.size);
    this.mark = new Int32Array(u.size);
    this.keep = new Uint8Array(u.size);
    for (const id of keepPkgs) this.keep[id] = 1;
    this.newVar(-1);
  }

  get nVars(): number {
    return this.varToPkg.n;
  }

  get nClauses(): number {
    return this.starts.n;
  }

  /** End (exclusive) of clause c in lits. */
  end(c: number): number {
    return c + 1 < this.starts.n ? this.starts.a[c + 1] : this.lits.n;
  }

  /** Literals of clause c, as written. */
  clause(c: number): number[] {
    return Array.from(this.lits.a.subarray(this.starts.a[c], this.end(c)));
  }

  private newVar(id: number): number {
    const v = this.varToPkg.n;
    this.varToPkg.push(id);
    this.hardFrom.push(0);
    this.hardTo.push(0);
    this.softFrom.push(0);
    this.softTo.push(0);
    this.sat.addVar(id >= 0);
    return v;
  }

  private varOf(id: number): number {
    let v = this.pkgToVar[id];
    if (v === 0) this.pkgToVar[id] = v = this.newVar(id);
    return v;
  }

  private allowed(id: number): boolean {
    if (this.pins.size === 0) return true;
    const c = this.u.pkgs[id];
    const s = this.pins.get(c.meta.name);
    return s === undefined || s.has(c.repo);
  }

  /** Append the positive literals of the packages dependency number `d` matches (best first) to `out`. */
  private pushDep(out: IntVec, d: number): void {
    const o = this.u.matchAt(d);
    const pool = this.u.matchPool;
    const end = o + 1 + pool[o];
    const pinned = this.pins.size !== 0;
    out.reserve(pool[o]);
    let n = out.n;
    for (let i = o + 1; i < end; i++) {
      const id = pool[i];
      if (pinned && !this.allowed(id)) continue;
      const l = this.varOf(id) << 1;
      out.a[n++] = l;
    }
    out.n = n;
  }

  /** Append the positive literals of a request's candidates (pins honoured), deduplicated. */
  private pushRequest(out: IntVec, alts: readonly RequestAlt[]): void {
    const u = this.u;
    const stamp = ++this.stamp;
    for (const a of alts) {
      for (const id of u.match(a.desc)) {
        if (this.mark[id] === stamp || !this.allowed(id) || (a.pin !== undefined && u.pkgs[id].repo !== a.pin)) continue;
        this.mark[id] = stamp;
        out.push(this.varOf(id) << 1);
      }
    }
  }

  /** Start a clause of this kind (see info()). */
  private begin(kind: number, ref: number): void {
    this.starts.push(this.lits.n);
    this.kind.push(kind);
    this.ref.push(ref);
  }

  /** Hand the clause just written to the solver; during the search, returns its id when it is falsified, else -1. */
  private commit(): number {
    const from = this.starts.a[this.starts.n - 1];
    if (!this.searching) {
      this.sat.addClause(this.lits.a, from, this.lits.n);
      return -1;
    }
    return this.sat.addLive(this.lits.a, from, this.lits.n);
  }

  /** Why clause c exists. */
  info(c: number): ClauseInfo {
    const lits = this.lits.a;
    const s = this.starts.a[c];
    const pkg = (l: number): number => this.varToPkg.a[l >> 1];
    const ref = this.ref.a[c];
    switch (this.kind.a[c]) {
      case K_ROOT: return { kind: 'root' };
      case K_REQUEST: return { kind: 'request', index: ref };
      case K_INSTALLED: return { kind: 'installed', name: this.u.name(ref) };
      case K_REQUIRES: return { kind: 'requires', pkg: pkg(lits[s]), dep: this.u.dep(ref).alts };
      case K_CONFLICTS: return { kind: 'conflicts', pkg: pkg(lits[s]), other: pkg(lits[s + 1]), dep: this.u.dep(ref).alts };
      case K_REMOVE: return { kind: 'remove', pkg: pkg(lits[s]) };
      default: return { kind: 'same-name', pkg: pkg(lits[s]), other: pkg(lits[s + 1]) };
    }
  }

  /** The root's clauses (requests, names to keep) and the removed names' units; then the search may start. */
  build(requests: ParsedRequest[], keepNames: string[], remove: Set<string>): void {
    const u = this.u;
    const lits = this.lits;
    this.begin(K_ROOT, 0);
    lits.push(0);
    this.commit();
    this.hardFrom.a[0] = this.nClauses;
    for (let r = 0; r < requests.length; r++) {
      this.begin(K_REQUEST, r);
      lits.push(1);
      this.pushRequest(lits, requests[r].alts);
      this.commit();
    }
    for (const name of keepNames) {
      const [a, b] = u.named(name);
      this.begin(K_INSTALLED, a);
      lits.push(1);
      for (let i = a; i < b; i++) if (this.allowed(i)) lits.push(this.varOf(i) << 1);
      this.commit();
    }
    this.hardTo.a[0] = this.nClauses;
    for (const name of [...remove].sort()) {
      const [a, b] = u.named(name);
      for (let i = a; i < b; i++) {
        if (!this.allowed(i)) continue;
        this.begin(K_REMOVE, 0);
        lits.push((this.varOf(i) << 1) | 1);
        this.commit();
      }
    }
    this.searching = true;
  }

  /**
   * Sat's Expander: add package variable v's clauses, now that it is true.
   * A conflict with another package is added from whichever side expands
   * first that declares it; one version per name pairs v with each package
   * of its name not expanded yet (an expanded one paired itself with v).
   */
  expand(v: number): number {
    const u = this.u;
    const lits = this.lits;
    const id = this.varToPkg.a[v];
    const neg = (v << 1) | 1;
    let confl = -1;
    this.expanded++;
    this.hardFrom.a[v] = this.nClauses;
    const o = u.depsAt(id, F_DEPENDS);
    const nd = u.depPool[o];
    for (let k = 1; k <= nd; k++) {
      const d = u.depPool[o + k];
      this.begin(K_REQUIRES, d);
      lits.push(neg);
      this.pushDep(lits, d);
      const c = this.commit();
      if (confl < 0) confl = c;
    }
    this.hardTo.a[v] = this.nClauses;
    if (this.optional) {
      this.softFrom.a[v] = this.softStarts.n;
      const oo = u.depsAt(id, F_OPTIONAL);
      const no = u.depPool[oo];
      for (let k = 1; k <= no; k++) {
        this.softStarts.push(this.softLits.n);
        this.pushDep(this.softLits, u.depPool[oo + k]);
        this.softEnds.push(this.softLits.n);
      }
      this.softTo.a[v] = this.softStarts.n;
    }
    if (u.has(id, F_CONFLICTS)) {
      const oc = u.depsAt(id, F_CONFLICTS);
      const nc = u.depPool[oc];
      for (let k = 1; k <= nc; k++) {
        const d = u.depPool[oc + k];
        const m = u.matchAt(d);
        for (let i = m + 1; i < m + 1 + u.matchPool[m]; i++) {
          const other = u.matchPool[i];
          if (other === id || !this.allowed(other)) continue;
          const w = this.varOf(other);
          this.begin(K_CONFLICTS, d);
          lits.push(neg);
          lits.push((w << 1) | 1);
          const c = this.commit();
          if (confl < 0) confl = c;
        }
      }
    }
    const [a, b] = u.nameRange(id);
    for (let other = a; other < b; other++) {
      if (other === id || !this.allowed(other)) continue;
      const w = this.varOf(other);
      if (this.sat.isExpanded(w)) continue;
      this.begin(K_SAME, 0);
      lits.push(neg);
      lits.push((w << 1) | 1);
      const c = this.commit();
      if (confl < 0) confl = c;
    }
    return confl;
  }
}
