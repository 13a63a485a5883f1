/**
 * Debian control data in minos's terms, shared by the Packages parser
 * (packages.ts) and the readers of a single control stanza (a .deb's
 * control file): architecture names, relation fields rewritten into minos
 * syntax (the rules are in packages.ts's contract), and a stanza's metadata.
 * A malformed field is MinosError MN0216 naming the file, line, package and
 * field.
 */
import { MinosError } from '../errors.js';
import { nameError, type Arch } from '../depend.js';
import { versionError } from '../version.js';
import type { DebianMeta, PackageMeta } from '../types.js';
import { fieldOf, type Stanza } from './control.js';

export const DEB_ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', armv7: 'armhf', riscv64: 'riscv64' };

export const OPS: Record<string, string> = { '>=': '>=', '<=': '<=', '=': '=', '<<': '<', '>>': '>', '<': '<=', '>': '>=' };

export function relationError(label: string, line: number, pkg: string, field: string, why: string): MinosError {
  return new MinosError('MN0216', `${label}:${line}: package ${pkg}: ${field}: ${why}`, { data: { file: label, line, package: pkg, field } });
}

/** One relation field (comma-separated clauses of `|` alternatives) in minos syntax. */
export function convertRelations(v: string | undefined, bad: (why: string) => MinosError): string[] {
  if (v === undefined) return [];
  const out: string[] = [];
  for (const clause of v.split(',')) {
    const c = clause.trim();
    if (c === '') {
      if (v.trim() === '') continue;
      throw bad('empty relation');
    }
    out.push(convertClause(c, bad));
  }
  return out;
}

/** One clause (`|` alternatives, trimmed, not empty) in minos syntax. */
export function convertClause(c: string, bad: (why: string) => MinosError): string {
  const alts: string[] = [];
  for (const alt of c.split('|')) {
    // name[:qual] [(op version)] [[arch list]] [<profiles>]
    const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|>>|<=|>=|=|<|>)\s*([^\s)]+)\s*\))?\s*(\[[^\]]*\])?\s*((?:<[^>]*>\s*)*)$/.exec(alt);
    if (!m) throw bad(`malformed relation "${alt.trim().slice(0, 80)}"`);
    if (nameError(m[1])) throw bad(`invalid package name "${m[1]}"`);
    if (m[4] !== undefined && versionError(m[4])) throw bad(`invalid version "${m[4]}"`);
    alts.push(m[3] ? `${m[1]} ${OPS[m[3]]} ${m[4]}` : m[1]);
  }
  return alts.join(' | ');
}

/** The minos architecture of a Debian one (`all` is `noarch`), or undefined when minos has none. */
export function archOfDeb(debArch: string): Arch | undefined {
  if (debArch === 'all') return 'noarch';
  return (Object.keys(DEB_ARCH) as Arch[]).find((a) => DEB_ARCH[a] === debArch);
}

/**
 * The metadata of one control stanza (a Packages stanza or a .deb's control
 * file) whose package has minos architecture `arch` (the caller maps and
 * filters Architecture): name, version, relations in minos syntax as the
 * module contract says, Installed-Size in bytes, and the DebianMeta.
 * `builddate` is 0 and `license` empty: a stanza has neither.
 */
export function stanzaMeta(s: Stanza, label: string, arch: Arch): PackageMeta & { debian: DebianMeta } {
  const get = (k: string) => fieldOf(s, k);
  const name = get('Package');
  if (name === undefined) throw new MinosError('MN0216', `${label}:${s.line}: stanza without a Package field`, { data: { file: label, line: s.line } });
  const fail = (field: string, why: string) => relationError(label, s.line, name, field, why);
  if (nameError(name)) throw fail('Package', nameError(name)!);
  const version = get('Version');
  if (version === undefined || version === '') throw fail('Version', 'missing');
  const verr = versionError(version);
  if (verr) throw fail('Version', verr);
  const isz = get('Installed-Size');
  if (isz !== undefined && !/^\d{1,12}$/.test(isz)) throw fail('Installed-Size', `"${isz}" is not a number`);
  const rel = (k: string) => convertRelations(get(k), (why) => fail(k, why));
  const pre = rel('Pre-Depends');
  const breaks = rel('Breaks');
  const recommends = rel('Recommends');
  const provides = rel('Provides');
  for (const p of provides) if (/[|<>]/.test(p)) throw fail('Provides', `"${p}" is not a name or name (= version)`);
  const source = (get('Source') ?? name).split(/\s/)[0];
  return {
    name, version, arch,
    summary: (get('Description') ?? '').split('\n')[0].slice(0, 200), license: '',
    depends: [...pre, ...rel('Depends')], provides, conflicts: [...rel('Conflicts'), ...breaks], replaces: rel('Replaces'), optional: recommends,
    builddate: 0, installedSize: isz === undefined ? 0 : Number(isz) * 1024,
    debian: {
      preDepends: pre, breaks, recommends, essential: get('Essential') === 'yes', priority: get('Priority') ?? 'optional',
      multiArch: get('Multi-Arch') ?? '', debArch: get('Architecture') ?? '', section: get('Section') ?? '', source,
    },
  };
}
