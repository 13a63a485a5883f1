#!/usr/bin/env node
// Builds wasm/gen/ from our glue (glue.c, xz-glue.c, cabi.h), the WIT files
// (zstd.wit, xz.wit) and upstream C sources that are never copied into this
// tree: three components,
//   zstd-decoder  zstd common + decompress (node_modules/zstd-napi/deps/zstd/lib)
//   zstd-encoder  zstd common + compress, so decoding never loads the compressor
//   xz-decoder    liblzma's .xz stream decoder, LZMA2 only, from the xz release
//                 tarball in node_modules/lzma-native/deps, extracted into a
//                 temporary directory for the build
//   xz-encoder    liblzma's single-threaded .xz stream encoder, LZMA2 only, from
//                 the same tarball, so decoding never loads the compressor
//
//   node wasm/build.mjs [--out DIR] [--keep-core]
//
// Steps per component: clang (wasm32-wasi, deterministic flags) -> core module
// -> componentEmbed(WIT) -> componentNew -> jco transpileBytes (sync
// instantiation mode) -> files under DIR (default wasm/gen). The output is
// byte-for-byte reproducible with the same clang and jco versions.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const zstdLib = join(root, 'node_modules/zstd-napi/deps/zstd/lib');
// xz 5.2.3 as released (the sha256 of the xz project's tarball), shipped by lzma-native.
const xzTarball = join(root, 'node_modules/lzma-native/deps/xz-5.2.3.tar.bz2');
const XZ_SHA256 = 'fd9ca16de1052aac899ad3495ad20dfa906c27b4a5070102a2ec35ca3a4740c1';
const XZ_DIR = 'xz-5.2.3/src';

const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outDir = resolve(outIdx >= 0 ? args[outIdx + 1] : join(here, 'gen'));

const CC = process.env.WASM_CC ?? 'clang';

/** Compiler flags. Kept in one place: they decide the bytes of the output. */
function cflags(work) {
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
    '-ffile-prefix-map=' + work + '/=',
    '-ffile-prefix-map=' + work + '=.',
    '-fno-ident',
    '-DNDEBUG',
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
async function zstdSources(sub) {
  const list = [];
  for (const d of ['common', sub]) {
    const names = (await readdir(join(zstdLib, d))).filter((n) => n.endsWith('.c')).sort();
    for (const n of names) {
      // Multithreading (pool, threading, zstdmt) is compiled out entirely.
      if (['pool.c', 'threading.c', 'zstdmt_compress.c'].includes(n)) continue;
      list.push(relative(root, join(zstdLib, d, n)));
    }
  }
  return list;
}

/**
 * The liblzma files an LZMA2-only .xz stream decoder needs, relative to the
 * extracted `xz-5.2.3/src` (the link fails if one is missing).
 */
const XZ_SOURCES = [
  'liblzma/check/check.c',
  'liblzma/check/crc32_fast.c',
  'liblzma/check/crc32_table.c',
  'liblzma/check/crc64_fast.c',
  'liblzma/check/crc64_table.c',
  'liblzma/check/sha256.c',
  'liblzma/common/block_decoder.c',
  'liblzma/common/block_header_decoder.c',
  'liblzma/common/block_util.c',
  'liblzma/common/common.c',
  'liblzma/common/filter_common.c',
  'liblzma/common/filter_decoder.c',
  'liblzma/common/filter_flags_decoder.c',
  'liblzma/common/index_hash.c',
  'liblzma/common/stream_decoder.c',
  'liblzma/common/stream_flags_common.c',
  'liblzma/common/stream_flags_decoder.c',
  'liblzma/common/vli_decoder.c',
  'liblzma/common/vli_size.c',
  'liblzma/lz/lz_decoder.c',
  'liblzma/lzma/lzma2_decoder.c',
];

/**
 * The liblzma files the single-threaded LZMA2 .xz stream encoder needs, with
 * every match finder the presets 0..9 use (hc3, hc4, bt4; bt2 and bt3 too).
 */
const XZ_ENC_SOURCES = [
  'liblzma/check/check.c',
  'liblzma/check/crc32_fast.c',
  'liblzma/check/crc32_table.c',
  'liblzma/check/crc64_fast.c',
  'liblzma/check/crc64_table.c',
  'liblzma/check/sha256.c',
  'liblzma/common/block_encoder.c',
  'liblzma/common/block_header_encoder.c',
  'liblzma/common/block_util.c',
  'liblzma/common/common.c',
  'liblzma/common/filter_common.c',
  'liblzma/common/filter_encoder.c',
  'liblzma/common/filter_flags_encoder.c',
  'liblzma/common/index.c',
  'liblzma/common/index_encoder.c',
  'liblzma/common/stream_encoder.c',
  'liblzma/common/stream_flags_common.c',
  'liblzma/common/stream_flags_encoder.c',
  'liblzma/common/vli_encoder.c',
  'liblzma/common/vli_size.c',
  'liblzma/lz/lz_encoder.c',
  'liblzma/lz/lz_encoder_mf.c',
  'liblzma/lzma/fastpos_table.c',
  'liblzma/lzma/lzma2_encoder.c',
  'liblzma/lzma/lzma_encoder.c',
  'liblzma/lzma/lzma_encoder_optimum_fast.c',
  'liblzma/lzma/lzma_encoder_optimum_normal.c',
  'liblzma/lzma/lzma_encoder_presets.c',
  'liblzma/rangecoder/price_table.c',
];

/**
 * liblzma's configure results for wasm32-wasi, as -D flags (there is no
 * config.h): a single-threaded build with the three checks xz writes (CRC32,
 * CRC64, SHA-256, all internal code). The filter (LZMA2 decoder or encoder,
 * nothing else) is each target's own flag.
 * wasm/xz-shim/ replaces <signal.h>, which WASI lacks (see the file).
 */
const XZ_FLAGS = [
  '-DLZMA_API_STATIC',
  '-DHAVE_CONFIG_H',
  '-DHAVE_STDINT_H',
  '-DHAVE_INTTYPES_H',
  '-DHAVE_LIMITS_H',
  '-DHAVE_STDBOOL_H',
  '-DHAVE__BOOL=1',
  '-DHAVE_STRING_H',
  '-DHAVE_STRINGS_H',
  '-DSIZEOF_SIZE_T=4',
  '-DTUKLIB_FAST_UNALIGNED_ACCESS',
  '-DHAVE_CHECK_CRC32',
  '-DHAVE_CHECK_CRC64',
  '-DHAVE_CHECK_SHA256',
  `-I${join(here, 'xz-shim')}`,
  ...['liblzma/api', 'liblzma/common', 'liblzma/check', 'liblzma/lz', 'liblzma/lzma', 'liblzma/rangecoder', 'liblzma/delta', 'liblzma/simple', 'common'].map((d) => `-I${XZ_DIR}/${d}`),
];

/** Extracts xz's src/ (liblzma and its helpers) from the pinned tarball into `work`. */
async function extractXz(work) {
  const tarball = await readFile(xzTarball).catch(() => {
    throw new Error(`${relative(root, xzTarball)} is missing: run npm install (lzma-native is a dev dependency)`);
  });
  const sum = createHash('sha256').update(tarball).digest('hex');
  if (sum !== XZ_SHA256) throw new Error(`${relative(root, xzTarball)}: sha256 ${sum}, expected ${XZ_SHA256}`);
  await run('tar', ['-xjf', xzTarball, '-C', work, `${XZ_DIR}/liblzma`, `${XZ_DIR}/common`], work);
}

/** Runs jobs with bounded parallelism. */
async function parallel(jobs) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
}

/**
 * One component each. `cwd`: where sources are compiled from ('root' or
 * 'work'); relative paths keep absolute ones out of the objects. `shared`:
 * sources whose objects two targets share, so target flags apply only to the
 * others.
 */
const TARGETS = [
  // FORCE_DECOMPRESS_SEQUENCES_SHORT drops the prefetching "long" sequence
  // decoder (prefetch is a no-op in wasm): same speed, less code to compile.
  {
    name: 'zstd-decoder', wit: 'zstd.wit', world: 'decoder', glue: 'glue.c', cwd: 'root',
    sources: () => zstdSources('decompress'),
    shared: (src) => src.includes('/common/'),
    common: zstdFlags(),
    flags: ['-DMINOS_ZSTD_DECODER', '-DZSTD_FORCE_DECOMPRESS_SEQUENCES_SHORT'],
  },
  {
    name: 'zstd-encoder', wit: 'zstd.wit', world: 'encoder', glue: 'glue.c', cwd: 'root',
    sources: () => zstdSources('compress'),
    shared: (src) => src.includes('/common/'),
    common: zstdFlags(),
    flags: ['-DMINOS_ZSTD_ENCODER'],
  },
  {
    name: 'xz-decoder', wit: 'xz.wit', world: 'decoder', glue: 'xz-glue.c', cwd: 'work',
    // xz-lzma-fast.c compiles liblzma's lzma/lzma_decoder.c (it includes it) with a fast path in front.
    sources: async (work) => [...XZ_SOURCES.map((f) => `${XZ_DIR}/${f}`), relative(work, join(here, 'xz-lzma-fast.c'))],
    shared: () => false,
    common: XZ_FLAGS,
    flags: ['-DMINOS_XZ_DECODER', '-DHAVE_DECODER_LZMA2'],
  },
  {
    name: 'xz-encoder', wit: 'xz.wit', world: 'encoder', glue: 'xz-glue.c', cwd: 'work',
    sources: async () => XZ_ENC_SOURCES.map((f) => `${XZ_DIR}/${f}`),
    shared: () => false,
    common: XZ_FLAGS,
    flags: ['-DMINOS_XZ_ENCODER', '-DHAVE_ENCODER_LZMA2', ...['HC3', 'HC4', 'BT2', 'BT3', 'BT4'].map((m) => `-DHAVE_MF_${m}`)],
  },
];

function zstdFlags() {
  const lib = relative(root, zstdLib);
  return ['-DDEBUGLEVEL=0', '-DZSTD_LEGACY_SUPPORT=0', '-DZSTD_DISABLE_ASM', '-DZSTD_TRACE=0', '-DZSTD_MULTITHREAD_DISABLED', `-I${lib}`, `-I${lib}/common`];
}

/** Compiles every object (shared ones once), links one core module per target. */
async function buildCores(work) {
  await extractXz(work);
  const flags = cflags(work);
  const dirs = { root, work };
  const objOf = new Map();
  const jobs = [];
  const compile = (cwd, src, extra, obj) => {
    jobs.push(() => run(CC, [...flags, ...extra, '-c', src, '-o', obj], cwd));
    return obj;
  };
  const links = [];
  for (const t of TARGETS) {
    // The glue is compiled from the target's cwd too, so the include paths of `common` resolve.
    const objs = [compile(dirs[t.cwd], relative(dirs[t.cwd], join(here, t.glue)), [...t.common, ...t.flags], join(work, `glue-${t.name}.o`))];
    for (const src of await t.sources(work)) {
      const shared = t.shared(src);
      const key = shared ? `${t.cwd}:${src}` : `${t.name}:${src}`;
      if (!objOf.has(key)) {
        const obj = join(work, `${String(objOf.size).padStart(2, '0')}.o`);
        objOf.set(key, compile(dirs[t.cwd], src, shared ? t.common : [...t.common, ...t.flags], obj));
      }
      objs.push(objOf.get(key));
    }
    links.push({ t, objs, wasm: join(work, `${t.name}.wasm`) });
  }
  await parallel(jobs);
  await parallel(links.map((l) => () => run(CC, [...ldflags(), ...l.objs, '-o', l.wasm], root)));
  const out = {};
  for (const l of links) out[l.t.name] = await readFile(l.wasm);
  return out;
}

async function main() {
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const work = await mkdtemp(join(tmpdir(), 'minos-wasm-'));
  try {
    const cores = await buildCores(work);
    const files = {};
    const extra = {};
    for (const t of TARGETS) {
      const embedded = await componentEmbed({
        binary: cores[t.name],
        witSource: await readFile(join(here, t.wit), 'utf8'),
        world: t.world,
        stringEncoding: 'utf8',
      });
      const component = await componentNew(embedded);
      const res = await transpileBytes(component, {
        name: t.name,
        instantiation: 'sync',
        outDir: '',
        base64Cutoff: 0,
        noComponentErrorWrapping: true,
        nodejsCompat: true,
        emitTypescriptDeclarations: true,
      });
      Object.assign(files, res.files);
      extra[`${t.name}.raw.wasm`] = cores[t.name];
      extra[`${t.name}.component.wasm`] = component;
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
