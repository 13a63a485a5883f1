/** Our xz decoder against the native xz tool: formats, checks, streams, corruption and bounds. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import t from 'tap';
import { prng } from './lib/prng.js';
import { xzDecompress } from '../src/unpack/xz.js';

const haveXz = spawnSync('xz', ['--version']).status === 0;
t.ok(haveXz, 'the xz tool is installed (make test installs xz-utils)');

function xz(input: Buffer, args: string[]): Buffer {
  const r = spawnSync('xz', ['-c', ...args], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return r.stdout;
}

function decode(b: Buffer, limit = 1 << 30): Buffer {
  const parts: Buffer[] = [];
  xzDecompress(b, { limit, label: 'test.xz', onChunk: (c) => parts.push(Buffer.from(c)) });
  return Buffer.concat(parts);
}

const rand = prng(7);
const text = Buffer.from(Array.from({ length: 60000 }, (_, i) => `line ${i} ${Math.floor(rand() * 1000)} lorem ipsum\n`).join(''));
const noise = Buffer.from(Array.from({ length: 300000 }, () => Math.floor(rand() * 256)));
const mixed = Buffer.concat([text, noise, text.subarray(0, 100000), Buffer.alloc(200000, 7)]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('decodes what xz writes, at every preset and check', async (t) => {
  for (const args of [['-0'], ['-6'], ['-9e'], ['--check=none'], ['--check=crc32'], ['--check=crc64'], ['--check=sha256'], ['-T2', '--block-size=100000'], ['--lzma2=preset=6,lc=0,lp=2,pb=0']]) {
    t.equal(sha(decode(xz(mixed, args))), sha(mixed), `xz ${args.join(' ')}`);
  }
  t.equal(decode(xz(Buffer.alloc(0), [])).length, 0, 'an empty stream');
});

t.test('concatenated streams and stream padding', async (t) => {
  const a = xz(text, ['-1']);
  const b = xz(noise, ['-1', '--check=sha256']);
  t.equal(sha(decode(Buffer.concat([a, b]))), sha(Buffer.concat([text, noise])));
  t.equal(sha(decode(Buffer.concat([a, Buffer.alloc(8), b]))), sha(Buffer.concat([text, noise])), 'padding of 8 zero bytes');
  t.throws(() => decode(Buffer.concat([a, Buffer.alloc(3), b])), { code: 'MN0208' }, 'padding not a multiple of four');
});

t.test('corruption and truncation are errors, never hangs or wrong output', async (t) => {
  const good = xz(mixed, ['-6']);
  t.throws(() => decode(good.subarray(0, good.length - 1)), { code: 'MN0208' });
  t.throws(() => decode(good.subarray(0, 100)), { code: 'MN0208' });
  t.throws(() => decode(Buffer.from('not xz at all')), { code: 'MN0208', message: /not an xz stream/ });
  let caught = 0;
  for (let i = 0; i < 60; i++) {
    const bad = Buffer.from(good);
    const at = 12 + Math.floor(rand() * (bad.length - 12));
    bad[at] ^= 1 << Math.floor(rand() * 8);
    try {
      const out = decode(bad);
      // A flipped bit may only go unnoticed if the output is still exact (never happens with a check).
      t.equal(sha(out), sha(mixed), `flip at ${at} unnoticed but harmless`);
    } catch (e) {
      t.equal((e as { code?: string }).code, 'MN0208', `flip at ${at}: ${(e as Error).message}`);
      caught++;
    }
  }
  t.ok(caught >= 55, `${caught} of 60 flips detected`);
});

t.test('the output bound stops a bomb', async (t) => {
  const bomb = xz(Buffer.alloc(50 << 20), ['-9']);
  t.ok(bomb.length < 20000, 'a small input');
  t.throws(() => decode(bomb, 1 << 20), { code: 'MN0208', message: /larger than the 1048576 bytes expected/ });
});

t.test('filters other than LZMA2 are refused', async (t) => {
  t.throws(() => decode(xz(text, ['--x86', '--lzma2'])), { code: 'MN0208', message: /filters other than LZMA2/ });
});
