import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { MinosError } from '../src/errors.js';
import {
  createZstdDecoder,
  createZstdEncoder,
  zstdCompress,
  zstdCompressStream,
  zstdDecompress,
  zstdDecompressStream,
  zstdMemoryBytes,
} from '../src/unpack/zstd.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'minos-zstd-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;

// The reproducibility rebuild (~10-20 s of clang) runs in the background while
// the other tests run; the last test checks its result.
const haveClang = spawnSync('clang', ['--version']).status === 0;
const rebuilt: Promise<{ status: number | null; stderr: string }> | undefined = haveClang
  ? new Promise((resolve) => {
      const p = spawn(process.execPath, [join(root, 'wasm/build.mjs'), '--out', join(dir, 'gen')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('error', (e) => resolve({ status: -1, stderr: String(e) }));
      p.on('close', (status) => resolve({ status, stderr }));
    })
  : undefined;

/** Deterministic pseudo-random bytes (xorshift32). */
function random(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Compressible, text-like bytes. */
function text(n: number, seed = 7): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'package', 'minos', 'zstd', 'frame', 'block', 'window', '\n', 'lib', 'usr', '/', '-', '0.1.2'];
  const r = random(n, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = words[r[i % n] % words.length] + (r[(i * 7) % n] & 1 ? ' ' : '');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Mix of text, random and zero runs: a few MiB. */
function mixed(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0, k = 0; off < n; off += 64 * 1024, k++) {
    const len = Math.min(64 * 1024, n - off);
    const kind = k % 3;
    if (kind === 0) text(len, k + 1).copy(out, off);
    else if (kind === 1) random(len, k + 1).copy(out, off);
  }
  return out;
}

function cli(args: string[], input?: Uint8Array): Buffer {
  const r = spawnSync('zstd', args, { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const haveZstd = spawnSync('zstd', ['--version']).status === 0;
t.ok(haveZstd, 'the zstd CLI is installed (make test installs it)');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof MinosError) return e.code;
    throw e;
  }
  return undefined;
}

/** Streaming decode in chunks of `size`; returns output and error (if any). */
function decodeChunked(data: Uint8Array, size: number, limit?: number): { out: Buffer; err?: MinosError } {
  const parts: Uint8Array[] = [];
  const d = createZstdDecoder({ limit });
  try {
    for (let off = 0; off < data.length; off += size) d.push(data.subarray(off, off + size), (b) => parts.push(b));
    d.end();
    return { out: Buffer.concat(parts) };
  } catch (e) {
    if (!(e instanceof MinosError)) throw e;
    return { out: Buffer.concat(parts), err: e };
  } finally {
    d.free();
  }
}

const inputs: Record<string, Buffer> = {
  text: text(300 * 1024),
  random: random(96 * 1024),
  empty: Buffer.alloc(0),
  big: mixed(5 * MiB),
};
for (const [name, data] of Object.entries(inputs)) writeFileSync(join(dir, name), data);

t.test('round trips at several levels', async (t) => {
  for (const level of [1, 3, 9, 19]) {
    for (const [name, data] of Object.entries(inputs)) {
      if (name === 'big' && level > 9) continue;
      const c = zstdCompress(data, { level });
      t.ok(zstdDecompress(c).equals(data), `level ${level} ${name}`);
    }
  }
  // Default level, streaming encode with odd chunking, streaming decode.
  const data = inputs.big;
  const parts: Uint8Array[] = [];
  const e = createZstdEncoder();
  for (let off = 0; off < data.length; off += 77777) e.push(data.subarray(off, off + 77777), (b) => parts.push(b));
  e.end((b) => parts.push(b));
  e.free();
  const c = Buffer.concat(parts);
  t.ok(c.equals(zstdCompress(data, { level: 3 })), 'default level is 3 and chunking does not change output');
  t.ok(decodeChunked(c, 4096).out.equals(data), 'chunked decode');
});

t.test('decodes zstd CLI output at levels 1..19', { skip: !haveZstd && 'zstd CLI not installed' }, async (t) => {
  for (let level = 1; level <= 19; level++) {
    for (const name of ['text', 'random', 'empty']) {
      const c = cli(['-q', `-${level}`, '-c', join(dir, name)]);
      t.ok(zstdDecompress(c).equals(inputs[name]), `-${level} ${name}`);
    }
  }
  for (const level of [1, 3, 12, 19]) {
    const c = cli(['-q', `-${level}`, '-c', join(dir, 'big')]);
    t.ok(decodeChunked(c, 65536).out.equals(inputs.big), `-${level} big, streamed`);
    t.ok(zstdMemoryBytes('decoder') < 64 * MiB, `-${level}: decoder memory ${zstdMemoryBytes('decoder')}`);
  }
  // --long windows beyond the default limit are configurable.
  // (piped, so zstd cannot shrink the window to the input size)
  const long = spawnSync('sh', ['-c', `zstd -q -3 --long=27 -c < "${join(dir, 'text')}"`], { maxBuffer: 1 << 30 }).stdout;
  t.ok(zstdDecompress(long).equals(inputs.text), '--long=27 decodes with default windowLogMax');
  t.equal(codeOf(() => zstdDecompress(long, { windowLogMax: 20 })), 'MN0208', 'window above windowLogMax is refused');
});

t.test('frame variants', { skip: !haveZstd && 'zstd CLI not installed' }, async (t) => {
  const a = cli(['-q', '-3', '-c', join(dir, 'text')]);
  const b = cli(['-q', '-19', '-c', join(dir, 'random')]);
  const e = cli(['-q', '-c', join(dir, 'empty')]);
  const ours = zstdCompress(inputs.big);
  const truth = Buffer.concat([inputs.text, inputs.random, inputs.empty, inputs.big]);
  const cat = Buffer.concat([a, b, e, ours]);
  t.ok(zstdDecompress(cat).equals(truth), 'concatenated frames (CLI + ours)');
  t.ok(decodeChunked(cat, 1000).out.equals(truth), 'concatenated frames, streamed');

  // `zstd -c < file`: no content size in the header; --no-check: no checksum.
  const piped = spawnSync('sh', ['-c', `zstd -q -5 -c < "${join(dir, 'big')}"`], { maxBuffer: 1 << 30 }).stdout;
  t.equal(piped[4] & 0xc0, 0, 'piped frame has no content size field');
  t.ok(zstdDecompress(piped).equals(inputs.big), 'frame without content size');
  t.ok(zstdDecompress(cli(['-q', '--no-check', '-c', join(dir, 'text')])).equals(inputs.text), 'frame without checksum');

  // Skippable frames (magic 0x184D2A5?) before, between and after real frames.
  const skip = (n: number, nibble: number): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(0x184d2a50 + nibble, 0);
    h.writeUInt32LE(n, 4);
    return Buffer.concat([h, random(n, n + 3)]);
  };
  const withSkip = Buffer.concat([skip(10, 0), a, skip(0, 15), skip(5000, 7), b, skip(3, 1)]);
  t.ok(zstdDecompress(withSkip).equals(Buffer.concat([inputs.text, inputs.random])), 'skippable frames');
  t.ok(decodeChunked(withSkip, 7).out.equals(Buffer.concat([inputs.text, inputs.random])), 'skippable frames, streamed');
  t.equal(zstdDecompress(skip(4, 2)).length, 0, 'a lone skippable frame is an empty stream');
  t.ok(cli(['-dc'], withSkip).equals(Buffer.concat([inputs.text, inputs.random])), 'CLI agrees');
});

t.test('tiny chunks', async (t) => {
  const data = text(20000, 3);
  const c = zstdCompress(data, { level: 19 });
  t.ok(decodeChunked(c, 1).out.equals(data), 'decoder fed one byte at a time');
  const parts: Uint8Array[] = [];
  const e = createZstdEncoder({ level: 5 });
  for (let i = 0; i < 3000; i++) e.push(data.subarray(i, i + 1), (b) => parts.push(b));
  e.push(data.subarray(3000), (b) => parts.push(b));
  e.end((b) => parts.push(b));
  e.free();
  t.ok(Buffer.concat(parts).equals(zstdCompress(data, { level: 5 })), 'encoder fed one byte at a time: same bytes');
});

t.test('transient output: views of the decoder buffer, same bytes', async (t) => {
  const data = text(3 * MiB, 9);
  const c = zstdCompress(data, { level: 3 });
  const d = createZstdDecoder({ transient: true });
  const copies: Buffer[] = [];
  const views: Uint8Array[] = [];
  try {
    for (let off = 0; off < c.length; off += 64 * 1024) {
      d.push(c.subarray(off, off + 64 * 1024), (out) => {
        copies.push(Buffer.from(out));
        views.push(out);
      });
    }
    d.end();
  } finally {
    d.free();
  }
  t.ok(Buffer.concat(copies).equals(data), 'copies made during the calls reassemble the input');
  t.ok(views.length > 2, 'several chunks');
  t.ok(views.every((v) => !Buffer.isBuffer(v) && v.byteOffset === views[0].byteOffset), 'every chunk is a view of one reused buffer');
  t.notOk(Buffer.concat(views).equals(data), 'so keeping the views themselves is wrong, as documented');
  t.ok(zstdDecompress(c, { transient: true }).equals(data), 'the whole-buffer helper ignores transient');
});

t.test('corruption and truncation', { skip: !haveZstd && 'zstd CLI not installed' }, async (t) => {
  const truth = inputs.text.subarray(0, 200 * 1024);
  const c = cli(['-q', '-9', '-c'], truth);
  const r = random(4096, 99);
  let errors = 0;
  let clean = 0;
  const positions = new Set<number>();
  for (let i = 0; i < 40; i++) positions.add(i); // headers
  for (let i = 0; i < 200; i++) positions.add(((r[2 * i] << 8) | r[2 * i + 1]) % c.length);
  for (let i = c.length - 8; i < c.length; i++) positions.add(i); // last block, checksum
  for (const pos of [...positions].sort((x, y) => x - y)) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = Buffer.from(c);
      bad[pos] ^= mask;
      // One-shot: an exact result or MN0208, nothing else.
      let whole: Buffer | undefined;
      let code: string | undefined;
      try {
        whole = zstdDecompress(bad);
      } catch (e) {
        if (!(e instanceof MinosError)) throw e;
        code = e.code;
      }
      if (whole) {
        if (!whole.equals(truth)) t.fail(`byte ${pos}^${mask}: wrong output without error`);
        clean++;
      } else if (code !== 'MN0208') {
        t.fail(`byte ${pos}^${mask}: ${code}`);
      } else errors++;
      // Streaming: the same verdict; the error may come after delivered data,
      // which callers discard (the checksum sits at the end of the frame).
      const s = decodeChunked(bad, 8192);
      if (s.err) {
        if (s.err.code !== 'MN0208' || whole) t.fail(`byte ${pos}^${mask} streamed: ${s.err.code}`);
      } else if (!s.out.equals(truth)) t.fail(`byte ${pos}^${mask} streamed: wrong output without error`);
    }
  }
  t.ok(errors > positions.size * 2, `corruptions detected: ${errors}, harmless (e.g. window size bits): ${clean}`);

  // Truncation anywhere: MN0208, and what was delivered is a prefix of the truth.
  const cuts = new Set([0, 1, 4, 5, 6, 10, c.length - 1, c.length - 4, c.length - 5]);
  for (let i = 0; i < 60; i++) cuts.add(Math.floor((i * c.length) / 60));
  for (const cut of cuts) {
    const s = decodeChunked(c.subarray(0, cut), 4096);
    t.equal(s.err?.code, 'MN0208', `cut at ${cut}`);
    if (!truth.subarray(0, s.out.length).equals(s.out)) t.fail(`cut at ${cut}: output is not a prefix`);
  }
  t.match(decodeChunked(c.subarray(0, c.length - 1), 4096).err?.message, /truncated zstd stream/);
  t.match(codeOf(() => zstdDecompress(Buffer.concat([c, Buffer.from('junk')]))), 'MN0208', 'trailing garbage');
  t.match(
    (() => {
      try {
        zstdDecompress(Buffer.from('definitely not zstd'));
      } catch (e) {
        return (e as Error).message;
      }
    })(),
    /^corrupt zstd data: /,
  );
  t.equal(codeOf(() => zstdDecompress(Buffer.alloc(0))), 'MN0208', 'empty input is not a stream (as with the CLI)');

  // After an error the decoder stays failed.
  const d = createZstdDecoder();
  t.throws(() => d.push(Buffer.from('garbage!'), () => {}), { code: 'MN0208' });
  t.throws(() => d.push(c, () => t.fail('no output after failure')), { code: 'MN0208' });
  t.throws(() => d.end(), { code: 'MN0208' });
  d.free();
  d.free();
});

t.test('limit stops a bomb early', { skip: !haveZstd && 'zstd CLI not installed' }, async (t) => {
  // 1 GiB of zeros: 16 concatenated frames of 64 MiB each.
  const frame = cli(['-q', '-1', '-c'], Buffer.alloc(64 * MiB));
  const bomb = Buffer.concat(Array.from({ length: 16 }, () => frame));
  t.ok(bomb.length < 64 * 1024, `1 GiB of zeros in ${bomb.length} bytes`);
  const start = Date.now();
  let got = 0;
  const d = createZstdDecoder({ limit: 10 * MiB });
  t.throws(() => d.push(bomb, (b) => (got += b.length)), { code: 'MN0209', message: 'decompressed size exceeds limit of 10485760 bytes' });
  d.free();
  t.ok(got <= 10 * MiB, `delivered ${got} bytes, within the limit`);
  t.ok(Date.now() - start < 5000, 'stops quickly');
  t.ok(zstdMemoryBytes('decoder') < 64 * MiB, 'memory stays small');
  t.equal(codeOf(() => zstdDecompress(bomb, { limit: 1000 })), 'MN0209');
  t.equal(zstdDecompress(zstdCompress(inputs.text), { limit: inputs.text.length }).length, inputs.text.length, 'exact limit is fine');
  t.equal(codeOf(() => zstdDecompress(zstdCompress(inputs.text), { limit: inputs.text.length - 1 })), 'MN0209');

  // The stream version honours backpressure inside one input chunk.
  let max = 0;
  const src = zstdDecompressStream({ limit: 200 * MiB });
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _e, cb) {
      max = Math.max(max, src.readableLength);
      setImmediate(cb);
    },
  });
  await t.rejects(pipeline(Readable.from([bomb]), src, sink), { code: 'MN0209' });
  t.ok(max <= 2 * MiB, `readable buffer stayed small (${max} bytes)`);
});

t.test('encoder output decodes with the zstd CLI; deterministic', { skip: !haveZstd && 'zstd CLI not installed' }, async (t) => {
  for (const level of [1, 3, 19]) {
    for (const name of ['text', 'random', 'empty', 'big']) {
      if (name === 'big' && level === 19) continue;
      const c = zstdCompress(inputs[name], { level });
      t.ok(cli(['-dc'], c).equals(inputs[name]), `CLI decodes level ${level} ${name}`);
      t.ok(zstdCompress(inputs[name], { level }).equals(c), `level ${level} ${name} is deterministic`);
    }
  }
  const c = zstdCompress(inputs.text);
  t.ok(cli(['-t', '-q'], c).length === 0, 'zstd -t accepts it');
  t.equal(c[4] & 0x04, 0x04, 'frame has a checksum');
  t.equal(codeOf(() => createZstdEncoder({ level: 0 })), 'MN0002');
  t.equal(codeOf(() => createZstdEncoder({ level: 23 })), 'MN0002');
  t.equal(codeOf(() => createZstdDecoder({ limit: -1 })), 'MN0002');
  const e = createZstdEncoder();
  e.end(() => {});
  t.throws(() => e.push(Buffer.from('x'), () => {}), { code: 'MN0001' });
  e.free();
});

t.test('streams in constant memory', async (t) => {
  // 256 MiB of generated data: compress stream -> decompress stream -> hash.
  const block = mixed(4 * MiB);
  const total = 256 * MiB;
  const blocks = total / block.length;
  let i = 0;
  const source = new Readable({
    read() {
      if (i === blocks) return void this.push(null);
      // Vary each block so it is not a pure repeat.
      const b = Buffer.from(block);
      b.writeUInt32LE(i++, 0);
      b.writeUInt32LE((i * 2654435761) >>> 0, 1 << 20);
      this.push(b);
    },
  });
  const want = createHash('sha256');
  for (let k = 0; k < blocks; k++) {
    const b = Buffer.from(block);
    b.writeUInt32LE(k, 0);
    b.writeUInt32LE(((k + 1) * 2654435761) >>> 0, 1 << 20);
    want.update(b);
  }
  const got = createHash('sha256');
  let n = 0;
  let peak = 0;
  await pipeline(
    source,
    zstdCompressStream({ level: 1 }),
    zstdDecompressStream(),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        got.update(chunk);
        n += chunk.length;
        peak = Math.max(peak, zstdMemoryBytes('decoder'));
        cb();
      },
    }),
  );
  t.equal(n, total);
  t.equal(got.digest('hex'), want.digest('hex'), 'round trip through streams');
  t.ok(peak < 64 * MiB, `decoder wasm memory peaked at ${(peak / MiB).toFixed(1)} MiB`);
  t.ok(zstdMemoryBytes('encoder') < 64 * MiB, `encoder wasm memory ${(zstdMemoryBytes('encoder') / MiB).toFixed(1)} MiB`);
});

t.test('make wasm reproduces wasm/gen byte for byte', async (t) => {
  if (!rebuilt) return t.fail('clang is not installed (make test installs it)');
  const out = join(dir, 'gen');
  const r = await rebuilt;
  t.equal(r.status, 0, `build.mjs exit status; stderr: ${r.stderr.slice(-2000)}`);
  const hash = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
  const list = (d: string, pre = ''): string[] =>
    readdirSync(d)
      .sort()
      .flatMap((n) => (statSync(join(d, n)).isDirectory() ? list(join(d, n), `${pre}${n}/`) : [`${pre}${n}`]));
  const committed = list(join(root, 'wasm/gen'));
  t.same(list(out), committed, 'same files');
  for (const f of committed) t.equal(hash(join(out, f)), hash(join(root, 'wasm/gen', f)), f);
});

t.test('the compress stream finishes whatever the chunk size, with a consumer that completes writes later (it stalled)', async (t) => {
  const data = Buffer.concat([mixed(3 * MiB), Buffer.from('tail')]);
  for (const hw of [4096, 65536, 1 << 20, 3 << 20]) {
    const parts: Buffer[] = [];
    const done = pipeline(
      Readable.from((function* () {
        for (let o = 0; o < data.length; o += hw) yield data.subarray(o, o + hw);
      })()),
      zstdCompressStream({ level: 3 }),
      // A consumer that finishes each write later, as a file stream does.
      new Writable({ write(c: Buffer, _e, cb) { parts.push(c); setImmediate(cb); } }),
    );
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('stalled'), 20_000); });
    t.equal(await Promise.race([done.then(() => 'done'), stalled]), 'done', `${hw}-byte chunks: the pipeline ends`);
    clearTimeout(timer);
    t.ok(zstdDecompress(Buffer.concat(parts)).equals(data), `${hw}-byte chunks: round trip`);
  }
});
