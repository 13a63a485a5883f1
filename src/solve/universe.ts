/**
 * The universe: every candidate package visible for one target architecture,
 * sorted and numbered so the solver can work with integer ids. Building it is
 * the "index load" step: names and provides are indexed eagerly; dependency
 * strings are parsed lazily, only for packages the solver reaches, and
 * descriptor matches are cached.
 *
 * Order of ids (the determinism contract): name ascending (code units), then
 * repository priority descending, version descending (Debian order),
 * repository name ascending, architecture ascending. The same candidates in any
 * input order give the same ids.
 */
import { MinosError } from '../errors.js';
import type { PackageMeta } from '../types.js';
import { parseDependency, parseProvide, satisfies } from './depend.js';
import type { Arch, Constraint, Dependency, Descriptor } from './depend.js';
import { compareVersions } from './version.js';

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
 * writes the same string; `ids` caches the packages matching any of its
 * alternatives (see Universe.ids).
 */
export interface Dep {
  readonly text: string;
  readonly alts: Dependency;
  ids: readonly number[] | undefined;
}

interface NameEntry {
  k: number;
  provs: Provide[] | undefined;
}

export interface Provide {
  pkg: number;
  /** The provided version (`sh = 1`), undefined for an unversioned provide. */
  version: string | undefined;
}

const EMPTY: readonly number[] = [];
const NO_DEPS: readonly Dep[] = [];

export class Universe {
  readonly arch: Arch;
  /** Visible candidates by id. */
  readonly pkgs: readonly Candidate[];
  /** Every candidate given, including other architectures (for messages and rebuilds). */
  readonly source: readonly Candidate[];
  /** Per id: a small integer standing for its name (equal names, equal numbers). */
  readonly nameIndex: Int32Array;
  /** name → [first id, end id) of packages with exactly that name. */
  /** Every package or provided name → its range number (0: no package of that name) and providers. */
  private readonly index = new Map<string, NameEntry>();
  /** Per name number k (1-based): first id; nameStart[k+1] is the end. */
  private readonly nameStart: Int32Array;
  private readonly depCache: (readonly Dep[] | undefined)[];
  private readonly conCache: (readonly Dep[] | undefined)[];
  private readonly optCache: (readonly Dep[] | undefined)[];
  /** Dependency string → parsed form, shared by every package using that string. */
  private readonly parsed = new Map<string, Dep>();
  /** Descriptor text → matching ids. */
  private readonly matchByText = new Map<string, readonly number[]>();
  private otherArchNames: Map<string, Set<string>> | undefined;

  /** Build from candidates; throws MN0107 for an invalid provide. */
  constructor(candidates: readonly Candidate[], arch: Arch) {
    this.arch = arch;
    this.source = candidates;
    const vis: Candidate[] = [];
    for (const c of candidates) if (c.meta.arch === arch || c.meta.arch === 'noarch') vis.push(c);
    vis.sort(compareCandidates);
    const pkgs: Candidate[] = [];
    for (const c of vis) {
      const prev = pkgs[pkgs.length - 1];
      if (prev && sameLocator(prev, c)) continue; // exact duplicate: keep the first in full order
      pkgs.push(c);
    }
    this.pkgs = pkgs;
    const n = pkgs.length;
    this.depCache = new Array(n);
    this.conCache = new Array(n);
    this.optCache = new Array(n);
    this.nameIndex = new Int32Array(n);
    const starts: number[] = [0, 0];
    let start = 0;
    for (let i = 1; i <= n; i++) {
      if (i === n || pkgs[i].meta.name !== pkgs[start].meta.name) {
        const k = starts.length - 1;
        this.index.set(pkgs[start].meta.name, { k, provs: undefined });
        this.nameIndex.fill(k, start, i);
        starts.push(i);
        start = i;
      }
    }
    this.nameStart = Int32Array.from(starts);
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
        let e = this.index.get(d.name);
        if (!e) this.index.set(d.name, (e = { k: 0, provs: undefined }));
        (e.provs ??= []).push({ pkg: i, version: d.constraint?.version });
      }
    }
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

  /** [first, end) ids of packages named `name` (empty range when none). */
  named(name: string): [number, number] {
    const k = this.index.get(name)?.k;
    return !k ? [0, 0] : [this.nameStart[k], this.nameStart[k + 1]];
  }

  providersOf(name: string): readonly Provide[] {
    return this.index.get(name)?.provs ?? [];
  }

  /** Is `name` a package name or a provided name for this architecture? */
  knows(name: string): boolean {
    return this.index.has(name);
  }

  /** All package and provided names visible here, sorted. */
  allNames(): string[] {
    return [...this.index.keys()].sort();
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
    let d = this.depCache[id];
    if (d === undefined) d = this.depCache[id] = this.parseList(id, 'depends');
    return d;
  }

  /** Parsed `optional` of a package (cached). */
  optional(id: number): readonly Dep[] {
    let d = this.optCache[id];
    if (d === undefined) d = this.optCache[id] = this.parseList(id, 'optional');
    return d;
  }

  /** Parsed `conflicts` of a package (cached); a package conflicts with whatever matches any alternative. */
  conflicts(id: number): readonly Dep[] {
    let d = this.conCache[id];
    if (d === undefined) d = this.conCache[id] = this.parseList(id, 'conflicts');
    return d;
  }

  /**
   * Parse every dependency, optional and conflict string now instead of on
   * first use (to validate a whole index at load). Returns how many strings
   * were parsed; throws MN0107 naming the first bad package.
   */
  parseAll(): number {
    let n = 0;
    for (let i = 0; i < this.pkgs.length; i++) {
      n += this.depends(i).length + this.optional(i).length + this.conflicts(i).length;
    }
    return n;
  }

  private parseList(id: number, field: 'depends' | 'optional' | 'conflicts'): readonly Dep[] {
    const list = this.pkgs[id].meta[field];
    if (!list || list.length === 0) return NO_DEPS;
    const out: Dep[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      let d = this.parsed.get(s);
      if (d === undefined) {
        let alts: Dependency;
        try {
          alts = parseDependency(s);
        } catch (e) {
          throw where(e, this.pkgs[id], field);
        }
        d = { text: s, alts, ids: undefined };
        this.parsed.set(s, d);
      }
      out[i] = d;
    }
    return out;
  }

  /** Ids matching any alternative of `dep`, deduplicated, alternatives in order (cached on `dep`). */
  ids(dep: Dep): readonly number[] {
    let r = dep.ids;
    if (r === undefined) {
      if (dep.alts.length === 1) r = this.computeMatch(dep.alts[0].name, dep.alts[0].constraint);
      else {
        const out: number[] = [];
        for (const a of dep.alts) for (const id of this.computeMatch(a.name, a.constraint)) if (!out.includes(id)) out.push(id);
        r = out;
      }
      dep.ids = r;
    }
    return r;
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
      r = this.computeMatch(d.name, d.constraint);
      this.matchByText.set(key, r);
    }
    return r;
  }

  private computeMatch(name: string, c: Constraint | undefined): readonly number[] {
    const out: number[] = [];
    const entry = this.index.get(name);
    if (entry === undefined) return EMPTY;
    const k = entry.k;
    if (k !== 0) {
      for (let i = this.nameStart[k], e = this.nameStart[k + 1]; i < e; i++) if (satisfies(this.pkgs[i].meta.version, c)) out.push(i);
    }
    const prov = entry.provs;
    if (prov) {
      const more: number[] = [];
      for (const p of prov) {
        if (c === undefined || (p.version !== undefined && satisfies(p.version, c))) {
          if (this.pkgs[p.pkg].meta.name !== name && !more.includes(p.pkg)) more.push(p.pkg);
        }
      }
      more.sort((a, b) => this.pkgs[b].priority - this.pkgs[a].priority || a - b);
      for (const p of more) out.push(p);
    }
    return out.length === 0 ? EMPTY : out;
  }
}

/** Convenience: the universe of `candidates` for `arch`. */
export function prepare(candidates: readonly Candidate[], arch: Arch): Universe {
  return new Universe(candidates, arch);
}

function compareCandidates(a: Candidate, b: Candidate): number {
  const an = a.meta.name;
  const bn = b.meta.name;
  if (an !== bn) return an < bn ? -1 : 1;
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
