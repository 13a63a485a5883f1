/**
 * The dpkg database of a root whose packages are all configured, as dpkg
 * 1.21 writes it: status (stanzas in dpkg's field order, sorted by name
 * then architecture), an empty available, info/PKG.{list,md5sums,conffiles}
 * and the control members, diversions and the trigger interest files.
 * Multi-Arch: same packages get arch-qualified info names (libc6:amd64.list).
 */
import { createHash } from 'node:crypto';
import type { FsIndex } from './fsindex.js';
import { normalizePath } from './fsindex.js';
import { canonicalPath } from './usrmerge.js';
import type { DebInstalled, EffectOp } from './types.js';
import { SCRIPT_NAMES, field, nameOf } from './types.js';

/** dpkg's known fields, in the order it writes them (lib/dpkg/parse.c); others follow in their own order. */
const FIELD_ORDER = [
  'Package', 'Essential', 'Protected', 'Status', 'Priority', 'Section', 'Installed-Size', 'Origin', 'Maintainer', 'Bugs',
  'Architecture', 'Multi-Arch', 'Source', 'Version', 'Config-Version', 'Replaces', 'Provides', 'Depends', 'Pre-Depends',
  'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Enhances', 'Conffiles', 'Filename', 'Size', 'MD5sum', 'MSDOS-Filename',
  'Description', 'Triggers-Pending', 'Triggers-Awaited',
];
const RANK = new Map(FIELD_ORDER.map((f, i) => [f.toLowerCase(), i]));
const EXECUTABLE = new Set(['preinst', 'postinst', 'prerm', 'postrm', 'config']);

const enc = new TextEncoder();
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

export interface Diversion { path: string; divertTo: string; pkg: string }

/** The name of a package's files under info/: arch-qualified for Multi-Arch: same. */
export function infoName(pkg: DebInstalled): string {
  const ma = field(pkg, 'Multi-Arch');
  return ma === 'same' ? `${nameOf(pkg)}:${field(pkg, 'Architecture')}` : nameOf(pkg);
}

function fileBytes(ix: FsIndex, path: string): Uint8Array | undefined {
  const c = canonicalPath(normalizePath(path), ix.view.arch);
  return ix.read(c);
}

/** One status stanza, "install ok installed", with Conffiles hashed from the root's bytes. */
export function statusStanza(pkg: DebInstalled, ix: FsIndex): string {
  const fields: [string, string][] = pkg.control.filter(([k]) => !['status', 'conffiles', 'config-version'].includes(k.toLowerCase())).map(([k, v]) => [k, v]);
  fields.push(['Status', 'install ok installed']);
  if (pkg.conffiles.length) {
    fields.push(['Conffiles', pkg.conffiles.map((c) => `\n ${c} ${md5(fileBytes(ix, c) ?? new Uint8Array())}`).join('')]);
  }
  const ranked = fields.map((f, i) => ({ f, r: RANK.get(f[0].toLowerCase()) ?? FIELD_ORDER.length, i }));
  ranked.sort((a, b) => a.r - b.r || a.i - b.i);
  return ranked.map(({ f: [k, v] }) => (v.startsWith('\n') ? `${k}:${v}\n` : `${k}: ${v}\n`)).join('');
}

/** The database ops. DIVERSIONS in the order they were added (the file lists them newest first). */
export function dpkgDbOps(ix: FsIndex, diversions: readonly Diversion[]): EffectOp[] {
  const root = { uid: 0, gid: 0 };
  const ops: EffectOp[] = [];
  const dir = (path: string) => ops.push({ op: 'mkdir', path, mode: 0o755, ...root });
  const file = (path: string, data: string | Uint8Array, mode = 0o644) =>
    ops.push({ op: 'file', path, data: typeof data === 'string' ? enc.encode(data) : data, mode, ...root });
  for (const d of ['/var', '/var/lib', '/var/lib/dpkg', '/var/lib/dpkg/info', '/var/lib/dpkg/updates', '/var/lib/dpkg/parts', '/var/lib/dpkg/triggers', '/var/lib/dpkg/alternatives']) dir(d);

  const pkgs = [...ix.view.packages].sort((a, b) => cmp(nameOf(a), nameOf(b)) || cmp(field(a, 'Architecture') ?? '', field(b, 'Architecture') ?? ''));
  file('/var/lib/dpkg/status', pkgs.map((p) => `${statusStanza(p, ix)}\n`).join(''));
  file('/var/lib/dpkg/available', '');
  file('/var/lib/dpkg/info/format', '1\n');

  const fileTriggers: string[] = [];
  const named = new Map<string, string[]>();
  for (const p of pkgs) {
    const base = `/var/lib/dpkg/info/${infoName(p)}`;
    const list = p.files.map((e) => (e.path === '/' ? '/.' : e.path.replace(/\/+$/, '')));
    file(`${base}.list`, list.map((l) => `${l}\n`).join(''));
    const conf = new Set(p.conffiles);
    // dpkg installs a package's own md5sums member as it is (written with the members below); only a package without one gets sums computed from the root.
    const sums = p.scripts.md5sums !== undefined ? [] : p.files
      .filter((e) => (e.type === 'file' || e.type === 'hardlink') && !conf.has(e.path))
      .map((e) => ({ rel: e.path.replace(/^\/+/, ''), b: fileBytes(ix, e.type === 'hardlink' && e.target ? e.target : e.path) }))
      .sort((a, b) => cmp(a.rel, b.rel));
    if (sums.length) file(`${base}.md5sums`, sums.map((s) => `${md5(s.b ?? new Uint8Array())}  ${s.rel}\n`).join(''));
    if (p.conffiles.length) file(`${base}.conffiles`, p.conffiles.map((c) => `${c}\n`).join(''));
    for (const s of SCRIPT_NAMES) {
      const t = p.scripts[s];
      if (t !== undefined) file(`${base}.${s}`, t, EXECUTABLE.has(s) ? 0o755 : 0o644);
    }
    for (const raw of (p.scripts.triggers ?? '').split('\n')) {
      const m = /^\s*(interest(?:-await|-noawait)?)\s+(\S+)\s*$/.exec(raw.replace(/#.*/, ''));
      if (!m) continue;
      const who = `${infoName(p)}${m[1] === 'interest-noawait' ? '/noawait' : ''}`;
      if (m[2].startsWith('/')) fileTriggers.push(`${m[2]} ${who}\n`);
      else named.set(m[2], [...(named.get(m[2]) ?? []), `${who}\n`]);
    }
  }
  file('/var/lib/dpkg/triggers/File', fileTriggers.join(''));
  file('/var/lib/dpkg/triggers/Unincorp', '');
  for (const [name, who] of [...named].sort((a, b) => cmp(a[0], b[0]))) file(`/var/lib/dpkg/triggers/${name}`, who.join(''));
  file('/var/lib/dpkg/diversions', [...diversions].reverse().map((d) => `${d.path}\n${d.divertTo}\n${d.pkg}\n`).join(''));
  return ops;
}
