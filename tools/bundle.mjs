#!/usr/bin/env node
/**
 * Bundle the compiled CLI (dist/) into dist/bundle/ with esbuild: the CLI in
 * three files (minos.cjs, engine.cjs, errors.cjs: see below), the two worker
 * scripts, and the unprivileged reader's child.js.
 *
 * Why: Node 20's ESM loader pays for resolving, reading and linking each
 * module; a CLI run loaded 53 of them. Measured on this 2-core machine
 * (`hyperfine 'node bin/minos.js --version'`): 229 ms unbundled, 173 ms
 * bundled, 110 ms for `node -e 0`. Chunks of an ES module bundle measured no
 * faster (a chunk is a module to resolve and read again), nor did importing
 * command implementations lazily inside one file. What does pay is a file
 * that is never read: with code caches (bin/load.cjs), the cost of a file is
 * mostly deserializing its cache, in proportion to its size, so the library
 * is a file of its own that `--version`, `--help` and usage errors never load
 * (`minos --version`, median of 61: 51 ms against 26 ms for `node -e 0` as one
 * file, 38 ms against 26 ms split, with bin/load.cjs's other changes; main.ts
 * then registers only the commands a run can reach: 34 ms against 24 ms).
 * The bundle is built from the tsc output, so type checking and the tests of
 * dist/ modules see the same code.
 *
 * Paths stay valid because dist/bundle/ sits at the same depth as
 * dist/unpack/ and dist/cli/: `new URL('../../wasm/gen/', import.meta.url)`
 * and `../../package.json` still name the repository's files, and the pools'
 * `./worker.js` and `./stageworker.js` name the bundled worker entries, and
 * privsep's `./child.js` the bundled reader, repo/fetch.ts's
 * `./fetchchild.js` the bundled downloader.
 */
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/bundle');

/**
 * yaml gets a bundle of its own, dist/bundle/yaml.cjs, loaded by
 * dist/spec/yamllib.js on first use: measured in a fresh process,
 * require('yaml') from node_modules took 45-50 ms and from one bundled file
 * 10-15 ms. Inside minos.cjs it would cost every command: `--version` took
 * ~20 ms longer with it there. bin/minos.js loads it, like minos.cjs, through
 * its code cache.
 */
const yamlBeside = {
  name: 'yaml-beside',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]spec[\\/]yamllib\.js$/ }, () => ({
      contents: "export function loadYaml() { return require('./yaml.cjs'); }",
      loader: 'js',
    }));
  },
};

/** The same for OpenPGP.js: dist/bundle/openpgp.cjs, loaded by dist/debian/pgplib.js for Debian sources only. */
const pgpBeside = {
  name: 'pgp-beside',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]debian[\\/]pgplib\.js$/ }, () => ({
      contents: "export function loadOpenpgp() { return require('./openpgp.cjs'); }",
      loader: 'js',
    }));
  },
};

const common = { absWorkingDir: ROOT, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', legalComments: 'none' };

rmSync(OUT, { recursive: true, force: true });
/*
 * The CLI is CommonJS, so bin/minos.js can compile it through a V8 code cache
 * (vm.Script's cachedData; Node 20 has no cache for ES modules): see
 * tools/codecache.mjs. import.meta.url becomes the bundle's own file URL.
 * The worker scripts are CommonJS too (dist/bundle/package.json says so): a
 * worker whose entry is an ES module starts Node's ESM loader first.
 * Interleaved, 20 runs each: build (b) min/median 720/920 ms with ES module
 * workers, 660/880 ms with these; build (a) 470 against 440 ms median.
 */
const commonjs = {
  format: 'cjs',
  define: { 'import.meta.url': '__minosUrl' },
  banner: { js: "const __minosUrl = require('node:url').pathToFileURL(__filename).href;" },
};
const CLI = join(ROOT, 'dist/cli');
const ERRORS = join(ROOT, 'dist/errors.js');
/** Library modules that import nothing and that the CLI reads while it sets up: bundled into minos.cjs too. */
const LEAVES = [join(ROOT, 'dist/formats.js')];
/** The library's named exports the CLI imports, by module: `import { a, b as c } from '../x.js'` in dist/cli/. */
function cliImports() {
  const byModule = new Map();
  for (const f of readdirSync(CLI).filter((n) => n.endsWith('.js'))) {
    const src = readFileSync(join(CLI, f), 'utf8');
    for (const m of src.matchAll(/^import\s*(?:(\*)|\{([^}]*)\}|(\w+))\s*from\s*'(\.\.\/[^']+)';/gm)) {
      const file = join(CLI, m[4]);
      if (file === ERRORS || LEAVES.includes(file)) continue;
      if (!m[2]) throw new Error(`tools/bundle.mjs: dist/cli/${f}: only named imports of the library can be loaded on first use: ${m[0]}`);
      const names = byModule.get(file) ?? new Set();
      for (const n of m[2].split(',').map((x) => x.trim().split(/\s+as\s+/)[0]).filter(Boolean)) names.add(n);
      byModule.set(file, names);
    }
  }
  return byModule;
}
/*
 * The CLI is three files: minos.cjs (dist/cli/ and commander: parsing
 * arguments, help, usage errors), engine.cjs (the library the commands call,
 * loaded on first use by bin/load.cjs: `--version`, `--help` and usage
 * errors never load it) and errors.cjs (MinosError, shared by the two so
 * that `instanceof` holds across them). Each has its own code cache; the
 * header above has the measurements.
 */
const exported = new Map();
const entry = [...cliImports()].map(([file, names]) => {
  for (const n of names) {
    if (exported.has(n) && exported.get(n) !== file) throw new Error(`tools/bundle.mjs: ${n} is exported by both ${exported.get(n)} and ${file}`);
    exported.set(n, file);
  }
  return `export { ${[...names].join(', ')} } from ${JSON.stringify(file)};`;
}).join('\n');
/** Imports of dist/errors.js become errors.cjs; with `engine`, every other import of the library from dist/cli/ becomes engine.cjs. */
const split = (engine) => ({
  name: 'split',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (a) => {
      if (!a.importer) return undefined;
      const file = join(dirname(a.importer), a.path);
      if (file === ERRORS && a.importer !== ERRORS) return { path: './errors.cjs', external: true };
      if (engine && dirname(a.importer) === CLI && !file.startsWith(CLI + sep) && !LEAVES.includes(file)) return { path: './engine.cjs', external: true };
      return undefined;
    });
  },
});
await build({
  ...common,
  entryPoints: { minos: 'dist/cli/main.js', errors: 'dist/errors.js' },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  ...commonjs,
  plugins: [split(true)],
});
await build({
  ...common,
  stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'engine-entry.js' },
  outfile: join(OUT, 'engine.cjs'),
  ...commonjs,
  // The jco component bindings run only with MINOS_ZSTD_BINDING=component:
  // left outside, they are read from wasm/gen/ when that binding is chosen.
  external: ['../../wasm/gen/*', './yaml.cjs', './openpgp.cjs'],
  plugins: [split(false), yamlBeside, pgpBeside],
});
await build({
  ...common,
  entryPoints: { worker: 'dist/unpack/worker.js', stageworker: 'dist/live/stageworker.js', child: 'dist/privsep/child.js', fetchchild: 'dist/repo/fetchchild.js' },
  outdir: OUT,
  ...commonjs,
  external: ['../../wasm/gen/*'],
});
writeFileSync(join(OUT, 'package.json'), '{ "type": "commonjs" }\n');
await build({
  ...common,
  stdin: { contents: "module.exports = require('yaml');", resolveDir: ROOT, sourcefile: 'yaml-entry.cjs' },
  outfile: join(OUT, 'yaml.cjs'),
  format: 'cjs',
});
await build({
  ...common,
  stdin: { contents: "module.exports = require('openpgp');", resolveDir: ROOT, sourcefile: 'openpgp-entry.cjs' },
  outfile: join(OUT, 'openpgp.cjs'),
  format: 'cjs',
});
