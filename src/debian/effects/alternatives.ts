/**
 * update-alternatives in auto mode, as data: for each alternative name the
 * choice with the highest priority wins; its master and slave links point
 * through /etc/alternatives, and /var/lib/dpkg/alternatives/NAME holds the
 * state file update-alternatives itself writes, so a later
 * `update-alternatives --config` inside the root sees the same choices.
 */
import { MinosError } from '../../errors.js';
import type { AlternativeRule } from './rules.js';
import type { FsIndex } from './fsindex.js';
import type { EffectOp } from './types.js';

export interface Declared extends AlternativeRule {
  pkg: string;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Links and state files for all declared alternatives; conflicting declarations throw MN0603. */
export function alternativesOps(decls: readonly Declared[], ix: FsIndex): EffectOp[] {
  const byName = new Map<string, Declared[]>();
  const linkOwner = new Map<string, Declared>();
  for (const d of decls) {
    for (const l of [{ name: d.name, link: d.link }, ...d.slaves]) {
      const o = linkOwner.get(l.link);
      if (o && o.name !== d.name && !o.slaves.some((s) => s.link === l.link && s.name === l.name)) {
        throw new MinosError('MN0603', `package ${d.pkg}: alternative link ${l.link} is already managed by alternative "${o.name}" of package ${o.pkg}`, { data: { link: l.link, packages: [o.pkg, d.pkg] } });
      }
      if (!o) linkOwner.set(l.link, d);
    }
    const list = byName.get(d.name) ?? [];
    const clash = list.find((x) => x.priority === d.priority && x.path !== d.path);
    if (clash) {
      throw new MinosError('MN0603', `package ${d.pkg}: alternative "${d.name}" (${d.link}) has priority ${d.priority}, the same as package ${clash.pkg}'s; minos cannot choose as update-alternatives would by installation order`, { data: { name: d.name, packages: [clash.pkg, d.pkg] } });
    }
    if (list.length && list[0].link !== d.link) {
      throw new MinosError('MN0603', `package ${d.pkg}: alternative "${d.name}" has link ${d.link}, but package ${list[0].pkg} declares ${list[0].link}`, { data: { name: d.name, packages: [list[0].pkg, d.pkg] } });
    }
    list.push(d);
    byName.set(d.name, list);
  }
  const exists = (p: string) => ix.entries.has(ix.resolve(p));
  const ops: EffectOp[] = [];
  for (const name of [...byName.keys()].sort(cmp)) {
    const choices = [...byName.get(name)!].sort((a, b) => cmp(a.path, b.path));
    const best = choices.reduce((a, b) => (b.priority > a.priority ? b : a));
    const slaveNames = [...new Map(choices.flatMap((c) => c.slaves).map((s) => [s.name, s])).values()].sort((a, b) => cmp(a.name, b.name));
    if (exists(best.path)) {
      ops.push({ op: 'symlink', path: `/etc/alternatives/${name}`, target: best.path });
      const master = ix.entries.get(ix.resolve(best.link));
      if (!master || master.entry.type === 'symlink') ops.push({ op: 'symlink', path: best.link, target: `/etc/alternatives/${name}` });
      for (const s of slaveNames) {
        const mine = best.slaves.find((x) => x.name === s.name);
        if (!mine || !exists(mine.path)) continue;
        ops.push({ op: 'symlink', path: `/etc/alternatives/${s.name}`, target: mine.path });
        ops.push({ op: 'symlink', path: s.link, target: `/etc/alternatives/${s.name}` });
      }
    }
    let state = `auto\n${best.link}\n`;
    for (const s of slaveNames) state += `${s.name}\n${s.link}\n`;
    state += '\n';
    for (const c of choices) {
      state += `${c.path}\n${c.priority}\n`;
      for (const s of slaveNames) state += `${c.slaves.find((x) => x.name === s.name)?.path ?? ''}\n`;
    }
    state += '\n';
    ops.push({ op: 'file', path: `/var/lib/dpkg/alternatives/${name}`, data: new TextEncoder().encode(state), mode: 0o644, uid: 0, gid: 0 });
  }
  return ops;
}
