/**
 * Who minos's unprivileged helpers run as when minos runs as root
 * (docs/SECURITY.md): the package readers (privsep/) and the downloader
 * (repo/fetch.ts).
 */
import { MinosError, quote } from './errors.js';
import { CAP, readInputTextIfAny } from './input.js';

export interface PrivsepUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user tried when MINOS_PRIVSEP_USER is unset, before `nobody`. */
export const DEDICATED_USER = '_minos';

/**
 * The user the helpers run as, or undefined to do their work in this
 * process: when not root (already unprivileged) or with MINOS_PRIVSEP=0. MINOS_PRIVSEP_USER
 * names the user; by default `_minos` when the host has it, else `nobody`.
 * MN0013 when the user is missing or is root, MN0002 for a bad MINOS_PRIVSEP.
 */
export function privsepUser(env: NodeJS.ProcessEnv = process.env, passwd = '/etc/passwd'): PrivsepUser | undefined {
  if ((process.geteuid?.() ?? -1) !== 0) return undefined;
  const flag = env.MINOS_PRIVSEP;
  if (flag === '0') return undefined;
  if (flag !== undefined && flag !== '' && flag !== '1') throw new MinosError('MN0002', `MINOS_PRIVSEP=${quote(flag)}: expected 0 or 1`);
  const want = env.MINOS_PRIVSEP_USER || undefined;
  const users = new Map<string, PrivsepUser>();
  for (const line of (readInputTextIfAny(passwd, CAP.state) ?? '').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name && /^[0-9]+$/.test(uid ?? '') && /^[0-9]+$/.test(gid ?? '') && !users.has(name)) users.set(name, { name, uid: Number(uid), gid: Number(gid) });
  }
  const u = want !== undefined ? users.get(want) : (users.get(DEDICATED_USER) ?? users.get('nobody'));
  const hint = `create a system user (useradd --system --no-create-home --shell /usr/sbin/nologin ${DEDICATED_USER}), name one with MINOS_PRIVSEP_USER, or set MINOS_PRIVSEP=0 to read packages as root`;
  if (!u) {
    throw new MinosError('MN0013', want !== undefined ? `privilege separation: no user ${quote(want)} in ${passwd}` : `privilege separation: neither ${DEDICATED_USER} nor nobody is in ${passwd}`, { hint, data: { user: want ?? null } });
  }
  if (u.uid === 0 || u.gid === 0) throw new MinosError('MN0013', `privilege separation: user ${quote(u.name)} has uid or gid 0`, { hint, data: { user: u.name } });
  return u;
}

/** Who this process runs as: what a helper says first, for its parent to check (runsAlone). */
export function identity(): { uid: number; gid: number; euid: number; egid: number; groups: number[] } {
  return { uid: process.getuid!(), gid: process.getgid!(), euid: process.geteuid!(), egid: process.getegid!(), groups: process.getgroups!() };
}

/** Does `said` (a helper's identity, untrusted JSON) name `user` alone: its uid and gid, real and effective, and no other group? */
export function runsAlone(said: unknown, user: PrivsepUser): boolean {
  const h = said as { uid?: unknown; gid?: unknown; euid?: unknown; egid?: unknown; groups?: unknown } | null;
  return !!h && typeof h === 'object' && h.uid === user.uid && h.euid === user.uid && h.gid === user.gid && h.egid === user.gid
    && Array.isArray(h.groups) && h.groups.every((g) => g === user.gid);
}
