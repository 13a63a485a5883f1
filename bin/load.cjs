/**
 * Runs the CommonJS files of dist/bundle/ (made by `make build`, see
 * tools/bundle.mjs) through V8 code caches that a training run filled
 * (tools/codecache.mjs says what that saves). A file's cache, FILE.cache, is
 * used only beside the exact file it was made from (the file's sha256 heads
 * the cache: V8 itself checks only the source's length) and only if V8
 * accepts it (same node, same flags); otherwise the file compiles as usual.
 *
 * MINOS_CODE_CACHE=write, for the training run only: on exit, write each
 * loaded file's cache, with every function compiled by then.
 */
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const BUNDLE = join(__dirname, '../dist/bundle');
/** file → { script, digest, module, cache: 'used' | 'rejected' | 'stale' | 'none' } */
const loaded = new Map();

/** The exports of dist/bundle/`name`; its `require('./x.cjs')` loads x.cjs the same way. */
function load(name) {
  const file = join(BUNDLE, name);
  const known = loaded.get(file);
  if (known) return known.module.exports;
  const src = readFileSync(file);
  const digest = createHash('sha256').update(src).digest();
  let cache;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch {
    // none made: compile as usual
  }
  const fresh = cache !== undefined && cache.subarray(0, 32).equals(digest);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${src}\n})`, {
    filename: file,
    cachedData: fresh ? cache.subarray(32) : undefined,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  const status = cache === undefined ? 'none' : !fresh ? 'stale' : script.cachedDataRejected ? 'rejected' : 'used';
  loaded.set(file, { script, digest, module, cache: status });
  const real = createRequire(file);
  const req = Object.assign((id) => (/^\.\/[\w.-]+\.cjs$/.test(id) ? load(id.slice(2)) : real(id)), real);
  script.runInThisContext()(module.exports, req, module, file, dirname(file));
  return module.exports;
}

/** What became of each loaded file's cache, by file name. */
function cacheStatus() {
  return Object.fromEntries([...loaded].map(([file, l]) => [file.slice(BUNDLE.length + 1), l.cache]));
}

if (process.env.MINOS_CODE_CACHE === 'write') {
  process.on('exit', () => {
    for (const [file, { script, digest }] of loaded) {
      writeFileSync(`${file}.cache.tmp`, Buffer.concat([digest, script.createCachedData()]));
      renameSync(`${file}.cache.tmp`, `${file}.cache`);
    }
  });
}

module.exports = { BUNDLE, load, cacheStatus };
