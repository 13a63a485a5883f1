/**
 * Declarative accounts: users and groups declared by packages (in package
 * name order) and by the spec (which wins) become /etc/passwd, /etc/group and
 * /etc/shadow, byte for byte the same for the same declarations. root (0:0)
 * always exists. Two packages declaring one name differently is an error.
 */
import { MinosError } from '../errors.js';
import type { GroupDecl, UserDecl } from '../types.js';

export interface Accounts {
  users: Map<string, UserDecl & { from: string }>;
  groups: Map<string, GroupDecl & { from: string }>;
}

export interface Declarer {
  /** Package name, or '' for the spec. */
  name: string;
  users: readonly UserDecl[];
  groups: readonly GroupDecl[];
}

const ROOT_USER: UserDecl = { name: 'root', uid: 0, group: 'root', home: '/root', shell: '/bin/sh' };
const ROOT_GROUP: GroupDecl = { name: 'root', gid: 0 };

function same(a: object, b: object): boolean {
  return JSON.stringify(Object.entries(a).filter(([k]) => k !== 'from').sort()) === JSON.stringify(Object.entries(b).filter(([k]) => k !== 'from').sort());
}

function label(from: string): string {
  return from ? `package ${from}` : 'the spec';
}

/** Merge declarations; the spec (name '') overrides packages, packages must agree. */
export function collectAccounts(declarers: readonly Declarer[]): Accounts {
  const acc: Accounts = { users: new Map([['root', { ...ROOT_USER, from: '@' }]]), groups: new Map([['root', { ...ROOT_GROUP, from: '@' }]]) };
  const ordered = [...declarers].sort((a, b) => (a.name === '' ? 1 : b.name === '' ? -1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const add = <T extends { name: string }>(map: Map<string, T & { from: string }>, d: T, from: string, kind: string) => {
    const old = map.get(d.name);
    if (old && old.from !== '@' && from !== '' && !same(old, d)) {
      throw new MinosError('MN0602', `${kind} "${d.name}" is declared differently by ${label(old.from)} and ${label(from)}`, { data: { name: d.name, from: [old.from, from] } });
    }
    if (!old || old.from === '@' || from === '') map.set(d.name, { ...d, from });
  };
  for (const d of ordered) {
    for (const g of d.groups) add(acc.groups, g, d.name, 'group');
    for (const u of d.users) add(acc.users, u, d.name, 'user');
  }
  const byId = (kind: string, items: Iterable<{ name: string; id: number; from: string }>) => {
    const seen = new Map<number, { name: string; from: string }>();
    for (const it of items) {
      const other = seen.get(it.id);
      if (other) throw new MinosError('MN0602', `${kind} id ${it.id} is used by both "${other.name}" (${label(other.from)}) and "${it.name}" (${label(it.from)})`, { data: { id: it.id } });
      seen.set(it.id, it);
    }
  };
  byId('group', [...acc.groups.values()].map((g) => ({ name: g.name, id: g.gid, from: g.from })));
  byId('user', [...acc.users.values()].map((u) => ({ name: u.name, id: u.uid, from: u.from })));
  for (const u of acc.users.values()) {
    if (!acc.groups.has(u.group)) throw new MinosError('MN0113', `user "${u.name}" (${label(u.from)}) has group "${u.group}", which nothing declares`, { data: { user: u.name } });
  }
  return acc;
}

export function uidOf(acc: Accounts, name: string, what: string): number {
  const u = acc.users.get(name);
  if (!u) throw new MinosError('MN0113', `${what} is owned by user "${name}", which no package or the spec declares`, { data: { user: name } });
  return u.uid;
}

export function gidOf(acc: Accounts, name: string, what: string): number {
  const g = acc.groups.get(name);
  if (!g) throw new MinosError('MN0113', `${what} has group "${name}", which no package or the spec declares`, { data: { group: name } });
  return g.gid;
}

function byIdThenName<T extends { name: string }>(id: (x: T) => number) {
  return (a: T, b: T) => id(a) - id(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The three account files. Lines from an existing file are kept unless declared again. */
export function accountFiles(acc: Accounts, base: { passwd?: string; group?: string; shadow?: string } = {}): { passwd: string; group: string; shadow: string } {
  const users = [...acc.users.values()].sort(byIdThenName((u) => u.uid));
  const groups = [...acc.groups.values()].sort(byIdThenName((g) => g.gid));
  const members = new Map<string, Set<string>>();
  for (const g of groups) members.set(g.name, new Set(g.members ?? []));
  const keep = (text: string | undefined, declared: Set<string>) =>
    (text ?? '').split('\n').filter((l) => l.trim() !== '' && !declared.has(l.split(':')[0]));
  // The implicit root ('@') does not replace a root line an existing file has (base-passwd's).
  const has = (text: string | undefined, name: string) => (text ?? '').split('\n').some((l) => l.split(':')[0] === name);
  const own = <T extends { name: string; from: string }>(xs: T[], text: string | undefined) => xs.filter((x) => x.from !== '@' || !has(text, x.name));
  const ownUsers = own(users, base.passwd);
  const ownGroups = own(groups, base.group);
  const userNames = new Set(ownUsers.map((u) => u.name));
  const groupNames = new Set(ownGroups.map((g) => g.name));
  const passwd = [
    ...keep(base.passwd, userNames),
    ...ownUsers.map((u) => `${u.name}:x:${u.uid}:${acc.groups.get(u.group)!.gid}:${u.gecos ?? ''}:${u.home ?? '/'}:${u.shell ?? '/sbin/nologin'}`),
  ];
  const group = [...keep(base.group, groupNames), ...ownGroups.map((g) => `${g.name}:x:${g.gid}:${[...members.get(g.name)!].sort().join(',')}`)];
  const shadowUsers = own(users, base.shadow);
  const shadow = [...keep(base.shadow, new Set(shadowUsers.map((u) => u.name))), ...shadowUsers.map((u) => `${u.name}:!:::::::`)];
  const text = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');
  return { passwd: text(passwd), group: text(group), shadow: text(shadow) };
}

/**
 * `acc` plus the accounts only the account files name (from 'file'), so
 * that owners from base-passwd's or a package's own files resolve. The
 * declarations win; the files' ids are taken as written.
 */
export function withFileAccounts(acc: Accounts, files: { passwd: string; group: string }): Accounts {
  const groups = new Map(acc.groups);
  const users = new Map(acc.users);
  const gidName = new Map<number, string>();
  for (const line of files.group.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2])) continue;
    if (!gidName.has(Number(f[2]))) gidName.set(Number(f[2]), f[0]);
    if (!groups.has(f[0])) groups.set(f[0], { name: f[0], gid: Number(f[2]), from: 'file' });
  }
  for (const line of files.passwd.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3]) || users.has(f[0])) continue;
    const group = gidName.get(Number(f[3]));
    if (group === undefined) continue;
    users.set(f[0], { name: f[0], uid: Number(f[2]), group, home: f[5], shell: f[6], from: 'file' });
  }
  return { users, groups };
}

/** name → id from /etc/passwd or /etc/group text (the third field); root is 0 unless the file says otherwise. */
export function parseIdFile(text: string | undefined): Map<string, number> {
  const m = new Map<string, number>([['root', 0]]);
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length > 2 && /^\d+$/.test(f[2])) m.set(f[0], Number(f[2]));
  }
  return m;
}
