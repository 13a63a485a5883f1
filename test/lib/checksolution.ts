/**
 * An independent checker for resolver answers. It shares no code with
 * src/solve (own version comparison, own dependency parsing) so that a bug
 * there cannot hide itself here. Returns a list of violations (empty = valid).
 */
import type { PackageMeta } from '../../src/types.js';

export interface CheckCandidate { meta: PackageMeta; repo: string; priority: number }
export interface CheckLocator { name: string; version: string; arch: string; repo: string }

/** dpkg's verrevcmp, written from deb-version(7). */
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c >= '0' && c <= '9') return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}
function part(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const digit = (s: string, k: number): boolean => k < s.length && s[k] >= '0' && s[k] <= '9';
  while (i < a.length || j < b.length) {
    while ((i < a.length && !digit(a, i)) || (j < b.length && !digit(b, j))) {
      const x = order(i < a.length && !digit(a, i) ? a[i] : undefined);
      const y = order(j < b.length && !digit(b, j) ? b[j] : undefined);
      if (x !== y) return x - y;
      if (i < a.length && !digit(a, i)) i++;
      if (j < b.length && !digit(b, j)) j++;
    }
    let na = '';
    let nb = '';
    while (digit(a, i)) na += a[i++];
    while (digit(b, j)) nb += b[j++];
    const x = BigInt(na || '0');
    const y = BigInt(nb || '0');
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
export function debCompare(a: string, b: string): number {
  const split = (v: string): [bigint, string, string] => {
    const c = v.indexOf(':');
    const e = c >= 0 ? BigInt(v.slice(0, c)) : 0n;
    const r = c >= 0 ? v.slice(c + 1) : v;
    const d = r.lastIndexOf('-');
    return d >= 0 ? [e, r.slice(0, d), r.slice(d + 1)] : [e, r, ''];
  };
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  if (ea !== eb) return ea < eb ? -1 : 1;
  return Math.sign(part(ua, ub)) || Math.sign(part(ra, rb));
}

interface Desc { name: string; op?: string; version?: string }
function desc(s: string): Desc {
  const m = /^\s*([^\s<>=@]+)(?:@\S+?)?\s*(?:(<=|>=|=|<|>)\s*(\S+))?\s*$/.exec(s);
  if (!m) throw new Error(`checker: cannot parse "${s}"`);
  return { name: m[1], op: m[2], version: m[3] };
}
function holds(v: string, d: Desc): boolean {
  if (!d.op) return true;
  const r = debCompare(v, d.version!);
  return d.op === '=' ? r === 0 : d.op === '<' ? r < 0 : d.op === '<=' ? r <= 0 : d.op === '>' ? r > 0 : r >= 0;
}
function meets(p: PackageMeta, d: Desc): boolean {
  if (p.name === d.name && holds(p.version, d)) return true;
  for (const pv of p.provides ?? []) {
    const q = desc(pv);
    if (q.name !== d.name) continue;
    if (!d.op) return true;
    if (q.op === '=' && holds(q.version!, d)) return true;
  }
  return false;
}

export interface CheckOptions {
  /** Request strings; pins `name@repo` are honoured. */
  requests?: string[];
  remove?: string[];
  /** Installed names that must still be present (pacman semantics). */
  keep?: string[];
}

/** Validate `result` against `candidates` for target `arch`. */
export function checkSolution(candidates: readonly CheckCandidate[], result: readonly CheckLocator[], arch: string, opts: CheckOptions = {}): string[] {
  const errs: string[] = [];
  const chosen: CheckCandidate[] = [];
  const names = new Set<string>();
  for (const l of result) {
    const c = candidates.find((k) => k.meta.name === l.name && k.meta.version === l.version && k.meta.arch === l.arch && k.repo === l.repo);
    if (!c) {
      errs.push(`${l.name} ${l.version} ${l.arch} (${l.repo}) is not a candidate`);
      continue;
    }
    if (c.meta.arch !== arch && c.meta.arch !== 'noarch') errs.push(`${l.name} ${l.version} has arch ${c.meta.arch}, target ${arch}`);
    if (names.has(l.name)) errs.push(`two packages named ${l.name}`);
    names.add(l.name);
    chosen.push(c);
  }
  const pins = new Map<string, string>();
  for (const r of opts.requests ?? []) for (const alt of r.split('|')) {
    const m = /^\s*([^\s@<>=]+)@([^\s<>=]+)/.exec(alt);
    if (m) pins.set(m[1], m[2]);
  }
  for (const c of chosen) {
    const pin = pins.get(c.meta.name);
    if (pin !== undefined && c.repo !== pin) errs.push(`${c.meta.name} is pinned to ${pin} but comes from ${c.repo}`);
    for (const dep of c.meta.depends ?? []) {
      const alts = dep.split('|').map(desc);
      if (!chosen.some((q) => alts.some((d) => meets(q.meta, d)))) errs.push(`${c.meta.name} ${c.meta.version}: unmet dependency ${dep}`);
    }
    for (const con of c.meta.conflicts ?? []) {
      const d = desc(con);
      for (const q of chosen) if (q !== c && meets(q.meta, d)) errs.push(`${c.meta.name} ${c.meta.version} conflicts with ${q.meta.name} ${q.meta.version} (${con})`);
    }
  }
  for (const r of opts.requests ?? []) {
    const ok = r.split('|').some((alt) => {
      const d = desc(alt);
      const pm = /@([^\s<>=]+)/.exec(alt);
      return chosen.some((q) => meets(q.meta, d) && (!pm || q.repo === pm[1]));
    });
    if (!ok) errs.push(`request "${r}" is not met`);
  }
  for (const n of opts.remove ?? []) if (names.has(n)) errs.push(`${n} should be removed`);
  for (const n of opts.keep ?? []) if (!names.has(n)) errs.push(`installed ${n} disappeared`);
  return errs;
}
