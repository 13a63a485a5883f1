/**
 * Candidates and how a universe takes them in: the one pass over the
 * candidates of an architecture (collect), the order of ids within a name
 * (placeByName: the determinism contract of universe.ts), and errors that
 * name the candidate they are about.
 */
import { MinosError } from '../errors.js';
import type { Arch } from '../depend.js';
import type { PackageMeta } from '../types.js';
import { compareVersions } from '../version.js';
import { NameSet } from './nameset.js';

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

/** Fields with dependency lists, as numbers for depsAt. */
export const F_DEPENDS = 0;
export const F_OPTIONAL = 1;
export const F_CONFLICTS = 2;
export const FIELDS = ['depends', 'optional', 'conflicts'] as const;
export type Field = 0 | 1 | 2;

/** Debian's priorities, lowest first, ranked from 1. */
const PRIORITY_RANK: Readonly<Record<string, number>> = { __proto__: null, extra: 1, optional: 2, standard: 3, important: 4, required: 5 } as unknown as Record<string, number>;

/**
 * apt's order among the providers of a name: Essential first, then by
 * Priority (required > important > standard > optional > extra).
 */
export function debianPreference(m: PackageMeta): number {
  const d = m.debian;
  if (!d) return 0;
  return (d.essential ? 8 : 0) + (PRIORITY_RANK[d.priority] ?? 0);
}

/** What the constructor's first pass collects: the visible candidates in input order and the fields later steps read. */
export interface Visible {
  cands: Candidate[];
  /** Per position: entry of its name in `names`. */
  name: Int32Array;
  ver: string[];
  prio: Float64Array;
  /** Per position: provides, undefined when empty. */
  prov: (readonly string[] | undefined)[];
  names: NameSet;
}

/**
 * One pass over the candidates in input order, the order their objects were
 * allocated in (sequential reads), so later steps read flat arrays instead
 * of visiting each package object again.
 */
export function collect(candidates: readonly Candidate[], arch: Arch): Visible {
  const max = candidates.length;
  const v: Visible = {
    cands: new Array(max), name: new Int32Array(max), ver: new Array(max), prio: new Float64Array(max),
    prov: new Array(max), names: new NameSet(max),
  };
  let k = 0;
  for (let i = 0; i < max; i++) {
    const c = candidates[i];
    const m = c.meta;
    const a = m.arch;
    if (a !== arch && a !== 'noarch') continue;
    v.cands[k] = c;
    v.name[k] = v.names.intern(m.name);
    v.ver[k] = m.version;
    v.prio[k] = c.priority;
    v.prov[k] = nonEmpty(m.provides);
    k++;
  }
  v.cands.length = k;
  return v;
}

/**
 * Ids in the order of the determinism contract: positions in v by name
 * rank (counting sort), then within a name by compareSameName, exact
 * duplicates dropped (the first kept). pos[id] is the position in v,
 * nameIndex[id] the name's rank, starts[rank] its first id; n ids.
 */
export function placeByName(v: Visible, rank: Int32Array): { pos: Int32Array; nameIndex: Int32Array; starts: Int32Array; n: number } {
  const nNames = rank.length;
  const n0 = v.cands.length;
  const first = new Int32Array(nNames + 1);
  for (let i = 0; i < n0; i++) first[rank[v.name[i]] + 1]++;
  for (let r = 0; r < nNames; r++) first[r + 1] += first[r];
  const fill = first.slice(0, nNames);
  const byName = new Int32Array(n0);
  for (let i = 0; i < n0; i++) byName[fill[rank[v.name[i]]]++] = i;
  const vis = v.cands;
  const bySame = (x: number, y: number): number => {
    if (v.prio[x] !== v.prio[y]) return v.prio[y] - v.prio[x];
    return compareVersions(v.ver[y], v.ver[x]) || compareSameName(vis[x], vis[y]);
  };
  const pos = new Int32Array(n0);
  const nameIndex = new Int32Array(n0);
  const starts = new Int32Array(nNames + 1);
  let n = 0;
  for (let r = 0; r < nNames; r++) {
    starts[r] = n;
    const from = first[r];
    const to = first[r + 1];
    if (to - from > 1) insertionSort(byName, from, to, bySame);
    for (let i = from; i < to; i++) {
      const x = byName[i];
      if (i > from && v.ver[x] === v.ver[pos[n - 1]] && sameLocator(vis[pos[n - 1]], vis[x])) continue;
      nameIndex[n] = r;
      pos[n++] = x;
    }
  }
  starts[nNames] = n;
  return { pos, nameIndex, starts, n };
}

function nonEmpty(l: readonly string[] | undefined): readonly string[] | undefined {
  return l && l.length > 0 ? l : undefined;
}

/** Stable insertion sort of a[lo, hi) (small ranges). */
function insertionSort(a: Int32Array, lo: number, hi: number, cmp: (x: number, y: number) => number): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= lo && cmp(a[j], x) > 0) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
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

/** `e`, when a MinosError, restated as about `field` of candidate `c`. */
export function where(e: unknown, c: Candidate, field: string): unknown {
  if (e instanceof MinosError) {
    return new MinosError(e.code, `${c.meta.name} ${c.meta.version} (repo ${c.repo}), ${field}: ${e.message}`, {
      cause: e,
      data: { package: c.meta.name, version: c.meta.version, repo: c.repo, field },
    });
  }
  return e;
}
