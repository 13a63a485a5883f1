/** The live engine end to end through the CLI, on temp roots. */
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, sh, tempDir } from './lib/cli.js';
import { installed, liveFixture, snapshot } from './lib/live.js';
import { makeKey, makeRepo, writeSpec, type PkgDef } from './lib/repo.js';
import { dbBytes, type InstalledDb } from '../src/db/installed.js';
import { fastDbBytes } from '../src/live/history.js';

const libx1: PkgDef = { name: 'libx', version: '1.0', files: { 'usr/lib/libx.so': 'libx 1\n' } };
const app1: PkgDef = {
  name: 'app', version: '1.0', depends: ['libx >= 1.0'], config: ['/etc/app.conf'],
  files: { 'usr/bin/app': '#!/bin/sh\necho app 1\n', 'etc/app.conf': 'level=1\n', 'usr/share/app/data': 'data 1\n' },
  overrides: { '/usr/bin/app': { mode: '4755' }, '/usr/bin/app-link': { type: 'symlink', target: 'app' } },
};
const tool1: PkgDef = { name: 'tool', version: '1.0', files: { 'usr/bin/tool': 'tool\n' } };

t.test('not a root, corrupt database, unknown names', async (t) => {
  const dir = tempDir(t);
  let r = minos(['--root', dir, 'list']);
  t.equal(r.code, 2, 'not a minos root: exit 2');
  t.match(r.stderr, /is not a minos root.*MN0114.*minos --root .* init/);
  r = minos(['--root', dir, 'init']);
  t.equal(r.code, 0, r.stderr);
  t.ok(existsSync(join(dir, 'var/lib/minos/installed.json')));
  t.ok(existsSync(join(dir, 'etc/minos/repositories.json')));
  r = minos(['--root', dir, 'list', '--json']);
  t.same(JSON.parse(r.stdout), []);
  writeFileSync(join(dir, 'var/lib/minos/installed.json'), '{"format":1,"packa');
  r = minos(['--root', dir, 'install', 'x']);
  t.equal(r.code, 1, 'corrupt database: exit 1');
  t.match(r.stderr, /installed\.json: corrupt installed database.*MN0004/);
  t.equal(readFileSync(join(dir, 'var/lib/minos/installed.json'), 'utf8'), '{"format":1,"packa', 'not overwritten');

  const f = liveFixture(t, [libx1, app1]);
  r = f.run(['install', 'ap']);
  t.equal(r.code, 3, 'unknown name: exit 3');
  t.match(r.stderr, /did you mean app/);
  r = f.run(['remove', 'app']);
  t.equal(r.code, 3);
  t.match(r.stderr, /not installed.*MN0304/);
});

t.test('install, remove with dependents, cascade, queries, verify', async (t) => {
  const f = liveFixture(t, [libx1, app1, tool1]);
  let r = f.run(['install', 'app', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.same(j.install.map((l: { name: string }) => l.name), ['app', 'libx']);
  t.equal(j.generation, 1);
  t.same(installed(f.root), { app: '1.0', libx: '1.0' });
  t.equal(readFileSync(join(f.root, 'usr/bin/app'), 'utf8'), '#!/bin/sh\necho app 1\n');
  t.equal(statSync(join(f.root, 'usr/bin/app')).mode & 0o7777, 0o4755, 'setuid applied');
  t.equal(lstatSync(join(f.root, 'usr/bin/app-link')).isSymbolicLink(), true);
  t.same(readdirSync(join(f.root, 'var/lib/minos/txn')), [], 'no staging left');
  t.equal(readdirSync(join(f.root, 'var/cache/minos')).length, 2, 'both packages cached');

  // Package file install (trusted key), then queries.
  const toolFile = readdirSync(f.repo).find((n) => n.startsWith('tool-'))!;
  r = f.run(['install', join(f.repo, toolFile)]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /installed tool 1.0 \(@file\)/);

  r = f.run(['list', '--json']);
  t.same(JSON.parse(r.stdout).map((p: { name: string; explicit: boolean }) => [p.name, p.explicit]), [['app', true], ['libx', false], ['tool', true]]);
  r = f.run(['info', 'app', '--json']);
  t.equal(JSON.parse(r.stdout).version, '1.0');
  t.equal(JSON.parse(r.stdout).files, 9);
  r = f.run(['search', 'lib', '--json']);
  t.same(JSON.parse(r.stdout).map((h: { name: string; installed?: string }) => [h.name, h.installed]), [['libx', '1.0']]);
  r = f.run(['files', 'libx', '--json']);
  t.same(JSON.parse(r.stdout).map((e: { path: string }) => e.path), ['/usr', '/usr/lib', '/usr/lib/libx.so']);
  r = f.run(['owner', '/usr/bin/app', '--json']);
  t.same(JSON.parse(r.stdout).packages.map((p: { name: string }) => p.name), ['app']);
  r = f.run(['owner', '/usr/bin/nothing']);
  t.equal(r.code, 1);
  t.match(r.stderr, /no package owns \/usr\/bin\/nothing/);
  r = f.run(['verify', '--json']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(JSON.parse(r.stdout).ok, true);

  // verify finds a changed file, a missing one, a mode change and a changed link target.
  writeFileSync(join(f.root, 'usr/share/app/data'), 'data 9\n');
  unlinkSync(join(f.root, 'usr/lib/libx.so'));
  chmodSync(join(f.root, 'usr/bin/tool'), 0o777);
  unlinkSync(join(f.root, 'usr/bin/app-link'));
  symlinkSync('/bin/sh', join(f.root, 'usr/bin/app-link'));
  r = f.run(['verify', '--json']);
  t.equal(r.code, 4, 'verify failures: exit 4');
  const kinds = JSON.parse(r.stdout).problems.map((p: { path: string; kind: string }) => `${p.path} ${p.kind}`).sort();
  t.same(kinds, ['/usr/bin/app-link target', '/usr/bin/tool mode', '/usr/lib/libx.so missing', '/usr/share/app/data content']);
  r = f.run(['verify', 'tool']);
  t.equal(r.code, 4);
  t.match(r.stdout, /tool: \/usr\/bin\/tool: mode \(expected 0644, found 0777\)/);
  t.match(r.stderr, /MN0215/);
  writeFileSync(join(f.root, 'usr/lib/libx.so'), 'libx 1\n');
  writeFileSync(join(f.root, 'usr/share/app/data'), 'data 1\n');
  chmodSync(join(f.root, 'usr/bin/tool'), 0o644);
  unlinkSync(join(f.root, 'usr/bin/app-link'));
  symlinkSync('app', join(f.root, 'usr/bin/app-link'));

  // remove refuses to break a dependency; --cascade removes the dependents too.
  r = f.run(['remove', 'libx']);
  t.equal(r.code, 3);
  t.match(r.stderr, /would break app.*MN0303.*--cascade/);
  t.same(installed(f.root), { app: '1.0', libx: '1.0', tool: '1.0' });
  writeFileSync(join(f.root, 'etc/app.conf'), 'level=99\n');
  r = f.run(['remove', 'libx', '--cascade']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /removed app 1.0/);
  t.match(r.stdout, /saved \/etc\/app.conf .* as \/etc\/app.conf.minos-save/);
  t.same(installed(f.root), { tool: '1.0' });
  t.notOk(existsSync(join(f.root, 'usr/bin/app')));
  t.notOk(existsSync(join(f.root, 'usr/lib')), 'emptied folders removed');
  t.notOk(existsSync(join(f.root, 'etc/app.conf')));
  t.equal(readFileSync(join(f.root, 'etc/app.conf.minos-save'), 'utf8'), 'level=99\n');
  t.ok(existsSync(join(f.root, 'usr/bin/tool')), 'shared folder kept for tool');

  // plan shows what would happen without doing it.
  r = f.run(['plan', 'install', 'app', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).install.map((l: { name: string }) => l.name), ['app', 'libx']);
  t.same(installed(f.root), { tool: '1.0' });
});

t.test('the fast database writer gives exactly the canonical bytes', async (t) => {
  const f = liveFixture(t, [libx1, app1, tool1]);
  t.equal(f.run(['install', 'app', 'tool']).code, 0);
  const db = JSON.parse(readFileSync(join(f.root, 'var/lib/minos/installed.json'), 'utf8')) as InstalledDb;
  const shuffled = { ...db, packages: db.packages.reverse().map((p) => Object.fromEntries(Object.entries(p).reverse())) } as InstalledDb;
  t.ok(fastDbBytes(shuffled).equals(dbBytes(db)));
  t.ok(readFileSync(join(f.root, 'var/lib/minos/installed.json')).equals(dbBytes(db)), 'what install wrote is canonical');
});

t.test('upgrade across two repositories, config protection, history and rollback', async (t) => {
  const f = liveFixture(t, [libx1, app1]);
  let r = f.run(['install', 'app']);
  t.equal(r.code, 0, r.stderr);
  const before = snapshot(f.root);
  writeFileSync(join(f.root, 'etc/app.conf'), 'level=local\n');

  // main gets app 3.0; "extra" (priority 10) has app 2.0 and libx 2.0: priority wins over newer.
  const app = (v: string, conf: string): PkgDef => ({ ...app1, version: v, depends: ['libx >= 1.0'], files: { 'usr/bin/app': `#!/bin/sh\necho app ${v}\n`, 'etc/app.conf': conf, [`usr/share/app/data-${v}`]: `data ${v}\n` } });
  makeRepo(f.repo, f.key, [app('3.0', 'level=3\n')], { name: 'main' });
  const extra = makeRepo(join(f.dir, 'extra'), f.key, [app('2.0', 'level=2\n'), { ...libx1, version: '2.0', files: { 'usr/lib/libx.so': 'libx 2\n' } }], { name: 'extra' });
  r = f.run(['repo', 'add', 'extra', extra, '--priority', '10']);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['repo', 'list', '--json']);
  t.same(JSON.parse(r.stdout).map((x: { name: string; priority: number }) => [x.name, x.priority]), [['extra', 10], ['main', 0]]);
  r = f.run(['list', '--upgradable', '--json']);
  t.same(JSON.parse(r.stdout).map((u: { name: string; available: string }) => [u.name, u.available]), [['app', '2.0'], ['libx', '2.0']]);

  // Staged on two worker threads (the install above: on this thread).
  r = f.run(['upgrade'], { MINOS_LIVE_WORKERS: '3' });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /upgraded app 1.0 -> 2.0 \(extra\)/);
  t.match(r.stdout, /upgraded libx 1.0 -> 2.0 \(extra\)/);
  t.match(r.stderr, /\/etc\/app.conf was changed locally and kept.*\.minos-new/);
  t.same(installed(f.root), { app: '2.0', libx: '2.0' });
  t.equal(readFileSync(join(f.root, 'etc/app.conf'), 'utf8'), 'level=local\n', 'local config kept');
  t.equal(readFileSync(join(f.root, 'etc/app.conf.minos-new'), 'utf8'), 'level=2\n', 'new config beside it');
  t.notOk(existsSync(join(f.root, 'usr/share/app/data-1.0')));
  t.equal(readFileSync(join(f.root, 'usr/bin/app'), 'utf8'), '#!/bin/sh\necho app 2.0\n');
  t.equal(statSync(join(f.root, 'usr/bin/app')).mode & 0o7777, 0o4755);
  r = f.run(['verify']);
  t.equal(r.code, 0, r.stdout);
  t.match(r.stdout, /\/etc\/app.conf: config file changed locally/);

  r = f.run(['history', '--json']);
  const gens = JSON.parse(r.stdout);
  t.equal(gens.length, 2);
  t.same(gens[1].before.map((p: { version: string }) => p.version), ['1.0', '1.0']);
  t.same(gens[1].after.map((p: { version: string }) => p.version), ['2.0', '2.0']);

  // Roll back to generation 1 from the cache, even with the repositories gone.
  rmSync(f.repo, { recursive: true });
  rmSync(extra, { recursive: true });
  writeFileSync(join(f.root, 'etc/app.conf'), 'level=1\n');
  rmSync(join(f.root, 'etc/app.conf.minos-new'));
  r = f.run(['rollback', '1'], { MINOS_LIVE_WORKERS: '2' });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /upgraded app 2.0 -> 1.0/);
  t.same(installed(f.root), { app: '1.0', libx: '1.0' });
  t.same(snapshot(f.root), before, 'exactly the files of generation 1');
  r = f.run(['history', '--json']);
  t.equal(JSON.parse(r.stdout).length, 3);
  r = f.run(['rollback']);
  t.equal(r.code, 0, r.stderr);
  t.same(installed(f.root), { app: '2.0', libx: '2.0' }, 'rollback without argument undoes the last transaction');
});

t.test('files no package owns: exit 6, --force-overwrite; no writes through symlinks on the root', async (t) => {
  const f = liveFixture(t, [libx1, tool1, { name: 'data', files: { 'usr/share/data/x': 'x\n' } }]);
  mkdirSync(join(f.root, 'usr/bin'), { recursive: true });
  writeFileSync(join(f.root, 'usr/bin/tool'), 'mine\n');
  let r = f.run(['install', 'tool']);
  t.equal(r.code, 6);
  t.match(r.stderr, /\/usr\/bin\/tool exists on the root .* belongs to no package.*MN0601.*--force-overwrite/);
  t.same(installed(f.root), {});
  t.equal(readFileSync(join(f.root, 'usr/bin/tool'), 'utf8'), 'mine\n');
  r = f.run(['install', 'tool', '--force-overwrite', '/usr/bin/tool']);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(join(f.root, 'usr/bin/tool'), 'utf8'), 'tool\n');

  // usr/share is a symlink out of the root: the package's folder is refused, nothing lands outside.
  const outside = join(f.dir, 'outside');
  mkdirSync(outside);
  symlinkSync(outside, join(f.root, 'usr/share'));
  r = f.run(['install', 'data']);
  t.equal(r.code, 6, r.stderr);
  t.match(r.stderr, /\/usr\/share exists on the root \(symlink\)/);
  t.same(readdirSync(outside), []);
});

t.test('indexes: expired and rolled-back ones are refused', async (t) => {
  const f = liveFixture(t, [libx1], { expires: 3600 });
  let r = f.run(['install', 'libx']);
  t.equal(r.code, 0, r.stderr);
  // A newer index (serial 2), seen once, then the old one (serial 1) served again.
  const old = { json: readFileSync(join(f.repo, 'index.json')), sig: readFileSync(join(f.repo, 'index.sig')) };
  makeRepo(f.repo, f.key, [tool1], { name: 'main' });
  r = f.run(['install', 'tool']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(readFileSync(join(f.root, 'var/lib/minos/serials.json'), 'utf8')), { main: 2 });
  writeFileSync(join(f.repo, 'index.json'), old.json);
  writeFileSync(join(f.repo, 'index.sig'), old.sig);
  r = f.run(['upgrade']);
  t.equal(r.code, 4);
  t.match(r.stderr, /serial 1 is older than 2.*MN0211/);

  const g = liveFixture(t, [libx1], { expires: 3600 });
  // Re-sign with a creation time long past: expired.
  makeRepo(g.repo, g.key, [], { name: 'main', created: 1_600_000_000, expires: 3600 });
  r = g.run(['install', 'libx']);
  t.equal(r.code, 4);
  t.match(r.stderr, /expired.*MN0210/);
  r = g.run(['install', 'libx', '--allow-expired']);
  t.equal(r.code, 0, r.stderr);
});

t.test('an image made by minos build is a root: upgrade it with --root', async (t) => {
  const dir = tempDir(t);
  const key = makeKey(join(dir, 'keys'));
  const repo = makeRepo(join(dir, 'repo'), key, [libx1, app1]);
  // device: where the image finds the repository later (here the same folder, on the same machine).
  const spec = writeSpec(join(dir, 'image.yaml'), { name: 'img', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'], device: repo }], packages: ['app'] });
  const img = join(dir, 'img');
  let r = minos(['build', spec, '-o', img], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  t.equal(r.code, 0, r.stderr);
  r = minos(['--root', img, 'verify']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  makeRepo(repo, key, [{ ...libx1, version: '1.1', files: { 'usr/lib/libx.so': 'libx 1.1\n' } }]);
  r = minos(['--root', img, 'upgrade', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout).upgrade.map((u: { to: { version: string } }) => u.to.version), ['1.1']);
  t.equal(readFileSync(join(img, 'usr/lib/libx.so'), 'utf8'), 'libx 1.1\n');
  r = minos(['--root', img, 'install', 'tool']);
  t.equal(r.code, 3);
  r = minos(['--root', img, 'verify']);
  t.equal(r.code, 0, r.stdout + r.stderr);
});

t.test('package files and key and repo management', async (t) => {
  const f = liveFixture(t, [libx1]);
  let r = f.run(['key', 'list', '--json']);
  const keys = JSON.parse(r.stdout);
  t.equal(keys.length, 1);
  // A package signed by a key the root does not trust is refused.
  const other = makeKey(join(f.dir, 'other'), 'other');
  const repo2 = makeRepo(join(f.dir, 'repo2'), other, [tool1], { name: 'two' });
  const file = join(repo2, readdirSync(repo2).find((n) => n.endsWith('.mpk'))!);
  r = f.run(['install', file]);
  t.equal(r.code, 4);
  t.match(r.stderr, /untrusted key/);
  r = f.run(['key', 'add', join(f.dir, 'other/other.pub')]);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['install', file]);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['key', 'remove', other.id]);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['repo', 'remove', 'main']);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['repo', 'list', '--json']);
  t.same(JSON.parse(r.stdout), []);
  // the package-file verify keeps working beside the live one
  r = minos(['verify', file, '--key', join(f.dir, 'other/other.pub')]);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['cache', 'clean', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { removed: 0, kept: 1 });
  void copyFileSync;
  void sh;
});

t.test('why and remove --orphans', async (t) => {
  const libz: PkgDef = { name: 'libz', version: '1.0', files: { 'usr/lib/libz.so': 'z\n' } };
  const libx: PkgDef = { ...libx1, depends: ['libz'] };
  const f = liveFixture(t, [libx, app1, libz, tool1]);
  let r = f.run(['install', 'app', 'tool']);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['why', 'libz']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'app: app -> libx -> libz\n');
  r = f.run(['why', 'libz', '--json']);
  t.same(JSON.parse(r.stdout), { name: 'libz', chains: [{ request: 'app', path: ['app', 'libx', 'libz'] }] });
  r = f.run(['why', 'libq']);
  t.equal(r.code, 3);
  t.match(r.stderr, /package "libq" is not installed/);
  // Removing app leaves libx and libz needed by nothing: --orphans takes them too, tool stays.
  r = f.run(['remove', 'app', '--orphans']);
  t.equal(r.code, 0, r.stderr);
  t.same(Object.keys(installed(f.root)), ['tool']);
  r = f.run(['remove', '--orphans']);
  t.equal(r.code, 0, `nothing left to remove: ${r.stderr}`);
  t.same(Object.keys(installed(f.root)), ['tool']);
  r = f.run(['remove']);
  t.equal(r.code, 2);
  t.match(r.stderr, /remove what\? give package names, or --orphans/);
  r = f.run(['verify']);
  t.equal(r.code, 0, r.stdout + r.stderr);
});
