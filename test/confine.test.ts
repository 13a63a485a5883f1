/**
 * Nothing outside the target, ever: each attack class of DESIGN.md's list
 * that reaches the file system, tried through the CLI on roots minos built
 * itself, with canary files outside the root (and hard links to them) whose
 * contents, modes and times must be exactly as before. Also: deep trees
 * give a clear error or work, never a stack overflow.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, minos, tempDir } from './lib/cli.js';
import { installed, liveFixture, type LiveFixture } from './lib/live.js';
import { makeRepo, writeSpec, type PkgDef } from './lib/repo.js';
import { confine, checkRel } from '../src/confine.js';

/** Every node under `dir`, the folder itself included: type, mode, size, mtime, content hash or link target. */
function fingerprint(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const p = rel ? join(dir, rel) : dir;
    const st = lstatSync(p);
    const base = `${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
    if (st.isDirectory()) {
      out.set(rel || '.', `${base} dir`);
      for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
    } else if (st.isSymbolicLink()) out.set(rel, `${base} -> ${readlinkSync(p)}`);
    else out.set(rel, `${base} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
  };
  walk('');
  return out;
}

/** A folder beside the root (same file system) holding canaries; `check` compares it with how it was. */
function canaries(t: Tap.Test, f: { dir: string }): { dir: string; check(t: Tap.Test, what: string): void } {
  const dir = join(f.dir, 'outside');
  mkdirSync(join(dir, 'data'), { recursive: true });
  for (const n of ['canary', 'c.conf', 'data/f', 'data/c.conf', 'passwd']) writeFileSync(join(dir, n), `outside ${n}\n`, { mode: 0o600 });
  const before = fingerprint(dir);
  return {
    dir,
    check(t, what) {
      const now = fingerprint(dir);
      t.same(Object.fromEntries(now), Object.fromEntries(before), `${what}: nothing outside the root changed`);
    },
  };
}

function noInternal(t: Tap.Test, r: { stderr: string }, what: string): void {
  t.notMatch(r.stderr, /internal error|RangeError|Maximum call stack/, `${what}: no internal error`);
}

/** Deep trees left behind: removed with rm -rf (Node 20's rmSync and Python's rmtree recurse on the stack). */
const deepBases: string[] = [];
function removeDeep(): void {
  for (const b of deepBases.splice(0)) spawnSync('rm', ['-rf', b]);
}

const v = (name: string, version: string, files: Record<string, string>, more: Partial<PkgDef> = {}): PkgDef => ({ name, version, files, ...more });

t.test('confine.ts: links are never followed, `..` never accepted', async (t) => {
  const d = tempDir(t, 'minos-confine-');
  const root = join(d, 'root');
  const out = join(d, 'outside');
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(out);
  writeFileSync(join(out, 'x'), 'x');
  symlinkSync(out, join(root, 'link'));
  symlinkSync(join(out, 'x'), join(root, 'a/xl'));
  const c = confine(root);
  const code = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  t.equal(code(() => c.mkdir('link/new', 0o755)), 'MN0604', 'mkdir through a link');
  t.equal(code(() => c.unlink('link/x')), 'MN0604', 'unlink through a link');
  t.equal(code(() => c.rename('a/xl', 'link/y')), 'MN0604', 'rename into a link');
  t.equal(code(() => c.writeFileAtomic('link/x', Buffer.from('y'))), 'MN0604', 'write through a link');
  t.equal(code(() => c.chmod('a/xl', 0o777)), 'MN0604', 'chmod of a link is refused, its target untouched');
  t.equal(code(() => c.readFile('a/xl', 100)), 'MN0003', 'a link is not read as a file');
  t.equal(code(() => c.readdir('link')), 'MN0604', 'readdir through a link');
  t.equal(code(() => c.mkdirp('link/deeper/still', 0o755)), 'MN0604', 'mkdir -p through a link');
  t.equal(c.lstat('link/x'), undefined, 'nothing is reachable through a link');
  t.ok(c.lstat('link')?.isSymbolicLink(), 'the link itself is seen');
  for (const bad of ['../outside/x', 'a/../../outside/x', '/etc/passwd', 'a//x', 'a/./x', 'a/']) t.equal(code(() => checkRel(bad)), 'MN0207', `refused: ${bad}`);
  t.equal(code(() => c.unlink('../outside/x')), 'MN0207');
  c.rmTree('link');
  c.rmTree('a');
  t.notOk(existsSync(join(root, 'link')), 'rmTree of a link removes the link');
  t.equal(readFileSync(join(out, 'x'), 'utf8'), 'x', 'and not what it points to');
  // A folder swapped for a link after its descriptor was cached: the cache follows minos's own renames only.
  mkdirSync(join(root, 'b'));
  c.writeFileAtomic('b/f', Buffer.from('1'));
  renameSync(join(root, 'b'), join(root, 'b.moved'));
  symlinkSync(out, join(root, 'b'));
  c.reset();
  t.equal(code(() => c.writeFileAtomic('b/f', Buffer.from('2'))), 'MN0604', 'a folder replaced by a link is refused after reset');
  t.equal(readdirSync(out).join(','), 'x');
});

for (const mode of ['/proc/self/fd', 'lstat fallback']) t.test(`links planted on the root, and hard links to files outside (${mode})`, async (t) => {
  const env = mode === 'lstat fallback' ? { MINOS_CONFINE_PROC: '0' } : {};
  const fx = liveFixture(t, [v('a', '1.0', { 'usr/bin/a': 'a1\n', 'etc/a.conf': 'c1\n', 'usr/share/a/doc': 'd1\n' }, { config: ['/etc/a.conf'] })]);
  const f = { ...fx, run: (args: string[]) => fx.run(args, env) };
  const o = canaries(t, f);
  let r = f.run(['install', 'a']);
  t.equal(r.code, 0, r.stderr);
  // A symlink at a file path, at a config file path, and a hard link at another file path, all to canaries.
  rmSync(join(f.root, 'usr/bin/a'));
  symlinkSync(join(o.dir, 'canary'), join(f.root, 'usr/bin/a'));
  rmSync(join(f.root, 'etc/a.conf'));
  symlinkSync(join(o.dir, 'c.conf'), join(f.root, 'etc/a.conf'));
  rmSync(join(f.root, 'usr/share/a/doc'));
  linkSync(join(o.dir, 'passwd'), join(f.root, 'usr/share/a/doc'));
  makeRepo(f.repo, f.key, [v('a', '2.0', { 'usr/bin/a': 'a2\n', 'etc/a.conf': 'c2\n', 'usr/share/a/doc': 'd2\n' }, { config: ['/etc/a.conf'] })], { name: 'main' });
  r = f.run(['upgrade']);
  t.equal(r.code, 0, r.stderr);
  noInternal(t, r, 'upgrade');
  t.equal(readFileSync(join(f.root, 'usr/bin/a'), 'utf8'), 'a2\n', 'the planted link is replaced, not written through');
  t.equal(readFileSync(join(f.root, 'usr/share/a/doc'), 'utf8'), 'd2\n');
  o.check(t, 'upgrade over planted links');
  r = f.run(['rollback']);
  t.equal(r.code, 0, r.stderr);
  o.check(t, 'rollback');
  r = f.run(['remove', 'a']);
  t.equal(r.code, 0, r.stderr);
  o.check(t, 'remove');

  // A folder of the package replaced by a link to the outside folder: install refused, remove does not reach through.
  r = f.run(['install', 'a']);
  t.equal(r.code, 0, r.stderr);
  rmSync(join(f.root, 'usr/share/a'), { recursive: true });
  symlinkSync(join(o.dir, 'data'), join(f.root, 'usr/share/a'));
  r = f.run(['remove', 'a']);
  noInternal(t, r, 'remove through a folder link');
  o.check(t, 'remove with a folder replaced by a link');
});

t.test('a folder of the root that is a link: installs into it are refused', async (t) => {
  const f = liveFixture(t, [v('a', '1.0', { 'usr/share/a/f': 'f\n' })]);
  const o = canaries(t, f);
  mkdirSync(join(f.root, 'usr'));
  symlinkSync(o.dir, join(f.root, 'usr/share'));
  const r = f.run(['install', 'a']);
  t.equal(r.code, 6, r.stderr);
  noInternal(t, r, 'install');
  o.check(t, 'install under a planted folder link');
  const forced = f.run(['install', 'a', '--force-overwrite', '/usr/share']);
  noInternal(t, forced, 'forced install');
  o.check(t, 'forced install under a planted folder link');
  if (forced.code === 0) t.ok(lstatSync(join(f.root, 'usr/share')).isDirectory(), 'forced: the link was moved aside and a real folder made');
});

t.test('verify reads nothing through a link planted after install', async (t) => {
  const f = liveFixture(t, [v('a', '1.0', { 'usr/share/a/f': 'f\n', 'usr/share/a/g': 'g\n' })]);
  let r = f.run(['install', 'a']);
  t.equal(r.code, 0, r.stderr);
  t.equal(f.run(['verify']).code, 0, 'clean after install');
  // The same bytes outside, behind a link where the folder was: a reader that follows it would find nothing wrong.
  const outside = join(f.dir, 'outside-a');
  mkdirSync(outside);
  writeFileSync(join(outside, 'f'), 'f\n');
  writeFileSync(join(outside, 'g'), 'g\n');
  rmSync(join(f.root, 'usr/share/a'), { recursive: true });
  symlinkSync(outside, join(f.root, 'usr/share/a'));
  r = f.run(['verify', '--json']);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /3 entries differ from the database/);
  noInternal(t, r, 'verify');
  const problems = (JSON.parse(r.stdout || '{}').problems ?? []) as { path: string; kind: string }[];
  t.same(problems.map((p) => `${p.path} ${p.kind}`).sort(), ['/usr/share/a type', '/usr/share/a/f missing', '/usr/share/a/g missing'], 'the folder is a link, and nothing below it is read through it');
});

t.test('a folder that becomes a symlink pointing outside: upgrade and rollback', async (t) => {
  const cases: { name: string; v1: PkgDef[]; v2: (out: string) => PkgDef[]; install: string[] }[] = [
    {
      name: 'config file edited by the user under the folder',
      v1: [v('a', '1.0', { 'opt/a/data/f': 'f1\n', 'opt/a/data/c.conf': 'c1\n' }, { config: ['/opt/a/data/c.conf'] })],
      v2: (out) => [v('a', '2.0', { 'opt/a/keep': 'k\n' }, { overrides: { '/opt/a/data': { type: 'symlink', target: `${out}/data` } } })],
      install: ['a'],
    },
    {
      name: 'a second package, upgraded at the same time, owned a config file under the folder',
      v1: [
        v('a', '1.0', { 'opt/a/data/f': 'f1\n' }, { depends: ['b'] }),
        v('b', '1.0', { 'opt/a/data/c.conf': 'b1\n', 'opt/b': 'b\n' }, { config: ['/opt/a/data/c.conf'] }),
      ],
      v2: (out) => [
        v('a', '2.0', { 'opt/a/keep': 'k\n' }, { depends: ['b'], overrides: { '/opt/a/data': { type: 'symlink', target: `${out}/data` } } }),
        v('b', '2.0', { 'opt/b': 'b2\n' }),
      ],
      install: ['a'],
    },
    {
      name: 'relative link climbing through an absolute one',
      v1: [v('a', '1.0', { 'opt/a/data/f': 'f1\n', 'opt/a/data/c.conf': 'c1\n' }, { config: ['/opt/a/data/c.conf'] })],
      v2: (out) => [v('a', '2.0', { 'opt/a/keep': 'k\n' }, { overrides: { '/opt/a/out': { type: 'symlink', target: out }, '/opt/a/data': { type: 'symlink', target: 'out/data' } } })],
      install: ['a'],
    },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const f = liveFixture(t, c.v1);
      const o = canaries(t, f);
      let r = f.run(['install', ...c.install]);
      t.equal(r.code, 0, r.stderr);
      writeFileSync(join(f.root, 'opt/a/data/c.conf'), 'edited by the user\n');
      makeRepo(f.repo, f.key, c.v2(o.dir), { name: 'main' });
      r = f.run(['upgrade']);
      noInternal(t, r, 'upgrade');
      o.check(t, 'upgrade');
      t.equal(r.code, 0, r.stderr);
      t.ok(lstatSync(join(f.root, 'opt/a/data')).isSymbolicLink(), 'upgraded: the folder is a link now');
      r = f.run(['rollback']);
      noInternal(t, r, 'rollback');
      t.equal(r.code, 0, r.stderr);
      o.check(t, 'rollback');
      t.ok(lstatSync(join(f.root, 'opt/a/data')).isDirectory(), 'rollback: a folder again');
      t.equal(readFileSync(join(f.root, 'opt/a/data/f'), 'utf8'), 'f1\n');
      r = f.run(['upgrade']);
      t.equal(r.code, 0, r.stderr);
      o.check(t, 'upgrade again');
      r = f.run(['remove', 'a']);
      noInternal(t, r, 'remove');
      o.check(t, 'remove');
    });
  }
});

/** A root whose state path `rel` was replaced by a link to `target` (the old contents moved there when `move`). */
function plant(f: LiveFixture, rel: string, target: string, move: boolean): void {
  const p = join(f.root, rel);
  if (move && existsSync(p)) {
    rmSync(target, { recursive: true, force: true });
    renameSync(p, target);
  } else rmSync(p, { recursive: true, force: true });
  symlinkSync(target, p);
}

t.test("minos's own state folders and files as links", async (t) => {
  const states: [string, boolean][] = [
    ['var/cache/minos', true],
    ['var/lib/minos/txn', false],
    ['var/lib/minos', true],
    ['var/cache', true],
    ['var', true],
    ['etc/minos', true],
    ['var/lib/minos/lock', false],
    ['var/lib/minos/history.json', false],
    ['etc/minos/repositories.json', true],
  ];
  for (const [rel, move] of states) {
    t.test(rel, async (t) => {
      const f = liveFixture(t, [v('a', '1.0', { 'usr/bin/a': 'a\n' })]);
      const o = canaries(t, f);
      const target = join(o.dir, 'state');
      if (!existsSync(join(f.root, rel)) && !move) writeFileSync(join(f.root, rel), '');
      plant(f, rel, move ? target : join(o.dir, 'canary'), move);
      const fresh = fingerprint(o.dir);
      for (const args of [['install', 'a'], ['recover'], ['repo', 'list'], ['list']]) {
        const r = f.run(args);
        noInternal(t, r, args.join(' '));
        if (args[0] === 'install') {
          t.not(r.code, 0, `${args.join(' ')} refused`);
          t.match(r.stderr, /symbolic link/, 'says why');
        }
      }
      t.same(Object.fromEntries(fingerprint(o.dir)), Object.fromEntries(fresh), 'nothing outside changed');
      t.notOk(existsSync(join(f.root, 'usr/bin/a')), 'nothing installed');
    });
  }
});

t.test('packages may not replace or enter the state folders', async (t) => {
  const pkgs: [string, PkgDef, string[]][] = [
    ['a file inside var/lib/minos', v('s', '1.0', { 'var/lib/minos/evil': 'x\n' }), []],
    ['a file inside var/cache/minos', v('s', '1.0', { 'var/cache/minos/evil.mpk': 'x\n' }), []],
    ['var/cache/minos as a link', v('s', '1.0', { 'usr/share/s/x': 'x\n' }, { overrides: { '/var/cache/minos': { type: 'symlink', target: '/tmp' } } }), ['--force-overwrite', '/var/cache/minos']],
    ['var/lib/minos/txn as a link', v('s', '1.0', { 'usr/share/s/x': 'x\n' }, { overrides: { '/var/lib/minos/txn': { type: 'symlink', target: '/tmp' } } }), ['--force-overwrite', '/var/lib/minos/txn']],
    ['the database', v('s', '1.0', { 'var/lib/minos/installed.json': '{}\n' }), ['--force-overwrite', '/var/lib/minos/installed.json']],
    ['etc/minos as a link', v('s', '1.0', { 'usr/share/s/x': 'x\n' }, { overrides: { '/etc/minos': { type: 'symlink', target: '/tmp' } } }), ['--force-overwrite', '/etc/minos']],
  ];
  for (const [name, pkg, extra] of pkgs) {
    t.test(name, async (t) => {
      const f = liveFixture(t, [pkg]);
      const o = canaries(t, f);
      const db = readFileSync(join(f.root, 'var/lib/minos/installed.json'));
      for (const args of [['install', 's'], ['install', 's', ...extra]]) {
        const r = f.run(args);
        noInternal(t, r, args.join(' '));
        t.not(r.code, 0, `${args.join(' ')}: refused`);
      }
      t.ok(readFileSync(join(f.root, 'var/lib/minos/installed.json')).equals(db), 'database unchanged');
      t.ok(lstatSync(join(f.root, 'var/lib/minos/txn')).isDirectory() || !existsSync(join(f.root, 'var/lib/minos/txn')), 'txn folder intact');
      t.ok(lstatSync(join(f.root, 'var/cache/minos')).isDirectory(), 'cache folder intact');
      t.same(installed(f.root), {});
      t.equal(f.run(['list']).code, 0, 'the root still works');
      o.check(t, name);
    });
  }
});

for (const mode of ['/proc/self/fd', 'lstat fallback']) t.test(`a tampered journal: \`..\` and links in its paths go nowhere (${mode})`, async (t) => {
  const env = mode === 'lstat fallback' ? { MINOS_CONFINE_PROC: '0' } : {};
  const fx = liveFixture(t, [v('a', '1.0', { 'usr/bin/a': 'a\n' })]);
  const f = { ...fx, run: (args: string[]) => fx.run(args, env) };
  const o = canaries(t, f);
  let r = f.run(['install', 'a']);
  t.equal(r.code, 0, r.stderr);
  symlinkSync(o.dir, join(f.root, 'usr/out'));
  const txn = join(f.root, 'var/lib/minos/txn/evil-1');
  mkdirSync(join(txn, 'old'), { recursive: true });
  mkdirSync(join(txn, 'new'));
  const journal = {
    format: 1, id: 'evil-1', pid: 1, command: 'x', chown: false, pre: [],
    post: [
      { op: 'unlink', path: '../outside/canary' },
      { op: 'unlink', path: 'usr/../../outside/canary' },
      { op: 'unlink', path: 'usr/out/canary' },
      { op: 'save', path: 'usr/out/c.conf', to: 'usr/out/c.conf.minos-save' },
      { op: 'rmdir', path: 'usr/out/data' },
      { op: 'attr', path: 'usr/out', mode: 0o777, uid: 0, gid: 0 },
      { op: 'attr', path: 'usr/out/data', mode: 0o777, uid: 0, gid: 0 },
    ],
  };
  for (const n of ['journal.json', 'journal.copy.json']) writeFileSync(join(txn, n), JSON.stringify(journal));
  r = f.run(['recover']);
  noInternal(t, r, 'recover');
  o.check(t, 'recovery of a tampered journal');
  t.ok(lstatSync(join(f.root, 'usr/out')).isSymbolicLink(), 'the link itself is left as it was');
  r = f.run(['list']);
  t.equal(r.code, 0, r.stderr);
});

t.test('build output: a folder whose var is a link to a minos image is not taken for one', async (t) => {
  const f = liveFixture(t, [v('a', '1.0', { 'usr/bin/a': 'a\n' })]);
  const o = canaries(t, f);
  const out = join(f.dir, 'out');
  mkdirSync(out);
  writeFileSync(join(out, 'precious'), 'mine\n');
  symlinkSync(join(f.root, 'var'), join(out, 'var'));
  const spec = writeSpec(join(f.dir, 'image.yaml'), { name: 'img', arch: 'x86_64', repositories: [{ path: f.repo, keys: [f.pub] }], packages: ['a'] });
  const r = minos(['build', spec, '-o', out]);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /not an output of minos build/);
  t.equal(readFileSync(join(out, 'precious'), 'utf8'), 'mine\n', 'the folder is kept');
  o.check(t, 'build');
});

t.test('deep trees: a clear error or success, never a stack overflow', async (t) => {
  const deep = (n: number) => Array.from({ length: n }, () => 'd').join('/');
  const f = liveFixture(t, [v('deep', '1.0', { [`${deep(2000)}/f`]: 'deep\n' })]);
  deepBases.push(f.dir); // deep trees everywhere: rm -rf, before the temp folder's own removal
  t.teardown(removeDeep);
  let r = f.run(['install', 'deep']);
  noInternal(t, r, 'install of a 2,000-level package');
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(join(f.root, `${deep(2000)}/f`), 'utf8'), 'deep\n');
  r = f.run(['verify']);
  t.equal(r.code, 0, r.stderr);
  r = f.run(['remove', 'deep']);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(join(f.root, 'd')), 'removed to the top');
  const spec = writeSpec(join(f.dir, 'image.yaml'), { name: 'img', arch: 'x86_64', repositories: [{ path: f.repo, keys: [f.pub] }], packages: ['deep'] });
  r = minos(['build', spec, '-o', join(f.dir, 'img')]);
  noInternal(t, r, 'build of a 2,000-level package');
  t.equal(r.code, 0, r.stderr);
  r = minos(['build', spec, '-o', join(f.dir, 'img')]);
  t.equal(r.code, 0, `a second build replaces the deep output: ${r.stderr}`);
  // 10,000 levels do not fit in a package path (4095 bytes): refused when packed, with the reason.
  t.throws(() => makeRepo(join(f.dir, 'repo10k'), f.key, [v('deeper', '1.0', { [`${deep(10000)}/f`]: 'x\n' })]), /longer than 4095 bytes|too long|ENAMETOOLONG/);
  // A 10,000-level tree on the root under a transaction folder minos removes, and under its cache.
  for (const base of ['var/lib/minos/txn/x.done', 'var/cache/minos/junk', 'var/cache/minos/stale.part-999999']) deepTree(join(f.root, base), 10000);
  r = f.run(['recover']);
  noInternal(t, r, 'recover with a 10,000-level tree');
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(join(f.root, 'var/lib/minos/txn/x.done')), 'the deep finished transaction folder is gone');
  r = f.run(['install', 'deep']);
  noInternal(t, r, 'install beside a deep cache tree');
  t.equal(r.code, 0, r.stderr);
  t.ok(existsSync(join(f.root, 'var/cache/minos/stale.part-999999')), 'a folder named like a temporary file is not minos\'s: left alone');
  r = f.run(['cache', 'clean']);
  // src/cli/live.ts removes cache entries with rmSync, which recurses on the stack: to be routed through confine(root).rmTree.
  t.notMatch(r.stderr, /internal error|Maximum call stack/, 'cache clean with a 10,000-level tree: no internal error');
  removeDeep();
});

/** A `levels`-deep chain of folders `d` under `base` (made with relative paths: deeper than PATH_MAX), removed at teardown. */
function deepTree(base: string, levels: number): void {
  const py = 'import os,sys\nos.makedirs(sys.argv[1],exist_ok=True)\nos.chdir(sys.argv[1])\nfor i in range(int(sys.argv[2])):\n  os.mkdir("d"); os.chdir("d")\nopen("f","w").write("x")\n';
  const r = spawnSync('python3', ['-c', py, base, String(levels)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  deepBases.push(base);
}


t.test('account files that are links: the host\'s files are not read into the root', async (t) => {
  const f = liveFixture(t, [v('svc', '1.0', { 'usr/share/svc/x': 'x\n' }, {
    users: [{ name: 'svc', uid: 150, group: 'svc', home: '/var/lib/svc', shell: '/sbin/nologin' }], groups: [{ name: 'svc', gid: 150 }],
  })]);
  const o = canaries(t, f);
  writeFileSync(join(o.dir, 'passwd'), 'secret:$6$outside-hash:19000:0:99999:7:::\n');
  mkdirSync(join(f.root, 'etc'), { recursive: true });
  symlinkSync(join(o.dir, 'passwd'), join(f.root, 'etc/shadow'));
  const before = fingerprint(o.dir);
  const r = f.run(['install', 'svc']);
  noInternal(t, r, 'install');
  t.same(Object.fromEntries(fingerprint(o.dir)), Object.fromEntries(before), 'nothing outside changed');
  const shadow = existsSync(join(f.root, 'etc/shadow')) && !lstatSync(join(f.root, 'etc/shadow')).isSymbolicLink() ? readFileSync(join(f.root, 'etc/shadow'), 'utf8') : '';
  t.notMatch(shadow, /outside-hash/, 'the file outside is not copied into the root');
});

t.test('FIFOs and devices among minos\'s own files are never opened', async (t) => {
  for (const rel of ['etc/minos/options.json', 'etc/minos/repositories.json', 'var/lib/minos/serials.json', 'var/lib/minos/lock', 'var/lib/minos/txn/x-1/journal.json']) {
    t.test(rel, async (t) => {
      const f = liveFixture(t, [v('a', '1.0', { 'usr/bin/a': 'a\n' })]);
      const p = join(f.root, rel);
      mkdirSync(join(p, '..'), { recursive: true });
      rmSync(p, { force: true });
      spawnSync('mkfifo', [p]);
      for (const args of [['install', 'a'], ['recover']]) {
        const r = spawnSync(process.execPath, [BIN, '--root', f.root, ...args], { encoding: 'utf8', timeout: 30_000 });
        t.not(r.signal, 'SIGTERM', `${args.join(' ')}: did not hang`);
        noInternal(t, { stderr: r.stderr }, args.join(' '));
        if (args[0] === 'install') {
          t.not(r.status, 0, `${args.join(' ')}: refused: ${r.stderr.trim()}`);
          t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
        }
      }
      t.ok(lstatSync(p).isFIFO(), 'the FIFO is left as it was');
    });
  }
});
