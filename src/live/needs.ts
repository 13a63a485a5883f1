/**
 * Who needs what on a root, from the committed database alone: the packages
 * a world request pulls in, through dependencies (and optional ones, which
 * count as needed once installed, as apt keeps Recommends), met by an
 * installed package or one of its provides.
 */
import type { InstalledDb, InstalledRecord } from '../db/installed.js';
import { meets, parseDependency, parseRequest } from '../depend.js';
import { MinosError, quote } from '../errors.js';
import { nearNames } from '../solve/explain.js';

/** For each installed package, the installed packages its dependency lists name. */
function edges(db: InstalledDb): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of db.packages) {
    const to = new Set<string>();
    for (const text of [...p.depends, ...p.optional]) {
      for (const alt of parseDependency(text)) for (const q of db.packages) if (q.name !== p.name && meets(alt, q)) to.add(q.name);
    }
    out.set(p.name, [...to].sort());
  }
  return out;
}

/** The installed packages each world request names directly (any alternative that is installed). */
function roots(db: InstalledDb): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const w of db.world) {
    const names = db.packages.filter((p) => parseRequest(w).alts.some((a) => meets(a.desc, p))).map((p) => p.name);
    out.set(w, names.sort());
  }
  // Packages installed explicitly (by file) count as requested by their own name.
  for (const p of db.packages) if (p.explicit && ![...out.values()].some((ns) => ns.includes(p.name))) out.set(p.name, [p.name]);
  return out;
}

export interface WhyAnswer {
  name: string;
  /** One shortest chain per world request that pulls `name` in: [request, pkg, ..., name]. */
  chains: { request: string; path: string[] }[];
}

/** Why `name` is installed: for each world request that reaches it, a shortest chain of dependencies. */
export function why(db: InstalledDb, name: string): WhyAnswer {
  if (!db.packages.some((p) => p.name === name)) {
    const near = nearNames(name, db.packages.map((p) => p.name));
    throw new MinosError('MN0304', `package ${quote(name)} is not installed`, { hint: near.length ? `did you mean ${near.join(', ')}?` : undefined, data: { name, suggestions: near } });
  }
  const g = edges(db);
  const chains: WhyAnswer['chains'] = [];
  for (const [request, starts] of roots(db)) {
    const prev = new Map<string, string | null>(starts.map((s) => [s, null]));
    const queue = [...starts];
    while (queue.length && !prev.has(name)) {
      const n = queue.shift()!;
      for (const m of g.get(n) ?? []) {
        if (prev.has(m)) continue;
        prev.set(m, n);
        queue.push(m);
      }
    }
    if (!prev.has(name)) continue;
    const path: string[] = [];
    for (let n: string | null = name; n !== null; n = prev.get(n) ?? null) path.unshift(n);
    chains.push({ request, path });
  }
  return { name, chains };
}

/** Installed packages that no world request reaches any more (what `remove --orphans` removes), sorted. */
export function orphans(db: InstalledDb): InstalledRecord[] {
  const g = edges(db);
  const seen = new Set<string>();
  const queue = [...roots(db).values()].flat();
  for (const n of queue) seen.add(n);
  while (queue.length) {
    for (const m of g.get(queue.shift()!) ?? []) {
      if (seen.has(m)) continue;
      seen.add(m);
      queue.push(m);
    }
  }
  return db.packages.filter((p) => !seen.has(p.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
