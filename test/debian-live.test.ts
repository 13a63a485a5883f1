/**
 * The live commands on a Debian root: install, upgrade, remove and rollback
 * of real Debian packages on the essential root minos built, with the
 * scripts' effects and the dpkg database kept in step (probed with dpkg in a
 * chroot), `verify` clean after every step, and the root after rolling back
 * to generation 0 equal, entry for entry, to a fresh build.
 *
 * The upgrade comes from a second Debian repository made here: busybox-static
 * rebuilt with dpkg-deb under a higher version, with its program moved from
 * /bin to /usr/bin (the merged-/usr move), listed in a Packages file and an
 * InRelease signed with a throwaway OpenPGP key. Then faults during an
 * install (SIGKILL, ENOSPC), and a rootless root kept by an ordinary user
 * from the mirror served over http.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import t from 'tap';
import { minos, minosAsync, ROOT, serveFolder, sh, tempDir } from './lib/cli.js';
import { essentialMirror, KEYRING, stanzaOf } from './lib/debmirror.js';
import { injectRun, points, rootState, sameTree, treeDiff } from './lib/crash.js';

const SPEC = join(ROOT, 'images/debian-minimal.yaml');
const MIRROR = essentialMirror();
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function chroot(root: string, cmd: string): string {
  const r = spawnSync('chroot', [root, '/bin/sh', '-c', cmd], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

/** path -> type, mode, owner, link target and content hash of every entry, minos's own state left out. */
function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    if (/^(var\/lib\/minos|var\/cache\/minos|etc\/minos)(\/|$)/.test(rel)) return;
    const abs = join(root, rel);
    const st = lstatSync(abs);
    const kind = st.isSymbolicLink() ? `l ${readlinkSync(abs)}` : st.isDirectory() ? 'd' : st.isFile() ? `f ${sha256(readFileSync(abs)).slice(0, 16)}` : `n ${st.rdev}`;
    out[rel || '.'] = `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) for (const n of readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

/** A signed Debian repository (suite "updates") holding busybox-static under version `version`, its program in /usr/bin. */
async function updateRepo(dir: string, version: string): Promise<{ repo: string; keyring: string }> {
  const packages = readFileSync(join(MIRROR, 'dists/bookworm/main/binary-amd64/Packages'), 'utf8');
  const orig = join(MIRROR, stanzaOf(packages, 'busybox-static').Filename);
  const work = join(dir, 'deb');
  sh(`dpkg-deb -R '${orig}' '${work}'`);
  mkdirSync(join(work, 'usr/bin'), { recursive: true });
  renameSync(join(work, 'bin/busybox'), join(work, 'usr/bin/busybox'));
  sh(`rmdir '${join(work, 'bin')}' && sed -i 's/^Version: .*/Version: ${version}/' '${join(work, 'DEBIAN/control')}'`);
  const repo = join(dir, 'repo');
  const file = `pool/main/b/busybox/busybox-static_${version.replace(/^\d+:/, '')}_amd64.deb`;
  mkdirSync(join(repo, 'pool/main/b/busybox'), { recursive: true });
  sh(`dpkg-deb --root-owner-group -Zxz -b '${work}' '${join(repo, file)}' >/dev/null`);
  const deb = readFileSync(join(repo, file));
  const control = sh(`dpkg-deb -f '${join(repo, file)}'`).trimEnd();
  const stanza = `${control}\nFilename: ${file}\nSize: ${deb.length}\nSHA256: ${sha256(deb)}\n`;
  const list = 'main/binary-amd64/Packages';
  mkdirSync(join(repo, 'dists/updates/main/binary-amd64'), { recursive: true });
  writeFileSync(join(repo, 'dists/updates', list), stanza);
  const release = [
    'Origin: minos-test', 'Suite: updates', 'Codename: updates', `Date: ${new Date().toUTCString()}`, 'Architectures: amd64', 'Components: main',
    'SHA256:', ` ${sha256(stanza)} ${Buffer.byteLength(stanza)} ${list}`, '',
  ].join('\n');
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'minos test updates' }], format: 'object' });
  const signed = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text: release }), signingKeys: privateKey });
  writeFileSync(join(repo, 'dists/updates/InRelease'), signed);
  const keyring = join(dir, 'updates.gpg');
  writeFileSync(keyring, publicKey.write());
  return { repo, keyring };
}

t.test('install, upgrade, remove and rollback on a Debian root keep dpkg and the effects in step', async (t) => {
  const dir = tempDir(t, 'minos-deblive-');
  const root = join(dir, 'root');
  const fresh = join(dir, 'fresh');
  let r = minos(['build', SPEC, '-o', root, '--lock', join(dir, 'a.lock.json')]);
  t.equal(r.code, 0, r.stderr);
  r = minos(['build', SPEC, '-o', fresh, '--lock', join(dir, 'b.lock.json')]);
  t.equal(r.code, 0, r.stderr);
  const m = (...args: string[]) => minos(['--root', root, ...args]);
  const clean = (what: string) => {
    const v = m('verify');
    t.equal(v.code, 0, `${what}: verify is clean ${v.stdout.slice(0, 400)}${v.stderr}`);
    t.match(chroot(root, 'dpkg --audit && echo audit-ok'), /^audit-ok$/m, `${what}: dpkg --audit is clean`);
    t.match(chroot(root, 'dpkg --verify && echo verify-ok'), /^verify-ok$/m, `${what}: dpkg --verify is clean`);
  };

  // The image names its Debian repository without a location: give it the mirror.
  r = m('install', 'busybox-static');
  t.equal(r.code, 3);
  t.match(r.stderr, /no package named busybox-static \[MN0302\] \(hint: repository "debian-bookworm" has no location on this machine/, 'a repository without a location is named');
  t.equal(m('repo', 'remove', 'debian-bookworm').code, 0);
  r = m('repo', 'add', 'debian-bookworm', MIRROR, '--suite', 'bookworm', '--keyring', KEYRING);
  t.equal(r.code, 0, r.stderr);

  r = m('install', 'busybox-static');
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /exists on the root/, 'Debian packages land through the merged-/usr links');
  t.match(chroot(root, 'dpkg -l busybox-static'), /^ii {2}busybox-static +1:1\.35\.0-4\+deb12u1\+b1 /m, 'dpkg lists it installed');
  t.match(chroot(root, 'dpkg -S /bin/busybox'), /^busybox-static: \/bin\/busybox$/m, 'dpkg -S knows its file');
  t.match(chroot(root, 'busybox echo runs'), /^runs$/m);
  t.match(chroot(root, 'dpkg -l | grep -c "^ii"'), /^70$/m);
  t.ok(statSync(join(root, 'lib')).isDirectory() && lstatSync(join(root, 'lib')).isSymbolicLink(), '/lib is still a link');
  clean('install');
  r = m('cache', 'clean');
  t.equal(r.code, 0, r.stderr);
  t.equal(readdirSync(join(root, 'var/cache/minos')).filter((f) => f.endsWith('.deb')).length, 1, 'cache clean keeps the .deb of an installed Debian package');

  // dpkg run inside the root changed its status: minos stops rather than lose that.
  const status = join(root, 'var/lib/dpkg/status');
  const saved = readFileSync(status);
  writeFileSync(status, Buffer.concat([saved, Buffer.from('\n')]));
  r = m('remove', 'busybox-static');
  t.equal(r.code, 6, 'a dpkg status changed outside minos stops the transaction');
  t.match(r.stderr, /\/var\/lib\/dpkg\/status was changed outside minos .* \[MN0601\]/);
  writeFileSync(status, saved);

  const up = await updateRepo(dir, '1:1.35.0-4+deb12u1+b2');
  r = m('repo', 'add', 'updates', up.repo, '--suite', 'updates', '--keyring', up.keyring);
  t.equal(r.code, 0, r.stderr);
  r = m('upgrade');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /busybox-static/);
  t.match(chroot(root, 'dpkg -l busybox-static'), /^ii {2}busybox-static +1:1\.35\.0-4\+deb12u1\+b2 /m, 'dpkg lists the new version');
  t.match(chroot(root, 'dpkg -S /usr/bin/busybox'), /^busybox-static: \/usr\/bin\/busybox$/m, 'its list names the new path');
  t.match(chroot(root, 'busybox echo upgraded'), /^upgraded$/m, 'the program is there through both paths');
  t.match(chroot(root, 'ls -l /bin/busybox /usr/bin/busybox | wc -l'), /^2$/m);
  clean('upgrade');

  r = m('rollback');
  t.equal(r.code, 0, r.stderr);
  t.match(chroot(root, 'dpkg -l busybox-static'), /^ii {2}busybox-static +1:1\.35\.0-4\+deb12u1\+b1 /m, 'rolled back to the first version');
  t.match(chroot(root, 'dpkg -S /bin/busybox'), /^busybox-static: \/bin\/busybox$/m);
  clean('rollback');

  r = m('remove', 'busybox-static');
  t.equal(r.code, 0, r.stderr);
  t.match(chroot(root, 'dpkg -l busybox-static 2>&1'), /no packages found/, 'dpkg no longer knows it');
  t.same(readdirSync(join(root, 'var/lib/dpkg/info')).filter((f) => f.startsWith('busybox')), [], 'its dpkg info files are gone');
  clean('remove');

  r = m('remove', 'hostname');
  t.equal(r.code, 3, 'an Essential package is not removed without --allow-essential');
  t.match(r.stderr, /the Essential package hostname \[MN0303\]/);

  r = m('rollback', '0');
  t.equal(r.code, 0, r.stderr);
  const a = treeOf(root);
  const b = treeOf(fresh);
  const diff = Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]);
  t.same(diff.map((k) => `${k}: ${a[k]} | ${b[k]}`), [], 'back at generation 0: the root equals a fresh build, entry for entry');
  clean('rollback 0');
});

/**
 * Faults during a Debian install (its effects staged and journaled with the
 * packages): SIGKILL at a disk-changing step, at a system call (and in the
 * recovery after it), and ENOSPC at a system call. After the next command
 * the root is exactly as before or as after, nothing is left over, and
 * `verify` is clean. MINOS_FULL=1 (`make test-crash`) runs 30 trials.
 */
t.test('SIGKILL and ENOSPC during a Debian install: exactly the old or the new root', async (t) => {
  const FULL = process.env.MINOS_FULL === '1';
  const dir = tempDir(t, 'minos-deblive-crash-');
  const template = join(dir, 'template');
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const m = (root: string, args: string[], extra: Record<string, string> = {}) => minos(['--root', root, ...args], { env: { ...env, ...extra } });
  const r = minos(['build', SPEC, '-o', template, '--lock', join(dir, 'lock.json')], { env });
  t.equal(r.code, 0, r.stderr);
  m(template, ['repo', 'remove', 'debian-bookworm']);
  t.equal(m(template, ['repo', 'add', 'debian-bookworm', MIRROR, '--suite', 'bookworm', '--keyring', KEYRING]).code, 0);
  const args = ['install', 'busybox-static'];
  const copy = (to: string) => sh(`rm -rf '${to}' && cp -a '${template}' '${to}'`);
  const probe = join(dir, 'probe');
  copy(probe);
  const found = points(probe, args, { ...env, MINOS_CRASH_COUNT: '1' });
  const steps = Number(/minos-crash-steps: (\d+)/.exec(found.stderr ?? '')?.[1] ?? 0);
  t.ok(steps > 10 && found.length > 10, `${steps} disk-changing steps, ${found.length} system calls to fault`);
  const old = rootState(template);
  const after = rootState(probe);
  const judge = (root: string, what: string, allowed = ['old', 'new']) => {
    const q = m(root, ['recover']);
    t.equal(q.code, 0, `${what}: recover ${q.stderr}`);
    const st = rootState(root);
    const is = sameTree(st.tree, old.tree) ? 'old' : sameTree(st.tree, after.tree) ? 'new' : undefined;
    t.ok(is && allowed.includes(is), `${what}: ${allowed.join(' or ')} state (${is})`, is ? undefined : { vsOld: treeDiff(st.tree, old.tree), vsNew: treeDiff(st.tree, after.tree) });
    t.same(st.litter, [], `${what}: nothing left over`);
    const v = m(root, ['verify']);
    t.equal(v.code, 0, `${what}: verify clean ${v.stdout.slice(0, 300)}`);
  };
  const trials = FULL ? 10 : 1;
  const root = join(dir, 'trial');
  // Calls on the root only (not the loading of node's own modules), spread over the run and over the classes.
  const onRoot = found.filter((p) => p.call.includes('ROOT'));
  const classes = [...new Set(onRoot.map((p) => p.cls))];
  const spread = <T>(list: readonly T[], i: number) => list[Math.min(list.length - 1, Math.floor((list.length * (i + 0.5)) / trials))];
  for (let i = 0; i < trials; i++) {
    const step = Math.max(1, Math.round((steps * (i + 0.5)) / trials));
    copy(root);
    m(root, args, { MINOS_CRASH_AFTER: String(step) });
    judge(root, `SIGKILL at step ${step} of ${steps}`);
    copy(root);
    const p = spread(onRoot.filter((c) => c.cls === classes[i % classes.length]), i);
    const k = injectRun(root, args, p.syscall, p.n, 'signal=KILL');
    const rec = points(root, ['recover']);
    let what = `SIGKILL at ${p.syscall} #${p.n} (${k.injected ?? 'not reached'})`;
    if (rec.length) {
      const q = rec[i % rec.length];
      const rr = injectRun(root, ['recover'], q.syscall, q.n, 'signal=KILL');
      what += `, recovery killed at ${q.syscall} #${q.n} (${rr.injected ?? 'not reached'})`;
    }
    judge(root, what);
    copy(root);
    const e = spread(onRoot.filter((f) => ['write', 'openat', 'rename', 'mkdir', 'link', 'fsync'].includes(f.cls)), i);
    const res = injectRun(root, args, e.syscall, e.n, 'error=ENOSPC');
    const where = `ENOSPC at ${e.syscall} #${e.n} (${res.injected ?? 'not reached'})`;
    if (!res.injected?.includes('ROOT')) {
      // strace counts each thread's calls: another thread's Nth call (an eventfd of libuv, which aborts on it) took the fault.
      judge(root, where);
      continue;
    }
    const lines = res.stderr.split('\n').filter((l) => l && !/^minos: (warning|recovered|took over)/.test(l));
    if (res.code !== 0) {
      t.equal(lines.length, 1, `ENOSPC at ${e.syscall} #${e.n}: one line of error`);
      t.notMatch(res.stderr, /internal error/);
    }
    judge(root, where, res.code === 0 || /committed/.test(res.stderr) ? ['new'] : ['old']);
  }
});

t.test('as an ordinary user, over http: a rootless Debian root takes installs and rollbacks, verify stays clean', async (t) => {
  const dir = tempDir(t, 'minos-deblive-user-');
  sh(`chmod 755 '${dir}' && mkdir '${dir}/w' && chown nobody '${dir}/w'`);
  const root = join(dir, 'w/root');
  const url = await serveFolder(t, MIRROR);
  // Not blocking this process: the mirror is served from it.
  const as = (args: string[]) => minosAsync(args, { user: 'nobody', env: { HOME: join(dir, 'w') } });
  let r = await as(['build', SPEC, '-o', root]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /not running as root: \d+ owners and device nodes could not be applied/);
  const m = (...args: string[]) => as(['--root', root, ...args]);
  t.equal((await m('repo', 'remove', 'debian-bookworm')).code, 0);
  r = await m('repo', 'add', 'debian-bookworm', url, '--suite', 'bookworm', '--keyring', KEYRING);
  t.equal(r.code, 0, r.stderr);
  for (const step of [['install', 'busybox-static'], ['rollback'], ['install', 'busybox-static'], ['remove', 'busybox-static']]) {
    r = await m(...step);
    t.equal(r.code, 0, `${step.join(' ')}: ${r.stderr}`);
    const v = await m('verify');
    t.equal(v.code, 0, `${step.join(' ')}: verify clean (device nodes stay deferred) ${v.stdout.slice(0, 300)}${v.stderr}`);
  }
  t.ok(readdirSync(join(root, 'var/cache/minos')).some((f) => f.endsWith('.deb')), 'the downloaded .deb is kept for rollback');
});
