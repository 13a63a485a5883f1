/**
 * The catalog under the universe (universe.ts): every candidate visible for
 * one target architecture, sorted and numbered (the determinism contract is
 * in universe.ts), its names interned, and the providers of every name.
 * Universe adds the dependency caches the solver reads. Building it is the
 * linear part of the index load: one pass over the candidates, a radix sort
 * of the distinct names, provides indexed eagerly.
 */
import { parseProvide, type Arch, type Descriptor } from '../depend.js';
import { collect, debianPreference, F_DEPENDS, F_OPTIONAL, placeByName, where, type Candidate, type Field, type Locator } from './candidates.js';
import type { NameSet } from './nameset.js';

export interface Provide {
  pkg: number;
  /** The provided version (`sh = 1`), undefined for an unversioned provide. */
  version: string | undefined;
}

export const NO_PROVIDES: readonly Provide[] = [];
const NO_LIST: readonly string[] = [];

export class Catalog {
  readonly arch: Arch;
  /** Visible candidates by id. */
  readonly pkgs: readonly Candidate[];
  /** Every candidate given, including other architectures (for messages and rebuilds). */
  readonly source: readonly Candidate[];
  /** Per id: a small integer standing for its name (equal names, equal numbers). */
  readonly nameIndex: Int32Array;
  /** Per name number k: first id; nameStart[k+1] is the end. Name numbers follow the names' order. */
  protected readonly nameStart: Int32Array;
  /**
   * Every package or provided name, as entries of a NameSet: package names
   * first (entries [0, nNames), first-seen order), provided-only names
   * after. No Map over every name, and descriptor names are looked up
   * without taking substrings.
   */
  protected readonly names: NameSet;
  protected readonly nNames: number;
  /** Per package-name entry: its name number (see nameIndex); order is the inverse. */
  protected readonly rank: Int32Array;
  protected readonly order: Int32Array;
  /**
   * Per entry e, at 4e (what matching a descriptor on that name reads,
   * together): first id and end of the packages of that name, index in
   * provLists or -1, offset in matchPool of the ids matching the bare name
   * or -1 until computed.
   */
  protected readonly info: Int32Array;
  /** Providers of each provided name, in id order. */
  protected readonly provLists: Provide[][] = [];
  private otherArchNames: Map<string, Set<string>> | undefined;
  /**
   * Per id, copied from the candidate while building (so the solver's
   * reads stay in flat arrays instead of visiting each package object):
   * version and priority. And the dependency lists, read from the entry
   * on first use (see list: a Debian entry converts its relations only
   * then): at 2 * (3 * id + field) the list, at the next index its offset
   * in depPool once parsed (see depsAt; side by side so that one cache
   * line has both).
   */
  protected readonly vers: string[];
  protected readonly prio: Float64Array;
  /** Per id: Debian's preference among providers (debianPreference); 0 for minos packages. */
  protected readonly pref: Uint8Array;
  protected readonly lists: (readonly string[] | number | undefined)[];

  /**
   * Build from candidates; throws MN0107 for an invalid provide (the first
   * in id order). See collect, NameSet.sorted and placeByName: no
   * comparison sort runs over all candidates.
   */
  constructor(candidates: readonly Candidate[], arch: Arch) {
    this.arch = arch;
    this.source = candidates;
    const v = collect(candidates, arch);
    const names = v.names;
    const nNames = names.keys.length;
    const order = names.sorted();
    const rank = new Int32Array(nNames);
    for (let r = 0; r < nNames; r++) rank[order[r]] = r;
    const { pos, nameIndex, starts, n } = placeByName(v, rank);
    const vis = v.cands;
    this.nameStart = starts;
    this.nameIndex = n === vis.length ? nameIndex : nameIndex.slice(0, n);
    this.names = names;
    this.nNames = nNames;
    this.rank = rank;
    this.order = order;
    // Per id: the candidate and the fields collect copied.
    const pkgs: Candidate[] = new Array(n);
    this.vers = new Array(n);
    this.prio = new Float64Array(n);
    this.pref = new Uint8Array(n);
    this.lists = new Array(6 * n);
    const provs: (readonly string[] | undefined)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const x = pos[i];
      pkgs[i] = vis[x];
      this.prio[i] = v.prio[x];
      this.pref[i] = debianPreference(vis[x].meta);
      this.vers[i] = v.ver[x];
      provs[i] = v.prov[x];
    }
    this.pkgs = pkgs;
    const provs2 = this.parseProvides(provs);
    this.info = new Int32Array(4 * names.keys.length);
    for (let e = 0; e < names.keys.length; e++) {
      const r = e < nNames ? rank[e] : -1;
      this.info[4 * e] = r < 0 ? 0 : starts[r];
      this.info[4 * e + 1] = r < 0 ? 0 : starts[r + 1];
      this.info[4 * e + 2] = -1;
      this.info[4 * e + 3] = -1;
    }
    this.indexProvides(provs2);
  }

  /**
   * Parse every provide in id order (throws MN0107 naming the first bad
   * package) and intern the provided names: [entry, id, version] triples.
   */
  private parseProvides(provs: readonly (readonly string[] | undefined)[]): (string | number | undefined)[] {
    const pkgs = this.pkgs;
    const out: (string | number | undefined)[] = [];
    for (let i = 0; i < pkgs.length; i++) {
      const pv = provs[i];
      if (pv === undefined) continue;
      for (const s of pv) {
        let d: Descriptor;
        try {
          d = parseProvide(s);
        } catch (e) {
          throw where(e, pkgs[i], 'provides');
        }
        out.push(this.names.intern(d.name), i, d.constraint?.version);
      }
    }
    return out;
  }

  /** Group the triples of parseProvides by name: provLists, in id order. */
  private indexProvides(t: readonly (string | number | undefined)[]): void {
    const info = this.info;
    for (let j = 0; j < t.length; j += 3) {
      const e = t[j] as number;
      let l = info[4 * e + 2];
      if (l < 0) {
        l = info[4 * e + 2] = this.provLists.length;
        this.provLists.push([]);
      }
      this.provLists[l].push({ pkg: t[j + 1] as number, version: t[j + 2] as string | undefined });
    }
  }

  /** Package `id`'s list for field f (F_DEPENDS…), read from its entry on first use. */
  protected list(id: number, f: Field): readonly string[] {
    const at = 6 * id + 2 * f;
    const l = this.lists[at] as readonly string[] | undefined;
    if (l !== undefined) return l;
    const m = this.pkgs[id].meta;
    return (this.lists[at] = (f === F_DEPENDS ? m.depends : f === F_OPTIONAL ? m.optional : m.conflicts) ?? NO_LIST);
  }

  get size(): number {
    return this.pkgs.length;
  }

  name(id: number): string {
    return this.names.keys[this.order[this.nameIndex[id]]];
  }

  version(id: number): string {
    return this.vers[id];
  }

  locator(id: number): Locator {
    const c = this.pkgs[id];
    return { name: c.meta.name, version: c.meta.version, arch: c.meta.arch, repo: c.repo };
  }

  /** Name number of `name` (see nameIndex), or -1 when no package has that name. */
  protected nameNo(name: string): number {
    const e = this.names.find(name);
    return e >= 0 && e < this.nNames ? this.rank[e] : -1;
  }

  /** Index of `name`'s providers in provLists, or -1. */
  protected provNo(name: string): number {
    const e = this.names.find(name);
    return e < 0 ? -1 : this.info[4 * e + 2];
  }

  /** [first, end) ids of packages named `name` (empty range when none). */
  named(name: string): [number, number] {
    const k = this.nameNo(name);
    return k < 0 ? [0, 0] : [this.nameStart[k], this.nameStart[k + 1]];
  }

  /** [first, end) ids of the packages with the same name as package `id` (itself included). */
  nameRange(id: number): [number, number] {
    const k = this.nameIndex[id];
    return [this.nameStart[k], this.nameStart[k + 1]];
  }

  providersOf(name: string): readonly Provide[] {
    const j = this.provNo(name);
    return j < 0 ? NO_PROVIDES : this.provLists[j];
  }

  /** Is `name` a package name or a provided name for this architecture? */
  knows(name: string): boolean {
    return this.names.find(name) >= 0;
  }

  /** All package and provided names visible here, sorted. */
  allNames(): string[] {
    return this.names.keys.slice().sort();
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
}
