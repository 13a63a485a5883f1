/**
 * The resolver: turns a request (what must be present) plus the candidate
 * packages of the configured repositories into a changeset. Pure: no I/O,
 * no clock, no randomness; the same inputs in any order give the same answer.
 *
 * Semantics (Debian's):
 * - a dependency clause `a | b >= 2` is met by any package matching one of
 *   its alternatives; a descriptor matches a package of that name whose
 *   version satisfies the constraint, or a package providing that name: an
 *   unversioned provide only meets unversioned descriptors, a versioned
 *   provide (`sh = 1`) meets descriptors its version satisfies;
 * - `conflicts` excludes every other package matching the descriptor (never
 *   the package itself, so a conflict on a name it provides only excludes the
 *   other providers); `replaces` plays no part in solving;
 * - at most one package of each name is in a result;
 * - `noarch` packages fit every target, packages of other architectures are
 *   invisible;
 * - `optional` dependencies are followed only when `Request.optional` is set,
 *   and only as wishes: they never make a request fail.
 *
 * Algorithm: packages are variables of a CDCL SAT problem (solver/sat.ts):
 * the search is complete, so a request fails only when no solution exists.
 * A package's clauses are added when the search first makes it true (see
 * Problem_), so it parses and matches the dependencies of the packages it
 * tries, not of everything reachable from the request. Decisions follow
 * the preferences, in order: requested packages first (repository
 * priority, then newest version; on a live root the installed version
 * unless upgrading), then dependencies whose choice is between versions of
 * one name, then choices between names (alternatives in their written
 * order, a package of that name before providers), then optional
 * dependencies. Packages are only chosen when some
 * clause needs them, so results stay small.
 */
import { MinosError } from '../errors.js';
import type { PackageMeta } from '../types.js';
import { isArch, parseRequest } from '../depend.js';
import type { Arch, ParsedRequest, RequestAlt } from '../depend.js';
import { explain, unknownName } from './explain.js';
import { grown } from './grow.js';
import type { ClauseInfo } from './explain.js';
import { Sat } from './sat.js';
import type { Decider, Expander } from './sat.js';
import { F_CONFLICTS, F_DEPENDS, F_OPTIONAL, type Candidate, type Locator } from './candidates.js';
import { Universe } from './universe.js';

export type { Candidate, Locator } from './candidates.js';
export { Universe, prepare } from './universe.js';


/** One package present on a live root. */
export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
  /** Repository it came from, if known. */
  repo?: string;
  /**
   * Its metadata (from the installed database). Used only when no candidate
   * has the same name, version and arch, i.e. the repositories dropped it; if
   * absent then, the package is taken to have no depends/provides/conflicts.
   */
  meta?: PackageMeta;
}

export interface Request {
  /** The candidates of every repository, or a Universe prepared from them (reusable). */
  candidates: readonly Candidate[] | Universe;
  /** Target architecture. */
  arch: Arch;
  /**
   * What must be present: dependency strings (`name`, `name >= 1.2`,
   * `a | b`), where an alternative may be pinned to a repository with
   * `name@repo` (`name@repo >= 1.2`): then only that repository's packages
   * of that name are considered, everywhere in the solution.
   */
  requests: readonly string[];
  /** Also install optional dependencies (transitively) when they can be satisfied. */
  optional?: boolean;
  /** The live root's current packages (none for an image build). */
  installed?: readonly InstalledPackage[];
  /**
   * Without it, installed packages keep their version when possible. `true`
   * upgrades everything, a list upgrades the named packages only.
   */
  upgrade?: true | readonly string[];
  /** Package names that must not be in the result (installed or not). */
  remove?: readonly string[];
  /**
   * false (default, pacman-like): every installed package not in `remove`
   * stays installed (perhaps at another version). true (apk "world"-like):
   * `requests` is the whole world; installed packages nothing needs are removed.
   */
  autoremove?: boolean;
}

export interface Changeset {
  /** Packages of names not installed before, sorted by name. */
  install: Locator[];
  /** Installed packages whose name is not in the result, sorted by name. */
  remove: Locator[];
  /** Names whose version or architecture changes (upgrades and downgrades), sorted. */
  upgrade: { from: Locator; to: Locator }[];
  /** The full resulting set, sorted by name. */
  result: Locator[];
  /** Work done, for benchmarks and `--debug`. */
  stats: SolveStats;
}

export interface SolveStats {
  /** Packages some clause mentions (variables of the SAT problem). */
  mentioned: number;
  /** Packages the search made true at some point, whose clauses were added. */
  expanded: number;
  clauses: number;
  decisions: number;
  conflicts: number;
  /** Milliseconds spent encoding the request and the names to keep or remove. */
  buildMs: number;
  /** Milliseconds spent in the SAT search, including the expansion of packages (parsing their dependencies on first use). */
  searchMs: number;
}

/** The request syntax (../depend.ts), also importable from here. */
export { parseRequest };

const SYNTHETIC_PRIORITY = Number.MIN_SAFE_INTEGER;

/**
 * Resolve a request. Returns the changeset; throws MinosError MN0302 when a
 * request names a package that exists nowhere for this architecture (hint:
 * near names), MN0301 when no solution exists (message: a short chain of
 * reasons; data: { problem: Problem }, see explain.ts), MN0107 for an
 * invalid request or dependency string, MN0106 for an unknown architecture.
 */
export function solve(req: Request): Changeset {
  if (!isArch(req.arch)) throw new MinosError('MN0106', `unknown architecture "${String(req.arch)}"`);
  let u = req.candidates instanceof Universe && req.candidates.arch === req.arch
    ? req.candidates
    : new Universe(req.candidates instanceof Universe ? req.candidates.source : req.candidates, req.arch);

  // Installed packages: find each one among the candidates, or add it.
  const installed = [...(req.installed ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const synthetic: Candidate[] = [];
  for (const inst of installed) {
    if (findInstalled(u, inst) < 0) synthetic.push({ meta: inst.meta ?? emptyMeta(inst), repo: inst.repo ?? '@installed', priority: SYNTHETIC_PRIORITY });
  }
  if (synthetic.length) u = new Universe([...u.source, ...synthetic], req.arch);
  const upgradeAll = req.upgrade === true;
  const upgradeSet = new Set(req.upgrade === true ? [] : (req.upgrade ?? []));
  const keepPkgs = new Set<number>();
  const installedByName = new Map<string, InstalledPackage>();
  for (const inst of installed) {
    installedByName.set(inst.name, inst);
    const id = findInstalled(u, inst);
    if (id >= 0 && !upgradeAll && !upgradeSet.has(inst.name)) keepPkgs.add(id);
  }

  const requests = req.requests.map(parseRequest);
  const pins = new Map<string, Set<string>>();
  for (const r of requests) for (const a of r.alts) if (a.pin) {
    let s = pins.get(a.desc.name);
    if (!s) pins.set(a.desc.name, (s = new Set()));
    s.add(a.pin);
  }
  const removeSet = new Set(req.remove ?? []);
  checkKnown(u, requests, pins);

  const t0 = performance.now();
  const p = new Problem_(u, pins, !!req.optional, keepPkgs);
  p.build(requests, installed.filter((i) => !req.autoremove && !removeSet.has(i.name)).map((i) => i.name), removeSet);
  const sat = p.sat;
  const t1 = performance.now();
  const decider = new Policy(p, sat);
  const ok = sat.solve(decider);
  const t2 = performance.now();
  const stats: SolveStats = {
    mentioned: p.nVars - 1, expanded: p.expanded, clauses: p.nClauses, decisions: sat.decisions, conflicts: sat.conflicts,
    buildMs: t1 - t0, searchMs: t2 - t1,
  };
  if (!ok) {
    const problem = explain({ universe: u, arch: req.arch, clause: (c) => p.clause(c), info: (c) => p.info(c), core: sat.core(), varToPkg: p.varToPkg.a, requests, pins, installed: installedByName });
    throw new MinosError('MN0301', problem.message, { data: { problem, stats } });
  }

  // Sorted by name: ids follow the names' order and a result has one package per name.
  const chosen = new Int32Array(p.nVars);
  let nChosen = 0;
  for (let v = 1; v < p.nVars; v++) if (sat.value(v) === 1) chosen[nChosen++] = p.varToPkg.a[v];
  const ids = chosen.subarray(0, nChosen).sort();
  const result: Locator[] = [];
  for (let i = 0; i < ids.length; i++) result.push(locator(u, ids[i]));
  const resultNames = new Map(result.map((l) => [l.name, l]));
  const install: Locator[] = [];
  const upgrade: { from: Locator; to: Locator }[] = [];
  const remove: Locator[] = [];
  for (const l of result) {
    const inst = installedByName.get(l.name);
    if (!inst) install.push(l);
    else if (inst.version !== l.version || inst.arch !== l.arch) upgrade.push({ from: installedLocator(inst), to: l });
  }
  for (const inst of installed) if (!resultNames.has(inst.name)) remove.push(installedLocator(inst));
  return { install, remove, upgrade, result, stats };
}

function locator(u: Universe, id: number): Locator {
  const c = u.pkgs[id];
  return { name: c.meta.name, version: c.meta.version, arch: c.meta.arch, repo: c.repo };
}

function installedLocator(i: InstalledPackage): Locator {
  return { name: i.name, version: i.version, arch: i.arch, repo: i.repo ?? '@installed' };
}

function emptyMeta(i: InstalledPackage): PackageMeta {
  return {
    name: i.name, version: i.version, arch: i.arch as Arch, summary: '', license: '',
    depends: [], provides: [], conflicts: [], replaces: [], optional: [], builddate: 0, installedSize: 0,
  };
}

/** The candidate id of an installed package (same name, version, arch; its repo preferred), or -1. */
function findInstalled(u: Universe, inst: InstalledPackage): number {
  const [a, b] = u.named(inst.name);
  let found = -1;
  for (let i = a; i < b; i++) {
    const c = u.pkgs[i];
    if (c.meta.version !== inst.version || c.meta.arch !== inst.arch) continue;
    if (inst.repo === undefined || c.repo === inst.repo) return i;
    if (found < 0) found = i;
  }
  return found;
}

/** MN0302 when every alternative of a request names nothing that exists. */
function checkKnown(u: Universe, requests: ParsedRequest[], pins: Map<string, Set<string>>): void {
  for (const r of requests) {
    let known = false;
    for (const a of r.alts) {
      if (!u.knows(a.desc.name)) continue;
      if (a.pin && !inRepo(u, a.desc.name, a.pin)) continue;
      known = true;
    }
    if (!known) throw unknownName(u, r.alts[0].desc.name, r.alts[0].pin, pins);
  }
}

function inRepo(u: Universe, name: string, repo: string): boolean {
  const [a, b] = u.named(name);
  for (let i = a; i < b; i++) if (u.pkgs[i].repo === repo) return true;
  for (const pr of u.providersOf(name)) if (u.pkgs[pr.pkg].repo === repo) return true;
  return false;
}

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

/** Why a clause exists (Problem_.kind), read back by info(). */
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
class Problem_ implements Expander {
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

/**
 * The decision policy (see the module comment). It walks the trail: every
 * true variable's obligations must hold; three cursors remember how far the
 * trail is known to be fine for pass A (choices among versions of one name),
 * pass B (any choice) and pass C (optional wishes). Cursors are saved per
 * decision level and restored on backjumps.
 */
class Policy implements Decider {
  private readonly p: Problem_;
  private readonly sat: Sat;
  private a = 0;
  private b = 0;
  private c = 0;
  private readonly saved: number[] = [];
  /** Name number per package id (read only for the few clauses decided on). */
  private readonly names: Int32Array;

  constructor(p: Problem_, sat: Sat) {
    this.p = p;
    this.sat = sat;
    this.names = p.u.nameIndex;
  }

  backtrack(level: number): void {
    const base = level * 3;
    this.a = Math.min(this.a, this.saved[base]);
    this.b = Math.min(this.b, this.saved[base + 1]);
    this.c = Math.min(this.c, this.saved[base + 2]);
    this.saved.length = base;
  }

  decide(): number {
    const l = this.search();
    if (l >= 0) this.saved.push(this.a, this.b, this.c);
    return l;
  }

  private search(): number {
    const sat = this.sat;
    const trail = sat.trail;
    const p = this.p;
    for (; this.a < sat.trailLen; this.a++) {
      const t = trail[this.a];
      if (t & 1) continue;
      const l = this.pickHard(p.hardFrom.a[t >> 1], p.hardTo.a[t >> 1], true);
      if (l >= 0) return l;
    }
    for (; this.b < sat.trailLen; this.b++) {
      const t = trail[this.b];
      if (t & 1) continue;
      const l = this.pickHard(p.hardFrom.a[t >> 1], p.hardTo.a[t >> 1], false);
      if (l >= 0) return l;
    }
    if (p.optional) {
      for (; this.c < sat.trailLen; this.c++) {
        const t = trail[this.c];
        if (t & 1) continue;
        for (let w = p.softFrom.a[t >> 1]; w < p.softTo.a[t >> 1]; w++) {
          const l = this.choose(p.softLits.a, p.softStarts.a[w], p.softEnds.a[w], false);
          if (l >= 0) return l;
        }
      }
    }
    return -1;
  }

  /** The literal to decide for the first unmet clause in [from, to), or -1. */
  private pickHard(from: number, to: number, oneName: boolean): number {
    const p = this.p;
    const starts = p.starts.a;
    for (let c = from; c < to; c++) {
      const l = this.choose(p.lits.a, starts[c] + 1, p.end(c), oneName);
      if (l >= 0) return l;
    }
    return -1;
  }

  /**
   * For the candidate literals lits[s, e): -1 when one is true or none is
   * free (or, with oneName, when the free ones have different names and none
   * is a kept installed version); else the best free one: a kept installed
   * version first, then the first in preference order.
   */
  private choose(lits: Int32Array, s: number, e: number, oneName: boolean): number {
    const val = this.sat.litVal;
    const keep = this.p.keep;
    const varToPkg = this.p.varToPkg.a;
    let first = -1;
    let kept = -1;
    let name = -1;
    let several = false;
    for (let i = s; i < e; i++) {
      const l = lits[i];
      const x = val[l];
      if (x === 1) return -1;
      if (x === 0) {
        const id = varToPkg[l >> 1];
        if (first < 0) first = l;
        if (kept < 0 && keep[id]) kept = l;
        const nm = this.names[id];
        if (name < 0) name = nm;
        else if (nm !== name) several = true;
      }
    }
    if (first < 0) return -1;
    if (oneName && several && kept < 0) return -1;
    return kept >= 0 ? kept : first;
  }
}
