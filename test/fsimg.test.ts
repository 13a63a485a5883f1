/**
 * squashfs and erofs images written by minos itself, read back by the
 * reference tools (unsquashfs, fsck.erofs) and compared with the directory
 * build of the same spec: owners, modes, device nodes, FIFOs, links, content.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, sh, tempDir } from './lib/cli.js';
import { debianMirror, KEYRING } from './lib/debmirror.js';
import { prng } from './lib/prng.js';
import { makeKey, makeRepo, writeSpec, type PkgDef } from './lib/repo.js';

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };
const sha = (f: string | Buffer) => createHash('sha256').update(typeof f === 'string' ? readFileSync(f) : f).digest('hex');

function noise(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const many: Record<string, string> = {};
for (let i = 0; i < 2500; i++) many[`usr/share/many/an-entry-with-a-rather-long-name-${String(i).padStart(5, '0')}`] = i % 7 ? `${i}\n` : '';
const deep = `${Array.from({ length: 40 }, (_, i) => `level${i}`).join('/')}/bottom`;

const base: PkgDef = {
  name: 'base', arch: 'noarch',
  users: [{ name: 'root', uid: 0, group: 'root', home: '/root', shell: '/bin/sh' }, { name: 'far', uid: 70000, group: 'far', home: '/', shell: '/bin/sh' }],
  groups: [{ name: 'root', gid: 0 }, { name: 'tty', gid: 5 }, { name: 'far', gid: 70001 }, { name: 'games', gid: 60 }],
  files: { 'etc/os-release': 'ID=minos\n', 'etc/empty': '' },
  overrides: {
    '/dev/null': { type: 'char', major: 1, minor: 3, mode: '0666' },
    '/dev/console': { type: 'char', major: 5, minor: 1, mode: '0620', group: 'tty' },
    '/dev/big': { type: 'char', major: 300, minor: 70000, mode: '0600' },
    '/dev/sda': { type: 'block', major: 8, minor: 0, mode: '0660' },
    '/run/ctl': { type: 'fifo', mode: '0640', group: 'tty' },
    '/tmp': { type: 'dir', mode: '1777' },
    '/srv/far': { type: 'dir', mode: '2750', owner: 'far', group: 'far' },
  },
};
const tools: PkgDef = {
  name: 'tools', depends: ['base'],
  files: {
    'usr/bin/su': '#!/bin/sh\necho su\n', 'usr/bin/wall': 'wall\n',
    'usr/lib/big.bin': noise(3 * 131072 + 777, 1),
    'usr/lib/exact.bin': Buffer.alloc(2 * 131072, 'z'),
    'usr/lib/text.txt': 'a line of text that compresses\n'.repeat(20000),
    'usr/lib/just-under.bin': noise(131071, 2),
    'srv/far/owned': 'far away\n',
    [deep]: 'deep down\n',
    ...many,
  },
  links: { 'usr/bin/su-again': 'usr/bin/su', 'usr/lib/big-link.bin': 'usr/lib/big.bin', 'usr/share/many/a-hardlink': 'usr/lib/text.txt' },
  overrides: {
    '/usr/bin/su': { mode: '4755' },
    '/usr/bin/wall': { mode: '2755', group: 'tty' },
    '/srv/far/owned': { owner: 'far', group: 'games', mode: '0604' },
    '/usr/bin/sh': { type: 'symlink', target: 'su' },
    '/usr/bin/abs': { type: 'symlink', target: '/usr/lib/text.txt' },
    '/usr/bin/long': { type: 'symlink', target: `../${'x'.repeat(250)}/${'y'.repeat(250)}` },
  },
};

/**
 * Every path below `root` with type, mode, owners, size, mtime, device, link
 * target, content hash and hardlink group. `lossy`: as fsck.erofs 1.5
 * extracts, setuid, setgid and sticky bits of files lost and hardlinks as copies.
 */
function describe(root: string, lossy = false): string[] {
  const out: string[] = [];
  const inos = new Map<number, string>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    let what = '';
    if (st.isSymbolicLink()) what = `-> ${readlinkSync(p)}`;
    else if (st.isFile()) {
      what = `${sha(p)} nlink ${lossy ? 1 : st.nlink}`;
      if (st.nlink > 1 && !lossy) {
        if (!inos.has(st.ino)) inos.set(st.ino, rel);
        what += ` same as ${inos.get(st.ino)}`;
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice()) what = `dev ${st.rdev}`;
    else if (st.isDirectory()) what = `nlink ${st.nlink}`;
    const mtime = st.isSymbolicLink() ? '' : ` ${st.mtimeMs / 1000}`;
    const mode = lossy && !st.isDirectory() ? st.mode & ~0o7000 : st.mode;
    out.push(`/${rel} ${mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size}${mtime} ${what}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

function setup(t: Tap.Test) {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const key = makeKey(join(dir, 'keys'));
  makeRepo(join(dir, 'repo'), key, [base, tools]);
  const spec = writeSpec(join(dir, 'image.yaml'), {
    name: 'fsimg', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['tools'],
  });
  const out = join(dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  sh(`chmod -R a+rX ${dir}`);
  return { dir, spec, out };
}

function build(t: Tap.Test, spec: string, out: string, args: string[] = [], user?: string): void {
  const r = minos(['build', spec, '-o', out, ...args], { env: SDE, user });
  t.equal(r.code, 0, `${out}: ${r.stderr}`);
}

/** Can this process mount a loop device read-only (root, loop devices, the filesystem in the kernel)? */
function canMount(fs: string): boolean {
  return process.getuid?.() === 0 && existsSync('/dev/loop-control') && readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.endsWith(`\t${fs}`));
}

/**
 * Extract each image with the reference tool and compare with the directory
 * build; where this process may, mount it with the kernel's reader and
 * compare that too (the one check of setuid bits and hardlinks in erofs,
 * which fsck.erofs 1.5 does not extract).
 */
function checkImages(t: Tap.Test, dir: string, images: string[]): void {
  const want = describe(dir);
  const wantLossy = describe(dir, true);
  for (const img of images) {
    const x = `${img}.x`;
    const erofs = img.endsWith('.erofs');
    if (erofs) sh(`fsck.erofs --extract=${x} ${img}`);
    else sh(`unsquashfs -n -d ${x} ${img}`);
    t.same(describe(x, erofs), erofs ? wantLossy : want, `${img}: extracted tree equals the directory build`);
    const fs = erofs ? 'erofs' : 'squashfs';
    if (!canMount(fs)) {
      t.comment(`${img}: not mounted (needs root, loop devices and ${fs} in the kernel)`);
      continue;
    }
    const mnt = `${img}.mnt`;
    mkdirSync(mnt);
    sh(`mount -t ${fs} -o loop,ro ${img} ${mnt}`);
    try {
      t.same(describe(mnt), want, `${img}: the kernel's view equals the directory build`);
    } finally {
      sh(`umount ${mnt}`);
    }
  }
}

t.test('squashfs (zstd, gzip, xz) and erofs of a fixture: the extracted trees equal the directory build', async (t) => {
  const { spec, out } = setup(t);
  build(t, spec, join(out, 'dir'));
  const images = ['zstd.squashfs', 'gzip.sqfs', 'img.erofs', 'xz.sqfs'].map((f) => join(out, f));
  build(t, spec, images[0]);
  build(t, spec, images[1], ['--compression', 'gzip']);
  build(t, spec, images[2]);
  build(t, spec, images[3], ['--compression', 'xz']);
  t.match(sh(`unsquashfs -s ${images[0]}`), /Compression zstd/);
  t.match(sh(`unsquashfs -s ${images[1]}`), /Compression gzip/);
  t.match(sh(`unsquashfs -s ${images[3]}`), /Compression xz/);
  t.equal(sh(`unsquashfs -lln ${images[3]}`), sh(`unsquashfs -lln ${images[0]}`), 'xz: the same listing as zstd');
  const list = sh(`unsquashfs -lln ${images[0]}`);
  t.match(list, /-rwsr-xr-x 0\/0\s+18 2023-11-14 22:13 squashfs-root\/usr\/bin\/su\n/);
  t.match(list, /-rwxr-sr-x 0\/5\s+5 .* squashfs-root\/usr\/bin\/wall\n/);
  t.match(list, /crw--w---- 0\/5\s+5,\s*1 .* squashfs-root\/dev\/console\n/);
  t.match(list, /brw-rw---- 0\/0\s+8,\s*0 .* squashfs-root\/dev\/sda\n/);
  t.match(list, /prw-r----- 0\/5\s+0 .* squashfs-root\/run\/ctl\n/);
  t.match(list, /drwxrwxrwt 0\/0\s+\d+ .* squashfs-root\/tmp\n/);
  t.match(list, /drwxr-s--- 70000\/70001\s+\d+ .* squashfs-root\/srv\/far\n/);
  t.match(list, /-rw----r-- 70000\/60\s+9 .* squashfs-root\/srv\/far\/owned\n/);
  t.match(list, /lrwxrwxrwx 0\/0\s+2 .* squashfs-root\/usr\/bin\/sh -> su\n/);
  t.match(list, /-rw-r--r-- 0\/0\s+393993 .* squashfs-root\/usr\/lib\/big.bin\n/);
  t.match(list, /-rw-r--r-- 0\/0\s+0 .* squashfs-root\/etc\/empty\n/);
  t.equal(list.split('\n').filter((l) => l.includes('squashfs-root/usr/share/many/')).length, 2501);
  // what the kernel's reader and fsck check beyond extraction
  sh(`fsck.erofs ${images[2]}`);
  checkImages(t, join(out, 'dir'), images);
});

t.test('byte-identical whoever builds: twice as root, once as nobody', async (t) => {
  const { spec, out } = setup(t);
  for (const [f, args] of [['a.squashfs', []], ['a.sqfs', ['--compression', 'gzip']], ['b.sqfs', ['--compression', 'xz', '--level', '9']], ['a.erofs', []]] as const) {
    build(t, spec, join(out, f), [...args]);
    build(t, spec, join(out, `again-${f}`), [...args]);
    build(t, spec, join(out, `nobody-${f}`), [...args], 'nobody');
    t.equal(sha(join(out, `again-${f}`)), sha(join(out, f)), `${f}: two builds as root`);
    t.equal(sha(join(out, `nobody-${f}`)), sha(join(out, f)), `${f}: root and nobody`);
  }
});

t.test('bad output formats and options: one line, exit 2, nothing written', async (t) => {
  const { spec, out } = setup(t);
  const cases: [string[], RegExp][] = [
    [['-o', join(out, 'x.squash')], /unknown output extension "\.squash"/],
    [['-o', join(out, 'x'), '--format', 'cramfs'], /--format cramfs: expected one of .*squashfs, erofs/],
    [['-o', join(out, 'x.sqfs'), '--compression', 'lzo'], /--compression lzo: expected one of zstd, gzip, xz/],
    [['-o', join(out, 'x.sqfs'), '--compression', 'xz', '--level', '10'], /--level 10: xz takes 0 to 9/],
    [['-o', join(out, 'x.erofs'), '--compression', 'gzip'], /--compression applies to squashfs, oci and oci\.tar output, not erofs/],
  ];
  for (const [args, re] of cases) {
    const r = minos(['build', spec, ...args], { env: SDE });
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.same(readdirSync(out), [], 'nothing written');
});

t.test('a Debian busybox-static root as squashfs and erofs equals its directory build', async (t) => {
  const mirror = debianMirror(['busybox-static']);
  const dir = tempDir(t);
  const spec = writeSpec(join(dir, 'bb.yaml'), {
    name: 'bb', arch: 'x86_64', repositories: [{ debian: mirror, suite: 'bookworm', keys: [KEYRING] }], packages: ['busybox-static'],
  });
  build(t, spec, join(dir, 'root'));
  const images = [join(dir, 'bb.squashfs'), join(dir, 'bb.erofs')];
  for (const i of images) build(t, spec, i);
  t.ok(existsSync(join(dir, 'root/usr/bin/busybox')));
  t.match(sh(`unsquashfs -lln ${images[0]}`), /-rwxr-xr-x 0\/0\s+\d+ .* squashfs-root\/usr\/bin\/busybox\n/);
  sh(`fsck.erofs ${images[1]}`);
  checkImages(t, join(dir, 'root'), images);
});
