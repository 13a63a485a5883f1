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
 * Algorithm: the packages reachable from the request become variables of a
 * CDCL SAT problem (solver/sat.ts): the search is complete, so a request
 * fails only when no solution exists. Decisions follow the preferences, in
 * order: requested packages first (repository priority, then newest version;
 * on a live root the installed version unless upgrading), then dependencies
 * whose choice is between versions of one name, then choices between names
 * (alternatives in their written order, a package of that name before
 * providers), then optional dependencies. Packages are only chosen when some
 * clause needs them, so results stay small.
 */
import { MinosError } from '../errors.js';
import type { PackageMeta } from '../types.js';
import { isArch, parseDescriptor } from './depend.js';
import type { Arch, Descriptor } from './depend.js';
import { explain, unknownName } from './explain.js';
import type { ClauseInfo, Problem } from './explain.js';
import { Sat } from './sat.js';
import type { Decider } from './sat.js';
import { F_CONFLICTS, F_DEPENDS, F_OPTIONAL, Universe } from './universe.js';
import type { Candidate, Locator } from './universe.js';

export type { Candidate, Locator } from './universe.js';
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
  /** Packages reachable from the request (variables of the SAT problem). */
  reachable: number;
  clauses: number;
  decisions: number;
  conflicts: number;
  /** Milliseconds spent encoding the reachable packages (parsing their dependencies on first use). */
  buildMs: number;
  /** Milliseconds spent in the SAT search. */
  searchMs: number;
}

/** A parsed request alternative. */
interface Alt {
  desc: Descriptor;
  pin?: string;
}

export interface ParsedRequest {
  text: string;
  alts: Alt[];
}

const PIN = /^\s*([^\s@<>=|]+)@([A-Za-z0-9._-]+)(.*)$/s;

/** Parse one request string (see Request.requests); throws MN0107. */
export function parseRequest(text: string): ParsedRequest {
  if (typeof text !== 'string' || text.trim() === '') throw new MinosError('MN0107', `invalid request "${text}": empty`);
  const alts = text.split('|').map((a): Alt => {
    if (a.trim() === '') throw new MinosError('MN0107', `invalid request "${text}": empty alternative`);
    const m = PIN.exec(a);
    if (m) return { desc: parseDescriptor(m[1] + m[3]), pin: m[2] };
    return { desc: parseDescriptor(a) };
  });
  return { text: text.trim(), alts };
}

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
  const p = new Problem_(u, pins, !!req.optional);
  p.build(requests, installed.filter((i) => !req.autoremove && !removeSet.has(i.name)).map((i) => i.name), removeSet, keepPkgs);
  const sat = new Sat(p.nVars, p.nClauses, p.lits.n);
  for (let c = 0; c < p.nClauses; c++) sat.addClause(p.lits.a, p.starts.a[c], p.end(c));
  const t1 = performance.now();
  const decider = new Policy(p, sat);
  const ok = sat.solve(decider);
  const t2 = performance.now();
  const stats: SolveStats = {
    reachable: p.nVars - 1, clauses: p.nClauses, decisions: sat.decisions, conflicts: sat.conflicts,
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

/** Packages whose dependency lists build() reads ahead (see Universe.warm). */
const WARM = 32;

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
    if (this.n + k > this.a.length) {
      const b = new Int32Array(Math.max(this.a.length * 2, this.n + k));
      b.set(this.a);
      this.a = b;
    }
  }
}

/**
 * The SAT encoding of one request over the reachable part of a universe.
 * Clauses live in one flat array (`lits`, `starts`); the literals of a clause
 * keep the order they were written in, which for "needs" clauses (one
 * negative literal, then candidates) is the preference order, best first.
 * The dependency clauses of one package are consecutive, so a variable's
 * obligations are a range of clause ids. Variables are numbered in
 * breadth-first order from the root (variable 0).
 */
class Problem_ {
  readonly u: Universe;
  readonly pins: Map<string, Set<string>>;
  readonly optional: boolean;
  /** Variable of each package id; 0 = not reachable (variable 0 is the root). */
  readonly pkgToVar: Int32Array;
  readonly varToPkg = new IntVec();
  readonly lits = new IntVec(4096);
  /** Clause c is lits[starts[c], starts[c+1]) (the last one ends at lits.n). */
  readonly starts = new IntVec();
  /**
   * Why each clause exists is read back from its place (see info()): clause
   * 0 is the root, then requests up to reqEnd, names to keep up to keepEnd
   * (keepFirst: the first id of each name), each variable's dependencies
   * (hardFrom/hardTo; the first literal is the variable's negation), the
   * conflicts from confFrom (confRef: their dependency numbers), and from
   * sameFrom the unit "remove" and two-literal "same-name" clauses.
   */
  private reqEnd = 0;
  private keepEnd = 0;
  private readonly keepFirst = new IntVec(16);
  private confFrom = 0;
  private readonly confRef = new IntVec(64);
  private sameFrom = 0;
  /** Per variable: [from, to) clause ids of its dependencies (root: requests and kept names). */
  readonly hardFrom = new IntVec();
  readonly hardTo = new IntVec();
  /** Optional wishes: flat candidate lists (positive literals), per variable a range of wishes. */
  readonly softLits = new IntVec();
  readonly softStarts = new IntVec();
  readonly softFrom = new IntVec();
  readonly softTo = new IntVec();
  /** Per variable: 1 when it is an installed version to keep. */
  keep: Uint8Array = new Uint8Array(0);
  private readonly mark: Int32Array;
  private stamp = 0;

  constructor(u: Universe, pins: Map<string, Set<string>>, optional: boolean) {
    this.u = u;
    this.pins = pins;
    this.optional = optional;
    this.pkgToVar = new Int32Array(u.size);
    this.mark = new Int32Array(u.size);
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
    const a = out.a;
    let n = out.n;
    for (let i = o + 1; i < end; i++) {
      const id = pool[i];
      if (!pinned || this.allowed(id)) a[n++] = this.varOf(id) << 1;
    }
    out.n = n;
  }

  /** Append the positive literals of a request's candidates (pins honoured), deduplicated. */
  private pushRequest(out: IntVec, alts: readonly Alt[]): void {
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

  /** Start a clause. */
  private begin(): void {
    this.starts.push(this.lits.n);
  }

  /** Why clause c exists (see reqEnd). */
  info(c: number): ClauseInfo {
    const lits = this.lits.a;
    const s = this.starts.a[c];
    const pkg = (l: number): number => this.varToPkg.a[l >> 1];
    if (c === 0) return { kind: 'root' };
    if (c < this.reqEnd) return { kind: 'request', index: c - 1 };
    if (c < this.keepEnd) return { kind: 'installed', name: this.u.name(this.keepFirst.a[c - this.reqEnd]) };
    if (c < this.confFrom) {
      const v = lits[s] >> 1;
      const id = this.varToPkg.a[v];
      const d = this.u.depPool[this.u.depsAt(id, F_DEPENDS) + 1 + c - this.hardFrom.a[v]];
      return { kind: 'requires', pkg: id, dep: this.u.dep(d).alts };
    }
    if (c < this.sameFrom) return { kind: 'conflicts', pkg: pkg(lits[s]), other: pkg(lits[s + 1]), dep: this.u.dep(this.confRef.a[c - this.confFrom]).alts };
    if (this.end(c) - s === 1) return { kind: 'remove', pkg: pkg(lits[s]) };
    return { kind: 'same-name', pkg: pkg(lits[s]), other: pkg(lits[s + 1]) };
  }

  /** The reachable package ids, ascending: a sweep of pkgToVar when that is cheaper than sorting. */
  private reachableById(): Int32Array {
    const n = this.varToPkg.n - 1;
    if (16 * n < this.pkgToVar.length) return this.varToPkg.a.slice(1, n + 1).sort();
    const out = new Int32Array(n);
    const p2v = this.pkgToVar;
    let k = 0;
    for (let id = 0; id < p2v.length; id++) if (p2v[id] !== 0) out[k++] = id;
    return out;
  }

  build(requests: ParsedRequest[], keepNames: string[], remove: Set<string>, keepPkgs: Set<number>): void {
    const u = this.u;
    const lits = this.lits;
    this.begin();
    lits.push(0);
    this.hardFrom.a[0] = this.nClauses;
    for (const r of requests) {
      this.begin();
      lits.push(1);
      this.pushRequest(lits, r.alts);
    }
    this.reqEnd = this.nClauses;
    for (const name of keepNames) {
      const [a, b] = u.named(name);
      this.begin();
      this.keepFirst.push(a);
      lits.push(1);
      for (let i = a; i < b; i++) if (this.allowed(i)) lits.push(this.varOf(i) << 1);
    }
    this.keepEnd = this.nClauses;
    this.hardTo.a[0] = this.nClauses;
    // Variables whose package has conflicts, in variable order (noted while its list slot is in cache).
    const withConflicts = new IntVec(64);
    // Breadth-first over everything reachable: variables are the queue.
    let warmed = 1;
    for (let v = 1; v < this.varToPkg.n; v++) {
      if (v === warmed) warmed = v + u.warm(this.varToPkg.a, v, Math.min(this.varToPkg.n, v + WARM));
      const id = this.varToPkg.a[v];
      const neg = (v << 1) | 1;
      this.hardFrom.a[v] = this.nClauses;
      const o = u.depsAt(id, F_DEPENDS);
      const nd = u.depPool[o];
      for (let k = 1; k <= nd; k++) {
        this.begin();
        lits.push(neg);
        this.pushDep(lits, u.depPool[o + k]);
      }
      this.hardTo.a[v] = this.nClauses;
      if (u.has(id, F_CONFLICTS)) withConflicts.push(v);
      if (this.optional) {
        this.softFrom.a[v] = this.softStarts.n;
        const oo = u.depsAt(id, F_OPTIONAL);
        const no = u.depPool[oo];
        for (let k = 1; k <= no; k++) {
          this.softStarts.push(this.softLits.n);
          this.pushDep(this.softLits, u.depPool[oo + k]);
        }
        this.softTo.a[v] = this.softStarts.n;
      }
    }
    this.softStarts.push(this.softLits.n);
    const n = this.varToPkg.n;
    // Conflicts between reachable packages (parsed after every reachable dependency list, so errors come in that order).
    this.confFrom = this.nClauses;
    for (let x = 0; x < withConflicts.n; x++) {
      const v = withConflicts.a[x];
      const id = this.varToPkg.a[v];
      const o = u.depsAt(id, F_CONFLICTS);
      const nc = u.depPool[o];
      for (let k = 1; k <= nc; k++) {
        const d = u.depPool[o + k];
        const m = u.matchAt(d);
        const pool = u.matchPool;
        for (let i = m + 1, e = m + 1 + pool[m]; i < e; i++) {
          const other = pool[i];
          const w = this.pkgToVar[other];
          if (w === 0 || other === id) continue;
          this.begin();
          this.confRef.push(d);
          lits.push((v << 1) | 1);
          lits.push((w << 1) | 1);
        }
      }
    }
    // One package per name: ids of one name are contiguous, so take the reachable ids in id order.
    this.sameFrom = this.nClauses;
    const byId = this.reachableById();
    const names = u.nameIndex;
    for (let i = 0; i < byId.length; ) {
      let j = i + 1;
      while (j < byId.length && names[byId[j]] === names[byId[i]]) j++;
      if (remove.size && remove.has(u.name(byId[i]))) {
        for (let k = i; k < j; k++) {
          this.begin();
          lits.push((this.pkgToVar[byId[k]] << 1) | 1);
        }
      }
      for (let a = i; a < j; a++) {
        for (let b = a + 1; b < j; b++) {
          this.begin();
          lits.push((this.pkgToVar[byId[a]] << 1) | 1);
          lits.push((this.pkgToVar[byId[b]] << 1) | 1);
        }
      }
      i = j;
    }
    this.keep = new Uint8Array(n);
    for (const id of keepPkgs) if (this.pkgToVar[id]) this.keep[this.pkgToVar[id]] = 1;
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
  /** Name number per package id, and package id per variable (read only for the few clauses decided on). */
  private readonly names: Int32Array;
  private readonly varToPkg: Int32Array;

  constructor(p: Problem_, sat: Sat) {
    this.p = p;
    this.sat = sat;
    this.names = p.u.nameIndex;
    this.varToPkg = p.varToPkg.a;
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
          const l = this.choose(p.softLits.a, p.softStarts.a[w], p.softStarts.a[w + 1], false);
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
    let first = -1;
    let kept = -1;
    let name = -1;
    let several = false;
    for (let i = s; i < e; i++) {
      const l = lits[i];
      const x = val[l];
      if (x === 1) return -1;
      if (x === 0) {
        const v = l >> 1;
        if (first < 0) first = l;
        if (kept < 0 && keep[v]) kept = l;
        const nm = this.names[this.varToPkg[v]];
        if (name < 0) name = nm;
        else if (nm !== name) several = true;
      }
    }
    if (first < 0) return -1;
    if (oneName && several && kept < 0) return -1;
    return kept >= 0 ? kept : first;
  }
}
