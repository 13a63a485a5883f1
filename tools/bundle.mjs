#!/usr/bin/env node
/**
 * Bundle the compiled CLI (dist/) into dist/bundle/ with esbuild: one file
 * per entry point (the CLI, minos.cjs, the two worker scripts, and the
 * unprivileged reader's child.js).
 *
 * Why: Node 20's ESM loader pays for resolving, reading and linking each
 * module; a CLI run loaded 53 of them. Measured on this 2-core machine
 * (`hyperfine 'node bin/minos.js --version'`): 229 ms unbundled, 173 ms
 * bundled, 110 ms for `node -e 0`. Splitting the bundle into chunks loaded
 * on demand measured no faster (163 ms against 167 ms for --version, and
 * 260 ms against 299 ms for `remove` of 100 packages): a chunk is a module to
 * resolve and read again. Nor did importing command implementations lazily
 * inside the one bundle (147 against 157 ms for --version, 302/289 against
 * 316/281 ms for `remove` in two rounds), so commands import statically.
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
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
await build({
  ...common,
  entryPoints: { minos: 'dist/cli/main.js' },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  ...commonjs,
  // The jco component bindings run only with MINOS_ZSTD_BINDING=component:
  // left outside, they are read from wasm/gen/ when that binding is chosen.
  external: ['../../wasm/gen/*', './yaml.cjs', './openpgp.cjs'],
  plugins: [yamlBeside, pgpBeside],
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
