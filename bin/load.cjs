/**
 * Runs the CommonJS files of dist/bundle/ (made by `make build`, see
 * tools/bundle.mjs) through V8 code caches that a training run filled
 * (tools/codecache.mjs says what that saves). A file's cache, FILE.cache, is
 * used only beside the exact file it was made from and only if V8 accepts it
 * (same node, same flags); otherwise the file compiles as usual. V8 itself
 * checks only the source's length, so the cache starts with a copy of the
 * source it was made from: comparing bytes costs a fraction of a millisecond
 * where hashing them first loads node:crypto (4 ms of every start-up).
 *
 * MINOS_CODE_CACHE=write, for the training run only: on exit, write each
 * loaded file's cache, with every function compiled by then.
 */
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const BUNDLE = join(__dirname, '../dist/bundle');
/** file → { script, src, module, cache: 'used' | 'rejected' | 'stale' | 'none' } */
const loaded = new Map();
/**
 * Node modules a bundle gets when it first reads from them: commander and the
 * CLI require them at load, and only some commands use them (loading
 * node:child_process costs every start-up 3 ms).
 */
const LATER = new Set(['node:child_process', 'node:readline']);

/** FILE.cache: the source's length (4 bytes, little-endian), the source, then V8's data. */
function cacheFor(src, cache) {
  if (cache === undefined || cache.length < 4) return undefined;
  const n = cache.readUInt32LE(0);
  return n === src.length && cache.length >= 4 + n && cache.subarray(4, 4 + n).equals(src) ? cache.subarray(4 + n) : undefined;
}

/** The exports of dist/bundle/`name`; its `require('./x.cjs')` loads x.cjs the same way, when first used. */
function load(name) {
  const file = join(BUNDLE, name);
  const known = loaded.get(file);
  if (known) return known.module.exports;
  const src = readFileSync(file);
  let cache;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch {
    // none made: compile as usual
  }
  const data = cacheFor(src, cache);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${src}\n})`, {
    filename: file,
    cachedData: data,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  const status = cache === undefined ? 'none' : data === undefined ? 'stale' : script.cachedDataRejected ? 'rejected' : 'used';
  loaded.set(file, { script, src, module, cache: status });
  const real = createRequire(file);
  const req = Object.assign((id) => (/^\.\/[\w.-]+\.cjs$/.test(id) ? onFirstUse(() => load(id.slice(2))) : LATER.has(id) ? onFirstUse(() => real(id)) : real(id)), real);
  script.runInThisContext()(module.exports, req, module, file, dirname(file));
  return module.exports;
}

/**
 * An object that stands for `get()`'s result and calls it when first read
 * from: the CLI's `require('./engine.cjs')` runs when minos.cjs loads, and
 * `--version`, `--help` and usage errors never read from it
 * (tools/bundle.mjs).
 */
function onFirstUse(get) {
  let value;
  // Called on every read (the library reads errors.cjs through one): the lookup happens once.
  const real = () => (value ??= get());
  return new Proxy({}, {
    get: (_, k) => real()[k],
    has: (_, k) => k in real(),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(real(), k);
      return d && { ...d, configurable: true };
    },
  });
}

/** What became of each loaded file's cache, by file name. */
function cacheStatus() {
  return Object.fromEntries([...loaded].map(([file, l]) => [file.slice(BUNDLE.length + 1), l.cache]));
}

if (process.env.MINOS_CODE_CACHE === 'write') {
  process.on('exit', () => {
    for (const [file, { script, src }] of loaded) {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(src.length);
      writeFileSync(`${file}.cache.tmp`, Buffer.concat([head, src, script.createCachedData()]));
      renameSync(`${file}.cache.tmp`, `${file}.cache`);
    }
  });
}

module.exports = { BUNDLE, load, cacheStatus };
