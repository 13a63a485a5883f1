/**
 * `minos import deb`: real Debian packages become signed .mpk that a MinOS
 * repository serves and `minos build` installs; dpkg-deb is the oracle for
 * what each package holds, and packages.ts for what its metadata becomes.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, sh, tempDir } from './lib/cli.js';
import { debianMirror, stanzaOf } from './lib/debmirror.js';
import { writeSpec } from './lib/repo.js';
import { parsePackages } from '../src/debian/packages.js';

// busybox-static: plain files; ncurses-base: arch all, a conffile, symlinks;
// bzip2: hardlinks and symlinks; the rest is what bzip2 needs to install.
const NAMES = ['busybox-static', 'ncurses-base', 'bzip2', 'libbz2-1.0', 'libc6', 'libgcc-s1', 'gcc-12-base'];
const mirror = debianMirror(NAMES);
const packagesText = readFileSync(join(mirror, 'dists/bookworm/main/binary-amd64/Packages'), 'utf8');
const debOf = (name: string, arch = 'amd64') => {
  const text = arch === 'amd64' ? packagesText : readFileSync(join(mirror, `dists/bookworm/main/binary-${arch}/Packages`), 'utf8');
  return join(mirror, stanzaOf(text, name).Filename);
};
const DEBS = NAMES.map((n) => debOf(n));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function keys(dir: string): { key: string; pub: string } {
  const r = minos(['key', 'generate', 'k', '-d', join(dir, 'keys')]);
  if (r.code !== 0) throw new Error(r.stderr);
  return { key: join(dir, 'keys/k.key'), pub: join(dir, 'keys/k.pub') };
}

interface Listed {
  type: string;
  mode: string;
  owner: string;
  size: number;
  link?: string;
  hardlink?: string;
}

/** `dpkg-deb -c`: path → type char, mode string, owner/group, size, symlink or hardlink target. */
function listing(deb: string): Map<string, Listed> {
  const out = new Map<string, Listed>();
  for (const line of sh(`dpkg-deb -c '${deb}'`).split('\n').filter(Boolean)) {
    const m = /^(\S)(\S{9}) (\S+)\s+(\d+) \S+ \S+ \.\/(.*?)(?: -> (.*)| link to \.\/(.*))?$/.exec(line);
    if (!m) throw new Error(`unparsed dpkg-deb line: ${line}`);
    if (m[5] === '') continue;
    out.set(m[5].replace(/\/$/, ''), { type: m[1], mode: m[2], owner: m[3], size: Number(m[4]), link: m[6], hardlink: m[7] });
  }
  return out;
}

function modeString(st: Stats): string {
  const m = st.mode;
  const bit = (b: number, c: string) => (m & b ? c : '-');
  const x = (b: number, s: number, c: string) => (m & s ? (m & b ? c : c.toUpperCase()) : bit(b, 'x'));
  return bit(0o400, 'r') + bit(0o200, 'w') + x(0o100, 0o4000, 's') + bit(0o40, 'r') + bit(0o20, 'w') + x(0o10, 0o2000, 's') + bit(0o4, 'r') + bit(0o2, 'w') + x(0o1, 0o1000, 't');
}

t.test('import real .debs, index them, build an image: its files are what dpkg-deb lists and extracts', async (t) => {
  const dir = tempDir(t, 'minos-import-');
  const k = keys(dir);
  const repo = join(dir, 'repo');
  let r = minos(['import', 'deb', ...DEBS, '--key', k.key, '-o', repo, '--level', '3']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim().split('\n').length, DEBS.length, 'one line per package');
  t.ok(existsSync(join(repo, 'ncurses-base-6.4-4-noarch.mpk')), 'Architecture all is noarch');
  t.same(readdirSync(repo).filter((f) => !f.endsWith('.mpk')), [], 'no temp file is left');
  r = minos(['repo', 'index', repo, '-k', k.key, '--name', 'imported']);
  t.equal(r.code, 0, r.stderr);
  r = minos(['repo', 'verify', repo, '--key', k.pub]);
  t.equal(r.code, 0, r.stderr);

  // Metadata: the Packages stanza converted by packages.ts, and the control data dpkg-deb shows.
  const listed = parsePackages(packagesText, { label: 'Packages', arch: 'x86_64' });
  for (const name of ['bzip2', 'ncurses-base', 'busybox-static']) {
    const file = readdirSync(repo).find((f) => f.startsWith(`${name}-`) && f.endsWith('.mpk'))!;
    r = minos(['inspect', join(repo, file), '--key', k.pub, '--json']);
    t.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    const p = listed.find((x) => x.name === name)!;
    t.match(m, { name: p.name, version: p.version, arch: p.arch, summary: p.summary, signature: { verified: true } }, `${name}: name, version, arch`);
    for (const f of ['depends', 'provides', 'conflicts', 'replaces', 'optional', 'debian'] as const) t.same(m[f], p[f], `${name}: ${f} as packages.ts converts the Packages stanza`);
    const conffiles = sh(`dpkg-deb -I '${debOf(name)}' conffiles 2>/dev/null || true`).split('\n').filter(Boolean);
    t.same(m.config, conffiles, `${name}: conffiles are its config files`);
  }

  // An image from the MinOS repository.
  const img = join(dir, 'img');
  const spec = writeSpec(join(dir, 'image.yaml'), {
    name: 'imported', arch: 'x86_64', repositories: [{ path: repo, keys: [k.pub] }], packages: ['busybox-static', 'ncurses-base', 'bzip2'],
  });
  r = minos(['build', spec, '-o', img]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /of 7 packages for x86_64/);
  const sbom = JSON.parse(readFileSync(`${img}.spdx.json`, 'utf8'));
  const bz = sbom.packages.find((p: { name: string }) => p.name === 'bzip2');
  t.equal(bz.externalRefs[0].referenceLocator, 'pkg:deb/debian/bzip2@1.0.8-5%2Bb1?arch=amd64', 'an imported package keeps its Debian purl');

  // Oracle: dpkg-deb -c for types, modes, owners, sizes and links; dpkg-deb -x for contents.
  const ref = join(dir, 'ref');
  const asRoot = process.getuid?.() === 0;
  let compared = 0;
  for (const deb of DEBS) {
    sh(`dpkg-deb -x '${deb}' '${ref}'`);
    for (const [path, want] of listing(deb)) {
      const at = join(img, path);
      const st = lstatSync(at);
      const where = `${deb.split('/').pop()}: ${path}`;
      const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? '-' : '?';
      t.equal(type, want.type === 'h' ? '-' : want.type, `${where}: type`);
      if (want.type !== 'l') t.equal(modeString(st), want.mode, `${where}: mode`);
      if (asRoot) t.equal(`${st.uid}/${st.gid}`, want.owner === 'root/root' ? '0/0' : want.owner, `${where}: owner`);
      if (want.type === '-') {
        t.equal(st.size, want.size, `${where}: size`);
        t.equal(sha(readFileSync(at)), sha(readFileSync(join(ref, path))), `${where}: sha256`);
      }
      if (want.type === 'l') t.equal(readlinkSync(at), want.link, `${where}: symlink target`);
      if (want.type === 'h') t.equal(st.ino, lstatSync(join(img, want.hardlink!)).ino, `${where}: hardlink to ${want.hardlink}`);
      compared++;
    }
  }
  t.ok(compared > 400, `${compared} entries compared`);
});

t.test('importing the same .deb twice gives byte-identical packages; an arm64 .deb becomes aarch64', async (t) => {
  const dir = tempDir(t, 'minos-import-');
  const k = keys(dir);
  const debs = [debOf('bzip2'), debOf('ncurses-base'), debOf('busybox-static', 'arm64')];
  for (const out of ['a', 'b']) {
    const r = minos(['import', 'deb', ...debs, '-k', k.key, '-o', join(dir, out), '--level', '3', '--json']);
    t.equal(r.code, 0, r.stderr);
  }
  const files = readdirSync(join(dir, 'a')).sort();
  t.same(files, readdirSync(join(dir, 'b')).sort());
  t.ok(files.includes('busybox-static-1%3a1.35.0-4+deb12u1+b1-aarch64.mpk'), 'arm64 is aarch64');
  for (const f of files) t.equal(sha(readFileSync(join(dir, 'b', f))), sha(readFileSync(join(dir, 'a', f))), `${f}: same bytes`);
});

t.test('bad input: one line naming the file, a documented exit status, nothing in -o', async (t) => {
  const dir = tempDir(t, 'minos-import-bad-');
  const k = keys(dir);
  const good = debOf('busybox-static');
  const bytes = readFileSync(good);
  const file = (name: string, content: Buffer | string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const members = join(dir, 'members');
  sh(`mkdir '${members}' && cd '${members}' && ar x '${good}'`);
  const arOf = (name: string, list: string[]) => {
    sh(`cd '${members}' && rm -f '../${name}' && ar rc '../${name}' ${list.join(' ')}`);
    return join(dir, name);
  };
  sh(`cd '${members}' && cp data.tar.xz data.tar.bz2`);
  const xz = readFileSync(join(members, 'data.tar.xz'));
  xz[Math.floor(xz.length / 2)] ^= 0xff;
  writeFileSync(join(members, 'data.tar.xz'), xz);
  const corrupt = arOf('corrupt.deb', ['debian-binary', 'control.tar.xz', 'data.tar.xz']);
  const notFolder = file('out-file', 'a file\n');
  const cases: [string, string[], number, RegExp, string?][] = [
    ['not a .deb', [file('text.deb', 'hello\n')], 2, /text\.deb: not a Debian package \(no ar header\) \[MN0110\]/],
    ['truncated', [file('cut.deb', bytes.subarray(0, 4000))], 2, /cut\.deb: ar member .* is truncated \[MN0110\]/],
    ['wrong ar order', [arOf('order.deb', ['debian-binary', 'data.tar.bz2', 'control.tar.xz'])], 2, /order\.deb: ar members are debian-binary, data\.tar\.bz2, control\.tar\.xz; expected .* \[MN0110\]/],
    ['unknown compression', [arOf('bz.deb', ['debian-binary', 'control.tar.xz', 'data.tar.bz2'])], 2, /bz\.deb: data\.tar\.bz2: unknown compression .* \[MN0110\]/],
    ['corrupt compressed data', [corrupt], 4, /corrupt\.deb: data\.tar\.xz: .* \[MN0208\]/],
    ['missing file', [join(dir, 'absent.deb')], 2, /absent\.deb: no such file or directory \(ENOENT\) \[MN0101\]/],
    ['a good .deb, then a bad one: none is written', [good, join(dir, 'text.deb')], 2, /text\.deb: .* \[MN0110\]/],
    ['unreadable key', [good], 2, /nokey\.key: no such file or directory .*\[MN0101\]/, join(dir, 'nokey.key')],
    ['not a key', [good], 2, /text\.deb.*\[MN0108\]/, join(dir, 'text.deb')],
  ];
  for (const [what, args, code, message, key] of cases) {
    const out = join(dir, 'out');
    const r = minos(['import', 'deb', ...args, '-k', key ?? k.key, '-o', out, '--level', '1']);
    t.equal(r.code, code, `${what}: exit ${code}`);
    t.match(r.stderr, message, what);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.notOk(existsSync(out), `${what}: no output folder`);
  }
  const r = minos(['import', 'deb', good, '-k', k.key, '-o', notFolder]);
  t.equal(r.code, 2);
  t.match(r.stderr, /out-file: exists and is not a folder \[MN0116\]/);
  t.equal(readFileSync(notFolder, 'utf8'), 'a file\n', 'the file is left as it was');
  const existing = join(dir, 'existing');
  sh(`mkdir '${existing}'`);
  t.equal(minos(['import', 'deb', good, join(dir, 'text.deb'), '-k', k.key, '-o', existing]).code, 2);
  t.same(readdirSync(existing), [], 'an existing folder stays as it was');
});
