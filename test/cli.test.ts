/** End to end through the CLI: keys, pack, inspect, verify, repo index/verify, bad input. */
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { canonicalBytes } from '../src/canonical.js';
import { loadSecretKey, signBytes } from '../src/repo/keys.js';
import { writeIndex } from '../src/repo/index.js';
import { minos, ROOT, sh, tempDir, writeTree } from './lib/cli.js';

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };

function recipeDir(root: string, name = 'hello', extra = ''): string {
  const d = join(root, `src-${name}`);
  writeTree(d, {
    'recipe.yaml': `name: ${name}
version: 1.0-1
arch: x86_64
summary: says hello
license: MIT
depends: ["libc >= 1.2", "mawk | gawk"]
provides: ["sh = 1"]
conflicts: ["busybox-sh"]
optional: ["hello-doc"]
config: [/etc/hello.conf]
users: [{name: hello, uid: 100, group: hello, home: /var/lib/hello, shell: /sbin/nologin}]
groups: [{name: hello, gid: 100}]
files: tree
overrides:
  /usr/bin/hello: {mode: "4755", owner: root, group: root}
  /usr/bin/passwd: {mode: "2755", group: hello}
  /var/lib/hello: {owner: hello, group: hello, mode: "0750"}
  /dev/null: {type: char, major: 1, minor: 3, mode: "0666"}
  /dev/sda: {type: block, major: 8, minor: 0, mode: "0660"}
  /run/ctl: {type: fifo, mode: "0600"}
  /tmp: {type: dir, mode: "1777"}
${extra}`,
    'tree/usr/bin/hello': '#!/bin/sh\necho hello\n',
    'tree/usr/bin/passwd': 'pw\n',
    'tree/etc/hello.conf': 'GREETING=hi\n',
  });
  chmodSync(join(d, 'tree/usr/bin/hello'), 0o755);
  mkdirSync(join(d, 'tree/var/lib/hello'), { recursive: true });
  mkdirSync(join(d, 'tree/usr/share/empty'), { recursive: true });
  symlinkSync('hello', join(d, 'tree/usr/bin/hi'));
  symlinkSync('/usr/bin/hello', join(d, 'tree/usr/bin/hello-abs'));
  linkSync(join(d, 'tree/usr/bin/passwd'), join(d, 'tree/usr/bin/chpasswd'));
  return d;
}

t.test('key generate: PKCS#8 secret 0600, SPKI public, key id; never overwrites', async (t) => {
  const dir = tempDir(t);
  const r = minos(['key', 'generate', 'demo', '--dir', dir]);
  t.equal(r.code, 0, r.stderr);
  const id = r.stdout.split(/\s+/)[0];
  t.match(id, /^[0-9a-f]{16}$/);
  t.equal(statSync(join(dir, 'demo.key')).mode & 0o777, 0o600);
  t.match(readFileSync(join(dir, 'demo.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  t.match(readFileSync(join(dir, 'demo.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
  // openssl agrees on the key and on the id derivation
  const oid = sh(`openssl pkey -pubin -in ${join(dir, 'demo.pub')} -outform DER | sha256sum | cut -c1-16`).trim();
  t.equal(oid, id);
  t.match(sh(`openssl pkey -in ${join(dir, 'demo.key')} -text -noout`), /ED25519 Private-Key/);
  const again = minos(['key', 'generate', 'demo', '--dir', dir]);
  t.equal(again.code, 2);
  t.match(again.stderr, /demo\.key: already exists/);
  t.equal(minos(['key', 'id', join(dir, 'demo.pub')]).stdout.split(/\s+/)[0], id);
});

t.test('key generate --dir and pack --out make a missing folder; one they cannot make is a one-line error', async (t) => {
  const dir = tempDir(t);
  const keys = join(dir, 'new/keys');
  const k = minos(['key', 'generate', 'k', '--dir', keys]);
  t.equal(k.code, 0, k.stderr);
  t.equal(statSync(keys).mode & 0o777, 0o700, 'a folder made for a secret key is private');
  const out = join(dir, 'new/repo');
  const recipe = join(recipeDir(dir), 'recipe.yaml');
  const p = minos(['pack', recipe, '--key', join(keys, 'k.key'), '--out', out, '--level', '3']);
  t.equal(p.code, 0, p.stderr);
  t.equal(p.stdout.trim(), join(out, 'hello-1.0-1-x86_64.mpk'));
  writeFileSync(join(dir, 'file'), '');
  const bad = minos(['pack', recipe, '--key', join(keys, 'k.key'), '--out', join(dir, 'file/sub')]);
  t.not(bad.code, 0);
  t.match(bad.stderr, new RegExp(`^minos: ${join(dir, 'file/sub').replace(/[/.]/g, '\\$&')}: `));
  t.equal(bad.stderr.trim().split('\n').length, 1);
});

t.test('keys made by openssl sign packages minos verifies', async (t) => {
  const dir = tempDir(t);
  sh(`openssl genpkey -algorithm ed25519 -out k.key && openssl pkey -in k.key -pubout -out k.pub`, { cwd: dir });
  const src = recipeDir(dir);
  const p = minos(['pack', join(src, 'recipe.yaml'), '--key', join(dir, 'k.key'), '--out', dir, '--level', '3']);
  t.equal(p.code, 0, p.stderr);
  const v = minos(['verify', p.stdout.trim(), '--key', join(dir, 'k.pub')]);
  t.equal(v.code, 0, v.stderr);
});

t.test('pack, inspect and verify as an ordinary user; deterministic', async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o777);
  t.equal(minos(['key', 'generate', 'k', '--dir', dir]).code, 0);
  chmodSync(join(dir, 'k.key'), 0o644); // let nobody read it for this test
  const src = recipeDir(dir);
  sh(`chmod -R a+rX ${dir}`);
  const out1 = join(dir, 'out1');
  const out2 = join(dir, 'out2');
  mkdirSync(out1, { mode: 0o777 });
  mkdirSync(out2, { mode: 0o777 });
  chmodSync(out1, 0o777);
  chmodSync(out2, 0o777);
  const asRoot = minos(['pack', join(src, 'recipe.yaml'), '--key', join(dir, 'k.key'), '--out', out1], { env: SDE });
  t.equal(asRoot.code, 0, asRoot.stderr);
  const asUser = minos(['pack', join(src, 'recipe.yaml'), '--key', join(dir, 'k.key'), '--out', out2], { env: SDE, user: 'nobody' });
  t.equal(asUser.code, 0, asUser.stderr);
  const file = join(out1, 'hello-1.0-1-x86_64.mpk');
  t.equal(asRoot.stdout.trim(), file);
  t.ok(readFileSync(file).equals(readFileSync(join(out2, 'hello-1.0-1-x86_64.mpk'))), 'root and non-root packs are byte-identical');
  const again = minos(['pack', join(src, 'recipe.yaml'), '--key', join(dir, 'k.key'), '--out', out2], { env: SDE });
  t.ok(readFileSync(file).equals(readFileSync(join(out2, 'hello-1.0-1-x86_64.mpk'))), 'a second pack is byte-identical');
  t.equal(again.code, 0);

  // tar itself sees owners, setuid, devices, fifos, links, empty folders
  const listing = sh(`tar --zstd -tvf ${file}`);
  t.match(listing, /-rw-r--r-- root\/root\s+\d+ 2023-11-14 22:13 \.MANIFEST/);
  t.match(listing, /-rwsr-xr-x root\/root\s+21 .* usr\/bin\/hello\n/);
  t.match(listing, /-rwxr-sr-x root\/hello\s+3 .* usr\/bin\/chpasswd\n/);
  t.match(listing, /hrwxr-sr-x root\/hello\s+0 .* usr\/bin\/passwd link to usr\/bin\/chpasswd/);
  t.match(listing, /lrwxrwxrwx root\/root\s+0 .* usr\/bin\/hi -> hello/);
  t.match(listing, /lrwxrwxrwx root\/root\s+0 .* usr\/bin\/hello-abs -> \/usr\/bin\/hello/);
  t.match(listing, /crw-rw-rw- root\/root\s+1,3 .* dev\/null/);
  t.match(listing, /brw-rw---- root\/root\s+8,0 .* dev\/sda/);
  t.match(listing, /prw------- root\/root\s+0 .* run\/ctl/);
  t.match(listing, /drwxrwxrwt root\/root\s+0 .* tmp\//);
  t.match(listing, /drwxr-x--- hello\/hello\s+0 .* var\/lib\/hello\//);
  t.match(listing, /drwxr-xr-x root\/root\s+0 .* usr\/share\/empty\//);
  t.notMatch(listing, /nobody/);

  const v = minos(['verify', file, '--key', join(dir, 'k.pub')], { user: 'nobody' });
  t.equal(v.code, 0, v.stderr);
  t.match(v.stdout, /hello-1\.0-1-x86_64\.mpk: ok \(hello 1\.0-1 x86_64, \d+ entries, signed by [0-9a-f]{16}\)/);

  const i = minos(['inspect', file]);
  t.equal(i.code, 0, i.stderr);
  t.match(i.stdout, /^hello 1\.0-1 \(x86_64\)/);
  t.match(i.stdout, /not checked/);
  t.match(i.stdout, /depends:\s+libc >= 1\.2, mawk \| gawk/);
  t.match(i.stdout, /-rwsr-xr-x root\/root\s+21 usr\/bin\/hello/);
  const j = JSON.parse(minos(['inspect', file, '--json', '--key', join(dir, 'k.pub')]).stdout);
  t.equal(j.signature.verified, true);
  t.same(j.provides, ['sh = 1']);
  t.same(j.users, [{ name: 'hello', uid: 100, group: 'hello', home: '/var/lib/hello', shell: '/sbin/nologin' }]);
  t.equal(j.files.find((f: { path: string }) => f.path === 'usr/bin/hello').mode, 0o4755);

  // a flipped byte anywhere in the file is caught
  const bytes = readFileSync(file);
  for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 10]) {
    const bad = Buffer.from(bytes);
    bad[at] ^= 0x40;
    const f = join(dir, `flipped-${at}.mpk`);
    writeFileSync(f, bad);
    const r = minos(['verify', f, '--key', join(dir, 'k.pub')]);
    t.equal(r.code, 4, `flip at ${at}: ${r.stderr}`);
    t.match(r.stderr, new RegExp(`^minos: flipped-${at}\\.mpk: `));
  }
});

t.test('repo index and verify: serial, expiry, tampering, mix-and-match', async (t) => {
  const dir = tempDir(t);
  minos(['key', 'generate', 'k', '--dir', dir]);
  minos(['key', 'generate', 'other', '--dir', dir]);
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const src = recipeDir(dir);
  const src2 = recipeDir(dir, 'tool');
  for (const s of [src, src2]) t.equal(minos(['pack', join(s, 'recipe.yaml'), '--key', join(dir, 'k.key'), '--out', repo, '--level', '1']).code, 0);
  const i1 = minos(['repo', 'index', repo, '--key', join(dir, 'k.key'), '--name', 'main', '--json']);
  t.equal(i1.code, 0, i1.stderr);
  t.match(JSON.parse(i1.stdout), { name: 'main', serial: 1, packages: 2 });
  const i2 = minos(['repo', 'index', repo, '--key', join(dir, 'k.key')]);
  t.match(i2.stdout, /^main: serial 2, 2 packages, expires \d{4}-/);
  const index = JSON.parse(readFileSync(join(repo, 'index.json'), 'utf8'));
  t.equal(index.packages[0].file, 'hello-1.0-1-x86_64.mpk');
  t.same(index.packages[0].depends, ['libc >= 1.2', 'mawk | gawk']);

  const ok = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /main: ok \(serial 2, 2 packages verified\)/);

  const wrongKey = minos(['repo', 'verify', repo, '--key', join(dir, 'other.pub')]);
  t.equal(wrongKey.code, 4);
  t.match(wrongKey.stderr, /index\.json: signed by untrusted key/);

  // a package flipped after indexing: its size is right but its hash is not
  const pkg = join(repo, 'tool-1.0-1-x86_64.mpk');
  const orig = readFileSync(pkg);
  const bad = Buffer.from(orig);
  bad[bad.length - 20] ^= 1;
  writeFileSync(pkg, bad);
  let r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /tool-1\.0-1-x86_64\.mpk: /);
  // replaced by another validly signed package: size or hash differs from the index
  writeFileSync(pkg, readFileSync(join(repo, 'hello-1.0-1-x86_64.mpk')));
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4);
  t.match(r.stderr, /tool-1\.0-1-x86_64\.mpk: file (is \d+ bytes|sha256 is)/);
  writeFileSync(pkg, orig);

  // missing package
  sh(`mv ${pkg} ${pkg}.away`);
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4);
  t.match(r.stderr, /tool-1\.0-1-x86_64\.mpk: listed in the index of "main" but missing/);
  sh(`mv ${pkg}.away ${pkg}`);

  // the index signed by the right key but listing metadata the package does not have
  const key = loadSecretKey(join(dir, 'k.key'));
  const forged = { ...index, serial: 3, packages: index.packages.map((p: { name: string; depends: string[] }) => (p.name === 'tool' ? { ...p, depends: [] } : p)) };
  const fbytes = canonicalBytes(forged);
  writeFileSync(join(repo, 'index.json'), fbytes);
  writeFileSync(join(repo, 'index.sig'), signBytes(fbytes, key));
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4);
  t.match(r.stderr, /tool-1\.0-1-x86_64\.mpk: index says depends \[\], the package says \["libc >= 1\.2","mawk \| gawk"\]/);

  // the index changed without re-signing
  writeFileSync(join(repo, 'index.json'), canonicalBytes({ ...forged, serial: 4 }));
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4);
  t.match(r.stderr, /index signature does not verify/);

  // pretty-printed index: malformed
  writeFileSync(join(repo, 'index.json'), JSON.stringify(forged, null, 2));
  writeFileSync(join(repo, 'index.sig'), signBytes(Buffer.from(JSON.stringify(forged, null, 2)), key));
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 2);
  t.match(r.stderr, /not in canonical form/);

  // missing signature
  sh(`rm ${join(repo, 'index.sig')}`);
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4);
  t.match(r.stderr, /index signature missing/);

  // an expired index: created long ago with a short validity (the library; the CLI counts validity from the real clock)
  const old = writeIndex({ dir: repo, key: loadSecretKey(join(dir, 'k.key')), expires: 86400, created: 1700000000 });
  t.equal(old.index.serial, 4, 'serial continues from the previous index');
  r = minos(['repo', 'verify', repo, '--keyring', dir]);
  t.equal(r.code, 4);
  t.match(r.stderr, /repository "main" index expired at 2023-11-15T22:13:20Z/);
  t.equal(minos(['repo', 'verify', repo, '--keyring', dir, '--allow-expired']).code, 0);
});

t.test('bad input exits 2 with file, line and field', async (t) => {
  const dir = tempDir(t);
  minos(['key', 'generate', 'k', '--dir', dir]);
  const key = join(dir, 'k.key');
  const pack = (yaml: string) => {
    const f = join(dir, 'r.yaml');
    writeFileSync(f, yaml);
    return minos(['pack', f, '--key', key, '--out', dir]);
  };
  const cases: [string, RegExp][] = [
    ['name: a\nversion: 1\narch: x86_64\nfoo: 1\n', /r\.yaml:4: field "foo": unknown field/],
    ['name: a\nversion: 1\narch: x86_64\nsumary: x\n', /unknown field \(did you mean "summary"\?\)/],
    ['name: a\nversion: 1\n', /r\.yaml:\d+: field "arch": is required/],
    ['name: a\nversion: 1\narch: sparc\n', /r\.yaml:3: field "arch": unknown architecture "sparc"/],
    ['name: A!\nversion: 1\narch: x86_64\n', /r\.yaml:1: field "name": name "A!" must match/],
    ['name: a\nversion: x1\narch: x86_64\n', /r\.yaml:2: field "version": invalid version "x1"/],
    ['name: a\nversion: 1\narch: x86_64\ndepends: ["libc >> 2"]\n', /r\.yaml:4: field "depends\[0\]": invalid dependency "libc >> 2": unknown operator/],
    ['name: a\nversion: 1\narch: x86_64\ndepends: "libc"\n', /r\.yaml:4: field "depends": expected a list/],
    ['name: a\nversion: 1\narch: x86_64\nusers: [{name: u, uid: -1, group: g}]\n', /r\.yaml:4: field "users\[0\]\.uid": must be between/],
    ['name: a\nversion: 1\narch: x86_64\nusers: [{name: u, uid: "7", group: g}]\n', /field "users\[0\]\.uid": expected an integer, got string "7"/],
    ['name: a\nversion: 1\narch: [x86_64\n', /r\.yaml:\d+: invalid YAML/],
    ['name: a\nname: b\nversion: 1\narch: x86_64\n', /invalid YAML.*[Mm]ap keys must be unique/],
    ['name: a\nversion: 1\narch: x86_64\nfiles: nowhere\n', /field "files": ".*nowhere" is not a readable folder/],
    ['name: a\nversion: 1\narch: x86_64\noverrides:\n  /etc/x: {mode: "999"}\n', /r\.yaml:5: field "overrides\.\/etc\/x\.mode": mode "999" must be/],
    ['name: a\nversion: 1\narch: x86_64\noverrides:\n  /dev/x: {type: char}\n', /field "overrides\.\/dev\/x\.major": is required for a char device/],
    ['name: a\nversion: 1\narch: x86_64\noverrides:\n  /etc/x: {mode: "0644"}\n', /field "overrides\.\/etc\/x": "\/etc\/x" is not in the files folder/],
    ['name: a\nversion: 1\narch: x86_64\nconfig: [/etc/nope]\n', /r\.yaml:4: field "config\[0\]": "\/etc\/nope" is not a regular file/],
    ['name: a\nversion: 1\narch: x86_64\noverrides:\n  ../x: {mode: "0644"}\n', /must be an absolute path/],
    ['- just\n- a list\n', /r\.yaml:1: expected a mapping/],
  ];
  for (const [yaml, want] of cases) {
    const r = pack(yaml);
    t.equal(r.code, 2, `${want}: ${r.stderr}`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split('\n').length, 1);
  }
  t.same(readdirSync(dir).filter((f) => f.endsWith('.mpk') || f.includes('.tmp-')), [], 'no output left behind');

  const missing = minos(['pack', join(dir, 'nope.yaml'), '--key', key]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nope\.yaml: no such file or directory/);
  writeFileSync(join(dir, 'ok.yaml'), 'name: a\nversion: 1\narch: x86_64\n');
  const badKey = minos(['pack', join(dir, 'ok.yaml'), '--key', join(dir, 'ok.yaml')]);
  t.equal(badKey.code, 2);
  t.match(badKey.stderr, /ok\.yaml: not an Ed25519 secret key in PEM form/);
  const noKey = minos(['verify', join(dir, 'x.mpk')]);
  t.equal(noKey.code, 2);
  t.match(noKey.stderr, /no trusted keys/);
  const noFile = minos(['verify', join(dir, 'x.mpk'), '--keyring', dir]);
  t.equal(noFile.code, 2);
  t.match(noFile.stderr, /x\.mpk: no such file or directory/);
  const usage = minos(['pack']);
  t.equal(usage.code, 2);
  const unknown = minos(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command/);
  const badDur = minos(['repo', 'index', dir, '--key', key, '--expires', 'soon']);
  t.equal(badDur.code, 2);
  t.match(badDur.stderr, /invalid duration "soon"/);
  t.notOk(existsSync(join(dir, 'index.json')));
});

t.test('--help documents the exit codes', async (t) => {
  const r = minos(['--help']);
  t.equal(r.code, 0);
  for (const n of [0, 1, 2, 3, 4, 5, 6]) t.match(r.stdout, new RegExp(`\\n\\s+${n}  `));
});

t.test('pack without SOURCE_DATE_EPOCH: the same bytes from any checkout', async (t) => {
  const dir = tempDir(t);
  minos(['key', 'generate', 'k', '--dir', dir]);
  const a = recipeDir(join(dir, 'a'));
  const b = recipeDir(join(dir, 'b'));
  // Two checkouts made at different times: every file's mtime differs.
  sh(`find '${a}' -exec touch -h -d @1500000000 {} +; find '${b}' -exec touch -h -d @1600000000 {} +`);
  const pack = (src: string, out: string) => {
    const r = minos(['pack', join(src, 'recipe.yaml'), '--key', join(dir, 'k.key'), '--out', out], { env: { SOURCE_DATE_EPOCH: '' } });
    t.equal(r.code, 0, r.stderr);
    return readFileSync(join(out, readdirSync(out)[0]));
  };
  t.ok(pack(a, join(dir, 'out-a')).equals(pack(b, join(dir, 'out-b'))), 'outside git: identical (mtimes 0)');
  // In a git work tree: the last commit touching the recipe's folder, whoever checks it out.
  sh(`cd '${b}' && git init -q && git add -A && GIT_AUTHOR_DATE=@1650000000 GIT_COMMITTER_DATE=@1650000000 git -c user.name=t -c user.email=t@t commit -qm x`);
  const out = join(dir, 'out-git');
  pack(b, out);
  const r = minos(['inspect', join(out, readdirSync(out)[0]), '--json']);
  t.equal(JSON.parse(r.stdout).builddate, 1650000000, 'the commit time');
});

t.test('repo index under an old SOURCE_DATE_EPOCH signs an index valid from now', async (t) => {
  const dir = tempDir(t);
  minos(['key', 'generate', 'k', '--dir', dir]);
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const r = minos(['repo', 'index', repo, '--key', join(dir, 'k.key'), '--expires', '7d', '--json'], { env: SDE });
  t.equal(r.code, 0, r.stderr);
  const index = JSON.parse(readFileSync(join(repo, 'index.json'), 'utf8'));
  t.equal(index.created, '2023-11-14T22:13:20Z', 'created: the epoch');
  t.ok(Date.parse(index.expires) > Date.now() + 6 * 86400_000, `expires ${index.expires}: seven days from the real clock`);
  const v = minos(['repo', 'verify', repo, '--key', join(dir, 'k.pub')]);
  t.equal(v.code, 0, v.stderr);
});

t.test('a run registers only the commands its arguments reach; the table of groups matches the register functions', async (t) => {
  const { buildProgram, GROUPS, groupsFor } = (await import(join(ROOT, 'dist/cli/main.js'))) as typeof import('../src/cli/main.js');
  const { Command } = await import('commander');
  const io = { out() {}, err() {}, isTTY: false, version: 'x' };
  const all = buildProgram(io).commands.map((c) => c.name());
  const listed: string[] = [];
  for (const [names, register] of GROUPS) {
    const p = new Command('minos');
    register(p, io);
    t.same(p.commands.map((c) => c.name()), names, `${names[0]}'s group registers exactly ${names.join(', ')}`);
    listed.push(...names);
  }
  t.same([...listed, 'completion'].sort(), [...all].sort(), 'every command is in one group (completion is always there)');
  const names = (argv: string[]) => groupsFor(argv).flatMap(([n]) => n);
  t.same(names(['--root', '/r', 'install', 'x']), ['init', 'install', 'remove', 'upgrade', 'rollback', 'cache']);
  t.same(names(['--root=/r', 'list']), ['why', 'list', 'info', 'search', 'files', 'owner', 'history']);
  t.same(names(['--version']), []);
  for (const argv of [[], ['--help'], ['help', 'build'], ['completion', 'bash'], ['frobnicate'], ['--bogus', 'build'], ['--version', '--help']]) {
    t.same(names(argv), listed, `${JSON.stringify(argv)}: every command`);
  }
  // The same answers from the built CLI as from the program with every command.
  t.match(minos(['build', '--help']).stdout, /build a root filesystem image/);
  t.match(minos(['frobnicate']).stderr, /unknown command 'frobnicate'/);
  t.match(minos(['instal']).stderr, /Did you mean install\?/);
});
