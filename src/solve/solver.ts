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
import type { Arch, Dependency, Descriptor } from './depend.js';
import { explain, unknownName } from './explain.js';
import type { ClauseInfo, Problem } from './explain.js';
import { Sat } from './sat.js';
import type { Decider } from './sat.js';
import { Universe } from './universe.js';
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

  const p = new Problem_(u, pins, !!req.optional);
  p.build(requests, installed.filter((i) => !req.autoremove && !removeSet.has(i.name)).map((i) => i.name), removeSet, keepPkgs);
  const sat = new Sat(p.nVars);
  for (const c of p.clauses) sat.addClause(c);
  const decider = new Policy(p, sat);
  const ok = sat.solve(decider);
  const stats: SolveStats = { reachable: p.nVars - 1, clauses: p.clauses.length, decisions: sat.decisions, conflicts: sat.conflicts };
  if (!ok) {
    const problem = explain({ universe: u, arch: req.arch, clauses: p.clauses, info: p.info, core: sat.core(), varToPkg: p.varToPkg, requests, pins, installed: installedByName });
    throw new MinosError('MN0301', problem.message, { data: { problem, stats } });
  }

  const result: Locator[] = [];
  for (let v = 1; v < p.nVars; v++) if (sat.value(v) === 1) result.push(locator(u, p.varToPkg[v]));
  result.sort(byName);
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

function byName(a: Locator, b: Locator): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
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

/** What one package (or the root) needs: a clause and its candidates in preference order. */
interface Obligation {
  clause: number;
  /** Variables, best first. */
  cands: Int32Array;
}

/** The SAT encoding of one request over the reachable part of a universe. */
class Problem_ {
  readonly u: Universe;
  readonly pins: Map<string, Set<string>>;
  readonly optional: boolean;
  /** Variable of each package id; 0 = not reachable (variable 0 is the root). */
  readonly pkgToVar: Int32Array;
  readonly varToPkg: number[] = [-1];
  readonly clauses: number[][] = [];
  readonly info: ClauseInfo[] = [];
  /** Per variable: hard obligations, then optional wishes. */
  readonly hard: Obligation[][] = [[]];
  readonly soft: Obligation[][] = [[]];
  /** Per variable: 1 when it is an installed version to keep. */
  keep: Uint8Array = new Uint8Array(0);
  private readonly queue: number[] = [];

  constructor(u: Universe, pins: Map<string, Set<string>>, optional: boolean) {
    this.u = u;
    this.pins = pins;
    this.optional = optional;
    this.pkgToVar = new Int32Array(u.size);
  }

  get nVars(): number {
    return this.varToPkg.length;
  }

  private varOf(id: number): number {
    let v = this.pkgToVar[id];
    if (v === 0) {
      v = this.varToPkg.length;
      this.pkgToVar[id] = v;
      this.varToPkg.push(id);
      this.hard.push([]);
      this.soft.push([]);
      this.queue.push(id);
    }
    return v;
  }

  private allowed(id: number): boolean {
    if (this.pins.size === 0) return true;
    const c = this.u.pkgs[id];
    const s = this.pins.get(c.meta.name);
    return s === undefined || s.has(c.repo);
  }

  /** Variables of the packages matching any alternative, deduplicated, best first. */
  private candidates(dep: Dependency | Alt[], pinned = false): Int32Array {
    if (dep.length === 1 && !pinned && this.pins.size === 0) {
      const m = this.u.match(dep[0] as Descriptor);
      const out = new Int32Array(m.length);
      for (let i = 0; i < m.length; i++) out[i] = this.varOf(m[i]);
      return out;
    }
    const out: number[] = [];
    for (const a of dep) {
      const d = 'desc' in a ? a.desc : a;
      const pin = 'desc' in a ? a.pin : undefined;
      for (const id of this.u.match(d)) {
        if (!this.allowed(id) || (pin !== undefined && this.u.pkgs[id].repo !== pin)) continue;
        const v = this.varOf(id);
        if (!out.includes(v)) out.push(v);
      }
    }
    return Int32Array.from(out);
  }

  private add(lits: number[], info: ClauseInfo): number {
    this.clauses.push(lits);
    this.info.push(info);
    return this.clauses.length - 1;
  }

  build(requests: ParsedRequest[], keepNames: string[], remove: Set<string>, keepPkgs: Set<number>): void {
    const u = this.u;
    this.add([0], { kind: 'root' });
    requests.forEach((r, index) => {
      const cands = this.candidates(r.alts, true);
      const c = this.add([1, ...Array.from(cands, (v) => v << 1)], { kind: 'request', index });
      this.hard[0].push({ clause: c, cands });
    });
    for (const name of keepNames) {
      const [a, b] = u.named(name);
      const vs: number[] = [];
      for (let i = a; i < b; i++) if (this.allowed(i)) vs.push(this.varOf(i));
      const cands = Int32Array.from(vs);
      const c = this.add([1, ...vs.map((v) => v << 1)], { kind: 'installed', name });
      this.hard[0].push({ clause: c, cands });
    }
    // Breadth-first over everything reachable.
    for (let qi = 0; qi < this.queue.length; qi++) {
      const id = this.queue[qi];
      const v = this.pkgToVar[id];
      const neg = (v << 1) | 1;
      for (const dep of u.depends(id)) {
        const cands = this.candidates(dep);
        const lits = new Array<number>(cands.length + 1);
        lits[0] = neg;
        for (let i = 0; i < cands.length; i++) lits[i + 1] = cands[i] << 1;
        const c = this.add(lits, { kind: 'requires', pkg: id, dep });
        if (cands.length) this.hard[v].push({ clause: c, cands });
      }
      if (this.optional) {
        for (const dep of u.optional(id)) {
          const cands = this.candidates(dep);
          if (cands.length) this.soft[v].push({ clause: -1, cands });
        }
      }
    }
    const n = this.varToPkg.length;
    // Conflicts between reachable packages.
    for (let v = 1; v < n; v++) {
      const id = this.varToPkg[v];
      for (const d of u.conflicts(id)) {
        for (const other of u.match(d)) {
          const w = this.pkgToVar[other];
          if (w === 0 || other === id) continue;
          this.add([(v << 1) | 1, (w << 1) | 1], { kind: 'conflicts', pkg: id, other, desc: d });
        }
      }
    }
    // One package per name: ids of one name are contiguous, so sort variables by id.
    const byId = this.varToPkg.slice(1).sort((a, b) => a - b);
    for (let i = 0; i < byId.length; ) {
      let j = i + 1;
      const name = u.name(byId[i]);
      while (j < byId.length && u.name(byId[j]) === name) j++;
      if (remove.has(name)) {
        for (let k = i; k < j; k++) this.add([(this.pkgToVar[byId[k]] << 1) | 1], { kind: 'remove', pkg: byId[k] });
      }
      for (let a = i; a < j; a++) {
        for (let b = a + 1; b < j; b++) {
          this.add([(this.pkgToVar[byId[a]] << 1) | 1, (this.pkgToVar[byId[b]] << 1) | 1], { kind: 'same-name', pkg: byId[a], other: byId[b] });
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
  private readonly names: Int32Array;

  constructor(p: Problem_, sat: Sat) {
    this.p = p;
    this.sat = sat;
    // A small integer per variable standing for its name (for "one name" tests).
    this.names = new Int32Array(p.nVars);
    const ids = new Map<string, number>();
    for (let v = 1; v < p.nVars; v++) {
      const nm = p.u.name(p.varToPkg[v]);
      let k = ids.get(nm);
      if (k === undefined) ids.set(nm, (k = ids.size + 1));
      this.names[v] = k;
    }
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
    for (; this.a < sat.trailLen; this.a++) {
      const t = trail[this.a];
      if (t & 1) continue;
      const l = this.pick(this.p.hard[t >> 1], true);
      if (l >= 0) return l;
    }
    for (; this.b < sat.trailLen; this.b++) {
      const t = trail[this.b];
      if (t & 1) continue;
      const l = this.pick(this.p.hard[t >> 1], false);
      if (l >= 0) return l;
    }
    for (; this.c < sat.trailLen; this.c++) {
      const t = trail[this.c];
      if (t & 1) continue;
      const l = this.pick(this.p.soft[t >> 1], false);
      if (l >= 0) return l;
    }
    return -1;
  }

  /** The literal to decide for the first unmet obligation in `obs`, or -1. */
  private pick(obs: Obligation[], oneName: boolean): number {
    const val = this.sat.litVal;
    const keep = this.p.keep;
    outer: for (const ob of obs) {
      const cands = ob.cands;
      let first = -1;
      let kept = -1;
      let name = -1;
      let several = false;
      for (let i = 0; i < cands.length; i++) {
        const v = cands[i];
        const x = val[v << 1];
        if (x === 1) continue outer;
        if (x === 0) {
          if (first < 0) first = v;
          if (kept < 0 && keep[v]) kept = v;
          if (name < 0) name = this.names[v];
          else if (this.names[v] !== name) several = true;
        }
      }
      if (first < 0) continue;
      if (oneName && several && kept < 0) continue;
      return (kept >= 0 ? kept : first) << 1;
    }
    return -1;
  }
}
