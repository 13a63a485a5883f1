/**
 * A Debian `Packages` file → minos index entries.
 *
 * Contract: `parsePackages(text, opts)` returns one IndexPackage (with its
 * DebianMeta) per stanza whose Architecture is the image's Debian
 * architecture or `all`; other architectures are skipped. `file` is the
 * stanza's Filename (a relative path under the mirror, checked: no `..`, no
 * leading `/`), `size` and `sha256` what the stanza lists. Relations are
 * rewritten into minos syntax: `foo (>= 1)` → `foo >= 1`, `<<` → `<`, `>>` →
 * `>`, the obsolete `<` and `>` → `<=` and `>=`. Architecture qualifiers
 * (`:any`, `:native`) are dropped: an image has one architecture, on which
 * every package is native. Pre-Depends join Depends; Breaks join Conflicts;
 * Recommends are optional. A malformed stanza is MinosError MN0216 naming the
 * file, line and package.
 */
import { MinosError } from '../errors.js';
import { nameError, type Arch } from '../depend.js';
import { versionError } from '../version.js';
import type { DebianMeta, IndexPackage, PackageMeta } from '../types.js';
import { fieldOf, parseStanzas, type Stanza } from './control.js';

export type DebianPackage = IndexPackage & { debian: DebianMeta };

export const DEB_ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', armv7: 'armhf', riscv64: 'riscv64' };

const OPS: Record<string, string> = { '>=': '>=', '<=': '<=', '=': '=', '<<': '<', '>>': '>', '<': '<=', '>': '>=' };

function relationError(label: string, line: number, pkg: string, field: string, why: string): MinosError {
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
    const alts: string[] = [];
    for (const alt of c.split('|')) {
      // name[:qual] [(op version)] [[arch list]] [<profiles>]
      const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|>>|<=|>=|=|<|>)\s*([^\s)]+)\s*\))?\s*(\[[^\]]*\])?\s*((?:<[^>]*>\s*)*)$/.exec(alt);
      if (!m) throw bad(`malformed relation "${alt.trim().slice(0, 80)}"`);
      if (nameError(m[1])) throw bad(`invalid package name "${m[1]}"`);
      if (m[4] !== undefined && versionError(m[4])) throw bad(`invalid version "${m[4]}"`);
      alts.push(m[3] ? `${m[1]} ${OPS[m[3]]} ${m[4]}` : m[1]);
    }
    out.push(alts.join(' | '));
  }
  return out;
}

export interface ParseOptions {
  /** Named in errors. */
  label: string;
  /** The image's architecture (minos name). */
  arch: Arch;
  /** The Release's Date (seconds): each package's build date, so an image's mtimes follow the snapshot. */
  date?: number;
}

function safeFilename(f: string): boolean {
  return f.length > 0 && !f.startsWith('/') && !f.split('/').some((c) => c === '' || c === '.' || c === '..') && !/[\0-\x1f\\]/.test(f);
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
  for (const p of provides) if (p.includes('|') || /[<>]/.test(p)) throw fail('Provides', `"${p}" is not a name or name (= version)`);
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

/** The fields of a Packages stanza minos reads (stanzaMeta and the file's place, size and sha256). */
const PACKAGES_FIELDS: ReadonlySet<string> = new Set([
  'package', 'version', 'architecture', 'installed-size', 'pre-depends', 'depends', 'breaks', 'recommends', 'provides', 'conflicts', 'replaces',
  'source', 'description', 'essential', 'priority', 'multi-arch', 'section', 'filename', 'size', 'sha256',
]);

/**
 * `text` may be the file's bytes: they are then read as latin1 (one byte per
 * character: half the memory of a UTF-8 decode of a 60 MB list) and the one
 * free-text value kept, the summary, is decoded as UTF-8; every other field
 * minos keeps is ASCII by its own syntax.
 */
export function parsePackages(input: string | Buffer, opts: ParseOptions): DebianPackage[] {
  const { label } = opts;
  const bytes = typeof input !== 'string';
  const text = bytes ? input.toString('latin1') : input;
  const debArch = DEB_ARCH[opts.arch];
  const out: DebianPackage[] = [];
  parseStanzas(text, label, (s) => {
    const get = (k: string) => fieldOf(s, k);
    const arch = get('Architecture');
    if (get('Package') !== undefined && arch !== debArch && arch !== 'all') return;
    const meta = stanzaMeta(s, label, arch === 'all' ? 'noarch' : opts.arch);
    if (opts.date !== undefined) meta.builddate = opts.date;
    if (bytes && /[^\x00-\x7f]/.test(meta.summary)) meta.summary = Buffer.from((get('Description') ?? '').split('\n')[0], 'latin1').toString('utf8').slice(0, 200);
    const fail = (field: string, why: string) => relationError(label, s.line, meta.name, field, why);
    const need = (k: string) => {
      const v = get(k);
      if (v === undefined || v === '') throw fail(k, 'missing');
      return v;
    };
    const file = need('Filename');
    if (!safeFilename(file)) throw fail('Filename', `"${file}" is not a path inside the mirror`);
    const sizeText = need('Size');
    if (!/^\d{1,15}$/.test(sizeText)) throw fail('Size', `"${sizeText}" is not a size`);
    const sha256 = need('SHA256');
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw fail('SHA256', `"${sha256}" is not a sha256`);
    out.push({ ...meta, file, size: Number(sizeText), sha256 });
  }, PACKAGES_FIELDS);
  return out;
}
