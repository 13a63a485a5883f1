/**
 * Real Debian roots for the effects tests: bookworm's essential set as apt
 * chooses it (apt-get -s with an empty status), downloaded once with
 * `apt-get download` into a cache folder, unpacked with dpkg-deb (until
 * minos's own .deb reader lands), and seen through the RootView contract.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DebFileEntry, DebInstalled, EffectOp, RootView } from '../../src/debian/effects/types.js';
import { SCRIPT_NAMES } from '../../src/debian/effects/types.js';

const sh = (cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}) =>
  execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });

/** Package names of the essential closure, in apt's unpack order. */
export function essentialNames(): string[] {
  const dir = join(tmpdir(), 'minos-test-debs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'empty-status'), '');
  const pk = sh('sh', ['-c', 'for f in /var/lib/apt/lists/*_bookworm_main_binary-amd64_Packages*; do case $f in *.lz4) lz4 -dc "$f";; *) cat "$f";; esac; done']).toString();
  const essential = [...new Set([...pk.matchAll(/^Package: (\S+)\n(?:(?!\n\n)[\s\S])*?^Essential: yes$/gm)].map((m) => m[1]))].sort();
  if (essential.length < 20) throw new Error(`only ${essential.length} Essential packages in apt's lists; run apt-get update`);
  const out = sh('apt-get', ['-s', '-o', `Dir::State::status=${join(dir, 'empty-status')}`, '-o', 'APT::Install-Recommends=false', 'install', ...essential]).toString();
  return [...out.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]);
}

/** The .deb files for NAMES, downloaded once into a shared cache folder. */
export function fetchDebs(names: readonly string[]): string[] {
  const dir = join(tmpdir(), 'minos-test-debs');
  mkdirSync(dir, { recursive: true });
  const have = () => new Map(readdirSync(dir).filter((f) => f.endsWith('.deb')).map((f) => [f.split('_')[0], join(dir, f)]));
  let m = have();
  const missing = names.filter((n) => !m.has(n));
  if (missing.length) sh('apt-get', ['download', ...missing], { cwd: dir });
  m = have();
  return names.map((n) => {
    const f = m.get(n);
    if (!f) throw new Error(`apt-get download did not fetch ${n}`);
    return f;
  });
}

function parseControl(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.replace(/\n+$/, '').split('\n')) {
    if (/^\s/.test(line) && out.length) out[out.length - 1][1] += `\n${line}`;
    else {
      const i = line.indexOf(':');
      out.push([line.slice(0, i), line.slice(i + 1).replace(/^\s+/, '')]);
    }
  }
  return out;
}

const TYPES: Record<string, DebFileEntry['type']> = { '-': 'file', d: 'dir', l: 'symlink', h: 'hardlink', c: 'char', b: 'block', p: 'fifo' };

function modeBits(s: string): number {
  let m = 0;
  const bit = (c: string, v: number) => (c !== '-' && c !== 'S' && c !== 'T' ? v : 0);
  m |= bit(s[1], 0o400) | bit(s[2], 0o200) | bit(s[4], 0o40) | bit(s[5], 0o20) | bit(s[7], 0o4) | bit(s[8], 0o2);
  m |= bit(s[3].replace('s', 'x'), 0o100) | bit(s[6].replace('s', 'x'), 0o10) | bit(s[9].replace('t', 'x'), 0o1);
  if ('sS'.includes(s[3])) m |= 0o4000;
  if ('sS'.includes(s[6])) m |= 0o2000;
  if ('tT'.includes(s[9])) m |= 0o1000;
  return m;
}

/** Unpack DEBS into DIR/unpacked (shipped paths) and describe them as a RootView. */
export function unpackView(debs: readonly string[], dir: string, arch = 'amd64'): RootView & { unpacked: string } {
  const unpacked = join(dir, 'unpacked');
  mkdirSync(unpacked, { recursive: true });
  const packages: DebInstalled[] = [];
  for (const deb of debs) {
    sh('dpkg-deb', ['-x', deb, unpacked]);
    const ctl = join(dir, 'ctl', String(packages.length));
    mkdirSync(ctl, { recursive: true });
    sh('dpkg-deb', ['-e', deb, ctl]);
    const scripts: DebInstalled['scripts'] = {};
    for (const s of SCRIPT_NAMES) if (existsSync(join(ctl, s))) scripts[s] = readFileSync(join(ctl, s), 'utf8');
    const conffiles = existsSync(join(ctl, 'conffiles')) ? readFileSync(join(ctl, 'conffiles'), 'utf8').split('\n').filter(Boolean) : [];
    const files: DebFileEntry[] = [];
    for (const line of sh('dpkg-deb', ['-c', deb]).toString().split('\n').filter(Boolean)) {
      const m = /^(\S{10}) (\S+)\/(\S+)\s+(\d+) \S+ \S+ \.(\/.*?)(?: -> (.*)| link to \.(.*))?$/.exec(line);
      if (!m) throw new Error(`cannot parse dpkg-deb -c line: ${line}`);
      const type = TYPES[m[1][0]];
      const path = m[5] === '/' ? '/' : m[5].replace(/\/$/, '');
      const e: DebFileEntry = { path, type, mode: modeBits(m[1]), owner: m[2], group: m[3], size: Number(m[4]), sha256: '' };
      if (type === 'symlink') e.target = m[6];
      if (type === 'hardlink') e.target = m[7];
      if (type === 'file') e.sha256 = createHash('sha256').update(readFileSync(join(unpacked, path))).digest('hex');
      files.push(e);
    }
    packages.push({ control: parseControl(readFileSync(join(ctl, 'control'), 'utf8')), scripts, conffiles, files });
  }
  return {
    arch,
    packages,
    epoch: 1700000000,
    unpacked,
    read: (p) => {
      try {
        return readFileSync(join(unpacked, p));
      } catch {
        return undefined;
      }
    },
  };
}

/** Unpack DEBS into ROOT through the merged-/usr links already made there (the engine's mapping). */
export function unpackMerged(debs: readonly string[], root: string): void {
  for (const deb of debs) {
    const tar = sh('dpkg-deb', ['--fsys-tarfile', deb]);
    sh('tar', ['-x', '--keep-directory-symlink', '--same-owner', '-p', '-C', root], { input: tar });
  }
}

/** Apply effect ops to a folder as root would (mknod, chown). */
export function applyOps(root: string, ops: readonly EffectOp[], only?: (o: EffectOp) => boolean): void {
  for (const o of ops) {
    if (only && !only(o)) continue;
    const p = join(root, o.path);
    if (o.op === 'mkdir') {
      if (!existsSync(p)) mkdirSync(p);
      chownSync(p, o.uid, o.gid);
      chmodSync(p, o.mode);
    } else if (o.op === 'file') {
      writeFileSync(p, o.data);
      chownSync(p, o.uid, o.gid);
      chmodSync(p, o.mode);
    } else if (o.op === 'symlink') {
      if (!existsSync(p)) symlinkSync(o.target, p);
      lchownSync(p, 0, 0);
    } else if (o.op === 'dir-to-link') {
      try { rmdirSync(p); } catch { /* absent */ }
      symlinkSync(o.target, p);
    } else if (o.op === 'device') {
      if (!existsSync(p)) sh('mknod', ['-m', o.mode.toString(8), p, 'c', String(o.major), String(o.minor)]);
    }
  }
}
