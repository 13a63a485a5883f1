/**
 * Explanations of failed requests. The SAT solver's refutation names a set of
 * clauses (a core); this module shrinks it to a minimal core (removing any
 * clause would make the rest satisfiable), turns each clause back into a fact
 * about packages ("app 2.0 requires libx >= 3", "b 1 conflicts with c", "c is
 * requested") and orders the facts as a chain that starts at a request and
 * follows the packages each fact mentions.
 */
import { MinosError } from '../errors.js';
import { editDistance } from '../text.js';
import { formatDependency } from '../depend.js';
import type { Dependency, Descriptor } from '../depend.js';
import { checkClauses } from './clauses.js';
import type { Locator } from './candidates.js';
import type { Universe } from './universe.js';
import type { PackageMeta } from '../types.js';

/** Why a clause exists (one per clause of the SAT encoding). */
export type ClauseInfo =
  | { kind: 'root' }
  | { kind: 'request'; index: number }
  | { kind: 'installed'; name: string }
  | { kind: 'requires'; pkg: number; dep: Dependency }
  | { kind: 'conflicts'; pkg: number; other: number; dep: Dependency }
  | { kind: 'same-name'; pkg: number; other: number }
  | { kind: 'remove'; pkg: number };

/** One reason a request fails; together the facts of a Problem are contradictory. */
export type Fact =
  | { kind: 'request'; request: string; candidates: Locator[]; unavailable?: string }
  | { kind: 'installed'; name: string; candidates: Locator[] }
  | { kind: 'requires'; package: Locator; dependency: string; candidates: Locator[]; unavailable?: string }
  | { kind: 'conflicts'; package: Locator; conflict: string; with: Locator }
  | { kind: 'same-name'; name: string; packages: Locator[] }
  | { kind: 'remove'; name: string; packages: Locator[] };

/** The structured explanation carried in MN0301's `data.problem`. */
export interface Problem {
  arch: string;
  /** Facts in chain order; `lines[i]` renders `facts[i]` (request facts may be elided from lines). */
  facts: Fact[];
  /** One short sentence per fact, in chain order. */
  lines: string[];
  /** The error message: the chain on one line, shortened when long. */
  message: string;
}

export interface ExplainInput {
  universe: Universe;
  arch: string;
  /** Literals of a clause by id. */
  clause: (c: number) => readonly number[];
  info: (c: number) => ClauseInfo;
  core: readonly number[];
  varToPkg: ArrayLike<number>;
  requests: readonly { text: string; alts: { desc: Descriptor; pin?: string }[] }[];
  pins: ReadonlyMap<string, ReadonlySet<string>>;
  installed: ReadonlyMap<string, { version: string; arch: string }>;
}

/** Largest core we minimise (each step is a SAT run over the core). */
const MINIMISE_LIMIT = 400;
const MESSAGE_LINES = 5;

/** Build the explanation of an unsatisfiable request from a refutation core. */
export function explain(x: ExplainInput): Problem {
  const core = minimise(x.clause, x.core);
  const u = x.universe;
  const pkgsOf = (c: number): number[] => x.clause(c).filter((l) => (l & 1) === 0 && l !== 0).map((l) => x.varToPkg[l >> 1]);

  /** subject: the packages a fact is about; objects: the packages it brings in. */
  interface Node { fact: Fact; line: string; mentions: number[]; subject: number[]; objects: number[]; order: number; elidable: boolean }
  const nodes: Node[] = [];
  const sameName = new Map<string, Node>();
  for (const c of core) {
    const inf = x.info(c);
    switch (inf.kind) {
      case 'root':
        break;
      case 'request': {
        const r = x.requests[inf.index];
        const cands = pkgsOf(c);
        const fact: Fact = { kind: 'request', request: r.text, candidates: cands.map((i) => u.locator(i)) };
        let line = `${r.text} is requested`;
        if (cands.length === 0) {
          fact.unavailable = whyNone(x, r.alts.map((a) => a.desc), r.alts.map((a) => a.pin));
          line += `, but ${fact.unavailable}`;
        }
        const plain = r.alts.length === 1 && !r.alts[0].pin && !r.alts[0].desc.constraint && cands.length > 0;
        nodes.push({ fact, line, mentions: cands, subject: [], objects: cands, order: -1000 + inf.index, elidable: plain });
        break;
      }
      case 'installed': {
        const cands = pkgsOf(c);
        const inst = x.installed.get(inf.name);
        nodes.push({
          fact: { kind: 'installed', name: inf.name, candidates: cands.map((i) => u.locator(i)) },
          line: `${inf.name}${inst ? ` ${inst.version}` : ''} is installed`,
          mentions: cands, subject: [], objects: cands, order: -500, elidable: false,
        });
        break;
      }
      case 'requires': {
        const cands = pkgsOf(c);
        const dep = formatDependency(inf.dep);
        const fact: Fact = { kind: 'requires', package: u.locator(inf.pkg), dependency: dep, candidates: cands.map((i) => u.locator(i)) };
        let line = `${label(x, inf.pkg)} ${debianVerb(u.pkgs[inf.pkg].meta, 'requires', dep)} ${dep}`;
        if (cands.length === 0) {
          fact.unavailable = whyNone(x, inf.dep, []);
          line += `, but ${fact.unavailable}`;
        }
        nodes.push({ fact, line, mentions: [inf.pkg, ...cands], subject: [inf.pkg], objects: cands, order: c, elidable: false });
        break;
      }
      case 'conflicts': {
        const d = formatDependency(inf.dep);
        const other = u.pkgs[inf.other].meta;
        const verb = debianVerb(u.pkgs[inf.pkg].meta, 'conflicts with', d);
        const line = inf.dep.length === 1 && inf.dep[0].name === other.name && !inf.dep[0].constraint
          ? `${label(x, inf.pkg)} ${verb} ${d}`
          : `${label(x, inf.pkg)} ${verb} ${d} (${label(x, inf.other)})`;
        nodes.push({
          fact: { kind: 'conflicts', package: u.locator(inf.pkg), conflict: d, with: u.locator(inf.other) },
          line, mentions: [inf.pkg, inf.other], subject: [inf.pkg], objects: [inf.other], order: c, elidable: false,
        });
        break;
      }
      case 'same-name': {
        const name = u.name(inf.pkg);
        let n = sameName.get(name);
        if (!n) {
          const both: number[] = [];
          n = { fact: { kind: 'same-name', name, packages: [] }, line: '', mentions: both, subject: both, objects: both, order: c, elidable: false };
          sameName.set(name, n);
          nodes.push(n);
        }
        for (const id of [inf.pkg, inf.other]) if (!n.mentions.includes(id)) n.mentions.push(id);
        break;
      }
      case 'remove': {
        const name = u.name(inf.pkg);
        if (nodes.some((n) => n.fact.kind === 'remove' && n.fact.name === name)) {
          const n = nodes.find((m) => m.fact.kind === 'remove' && m.fact.name === name)!;
          n.mentions.push(inf.pkg);
          break;
        }
        const pk = [inf.pkg];
        nodes.push({ fact: { kind: 'remove', name, packages: [] }, line: `${name} is to be removed`, mentions: pk, subject: pk, objects: [], order: c, elidable: false });
        break;
      }
    }
  }
  for (const n of nodes) {
    if (n.fact.kind === 'same-name') {
      n.mentions.sort((a, b) => a - b);
      n.fact.packages = n.mentions.map((i) => u.locator(i));
      n.line = `only one ${n.fact.name} can be installed (${n.mentions.map((i) => label(x, i)).join(', ')})`;
    } else if (n.fact.kind === 'remove') {
      n.fact.packages = n.mentions.map((i) => u.locator(i));
    }
  }

  // Chain order: breadth-first from the first request along "introduces"
  // edges (a fact about a package follows the fact that brought the package
  // in); facts left over join where they share a package with the chain.
  nodes.sort((a, b) => a.order - b.order);
  const done = new Array<boolean>(nodes.length).fill(false);
  const ordered: Node[] = [];
  const seen = new Set<number>();
  const take = (i: number): void => {
    done[i] = true;
    ordered.push(nodes[i]);
    for (const p of nodes[i].mentions) seen.add(p);
  };
  while (ordered.length < nodes.length) {
    let seed = nodes.findIndex((m, j) => !done[j] && m.mentions.some((p) => seen.has(p)));
    if (seed < 0) seed = done.indexOf(false);
    take(seed);
    const queue = [seed];
    while (queue.length) {
      const n = nodes[queue.shift()!];
      for (let j = 0; j < nodes.length; j++) {
        if (!done[j] && nodes[j].subject.some((p) => n.objects.includes(p))) {
          take(j);
          queue.push(j);
        }
      }
    }
  }

  const facts = ordered.map((n) => n.fact);
  const lines = ordered.map((n) => n.line);
  // "app is requested" adds nothing when the next line starts with app.
  const shown = ordered.length > 1 && ordered[0].elidable ? lines.slice(1) : lines;
  const message = shown.length <= MESSAGE_LINES
    ? shown.join('; ')
    : `${shown.slice(0, MESSAGE_LINES - 1).join('; ')}; and ${shown.length - MESSAGE_LINES + 1} more reasons`;
  return { arch: x.arch, facts, lines, message };
}

/** `name version`, marked when it is the installed version. */
function label(x: ExplainInput, id: number): string {
  const m = x.universe.pkgs[id].meta;
  const inst = x.installed.get(m.name);
  return `${m.name} ${m.version}${inst && inst.version === m.version && inst.arch === m.arch ? ' (installed)' : ''}`;
}

function where(x: ExplainInput, id: number): string {
  return `${x.universe.pkgs[id].meta.version} (repo ${x.universe.pkgs[id].repo})`;
}

function list(items: string[], max = 4): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Why no package meets any of these descriptors (the "but …" half of a line). */
function whyNone(x: ExplainInput, alts: readonly Descriptor[], pinsOfAlts: readonly (string | undefined)[]): string {
  const parts = alts.map((d, i) => whyNoneOne(x, d, pinsOfAlts[i]));
  return parts.length === 1 ? parts[0] : parts.join(', and ');
}

function whyNoneOne(x: ExplainInput, d: Descriptor, pin: string | undefined): string {
  const u = x.universe;
  const pins = x.pins.get(d.name);
  const allowed = (id: number): boolean => (pins === undefined || pins.has(u.pkgs[id].repo)) && (pin === undefined || u.pkgs[id].repo === pin);
  const [a, b] = u.named(d.name);
  const named: number[] = [];
  let pinnedAway = 0;
  for (let i = a; i < b; i++) {
    if (allowed(i)) named.push(i);
    else pinnedAway++;
  }
  const provs = u.providersOf(d.name).filter((p) => allowed(p.pkg) && u.name(p.pkg) !== d.name);
  const pinNote = pinnedAway ? ` (${d.name} is pinned to repo ${[...(pin ? [pin] : pins ?? [])].join(', ')})` : '';
  if (named.length === 0 && provs.length === 0) {
    if (pinnedAway) return `no ${d.name} is allowed${pinNote}`;
    const other = u.otherArches(d.name);
    if (other.length) return `${d.name} is only available for ${other.join(', ')}, not ${u.arch}`;
    return `no package provides ${d.name}`;
  }
  const out: string[] = [];
  if (named.length === 1) out.push(`the only ${d.name} for ${u.arch} is ${where(x, named[0])}`);
  else if (named.length > 1) out.push(`the available ${d.name} for ${u.arch} are ${list(named.map((i) => where(x, i)))}`);
  const unversioned = provs.filter((p) => p.version === undefined);
  const versioned = provs.filter((p) => p.version !== undefined);
  if (unversioned.length) {
    out.push(`${list(unversioned.map((p) => label(x, p.pkg)))} provide${unversioned.length === 1 ? 's' : ''} ${d.name} without a version, which does not satisfy a versioned dependency`);
  }
  if (versioned.length) {
    out.push(list(versioned.map((p) => `${label(x, p.pkg)} provides ${d.name} = ${p.version}`)));
  }
  if (named.length === 0 && !unversioned.length && !versioned.length) out.push(`nothing provides ${d.name}`);
  return out.join('; ') + pinNote;
}

/**
 * Deletion-based core minimisation: drop each clause in turn and keep the
 * drop when the rest is still unsatisfiable (then continue from that smaller
 * core). Returns clause ids, ascending.
 */
export function minimise(clause: (c: number) => readonly number[], core: readonly number[]): number[] {
  if (core.length > MINIMISE_LIMIT) return [...core];
  const map = new Map<number, number>();
  const cl = core.map((c) => clause(c).map((l) => {
    let w = map.get(l >> 1);
    if (w === undefined) map.set(l >> 1, (w = map.size));
    return (w << 1) | (l & 1);
  }));
  let cur = core.map((_, i) => i);
  let i = 0;
  while (i < cur.length) {
    const trial = cur.filter((_, k) => k !== i);
    const r = checkClauses(map.size, trial.map((k) => cl[k]));
    if (!r.sat) cur = r.core.map((k) => trial[k]);
    else i++;
  }
  return cur.map((k) => core[k]);
}

/**
 * The MN0302 error for a request naming nothing that exists: suggests near
 * names, or says which architectures or repositories have it.
 */
export function unknownName(u: Universe, name: string, pin: string | undefined, _pins: ReadonlyMap<string, ReadonlySet<string>>): MinosError {
  if (pin !== undefined && u.knows(name)) {
    const repos = new Set<string>();
    const [a, b] = u.named(name);
    for (let i = a; i < b; i++) repos.add(u.pkgs[i].repo);
    for (const p of u.providersOf(name)) repos.add(u.pkgs[p.pkg].repo);
    const all = new Set(u.pkgs.map((c) => c.repo));
    const hint = all.has(pin)
      ? `${name} is in repo ${[...repos].sort().join(', ')}`
      : `there is no repository named ${pin}; repositories: ${[...all].sort().join(', ')}`;
    return new MinosError('MN0302', `no package named ${name} in repo ${pin}`, { hint, data: { name, repo: pin, repos: [...repos].sort() } });
  }
  const other = u.otherArches(name);
  if (other.length) {
    return new MinosError('MN0302', `no package named ${name} for ${u.arch}`, {
      hint: `${name} is only available for ${other.join(', ')}`,
      data: { name, arch: u.arch, otherArches: other },
    });
  }
  const near = nearNames(name, u.allNames());
  return new MinosError('MN0302', `no package named ${name}`, {
    hint: near.length ? `did you mean ${near.join(', ')}?` : undefined,
    data: { name, suggestions: near },
  });
}

/** Up to `max` names within a small edit distance of `word`, closest first. */
export function nearNames(word: string, names: readonly string[], max = 3): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  const scored: [number, string][] = [];
  for (const n of names) {
    if (Math.abs(n.length - word.length) > limit) continue;
    const d = editDistance(word, n);
    if (d <= limit) scored.push([d, n]);
  }
  scored.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return scored.slice(0, max).map((s) => s[1]);
}

/**
 * The verb naming the Debian field a relation came from (Pre-Depends,
 * Depends, Breaks, Conflicts); `plain` for minos packages.
 */
function debianVerb(m: PackageMeta, plain: 'requires' | 'conflicts with', text: string): string {
  const d = m.debian;
  if (!d) return plain;
  if (plain === 'requires') return d.preDepends.includes(text) ? 'pre-depends on' : 'depends on';
  return d.breaks.includes(text) ? 'breaks' : 'conflicts with';
}
