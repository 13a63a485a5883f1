#!/usr/bin/env node
// Builds wasm/gen/ from wasm/glue.c + wasm/zstd.wit + upstream zstd sources
// (node_modules/zstd-napi/deps/zstd/lib, never copied into this tree): two
// components, `decoder` (zstd common + decompress) and `encoder` (common +
// compress), so decoding never loads or compiles the compressor.
//
//   node wasm/build.mjs [--out DIR] [--keep-core]
//
// Steps per world: clang (wasm32-wasi, deterministic flags) -> core module ->
// componentEmbed(WIT) -> componentNew -> jco transpileBytes (sync
// instantiation mode) -> files under DIR (default wasm/gen). The output is
// byte-for-byte reproducible with the same clang and jco versions.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const zstdLib = join(root, 'node_modules/zstd-napi/deps/zstd/lib');

const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outDir = resolve(outIdx >= 0 ? args[outIdx + 1] : join(here, 'gen'));

const CC = process.env.WASM_CC ?? 'clang';

/** Compiler flags. Kept in one place: they decide the bytes of the output. */
function cflags() {
  const f = [
    '--target=wasm32-wasi',
    '-O3',
    '-g0',
    // Node 20's V8 has all of these. (-msimd128 and -O2 measured no faster:
    // zstd has no wasm SIMD code paths and autovectorization does not help.)
    '-mbulk-memory',
    '-msign-ext',
    '-mnontrapping-fptoint',
    '-mmutable-globals',
    '-ffile-prefix-map=' + root + '/=',
    '-ffile-prefix-map=' + root + '=.',
    '-fno-ident',
    '-DNDEBUG',
    '-DDEBUGLEVEL=0',
    '-DZSTD_LEGACY_SUPPORT=0',
    '-DZSTD_DISABLE_ASM',
    '-DZSTD_TRACE=0',
    '-DZSTD_MULTITHREAD_DISABLED',
    '-I' + zstdLib,
    '-I' + join(zstdLib, 'common'),
  ];
  // wasi-libc: an explicit sysroot if there is one, else Debian's multiarch
  // layout (/usr/include/wasm32-wasi, /usr/lib/wasm32-wasi). -nostdlibinc keeps
  // the host's /usr/include out of the search path.
  if (existsSync('/usr/share/wasi-sysroot/include')) {
    f.push('--sysroot=/usr/share/wasi-sysroot');
  } else {
    f.push('-nostdlibinc', '-isystem', '/usr/include/wasm32-wasi');
  }
  return f;
}

function ldflags() {
  // No -O here: with an -O flag clang 14 post-processes the link output with
  // whatever `wasm-opt` is on PATH (node_modules/.bin has one), which would make
  // the bytes depend on PATH.
  return [
    '--target=wasm32-wasi',
    '-nostartfiles',
    '-Wl,--no-entry',
    '-Wl,--strip-all',
    '-Wl,-z,stack-size=1048576',
    '-Wl,--initial-memory=2097152',
    ...(existsSync('/usr/share/wasi-sysroot/lib')
      ? ['--sysroot=/usr/share/wasi-sysroot']
      : ['-L/usr/lib/wasm32-wasi']),
  ];
}

function run(cmd, argv, cwd) {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, argv, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', fail);
    p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${cmd} exited with ${code}`))));
  });
}

/** Sorted zstd sources for one half: common/ plus compress/ or decompress/. */
async function sources(sub) {
  const list = [];
  for (const d of ['common', sub]) {
    const names = (await readdir(join(zstdLib, d))).filter((n) => n.endsWith('.c')).sort();
    for (const n of names) {
      // Multithreading (pool, threading, zstdmt) is compiled out entirely.
      if (['pool.c', 'threading.c', 'zstdmt_compress.c'].includes(n)) continue;
      list.push(join(zstdLib, d, n));
    }
  }
  return list;
}

/** Runs jobs with bounded parallelism. */
async function parallel(jobs) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
}

const TARGETS = [
  // FORCE_DECOMPRESS_SEQUENCES_SHORT drops the prefetching "long" sequence
  // decoder (prefetch is a no-op in wasm): same speed, less code to compile.
  { world: 'decoder', define: 'MINOS_ZSTD_DECODER', sub: 'decompress', flags: ['-DZSTD_FORCE_DECOMPRESS_SEQUENCES_SHORT'] },
  { world: 'encoder', define: 'MINOS_ZSTD_ENCODER', sub: 'compress', flags: [] },
];

/** Compiles every object (shared common/ objects once), links one core module per target. */
async function buildCores(work) {
  const flags = cflags();
  const objOf = new Map();
  const jobs = [];
  const compile = (src, extra, obj) => {
    jobs.push(() => run(CC, [...flags, ...extra, '-c', relative(root, src), '-o', obj], root));
    return obj;
  };
  const links = [];
  for (const t of TARGETS) {
    const objs = [compile(join(here, 'glue.c'), [`-D${t.define}`, ...t.flags], join(work, `glue-${t.world}.o`))];
    for (const src of await sources(t.sub)) {
      // common/ objects are shared, so target flags must only matter to the target's own directory.
      const own = src.includes(`/${t.sub}/`);
      if (!objOf.has(src)) objOf.set(src, compile(src, own ? t.flags : [], join(work, `${String(objOf.size).padStart(2, '0')}.o`)));
      objs.push(objOf.get(src));
    }
    links.push({ t, objs, wasm: join(work, `${t.world}.wasm`) });
  }
  await parallel(jobs);
  // Relative source paths (cwd = root) keep absolute paths out of the objects.
  await parallel(links.map((l) => () => run(CC, [...ldflags(), ...l.objs, '-o', l.wasm], root)));
  const out = {};
  for (const l of links) out[l.t.world] = await readFile(l.wasm);
  return out;
}

async function main() {
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const work = await mkdtemp(join(tmpdir(), 'minos-zstd-wasm-'));
  try {
    const cores = await buildCores(work);
    const witSource = await readFile(join(here, 'zstd.wit'), 'utf8');
    const files = {};
    const extra = {};
    for (const t of TARGETS) {
      const embedded = await componentEmbed({
        binary: cores[t.world],
        witSource,
        world: t.world,
        stringEncoding: 'utf8',
      });
      const component = await componentNew(embedded);
      const res = await transpileBytes(component, {
        name: `zstd-${t.world}`,
        instantiation: 'sync',
        outDir: '',
        base64Cutoff: 0,
        noComponentErrorWrapping: true,
        nodejsCompat: true,
        emitTypescriptDeclarations: true,
      });
      Object.assign(files, res.files);
      extra[`zstd-${t.world}.raw.wasm`] = cores[t.world];
      extra[`zstd-${t.world}.component.wasm`] = component;
    }
    if (args.includes('--keep-core')) Object.assign(files, extra);
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    const written = [];
    for (const name of Object.keys(files).sort()) {
      const dest = join(outDir, name);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, files[name]);
      written.push(name);
    }
    process.stdout.write(`wrote ${written.join(', ')} to ${relative(root, outDir) || '.'}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
