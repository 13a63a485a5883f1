/**
 * Debian repositories as a source, end to end through the CLI, with real
 * signed Debian files; dpkg-deb is the oracle for what a package holds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, minos, serveFolder, sh, tempDir } from './lib/cli.js';
import { debianMirror, KEYRING, stanzaOf } from './lib/debmirror.js';
import { writeSpec } from './lib/repo.js';
import { parsePackages } from '../src/debian/packages.js';
import { readDeb } from '../src/debian/deb.js';

const mirror = debianMirror(['busybox-static', 'ncurses-base']);
const packages = readFileSync(join(mirror, 'dists/bookworm/main/binary-amd64/Packages'), 'utf8');
const bb = stanzaOf(packages, 'busybox-static');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function spec(dir: string, mirrorDir: string, extra: Record<string, unknown> = {}): string {
  return writeSpec(join(dir, 'image.yaml'), {
    name: 'bb', arch: 'x86_64',
    repositories: [{ debian: mirrorDir, suite: 'bookworm', keys: [KEYRING] }],
    packages: ['busybox-static'], ...extra,
  });
}

/** A copy of the mirror (hard links) in which `rel` can be replaced. */
function copyMirror(dir: string): string {
  const m = join(dir, 'mirror');
  sh(`cp -al '${mirror}' '${m}'`);
  return m;
}

t.test('build a cpio from a Debian mirror: the files are the .deb\'s, the build is reproducible', async (t) => {
  const dir = tempDir(t, 'minos-deb-');
  const s = spec(dir, mirror);
  const out = join(dir, 'bb.cpio');
  let r = minos(['build', s, '-o', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /cpio image of 1 packages for x86_64/);
  // Oracle: dpkg-deb's own extraction.
  const ref = join(dir, 'ref');
  sh(`dpkg-deb -x '${join(mirror, bb.Filename)}' '${ref}'`);
  const x = join(dir, 'x');
  sh(`mkdir '${x}' && cd '${x}' && cpio -idm --quiet < '${out}'`);
  t.equal(sha(readFileSync(join(x, 'bin/busybox'))), sha(readFileSync(join(ref, 'bin/busybox'))), 'bin/busybox as dpkg-deb extracts it');
  const lock = JSON.parse(readFileSync(`${out}.lock.json`, 'utf8'));
  t.match(lock.packages[0], { name: 'busybox-static', version: bb.Version, sha256: bb.SHA256, file: bb.Filename });
  t.equal(lock.repositories[0].digest, sha(readFileSync(join(mirror, 'dists/bookworm/InRelease'))), 'the lockfile pins the InRelease digest');
  const sbom = JSON.parse(readFileSync(`${out}.spdx.json`, 'utf8'));
  t.equal(sbom.packages[0].externalRefs[0].referenceLocator, `pkg:deb/debian/busybox-static@${encodeURIComponent(bb.Version)}?arch=amd64`);
  const first = sha(readFileSync(out));
  r = minos(['build', s, '-o', out, '--frozen']);
  t.equal(r.code, 0, r.stderr);
  t.equal(sha(readFileSync(out)), first, 'a --frozen rebuild gives the same bytes');
  r = minos(['build', s, '-o', out, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).resolution, 'locked', 'a rebuild takes the matching lockfile as locked');
  t.equal(sha(readFileSync(out)), first, 'and gives the same bytes');
  r = minos(['plan', s]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /busybox-static\s+1:1\.35/);
  // A directory build: the database records the Debian package with its files.
  const d = join(dir, 'root');
  r = minos(['build', s, '-o', d]);
  t.equal(r.code, 0, r.stderr);
  r = minos(['--root', d, 'files', 'busybox-static']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\/bin\/busybox/);
  const run = spawnSync(join(d, 'bin/busybox'), ['echo', 'hello from debian'], { encoding: 'utf8' });
  t.equal(run.stdout, 'hello from debian\n', 'the unpacked static busybox runs');
});

t.test('every verification failure exits 4 naming the file, and writes nothing', async (t) => {
  const cases: [string, (m: string) => void, RegExp][] = [
    ['InRelease changed after signing', (m) => {
      const f = join(m, 'dists/bookworm/InRelease');
      const text = readFileSync(f, 'utf8').replace(/^Date: .*$/m, 'Date: Sat, 01 Jan 2000 00:00:00 UTC');
      rmSync(f);
      writeFileSync(f, text);
    }, /InRelease: no good signature by a trusted key/],
    ['Packages changed', (m) => {
      const f = join(m, 'dists/bookworm/main/binary-amd64/Packages');
      const text = readFileSync(f);
      rmSync(f);
      text[text.length - 2] ^= 1;
      writeFileSync(f, text);
    }, /Packages: sha256 is [0-9a-f]{64}, the Release says/],
    ['Packages changed where the parser refuses it', (m) => {
      const f = join(m, 'dists/bookworm/main/binary-amd64/Packages');
      const text = readFileSync(f);
      rmSync(f);
      writeFileSync(f, Buffer.concat([Buffer.from('no field here\n'), text.subarray(14)]));
    }, /Packages: sha256 is [0-9a-f]{64}, the Release says/],
    ['Packages truncated', (m) => {
      const f = join(m, 'dists/bookworm/main/binary-amd64/Packages');
      const text = readFileSync(f);
      rmSync(f);
      writeFileSync(f, text.subarray(0, text.length - 1000));
    }, /Packages: \d+ bytes, the Release says \d+/],
    ['the .deb truncated', (m) => {
      const f = join(m, bb.Filename);
      const b = readFileSync(f);
      rmSync(f);
      writeFileSync(f, b.subarray(0, b.length - 100));
    }, /busybox-static_.*\.deb: file is \d+ bytes, Packages says/],
    ['the .deb changed', (m) => {
      const f = join(m, bb.Filename);
      const b = readFileSync(f);
      rmSync(f);
      b[b.length - 5000] ^= 1;
      writeFileSync(f, b);
    }, /busybox-static_.*\.deb: file sha256 is/],
    ['the .deb missing', (m) => rmSync(join(m, bb.Filename)), /busybox-static 1:1\.35.* is listed in the signed Packages but missing from the mirror/],
  ];
  // A lockfile of the intact mirror, whose resolution digest matches every copy: the locked path (only the
  // locked stanzas of Packages read) must refuse the same files the same way.
  const lockDir = tempDir(t, 'minos-deblock-');
  const lockFile = join(lockDir, 'bb.lock.json');
  const made = minos(['build', spec(lockDir, mirror), '-o', join(lockDir, 'bb.cpio'), '--lock', lockFile, '--json']);
  t.equal(made.code, 0, made.stderr);
  const lockText = readFileSync(lockFile, 'utf8');
  t.match(JSON.parse(lockText).resolved, /^[0-9a-f]{64}$/);
  for (const [what, spoil, msg] of cases) {
    const dir = tempDir(t, 'minos-debbad-');
    const m = copyMirror(dir);
    spoil(m);
    const out = join(dir, 'bb.cpio');
    for (const locked of [false, true]) {
      const how = `${what}${locked ? ', with a matching lockfile' : ''}`;
      // Two threads: the named package goes to the worker while Packages is read (early.ts).
      const r = minos(['build', spec(dir, m), '-o', out, ...(locked ? ['--lock', lockFile] : [])], { env: { MINOS_UNPACK_WORKERS: '2' } });
      t.equal(r.code, 4, `${how}: exit 4 (${r.stderr.trim()})`);
      t.match(r.stderr, msg, how);
      t.equal(r.stderr.trim().split('\n').length, 1, `${how}: one line`);
      t.equal(sh(`ls -A '${dir}'`).trim().split('\n').sort().join(' '), 'image.yaml mirror', `${how}: nothing written`);
    }
    t.equal(readFileSync(lockFile, 'utf8'), lockText, `${what}: the lockfile untouched`);
  }
  // A keyring that did not sign this release.
  const dir = tempDir(t, 'minos-debkey-');
  const s = writeSpec(join(dir, 'image.yaml'), {
    name: 'bb', arch: 'x86_64', repositories: [{ debian: mirror, suite: 'bookworm', keys: ['/usr/share/keyrings/debian-archive-bullseye-stable.gpg'] }], packages: ['busybox-static'],
  });
  const r = minos(['build', s, '-o', join(dir, 'x.cpio')]);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /InRelease: no good signature by a trusted key/);
});

t.test('packages unpacked while the indexes are read make the same image; a failure after them leaves nothing', async (t) => {
  const dir = tempDir(t, 'minos-debearly-');
  const s = spec(dir, mirror, { packages: ['busybox-static', 'ncurses-base'] });
  const build = (out: string, workers: string, env: Record<string, string> = {}) => {
    rmSync(out, { recursive: true, force: true });
    const r = minos(['build', s, '-o', out, '--json'], { env: { MINOS_UNPACK_WORKERS: workers, ...env } });
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { unpackedAhead: number; resolution: string };
  };
  const listing = (d: string) => sh(`cd '${d}' && find . -printf '%p %y %m %U %G %s %T@ %l\\n' | sort && find . -type f -exec sha256sum {} + | sort`);
  // Whether the worker has begun a package when the resolution ends is a race it wins by ~0.3 s: of five builds, one must.
  let ahead = 0;
  for (let i = 0; i < 5 && ahead === 0; i++) ahead = build(join(dir, 'a.cpio'), '2').unpackedAhead;
  t.ok(ahead >= 1, `the worker began ${ahead} package(s) before the resolution ended`);
  t.equal(build(join(dir, 'b.cpio'), '1').unpackedAhead, 0, 'none without a worker thread');
  t.equal(sha(readFileSync(join(dir, 'a.cpio'))), sha(readFileSync(join(dir, 'b.cpio'))), 'the same cpio either way');
  // A folder: the worker gives files their final modes and mtimes (the Release's Date, or SOURCE_DATE_EPOCH).
  for (const env of [{}, { SOURCE_DATE_EPOCH: '1234567' }]) {
    build(join(dir, 'a'), '2', env);
    build(join(dir, 'b'), '1', env);
    t.equal(listing(join(dir, 'a')), listing(join(dir, 'b')), `the same folder either way${'SOURCE_DATE_EPOCH' in env ? ', with SOURCE_DATE_EPOCH' : ''}`);
  }
  // A lockfile read as locked: each of its packages is offered as its stanza is read.
  const again = build(join(dir, 'a.cpio'), '2');
  t.equal(again.resolution, 'locked');
  t.equal(sha(readFileSync(join(dir, 'a.cpio'))), sha(readFileSync(join(dir, 'b.cpio'))), 'the same cpio from the lockfile');
  // Two repositories with the same packages, the second preferred: its entries supersede the first's offers.
  const two = writeSpec(join(dir, 'two.yaml'), {
    name: 'bb', arch: 'x86_64', packages: ['busybox-static', 'ncurses-base'],
    repositories: [{ debian: mirror, name: 'one', suite: 'bookworm', keys: [KEYRING] }, { debian: mirror, name: 'two', priority: 10, suite: 'bookworm', keys: [KEYRING] }],
  });
  let twoAhead = 0;
  for (let i = 0; i < 5 && twoAhead === 0; i++) {
    rmSync(join(dir, 'two.cpio'), { force: true });
    rmSync(join(dir, 'two.cpio.lock.json'), { force: true });
    const r = minos(['build', two, '-o', join(dir, 'two.cpio'), '--json'], { env: { MINOS_UNPACK_WORKERS: '2' } });
    t.equal(r.code, 0, r.stderr);
    twoAhead = JSON.parse(r.stdout).unpackedAhead;
  }
  t.ok(twoAhead >= 1, `from the preferred repository, ${twoAhead} package(s) begun ahead`);
  t.same(JSON.parse(readFileSync(join(dir, 'two.cpio.lock.json'), 'utf8')).packages.map((p: { repo: string }) => p.repo), ['two', 'two'], 'both from it');
  // A resolution that fails after the worker began: one line, nothing beside the spec.
  const bad = tempDir(t, 'minos-debearly-bad-');
  const r = minos(['build', spec(bad, mirror, { packages: ['busybox-static', 'no-such-package'] }), '-o', join(bad, 'x')], { env: { MINOS_UNPACK_WORKERS: '2' } });
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /no-such-package/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.equal(sh(`ls -A '${bad}'`).trim(), 'image.yaml', 'nothing written');
});

t.test('spec errors name the field', async (t) => {
  const dir = tempDir(t, 'minos-debspec-');
  let s = writeSpec(join(dir, 'a.yaml'), { name: 'x', arch: 'x86_64', repositories: [{ debian: mirror, keys: [KEYRING] }], packages: ['busybox-static'] });
  let r = minos(['plan', s]);
  t.equal(r.code, 2);
  t.match(r.stderr, /a\.yaml:.*suite/);
  s = writeSpec(join(dir, 'b.yaml'), { name: 'x', arch: 'x86_64', repositories: [{ debian: mirror, suite: 'bookworm', keys: [KEYRING] }], packages: [], sets: ['everything'] });
  r = minos(['plan', s]);
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown package set "everything"/);
  s = writeSpec(join(dir, 'c.yaml'), { name: 'x', arch: 'x86_64', repositories: [{ debian: mirror, suite: 'bullseye', keys: [KEYRING] }], packages: ['busybox-static'] });
  r = minos(['plan', s]);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /no InRelease or Release file \(is "bullseye" a suite of this mirror\?\)/);
});

t.test('Packages stanzas: relations in minos syntax, and malformed ones refused', async (t) => {
  const base = 'Package: p\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/p.deb\nSize: 10\nSHA256: ' + 'a'.repeat(64) + '\n';
  const [p] = parsePackages(`${base}Pre-Depends: libc6 (>= 2.36)\nDepends: dpkg (<< 1.22), awk:any | mawk (> 1)\nBreaks: old (<< 2)\nProvides: x (= 1.0)\nRecommends: r\n`, { label: 'P', arch: 'x86_64' });
  t.same(p.depends, ['libc6 >= 2.36', 'dpkg < 1.22', 'awk | mawk >= 1']);
  t.same(p.conflicts, ['old < 2']);
  t.same(p.provides, ['x = 1.0']);
  t.same(p.optional, ['r']);
  t.same(parsePackages(base.replace('amd64', 'arm64'), { label: 'P', arch: 'x86_64' }), [], 'another architecture is skipped');
  t.equal(parsePackages(base.replace('amd64', 'all'), { label: 'P', arch: 'x86_64' })[0].arch, 'noarch');
  t.throws(() => parsePackages(base.replace('pool/p.deb', '../../etc/passwd'), { label: 'P', arch: 'x86_64' }), { code: 'MN0216', message: /P:1: package p: Filename: "\.\.\/\.\.\/etc\/passwd" is not a path inside the mirror/ });
  t.throws(() => parsePackages(`${base}Depends: (>= 1)\n`, { label: 'P', arch: 'x86_64' }), { code: 'MN0216', message: /Depends: malformed relation/ });
  t.throws(() => parsePackages(`${base}broken line\n`, { label: 'P', arch: 'x86_64' }), { code: 'MN0110', message: /P:7: not a "Field: value" line/ });
  t.throws(() => parsePackages(base.replace('Size: 10', 'Size: ten'), { label: 'P', arch: 'x86_64' }), { code: 'MN0216', message: /Size: "ten" is not a size/ });
});

t.test('bookworm main read lazily gives the entries read eagerly, relation for relation', async (t) => {
  for (const arch of ['x86_64', 'aarch64'] as const) {
    const eager = parsePackages(packages, { label: 'P', arch });
    const lazy = parsePackages(packages, { label: 'P', arch, lazy: true });
    t.equal(lazy.length, eager.length, `${arch}: ${eager.length} entries`);
    const KEYS = Object.keys(eager[0]) as (keyof (typeof eager)[0])[];
    const DKEYS = Object.keys(eager[0].debian) as (keyof (typeof eager)[0]['debian'])[];
    const canon = (p: (typeof eager)[0]) => JSON.stringify([KEYS.map((k) => (k === 'debian' ? DKEYS.map((d) => p.debian[d]) : p[k])), Object.keys({ ...p }).sort()]);
    t.equal(lazy.filter((p, i) => canon(p) !== canon(eager[i])).length, 0, `${arch}: the same fields and values`);
    t.equal(JSON.stringify(lazy.slice(0, 100)), JSON.stringify(eager.slice(0, 100)), `${arch}: JSON in the same key order`);
  }
});

t.test('a .deb whose ar members are out of order or of unknown compression is refused', async (t) => {
  const dir = tempDir(t, 'minos-debar-');
  const src = join(mirror, bb.Filename);
  sh(`cd '${dir}' && ar x '${src}'`);
  const [entry] = parsePackages(packages.slice(packages.indexOf('Package: busybox-static\n'), packages.indexOf('\n\n', packages.indexOf('Package: busybox-static\n')) + 1), { label: 'P', arch: 'x86_64' });
  const attempt = (members: string[]) => {
    const f = join(dir, 'p.deb');
    rmSync(f, { force: true });
    sh(`cd '${dir}' && ar rc p.deb ${members.join(' ')}`);
    const b = readFileSync(f);
    return () => readDeb(f, { expect: { size: b.length, sha256: sha(b) }, entry, signer: 'test' });
  };
  t.throws(attempt(['debian-binary', 'data.tar.xz', 'control.tar.xz']), { code: 'MN0216', message: /ar members are debian-binary, data\.tar\.xz, control\.tar\.xz/ });
  sh(`cd '${dir}' && cp data.tar.xz data.tar.bz2`);
  t.throws(attempt(['debian-binary', 'control.tar.xz', 'data.tar.bz2']), { code: 'MN0216', message: /data\.tar\.bz2: unknown compression/ });
  const ok = attempt(['debian-binary', 'control.tar.xz', 'data.tar.xz'])();
  t.ok(ok.manifest.files.some((f) => f.path === 'bin/busybox'), 'the same members in order read fine');
  t.same(ok.scripts, ['triggers'].filter((s) => ok.scripts.includes(s)));
});

t.test('the live commands take the same Debian source', async (t) => {
  const dir = tempDir(t, 'minos-deblive-');
  const root = join(dir, 'root');
  const run = (args: string[]) => minos(['--root', root, ...args]);
  let r = run(['init', '--arch', 'x86_64']);
  t.equal(r.code, 0, r.stderr);
  r = run(['repo', 'add', 'deb', mirror, '--suite', 'bookworm']);
  t.equal(r.code, 2, 'a keyring is required');
  t.match(r.stderr, /--suite needs at least one --keyring/);
  r = run(['repo', 'add', 'deb', mirror, '--suite', 'bookworm', '--keyring', KEYRING]);
  t.equal(r.code, 0, r.stderr);
  r = run(['install', 'busybox-static']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /installed busybox-static 1:1\.35/);
  t.equal(spawnSync(join(root, 'bin/busybox'), ['true']).status, 0, 'the installed busybox runs');
  r = run(['verify']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  r = run(['remove', 'busybox-static']);
  t.equal(r.code, 0, r.stderr);
  // Essential: yes is never removed without an explicit flag.
  r = run(['install', 'ncurses-base']);
  t.equal(r.code, 0, r.stderr);
  r = run(['remove', 'ncurses-base']);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /would remove the Essential package ncurses-base \[MN0303\]/);
  r = run(['remove', 'ncurses-base', '--allow-essential']);
  t.equal(r.code, 0, r.stderr);
  r = run(['rollback']);
  t.equal(r.code, 0, r.stderr);
  r = run(['verify']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  // An image built from the Debian source is a root whose repositories work the same way.
  const img = join(dir, 'img');
  r = minos(['build', spec(dir, mirror), '-o', img]);
  t.equal(r.code, 0, r.stderr);
  r = minos(['--root', img, 'list', '--upgradable']);
  t.equal(r.code, 0, r.stderr);
  r = minos(['--root', img, 'repo', 'list']);
  t.match(r.stdout, /debian-bookworm .* debian bookworm main/);
});

t.test('the same Debian source over http, through the download cache', async (t) => {
  const dir = tempDir(t, 'minos-debhttp-');
  let requests = 0;
  const url = await serveFolder(t, mirror, () => requests++);
  const s = spec(dir, url);
  const run = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((ok) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.on('exit', (code) => ok({ code, stderr }));
  });
  const out = join(dir, 'bb.cpio');
  let r = await run(['build', s, '-o', out]);
  t.equal(r.code, 0, r.stderr);
  const viaFolder = join(dir, 'folder.cpio');
  t.equal(minos(['build', spec(dir, mirror), '-o', viaFolder]).code, 0);
  const lockOf = (f: string) => JSON.parse(readFileSync(`${f}.lock.json`, 'utf8'));
  t.same(lockOf(out).packages, lockOf(viaFolder).packages, 'the same packages as from the folder');
  t.equal(lockOf(out).repositories[0].digest, lockOf(viaFolder).repositories[0].digest, 'the same signed Release');
  const before = requests;
  r = await run(['build', s, '-o', out]);
  t.equal(r.code, 0, r.stderr);
  t.ok(requests - before <= 3, `a second build fetches only the signed lists (${requests - before} requests)`);
});
