/**
 * Every --json output against its schema in docs/json/ (docs/JSON.md), run on
 * real fixtures; the error object on stderr for a failure of each exit status
 * 2, 3 and 4; and every command with --json documented in docs/JSON.md.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, minosAsync, ROOT, serveFolder, sh, tempDir, type Run } from './lib/cli.js';
import { liveFixture } from './lib/live.js';
import { makeRepo, writeSpec, type PkgDef } from './lib/repo.js';
import { schemaValidator } from './lib/schema.js';

const SCHEMAS = join(ROOT, 'docs/json');
const v = schemaValidator(SCHEMAS);
const used = new Set<string>();

/** Each stdout line (or the whole of it, `whole`) is a JSON document valid against `schema`; returns the documents. */
function valid(t: Tap.Test, r: Run, schema: string, what: string, whole = false): unknown[] {
  used.add(schema);
  t.equal(r.code, 0, `${what}: exit 0 (${r.stderr.trim()})`);
  const docs = (whole ? [r.stdout] : r.stdout.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as unknown);
  t.ok(docs.length > 0, `${what}: printed JSON`);
  for (const d of docs) t.same(v.validate(schema, d), [], `${what} matches ${schema}`);
  return docs;
}

/** A failure under --json: nothing on stdout, one error object on stderr whose exit is the status. */
function failed(t: Tap.Test, r: Run, exit: number, code: string, what: string): void {
  used.add('error.schema.json');
  t.equal(r.code, exit, `${what}: exit ${exit}`);
  t.equal(r.stdout, '', `${what}: nothing on stdout`);
  const lines = r.stderr.split('\n').filter(Boolean);
  t.equal(lines.length, 1, `${what}: one line on stderr`);
  const e = JSON.parse(lines[0]) as { error: { code: string; exit: number } };
  t.same(v.validate('error.schema.json', e), [], `${what}: error object matches error.schema.json`);
  t.equal(e.error.code, code, `${what}: ${code}`);
  t.equal(e.error.exit, exit, `${what}: its exit field is the exit status`);
}

t.test('the validator rejects what the schemas exclude', async (t) => {
  t.same(v.validate('list.schema.json', [{ name: 'a', version: '1', arch: 'x86_64', repo: 'main', explicit: true }]), []);
  t.match(v.validate('list.schema.json', [{ name: 'a', version: '1', arch: 'x86_64', repo: 'main' }]), [/missing "explicit"/]);
  t.match(v.validate('list.schema.json', [{ name: 'a', version: 1, arch: 'x86_64', repo: 'main', explicit: true }]), [/version: expected string/]);
  t.match(v.validate('list.schema.json', [{ name: 'a', version: '1', arch: 'sparc', repo: 'main', explicit: true, extra: 1 }]), [/not one of/, /unexpected "extra"/]);
  t.match(v.validate('error.schema.json', { error: { code: 'E1', exit: 9, message: 'm' } }), [/does not match/, /not one of/]);
  t.match(v.validate('info.schema.json', { installed: true }), [/matches 0 of the oneOf/]);
  t.match(v.validate('files.schema.json', {}), [/expected array, got object/]);
});

const LIBZ: PkgDef = { name: 'libz', version: '1.0' };
const HELLO: PkgDef = { name: 'hello', version: '1.0', depends: ['libz'], config: ['/etc/hello.conf'], files: { 'etc/hello.conf': 'x=1\n', 'usr/bin/hello': 'hi\n' } };
const TOOL: PkgDef = { name: 'tool', version: '2.0', files: { 'usr/bin/tool': 'tool\n', 'usr/share/tool/data': 'd\n' } };

t.test('live commands: every --json output matches its schema', async (t) => {
  const f = liveFixture(t, [LIBZ, HELLO, TOOL]);
  valid(t, f.run(['init', '--json']), 'init.schema.json', 'init');
  const inst = valid(t, f.run(['install', 'hello', '--json']), 'result.schema.json', 'install')[0] as { install: unknown[]; generation: number };
  t.equal(inst.install.length, 2);
  t.equal(inst.generation, 1);
  valid(t, f.run(['plan', 'install', 'tool', '--json']), 'plan.schema.json', 'plan install');
  valid(t, f.run(['plan', 'remove', 'hello', '--json']), 'plan.schema.json', 'plan remove');
  valid(t, f.run(['list', '--json']), 'list.schema.json', 'list');
  valid(t, f.run(['search', 'o', '--json']), 'search.schema.json', 'search');
  valid(t, f.run(['files', 'hello', '--json']), 'files.schema.json', 'files');
  valid(t, f.run(['owner', '/usr/bin/hello', '--json']), 'owner.schema.json', 'owner');
  valid(t, f.run(['why', 'libz', '--json']), 'why.schema.json', 'why');
  valid(t, f.run(['verify', '--json']), 'verify.schema.json', 'verify');
  valid(t, f.run(['repo', 'list', '--json']), 'repo-list.schema.json', 'repo list');
  valid(t, f.run(['key', 'list', '--json']), 'keys.schema.json', 'key list');
  valid(t, f.run(['key', 'add', f.pub, '--json']), 'keys.schema.json', 'key add');
  valid(t, f.run(['recover', '--json']), 'recover.schema.json', 'recover');

  const info = valid(t, f.run(['info', 'hello', '--json']), 'info.schema.json', 'info (installed)')[0] as { installed: boolean; files: number };
  t.equal(info.installed, true);
  t.equal(info.files, 5, 'info counts the entries');
  const avail = valid(t, f.run(['info', 'tool', '--json']), 'info.schema.json', 'info (not installed)')[0] as { installed: boolean; repo: string; version: string };
  t.same([avail.installed, avail.repo, avail.version], [false, 'main', '2.0'], 'info of a package only the repository has');
  const text = f.run(['info', 'tool']);
  t.match(text.stdout, /^tool 2\.0 \(x86_64\)\n[^]*repository: +main \(/m);
  t.match(text.stdout, /status: +not installed/);
  const files = valid(t, f.run(['files', 'tool', '--json']), 'files.schema.json', 'files (not installed)')[0] as { path: string }[];
  t.same(files.map((e) => e.path), ['/usr', '/usr/bin', '/usr/bin/tool', '/usr/share', '/usr/share/tool', '/usr/share/tool/data']);
  t.equal(readdirSync(join(f.root, 'var/cache/minos')).length, 2, 'a folder repository\'s package is read in place: the cache holds only the installed two');

  // A second repository with a newer libz: list --upgradable, upgrade, rollback.
  makeRepo(join(f.dir, 'extra'), f.key, [{ name: 'libz', version: '1.1' }], { name: 'extra' });
  t.equal(f.run(['repo', 'add', 'extra', join(f.dir, 'extra'), '--key', f.pub]).code, 0);
  valid(t, f.run(['list', '--upgradable', '--json']), 'list-upgradable.schema.json', 'list --upgradable');
  valid(t, f.run(['plan', 'upgrade', '--json']), 'plan.schema.json', 'plan upgrade');
  const up = valid(t, f.run(['upgrade', '--json']), 'result.schema.json', 'upgrade')[0] as { upgrade: unknown[] };
  t.equal(up.upgrade.length, 1);
  valid(t, f.run(['rollback', '--json']), 'result.schema.json', 'rollback');
  valid(t, f.run(['remove', 'hello', '--json']), 'result.schema.json', 'remove');
  valid(t, f.run(['history', '--json']), 'history.schema.json', 'history');
  valid(t, f.run(['cache', 'clean', '--json']), 'cache-clean.schema.json', 'cache clean');

  // Failures: exit 3 (no such package), exit 2 (usage), exit 4 (installed files differ).
  failed(t, f.run(['install', 'nosuch', '--json']), 3, 'MN0302', 'install of an unknown package');
  failed(t, f.run(['info', 'nosuch', '--json']), 3, 'MN0302', 'info of an unknown package');
  failed(t, f.run(['list', '--bogus', '--json']), 2, 'MN0002', 'unknown option');
  t.equal(f.run(['install', 'tool']).code, 0);
  writeFileSync(join(f.root, 'usr/bin/tool'), 'changed!\n');
  const bad = f.run(['verify', '--json']);
  failed(t, { ...bad, stdout: '' }, 4, 'MN0215', 'verify of a changed file');
  t.same(v.validate('verify.schema.json', JSON.parse(bad.stdout)), [], 'the report is still on stdout');
  t.match(JSON.parse(bad.stdout), { ok: false, problems: [{ package: 'tool', path: '/usr/bin/tool', kind: 'size' }] });
});

t.test('files of a package only an http repository has: downloaded to the cache and verified, or refused in one line when the root is not writable', async (t) => {
  const f = liveFixture(t, [LIBZ]);
  makeRepo(join(f.dir, 'web'), f.key, [TOOL], { name: 'web' });
  const url = await serveFolder(t, join(f.dir, 'web'));
  const run = (args: string[], user?: string) => minosAsync(['--root', f.root, ...args], { user });
  t.equal((await run(['repo', 'add', 'web', url, '--key', f.pub])).code, 0);
  sh(`chmod -R a+rX '${f.dir}'`);
  chmodSync(f.dir, 0o755);
  const cache = join(f.root, 'var/cache/minos');
  mkdirSync(cache, { recursive: true });
  const before = readdirSync(cache);
  const ro = await run(['files', 'tool'], 'nobody');
  t.equal(ro.code, 1, ro.stderr);
  t.equal(ro.stdout, '');
  t.match(ro.stderr, /^minos: tool 2\.0 must be downloaded from web to list its files, but \S+ is not writable \[MN0007\]/);
  t.equal(ro.stderr.trim().split('\n').length, 1, 'one line');
  t.same(readdirSync(cache), before, 'nothing written');
  const r = await run(['files', 'tool']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^-rw-r--r-- root\/root +5 \/usr\/bin\/tool$/m);
  t.match(r.stderr, /tool is not installed; the files of tool 2\.0 from web:/);
  const sha = (JSON.parse((await run(['info', 'tool', '--json'])).stdout) as { sha256: string }).sha256;
  t.same(readdirSync(cache).filter((n) => n.startsWith(sha)), [`${sha}.mpk`], 'the package is in the cache, named by its sha256');
  // A damaged cached copy is caught by the same checks as install.
  writeFileSync(join(cache, `${sha}.mpk`), 'garbage');
  failed(t, await run(['files', 'tool', '--json']), 4, 'MN0206', 'files from a damaged cached package');
});

t.test('build, plan, pack, import, inspect, verify, repo and key commands: --json matches its schema', async (t) => {
  const dir = tempDir(t);
  const gen = valid(t, minos(['key', 'generate', 'k', '--dir', join(dir, 'keys'), '--json']), 'key-generate.schema.json', 'key generate')[0] as { secret: string; public: string };
  valid(t, minos(['key', 'id', gen.public, '--json']), 'keys.schema.json', 'key id');
  const { loadSecretKey } = await import('../src/repo/keys.js');
  const key = loadSecretKey(gen.secret);
  const repo = makeRepo(join(dir, 'repo'), key, [{ name: 'a', version: '1.0' }, { name: 'a', version: '2.0' }, { name: 'b' }, { name: 'c' }]);
  const mpk = join(repo, readdirSync(repo).find((n) => n.startsWith('b-'))!);
  valid(t, minos(['inspect', mpk, '--key', gen.public, '--json']), 'inspect.schema.json', 'inspect', true);
  valid(t, minos(['verify', mpk, '--key', gen.public, '--json']), 'verify-package.schema.json', 'verify FILE');
  valid(t, minos(['repo', 'verify', repo, '--key', gen.public, '--json']), 'repo-verify.schema.json', 'repo verify');
  valid(t, minos(['repo', 'index', repo, '-k', gen.secret, '--json']), 'repo-index.schema.json', 'repo index');

  mkdirSync(join(dir, 'src/tree/usr/bin'), { recursive: true });
  writeFileSync(join(dir, 'src/tree/usr/bin/d'), 'd\n');
  writeFileSync(join(dir, 'src/recipe.yaml'), 'name: d\nversion: "1.0"\narch: x86_64\nsummary: d\nlicense: MIT\nfiles: tree\n');
  valid(t, minos(['pack', join(dir, 'src/recipe.yaml'), '-k', gen.secret, '-o', join(dir, 'pkgs'), '--json']), 'pack.schema.json', 'pack');
  mkdirSync(join(dir, 'deb/DEBIAN'), { recursive: true });
  mkdirSync(join(dir, 'deb/usr/bin'), { recursive: true });
  writeFileSync(join(dir, 'deb/DEBIAN/control'), 'Package: tiny\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: T <t@example.org>\nDescription: tiny\n');
  writeFileSync(join(dir, 'deb/usr/bin/tiny'), 'tiny\n');
  sh(`dpkg-deb --root-owner-group -b '${join(dir, 'deb')}' '${join(dir, 'tiny.deb')}' >/dev/null`);
  valid(t, minos(['import', 'deb', join(dir, 'tiny.deb'), '-k', gen.secret, '-o', join(dir, 'pkgs'), '--json']), 'import-deb.schema.json', 'import deb');

  const spec = (name: string, packages: string[]) => writeSpec(join(dir, `${name}.yaml`), { name, arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/k.pub'] }], packages });
  const specA = spec('a', ['a = 1.0', 'b']);
  const specB = spec('b', ['a', 'c']);
  valid(t, minos(['plan', specA, '--json']), 'plan.schema.json', 'plan SPEC');
  const outA = join(dir, 'img-a');
  const outB = join(dir, 'img-b');
  valid(t, minos(['build', specA, '-o', outA, '--json']), 'build.schema.json', 'build');
  valid(t, minos(['build', specB, '-o', outB, '--json']), 'build.schema.json', 'build');
  const lockPlan = valid(t, minos(['plan', specA, '-o', outA, '--json']), 'plan.schema.json', 'plan SPEC with a lockfile')[0] as { lock: string };
  t.equal(lockPlan.lock, `${outA}.lock.json`);

  // diff: lockfiles and image folders say the same.
  for (const [a, b] of [[`${outA}.lock.json`, `${outB}.lock.json`], [outA, outB]]) {
    const d = valid(t, minos(['diff', a, b, '--json']), 'diff.schema.json', `diff ${a} ${b}`)[0] as { added: { name: string }[]; removed: { name: string }[]; changed: { name: string; from: { version: string }; to: { version: string } }[] };
    t.same(d.added.map((p) => p.name), ['c']);
    t.same(d.removed.map((p) => p.name), ['b']);
    t.same(d.changed.map((c) => `${c.name} ${c.from.version} -> ${c.to.version}`), ['a 1.0 -> 2.0']);
  }
  const text = minos(['diff', `${outA}.lock.json`, outB]);
  t.equal(text.code, 0);
  t.equal(text.stdout, '+ c 1.0 x86_64\n- b 1.0 x86_64\n~ a 1.0 x86_64 -> 2.0 x86_64\n1 added, 1 removed, 1 changed\n');
  t.equal(minos(['diff', outA, outA]).stdout, 'same 2 packages\n');
  failed(t, minos(['diff', dir, outA, '--json']), 2, 'MN0101', 'diff of a folder that is no image');

  // exit 4: a package signed by a key the verifier does not trust.
  const other = minos(['key', 'generate', 'other', '--dir', join(dir, 'keys')]);
  t.equal(other.code, 0);
  failed(t, minos(['verify', mpk, '--key', join(dir, 'keys/other.pub'), '--json']), 4, 'MN0203', 'verify with an untrusted key');
  // exit 2: an unreadable spec.
  failed(t, minos(['build', join(dir, 'missing.yaml'), '--json']), 2, 'MN0101', 'build of a missing spec');
});

t.test('every schema is exercised, and every command with --json is documented in docs/JSON.md', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs/JSON.md'), 'utf8');
  for (const f of readdirSync(SCHEMAS).filter((n) => n !== 'common.schema.json')) {
    t.ok(used.has(f), `${f} is checked by a test`);
    t.ok(doc.includes(`(json/${f})`), `docs/JSON.md links ${f}`);
  }
  const { buildProgram } = (await import(join(ROOT, 'dist/cli/main.js'))) as typeof import('../src/cli/main.js');
  const program = buildProgram({ out() {}, err() {}, isTTY: false, version: 'x' });
  const walk = (c: typeof program, path: string[]): string[] =>
    c.commands.flatMap((s) => [...(s.options.some((o) => o.long === '--json') ? [[...path, s.name()].join(' ')] : []), ...walk(s, [...path, s.name()])]);
  const withJson = walk(program, []);
  t.ok(withJson.length >= 25, `${withJson.length} commands take --json`);
  for (const c of withJson) t.ok(doc.includes(`minos ${c}`), `docs/JSON.md documents minos ${c}`);
});
