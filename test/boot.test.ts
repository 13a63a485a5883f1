/**
 * Images that boot: the example initramfs built from Debian's static busybox,
 * booted under qemu with the kernel minos takes from the same Debian source.
 */
import { join } from 'node:path';
import t from 'tap';
import { minos, ROOT, tempDir } from './lib/cli.js';
import { debianMirror } from './lib/debmirror.js';

debianMirror(['busybox-static'], true);

t.test('the same spec built for aarch64 on this machine boots under qemu-system-aarch64', async (t) => {
  const dir = tempDir(t, 'minos-boot-arm-');
  const img = join(dir, 'initramfs.cpio');
  const spec = join(ROOT, 'images/debian-initramfs.yaml');
  let r = minos(['build', spec, '--arch', 'aarch64', '-o', img]);
  t.equal(r.code, 0, r.stderr);
  r = minos(['boot', img, '--arch', 'aarch64', '--spec', spec, '--timeout', '300', '--append', 'quiet']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /minos-initramfs: aarch64 booted, 3 kernel arguments/, 'what the shell printed');
});

t.test('the Debian initramfs boots to its shell under qemu (x86_64)', async (t) => {
  const dir = tempDir(t, 'minos-boot-');
  const img = join(dir, 'initramfs.cpio');
  const spec = join(ROOT, 'images/debian-initramfs.yaml');
  let r = minos(['build', spec, '-o', img]);
  t.equal(r.code, 0, r.stderr);
  r = minos(['boot', img, '--spec', spec, '--timeout', '300', '--append', 'quiet']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /minos-initramfs: x86_64 booted, 3 kernel arguments/, 'what the shell printed');
  // A kernel that finds no init panics: that is a failure, not a power-off.
  r = minos(['boot', img, '--spec', spec, '--timeout', '300', '--append', 'quiet rdinit=/nonexistent']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /the guest kernel panicked \[MN0012\]/);
  // A guest that does not power off in time is stopped: exit 1, one line.
  r = minos(['boot', img, '--spec', spec, '--timeout', '1']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /did not power off within 1 s \[MN0012\]/);
  r = minos(['boot', join(dir, 'nope.cpio'), '--kernel', '/nonexistent']);
  t.equal(r.code, 2);
  t.match(r.stderr, /nope\.cpio: no such image file/);
});
