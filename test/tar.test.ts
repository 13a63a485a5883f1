import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import t from 'tap';
import { createTarReader, parsePax, type TarHeader } from '../src/unpack/tar.js';
import { encodeHeader, padLength, TAR_END } from '../src/unpack/tarwrite.js';
import { isMinosError } from '../src/errors.js';

const base: TarHeader = { name: '', type: 'file', mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', size: 0, mtime: 1700000000, linkname: '', devmajor: 0, devminor: 0 };

function archive(entries: { h: Partial<TarHeader>; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { h, data } of entries) {
    const full = { ...base, ...h, size: data?.length ?? 0 };
    parts.push(encodeHeader(full));
    if (data) parts.push(data, Buffer.alloc(padLength(data.length)));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

function read(buf: Buffer, chunk = buf.length) {
  const out: { h: TarHeader; data: Buffer }[] = [];
  let cur: Buffer[] = [];
  const r = createTarReader({
    entry: (h) => { out.push({ h, data: Buffer.alloc(0) }); cur = []; },
    data: (c) => cur.push(Buffer.from(c)),
    entryEnd: () => { out[out.length - 1].data = Buffer.concat(cur); },
  });
  for (let i = 0; i < buf.length; i += chunk) r.push(buf.subarray(i, i + chunk));
  r.end();
  return out;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isMinosError(e) ? `${e.code}: ${e.message}` : String(e);
  }
  return undefined;
}

const long = `usr/share/${'d'.repeat(120)}/${'f'.repeat(90)}`;
const entries = [
  { h: { name: 'usr', type: 'dir' as const, mode: 0o755 } },
  { h: { name: 'usr/bin', type: 'dir' as const, mode: 0o755 } },
  { h: { name: 'usr/bin/su', mode: 0o4755, uname: 'root', gname: 'wheel' }, data: Buffer.from('#!/bin/sh\n') },
  { h: { name: 'usr/bin/link', type: 'hardlink' as const, linkname: 'usr/bin/su' } },
  { h: { name: 'usr/bin/sym', type: 'symlink' as const, mode: 0o777, linkname: 'x'.repeat(150) } },
  { h: { name: long }, data: Buffer.alloc(1000, 7) },
  { h: { name: 'usr/ünï', mode: 0o600 }, data: Buffer.from('utf8') },
  { h: { name: 'dev/null', type: 'char' as const, devmajor: 1, devminor: 3, mode: 0o666 } },
  { h: { name: 'run/fifo', type: 'fifo' as const } },
];

t.test('round trip through our writer and reader, any chunking', async (t) => {
  const buf = archive(entries);
  for (const chunk of [buf.length, 512, 100, 1]) {
    const got = read(buf, chunk);
    t.equal(got.length, entries.length, `chunk ${chunk}`);
    t.same(got.map((e) => e.h.name), entries.map((e) => e.h.name));
    t.equal(got[2].h.mode, 0o4755);
    t.equal(got[2].h.gname, 'wheel');
    t.equal(got[4].h.linkname, 'x'.repeat(150));
    t.equal(got[5].data.length, 1000);
    t.equal(got[7].h.devminor, 3);
  }
});

t.test('GNU tar and bsdtar read what we write', async (t) => {
  const buf = archive(entries);
  for (const tool of ['tar', 'bsdtar']) {
    const r = spawnSync(tool, ['-tvf', '-'], { input: buf, encoding: 'utf8' });
    t.equal(r.status, 0, `${tool}: ${r.stderr}`);
    t.match(r.stdout, /rwsr-xr-x.*root.*wheel/);
    t.match(r.stdout, new RegExp(long.slice(-40)));
    t.match(r.stdout, /ünï/);
  }
});

t.test('we read what GNU tar writes in pax format', async (t) => {
  const dir = t.testdir({ a: { 'b.txt': 'hello', [`${'n'.repeat(130)}.txt`]: 'long' } });
  const r = spawnSync('tar', ['--format=pax', '--owner=root:0', '--group=root:0', '-cf', '-', '-C', dir, 'a'], { maxBuffer: 1 << 26 });
  t.equal(r.status, 0);
  const got = read(r.stdout as Buffer, 333);
  t.same(got.map((e) => e.h.name).sort(), ['a', 'a/b.txt', `a/${'n'.repeat(130)}.txt`]);
  t.equal(got.find((e) => e.h.name === 'a/b.txt')!.data.toString(), 'hello');
});

t.test('deterministic output', async (t) => {
  const a = createHash('sha256').update(archive(entries)).digest('hex');
  const b = createHash('sha256').update(archive(entries)).digest('hex');
  t.equal(a, b);
});

t.test('malformed archives are refused', async (t) => {
  const good = archive([{ h: { name: 'a' }, data: Buffer.from('x') }]);
  const flip = (off: number) => {
    const b = Buffer.from(good);
    b[off] ^= 1;
    return b;
  };
  t.match(code(() => read(flip(10))), /MN0110.*checksum/);
  t.match(code(() => read(good.subarray(0, 700))), /MN0110.*truncated/);
  t.match(code(() => read(good.subarray(0, 1024 + 512))), /MN0110.*one zero block/);
  t.match(code(() => read(Buffer.concat([good, Buffer.from('garbage')]))), /MN0110.*after the end/);
  t.equal(code(() => read(Buffer.concat([good, Buffer.alloc(9000)]))), undefined, 'zero padding after the end is fine');
  const gnu = Buffer.from(good);
  gnu.write('ustar  \0', 257, 'latin1');
  t.match(code(() => read(gnu)), /GNU tar format/);
  const typeL = archive([{ h: { name: 'a' }, data: Buffer.from('x') }]);
  typeL[156] = 0x4c; // 'L'
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : typeL[i];
  typeL.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  t.match(code(() => read(typeL)), /unsupported entry type 'L'/);
  const badPad = Buffer.from(good);
  badPad[512 + 100] = 1;
  t.match(code(() => read(badPad)), /non-zero padding/);
});

t.test('pax records are parsed strictly', async (t) => {
  const rec = (s: string) => Buffer.from(s);
  t.same([...parsePax(rec('12 path=abc\n'), 0)], [['path', 'abc']]);
  t.match(code(() => parsePax(rec('13 path=abc\n'), 0)), /length out of range/);
  t.match(code(() => parsePax(rec('11 path=abc\n'), 0)), /not terminated/);
  t.match(code(() => parsePax(rec('x path=abc\n'), 0)), /bad pax record length/);
  t.match(code(() => parsePax(rec('9 =value\n'), 0)), /without key/);
  t.match(code(() => parsePax(rec('12 path=abc\n12 path=abd\n'), 0)), /duplicate/);
  t.match(code(() => parsePax(rec('24 GNU.sparse.major=1\n'.replace('24', '22')), 0)), /sparse/);
  t.match(code(() => parsePax(Buffer.from([0x31, 0x30, 0x20, 0x70, 0x3d, 0xff, 0xfe, 0x0a, 0, 0].slice(0, 8)), 0)), /MN0110/);
});

t.test('owner and group names are decoded per header, ASCII or not', async (t) => {
  const names = [['root', 'root'], ['daemon', 'root'], ['root', 'wheel'], ['öwner', 'grüp'], ['root', 'root'], ['ro', 'r']];
  const buf = archive(names.map(([uname, gname], i) => ({ h: { name: `f${i}`, uname, gname } })));
  for (const chunk of [buf.length, 512, 1]) {
    t.same(read(buf, chunk).map((e) => [e.h.uname, e.h.gname]), names, `chunk ${chunk}`);
  }
  const bad = archive([{ h: { name: 'a' } }, { h: { name: 'b' } }]);
  bad[512 + 265] = 0xff; // owner of the second entry: not UTF-8
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : bad[512 + i];
  bad.write(sum.toString(8).padStart(6, '0') + '\0 ', 512 + 148, 'latin1');
  t.match(code(() => read(bad)), /MN0110: malformed tar archive at offset 512: header field is not valid UTF-8/);
});
