/** minos build through the CLI: every format, rootless, reproducible, lock, conflicts, http, cross-arch. */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { BIN, minos, serveFolder, sh, tempDir } from './lib/cli.js';
import { makeKey, makeRepo, writeSpec, type PkgDef } from './lib/repo.js';

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

const base: PkgDef = {
  name: 'base', version: '1.0-1', arch: 'noarch', provides: ['base-files = 1'],
  users: [{ name: 'root', uid: 0, group: 'root', home: '/root', shell: '/bin/sh' }],
  groups: [{ name: 'root', gid: 0 }, { name: 'tty', gid: 5 }],
  files: { 'etc/os-release': 'ID=minos\n' },
  overrides: {
    '/dev/null': { type: 'char', major: 1, minor: 3, mode: '0666' },
    '/dev/console': { type: 'char', major: 5, minor: 1, mode: '0620', group: 'tty' },
    '/run/ctl': { type: 'fifo', mode: '0600' },
    '/tmp': { type: 'dir', mode: '1777' },
  },
};
const hello: PkgDef = {
  name: 'hello', version: '2.0-1', depends: ['base-files'], optional: ['hello-doc'], license: 'GPL-2.0-only',
  users: [{ name: 'hello', uid: 100, group: 'hello', home: '/var/lib/hello', shell: '/sbin/nologin' }],
  groups: [{ name: 'hello', gid: 100 }],
  files: { 'usr/bin/hello': '#!/bin/sh\necho hello\n', 'usr/bin/passwd': 'pw\n' },
  overrides: {
    '/usr/bin/hello': { mode: '4755' },
    '/usr/bin/passwd': { mode: '2755', group: 'hello' },
    '/usr/bin/hi': { type: 'symlink', target: 'hello' },
    '/var/lib/hello': { type: 'dir', owner: 'hello', group: 'hello', mode: '0750' },
  },
};
const helloDoc: PkgDef = { name: 'hello-doc', arch: 'noarch', files: { 'usr/share/doc/hello/README': 'read me\n' } };
const helloArm: PkgDef = { ...hello, arch: 'aarch64', files: { 'usr/bin/hello': '#!/bin/sh\necho hello from arm\n', 'usr/bin/passwd': 'pw\n' } };

function setup(t: Tap.Test, extra: PkgDef[] = [], repoOpts = {}) {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const key = makeKey(join(dir, 'keys'));
  const repo = makeRepo(join(dir, 'repo'), key, [base, hello, helloDoc, helloArm, ...extra], repoOpts);
  const spec = writeSpec(join(dir, 'image.yaml'), {
    name: 'test', arch: 'x86_64',
    repositories: [{ path: 'repo', keys: ['keys/test.pub'] }],
    packages: ['hello'], optional: true,
    users: [{ name: 'admin', uid: 1000, group: 'admin', home: '/home/admin', shell: '/bin/sh' }],
    groups: [{ name: 'admin', gid: 1000 }],
  });
  const out = join(dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  sh(`chmod -R a+rX ${dir}`);
  return { dir, key, repo, spec, out };
}

t.test('every format, as an ordinary user: owners, setuid, devices, links read back', async (t) => {
  const { spec, out } = setup(t);
  for (const f of ['img.tar', 'img.tar.zst', 'img.cpio', 'img']) {
    const r = minos(['build', spec, '-o', join(out, f), '--json'], { user: 'nobody', env: SDE });
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    t.equal(j.packages.length, 3, 'base, hello and the optional hello-doc');
    t.equal(j.format, f === 'img' ? 'dir' : f.slice(4));
  }
  const tarList = sh(`tar -tvf ${join(out, 'img.tar')}`);
  t.match(tarList, /-rwsr-xr-x root\/root\s+21 2023-11-14 22:13 usr\/bin\/hello\n/);
  t.match(tarList, /-rwxr-sr-x root\/hello\s+3 .* usr\/bin\/passwd\n/);
  t.match(tarList, /crw--w---- root\/tty\s+5,1 .* dev\/console/);
  t.match(tarList, /prw------- root\/root\s+0 .* run\/ctl/);
  t.match(tarList, /drwxrwxrwt root\/root\s+0 .* tmp\//);
  t.match(tarList, /drwxr-x--- hello\/hello\s+0 .* var\/lib\/hello\//);
  t.match(tarList, /lrwxrwxrwx root\/root\s+0 .* usr\/bin\/hi -> hello/);
  t.notMatch(tarList, /nobody/);
  const numeric = sh(`tar --numeric-owner -tvf ${join(out, 'img.tar')}`);
  t.match(numeric, /drwxr-x--- 100\/100 .* var\/lib\/hello\//);
  t.equal(sh(`zstd -dc ${join(out, 'img.tar.zst')} | sha256sum`).split(' ')[0], sha(join(out, 'img.tar')), 'tar.zst holds the same tar');
  const cpioList = sh(`cpio -itv --quiet < ${join(out, 'img.cpio')}`);
  t.match(cpioList, /-rwsr-xr-x\s+1 root\s+root\s+21 .* usr\/bin\/hello/);
  t.match(cpioList, /crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* dev\/null/);
  t.match(sh(`cpio -itv --quiet --numeric-uid-gid < ${join(out, 'img.cpio')}`), /drwxr-x---\s+2 100\s+100\s+0 .* var\/lib\/hello/);
  t.match(cpioList, /lrwxrwxrwx\s+1 root\s+root\s+5 .* usr\/bin\/hi -> hello/);
  // the directory: modes exact, owners deferred to the database
  const img = join(out, 'img');
  t.equal(statSync(join(img, 'usr/bin/hello')).mode & 0o7777, 0o4755);
  t.equal(statSync(join(img, 'tmp')).mode & 0o7777, 0o1777);
  t.equal(readlinkSync(join(img, 'usr/bin/hi')), 'hello');
  t.ok(lstatSync(join(img, 'run/ctl')).isFIFO());
  t.notOk(existsSync(join(img, 'dev/null')), 'no device nodes without root');
  t.equal(statSync(join(img, 'usr/bin/hello')).mtimeMs, 1700000000 * 1000);
  const db = JSON.parse(readFileSync(join(img, 'var/lib/minos/installed.json'), 'utf8'));
  t.same(db.packages.map((p: { name: string }) => p.name), ['base', 'hello', 'hello-doc']);
  t.match(db.deferred, [{ path: 'dev' }]);
  t.ok(db.deferred.some((d: { path: string; type?: string; devmajor?: number }) => d.path === 'dev/null' && d.type === 'char' && d.devmajor === 1));
  t.ok(db.deferred.some((d: { path: string; uid: number; gid: number }) => d.path === 'var/lib/hello' && d.uid === 100 && d.gid === 100));
  t.equal(readFileSync(join(img, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\nhello:x:100:100::/var/lib/hello:/sbin/nologin\nadmin:x:1000:1000::/home/admin:/bin/sh\n');
  t.equal(readFileSync(join(img, 'etc/group'), 'utf8'), 'root:x:0:\ntty:x:5:\nhello:x:100:\nadmin:x:1000:\n');
  t.equal(statSync(join(img, 'etc/shadow')).mode & 0o777, 0o600);
  t.ok(existsSync(join(img, 'etc/minos/repositories.json')));
  t.equal(readdirSync(join(img, 'etc/minos/keys')).length, 1);
});

t.test('reproducible: two builds, root and non-root, give identical archives', async (t) => {
  const { spec, out } = setup(t);
  for (const ext of ['tar', 'tar.zst', 'cpio']) {
    t.equal(minos(['build', spec, '-o', join(out, `a.${ext}`)], { env: { MINOS_UNPACK_WORKERS: '2' } }).code, 0);
    t.equal(minos(['build', spec, '-o', join(out, `b.${ext}`)], { user: 'nobody', env: { MINOS_UNPACK_WORKERS: '0' } }).code, 0);
    t.equal(sha(join(out, `a.${ext}`)), sha(join(out, `b.${ext}`)), `${ext}: root with worker threads, nobody without`);
    t.equal(minos(['build', spec, '-o', join(out, `c.${ext}`)]).code, 0);
    t.equal(sha(join(out, `c.${ext}`)), sha(join(out, `a.${ext}`)), `${ext}: writes made on a worker thread (the default for a small build)`);
  }
  const dirs = ['2', '0'].map((w) => {
    const d = join(out, `dir-${w}`);
    t.equal(minos(['build', spec, '-o', d], { env: { MINOS_UNPACK_WORKERS: w } }).code, 0);
    return sh(`cd ${d} && find . -printf '%p %m %U %G %s %T@ %l\\n' | sort && find . -type f -exec sha256sum {} + | sort`);
  });
  t.equal(dirs[0], dirs[1], 'directory builds with and without worker threads are identical');
  // without SOURCE_DATE_EPOCH every mtime is the newest package build time
  t.match(sh(`tar -tvf ${join(out, 'a.tar')} | head -1`), /2023-11-14 22:13/);
  t.equal(readFileSync(join(out, 'a.tar.lock.json'), 'utf8'), readFileSync(join(out, 'b.tar.lock.json'), 'utf8'));
  t.equal(readFileSync(join(out, 'a.tar.spdx.json'), 'utf8'), readFileSync(join(out, 'b.tar.spdx.json'), 'utf8'));
});

t.test('lockfile, SBOM, --frozen, and a frozen build of an expired snapshot', async (t) => {
  const { dir, key, spec, out } = setup(t);
  const img = join(out, 'img.tar');
  t.equal(minos(['build', spec, '-o', img]).code, 0);
  const lock = JSON.parse(readFileSync(`${img}.lock.json`, 'utf8'));
  t.equal(lock.repositories[0].name, 'main');
  t.match(lock.repositories[0].digest, /^[0-9a-f]{64}$/);
  t.match(lock.packages, [{ name: 'base', version: '1.0-1', arch: 'noarch', repo: 'main' }, { name: 'hello', version: '2.0-1', arch: 'x86_64' }, { name: 'hello-doc' }]);
  const sbom = JSON.parse(readFileSync(`${img}.spdx.json`, 'utf8'));
  t.equal(sbom.spdxVersion, 'SPDX-2.3');
  const h = sbom.packages.find((p: { name: string }) => p.name === 'hello');
  t.match(h, { versionInfo: '2.0-1', licenseDeclared: 'GPL-2.0-only', supplier: 'Organization: main', checksums: [{ algorithm: 'SHA256', checksumValue: lock.packages[1].sha256 }] });
  t.ok(sbom.relationships.some((r: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }) =>
    r.spdxElementId === h.SPDXID && r.relationshipType === 'DEPENDS_ON' && r.relatedSpdxElement === 'SPDXRef-Package-base'));

  // the same spec and index again: the lockfile is taken as it is, with the same result
  t.match(lock.resolved, /^[0-9a-f]{64}$/, 'the lockfile records its resolution digest');
  const again = minos(['build', spec, '-o', join(out, 'again.tar'), '--lock', `${img}.lock.json`, '--json']);
  t.equal(again.code, 0, again.stderr);
  t.equal(JSON.parse(again.stdout).resolution, 'locked', 'a matching lockfile is taken as locked');
  t.equal(readFileSync(join(out, 'again.tar'), 'utf8'), readFileSync(img, 'utf8'), 'the same image');
  t.same(JSON.parse(readFileSync(`${img}.lock.json`, 'utf8')), lock, 'and the same lockfile');
  // hand-edited: a package dropped from the lockfile no longer matches its digest, and is resolved back
  const edited = join(dir, 'edited.lock.json');
  writeFileSync(edited, JSON.stringify({ ...lock, packages: lock.packages.filter((p: { name: string }) => p.name !== 'hello-doc') }));
  const re = minos(['build', spec, '-o', join(out, 'again.tar'), '--lock', edited, '--json']);
  t.equal(re.code, 0, re.stderr);
  t.equal(JSON.parse(re.stdout).resolution, 'resolved');
  t.match(JSON.parse(re.stdout).packages.map((p: { name: string }) => p.name), ['base', 'hello', 'hello-doc']);
  // a --frozen build of a hand-edited lockfile does not vouch for it: the lockfile it writes has no digest, and the next build resolves
  writeFileSync(edited, JSON.stringify({ ...lock, packages: lock.packages.filter((p: { name: string }) => p.name !== 'hello-doc') }));
  t.equal(minos(['build', spec, '-o', join(out, 'again.tar'), '--lock', edited, '--frozen']).code, 0);
  t.equal(JSON.parse(readFileSync(edited, 'utf8')).resolved, undefined, 'no resolution digest after --frozen of an edited lockfile');
  t.equal(JSON.parse(minos(['build', spec, '-o', join(out, 'again.tar'), '--lock', edited, '--json']).stdout).resolution, 'resolved');
  writeFileSync(edited, JSON.stringify({ ...lock, resolved: 'not a digest' }));
  const badDigest = minos(['build', spec, '-o', join(out, 'again.tar'), '--lock', edited]);
  t.equal(badDigest.code, 2, badDigest.stderr);
  t.match(badDigest.stderr, /edited\.lock\.json: field "resolved": expected 64 hex digits/);
  // another spec (no optional dependencies) with the same lockfile resolves
  const spec2 = writeSpec(join(dir, 'image2.yaml'), { name: 'test', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello'], optional: false });
  const otherLock = join(dir, 'other.lock.json');
  writeFileSync(otherLock, JSON.stringify(lock));
  const other = minos(['build', spec2, '-o', join(out, 'other.tar'), '--lock', otherLock, '--json']);
  t.equal(other.code, 0, other.stderr);
  t.equal(JSON.parse(other.stdout).resolution, 'resolved', 'another spec resolves');
  t.notOk(JSON.parse(other.stdout).packages.some((p: { name: string }) => p.name === 'hello-doc'));
  t.equal(JSON.parse(minos(['build', spec, '-o', join(out, 'again.tar'), '--lock', `${img}.lock.json`, '--update', '--json']).stdout).resolution, 'resolved', '--update resolves');

  // a newer hello appears: the lock keeps 2.0-1, --update takes 3.0
  makeRepo(join(dir, 'repo'), key, [base, hello, helloDoc, { ...hello, version: '3.0-1' }]);
  t.equal(minos(['build', spec, '-o', img, '--json']).code, 0);
  t.match(JSON.parse(readFileSync(`${img}.lock.json`, 'utf8')).packages[1], { name: 'hello', version: '2.0-1' }, 'the lockfile locks by default');
  const up = minos(['build', spec, '-o', img, '--update', '--json']);
  t.match(JSON.parse(up.stdout).packages[1], { version: '3.0-1' });
  t.equal(minos(['build', spec, '-o', img, '--lock', join(dir, 'pinned.lock.json')]).code, 0);

  // frozen: exactly the locked set; the index has expired since, but the lock pins its digest
  makeRepo(join(dir, 'repo'), key, [base, hello, helloDoc, { ...hello, version: '3.0-1' }], { created: 1700000000, expires: 86400 });
  const expired = minos(['build', spec, '-o', join(out, 'x.tar')]);
  t.equal(expired.code, 4);
  t.match(expired.stderr, /repository "main" .* index expired at 2023-11-15T22:13:20Z/);
  t.notOk(existsSync(join(out, 'x.tar')));
  const lockCopy = join(dir, 'frozen.lock.json');
  t.equal(minos(['build', spec, '-o', join(out, 'y.tar'), '--allow-expired', '--lock', lockCopy]).code, 0);
  const frozen = minos(['build', spec, '-o', join(out, 'z.tar'), '--frozen', '--lock', lockCopy, '--json']);
  t.equal(frozen.code, 0, frozen.stderr);
  t.match(JSON.parse(frozen.stdout).packages[1], { name: 'hello', version: '3.0-1' });

  // a locked package that is gone or different: exit 4
  const lockData = JSON.parse(readFileSync(lockCopy, 'utf8'));
  lockData.packages[1].sha256 = '0'.repeat(64);
  writeFileSync(lockCopy, JSON.stringify(lockData));
  const differs = minos(['build', spec, '-o', join(out, 'w.tar'), '--frozen', '--lock', lockCopy]);
  t.equal(differs.code, 4);
  t.match(differs.stderr, /locked hello 3\.0-1 differs in repository "main"/);
  lockData.packages[1].version = '9.9';
  writeFileSync(lockCopy, JSON.stringify(lockData));
  const gone = minos(['build', spec, '-o', join(out, 'w.tar'), '--frozen', '--lock', lockCopy]);
  t.equal(gone.code, 4);
  t.match(gone.stderr, /locked hello 9\.9 \(x86_64\) is missing from repository "main"/);
  t.notOk(existsSync(join(out, 'w.tar')));
});

t.test('plan: text and JSON, nothing fetched or written', async (t) => {
  const { dir, spec } = setup(t);
  const before = sh(`find ${dir} | sort`);
  const text = minos(['plan', spec]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^test \(x86_64\): 3 packages to install\n/);
  t.match(text.stdout, /\n {2}hello\s+2\.0-1\s+x86_64\s+main\n/);
  const json = JSON.parse(minos(['plan', spec, '--json', '--arch', 'aarch64']).stdout);
  t.same(Object.keys(json), ['install', 'remove', 'upgrade']);
  t.same(json.install.map((l: { name: string; arch: string }) => `${l.name}:${l.arch}`), ['base:noarch', 'hello:aarch64', 'hello-doc:noarch']);
  t.same(json.install[1], { name: 'hello', version: '2.0-1', arch: 'aarch64', repo: 'main' });
  t.equal(sh(`find ${dir} | sort`), before, 'plan writes nothing');
});

t.test('a flipped byte in a repository package: exit 4, nothing at the output', async (t) => {
  const { repo, spec, out } = setup(t);
  const f = join(repo, 'hello-2.0-1-x86_64.mpk');
  const b = readFileSync(f);
  b[b.length - 30] ^= 1;
  writeFileSync(f, b);
  for (const [o, threads] of [['img.tar', '1'], ['img', '1'], ['img', '2'], ['img', '3'], ['img', ''], ['img.tar', '']]) {
    // '': the default, where a small build's writes are made on a worker thread
    const r = minos(['build', spec, '-o', join(out, o)], { env: threads ? { MINOS_UNPACK_WORKERS: threads } : {} });
    t.equal(r.code, 4, `${threads} threads: ${r.stderr}`);
    t.match(r.stderr, /hello-2\.0-1-x86_64\.mpk: /);
    t.same(readdirSync(out), [], 'nothing left at or beside the output');
  }
});

t.test('a device node mknod cannot make: one line naming it, nothing at the output', { skip: process.getuid?.() !== 0 && 'device nodes are made as root only' }, async (t) => {
  const { dir, spec, out } = setup(t);
  // mknod(1) is found through PATH: this one fails as a root without CAP_MKNOD or on a nodev mount would.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'mknod'), '#!/bin/sh\necho "mknod: $1: Operation not permitted" >&2\nexit 1\n', { mode: 0o755 });
  const r = minos(['build', spec, '-o', join(out, 'img')], { env: { PATH: `${bin}:${process.env.PATH}` } });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /\/dev\/console: cannot create char: mknod: .*Operation not permitted \[MN0003\]/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.same(readdirSync(out), [], 'nothing left at or beside the output');
});

t.test('file conflicts: exit 6 naming both packages, unless one replaces the other', async (t) => {
  const clash: PkgDef = { name: 'clash', files: { 'usr/bin/hello': 'other\n' } };
  const { dir, key, spec, out } = setup(t, [clash]);
  writeSpec(spec, { name: 'c', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello', 'clash'] });
  const r = minos(['build', spec, '-o', join(out, 'c.tar')]);
  t.equal(r.code, 6, r.stderr);
  t.match(r.stderr, /file conflict: \/usr\/bin\/hello is in both clash 1\.0 \(file\) and hello 2\.0-1 \(file\)/);
  t.same(readdirSync(out), []);
  makeRepo(join(dir, 'repo'), key, [base, hello, helloDoc, { ...clash, replaces: ['hello'] }]);
  const ok = minos(['build', spec, '-o', join(out, 'c.tar')]);
  t.equal(ok.code, 0, ok.stderr);
  t.equal(sh(`tar -xOf ${join(out, 'c.tar')} usr/bin/hello`), 'other\n', 'the replacing package wins');
});

t.test('an aarch64 image built on x86_64', async (t) => {
  const { spec, out } = setup(t);
  const r = minos(['build', spec, '-o', join(out, 'arm.tar'), '--arch', 'aarch64', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { arch: 'aarch64', packages: [{ name: 'base', arch: 'noarch' }, { name: 'hello', arch: 'aarch64' }, { name: 'hello-doc' }] });
  t.equal(sh(`tar -xOf ${join(out, 'arm.tar')} usr/bin/hello`), '#!/bin/sh\necho hello from arm\n');
  const riscv = minos(['build', spec, '-o', join(out, 'rv.tar'), '--arch', 'riscv64']);
  t.equal(riscv.code, 3);
  t.match(riscv.stderr, /hello/);
});

t.test('an http repository on loopback, verified the same way', async (t) => {
  const { dir, repo, out } = setup(t);
  const url = await serveFolder(t, repo);
  const spec = writeSpec(join(dir, 'http.yaml'), { name: 'h', arch: 'x86_64', repositories: [{ url, keys: ['keys/test.pub'] }], packages: ['hello'] });
  const env = { XDG_CACHE_HOME: join(dir, 'cache') };
  const r = spawnAsync(['build', spec, '-o', join(out, 'h.tar'), '--json'], env);
  const res = await r;
  t.equal(res.code, 0, res.stderr);
  t.equal(JSON.parse(res.stdout).packages.length, 2);
  // a tampered package served over http is refused just the same
  const f = join(repo, 'hello-2.0-1-x86_64.mpk');
  const b = readFileSync(f);
  b[100] ^= 1;
  writeFileSync(f, b);
  const bad = await spawnAsync(['build', spec, '-o', join(out, 'h2.tar')], { XDG_CACHE_HOME: join(dir, 'cache2') });
  t.equal(bad.code, 4, bad.stderr);
  t.notOk(existsSync(join(out, 'h2.tar')));
});

t.test('bad specs and repositories', async (t) => {
  const { dir, key, spec, out } = setup(t);
  const write = (yaml: string) => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, yaml);
    return minos(['build', f, '-o', join(out, 'bad.tar')]);
  };
  const repos = 'repositories:\n  - path: repo\n    keys: [keys/test.pub]\n';
  const cases: [string, number, RegExp][] = [
    [`name: x\narch: x86_64\n${repos}packages: [hello]\ncolour: red\n`, 2, /bad\.yaml:7: field "colour": unknown field/],
    [`name: x\narch: x86_64\n${repos}packages: hello\n`, 2, /bad\.yaml:6: field "packages": expected a list/],
    [`name: x\narch: x86_64\npackages: [hello]\n`, 2, /field "repositories": is required/],
    [`name: x\narch: x86_64\nrepositories:\n  - path: repo\npackages: [hello]\n`, 2, /bad\.yaml:4: field "repositories\[0\]\.keys": is required/],
    [`name: x\narch: x86_64\nrepositories:\n  - path: repo\n    keys: [keys/nope.pub]\npackages: [hello]\n`, 2, /nope\.pub: no such file/],
    [`name: x\narch: x86_64\nrepositories:\n  - path: nowhere\n    keys: [keys/test.pub]\npackages: [hello]\n`, 2, /nowhere: not a repository/],
    [`name: x\narch: x86_64\n${repos}packages: [helo]\n`, 3, /helo.*hello/],
    [`name: x\narch: x86_64\n${repos}packages: ["hello >= 9"]\n`, 3, /hello/],
    [`name: x\narch: vax\n${repos}packages: [hello]\n`, 2, /bad\.yaml:2: field "arch": unknown target architecture "vax"/],
    [`name: x\narch: x86_64\n${repos}packages: [hello]\noutput: {format: zip}\n`, 2, /field "output\.format": unsupported format "zip"/],
    [`name: x\narch: x86_64\n${repos}packages: ["hello >>> 1"]\n`, 2, /bad\.yaml:6: field "packages\[0\]": invalid dependency/],
  ];
  for (const [yaml, code, msg] of cases) {
    const r = write(yaml);
    t.equal(r.code, code, `${msg}: ${r.stderr}`);
    t.match(r.stderr, msg);
    t.equal(r.stderr.trim().split('\n').length, 1);
  }
  const fmt = minos(['build', spec, '-o', join(out, 'x'), '--format', 'zip']);
  t.equal(fmt.code, 2);
  t.match(fmt.stderr, /--format zip/);
  // repository problems name the repository: bad signature, rollback against the lock
  t.equal(minos(['build', spec, '-o', join(out, 'ok.tar')]).code, 0);
  const idx = join(dir, 'repo', 'index.json');
  const good = readFileSync(idx);
  writeFileSync(idx, good.toString().replace('"serial":1', '"serial":7'));
  const sig = minos(['build', spec, '-o', join(out, 'bad.tar')]);
  t.equal(sig.code, 4);
  t.match(sig.stderr, /repo\/index\.json: index signature does not verify/);
  makeRepo(join(dir, "repo"), key, [base, hello, helloDoc]); // serial 8: one past the tampered 7
  t.equal(minos(['build', spec, '-o', join(out, 'ok.tar')]).code, 0);
  // an older index (serial 1 again) than the lockfile has seen
  const old = join(dir, 'old');
  makeRepo(old, key, [base, hello, helloDoc]);
  sh(`cp ${old}/index.json ${old}/index.sig ${join(dir, 'repo')}/`);
  const rb = minos(['build', spec, '-o', join(out, 'ok.tar')]);
  t.equal(rb.code, 4);
  t.match(rb.stderr, /repository "main" .* has serial 1, older than 8 in the lockfile \(rollback\)/);
  t.same(readdirSync(out).filter((f) => !f.startsWith('ok.tar')), []);
});

t.test('overlay and spec output settings', async (t) => {
  const { dir, spec, out } = setup(t);
  mkdirSync(join(dir, 'overlay/etc'), { recursive: true });
  writeFileSync(join(dir, 'overlay/etc/motd'), 'overlaid\n');
  writeFileSync(join(dir, 'overlay/etc/os-release'), 'ID=custom\n');
  writeSpec(spec, {
    name: 'o', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello'],
    overlay: { path: 'overlay', group: 'admin' }, output: { path: 'out/o.cpio' },
    groups: [{ name: 'admin', gid: 1000 }],
  });
  const r = minos(['build', spec, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).format, 'cpio');
  t.match(sh(`cpio -itv --quiet --numeric-uid-gid < ${join(out, 'o.cpio')}`), /-rw-r--r--\s+1 0\s+1000\s+9 .* etc\/motd/);
  t.equal(sh(`cd ${dir} && cpio -i --quiet --to-stdout etc/os-release < out/o.cpio`), 'ID=custom\n');
});

function spawnAsync(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return import('node:child_process').then(({ spawn }) => new Promise((ok) => {
    const p = spawn(process.execPath, [join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../bin/minos.js'), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => ok({ code: code ?? 128, stdout, stderr }));
  }));
}

t.test('a request with alternatives marks the installed alternative explicit', async (t) => {
  const { dir, out } = setup(t);
  const alt = writeSpec(join(dir, 'alt.yaml'), {
    name: 'alt', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello-doc@main | base', 'hello >= 2'],
  });
  const r = minos(['build', alt, '-o', join(out, 'img')]);
  t.equal(r.code, 0, r.stderr);
  const db = JSON.parse(readFileSync(join(out, 'img/var/lib/minos/installed.json'), 'utf8')) as { packages: { name: string; explicit: boolean }[] };
  t.same(Object.fromEntries(db.packages.map((p) => [p.name, p.explicit])), { base: true, hello: true });
});

t.test('plan reads the lockfile build would read; --lock moves only the lockfile', async (t) => {
  const { dir, key, spec, out } = setup(t);
  const img = join(out, 'img.tar');
  const lock = join(dir, 'elsewhere.lock.json');
  let r = minos(['build', spec, '-o', img, '--lock', lock], { env: SDE });
  t.equal(r.code, 0, r.stderr);
  t.ok(existsSync(lock) && !existsSync(`${img}.lock.json`), 'the lockfile where --lock says');
  t.ok(existsSync(`${img}.spdx.json`) && !existsSync(join(dir, 'elsewhere.spdx.json')), 'the SBOM beside the output');
  // A newer hello appears in the repository.
  makeRepo(join(dir, 'repo'), key, [base, { ...hello, version: '3.0-1' }, helloDoc, helloArm]);
  const version = (args: string[]) => {
    const p = minos(['plan', spec, '--json', ...args]);
    t.equal(p.code, 0, p.stderr);
    return (JSON.parse(p.stdout) as { install: { name: string; version: string }[] }).install.find((x) => x.name === 'hello')?.version;
  };
  t.equal(version([]), '3.0-1', 'no lockfile: the newest');
  t.equal(version(['--lock', lock]), '2.0-1', '--lock: the locked version, as build keeps it');
  t.equal(version(['--lock', lock, '--update']), '3.0-1', '--update: afresh');
  t.equal(version(['-o', join(out, 'none.tar')]), '3.0-1', '-o with no lockfile beside it');
  const text = minos(['plan', spec, '--lock', lock]);
  t.match(text.stdout, /lockfile .*elsewhere\.lock\.json: \d+ locked versions kept where they fit/);
  r = minos(['plan', spec, '--lock', join(dir, 'missing.json')]);
  t.equal(r.code, 2, 'an explicit --lock that is not there');
  t.match(r.stderr, /missing\.json.*\[MN0101\]/);
  // The lockfile remembers a newer index serial than the repository now has: rollback, as in build.
  const locked = JSON.parse(readFileSync(lock, 'utf8'));
  locked.repositories[0].serial += 1000;
  writeFileSync(lock, JSON.stringify(locked));
  r = minos(['plan', spec, '--lock', lock]);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /older than .* in the lockfile \(rollback\) \[MN0211\]/);
});

t.test('the image\'s repositories: where the device finds them, never a folder of the build machine', async (t) => {
  const { dir, spec, out } = setup(t);
  const img = join(out, 'img');
  let r = minos(['build', spec, '-o', img]);
  t.equal(r.code, 0, r.stderr);
  const conf = readFileSync(join(img, 'etc/minos/repositories.json'), 'utf8');
  t.notOk(conf.includes(dir), 'no path of the build machine');
  t.same(JSON.parse(conf).map((x: { name: string; url?: string; path?: string }) => [x.name, x.url, x.path]), [['main', undefined, undefined]]);
  r = minos(['--root', img, 'repo', 'list']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^main {2}\(no location on this device/m);
  r = minos(['--root', img, 'list', '--upgradable']);
  t.equal(r.code, 0, `queries work without it: ${r.stderr}`);
  // The spec says where: a URL, or a path on the device.
  const spec2 = readFileSync(spec, 'utf8').replace(/keys:\n(\s+)- keys\/test.pub\n/, (m, sp) => `${m}${sp.slice(2)}device: https://repo.example/minos\n`);
  writeFileSync(spec, spec2);
  r = minos(['build', spec, '-o', join(out, 'img2')]);
  t.equal(r.code, 0, r.stderr);
  t.match(readFileSync(join(out, 'img2/etc/minos/repositories.json'), 'utf8'), /"url": "https:\/\/repo\.example\/minos"/);
  writeFileSync(spec, spec2.replace('https://repo.example/minos', '../x'));
  r = minos(['build', spec, '-o', join(out, 'img3')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /image\.yaml:\d+: field "repositories\[0\]\.device": "\.\.\/x" is not a URL or a path on the device/);
});

t.test('tar.gz: the same tar, gzip-compressed (members of 8 MiB), reproducible, root or not', async (t) => {
  const { spec, out } = setup(t);
  for (const [f, user] of [['a.tar', undefined], ['b.tar.gz', undefined], ['c.tgz', 'nobody']] as const) {
    const r = minos(['build', spec, '-o', join(out, f)], { env: SDE, user });
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
  }
  t.equal(sh(`gzip -dc ${join(out, 'b.tar.gz')} | sha256sum`).split(' ')[0], sha(join(out, 'a.tar')), 'gunzip gives the tar build');
  t.equal(sha(join(out, 'b.tar.gz')), sha(join(out, 'c.tgz')), 'root and nobody: the same bytes');
  t.match(sh(`tar -tzvf ${join(out, 'b.tar.gz')}`), /-rwsr-xr-x root\/root\s+21 .* usr\/bin\/hello/);
  const r = minos(['build', spec, '-o', join(out, 'd.tar.gz'), '--level', '10']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--level 10: gzip takes 1 to 9 \[MN0002\]/);
  t.notOk(existsSync(join(out, 'd.tar.gz')));
});

t.test('tar.xz: the same tar, xz-compressed (CRC64, as xz -T1 writes it), reproducible, root or not', async (t) => {
  const { spec, out } = setup(t);
  for (const [f, user, level] of [['a.tar', undefined, []], ['b.tar.xz', undefined, []], ['c.txz', 'nobody', []], ['d.tar.xz', undefined, ['--level', '0']]] as const) {
    const r = minos(['build', spec, '-o', join(out, f), ...level], { env: SDE, user });
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
  }
  t.equal(sh(`xz -dc ${join(out, 'b.tar.xz')} | sha256sum`).split(' ')[0], sha(join(out, 'a.tar')), 'xz -d gives the tar build');
  t.equal(sh(`xz -6 -T1 -c ${join(out, 'a.tar')} | sha256sum`).split(' ')[0], sha(join(out, 'b.tar.xz')), 'the bytes xz -6 -T1 writes');
  t.equal(sh(`xz -0 -T1 -c ${join(out, 'a.tar')} | sha256sum`).split(' ')[0], sha(join(out, 'd.tar.xz')), '--level 0: the bytes of xz -0');
  t.equal(sha(join(out, 'b.tar.xz')), sha(join(out, 'c.txz')), 'root and nobody: the same bytes');
  t.match(sh(`xz -lvv ${join(out, 'b.tar.xz')}`), /Check:\s+CRC64/);
  const again = minos(['build', spec, '-o', join(out, 'b.tar.xz')], { env: SDE });
  t.equal(again.code, 0, `an earlier tar.xz is replaced without --force: ${again.stderr}`);
  t.match(sh(`tar -tJvf ${join(out, 'b.tar.xz')}`), /-rwsr-xr-x root\/root\s+21 .* usr\/bin\/hello/);
  const r = minos(['build', spec, '-o', join(out, 'e.tar.xz'), '--level', '10']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--level 10: xz takes 0 to 9 \[MN0002\]/);
  t.notOk(existsSync(join(out, 'e.tar.xz')));
});

t.test('-o -: a tar-family image on standard output and nothing else', async (t) => {
  const { dir, spec, out } = setup(t);
  const r0 = minos(['build', spec, '-o', join(out, 'f.tar.zst')], { env: SDE });
  t.equal(r0.code, 0, r0.stderr);
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'build', spec, '-o', '-', ...args], { env: { ...process.env, ...SDE }, maxBuffer: 1 << 28 });
  const r = run(['--format', 'tar.zst']);
  t.equal(r.status, 0, r.stderr.toString());
  t.ok(r.stdout.equals(readFileSync(join(out, 'f.tar.zst'))), 'the same bytes as the file build');
  t.match(r.stderr.toString(), /^-: tar\.zst image of 3 packages/);
  t.same(readdirSync(dir).filter((n) => n.includes('minos') || n.endsWith('.lock.json')), [], 'nothing written beside (no --lock)');
  const lock = join(dir, 'piped.lock.json');
  const r2 = run(['--format', 'cpio', '--lock', lock, '--json']);
  t.equal(r2.status, 0);
  t.equal(r2.stdout.subarray(0, 6).toString(), '070701', 'cpio on stdout');
  t.match(JSON.parse(r2.stderr.toString()), { out: '-', format: 'cpio', lock });
  t.ok(existsSync(lock) && existsSync(join(dir, 'piped.spdx.json')), 'with --lock: the lockfile, and the SBOM beside it');
  const r3 = run(['--format', 'tar.xz', '--level', '1']);
  t.equal(r3.status, 0, r3.stderr.toString());
  t.equal(spawnSync('xz', ['-dc'], { input: r3.stdout, maxBuffer: 1 << 28 }).stdout.subarray(257, 262).toString(), 'ustar', 'tar.xz on stdout');
  for (const args of [[], ['--format', 'dir'], ['--format', 'squashfs']]) {
    const bad = run(args);
    t.equal(bad.status, 2, args.join(' '));
    t.equal(bad.stdout.length, 0, 'nothing on stdout');
    t.match(bad.stderr.toString(), /-o -: give --format tar, tar\.zst, tar\.gz, tar\.xz, cpio/);
  }
});
