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
 * Algorithm: packages are variables of a CDCL SAT problem (sat.ts):
 * the search is complete, so a request fails only when no solution exists.
 * A package's clauses are added when the search first makes it true (see
 * Encoding in encode.ts), so it parses and matches the dependencies of the packages it
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
import type { Arch, ParsedRequest } from '../depend.js';
import type { Candidate, Locator } from './candidates.js';
import { explain, unknownName } from './explain.js';
import { Universe } from './universe.js';
import { Encoding } from './encode.js';
import { Policy } from './policy.js';

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
  const p = new Encoding(u, pins, !!req.optional, keepPkgs);
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
