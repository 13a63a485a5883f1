/**
 * Debian's essential set built into roots for x86_64 and aarch64 (on this
 * x86_64 machine; aarch64 programs run under qemu-user through binfmt_misc),
 * probed in a plain chroot (nothing mounted), side by side with
 * mmdebstrap's essential root of the same mirror (which runs every
 * maintainer script): minos's root passes every probe mmdebstrap's does; and a rootless build to tar.zst has the entries,
 * owners and modes of the root build to a folder.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, ROOT, sh, tempDir } from './lib/cli.js';
import { essentialMirror } from './lib/debmirror.js';

const SPEC = join(ROOT, 'images/debian-minimal.yaml');
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });

essentialMirror();

/** qemu-aarch64 registered with binfmt_misc, fix-binary (usable inside a chroot). */
function binfmtAarch64(): void {
  const fs = '/proc/sys/fs/binfmt_misc';
  if (!existsSync(join(fs, 'register'))) sh(`mount -t binfmt_misc binfmt_misc ${fs}`);
  if (existsSync(join(fs, 'qemu-aarch64'))) return;
  const conf = readFileSync('/usr/lib/binfmt.d/qemu-aarch64.conf', 'utf8').trim();
  writeFileSync(join(fs, 'register'), conf.includes(':F') || /:[A-Z]*F[A-Z]*$/.test(conf) ? conf : `${conf}F`);
}

const PROBES: [string, RegExp][] = [
  ['echo ok', /^ok$/m],
  ['echo 1 2 | awk "{print \\$2}"', /^2$/m],
  ['which ls', /^\/(usr\/)?bin\/ls$/m],
  ['readlink -f /usr/bin/pager', /^\/usr\/bin\/more$/m],
  ['readlink -f /usr/bin/awk', /^\/usr\/bin\/mawk$/m],
  ['echo x > /dev/null && echo null-ok', /^null-ok$/m],
  ['getent passwd root', /^root:[^:]*:0:0:root:\/root:\/bin\/bash$/m],
  ['getent group shadow', /^shadow:[^:]*:42:/m],
  ['ldconfig -p | grep -c "libc.so.6 "', /^1$/m],
  ['grep -c "^/bin/bash$" /etc/shells', /^1$/m],
  ['. /etc/profile && echo profile-ok', /^profile-ok$/m],
  ['perl -e "print 6*7"', /^42$/],
  ['dpkg -l | grep -c "^ii"', /^69$/m],
  ['dpkg -l | grep -vc "^ii" | grep -v "^5$" || echo only-ii', /only-ii/],
  ['dpkg -S /bin/ls', /^coreutils: \/bin\/ls$/m],
  ['dpkg --audit && echo audit-ok', /^audit-ok$/m],
  ['dpkg --verify && echo verify-ok', /^verify-ok$/m],
  ['. /etc/os-release && echo $ID $VERSION_CODENAME', /^debian bookworm$/m],
  ['grep -c pam_unix /etc/pam.d/common-auth', /^1$/m],
  ['su -s /bin/sh -c "id -un" nobody', /^nobody$/m],
  ['ls -ld /var/run | cut -c1', /^l$/m],
  ['test -L /bin && test -L /lib && test -d /usr/bin && echo merged', /^merged$/m],
  ['touch /tmp/x && rm /tmp/x && echo tmp-ok', /^tmp-ok$/m],
];

function probe(t: Pick<typeof import('tap').default, 'match'>, root: string): void {
  for (const [cmd, want] of PROBES) {
    const r = run('chroot', [root, '/bin/sh', '-c', cmd]);
    t.match(r.stdout, want, `chroot probe: ${cmd}${r.stderr.trim() ? ` (${r.stderr.trim().split('\n')[0]})` : ''}`);
  }
}

/** The probes a root passes. */
function passing(root: string): string[] {
  return PROBES.filter(([cmd, want]) => want.test(run('chroot', [root, '/bin/sh', '-c', cmd]).stdout)).map(([cmd]) => cmd);
}

/** mmdebstrap's essential root of the same mirror (it runs every maintainer script, under qemu-user for arm64). */
function mmdebstrapRoot(arch: string, out: string): void {
  const r = run('mmdebstrap', [
    '--variant=essential', '--mode=root', '--quiet', `--architectures=${arch === 'x86_64' ? 'amd64' : 'arm64'}`,
    // The mirror holds the plain Packages only (InRelease lists them all).
    '--aptopt=Acquire::CompressionTypes::xz "false"', '--aptopt=Acquire::CompressionTypes::gz "false"',
    'bookworm', out, `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] copy://${join(ROOT, '.cache/debian-mirror')} bookworm main`,
  ]);
  if (r.status !== 0) throw new Error(`mmdebstrap: ${r.stderr}`);
}

for (const arch of ['x86_64', 'aarch64']) {
  t.test(`${arch}: the essential root passes the chroot probes`, async (t) => {
    if (arch === 'aarch64') binfmtAarch64();
    const dir = tempDir(t, 'minos-debroot-');
    const out = join(dir, 'root');
    const r = minos(['build', SPEC, '--arch', arch, '-o', out, '--lock', join(dir, 'root.lock.json')]);
    t.equal(r.code, 0, r.stderr);
    t.notMatch(r.stderr, /warning/, 'every script of the essential set is reproduced');
    const file = run('file', ['-L', join(out, 'bin/bash')]).stdout;
    t.match(file, arch === 'x86_64' ? /x86-64/ : /aarch64/, 'binaries of the target architecture');
    probe(t, out);
    const v = minos(['--root', out, 'verify']);
    t.equal(v.code, 0, `minos verify is clean: ${v.stdout.slice(0, 300)}${v.stderr}`);
    // amd64's loader is /lib64/ld-linux-x86-64.so.2; arm64 has no /lib64 (as debootstrap leaves it).
    t.equal(existsSync(join(out, 'lib64')), arch === 'x86_64', '/lib64 only where the architecture has it');
    // The peer: mmdebstrap's own essential root from the same mirror passes no probe that minos's fails.
    const mm = join(dir, 'mm');
    mmdebstrapRoot(arch, mm);
    const theirs = passing(mm);
    const ours = passing(out);
    t.comment(`${arch}: mmdebstrap's root passes ${theirs.length} of ${PROBES.length} probes, minos's ${ours.length}`);
    t.same(theirs.filter((c) => !ours.includes(c)), [], 'every probe mmdebstrap\'s root passes, minos\'s passes too');
    t.ok(theirs.length >= PROBES.length - 2, `mmdebstrap's root is a fair peer (${PROBES.length - theirs.length} failing: ${PROBES.map(([c]) => c).filter((c) => !theirs.includes(c)).join('; ')})`);
  });
}

/** path -> type, mode, owner, size, link target and content hash, for every entry under root. */
function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    const kind = st.isSymbolicLink() ? `l ${readlinkSync(abs)}` : st.isDirectory() ? 'd' : st.isFile() ? `f ${st.size} ${createHash('sha256').update(readFileSync(abs)).digest('hex').slice(0, 16)}` : `n ${st.rdev}`;
    out[rel || '.'] = `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) for (const n of readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

t.test('a rootless build to tar.zst holds what the root build to a folder holds', async (t) => {
  const dir = tempDir(t, 'minos-debroot-');
  chmodSync(dir, 0o777);
  const folder = join(dir, 'root');
  let r = minos(['build', SPEC, '-o', folder, '--lock', join(dir, 'a.lock.json')]);
  t.equal(r.code, 0, r.stderr);
  const tarzst = join(dir, 'root.tar.zst');
  r = minos(['build', SPEC, '-o', tarzst, '--lock', join(dir, 'b.lock.json')], { user: 'nobody' });
  t.equal(r.code, 0, r.stderr);
  // Built again with its lockfile, which is taken as locked (the essential set read from the locked packages alone): the same bytes.
  const again = join(dir, 'again.tar.zst');
  r = minos(['build', SPEC, '-o', again, '--lock', join(dir, 'b.lock.json'), '--json'], { user: 'nobody' });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).resolution, 'locked');
  t.ok(readFileSync(again).equals(readFileSync(tarzst)), 'a locked rebuild gives the same tar.zst, database included');
  const x = join(dir, 'x');
  mkdirSync(x);
  sh(`tar --zstd -xpf '${tarzst}' --numeric-owner -C '${x}'`);
  const a = treeOf(folder);
  const b = treeOf(x);
  t.ok(Object.keys(a).length > 5000, `${Object.keys(a).length} entries`);
  // The folder build's own database notes nothing deferred (root); the rest is equal entry for entry.
  const diff = Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k] && k !== 'var/lib/minos/installed.json');
  t.same(diff.map((k) => `${k}: ${a[k]} | ${b[k]}`), [], 'same entries, owners and modes');
});
