#!/usr/bin/env node
// zstd benchmark: our wasm codec (dist/unpack/zstd.js; run `npx tsc` first)
// against the native zstd CLI on the same data.
//
//   node bench/zstd.mjs [--mib N] [--runs N]
//
// The payload (default 256 MiB) is a deterministic mix of files from /usr/bin
// and /usr/lib (sorted walk, every 3rd regular file, at most 4 MiB of each)
// and generated text; it and its .zst versions are cached in bench/.work/.
// Each measurement runs `runs` times, interleaved, and reports the best run
// (MB = 10^6 bytes of *uncompressed* data per second, wall clock; the CPU-time
// ratio is also shown because it is less disturbed by a busy machine). Ours
// runs in a fresh child process per binding (core module vs jco component
// bindings), so warm-up (wasm compile and tier-up) is included, as it is for
// the CLI's process start.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const work = join(here, '.work');
const MiB = 1024 * 1024;

function* walk(dir) {
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st) continue;
    if (st.isDirectory()) yield* walk(p);
    else if (st.isFile()) yield [p, st.size];
  }
}

/** Deterministic text: log-like lines from a fixed vocabulary (xorshift32). */
function textBlock(n, seed) {
  const words = ['install', 'package', 'minos', 'usr/lib', 'libc.so.6', 'version', 'depends', 'error:', 'warning:', 'ok', '0.12.3', 'x86_64', 'sha256', 'config', 'the', 'a', 'of', 'and', 'to', 'in'];
  let x = seed >>> 0 || 1;
  const rnd = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  const lines = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const k = 3 + (rnd() % 12);
    const parts = [`2024-01-${String(1 + (i % 28)).padStart(2, '0')} ${String(rnd() % 100000).padStart(5, '0')}`];
    for (let j = 0; j < k; j++) parts.push(words[rnd() % words.length]);
    const line = parts.join(' ') + '\n';
    lines.push(line);
    len += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, n);
}

/** Builds (or reuses) the payload; returns its path. */
export function ensurePayload(mib = 256) {
  mkdirSync(work, { recursive: true });
  const file = join(work, `payload-${mib}.bin`);
  if (existsSync(file) && statSync(file).size === mib * MiB) return file;
  const target = mib * MiB;
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  let size = 0;
  const put = (b) => {
    const n = Math.min(b.length, target - size);
    writeSync(fd, b, 0, n);
    size += n;
  };
  const buf = Buffer.allocUnsafe(4 * MiB);
  let i = 0;
  let seed = 1;
  outer: for (const root of ['/usr/bin', '/usr/lib']) {
    for (const [p, len] of walk(root)) {
      if (i++ % 3 !== 0 || len < 4096) continue;
      let fdIn;
      try {
        fdIn = openSync(p, 'r');
      } catch {
        continue;
      }
      const n = readSync(fdIn, buf, 0, Math.min(len, buf.length), 0);
      closeSync(fdIn);
      put(buf.subarray(0, n));
      // Interleave generated text: roughly a quarter of the payload.
      put(textBlock(Math.ceil(n / 3), seed++));
      if (size >= target) break outer;
    }
  }
  while (size < target) put(textBlock(4 * MiB, seed++));
  closeSync(fd);
  renameSync(tmp, file);
  return file;
}

function zstdCli(args, inFile, outFile) {
  const out = outFile ? openSync(outFile, 'w') : 'ignore';
  const r = spawnSync('zstd', args, { stdio: [openSync(inFile, 'r'), out, 'pipe'] });
  if (typeof out === 'number') closeSync(out);
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')}: ${r.stderr}`);
}

function ensureCompressed(file, level) {
  const out = `${file}.${level}.zst`;
  if (!existsSync(out)) {
    zstdCli(['-q', `-${level}`, '--single-thread', '-c'], file, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
  }
  return out;
}

function ensureSubset(file, mib) {
  const out = file.replace(/\.bin$/, `-first${mib}.bin`);
  if (!existsSync(out)) {
    const fd = openSync(file, 'r');
    const b = Buffer.allocUnsafe(mib * MiB);
    readSync(fd, b, 0, b.length, 0);
    closeSync(fd);
    const o = openSync(`${out}.tmp`, 'w');
    writeSync(o, b);
    closeSync(o);
    renameSync(`${out}.tmp`, out);
  }
  return out;
}

/** Times the zstd CLI: wall seconds, and CPU seconds (user+sys) via the shell's `times`. */
/** `n` concatenated copies of a .zst (a longer -19 stream without a 4x longer -19 compression). */
function ensureCat(file, n) {
  const out = `${file}.x${n}`;
  if (!existsSync(out)) {
    const b = readFileSync(file);
    const o = openSync(`${out}.tmp`, 'w');
    for (let i = 0; i < n; i++) writeSync(o, b);
    closeSync(o);
    renameSync(`${out}.tmp`, out);
  }
  return out;
}

function timeNative(args, inFile) {
  const q = (a) => `'${a.replace(/'/g, `'\\''`)}'`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', `zstd ${args.map(q).join(' ')} < ${q(inFile)} > /dev/null && times`], { encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')}: ${r.stderr}`);
  // `times` prints the shell's then its children's "user sys" as e.g. 0m0.41s.
  const secs = [...r.stdout.trim().split('\n')[1].matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { s, cpu: secs[0] + secs[1] };
}

/**
 * Child mode: time our codec on a file, twice in the same process: the first
 * ("cold") pass includes loading and compiling the wasm and V8's tier-up, the
 * second ("warm") is the steady state of a long-running process. Prints JSON.
 */
async function child(op, file, level) {
  const z = await import('../dist/unpack/zstd.js');
  await z.loadZstdBindings();
  const chunk = Buffer.allocUnsafe(MiB);
  const pass = () => {
    const fd = openSync(file, 'r');
    let produced = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const coder = op === 'decode' ? z.createZstdDecoder() : z.createZstdEncoder({ level });
    const onData = (b) => {
      produced += b.length;
    };
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      coder.push(chunk.subarray(0, n), onData);
    }
    if (op === 'decode') coder.end();
    else coder.end(onData);
    coder.free();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    closeSync(fd);
    return { s, cpu: (c.user + c.system) / 1e6, produced };
  };
  const cold = pass();
  const warm = pass();
  process.stdout.write(JSON.stringify({ cold, warm, memory: z.zstdMemoryBytes() }));
}

function timeOurs(binding, op, file, level) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', op, file, String(level ?? 3)], {
    env: { ...process.env, MINOS_ZSTD_BINDING: binding },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`bench child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Runs the benchmark; returns rows { name, bytes, ours, native, ratio } with
 * MB/s figures, and prints a table unless `quiet`.
 */
export async function runZstdBench({ mib = 256, runs = 3, quiet = false } = {}) {
  if (!existsSync(join(here, '../dist/unpack/zstd.js'))) throw new Error('run `npx tsc` first (dist/unpack/zstd.js missing)');
  const log = quiet ? () => {} : (s) => process.stdout.write(s + '\n');
  const payload = ensurePayload(mib);
  const z3 = ensureCompressed(payload, 3);
  const sub = ensureSubset(payload, 32);
  const z19 = ensureCompressed(sub, 19);
  const size = (f) => statSync(f).size;
  log(`payload ${(size(payload) / MiB).toFixed(0)} MiB -> -3: ${(size(z3) / MiB).toFixed(1)} MiB; subset 32 MiB -> -19: ${(size(z19) / MiB).toFixed(1)} MiB`);

  const cases = [
    { name: 'decompress -3', bytes: size(payload), native: ['-dc', '-q'], in: z3, op: 'decode' },
    { name: 'decompress -19 (32 MiB)', bytes: size(sub), native: ['-dc', '-q'], in: z19, op: 'decode' },
    { name: 'decompress -19 (x4 cat)', bytes: 4 * size(sub), native: ['-dc', '-q'], in: ensureCat(z19, 4), op: 'decode' },
    { name: 'compress -3', bytes: size(payload), native: ['-3', '-c', '-q', '--single-thread'], in: payload, op: 'encode', level: 3 },
  ];
  const rows = [];
  const kinds = ['native', 'core', 'core warm', 'component', 'component warm'];
  for (const c of cases) {
    const wall = Object.fromEntries(kinds.map((k) => [k, Infinity]));
    const cpu = Object.fromEntries(kinds.map((k) => [k, Infinity]));
    const note = (k, r) => {
      wall[k] = Math.min(wall[k], r.s);
      cpu[k] = Math.min(cpu[k], r.cpu);
    };
    let memory = 0;
    for (let i = 0; i < runs; i++) {
      note('native', timeNative(c.native, c.in));
      for (const b of ['core', 'component']) {
        const r = timeOurs(b, c.op, c.in, c.level);
        for (const p of [r.cold, r.warm]) {
          if (c.op === 'decode' && p.produced !== c.bytes) throw new Error(`${c.name}: produced ${p.produced} bytes, want ${c.bytes}`);
        }
        note(b, r.cold);
        note(`${b} warm`, r.warm);
        memory = Math.max(memory, r.memory);
      }
    }
    const mbps = Object.fromEntries(kinds.map((k) => [k, c.bytes / 1e6 / wall[k]]));
    const ratio = Object.fromEntries(kinds.map((k) => [k, wall.native / wall[k]]));
    const cpuRatio = Object.fromEntries(kinds.map((k) => [k, cpu.native / cpu[k]]));
    rows.push({ name: c.name, bytes: c.bytes, mbps, ratio, cpuRatio, wasmMemory: memory });
  }
  const pad = (s, n) => String(s).padStart(n);
  log(`${'case'.padEnd(24)}${'ours'.padEnd(16)}${pad('MB/s', 8)}${pad('x native', 10)}${pad('(cpu)', 7)}`);
  for (const r of rows) {
    for (const k of kinds) {
      const label = k === 'native' ? 'zstd CLI' : k.replace('core', 'core module').replace('component', 'component');
      log(
        `${(k === 'native' ? r.name : '').padEnd(24)}${label.padEnd(16)}${pad(r.mbps[k].toFixed(0), 8)}` +
          (k === 'native' ? '' : `${pad(r.ratio[k].toFixed(2), 10)}${pad(r.cpuRatio[k].toFixed(2), 7)}`),
      );
    }
    log(`${''.padEnd(24)}wasm memory ${(r.wasmMemory / MiB).toFixed(1)} MiB`);
  }
  log(
    `(best of ${runs}; cold = first pass in a fresh process (includes wasm compile/tier-up, as the CLI's includes process start), ` +
      `warm = second pass; core module = the default binding, component = jco bindings; x native = throughput ratio from wall ` +
      `clock, (cpu) = from user+sys CPU time; native = zstd ${spawnSync('zstd', ['--version'], { encoding: 'utf8' }).stdout.match(/v[\d.]+/)?.[0] ?? '?'})`,
  );
  return rows;
}

const argv = process.argv.slice(2);
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (argv[0] === '--child') {
    await child(argv[1], argv[2], Number(argv[3]));
  } else {
    const opt = (name, def) => {
      const i = argv.indexOf(name);
      return i >= 0 ? Number(argv[i + 1]) : def;
    };
    await runZstdBench({ mib: opt('--mib', 256), runs: opt('--runs', 3) });
  }
}
