/**
 * Containment as an attacker and an unlucky user would try it: inputs that
 * are not regular files or never end, strict formats, escape sequences in
 * package data, stalled and redirecting http servers and proxies, build
 * outputs that must not be lost or delete foreign files, unreadable journals
 * and litter, and the whole CLI against a read-only root and as nobody.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { BIN, minos, sh, tempDir, type Run } from './lib/cli.js';
import { liveFixture, snapshot } from './lib/live.js';
import { makeKey, makeRepo, writeSpec } from './lib/repo.js';
import { parseCanonical } from '../src/jsonfields.js';
import { createTarReader } from '../src/unpack/tar.js';
import { encodeHeader } from '../src/unpack/tarwrite.js';
import { signBytes } from '../src/repo/keys.js';

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };
const ONE_LINE_EXITS = [1, 2, 3, 4, 5, 6];

/** minos without blocking this process, so servers in it can answer; killed after `limitMs`. */
function minosAsync(args: string[], env: Record<string, string> = {}, opts: { limitMs?: number; onStart?: (pid: number) => void } = {}): Promise<Run & { signal: string | null }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.limitMs ?? 60_000);
    opts.onStart?.(c.pid!);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr, signal });
    });
  });
}

function listen(s: Server): Promise<number> {
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok((s.address() as { port: number }).port)));
}

function repoFixture(t: Tap.Test) {
  const dir = tempDir(t, 'minos-contain-');
  const key = makeKey(join(dir, 'keys'));
  const repo = makeRepo(join(dir, 'repo'), key, [
    { name: 'hello', files: { 'usr/bin/hello': '#!/bin/sh\necho hi\n' } },
  ]);
  const spec = writeSpec(join(dir, 'image.yaml'), { name: 'img', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello'] });
  return { dir, key, repo, spec, pub: join(dir, 'keys/test.pub'), pkg: join(repo, readdirSync(repo).find((n) => n.endsWith('.mpk'))!) };
}

t.test('FIFOs, devices and folders are refused before they are opened', async (t) => {
  const f = repoFixture(t);
  const fifo = join(f.dir, 'fifo');
  sh(`mkfifo ${fifo}`);
  const cases: [string[], RegExp][] = [
    [['inspect', fifo], /fifo: is a FIFO, not a regular file/],
    [['verify', fifo, '--key', f.pub], /is a FIFO/],
    [['inspect', f.pkg, '--key', fifo], /is a FIFO/],
    [['inspect', f.pkg, '--key', '/dev/zero'], /is a character device/],
    [['key', 'id', '/dev/zero'], /is a character device/],
    [['plan', fifo], /is a FIFO/],
    [['build', f.spec, '-o', join(f.dir, 'o.tar'), '--lock', fifo], /is a FIFO/],
    [['inspect', f.dir], /is a folder/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, cwd: f.dir });
    t.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.match(r.stderr, re, args.join(' '));
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  // a FIFO or an endless file as the repository index
  rmSync(join(f.repo, 'index.json'));
  sh(`mkfifo ${join(f.repo, 'index.json')}`);
  const r = spawnSync(process.execPath, [BIN, 'repo', 'verify', f.repo, '--key', f.pub], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 2, r.stderr);
  t.match(r.stderr, /index\.json: is a FIFO/);
  rmSync(join(f.repo, 'index.json'));
  writeFileSync(join(f.repo, 'index.json'), '');
  truncateSync(join(f.repo, 'index.json'), 300 << 20); // sparse: no disk used
  const big = minos(['repo', 'verify', f.repo, '--key', f.pub]);
  t.equal(big.code, 2, big.stderr);
  t.match(big.stderr, /larger than the 268435456 bytes accepted \[MN0111\]/);
});

t.test('strict formats: BOM, typeflag NUL, pax records', async (t) => {
  const ctx = { where: 'x', code: 'MN0110' as const };
  t.same(parseCanonical(Buffer.from('{"a":1}'), ctx), { a: 1 });
  t.throws(() => parseCanonical(Buffer.from('\ufeff{"a":1}'), ctx), /byte order mark/);
  const hdr = { name: 'f', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', size: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0 };
  const tarOf = (mut: (h: Buffer) => void, pax?: string) => {
    const blocks: Buffer[] = [];
    if (pax) {
      const body = Buffer.from(pax);
      const ph = Buffer.from(encodeHeader({ ...hdr, name: 'PaxHeader', size: body.length }));
      ph[156] = 0x78;
      fixSum(ph);
      blocks.push(ph, Buffer.concat([body, Buffer.alloc(512 - body.length)]));
    }
    const h = Buffer.from(encodeHeader(hdr));
    mut(h);
    fixSum(h);
    blocks.push(h, Buffer.alloc(1024));
    return Buffer.concat(blocks);
  };
  const read = (b: Buffer) => {
    const r = createTarReader({ entry() {}, data() {}, entryEnd() {} });
    r.push(b);
    r.end();
  };
  t.doesNotThrow(() => read(tarOf(() => {})));
  t.throws(() => read(tarOf((h) => (h[156] = 0))), /typeflag NUL/);
  t.doesNotThrow(() => read(tarOf(() => {}, paxRecord('mtime', '1.5') + paxRecord('atime', '2'))));
  t.throws(() => read(tarOf(() => {}, paxRecord('SCHILY.xattr.user.x', 'y'))), /pax record "SCHILY\.xattr\.user\.x" is not accepted/);
  t.throws(() => read(tarOf(() => {}, paxRecord('hdrcharset', 'BINARY'))), /not accepted/);
  t.throws(() => read(tarOf(() => {}, paxRecord('mtime', 'soon'))), /not a decimal time/);

  // an index with a BOM, correctly signed, is refused naming the file
  const f = repoFixture(t);
  const idx = join(f.repo, 'index.json');
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(idx)]);
  writeFileSync(idx, bom);
  writeFileSync(join(f.repo, 'index.sig'), signBytes(bom, f.key));
  const r = minos(['repo', 'verify', f.repo, '--key', f.pub]);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /index\.json: starts with a UTF-8 byte order mark/);
});

function paxRecord(k: string, v: string): string {
  const body = ` ${k}=${v}\n`;
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n++;
  return `${n}${body}`;
}

function fixSum(h: Buffer): void {
  h.fill(0x20, 148, 156);
  let s = 0;
  for (const b of h) s += b;
  h.write(`${s.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

t.test('package data cannot drive the terminal', async (t) => {
  const dir = tempDir(t, 'minos-contain-');
  const key = makeKey(join(dir, 'keys'));
  const evil = '\x1b]0;pwned\x07\x1b[31mred\u202e\nfiles:';
  const repo = makeRepo(join(dir, 'repo'), key, [{ name: 'evil', files: { 'usr/share/evil/x': 'x' } }]);
  // rewrite the summary through a recipe of our own
  const src = join(dir, 'src');
  mkdirSync(join(src, 'tree/usr/bin'), { recursive: true });
  writeFileSync(join(src, 'tree/usr/bin/e'), 'e');
  writeFileSync(join(src, 'recipe.yaml'), `name: evil\nversion: "2.0"\narch: x86_64\nsummary: ${JSON.stringify(evil)}\nlicense: MIT\nfiles: tree\n`);
  const p = minos(['pack', join(src, 'recipe.yaml'), '--key', join(dir, 'keys/test.key'), '-o', repo], { env: SDE });
  t.equal(p.code, 0, p.stderr);
  const file = join(repo, 'evil-2.0-x86_64.mpk');
  const text = minos(['inspect', file]);
  t.equal(text.code, 0, text.stderr);
  t.notMatch(text.stdout, /[\x00-\x09\x0b-\x1f\x7f\u202e]/, 'no control characters printed');
  t.match(text.stdout, /summary: +\\u001b\]0;pwned\\u0007\\u001b\[31mred\\u202e\\u000afiles:/);
  const json = minos(['inspect', file, '--json']);
  t.notMatch(json.stdout, /[\x00-\x09\x0b-\x1f\x7f\u202e]/);
  t.equal(JSON.parse(json.stdout).summary, evil, 'JSON output stays exact');
});

t.test('http: stalls time out, redirects are bounded, proxies are used', async (t) => {
  const f = repoFixture(t);
  const serve = (url: string, res: import('node:http').ServerResponse) => {
    const p = join(f.repo, decodeURIComponent(url.slice(1)));
    if (!existsSync(p)) return void res.writeHead(404).end();
    res.writeHead(200).end(readFileSync(p));
  };
  // a server that accepts and never answers
  const stalls = createServer(() => {});
  const stallPort = await listen(stalls);
  t.teardown(() => stalls.closeAllConnections?.() ?? stalls.close());
  const spec = (url: string, name: string) => writeSpec(join(f.dir, `${name}.yaml`), { name: 'img', arch: 'x86_64', repositories: [{ url, keys: ['keys/test.pub'] }], packages: ['hello'] });
  const stalled = await minosAsync(['plan', spec(`http://127.0.0.1:${stallPort}`, 'stall')], { MINOS_HTTP_TIMEOUT: '1' });
  t.equal(stalled.code, 1, stalled.stderr);
  t.match(stalled.stderr, /no answer within 1 s \[MN0010\]/);
  // endless redirects; a redirect to another scheme
  const loops = createServer((req, res) => {
    if (req.url!.startsWith('/ftp')) res.writeHead(302, { location: 'ftp://127.0.0.1/x' }).end();
    else res.writeHead(302, { location: `/r${req.url}` }).end();
  });
  const loopPort = await listen(loops);
  t.teardown(() => loops.close());
  const loop = await minosAsync(['plan', spec(`http://127.0.0.1:${loopPort}`, 'loop')]);
  t.equal(loop.code, 1, loop.stderr);
  t.match(loop.stderr, /more than 5 redirects/);
  const ftp = await minosAsync(['plan', spec(`http://127.0.0.1:${loopPort}/ftp`, 'ftp')]);
  t.match(ftp.stderr, /redirect from http: to ftp: refused/);
  // a plain repository behind an http proxy (absolute-form requests), and NO_PROXY
  const seen: string[] = [];
  const origin = createServer((req, res) => serve(req.url!, res));
  const originPort = await listen(origin);
  t.teardown(() => origin.close());
  const proxy = createServer((req, res) => {
    seen.push(req.url!);
    const u = new URL(req.url!);
    const up = request({ host: u.hostname, port: u.port, path: u.pathname, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.end();
  });
  proxy.on('connect', (req, sock) => {
    seen.push(`CONNECT ${req.url}`);
    sock.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  const proxyPort = await listen(proxy);
  t.teardown(() => proxy.close());
  const via = spec(`http://127.0.0.1:${originPort}`, 'via');
  const env = { HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '' , no_proxy: '' };
  const ok = await minosAsync(['plan', via], env);
  t.equal(ok.code, 0, ok.stderr);
  t.ok(seen.some((u) => u === `http://127.0.0.1:${originPort}/index.json`), `the proxy saw the index request: ${seen}`);
  seen.length = 0;
  const direct = await minosAsync(['plan', via], { ...env, NO_PROXY: 'localhost,127.0.0.1' });
  t.equal(direct.code, 0, direct.stderr);
  t.same(seen, [], 'NO_PROXY bypasses the proxy');
  // https through the proxy uses CONNECT; this proxy refuses the tunnel
  const tls = await minosAsync(['plan', spec('https://repo.invalid', 'tls')], { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` });
  t.equal(tls.code, 1, tls.stderr);
  t.match(tls.stderr, /proxy 127\.0\.0\.1:\d+ refused the tunnel \(HTTP 403\)/);
  t.ok(seen.includes('CONNECT repo.invalid:443'));
});

t.test('build outputs: refusals, atomic replacement under SIGKILL, signals', async (t) => {
  const f = repoFixture(t);
  const work = join(f.dir, 'work');
  mkdirSync(work);
  const build = (out: string, extra: string[] = [], env: Record<string, string> = {}) =>
    minos(['build', f.spec, '-o', out, ...extra], { cwd: work, env: { ...SDE, ...env } });
  for (const [out, re] of [['.', /current folder/], ['/', /root folder/], [f.dir, /current folder or holds it/], ['/proc/x', /under \/proc/], ['x.tar.bz2', /unknown output extension "\.tar\.bz2".*tar\.zst/]] as const) {
    const r = build(out);
    t.equal(r.code, 2, `${out}: ${r.stderr}`);
    t.match(r.stderr, re);
  }
  t.equal(build(join(f.repo, 'sub')).code, 0, 'a new folder is fine');
  if (existsSync('/dev/shm')) {
    const shm = join('/dev/shm', `minos-test-${process.pid}`);
    // The lockfile and SBOM land beside the output: OUT.lock.json, OUT.spdx.json.
    t.teardown(() => {
      for (const p of [shm, `${shm}.lock.json`, `${shm}.spdx.json`]) rmSync(p, { recursive: true, force: true });
    });
    const r = build(shm);
    t.equal(r.code, 0, `/dev/shm is a tmpfs for files like any other: ${r.stderr}`);
    t.equal(build('/dev/x').code, 2, 'the rest of /dev is refused');
  }
  mkdirSync(join(work, 'mine'));
  writeFileSync(join(work, 'mine/keep'), 'mine');
  const foreign = build('mine');
  t.equal(foreign.code, 2, foreign.stderr);
  t.equal(readFileSync(join(work, 'mine/keep'), 'utf8'), 'mine', 'a foreign folder is untouched');
  t.equal(build('mine', ['--force']).code, 0);
  t.ok(existsSync(join(work, 'mine/usr/bin/hello')));

  // SIGKILL at every step of replacing a folder: the next build ends with a full image and no litter
  t.equal(build('rootfs').code, 0);
  const want = snapshot(join(work, 'rootfs'), []);
  for (let n = 1; n <= 6; n++) {
    build('rootfs', [], { MINOS_CRASH_AFTER: String(n) });
    const next = build('other');
    t.equal(next.code, 0, next.stderr);
    const again = build('rootfs');
    t.equal(again.code, 0, again.stderr);
    t.same(snapshot(join(work, 'rootfs'), []), want, `crash at step ${n}: the image is whole`);
    t.same(readdirSync(work).filter((x) => x.includes('.minos-') || x.includes('.tmp-')), [], `crash at step ${n}: no temp files`);
  }

  // SIGTERM and SIGINT while a download stalls: every temp file removed, 143 / 130
  const stall = createServer((req, res) => {
    if (req.url === '/index.json' || req.url === '/index.sig') return void res.writeHead(200).end(readFileSync(join(f.repo, req.url.slice(1))));
    res.writeHead(200);
    res.write('x'); // then nothing
  });
  const port = await listen(stall);
  t.teardown(() => stall.closeAllConnections?.() ?? stall.close());
  const httpSpec = writeSpec(join(f.dir, 'http.yaml'), { name: 'img', arch: 'x86_64', repositories: [{ url: `http://127.0.0.1:${port}`, keys: ['keys/test.pub'] }], packages: ['hello'] });
  for (const [sig, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    let pid = 0;
    const run = minosAsync(['build', httpSpec, '-o', join(work, 'sig.tar')], { XDG_CACHE_HOME: join(f.dir, `cache-${sig}`) }, { onStart: (p) => (pid = p) });
    // wait until the build has made its stage
    for (let i = 0; i < 200 && !readdirSync(work).some((x) => x.startsWith('.sig.tar.minos-')); i++) await new Promise((r) => setTimeout(r, 50));
    t.ok(readdirSync(work).some((x) => x.startsWith('.sig.tar.minos-')), 'the build is under way');
    process.kill(pid, sig);
    const r = await run;
    t.equal(r.code, status, r.stderr);
    t.match(r.stderr, /temporary files removed \[MN0011\]/);
    t.same(readdirSync(work).filter((x) => x.includes('sig.tar')), [], `${sig}: nothing left`);
  }
});

t.test('live roots: litter, a lock that is a folder, unreadable and missing journals', async (t) => {
  const fx = liveFixture(t, [
    { name: 'a', files: { 'usr/bin/a': 'a1\n', 'etc/a.conf': 'x\n' } },
    { name: 'b', files: { 'usr/bin/b': 'b1\n' } },
  ]);
  t.equal(fx.run(['install', 'a']).code, 0);
  const dead = spawnSync('true').pid!;
  const db = join(fx.root, 'var/lib/minos');
  for (const n of [`lock.new-${dead}`, `serials.json.new-${dead}`, `installed.json.new-${dead}`]) writeFileSync(join(db, n), 'litter');
  t.equal(fx.run(['install', 'b']).code, 0);
  t.same(readdirSync(db).filter((n) => /\.new-/.test(n)), [], 'litter of dead processes removed');
  t.equal(fx.run(['remove', 'b']).code, 0);

  // the lock path is a folder
  mkdirSync(join(db, 'lock'));
  const locked = fx.run(['install', 'b']);
  t.equal(locked.code, 2, locked.stderr);
  t.match(locked.stderr, /var\/lib\/minos\/lock: is a folder, not a lock file \[MN0115\]/);
  rmSync(join(db, 'lock'), { recursive: true });

  // a database whose file list leads outside the root: refused as corrupt before anything is removed
  const good = readFileSync(join(db, 'installed.json'));
  const canary = join(fx.dir, 'canary');
  writeFileSync(canary, 'outside');
  for (const key of ['packages', 'generated']) {
    const d = JSON.parse(good.toString());
    const evil = { path: `../../${canary.split('/').slice(1).join('/')}`, type: 'file', mode: 0o644, owner: 'root', group: 'root', size: 7, sha256: '0'.repeat(64) };
    if (key === 'packages') d.packages[0].files.push(evil);
    else d.generated = [evil];
    writeFileSync(join(db, 'installed.json'), JSON.stringify(d));
    const r = fx.run(['remove', 'a']);
    t.equal(r.code, 1, `${key}: ${r.stderr}`);
    t.match(r.stderr, /corrupt installed database: .*"\.\." path component \[MN0004\]/);
    t.equal(readFileSync(canary, 'utf8'), 'outside', `${key}: the file outside the root is untouched`);
  }
  writeFileSync(join(db, 'installed.json'), good);

  // a transaction killed after its journal, whose journal then became garbage
  const before = snapshot(fx.root);
  const steps = (args: string[]) => Number(/minos-crash-steps: (\d+)/.exec(fx.run(args, { MINOS_CRASH_COUNT: '1' }).stderr)?.[1]);
  const template = join(fx.dir, 'template');
  cpSync(fx.root, template, { recursive: true, verbatimSymlinks: true });
  const total = steps(['install', 'b']);
  t.ok(total > 4, `install b takes ${total} steps`);
  for (const mode of ['garbage', 'missing'] as const) {
    for (const k of [3, Math.ceil(total / 2)]) {
      rmSync(fx.root, { recursive: true });
      cpSync(template, fx.root, { recursive: true, verbatimSymlinks: true });
      fx.run(['install', 'b'], { MINOS_CRASH_AFTER: String(k) });
      const txns = readdirSync(join(db, 'txn'));
      t.equal(txns.length, 1, 'a transaction was left');
      for (const j of ['journal.json', 'journal.copy.json']) {
        const p = join(db, 'txn', txns[0], j);
        if (mode === 'garbage') writeFileSync(p, '{"format":1,"pre":[{"op"');
        else rmSync(p, { force: true });
      }
      if (mode === 'garbage') {
        const q = fx.run(['list']);
        t.equal(q.code, 0, `queries still work: ${q.stderr}`);
        t.match(q.stderr, /unreadable journal.*minos recover --abort/);
        const w = fx.run(['install', 'b']);
        t.equal(w.code, 1, w.stderr);
        t.match(w.stderr, /\[MN0004\] \(hint: run `minos recover --abort`/);
        const ab = fx.run(['recover', '--abort']);
        t.equal(ab.code, 0, ab.stderr);
      } else {
        // Queries never write: they say what is pending; recover (or any writing command) rolls it back.
        const q = fx.run(['list']);
        t.equal(q.code, 0, q.stderr);
        t.match(q.stderr, /an interrupted transaction \(.*\) is pending; showing the last committed state/);
        const rc = fx.run(['recover']);
        t.equal(rc.code, 0, rc.stderr);
        t.match(rc.stdout + rc.stderr, /recovered an interrupted transaction/);
      }
      t.same(snapshot(fx.root), before, `${mode} journal, killed at ${k}: the old state`);
      t.same(readdirSync(join(db, 'txn')), [], 'no transaction folder left');
      t.equal(fx.run(['install', 'b']).code, 0, 'and the root works');
    }
  }
});

t.test('the whole CLI on a read-only root and as nobody on a root-owned root: one line, documented exit, no internal error', async (t) => {
  const fx = liveFixture(t, [
    { name: 'a', files: { 'usr/bin/a': 'a1\n' } },
    { name: 'b', files: { 'usr/bin/b': 'b1\n' } },
  ]);
  t.equal(fx.run(['install', 'a']).code, 0);
  const key2 = join(fx.dir, 'keys/test.pub');
  const commands = [
    ['list'], ['info', 'a'], ['files', 'a'], ['owner', '/usr/bin/a'], ['search', 'a'], ['history'], ['verify'], ['list', '--upgradable'],
    ['install', 'b'], ['remove', 'a'], ['upgrade'], ['rollback'], ['key', 'add', key2], ['key', 'list'], ['repo', 'add', 'x', fx.repo], ['repo', 'list'],
    ['repo', 'remove', 'main'], ['recover'], ['init'], ['plan', 'install', 'b'],
  ];
  const check = (label: string, run: (args: string[]) => Run) => {
    let writes = 0;
    for (const args of commands) {
      const r = run(args);
      t.notMatch(r.stderr, /internal error|MN0001|\n\s+at /, `${label} ${args.join(' ')}: ${r.stderr}`);
      t.ok(r.code === 0 || ONE_LINE_EXITS.includes(r.code), `${label} ${args.join(' ')}: exit ${r.code}`);
      if (r.code !== 0) {
        writes++;
        t.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('minos: warning')).length, 1, `${label} ${args.join(' ')}: one line: ${r.stderr}`);
      }
    }
    t.ok(writes >= 8, `${label}: the writing commands failed (${writes})`);
  };
  // read-only bind mount of the root
  const ro = join(fx.dir, 'ro');
  mkdirSync(ro);
  sh(`mount --bind ${fx.root} ${ro} && mount -o remount,bind,ro ${ro}`);
  t.teardown(() => spawnSync('umount', [ro]));
  const before = snapshot(fx.root);
  check('read-only', (args) => minos(['--root', ro, ...args]));
  spawnSync('umount', [ro]);
  t.same(snapshot(fx.root), before, 'nothing changed');
  // as nobody on a root-owned root
  chmodSync(fx.dir, 0o755);
  // (without tap's NODE_OPTIONS, whose hook writes into the checkout as the user)
  const clean = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' };
  check('nobody', (args) => {
    // env -i: tap adds its process hook to every child's environment, and nobody cannot write its records
    const r = spawnSync('env', ['-i', `PATH=${clean.PATH}`, `HOME=${clean.HOME}`, 'runuser', '-u', 'nobody', '--', process.execPath, BIN, '--root', fx.root, ...args], { encoding: 'utf8' });
    return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  });
  t.same(snapshot(fx.root), before, 'nothing changed');
});
