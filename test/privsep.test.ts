/**
 * Privilege separation (docs/SECURITY.md): as root, packages are read by an
 * unprivileged child process. Both faces (build and live install) go through
 * it; the child runs as the unprivileged user with no other group; a child
 * that breaks the protocol fails the read with MN0217 naming the package; a
 * bad package fails with the same error as when read in-process.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { BIN, minos, minosAsync, ROOT, serveFolder, tempDir } from './lib/cli.js';
import { liveFixture } from './lib/live.js';
import { makeKey, makeRepo, writeSpec, type PkgDef } from './lib/repo.js';
import { MinosError } from '../src/errors.js';
import { readPackage, type PackageSink } from '../src/pkg/read.js';
import { readPackageChild, readPackageVia, VERIFY_FIRST_MAX } from '../src/privsep/read.js';
import { claimChannel, closeReaders, privsepUser, releaseChannel, startReaders, type ReaderSet } from '../src/privsep/spawn.js';
import { download, stopDownloader } from '../src/repo/fetch.js';
import { loadKeyring } from '../src/repo/keys.js';

type Teardown = { teardown(fn: () => void): void };
const root = process.geteuid?.() === 0;
const CHILD = join(ROOT, 'dist/privsep/child.js');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const pkgs: PkgDef[] = [
  { name: 'alpha', files: { 'usr/bin/alpha': '#!/bin/sh\necho alpha\n', 'usr/share/alpha/big': Buffer.alloc(3 << 20, 7) }, overrides: { '/usr/bin/alpha': { mode: '4755' } } },
  { name: 'beta', depends: ['alpha'], files: { 'etc/beta.conf': 'b=1\n' } },
];

/** A repository of `pkgs` and its keyring. */
function repo(t: Teardown) {
  const dir = tempDir(t, 'minos-privsep-');
  const key = makeKey(join(dir, 'keys'));
  const r = makeRepo(join(dir, 'repo'), key, pkgs);
  const file = (name: string) => join(r, readdirSync(r).find((f) => f.startsWith(`${name}-`))!);
  return { dir, repo: r, pub: join(dir, 'keys/test.pub'), keyring: loadKeyring([join(dir, 'keys/test.pub')]), file };
}

/** What a sink sees, in order. */
function recorder(): PackageSink & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    manifest: (m) => log.push(`manifest ${m.name}`),
    begin: (e) => log.push(`begin ${e.path}`),
    data: (c) => log.push(`data ${c.length}`),
    end: (e) => log.push(`end ${e.path}`),
  };
}

/** The error `fn` throws, as code and message. */
function failure(fn: () => unknown): { code?: string; message?: string } {
  try {
    fn();
  } catch (e) {
    return e instanceof MinosError ? { code: e.code, message: e.message } : { message: String(e) };
  }
  return {};
}

function readers(t: Teardown, script = CHILD): ReaderSet {
  const set = startReaders(1, { script })!;
  t.teardown(() => closeReaders(set));
  return set;
}

t.test('as root, build and live install read packages through the reader; a missing reader user fails both', { skip: !root && 'needs root' }, async (t) => {
  const r = repo(t);
  const spec = writeSpec(join(r.dir, 'image.yaml'), { name: 'p', arch: 'x86_64', repositories: [{ path: r.repo, keys: [r.pub] }], packages: ['beta'] });
  const out = join(r.dir, 'img');
  let run = minos(['build', spec, '-o', out]);
  t.equal(run.code, 0, run.stderr);
  t.equal(readFileSync(join(out, 'etc/beta.conf'), 'utf8'), 'b=1\n');
  t.equal(readFileSync(join(out, 'usr/share/alpha/big')).length, 3 << 20);
  run = minos(['build', spec, '-o', join(r.dir, 'img2')], { env: { MINOS_PRIVSEP_USER: 'no-such-user' } });
  t.equal(run.code, 1);
  t.match(run.stderr, /no user "no-such-user".*\[MN0013\]/, 'the build asked for the reader');
  run = minos(['build', spec, '-o', join(r.dir, 'img3')], { env: { MINOS_PRIVSEP: '0', MINOS_PRIVSEP_USER: 'no-such-user' } });
  t.equal(run.code, 0, 'MINOS_PRIVSEP=0 reads in-process');

  const live = liveFixture(t, pkgs);
  run = live.run(['install', 'beta'], { MINOS_PRIVSEP_USER: 'no-such-user' });
  t.equal(run.code, 1);
  t.match(run.stderr, /\[MN0013\]/, 'the live install asked for the reader');
  run = live.run(['install', 'beta']);
  t.equal(run.code, 0, run.stderr);
  t.equal(readFileSync(join(live.root, 'etc/beta.conf'), 'utf8'), 'b=1\n');
  t.equal(readFileSync(join(live.root, 'usr/bin/alpha'), 'utf8'), '#!/bin/sh\necho alpha\n');
});

t.test('the reader runs as the unprivileged user, with no other group, and reads what in-process reading reads', { skip: !root && 'needs root' }, async (t) => {
  const r = repo(t);
  const user = privsepUser()!;
  t.not(user.uid, 0);
  const set = readers(t);
  for (const name of ['alpha', 'beta']) {
    const direct = recorder();
    const via = recorder();
    const f = r.file(name);
    const b = readFileSync(f);
    const expect = { size: b.length, sha256: sha(b) };
    const a = readPackage(f, { keyring: r.keyring, expect, sink: direct });
    const c = readPackageChild(set, f, { keyring: r.keyring, expect, sink: via });
    t.same(c.manifest, a.manifest, `${name}: the same manifest`);
    t.equal(c.sha256, a.sha256);
    t.equal(c.signer?.id, a.signer?.id);
    t.same(via.log.filter((l) => !l.startsWith('data')), direct.log.filter((l) => !l.startsWith('data')), `${name}: the same sink calls`);
  }
  // The kernel's word on the reader that just read them, not the child's own.
  const ch = claimChannel(set);
  releaseChannel(set, ch, true);
  const status = readFileSync(`/proc/${ch.pid}/status`, 'utf8');
  const field = (k: string) => status.match(new RegExp(`^${k}:(.*)$`, 'm'))![1].trim().split(/\s+/).filter(Boolean);
  t.same(field('Uid').map(Number), [user.uid, user.uid, user.uid, user.uid], 'real, effective, saved and file-system uid');
  t.same(field('Gid').map(Number), [user.gid, user.gid, user.gid, user.gid], 'every gid');
  t.same(field('Groups'), [], 'no supplementary group');
  t.equal(BigInt(`0x${field('CapEff')[0]}`), 0n, 'no effective capability');
  t.equal(readlinkSync(`/proc/${ch.pid}/cwd`), '/', 'its folder is /');
  // Under tap, its process-info hook adds NODE_OPTIONS and _TAPJS_* to every child; nothing else may reach it.
  const environ = readFileSync(`/proc/${ch.pid}/environ`, 'utf8').split('\0').filter(Boolean).map((v) => v.split('=')[0]);
  t.same(environ.filter((k) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_')), [], 'no environment of its parent');
  const fds = readdirSync(`/proc/${ch.pid}/fd`).map((n) => [Number(n), readlinkSync(`/proc/${ch.pid}/fd/${n}`)] as const);
  t.same(fds.filter(([n]) => n <= 2).map(([, l]) => l), ['/dev/null', '/dev/null', '/dev/null'], 'stdin, stdout and stderr are /dev/null');
  t.match(fds.filter(([n]) => n === 3 || n === 4).map(([, l]) => l), [/\/in \(deleted\)$/, /\/out \(deleted\)$/], 'its two FIFOs, unlinked');
  t.ok(fds.filter(([n]) => n > 4).every(([, l]) => !l.startsWith('/')), 'no file open besides (Node\'s own event descriptors only)');
});

t.test('a bad package fails with the error it fails with in-process', { skip: !root && 'needs root' }, async (t) => {
  const r = repo(t);
  const set = readers(t);
  const f = r.file('alpha');
  const good = readFileSync(f);
  const variants: [string, Buffer, { size: number; sha256: string } | undefined][] = [
    ['truncated', good.subarray(0, good.length - 100), undefined],
    ['garbage', Buffer.alloc(5000, 0x41), undefined],
    ['one bit flipped late', Buffer.from(good.map((x, i) => (i === good.length - 40 ? x ^ 1 : x))), undefined],
    ['not the indexed file', good, { size: good.length, sha256: '0'.repeat(64) }],
    ['longer than indexed', good, { size: good.length - 1, sha256: sha(good) }],
  ];
  for (const [what, bytes, exp] of variants) {
    const p = join(r.dir, `${what.replace(/ /g, '-')}.mpk`);
    writeFileSync(p, bytes);
    const expect = exp ?? { size: bytes.length, sha256: sha(bytes) };
    const a = failure(() => readPackage(p, { keyring: r.keyring, expect, sink: recorder() }));
    const b = failure(() => readPackageChild(set, p, { keyring: r.keyring, expect, sink: recorder() }));
    const c = failure(() => readPackageVia(set, p, { keyring: r.keyring, expect, sink: recorder() }));
    t.ok(a.code?.startsWith('MN0'), `${what}: fails in-process (${a.code})`);
    t.same(b, a, `${what}: the same code and message through the reader`);
    t.same(c, a, `${what}: the same code and message verified first`);
  }
  const other = loadKeyring([makeKey(join(r.dir, 'other'), 'other') && join(r.dir, 'other/other.pub')]);
  const expect = { size: good.length, sha256: sha(good) };
  t.same(failure(() => readPackageChild(set, f, { keyring: other, expect })), failure(() => readPackage(f, { keyring: other, expect })), 'untrusted key: the same error');
  // The reader survives failures: the next package reads.
  t.equal(readPackageChild(set, f, { keyring: r.keyring, expect }).manifest.name, 'alpha');
});

/** Hostile children: after a correct hello, each answers a job its own wrong way. */
const HOSTILE: Record<string, string> = {
  garbage: 'w(Buffer.from("this is not a frame stream at all, just bytes"));',
  huge: 'w(frame(0x43, Buffer.alloc(0)).fill(0xff, 1));',
  'entry before manifest': 'w(frame(0x42, u32(0)));',
  'early finish': 'w(frame(0x46, Buffer.from("{}")));',
  'bad error': 'w(frame(0x58, Buffer.from(JSON.stringify({ code: "MN9999", message: "x" }))));',
  'exit mid-job': 'process.exit(0);',
  'forged manifest': 'w(frame(0x4d, Buffer.concat([Buffer.from("0123456789abcdef"), Buffer.alloc(64), Buffer.from("{}")])));',
};

function hostileScript(dir: string, name: string, body: string): string {
  const f = join(dir, `${name.replace(/ /g, '-')}.mjs`);
  writeFileSync(f, `import { readSync, writeSync } from 'node:fs';
const w = (b) => writeSync(4, b);
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const frame = (type, body) => Buffer.concat([Buffer.from([type]), u32(body.length), body]);
w(frame(0x48, Buffer.from(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), euid: process.geteuid(), egid: process.getegid(), groups: process.getgroups() }))));
const head = Buffer.alloc(5);
readSync(3, head, 0, 5, null);
const job = Buffer.alloc(head.readUInt32LE(1));
let got = 0;
while (got < job.length) got += readSync(3, job, got, job.length - got, null);
${body}
readSync(3, head, 0, 1, null);
`);
  chmodSync(f, 0o644);
  return f;
}

/** A repository, and a folder the unprivileged user can read for hostile child scripts. */
function hostileRepo(t: Teardown) {
  const r = repo(t);
  const dir = join(r.dir, 'hostile');
  mkdirSync(dir);
  chmodSync(r.dir, 0o755);
  chmodSync(dir, 0o755);
  return { r, dir };
}

t.test('a child that breaks the protocol fails the read with MN0217 naming the package', { skip: !root && 'needs root' }, async (t) => {
  const { r, dir } = hostileRepo(t);
  const f = r.file('alpha');
  const b = readFileSync(f);
  for (const [name, body] of Object.entries(HOSTILE)) {
    const set = readers(t, hostileScript(dir, name, body));
    const sink = recorder();
    const e = failure(() => readPackageChild(set, f, { keyring: r.keyring, expect: { size: b.length, sha256: sha(b) }, sink }));
    t.equal(e.code, 'MN0217', `${name}: ${e.message}`);
    t.match(e.message, /^alpha-1\.0-x86_64\.mpk: the unprivileged reader /, `${name}: the message names the package`);
    t.same(sink.log, [], `${name}: nothing reached the sink`);
  }
  // A child running as someone else than it should is refused before any job.
  const liar = join(dir, 'liar.mjs');
  writeFileSync(liar, `import { writeSync } from 'node:fs';
const body = Buffer.from(JSON.stringify({ uid: 0, gid: 0, euid: 0, egid: 0, groups: [] }));
const h = Buffer.alloc(5); h[0] = 0x48; h.writeUInt32LE(body.length, 1);
writeSync(4, Buffer.concat([h, body]));
setTimeout(() => {}, 10000);
`);
  chmodSync(liar, 0o644);
  const e = failure(() => readPackageChild(readers(t, liar), f, { keyring: r.keyring }));
  t.equal(e.code, 'MN0013');
  t.match(e.message, /not as \S+ \(\d+:\d+\) alone/);
});

t.test('an indexed package is checked whole before it is parsed, with no reader; an unindexed or large one goes through the reader', { skip: !root && 'needs root' }, async (t) => {
  const { r, dir } = hostileRepo(t);
  const f = r.file('beta');
  const b = readFileSync(f);
  const expect = { size: b.length, sha256: sha(b) };
  // A reader that would break every job: a read that never reaches it succeeds.
  const set = startReaders(1, { script: hostileScript(dir, 'garbage', HOSTILE.garbage), eager: 0 })!;
  t.teardown(() => closeReaders(set));
  const sink = recorder();
  const got = readPackageVia(set, f, { keyring: r.keyring, expect, sink });
  t.same([got.manifest.name, got.sha256, got.size], ['beta', expect.sha256, expect.size]);
  t.ok(sink.log.includes('end etc/beta.conf'));
  t.equal(set.slots[0], 0, 'no reader was started');
  // Bytes that would fail to parse fail on their hash first when the index does not list them.
  const p = join(r.dir, 'garbage.mpk');
  writeFileSync(p, Buffer.alloc(b.length, 0x41));
  const e = failure(() => readPackageVia(set, p, { keyring: r.keyring, expect, sink: recorder() }));
  t.equal(e.code, 'MN0205', `not parsed: ${e.message}`);
  t.equal(set.slots[0], 0, 'still no reader');
  // No index entry: the reader is asked (and this one breaks the protocol).
  t.equal(failure(() => readPackageVia(set, f, { keyring: r.keyring })).code, 'MN0217', 'unindexed: through the reader');
  t.equal(failure(() => readPackageVia(set, f, { keyring: r.keyring, expect: { size: VERIFY_FIRST_MAX + 1, sha256: expect.sha256 } })).code, 'MN0217', 'larger than VERIFY_FIRST_MAX: through the reader');
});

/** The uid owning the client end of `req`'s loopback TCP connection (/proc/net/tcp). */
function clientUid(req: IncomingMessage): number | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  const mine = `:${hex(req.socket.remotePort!)}`;
  const theirs = `:${hex(req.socket.localPort!)}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(mine) && f[2]?.endsWith(theirs)) return Number(f[7]);
  }
  return undefined;
}

t.test('as root, downloads run in the unprivileged downloader; its errors are those of an in-process download', { skip: !root && 'needs root' }, async (t) => {
  const r = repo(t);
  const uids: (number | undefined)[] = [];
  const url = await serveFolder(t, r.repo, (req) => uids.push(clientUid(req)));
  const user = privsepUser()!;
  const specOf = (u: string, name: string) => writeSpec(join(r.dir, `${name}.yaml`), { name: 'p', arch: 'x86_64', repositories: [{ url: u, keys: [r.pub] }], packages: ['beta'] });
  let run = await minosAsync(['build', specOf(url, 'http'), '-o', join(r.dir, 'img')], { env: { XDG_CACHE_HOME: join(r.dir, 'cache') } });
  t.equal(run.code, 0, run.stderr);
  t.equal(readFileSync(join(r.dir, 'img/etc/beta.conf'), 'utf8'), 'b=1\n');
  t.ok(uids.length >= 3, `index, signature and packages fetched (${uids.length} requests)`);
  t.same([...new Set(uids)], [user.uid], `every connection was made by ${user.name}`);
  uids.length = 0;
  run = await minosAsync(['build', specOf(url, 'http'), '-o', join(r.dir, 'img2')], { env: { XDG_CACHE_HOME: join(r.dir, 'cache2'), MINOS_PRIVSEP: '0' } });
  t.equal(run.code, 0, run.stderr);
  t.same([...new Set(uids)], [0], 'MINOS_PRIVSEP=0: by minos itself');
  const missing = specOf(`${url}/nothere`, 'missing');
  const a = await minosAsync(['plan', missing]);
  const b = await minosAsync(['plan', missing], { env: { MINOS_PRIVSEP: '0' } });
  t.equal(a.code, b.code);
  t.equal(a.stderr, b.stderr, 'a missing index: the same error either way');
  t.match(a.stderr, /\[MN0212\]/);
});

/** Hostile downloaders: each says hello (or not) and then answers the first request its own wrong way. */
const HOSTILE_FETCH: Record<string, [string, string]> = {
  'more than asked': ['MN0217', 'w(frame(0x44, Buffer.alloc(200))); w(frame(0x45, Buffer.alloc(0)));'],
  'unknown frame': ['MN0217', 'w(frame(0x51, Buffer.alloc(1)));'],
  'oversized frame': ['MN0217', 'w(Buffer.from([0x44, 0xff, 0xff, 0xff, 0x7f]));'],
  'malformed error': ['MN0217', 'w(frame(0x58, Buffer.from(JSON.stringify({ code: "MN9999", message: "x" }))));'],
  'exit mid-transfer': ['MN0217', 'w(frame(0x44, Buffer.alloc(10))); process.exit(0);'],
};

t.test('a downloader that breaks the protocol fails the download, nothing past the bound reaches the caller', { skip: !root && 'needs root' }, async (t) => {
  const dir = tempDir(t, 'minos-privsep-fetch-');
  chmodSync(dir, 0o755);
  const script = (name: string, body: string, hello = true) => {
    const f = join(dir, `${name.replace(/ /g, '-')}.mjs`);
    writeFileSync(f, `import { writeSync } from 'node:fs';
const w = (b) => writeSync(1, b);
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const frame = (type, body) => Buffer.concat([Buffer.from([type]), u32(body.length), body]);
${hello ? 'w(frame(0x48, Buffer.from(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), euid: process.geteuid(), egid: process.getegid(), groups: process.getgroups() }))));' : 'w(frame(0x48, Buffer.from(JSON.stringify({ uid: 0, gid: 0, euid: 0, egid: 0, groups: [] }))));'}
process.stdin.once('data', () => { ${body} });
setTimeout(() => {}, 20000);
`);
    chmodSync(f, 0o644);
    return f;
  };
  for (const [name, [code, body]] of Object.entries(HOSTILE_FETCH)) {
    let got = 0;
    const e = await download('http://127.0.0.1:9/x', 100, (c) => { got += c.length; }, process.env, script(name, body)).then(() => ({ code: 'none', message: '' }), (x: MinosError) => ({ code: x.code, message: x.message }));
    t.equal(e.code, code, `${name}: ${e.message}`);
    t.ok(got <= 100, `${name}: at most the bound reached the caller (${got})`);
  }
  const liar = await download('http://127.0.0.1:9/x', 100, () => {}, process.env, script('liar', '', false)).catch((x: MinosError) => x);
  t.equal((liar as MinosError).code, 'MN0013', 'a downloader that runs as someone else is refused');
  const silent = await download('http://127.0.0.1:9/x', 100, () => {}, { ...process.env, MINOS_HTTP_TIMEOUT: '0.2' }, script('silent', '')).catch((x: MinosError) => x);
  t.equal((silent as MinosError).code, 'MN0010', 'a silent downloader times out');
  stopDownloader();
});

/** Pids of running downloaders (their command line names fetchchild). */
function downloaders(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      return readFileSync(`/proc/${n}/cmdline`, 'utf8').includes('fetchchild');
    } catch {
      return false;
    }
  }).map(Number);
}

t.test('interrupted during a stalled download, minos leaves no downloader behind', { skip: !root && 'needs root' }, async (t) => {
  const r = repo(t);
  const server = createServer(() => {}); // accepts, never answers
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => server.close());
  const before = downloaders();
  const spec = writeSpec(join(r.dir, 'stall.yaml'), { name: 'p', arch: 'x86_64', repositories: [{ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, keys: [r.pub] }], packages: ['beta'] });
  const p = spawn(process.execPath, [BIN, 'plan', spec], { stdio: 'ignore', env: { ...process.env, XDG_CACHE_HOME: join(r.dir, 'cache') } });
  let started: number[] = [];
  for (let i = 0; i < 100 && !started.length; i++) {
    await new Promise((ok) => setTimeout(ok, 100));
    started = downloaders().filter((d) => !before.includes(d));
  }
  t.equal(started.length, 1, 'a downloader runs while the server stalls');
  const exited = new Promise<string>((ok) => p.on('exit', (code, signal) => ok(`${code} ${signal}`)));
  p.kill('SIGINT');
  t.equal(await exited, 'null SIGINT', 'minos ends on SIGINT');
  for (let i = 0; i < 20 && started.some((d) => downloaders().includes(d)); i++) await new Promise((ok) => setTimeout(ok, 100));
  t.same(started.filter((d) => downloaders().includes(d)), [], 'the downloader is gone');
});
