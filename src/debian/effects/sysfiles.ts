/**
 * Generated system files: the accounts base-passwd leaves (its master files,
 * merged with accounts declared by the spec or by minos packages), shadow
 * files as shadowconfig leaves them when the `passwd` package is present,
 * and /etc/shells as debianutils' update-shells writes it.
 */
import { MinosError, quote } from '../../errors.js';
import type { GroupDecl, UserDecl } from '../../types.js';
import type { FsIndex } from './fsindex.js';
import type { EffectOp } from './types.js';

const enc = new TextEncoder();
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

function lines(file: string, data: Uint8Array, fields: number): string[][] {
  const out: string[][] = [];
  text(data).split('\n').forEach((l, i) => {
    if (l === '') return;
    const f = l.split(':');
    if (f.length !== fields || !/^[a-z_][a-z0-9_.-]*\$?$/i.test(f[0]) || !/^\d+$/.test(f[2]) || (fields === 7 && !/^\d+$/.test(f[3]))) {
      throw new MinosError('MN0117', `${file}: line ${i + 1} is not a valid ${fields === 7 ? 'passwd' : 'group'} entry: ${quote(l)}`, { data: { file, line: i + 1 } });
    }
    out.push(f);
  });
  return out;
}

export interface AccountFiles {
  passwd: string[][];
  group: string[][];
}

/** base-passwd's master files plus DECLARED accounts not already there (a clash of id or fields throws MN0602). */
export function accounts(ix: FsIndex, declared: { users: readonly UserDecl[]; groups: readonly GroupDecl[] }): AccountFiles | undefined {
  const pm = '/usr/share/base-passwd/passwd.master';
  const gm = '/usr/share/base-passwd/group.master';
  const pd = ix.read(ix.resolve(pm));
  const gd = ix.read(ix.resolve(gm));
  if (!pd || !gd) return undefined;
  const passwd = lines(pm, pd, 7);
  const group = lines(gm, gd, 4);
  for (const g of [...declared.groups].sort((a, b) => a.gid - b.gid)) {
    const same = group.find((x) => x[0] === g.name);
    const byId = group.find((x) => Number(x[2]) === g.gid);
    if (same && Number(same[2]) === g.gid) continue;
    if (same || byId) throw new MinosError('MN0602', `group "${g.name}" (gid ${g.gid}) clashes with base-passwd's group "${(same ?? byId)![0]}" (gid ${(same ?? byId)![2]})`, { data: { group: g.name } });
    group.push([g.name, 'x', String(g.gid), '']);
  }
  for (const u of [...declared.users].sort((a, b) => a.uid - b.uid)) {
    const g = group.find((x) => x[0] === u.group);
    if (!g) throw new MinosError('MN0113', `user "${u.name}" has group "${u.group}", which nothing declares`, { data: { user: u.name } });
    const same = passwd.find((x) => x[0] === u.name);
    const byId = passwd.find((x) => Number(x[2]) === u.uid);
    if (same && Number(same[2]) === u.uid && same[3] === g[2]) continue;
    if (same || byId) throw new MinosError('MN0602', `user "${u.name}" (uid ${u.uid}) clashes with base-passwd's user "${(same ?? byId)![0]}" (uid ${(same ?? byId)![2]})`, { data: { user: u.name } });
    passwd.push([u.name, 'x', String(u.uid), g[2], u.gecos ?? '', u.home ?? '/nonexistent', u.shell ?? '/usr/sbin/nologin']);
  }
  return { passwd, group };
}

/** /etc/passwd, /etc/group and, with SHADOW, /etc/shadow and /etc/gshadow (pwconv/grpconv of the same lines). */
export function accountOps(acc: AccountFiles, shadow: boolean, epoch: number): EffectOp[] {
  const join = (rows: string[][]) => enc.encode(rows.map((r) => `${r.join(':')}\n`).join(''));
  const shadowGid = Number(acc.group.find((g) => g[0] === 'shadow')?.[2] ?? 0);
  if (!shadow) {
    return [
      { op: 'file', path: '/etc/passwd', data: join(acc.passwd), mode: 0o644, uid: 0, gid: 0 },
      { op: 'file', path: '/etc/group', data: join(acc.group), mode: 0o644, uid: 0, gid: 0 },
    ];
  }
  const day = String(Math.floor(epoch / 86400));
  return [
    { op: 'file', path: '/etc/passwd', data: join(acc.passwd.map((r) => [r[0], 'x', ...r.slice(2)])), mode: 0o644, uid: 0, gid: 0 },
    { op: 'file', path: '/etc/group', data: join(acc.group.map((r) => [r[0], 'x', ...r.slice(2)])), mode: 0o644, uid: 0, gid: 0 },
    { op: 'file', path: '/etc/shadow', data: join(acc.passwd.map((r) => [r[0], r[1] === 'x' ? '!' : r[1], day, '0', '99999', '7', '', '', ''])), mode: 0o640, uid: 0, gid: shadowGid },
    { op: 'file', path: '/etc/gshadow', data: join(acc.group.map((r) => [r[0], r[1] === 'x' ? '!' : r[1], '', r[3]])), mode: 0o640, uid: 0, gid: shadowGid },
  ];
}

/**
 * update-shells on a fresh root: the template's lines, then every shell of
 * the template and of shells.d/* (sorted) with its merged-/usr twin
 * (dpkg-realpath of its folder) when that differs. Also returns the state file.
 */
export function shellsFiles(ix: FsIndex): { shells: Uint8Array; state: Uint8Array } | undefined {
  const tpl = '/usr/share/debianutils/shells';
  const t = ix.read(ix.resolve(tpl));
  if (!t) return undefined;
  const sources = [text(t)];
  const dir = ix.resolve('/usr/share/debianutils/shells.d');
  for (const n of ix.children(dir)) {
    const d = ix.read(ix.resolve(`${dir}/${n}`));
    if (d) sources.push(text(d));
  }
  const pkg: string[] = [];
  for (const src of sources) {
    for (const raw of src.split('\n')) {
      const line = raw.split('#')[0];
      if (!line) continue;
      pkg.push(line);
      const slash = line.lastIndexOf('/');
      const real = `${ix.resolve(line.slice(0, slash) || '/').replace(/\/$/, '')}/${line.slice(slash + 1)}`;
      if (real !== line) pkg.push(real);
    }
  }
  const etc: string[] = [];
  const seen = new Set<string>();
  for (const raw of text(t).split('\n').slice(0, -1)) {
    const shell = raw.split('#')[0];
    if (!shell || !seen.has(shell)) {
      etc.push(raw);
      seen.add(shell);
    }
  }
  // update-shells adds each listed shell missing from the old file, duplicates included.
  for (const s of pkg) if (!seen.has(s)) etc.push(s);
  return { shells: enc.encode(etc.map((l) => `${l}\n`).join('')), state: enc.encode(pkg.map((l) => `${l}\n`).join('')) };
}
