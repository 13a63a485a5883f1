/** Our xz decoder and encoder against the native xz tool: formats, checks, streams, corruption and bounds. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import t from 'tap';
import { prng } from './lib/prng.js';
import { createXzEncoder, xzCompress, xzDecompress } from '../src/unpack/xz.js';

const haveXz = spawnSync('xz', ['--version']).status === 0;
t.ok(haveXz, 'the xz tool is installed (make test installs xz-utils)');

function xz(input: Buffer, args: string[]): Buffer {
  const r = spawnSync('xz', ['-c', ...args], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return r.stdout;
}

function decode(b: Buffer, limit = 1 << 30, memlimit?: number): Buffer {
  const parts: Buffer[] = [];
  xzDecompress(b, { limit, memlimit, label: 'test.xz', onChunk: (c) => parts.push(Buffer.from(c)) });
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

/** Offset of the index of a one-stream .xz file: the footer's backward size says where it starts. */
function indexStart(b: Buffer): number {
  return b.length - 12 - (b.readUInt32LE(b.length - 8) + 1) * 4;
}

t.test('a block check that does not match its data is an error', async (t) => {
  for (const [check, size] of [['crc32', 4], ['crc64', 8], ['sha256', 32]] as const) {
    const good = xz(text, ['-1', `--check=${check}`]);
    t.equal(sha(decode(good)), sha(text), `${check}: the unaltered stream decodes`);
    const bad = Buffer.from(good);
    const at = indexStart(bad) - size; // the check is the last field of the (only) block
    bad[at] ^= 0x10;
    t.throws(() => decode(bad), { code: 'MN0208', message: /test\.xz: corrupt xz data: .*integrity check/ }, check);
  }
});

t.test('corrupt and truncated streams name what is wrong', async (t) => {
  const good = xz(mixed, ['-6']);
  const mid = Buffer.from(good);
  mid.fill(0x55, 2000, 2100); // inside the LZMA2 data
  t.throws(() => decode(mid), { code: 'MN0208', message: /corrupt xz data/ });
  for (const cut of [6, 12, 5000, good.length - 40, good.length - 12, good.length - 1]) {
    t.throws(() => decode(good.subarray(0, cut)), { code: 'MN0208', message: /truncated/ }, `cut at ${cut} of ${good.length}`);
  }
  t.throws(() => decode(Buffer.alloc(0)), { code: 'MN0208', message: /truncated/ }, 'no data is not a stream');
  t.throws(() => decode(Buffer.concat([good, Buffer.from('junk')])), { code: 'MN0208' }, 'data after the last stream');
  t.equal(sha(decode(Buffer.concat([good, Buffer.alloc(4)]))), sha(mixed), 'padding after the last stream');
  t.equal(sha(decode(good)), sha(mixed), 'the decoder instance is still sound after those errors');
});

t.test('a check type liblzma cannot verify is refused', async (t) => {
  // Check ID 2 is reserved (4 bytes): rewrite the stream flags and their CRC32s in header and footer.
  const b = Buffer.from(xz(text, ['-1', '--check=crc32']));
  const footer = b.length - 12;
  b[7] = 2;
  b.writeUInt32LE(crc32(b.subarray(6, 8)), 8);
  b[footer + 9] = 2;
  b.writeUInt32LE(crc32(b.subarray(footer + 4, footer + 10)), footer);
  t.throws(() => decode(b), { code: 'MN0208', message: /unsupported integrity check/ });
});

t.test('the memory limit refuses a dictionary too large for it', async (t) => {
  const six = xz(text, ['-6']); // 8 MiB dictionary
  t.throws(() => decode(six, 1 << 30, 4 << 20), {
    code: 'MN0208',
    message: /test\.xz: xz data needs \d+ bytes of memory to decode, more than the 4194304 allowed/,
    data: { memlimit: 4 << 20 },
  });
  try {
    decode(six, 1 << 30, 4 << 20);
  } catch (e) {
    t.ok((e as { data: { needed: number } }).data.needed > 8 << 20, 'the memory needed is more than the dictionary');
  }
  t.equal(sha(decode(six, 1 << 30, 9 << 20)), sha(text), 'a limit above the dictionary size decodes');
  t.equal(sha(decode(xz(text, ['-0']), 1 << 30, 4 << 20)), sha(text), 'a 256 KiB dictionary fits 4 MiB');
});

t.test('the output bound is exact', async (t) => {
  const small = xz(text, ['-1']);
  t.equal(decode(small, text.length).length, text.length, 'limit = size');
  t.throws(() => decode(small, text.length - 1), { code: 'MN0208', message: /output larger than/ });
});

t.test('chunks are fresh copies the caller may keep', async (t) => {
  const kept: Uint8Array[] = [];
  const n = xzDecompress(xz(mixed, ['-6']), { limit: 1 << 30, onChunk: (c) => kept.push(c) });
  t.equal(n, mixed.length);
  t.ok(kept.every((c) => c.length <= 256 * 1024), 'at most 256 KiB each');
  t.equal(sha(Buffer.concat(kept)), sha(mixed));
});

t.test('the component bindings (wasm/gen/xz-decoder.js) decode the same', async (t) => {
  const { instantiate } = await import('../wasm/gen/xz-decoder.js');
  const gen = new URL('../wasm/gen/', import.meta.url);
  const api = instantiate((name) => new WebAssembly.Module(readFileSync(new URL(name, gen))), {}).decode;
  const run = (input: Uint8Array, memlimit: number): Buffer => {
    const d = new api.Decoder(memlimit);
    const parts: Uint8Array[] = [d.decode(input, true)];
    while (parts[parts.length - 1].length === api.outCapacity()) parts.push(d.decode(new Uint8Array(0), true));
    t.ok(d.atEnd(), 'at end');
    return Buffer.concat(parts);
  };
  t.equal(sha(run(xz(mixed, ['-6']), 64 << 20)), sha(mixed));
  // jco (noComponentErrorWrapping) throws the error string itself.
  let thrown: unknown;
  try {
    run(xz(mixed, ['-6']), 1 << 20);
  } catch (e) {
    thrown = e;
  }
  t.match(thrown, /^memory limit: \d+ bytes needed$/);
});

t.test('the encoder writes what xz -T1 writes, and both decoders read it', async (t) => {
  for (const level of [0, 1, 6]) { // 9 would take 674 MiB, as native xz -9 does
    const ours = xzCompress(mixed, { level });
    t.equal(sha(ours), sha(xz(mixed, [`-${level}`, '-T1'])), `level ${level}: the bytes of xz -${level} -T1`);
    t.equal(sha(decode(ours)), sha(mixed), `level ${level}: our decoder round-trips`);
  }
  for (const check of ['none', 'crc32', 'crc64'] as const) {
    const ours = xzCompress(text, { level: 1, check });
    t.equal(sha(ours), sha(xz(text, ['-1', '-T1', `--check=${check}`])), `check ${check}`);
    t.equal(sha(spawnSync('xz', ['-dc'], { input: ours, maxBuffer: 1 << 30 }).stdout), sha(text), `check ${check}: xz -d reads it`);
  }
  t.equal(sha(decode(xzCompress(Buffer.alloc(0)))), sha(Buffer.alloc(0)), 'an empty stream');
  t.equal(sha(xzCompress(Buffer.alloc(0))), sha(xz(Buffer.alloc(0), ['-T1'])), 'an empty stream: the bytes of xz');
});

t.test('the encoder: chunking does not change the bytes; output per call is bounded', async (t) => {
  const e = createXzEncoder({ level: 0 });
  const parts: Uint8Array[] = [];
  try {
    // one push far larger than the input slice and the output buffer, then odd small ones
    e.push(Buffer.concat([noise, noise, noise, noise, noise, noise, noise]), (c) => parts.push(c));
    for (let off = 0; off < text.length; off += 7777) e.push(text.subarray(off, off + 7777), (c) => parts.push(c));
    e.push(new Uint8Array(0), (c) => parts.push(c));
    e.end((c) => parts.push(c));
    t.throws(() => e.push(text, () => {}), { code: 'MN0001', message: /push\(\) after end\(\)/ });
  } finally {
    e.free();
    e.free();
  }
  t.ok(parts.every((c) => c.length <= 256 * 1024 && c.length > 0), 'chunks of 1 byte to 256 KiB');
  const input = Buffer.concat([noise, noise, noise, noise, noise, noise, noise, text]);
  t.equal(sha(Buffer.concat(parts)), sha(xzCompress(input, { level: 0 })), 'the same bytes as one call');
  t.equal(sha(decode(Buffer.concat(parts))), sha(input));
});

t.test('the encoder: a dictionary cap (squashfs blocks), bad options', async (t) => {
  const block = mixed.subarray(0, 128 << 10);
  const ours = xzCompress(block, { level: 6, check: 'crc32', dictMax: 128 << 10 });
  t.equal(sha(ours), sha(xz(block, ['-T1', '--check=crc32', '--lzma2=preset=6,dict=128KiB'])), 'the bytes of xz --lzma2=preset=6,dict=128KiB');
  t.equal(sha(decode(ours, 1 << 30, 1 << 20)), sha(block), 'decodes within 1 MiB of memory');
  for (const level of [-1, 10, 1.5]) t.throws(() => createXzEncoder({ level }), { code: 'MN0002', message: /xz level/ }, `level ${level}`);
  t.throws(() => createXzEncoder({ dictMax: -1 }), { code: 'MN0002' });
});

t.test('the component bindings (wasm/gen/xz-encoder.js) encode the same', async (t) => {
  const { instantiate } = await import('../wasm/gen/xz-encoder.js');
  const gen = new URL('../wasm/gen/', import.meta.url);
  const api = instantiate((name) => new WebAssembly.Module(readFileSync(new URL(name, gen))), {}).encode;
  const e = new api.Encoder(6, 'crc64', 0);
  const parts: Uint8Array[] = [e.encode(mixed)];
  while (parts[parts.length - 1].length === api.outCapacity()) parts.push(e.encode(new Uint8Array(0)));
  for (let out = e.finish(); out.length > 0; out = e.finish()) parts.push(out);
  t.equal(sha(Buffer.concat(parts)), sha(xzCompress(mixed)));
  // jco (noComponentErrorWrapping) throws the error string itself.
  let thrown: unknown;
  try {
    new api.Encoder(42, 'crc64', 0).encode(text);
  } catch (err) {
    thrown = err;
  }
  t.equal(thrown, 'unsupported options');
});

// wasm/xz-lzma-fast.c decodes whole symbols with plain loops and hands over to
// liblzma's resumable code near the end of input or room; these streams reach
// every kind of symbol and every hand-over point.
t.test('the LZMA fast path: every lc/lp/pb, a dictionary that wraps, input cut anywhere', async (t) => {
  const { instantiate } = await import('../wasm/gen/xz-decoder.js');
  const gen = new URL('../wasm/gen/', import.meta.url);
  const api = instantiate((name) => new WebAssembly.Module(readFileSync(new URL(name, gen))), {}).decode;
  const chunked = (input: Buffer, size: number): Buffer => {
    const d = new api.Decoder(64 << 20);
    const parts: Uint8Array[] = [];
    for (let off = 0; off < input.length; off += size) {
      const last = off + size >= input.length;
      let out = d.decode(input.subarray(off, off + size), last);
      parts.push(out);
      while (out.length === api.outCapacity()) parts.push((out = d.decode(new Uint8Array(0), last)));
    }
    t.ok(d.atEnd(), 'at end');
    return Buffer.concat(parts);
  };
  const small = mixed.subarray(0, 200000);
  for (const [lc, lp, pb] of [[0, 0, 0], [3, 0, 2], [4, 0, 4], [0, 4, 4], [1, 3, 1], [2, 2, 3]]) {
    const opts = `--lzma2=preset=6,lc=${lc},lp=${lp},pb=${pb}`;
    t.equal(sha(decode(xz(mixed, [opts]))), sha(mixed), opts);
  }
  // A 4 KiB dictionary: matches reach across the point where it wraps.
  for (const mf of ['hc4', 'bt4']) {
    const opts = `--lzma2=dict=4KiB,mf=${mf},nice=273,depth=0`;
    t.equal(sha(decode(xz(mixed, [opts]))), sha(mixed), opts);
  }
  // Input in pieces: liblzma stops inside a symbol at each piece's end.
  const packed = xz(small, ['-6', '--check=none']);
  for (const size of [1, 7, 61, 4099, 65543]) t.equal(sha(chunked(packed, size)), sha(small), `input in ${size}-byte pieces`);
  // Without a check, a corrupt stream either decodes to what xz -d gives or fails where xz -d fails.
  const bare = xz(mixed, ['-6', '--check=none']);
  let agreed = 0;
  for (let i = 0; i < 80; i++) {
    const bad = Buffer.from(bare);
    const at = 100 + Math.floor(rand() * (bad.length - 200));
    bad[at] ^= 1 << Math.floor(rand() * 8);
    const native = spawnSync('xz', ['-dc'], { input: bad, maxBuffer: 1 << 30 });
    let ours: Buffer | undefined;
    try {
      ours = decode(bad);
    } catch (e) {
      t.equal((e as { code?: string }).code, 'MN0208', `flip at ${at}: ${(e as Error).message}`);
    }
    if ((native.status === 0) === (ours !== undefined) && (ours === undefined || ours.equals(native.stdout))) agreed++;
    else t.fail(`flip at ${at}: xz -d exit ${native.status}, ours ${ours ? 'decoded' : 'failed'}`);
  }
  t.equal(agreed, 80, 'every corrupt stream treated as xz -d treats it');
});
