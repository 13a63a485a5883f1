/**
 * Upgrade transitions through the CLI, on a live root and as a second build
 * over a previous image: each case upgrades v1 -> v2, checks the files and
 * `verify`, then rolls back and checks v1's files and `verify` again.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, sh, tempDir } from './lib/cli.js';
import { installed, liveFixture, snapshot } from './lib/live.js';
import { makeKey, makeRepo, writeSpec, type PkgDef } from './lib/repo.js';
import { canonicalBytes } from '../src/canonical.js';
import { signBytes } from '../src/repo/keys.js';

interface Case {
  name: string;
  v1: PkgDef[];
  v2: PkgDef[];
  install: string[];
  /** Checks on the root after the upgrade. */
  after(t: Tap.Test, root: string): void;
  /** Checks on the root after rolling back (default: v1's files as installed). */
  back?(t: Tap.Test, root: string): void;
}

const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');
const isLink = (root: string, p: string) => lstatSync(join(root, p), { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
const isDir = (root: string, p: string) => lstatSync(join(root, p), { throwIfNoEntry: false })?.isDirectory() ?? false;

const cases: Case[] = [
  {
    name: 'a file unchanged between versions',
    v1: [{ name: 'a', version: '1.0', files: { 'usr/bin/a': 'same\n', 'usr/share/a/v': '1\n' } }],
    v2: [{ name: 'a', version: '2.0', files: { 'usr/bin/a': 'same\n', 'usr/share/a/v': '2\n' } }],
    install: ['a'],
    after(t, root) {
      t.equal(read(root, 'usr/bin/a'), 'same\n');
      t.equal(read(root, 'usr/share/a/v'), '2\n');
    },
    back(t, root) {
      t.equal(read(root, 'usr/bin/a'), 'same\n');
      t.equal(read(root, 'usr/share/a/v'), '1\n');
    },
  },
  {
    name: 'a file that becomes a folder',
    v1: [{ name: 'a', version: '1.0', files: { 'usr/share/a/x': 'file\n' } }],
    v2: [{ name: 'a', version: '2.0', files: { 'usr/share/a/x/inner': 'inside\n' } }],
    install: ['a'],
    after(t, root) {
      t.ok(isDir(root, 'usr/share/a/x'), 'x is a folder');
      t.equal(read(root, 'usr/share/a/x/inner'), 'inside\n');
    },
    back(t, root) {
      t.equal(read(root, 'usr/share/a/x'), 'file\n');
    },
  },
  {
    name: 'a folder that becomes a file',
    v1: [{ name: 'a', version: '1.0', files: { 'usr/share/a/x/inner': 'inside\n' } }],
    v2: [{ name: 'a', version: '2.0', files: { 'usr/share/a/x': 'file\n' } }],
    install: ['a'],
    after(t, root) {
      t.equal(read(root, 'usr/share/a/x'), 'file\n');
    },
    back(t, root) {
      t.equal(read(root, 'usr/share/a/x/inner'), 'inside\n');
    },
  },
  {
    name: 'a folder that becomes a symlink',
    v1: [{ name: 'a', version: '1.0', files: { 'opt/a/data/f': 'f1\n', 'opt/a/real/keep': 'k\n' } }],
    v2: [{ name: 'a', version: '2.0', files: { 'opt/a/real/f': 'f2\n', 'opt/a/real/keep': 'k\n' }, overrides: { '/opt/a/data': { type: 'symlink', target: 'real' } } }],
    install: ['a'],
    after(t, root) {
      t.ok(isLink(root, 'opt/a/data'), 'data is a symlink');
      t.equal(read(root, 'opt/a/real/f'), 'f2\n');
      t.equal(read(root, 'opt/a/data/f'), 'f2\n', 'reached through the link');
    },
    back(t, root) {
      t.ok(isDir(root, 'opt/a/data'), 'data is a folder again');
      t.equal(read(root, 'opt/a/data/f'), 'f1\n');
      t.notOk(existsSync(join(root, 'opt/a/real/f')), 'v2 file gone');
    },
  },
  {
    name: 'the merged-/usr move',
    v1: [
      { name: 'libc', version: '1.0', files: { 'lib/libc.so': 'libc 1\n', 'lib/ld.so': 'ld 1\n' } },
      { name: 'sh', version: '1.0', depends: ['libc'], files: { 'bin/sh': 'sh 1\n' } },
    ],
    v2: [
      { name: 'libc', version: '2.0', files: { 'usr/lib/libc.so': 'libc 2\n', 'usr/lib/ld.so': 'ld 2\n' } },
      { name: 'sh', version: '2.0', depends: ['libc', 'usrmerge'], files: { 'usr/bin/sh': 'sh 2\n' } },
      { name: 'usrmerge', version: '1.0', files: { 'usr/share/usrmerge/README': 'merged\n' }, overrides: { '/bin': { type: 'symlink', target: 'usr/bin' }, '/lib': { type: 'symlink', target: 'usr/lib' } } },
    ],
    install: ['sh', 'libc'],
    after(t, root) {
      t.ok(isLink(root, 'bin') && readlinkSync(join(root, 'bin')) === 'usr/bin', '/bin -> usr/bin');
      t.ok(isLink(root, 'lib') && readlinkSync(join(root, 'lib')) === 'usr/lib', '/lib -> usr/lib');
      t.equal(read(root, 'usr/lib/libc.so'), 'libc 2\n', 'new libc kept');
      t.equal(read(root, 'usr/lib/ld.so'), 'ld 2\n');
      t.equal(read(root, 'bin/sh'), 'sh 2\n', '/bin/sh through the link');
    },
    back(t, root) {
      t.ok(isDir(root, 'bin'), '/bin is a folder again');
      t.ok(isDir(root, 'lib'), '/lib is a folder again');
      t.equal(read(root, 'lib/libc.so'), 'libc 1\n');
      t.equal(read(root, 'bin/sh'), 'sh 1\n');
      t.notOk(existsSync(join(root, 'usr/lib/libc.so')), 'v2 libc gone');
    },
  },
  {
    name: 'a file moving to another package with replaces',
    v1: [{ name: 'a', version: '1.0', files: { 'usr/bin/tool': 'from a\n', 'usr/share/a/x': 'a\n' } }],
    v2: [
      { name: 'a', version: '2.0', depends: ['b'], files: { 'usr/share/a/x': 'a2\n' } },
      { name: 'b', version: '1.0', replaces: ['a < 2.0'], files: { 'usr/bin/tool': 'from b\n' } },
    ],
    install: ['a'],
    after(t, root) {
      t.equal(read(root, 'usr/bin/tool'), 'from b\n');
    },
  },
];

for (const c of cases) {
  t.test(`live: ${c.name}`, async (t) => {
    // Packages only in v2 come in as dependencies of the upgraded ones.
    const f = liveFixture(t, c.v1);
    let r = f.run(['install', ...c.install]);
    t.equal(r.code, 0, r.stderr);
    const v1snap = snapshot(f.root);
    makeRepo(f.repo, f.key, c.v2, { name: 'main' });
    r = f.run(['upgrade']);
    t.equal(r.code, 0, `upgrade: ${r.stderr}`);
    t.equal(r.stderr.match(/internal error/), null);
    c.after(t, f.root);
    r = f.run(['verify']);
    t.equal(r.code, 0, `verify after upgrade: ${r.stdout}${r.stderr}`);
    r = f.run(['rollback', '1']);
    t.equal(r.code, 0, `rollback: ${r.stderr}`);
    (c.back ?? (() => {}))(t, f.root);
    r = f.run(['verify']);
    t.equal(r.code, 0, `verify after rollback: ${r.stdout}${r.stderr}`);
    t.same(snapshot(f.root), v1snap, 'rollback restores v1 exactly');
  });

  t.test(`build over a previous image: ${c.name}`, async (t) => {
    const dir = tempDir(t, 'minos-trans-');
    const key = makeKey(join(dir, 'keys'));
    const repo = makeRepo(join(dir, 'repo'), key, c.v1, { name: 'main' });
    const spec = writeSpec(join(dir, 'image.yaml'), {
      name: 'trans', arch: 'x86_64', repositories: [{ path: repo, keys: [join(dir, 'keys/test.pub')] }], packages: c.install,
    });
    const out = join(dir, 'img');
    let r = minos(['build', spec, '-o', out]);
    t.equal(r.code, 0, r.stderr);
    makeRepo(repo, key, c.v2, { name: 'main' });
    writeSpec(spec, { name: 'trans', arch: 'x86_64', repositories: [{ path: repo, keys: [join(dir, 'keys/test.pub')] }], packages: c.install });
    r = minos(['build', spec, '-o', out, '--update']);
    t.equal(r.code, 0, r.stderr);
    c.after(t, out);
    r = minos(['--root', out, 'verify']);
    t.equal(r.code, 0, `verify: ${r.stdout}${r.stderr}`);
  });
}

t.test('config files: unchanged, changed by the user, by the package, by both', async (t) => {
  const conf = (v: string, files: Record<string, string>): PkgDef => ({ name: 'c', version: v, config: Object.keys(files).map((p) => `/${p}`), files });
  const f = liveFixture(t, [conf('1.0', { 'etc/none': 'n1\n', 'etc/user': 'u1\n', 'etc/pkg': 'p1\n', 'etc/both': 'b1\n' })]);
  let r = f.run(['install', 'c']);
  t.equal(r.code, 0, r.stderr);
  writeFileSync(join(f.root, 'etc/user'), 'u-local\n');
  writeFileSync(join(f.root, 'etc/both'), 'b-local\n');
  const local = snapshot(f.root);
  makeRepo(f.repo, f.key, [conf('2.0', { 'etc/none': 'n1\n', 'etc/user': 'u1\n', 'etc/pkg': 'p2\n', 'etc/both': 'b2\n' })], { name: 'main' });
  r = f.run(['upgrade']);
  t.equal(r.code, 0, r.stderr);
  t.equal(read(f.root, 'etc/none'), 'n1\n', 'unchanged: as it was');
  t.equal(read(f.root, 'etc/user'), 'u-local\n', 'changed by the user: kept');
  t.notOk(existsSync(join(f.root, 'etc/user.minos-new')), 'no .minos-new when the package did not change it');
  t.equal(read(f.root, 'etc/pkg'), 'p2\n', 'changed by the package: replaced');
  t.equal(read(f.root, 'etc/both'), 'b-local\n', 'changed by both: the local one kept');
  t.equal(read(f.root, 'etc/both.minos-new'), 'b2\n', '... and the new one beside it');
  r = f.run(['rollback']);
  t.equal(r.code, 0, r.stderr);
  t.equal(read(f.root, 'etc/pkg'), 'p1\n', 'rollback: the package version back');
  t.equal(read(f.root, 'etc/user'), 'u-local\n', 'rollback: the local edit kept');
  t.equal(read(f.root, 'etc/both'), 'b-local\n');
  t.same(installed(f.root), { c: '1.0' });
  const now = snapshot(f.root);
  now.delete('etc/both.minos-new');
  t.same(now, local, 'rollback: as before the upgrade (the .minos-new aside)');
});

t.test('live install checks each manifest against the signed index, as build does', async (t) => {
  const f = liveFixture(t, [{ name: 'a', version: '1.0', depends: [] }, { name: 'x', version: '1.0' }]);
  const index = JSON.parse(readFileSync(join(f.repo, 'index.json'), 'utf8'));
  // Signed by the trusted key, but the entry's metadata is not the package's.
  const forged = { ...index, serial: index.serial + 1, packages: index.packages.map((p: { name: string }) => (p.name === 'a' ? { ...p, depends: ['x'] } : p)) };
  const bytes = canonicalBytes(forged);
  writeFileSync(join(f.repo, 'index.json'), bytes);
  writeFileSync(join(f.repo, 'index.sig'), signBytes(bytes, f.key));
  const r = f.run(['install', 'a']);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /a-1\.0-x86_64\.mpk: index says depends \["x"\], the package says \[\] \[MN0213\]/);
  t.same(installed(f.root), {}, 'nothing installed');
});

t.test('queries only read: a newer index does not make search or list --upgradable write the root', async (t) => {
  const f = liveFixture(t, [{ name: 'a', version: '1.0' }]);
  let r = f.run(['install', 'a']);
  t.equal(r.code, 0, r.stderr);
  makeRepo(f.repo, f.key, [{ name: 'a', version: '2.0' }], { name: 'main' });
  const serials = join(f.root, 'var/lib/minos/serials.json');
  const before = readFileSync(serials, 'utf8');
  // An ordinary user on a root-owned root: every folder on the way must be searchable.
  for (let d = f.root; d !== '/'; d = join(d, '..')) sh(`chmod o+rx '${d}'`);
  sh(`chmod -R o+rX '${f.dir}'`);
  for (const args of [['search', 'a'], ['list', '--upgradable'], ['list'], ['info', 'a'], ['files', 'a'], ['verify'], ['history'], ['plan', 'upgrade']]) {
    r = minos(['--root', f.root, ...args], { user: 'nobody' });
    t.equal(r.code, 0, `${args.join(' ')} as nobody: ${r.stderr}`);
    r = f.run(args);
    t.equal(r.code, 0, `${args.join(' ')} as root: ${r.stderr}`);
  }
  t.equal(readFileSync(serials, 'utf8'), before, 'serials.json unchanged');
  r = f.run(['upgrade']);
  t.equal(r.code, 0, r.stderr);
  t.not(readFileSync(serials, 'utf8'), before, 'a writing command records the new serial');
});
