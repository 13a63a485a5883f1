/**
 * Bad input to the effects layer: one MinosError naming the file, with the
 * documented exit status, and no ops.
 */
import t, { type Test } from 'tap';
import { deriveEffects } from '../src/debian/effects/index.js';
import { MinosError } from '../src/errors.js';
import type { DebInstalled, RootView } from '../src/debian/effects/types.js';

function view(files: Record<string, string>, extra: DebInstalled[] = []): RootView {
  const pkg: DebInstalled = {
    control: [['Package', 'base-passwd'], ['Version', '3.6.1'], ['Architecture', 'amd64']],
    scripts: {}, conffiles: [],
    files: Object.keys(files).map((path) => ({ path, type: 'file' as const, mode: 0o644, owner: 'root', group: 'root', size: files[path].length, sha256: '' })),
  };
  return { arch: 'amd64', epoch: 0, packages: [pkg, ...extra], read: (p) => (p in files ? Buffer.from(files[p]) : undefined) };
}
function fails(t: Test, fn: () => unknown, code: string, exit: number, msg: RegExp): void {
  try {
    fn();
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof MinosError, 'a MinosError');
    t.match({ code: (e as MinosError).code, exit: (e as MinosError).exit, message: (e as Error).message }, { code, exit, message: msg });
  }
}
const master = { '/usr/share/base-passwd/passwd.master': 'root:*:0:0:root:/root:/bin/bash\n', '/usr/share/base-passwd/group.master': 'root:*:0:\n' };

t.test('a malformed base-passwd master line', async (t) => {
  const v = view({ ...master, '/usr/share/base-passwd/passwd.master': 'root:*:0:0:root:/root:/bin/bash\nbroken line\n' });
  fails(t, () => deriveEffects(v), 'MN0117', 2, /passwd\.master: line 2/);
});

t.test('an ld.so.conf path that leaves the root', async (t) => {
  const libc: DebInstalled = { control: [['Package', 'libc-bin'], ['Version', '2.36-9'], ['Architecture', 'amd64']], scripts: {}, conffiles: [],
    files: [{ path: '/etc/ld.so.conf', type: 'file', mode: 0o644, owner: 'root', group: 'root', size: 0, sha256: '' }] };
  const v = view({ ...master, '/etc/ld.so.conf': '/usr/lib/../../../outside\n' }, [libc]);
  fails(t, () => deriveEffects(v), 'MN0117', 2, /ld\.so\.conf/);
});

t.test('two alternatives with the same priority', async (t) => {
  const mk = (name: string, path: string): DebInstalled => ({ control: [['Package', name], ['Version', '1'], ['Architecture', 'amd64']], scripts: {}, conffiles: [],
    files: [{ path, type: 'file', mode: 0o755, owner: 'root', group: 'root', size: 0, sha256: '' }] });
  const { RULES } = await import('../src/debian/effects/rules.js');
  const rules = RULES as Record<string, unknown>;
  rules['fake-awk'] = { scripts: {}, alternatives: [{ name: 'awk', link: '/usr/bin/awk', path: '/usr/bin/fake-awk', priority: 5, slaves: [] }] };
  t.teardown(() => { delete rules['fake-awk']; });
  const v = view(master, [mk('mawk', '/usr/bin/mawk'), mk('fake-awk', '/usr/bin/fake-awk')]);
  fails(t, () => deriveEffects(v), 'MN0603', 6, /fake-awk|mawk/);
});

t.test('an ELF library whose headers claim more than the file holds: no soname, read in ranges as from the whole file', async (t) => {
  const { readElf, readElfAt } = await import('../src/debian/effects/elf.js');
  // A 64-bit little-endian header: 65535 program headers of 65535 bytes, past the end of a 64-byte file.
  const h = Buffer.alloc(64);
  h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  h.writeUInt16LE(62, 18);
  h.writeBigUInt64LE(64n, 32);
  h.writeUInt16LE(65535, 54);
  h.writeUInt16LE(65535, 56);
  const at = (o: number, n: number) => h.subarray(o, o + n);
  t.same(readElfAt(at), { class: 64, littleEndian: true, machine: 62, flags: 0 }, 'the header, no soname');
  t.same(readElf(h), readElfAt(at), 'the same as from the whole file');
  // A real library: the soname through ranges equals the whole-file one.
  const { readFileSync, readdirSync } = await import('node:fs');
  const dir = '/usr/lib/x86_64-linux-gnu';
  const lib = readdirSync(dir).find((n) => /^libc\.so\.6$/.test(n));
  if (lib) {
    const b = readFileSync(`${dir}/${lib}`);
    const ranges = readElfAt((o, n) => b.subarray(o, o + n));
    t.equal(ranges?.soname, 'libc.so.6');
    t.same(ranges, readElf(b));
  }
});
