/**
 * deriveEffects: the whole maintainer-script layer as one pure function.
 * It reads the unpacked root through a RootView and returns the operations
 * that complete it (merged-/usr links, /dev, the packages' rule effects,
 * accounts, /etc/shells, alternatives, PAM, ld.so.cache, the dpkg database)
 * and one warning per package whose scripts do something not reproduced.
 */
import { createHash } from 'node:crypto';
import { MinosError } from '../../errors.js';
import type { GroupDecl, UserDecl } from '../../types.js';
import { alternativesOps, type Declared } from './alternatives.js';
import { dpkgDbOps, type Diversion } from './dpkgdb.js';
import { buildIndex, normalizePath } from './fsindex.js';
import { cacheEntries, generatorFor, ldCacheBytes, TRIPLETS } from './ldcache.js';
import { pamOps } from './pam.js';
import { DEV_NODES, KNOWN_TRIGGERS, RULES, normalize } from './rules.js';
import { accountOps, accounts, shellsFiles } from './sysfiles.js';
import { canonicalPath, mergedDirs } from './usrmerge.js';
import type { EffectOp, EffectWarning, EffectsResult, RootView } from './types.js';
import { field, nameOf } from './types.js';

export interface EffectsOptions {
  /** Accounts declared by the spec or minos packages, merged after base-passwd's. */
  declared?: { users: readonly UserDecl[]; groups: readonly GroupDecl[] };
}

const enc = new TextEncoder();
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Order: component-wise by path, so a folder precedes what it holds; first op per path wins. */
function sortOps(ops: EffectOp[]): EffectOp[] {
  const seen = new Set<string>();
  const uniq = ops.filter((o) => (seen.has(o.path) ? false : (seen.add(o.path), true)));
  const key = (p: string) => p.split('/').filter(Boolean);
  return uniq.sort((a, b) => {
    const x = key(a.path);
    const y = key(b.path);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return cmp(x[i], y[i]);
    return x.length - y.length;
  });
}

export function deriveEffects(view: RootView, opts: EffectsOptions = {}): EffectsResult {
  const ix = buildIndex(view);
  const arch = view.arch;
  const names = new Set(view.packages.map(nameOf));
  const warnings: EffectWarning[] = [];
  const ops: EffectOp[] = [];
  const created = new Set<string>();
  const present = (p: string) => created.has(canonicalPath(normalizePath(p), arch)) || ix.entries.has(ix.resolve(p));
  const add = (o: EffectOp) => {
    const path = o.op === 'symlink' && mergedDirs(arch).includes(o.path.slice(1)) ? o.path : canonicalPath(normalizePath(o.path), arch);
    created.add(path);
    ops.push({ ...o, path });
  };

  // merged-/usr: bin, sbin, lib, and the arch's lib folders that packages use.
  const used = new Set(view.packages.flatMap((p) => p.files.map((e) => normalizePath(e.path).split('/')[1])));
  add({ op: 'mkdir', path: '/usr', mode: 0o755, uid: 0, gid: 0 });
  for (const d of mergedDirs(arch)) {
    if (!['bin', 'sbin', 'lib'].includes(d) && !used.has(d)) continue;
    ops.push({ op: 'mkdir', path: `/usr/${d}`, mode: 0o755, uid: 0, gid: 0 }, { op: 'symlink', path: `/${d}`, target: `usr/${d}` });
    created.add(`/${d}`);
  }
  for (const n of DEV_NODES) {
    if (n.kind === 'dir') add({ op: 'mkdir', path: n.path, mode: n.mode, uid: 0, gid: 0 });
    else if (n.kind === 'link') add({ op: 'symlink', path: n.path, target: n.target });
    else add({ op: 'device', path: n.path, kind: 'char', major: n.major, minor: n.minor, mode: n.mode, uid: 0, gid: 0 });
  }

  const acc = names.has('base-passwd') ? accounts(ix, opts.declared ?? { users: [], groups: [] }) : undefined;
  const gid = (group: string | undefined, pkg: string) => {
    if (!group || group === 'root') return 0;
    const g = acc?.group.find((r) => r[0] === group);
    if (!g) throw new MinosError('MN0113', `package ${pkg}: its scripts use group "${group}", which base-passwd does not define`, { data: { group } });
    return Number(g[2]);
  };

  const alts: Declared[] = [];
  const diversions: Diversion[] = [];
  const triplet = TRIPLETS[arch] ?? '';
  for (const pkg of [...view.packages].sort((a, b) => cmp(nameOf(a), nameOf(b)))) {
    const name = nameOf(pkg);
    const rule = RULES[name];
    const unknown: string[] = [];
    const changed: string[] = [];
    for (const s of ['preinst', 'postinst', 'prerm', 'postrm', 'config'] as const) {
      const text = pkg.scripts[s];
      if (text === undefined) continue;
      const review = rule?.scripts[s];
      if (!review) unknown.push(s);
      else if (![review.sha256].flat().includes(sha256(normalize(text, triplet, field(pkg, 'Version') ?? '')))) changed.push(s);
    }
    const trig = (pkg.scripts.triggers ?? '').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    const odd = trig.filter((l) => !KNOWN_TRIGGERS.some((re) => re.test(l)) && !(rule?.scripts.triggers));
    if (unknown.length || odd.length) warnings.push({ package: name, message: `package ${name}: ${[...unknown, ...odd.map((t) => `trigger "${t}"`)].join(', ')} not reproduced (no minos rule)` });
    if (changed.length) warnings.push({ package: name, message: `package ${name}: ${changed.join(', ')} differ from the text minos's rules were reviewed against; effects may be incomplete` });
    if (!rule) continue;
    const here = (x: { arches?: readonly string[] }) => !x.arches || x.arches.includes(arch);
    for (const d of (rule.dirs ?? []).filter(here)) if (!present(d.path)) add({ op: 'mkdir', path: d.path, mode: d.mode, uid: 0, gid: gid(d.group, name) });
    for (const l of (rule.links ?? []).filter(here)) if (!present(l.path)) add({ op: 'symlink', path: l.path, target: l.target });
    for (const l of rule.dirToLink ?? []) add({ op: 'dir-to-link', path: l.path, target: l.target });
    for (const c of rule.copyIfAbsent ?? []) {
      const src = ix.entries.get(ix.resolve(c.from));
      const data = ix.read(ix.resolve(c.from));
      if (src && data && !present(c.to)) add({ op: 'file', path: c.to, data, mode: src.entry.mode & 0o7777, uid: 0, gid: 0 });
    }
    for (const f of rule.emptyFiles ?? []) if (!present(f.path)) add({ op: 'file', path: f.path, data: new Uint8Array(), mode: f.mode, uid: 0, gid: gid(f.group, name) });
    for (const f of rule.textFiles ?? []) if (!present(f.path)) add({ op: 'file', path: f.path, data: enc.encode(f.text), mode: 0o644, uid: 0, gid: 0 });
    for (const d of rule.diversions ?? []) diversions.push({ ...d, pkg: name });
    for (const a of rule.alternatives ?? []) alts.push({ ...a, pkg: name });
    for (const g of rule.generators ?? []) {
      if (g === 'passwd' && acc) for (const o of accountOps(acc, names.has('passwd'), view.epoch)) add(o);
      if (g === 'shells') {
        const s = shellsFiles(ix);
        if (s) {
          add({ op: 'file', path: '/etc/shells', data: s.shells, mode: 0o644, uid: 0, gid: 0 });
          add({ op: 'file', path: '/var/lib/shells.state', data: s.state, mode: 0o644, uid: 0, gid: 0 });
        }
      }
      if (g === 'pam-auth-update') for (const o of pamOps(ix)) add(o);
      if (g === 'ldconfig') {
        const gen = generatorFor(field(pkg, 'Version') ?? '');
        add({ op: 'file', path: '/etc/ld.so.cache', data: ldCacheBytes(cacheEntries(ix, arch), arch, gen), mode: 0o644, uid: 0, gid: 0 });
      }
    }
  }
  for (const o of alternativesOps(alts, ix)) add(o);
  for (const o of dpkgDbOps(ix, diversions)) add(o);
  return { ops: sortOps(ops), warnings: warnings.sort((a, b) => cmp(a.package, b.package)) };
}

export type { RootView, EffectOp, EffectsResult, EffectWarning } from './types.js';
