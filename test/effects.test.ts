/**
 * Maintainer-script effects on bookworm's real essential set (downloaded
 * with apt-get, unpacked with dpkg-deb): the rules cover every script, the
 * alternatives in the table are the ones the scripts declare, and a root
 * completed by the ops passes the peers' checks (ldconfig, dpkg,
 * update-shells) and everyday probes in a plain chroot.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { deriveEffects } from '../src/debian/effects/index.js';
import { RULES } from '../src/debian/effects/rules.js';
import { canonicalPath } from '../src/debian/effects/usrmerge.js';
import { normalizePath } from '../src/debian/effects/fsindex.js';
import { libcmp } from '../src/debian/effects/ldcache.js';
import { nameOf, field } from '../src/debian/effects/types.js';
import { tempDir } from './lib/cli.js';
import { applyOps, essentialNames, fetchDebs, unpackMerged, unpackView } from './lib/debroot.js';

const run = (cmd: string, args: string[], input?: string) => spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 28 });

t.test('normalizePath: an absolute path\'s names, "." and ".." applied', async (t) => {
  const cases: [string, string][] = [
    ['/', '/'], ['', '/'], ['/a', '/a'], ['/a/', '/a'], ['/a//b', '/a/b'], ['/./a', '/a'], ['/a/.', '/a'], ['/a/..', '/'], ['/..', '/'],
    ['/a/../b', '/b'], ['/.a', '/.a'], ['/..a/b..', '/..a/b..'], ['/...', '/...'], ['/etc/.pwd.lock', '/etc/.pwd.lock'], ['a/b', '/a/b'], ['/a/b/./c/', '/a/b/c'],
  ];
  for (const [path, want] of cases) t.equal(normalizePath(path), want, JSON.stringify(path));
});

t.test('canonicalPath and libcmp', async (t) => {
  t.equal(canonicalPath('/bin/ls', 'amd64'), '/usr/bin/ls');
  t.equal(canonicalPath('/lib64', 'amd64'), '/usr/lib64');
  t.equal(canonicalPath('/lib64', 'arm64'), '/lib64', 'arm64 has no /lib64 in debootstrap\'s table');
  t.equal(canonicalPath('/binx/y', 'amd64'), '/binx/y');
  t.equal(canonicalPath('/etc/bin', 'amd64'), '/etc/bin');
  t.ok(libcmp('libc.so.10', 'libc.so.9') > 0, 'numbers compare as numbers');
  t.ok(libcmp('liba.so', 'libb.so') < 0);
  t.equal(libcmp('libz.so.1', 'libz.so.1'), 0);
});

t.test('bookworm essential set', async (t) => {
  const names = essentialNames();
  t.ok(names.includes('mawk') && !names.includes('gawk'), 'apt chooses mawk');
  const debs = fetchDebs(names);
  const dir = tempDir(t, 'minos-effects-');
  const view = unpackView(debs, dir);
  const fx = deriveEffects(view);

  t.test('every script is reviewed, unchanged', async (t) => {
    t.same(fx.warnings, [], 'no warnings for the essential set');
    const again = deriveEffects(view);
    t.same(again.ops, fx.ops, 'deterministic');
  });

  t.test('the alternatives in the rules are the ones the scripts install', async (t) => {
    for (const p of view.packages) {
      const text = (p.scripts.postinst ?? '').replace(/\\\n/g, ' ').replace(/[ \t]+/g, ' ');
      const found = [...text.matchAll(/update-alternatives --install (\S+) (\S+) (\S+) (\d+)((?: --slave \S+ \S+ \S+)*)/g)].map((m) => ({
        name: m[2], link: m[1], path: m[3], priority: Number(m[4]),
        slaves: [...m[5].matchAll(/--slave (\S+) (\S+) (\S+)/g)].map((s) => ({ name: s[2], link: s[1], path: s[3] })),
      }));
      t.same(RULES[nameOf(p)]?.alternatives ?? [], found, `${nameOf(p)}: alternatives`);
    }
  });

  t.test('a root completed by the ops', async (t) => {
    const root = join(dir, 'root');
    mkdirSync(root);
    // What the engine does: merged-/usr links and /dev first, then unpack through them, then the rest.
    const early = (o: { path: string }) => /^\/(bin|sbin|lib|lib64|usr|usr\/(bin|sbin|lib|lib64)|dev(\/.*)?)$/.test(o.path);
    applyOps(root, fx.ops, early);
    unpackMerged(debs, root);
    applyOps(root, fx.ops, (o) => !early(o));

    // ld.so.cache: byte-equal to ldconfig's own on the same root.
    execFileSync('ldconfig', ['-X', '-r', root, '-C', '/etc/ld.so.cache.oracle']);
    const ours = readFileSync(join(root, 'etc/ld.so.cache'));
    const theirs = readFileSync(join(root, 'etc/ld.so.cache.oracle'));
    t.equal(run('ldconfig', ['-p', '-C', join(root, 'etc/ld.so.cache')]).stdout.replace(/^.*\n/, ''), run('ldconfig', ['-p', '-C', join(root, 'etc/ld.so.cache.oracle')]).stdout.replace(/^.*\n/, ''), 'ldconfig -p lists the same');
    t.ok(ours.equals(theirs), 'ld.so.cache is byte-equal to ldconfig -r');

    // /etc/shells: update-shells itself on the same root, from the template as debianutils' postinst starts it.
    const ourShells = readFileSync(join(root, 'etc/shells'), 'utf8');
    const ourState = readFileSync(join(root, 'var/lib/shells.state'), 'utf8');
    copyFileSync(join(root, 'usr/share/debianutils/shells'), join(root, 'etc/shells'));
    rmSync(join(root, 'var/lib/shells.state'));
    execFileSync('update-shells', ['--root', root]);
    t.equal(ourShells, readFileSync(join(root, 'etc/shells'), 'utf8'), '/etc/shells as update-shells writes it');
    t.equal(ourState, readFileSync(join(root, 'var/lib/shells.state'), 'utf8'), 'shells.state as update-shells writes it');

    t.equal(readFileSync(join(root, 'etc/passwd'), 'utf8'), readFileSync(join(root, 'usr/share/base-passwd/passwd.master'), 'utf8'), 'passwd from the master file');
    t.equal(readFileSync(join(root, 'etc/group'), 'utf8'), readFileSync(join(root, 'usr/share/base-passwd/group.master'), 'utf8'), 'group from the master file');

    // dpkg's own view of its database.
    const l = run('dpkg', [`--root=${root}`, '-l']);
    t.equal(l.status, 0, `dpkg -l: ${l.stderr}`);
    const rows = l.stdout.split('\n').filter((r) => /^[a-z]{2} /.test(r));
    t.equal(rows.length, names.length, 'dpkg -l lists every package');
    t.same(rows.filter((r) => !r.startsWith('ii ')), [], 'every package is ii');
    const s = run('dpkg', [`--root=${root}`, '-S', '/bin/ls']);
    t.equal(s.stdout, 'coreutils: /bin/ls\n', 'dpkg -S /bin/ls');
    t.match(run('dpkg', [`--root=${root}`, '-S', '/bin/sh']).stdout, /diversion by dash from: \/bin\/sh\n/, 'dpkg -S /bin/sh names dash\'s diversion');
    const audit = run('dpkg', [`--root=${root}`, '--audit']);
    t.equal(audit.status, 0, 'dpkg --audit exits 0');
    t.equal(audit.stdout + audit.stderr, '', 'dpkg --audit finds nothing');
    const verify = run('dpkg', [`--root=${root}`, '--verify']);
    t.equal(verify.stdout, '', 'dpkg --verify: every md5sum matches');
    for (const p of view.packages) {
      const own = join(dir, 'ctl', String(view.packages.indexOf(p)), 'md5sums');
      const info = field(p, 'Multi-Arch') === 'same' ? `${nameOf(p)}:amd64` : nameOf(p);
      let expected = '';
      try { expected = readFileSync(own, 'utf8'); } catch { continue; }
      const sort = (x: string) => x.split('\n').filter(Boolean).sort().join('\n');
      t.equal(sort(readFileSync(join(root, `var/lib/dpkg/info/${info}.md5sums`), 'utf8')), sort(expected), `${info}.md5sums matches the package's own`);
    }
    // Stanzas equal to the host's dpkg status for packages installed here at the same version.
    const host = readFileSync('/var/lib/dpkg/status', 'utf8').split('\n\n');
    const mine = readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8').split('\n\n');
    let compared = 0;
    for (const st of mine) {
      const pkg = /^Package: (.*)$/m.exec(st)?.[1];
      const ver = /^Version: (.*)$/m.exec(st)?.[1];
      const arch = /^Architecture: (.*)$/m.exec(st)?.[1];
      const h = host.find((x) => x.startsWith(`Package: ${pkg}\n`) && x.includes(`\nVersion: ${ver}\n`) && x.includes(`\nArchitecture: ${arch}\n`) && x.includes('Status: install ok installed'));
      if (!h || /^Conffiles:/m.test(st)) continue;
      compared++;
      // apt installs with the archive's override Priority; the .deb's own is what minos has.
      const noPrio = (x: string) => x.replace(/\n$/, '').replace(/^Priority: .*\n/m, '');
      t.equal(noPrio(st), noPrio(h), `status stanza of ${pkg} as the host's dpkg wrote it`);
    }
    t.ok(compared >= 10, `compared ${compared} stanzas with the host's`);

    // Everyday probes in a plain chroot (nothing mounted).
    const probes: [string, RegExp][] = [
      ['echo ok', /^ok$/m],
      ['echo 1 2 | awk "{print \\$2}"', /^2$/m],
      ['which ls', /^\/(usr\/)?bin\/ls$/m],
      ['readlink -f /usr/bin/pager', /^\/usr\/bin\/more$/m],
      ['echo x > /dev/null && echo null-ok', /^null-ok$/m],
      ['getent passwd root', /^root:x?\*?:0:0:root:\/root:\/bin\/bash$/m],
      ['ldconfig -p | grep -c "libc.so.6 "', /^1$/m],
      ['grep -c bash /etc/shells', /^[1-9]/m],
      ['. /etc/profile && echo profile-ok', /^profile-ok$/m],
      ['perl -e "print 6*7"', /^42$/],
      ['dpkg -l | grep -c "^ii"', new RegExp(`^${names.length}$`, 'm')],
      ['dpkg -S /bin/ls', /^coreutils: \/bin\/ls$/m],
      ['dpkg --audit && echo audit-ok', /^audit-ok$/m],
      ['. /etc/os-release && echo $ID', /^debian$/m],
      ['grep -c pam_unix /etc/pam.d/common-auth', /^1$/m],
      ['su -s /bin/sh -c "id -un" nobody', /^nobody$/m],
    ];
    for (const [cmd, want] of probes) {
      const r = run('chroot', [root, '/bin/sh', '-c', cmd]);
      t.match(r.stdout, want, `chroot probe: ${cmd} ${r.stderr.trim()}`);
    }
  });
});
