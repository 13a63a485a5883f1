/**
 * Hostile packages: every one must be refused with the documented exit
 * status and a one-line message naming the problem, and nothing may be
 * written anywhere (verify only reads).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { canonicalBytes } from '../src/canonical.js';
import { META_FIELDS } from '../src/meta.js';
import { INDEX_NAME, INDEX_SIG } from '../src/repo/index.js';
import { signBytes } from '../src/repo/keys.js';
import type { Manifest } from '../src/types.js';
import { buildPackage, goodParts, makeKey, payloadMembers, sha, type Build, type Member } from './lib/evil.js';
import { minos, tempDir } from './lib/cli.js';

const key = makeKey();
const other = makeKey();
const dir = tempDir(t, 'minos-hostile-');
const pub = join(dir, 'trusted.pub');
writeFileSync(pub, key.key.export({ type: 'spki', format: 'pem' }) as string);
const escapee = `minos-evil-${process.pid}`;

let n = 0;
function write(pkg: Buffer): string {
  const f = join(dir, `case${n++}.mpk`);
  writeFileSync(f, pkg);
  return f;
}

function variant(change: (m: Manifest, c: Map<string, Buffer>) => Build | void): string {
  const { manifest, contents } = goodParts(key);
  const b = change(manifest, contents) ?? {};
  return write(buildPackage(key, manifest, contents, b));
}

function expectRefused(t: Tap.Test, file: string, exit: number, message: RegExp): void {
  const before = readdirSync(dir).sort();
  const r = minos(['verify', file, '--key', pub]);
  t.equal(r.code, exit, `exit ${exit}: ${r.stderr.trim()}`);
  t.match(r.stderr, message);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.match(r.stderr, /^minos: case\d+\.mpk: /, 'names the file');
  t.equal(r.stdout, '');
  t.same(readdirSync(dir).sort(), before, 'nothing written beside it');
  t.notOk(existsSync(join('/tmp', escapee)), 'nothing written outside');
}

t.test('the unmodified package verifies (the fixtures are sound)', async (t) => {
  const r = minos(['verify', variant(() => {}), '--key', pub]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /ok \(evil 1\.0-1 x86_64, 7 entries/);
});

const addFile = (m: Manifest, c: Map<string, Buffer>, path: string, data: Buffer) => {
  m.files.push({ path, type: 'file', mode: 0o644, owner: 'root', group: 'root', size: data.length, sha256: sha(data) });
  m.installedSize += data.length;
  c.set(path, data);
};

const cases: [string, number, RegExp, (m: Manifest, c: Map<string, Buffer>) => Build | void][] = [
  ['".." path', 2, /"\.\." path component/, (m, c) => addFile(m, c, `usr/../../../../tmp/${escapee}`, Buffer.from('x'))],
  ['absolute path', 2, /absolute path/, (m, c) => { addFile(m, c, `/tmp/${escapee}`, Buffer.from('x')); m.files.sort((a, b) => (a.path < b.path ? -1 : 1)); }],
  ['entry not in the manifest', 4, /"usr\/bin\/extra" is not in the manifest/, (m, c) => ({
    members: [...payloadMembers(m, c), { h: { name: 'usr/bin/extra' }, data: Buffer.from('x') }],
  })],
  ['manifest entry missing from the payload', 4, /manifest entry "usr\/bin\/hl" is missing from the payload/, (m, c) => ({ members: payloadMembers(m, c).slice(0, -1) })],
  ['wrong size in a header', 4, /usr\/bin\/hello: size is 999, manifest says 21/, (m, c) => ({
    members: payloadMembers(m, c).map((x): Member => (x.h.name === 'usr/bin/hello' ? { h: { ...x.h, size: 999 }, data: Buffer.alloc(999) } : x)),
  })],
  ['wrong hash', 4, /usr\/bin\/hello: sha256 is [0-9a-f]{64}, manifest says/, (m, c) => { c.set('usr/bin/hello', Buffer.from('#!/bin/sh\necho hellp\n')); }],
  // Decoded output comes in pieces of at most 256 KiB: this content is hashed over several calls, not in one.
  ['wrong hash in a file of several chunks', 4, /etc\/big: sha256 is [0-9a-f]{64}, manifest says/, (m, c) => {
    const data = Buffer.alloc(600_000, 7);
    addFile(m, c, 'etc/big', data);
    const bad = Buffer.from(data);
    bad[599_999] ^= 1;
    c.set('etc/big', bad);
    m.files.sort((a, b) => (a.path < b.path ? -1 : 1));
  }],
  ['empty file whose manifest hash is not the empty one', 4, /etc\/empty: sha256 is e3b0c442[0-9a-f]{56}, manifest says/, (m, c) => {
    addFile(m, c, 'etc/empty', Buffer.alloc(0));
    m.files[m.files.length - 1].sha256 = sha(Buffer.from('x'));
    m.files.sort((a, b) => (a.path < b.path ? -1 : 1));
  }],
  ['bad signature', 4, /manifest signature does not verify/, (m) => {
    const bytes = canonicalBytes(m);
    const sig = signBytes(bytes, key);
    sig[10] ^= 1;
    return { signature: sig };
  }],
  ['manifest changed after signing', 4, /manifest signature does not verify/, (m) => {
    const sig = signBytes(canonicalBytes(m), key);
    m.files[4].mode = 0o6777;
    return { signature: sig };
  }],
  ['missing signature', 4, /missing signature/, () => ({ signature: null })],
  ['unknown key', 4, /signed by untrusted key [0-9a-f]{16}/, (m, _c) => {
    m.signer = other.id;
    return { signature: signBytes(canonicalBytes(m), other) };
  }],
  ['duplicate payload entry', 4, /"usr\/bin\/hello" is out of order or duplicated/, (m, c) => {
    const p = payloadMembers(m, c);
    return { members: [...p.slice(0, 5), p[4], ...p.slice(5)] };
  }],
  ['duplicate manifest entry', 2, /duplicate entry "usr\/bin\/hello"/, (m) => { m.files.splice(5, 0, { ...m.files[4] }); m.installedSize += m.files[4].size; }],
  ['hardlink to outside the package', 2, /hardlink "usr\/bin\/hl" must point to an earlier regular file/, (m) => { m.files[6].target = '../../etc/shadow'; }],
  ['hardlink to a file of another package', 2, /hardlink "usr\/bin\/hl" must point to an earlier regular file/, (m) => { m.files[6].target = 'etc/shadow'; }],
  ['hardlink with a mode its file does not have', 2, /must have the mode, owner and group of "usr\/bin\/hello"/, (m) => { m.files[6].mode = 0o755; }],
  ['symlink with a mode', 2, /a symlink's mode is always 511/, (m) => { m.files[5].mode = 0o755; }],
  ['symlink climbing out of the root', 2, /points outside the root/, (m) => { m.files[5].target = '../../../etc/shadow'; }],
  ['overlong name', 2, /longer than 4095 bytes|longer than 4096 bytes/, (m, c) => addFile(m, c, `usr/${'a/'.repeat(2100)}x`, Buffer.from('x'))],
  ['overlong component', 2, /component longer than 255 bytes/, (m, c) => addFile(m, c, `usr/${'a'.repeat(300)}`, Buffer.from('x'))],
  ['setuid gained in the payload', 4, /etc\/hello.conf: mode is 4644, manifest says 0644/, (m, c) => ({
    members: payloadMembers(m, c).map((x) => (x.h.name === 'etc/hello.conf' ? { ...x, h: { ...x.h, mode: 0o4644 } } : x)),
  })],
  ['owner changed in the payload', 4, /owner is "nobody", manifest says "root"/, (m, c) => ({
    members: payloadMembers(m, c).map((x) => (x.h.name === 'usr/bin/hello' ? { ...x, h: { ...x.h, uname: 'nobody' } } : x)),
  })],
  ['symlink target changed in the payload', 4, /link target is "\/etc\/shadow", manifest says "hello"/, (m, c) => ({
    members: payloadMembers(m, c).map((x) => (x.h.name === 'usr/bin/hi' ? { ...x, h: { ...x.h, linkname: '/etc/shadow' } } : x)),
  })],
  ['device node smuggled as a file', 4, /type is char, manifest says file/, (m, c) => ({
    members: payloadMembers(m, c).map((x) => (x.h.name === 'etc/hello.conf' ? { h: { ...x.h, type: 'char', devmajor: 8, devminor: 0 } } : x)),
  })],
  ['non-NFC path (Unicode trick)', 2, /NFC/, (m, c) => addFile(m, c, 'usr/cafe\u0301', Buffer.from('x'))],
  ['control character in a path', 2, /control character/, (m, c) => addFile(m, c, 'usr/a\nb', Buffer.from('x'))],
  ['non-canonical manifest', 2, /not in canonical form/, (m) => {
    const bytes = Buffer.from(JSON.stringify(m, null, 1));
    return { manifestBytes: bytes, signature: signBytes(bytes, key) };
  }],
  ['manifest with duplicate keys', 2, /not in canonical form/, (m) => {
    const bytes = Buffer.from(canonicalBytes(m).toString().replace('{"arch":"x86_64"', '{"arch":"x86_64","arch":"x86_64"'));
    return { manifestBytes: bytes, signature: signBytes(bytes, key) };
  }],
  ['unknown manifest field', 2, /field "script": unknown field/, (m) => { (m as unknown as Record<string, unknown>).script = 'rm -rf /'; }],
  ['lying installedSize', 2, /installedSize/, (m) => { m.installedSize = 1; }],
  ['malformed pax header', 2, /bad pax record length|pax record/, (_m, _c) => ({
    tar: (tar) => {
      // Turn the first payload entry's header into a pax header with a bad record.
      const at = tar.indexOf(Buffer.from('etc/\0'));
      const bad = Buffer.from(tar);
      const body = Buffer.from('99 path=etc\n');
      bad.fill(0, at, at + 512);
      bad.write('PaxHeader', at, 'latin1');
      bad.write('0000644\0', at + 100, 'latin1');
      bad.write('0000000\0', at + 108, 'latin1');
      bad.write('0000000\0', at + 116, 'latin1');
      bad.write(body.length.toString(8).padStart(11, '0') + '\0', at + 124, 'latin1');
      bad.write('00000000000\0', at + 136, 'latin1');
      bad[at + 156] = 0x78;
      bad.write('ustar\x0000', at + 257, 'latin1');
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : bad[at + i];
      bad.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
      return Buffer.concat([bad.subarray(0, at + 512), body, Buffer.alloc(512 - body.length), bad.subarray(at)]);
    },
  })],
  ['NUL in a pax path', 2, /NUL byte/, (m, c) => ({
    members: payloadMembers(m, c).map((x) => (x.h.name === 'usr' ? { ...x, h: { ...x.h, name: `usr\0${'x'.repeat(200)}` } } : x)),
  })],
  ['GNU long-name entry', 2, /GNU/, (_m, _c) => ({
    tar: (tar) => {
      const at = tar.indexOf(Buffer.from('etc/\0'));
      const bad = Buffer.from(tar);
      bad[at + 156] = 0x4c;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : bad[at + i];
      bad.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
      return bad;
    },
  })],
];

for (const [name, exit, message, change] of cases) {
  t.test(name, async (t) => expectRefused(t, variant(change), exit, message));
}

t.test('truncated file', async (t) => {
  const { manifest, contents } = goodParts(key);
  const whole = buildPackage(key, manifest, contents);
  expectRefused(t, write(whole.subarray(0, whole.length - 7)), 4, /truncated zstd stream|corrupt zstd/);
  expectRefused(t, write(whole.subarray(0, 40)), 4, /truncated zstd stream|corrupt zstd/);
});

t.test('trailing garbage after the zstd frame', async (t) => {
  const { manifest, contents } = goodParts(key);
  expectRefused(t, write(Buffer.concat([buildPackage(key, manifest, contents), Buffer.from('GARBAGE!')])), 4, /corrupt zstd|truncated/);
});

t.test('trailing data after the end of the tar', async (t) => {
  expectRefused(t, variant(() => ({ tar: (tar) => Buffer.concat([tar, Buffer.from('x'.repeat(600))]) })), 2, /data after the end of the archive/);
});

t.test('not a package at all', async (t) => {
  expectRefused(t, write(Buffer.from('just some text, not zstd\n')), 4, /corrupt zstd/);
  expectRefused(t, write(Buffer.alloc(0)), 2, /empty file/);
});

t.test('zstd bomb: a small package expanding to 512 MiB of zeros', async (t) => {
  const { manifest, contents } = goodParts(key);
  const plain = buildPackage(key, manifest, contents, { tar: (tar) => tar });
  // Decompress ours, append zeros (valid tar padding, so only the size bound stops it), recompress with the CLI.
  const tar = spawnSync('zstd', ['-dc'], { input: plain, maxBuffer: 1 << 26 }).stdout as Buffer;
  const tarFile = join(dir, 'bomb.tar');
  writeFileSync(tarFile, tar);
  const file = join(dir, `case${n++}.mpk`);
  const r = spawnSync('sh', ['-c', `{ cat ${tarFile}; head -c 512M /dev/zero; } | zstd -q -1 -c > ${file} && rm ${tarFile}`]);
  t.equal(r.status, 0);
  t.ok(readdirSync(dir).length > 0);
  const started = process.hrtime.bigint();
  expectRefused(t, file, 4, /decompressed data exceeds what the manifest declares/);
  t.comment(`bomb refused in ${Number(process.hrtime.bigint() - started) / 1e6} ms`);
});

t.test('zstd bomb before any manifest', async (t) => {
  const file = join(dir, `case${n++}.mpk`);
  const r = spawnSync('sh', ['-c', `head -c 256M /dev/zero | zstd -q -1 -c > ${file}`]);
  t.equal(r.status, 0);
  expectRefused(t, file, 4, /manifest too large or missing/);
});

t.test('a manifest member that claims to be huge', async (t) => {
  expectRefused(t, variant(() => ({ tar: (tar) => {
    const b = Buffer.from(tar);
    b.write((1 << 30).toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i];
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    return b;
  } })), 2, /\.MANIFEST is 1073741824 bytes \(at most/);
});

// The same packages through `minos build`, signed into a repository index (a
// signer gone bad): each writer must refuse them the same way, leaving nothing
// at the output. By default a small build's writes (and its file hashes) are
// made on a worker thread (src/unpack/fswriter.ts); MINOS_UNPACK_WORKERS=1
// makes them on the main thread, 2 unpacks on a worker as well.
const viaBuild = ['wrong hash', 'wrong hash in a file of several chunks', 'empty file whose manifest hash is not the empty one', 'bad signature', 'entry not in the manifest'];
t.test('through minos build, with every writer', async (t) => {
  for (const name of viaBuild) {
    const [, exit, message, change] = cases.find((c) => c[0] === name)!;
    const { manifest, contents } = goodParts(key);
    const pkg = buildPackage(key, manifest, contents, change(manifest, contents) ?? {});
    const repo = join(dir, `repo${n++}`);
    mkdirSync(repo);
    const file = `${manifest.name}-${manifest.version}-${manifest.arch}.mpk`;
    writeFileSync(join(repo, file), pkg);
    const meta = Object.fromEntries(META_FIELDS.map((k) => [k, manifest[k]]));
    const index = canonicalBytes({
      format: 1, name: 'main', serial: 1, created: '2026-01-01T00:00:00Z', expires: null, signer: key.id,
      packages: [{ ...meta, file, size: pkg.length, sha256: sha(pkg) }],
    });
    writeFileSync(join(repo, INDEX_NAME), index);
    writeFileSync(join(repo, INDEX_SIG), signBytes(index, key));
    const spec = join(repo, 'image.yaml');
    writeFileSync(spec, `name: evil\narch: x86_64\nrepositories:\n  - path: .\n    keys: [${pub}]\npackages: [evil]\n`);
    for (const threads of [undefined, '1', '2']) {
      const out = join(repo, 'out');
      mkdirSync(out);
      const r = minos(['build', spec, '-o', join(out, 'img')], { env: threads ? { MINOS_UNPACK_WORKERS: threads } : {} });
      const how = `${name}, ${threads ?? 'default'} threads`;
      t.equal(r.code, exit, `${how}: exit ${exit}: ${r.stderr.trim()}`);
      t.match(r.stderr, message, how);
      t.match(r.stderr, new RegExp(`^minos: ${file.replace(/\./g, '\\.')}: `), `${how}: names the package file`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${how}: one line`);
      t.same(readdirSync(out), [], `${how}: nothing at or beside the output`);
      rmSync(out, { recursive: true });
    }
  }
});

t.test('hostile index entries, through minos plan', async (t) => {
  const entry = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    name, version: '1.0-1', arch: 'x86_64', summary: name, license: 'MIT', depends: [], provides: [], conflicts: [],
    replaces: [], optional: [], builddate: 0, installedSize: 0, file: `${name}-1.0-1-x86_64.mpk`, size: 1, sha256: '0'.repeat(64), ...extra,
  });
  const cases: [string, Record<string, unknown>[], RegExp][] = [
    ['the same package twice', [entry('app'), entry('app', { file: 'other.mpk' })], /packages\[1\]": app 1\.0-1 x86_64 \(other\.mpk\) is listed twice/],
    ['one file twice', [entry('app'), entry('lib', { file: 'app-1.0-1-x86_64.mpk' })], /packages\[1\]": lib 1\.0-1 x86_64 \(app-1\.0-1-x86_64\.mpk\) is listed twice/],
    ['a file in another folder', [entry('app', { file: '../app.mpk' })], /"packages\[0\]\.file": "\.\.\/app\.mpk" must be a plain file name/],
    ['an empty file name', [entry('app', { file: '' })], /"packages\[0\]\.file": "" must be a plain file name/],
    ['an unknown field', [entry('app', { scripts: 'rm -rf /' })], /packages\[0\]: field "scripts": unknown field/],
    ['a missing field', [Object.fromEntries(Object.entries(entry('app')).filter(([k]) => k !== 'sha256'))], /packages\[0\]: field "sha256": missing/],
    ['an unknown operator', [entry('app', { depends: ['libc >= 1', 'libc >> 2'] })], /packages\[0\]: field "depends\[1\]": invalid dependency "libc >> 2": unknown operator/],
    ['an empty alternative', [entry('app', { optional: ['a |'] })], /packages\[0\]: field "optional\[0\]": invalid dependency "a \|": empty alternative/],
    ['a version ending in a hyphen', [entry('app', { depends: ['a >= 1.0-'] })], /field "depends\[0\]": invalid dependency "a >= 1\.0-"/],
    ['alternatives in a conflict', [entry('app', { conflicts: ['a | b'] })], /field "conflicts\[0\]": invalid dependency "a \| b"/],
    ['a dependency that is not a string', [entry('app', { depends: [7] })], /field "depends\[0\]": expected a string/],
  ];
  for (const [what, packages, message] of cases) {
    const repo = join(dir, `repo${n++}`);
    mkdirSync(repo);
    const index = canonicalBytes({ format: 1, name: 'main', serial: 1, created: '2026-01-01T00:00:00Z', expires: null, signer: key.id, packages });
    writeFileSync(join(repo, INDEX_NAME), index);
    writeFileSync(join(repo, INDEX_SIG), signBytes(index, key));
    const spec = join(repo, 'image.yaml');
    writeFileSync(spec, `name: evil\narch: x86_64\nrepositories:\n  - path: .\n    keys: [${pub}]\npackages: [app]\n`);
    const r = minos(['plan', spec]);
    t.equal(r.code, 2, `${what}: exit 2: ${r.stderr.trim()}`);
    t.match(r.stderr, /^minos: \S*index\.json: /, `${what}: names the index`);
    t.match(r.stderr, message, what);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.equal(r.stdout, '', `${what}: no plan`);
  }
  // The forms the fast check leaves to the full parser are still accepted.
  const repo = join(dir, `repo${n++}`);
  mkdirSync(repo);
  const packages = [entry('app', { depends: ['lib >= 0:0.9', 'lib<=2', ' lib  '], conflicts: ['old < 1:1'] }), entry('lib')];
  const index = canonicalBytes({ format: 1, name: 'main', serial: 1, created: '2026-01-01T00:00:00Z', expires: null, signer: key.id, packages });
  writeFileSync(join(repo, INDEX_NAME), index);
  writeFileSync(join(repo, INDEX_SIG), signBytes(index, key));
  const spec = join(repo, 'image.yaml');
  writeFileSync(spec, `name: fine\narch: x86_64\nrepositories:\n  - path: .\n    keys: [${pub}]\npackages: [app]\n`);
  const r = minos(['plan', spec, '--json']);
  t.equal(r.code, 0, `epochs, no spaces, padding: accepted: ${r.stderr.trim()}`);
  t.same(JSON.parse(r.stdout || '{}').install?.map((l: { name: string }) => l.name), ['app', 'lib'], 'and solved');
});

t.test('an index is checked against its signature before it is parsed', async (t) => {
  const cases: [string, Buffer, RegExp, number][] = [
    ['not JSON, no signer', Buffer.from('{{{{ not json'), /index signature does not verify with any trusted key \[MN0201\]/, 4],
    ['not JSON, an untrusted signer', Buffer.from('{"packages":[{{{,"signer":"0123456789abcdef"}'), /signed by untrusted key 0123456789abcdef \[MN0203\]/, 4],
    ['not JSON, the trusted signer', Buffer.from(`{"packages":[{{{,"signer":"${key.id}"}`), new RegExp(`does not verify with key ${key.id} \\(\\S+\\) \\[MN0201\\]`), 4],
  ];
  for (const [what, index, message, code] of cases) {
    const repo = join(dir, `repo${n++}`);
    mkdirSync(repo);
    writeFileSync(join(repo, INDEX_NAME), index);
    writeFileSync(join(repo, INDEX_SIG), Buffer.alloc(64, 1));
    const spec = join(repo, 'image.yaml');
    writeFileSync(spec, `name: evil\narch: x86_64\nrepositories:\n  - path: .\n    keys: [${pub}]\npackages: [app]\n`);
    const r = minos(['plan', spec]);
    t.equal(r.code, code, `${what}: exit ${code}`);
    t.match(r.stderr, message, `${what}: ${r.stderr.trim()}`);
  }
  // Signed by a trusted key, but naming another signer inside.
  const repo = join(dir, `repo${n++}`);
  mkdirSync(repo);
  const index = canonicalBytes({ format: 1, name: 'main', serial: 1, created: '2026-01-01T00:00:00Z', expires: null, signer: 'fedcba9876543210', packages: [] });
  writeFileSync(join(repo, INDEX_NAME), index);
  writeFileSync(join(repo, INDEX_SIG), signBytes(index, key));
  const spec = join(repo, 'image.yaml');
  writeFileSync(spec, `name: evil\narch: x86_64\nrepositories:\n  - path: .\n    keys: [${pub}]\npackages: [app]\n`);
  const r = minos(['plan', spec]);
  t.equal(r.code, 4);
  t.match(r.stderr, new RegExp(`names signer fedcba9876543210, but key ${key.id} \\(\\S+\\) signed it \\[MN0201\\]`));
});
