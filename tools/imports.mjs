#!/usr/bin/env node
/**
 * The import graph between the groups of src/, checked against ALLOWED.
 *
 * A group is a folder of src/ (src/solve/, src/unpack/, ...); the files at the
 * top of src/ belong to the group ROOT_FILES names. Every relative import,
 * `export ... from` and dynamic import() of a src/ file counts, type-only ones
 * too: a type is part of the contract one stage hands the next.
 *
 * Prints, per group, the groups it imports (with the number of files that do
 * so), and exits 1 on an import ALLOWED does not list unless KNOWN names it.
 * `node tools/imports.mjs --files` also prints the file-level edges between
 * groups. docs/ARCHITECTURE.md shows the same table; keep the two in step.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** The group of each file at the top of src/. */
const ROOT_FILES = {
  'errors.ts': 'base',
  'privuser.ts': 'base',
  'types.ts': 'base',
  'canonical.ts': 'base',
  'input.ts': 'base',
  'fsutil.ts': 'base',
  'confine.ts': 'base',
  'confinefile.ts': 'base',
  'workers.ts': 'base',
  'text.ts': 'base',
  'version.ts': 'base',
  'depend.ts': 'base',
  'names.ts': 'base',
  'formats.ts': 'base',
  'jsonfields.ts': 'base',
  'meta.ts': 'base',
  'plan.ts': 'image',
  'build.ts': 'image',
  'choose.ts': 'image',
  'early.ts': 'image',
  'buildoci.ts': 'image',
  'boot.ts': 'image',
  'lock.ts': 'image',
  'diff.ts': 'image',
  'sbom.ts': 'image',
};

/**
 * What each group may import, besides itself. The pipeline stages come in
 * order; a stage imports only stages before it, never one after.
 */
const ALLOWED = {
  base: [],
  spec: ['base'],
  repo: ['base', 'spec'],
  solve: ['base'],
  pkg: ['base', 'spec', 'repo'],
  unpack: ['base', 'repo', 'pkg'],
  db: ['base'],
  engine: ['base', 'unpack', 'db'],
  debian: ['base', 'spec', 'repo', 'pkg', 'unpack', 'engine'],
  privsep: ['base', 'repo', 'pkg', 'debian'],
  target: ['base', 'spec', 'unpack', 'db', 'engine'],
  image: ['base', 'spec', 'repo', 'solve', 'pkg', 'unpack', 'debian', 'privsep', 'db', 'engine', 'target'],
  live: ['base', 'spec', 'repo', 'solve', 'pkg', 'unpack', 'debian', 'privsep', 'db', 'engine', 'target'],
  cli: ['base', 'spec', 'repo', 'solve', 'pkg', 'unpack', 'debian', 'privsep', 'db', 'engine', 'target', 'image', 'live'],
};

/**
 * Imports against ALLOWED that stay until the files named are reworked, each
 * with the reason. An entry no longer in the graph is an error too, so the
 * list only shrinks.
 */
const KNOWN = {
  'pkg/read.ts -> unpack/tar.ts': 'the tar codec lives in unpack/',
  'pkg/read.ts -> unpack/zstd.ts': 'the zstd codec lives in unpack/',
  'pkg/write.ts -> unpack/tar.ts': 'the tar codec lives in unpack/',
  'pkg/write.ts -> unpack/tarwrite.ts': 'the tar codec lives in unpack/',
  'pkg/write.ts -> unpack/zstd.ts': 'the zstd codec lives in unpack/',
  'repo/source.ts -> debian/source.ts': 'a Repository carries its Debian details (type only)',
  'repo/index.ts -> pkg/read.ts': 'verifyRepository reads packages',
  'target/place.ts -> live/journal.ts': 'crashPoint and fsyncDir live in live/journal.ts',
  'unpack/extract.ts -> debian/deb.ts': 'the unpack job reads .deb files too',
  'unpack/extract.ts -> privsep/read.ts': 'the unpack job reads .mpk files as privsep says (verified first, or through an unprivileged reader)',
  'unpack/pool.ts -> privsep/spawn.ts': 'the unpack pool starts and stops the unprivileged readers of its threads',
};

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function groupOf(file) {
  const rel = relative(SRC, file).split(sep);
  if (rel.length > 1) return rel[0];
  const g = ROOT_FILES[rel[0]];
  if (g === undefined) throw new Error(`src/${rel[0]} has no group: add it to ROOT_FILES in tools/imports.mjs`);
  return g;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*'(\.[^']+)'|(?:^|[\s;])import\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;

/** Relative module specifiers of `text`, comments left out. */
function specifiers(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const files = walk(SRC);
/** group → imported group → set of 'from -> to' file edges */
const graph = new Map();
for (const file of files) {
  const from = groupOf(file);
  if (!graph.has(from)) graph.set(from, new Map());
  for (const spec of specifiers(readFileSync(file, 'utf8'))) {
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    if (relative(SRC, target).startsWith('..')) continue; // wasm/gen bindings, package.json
    const to = groupOf(target);
    if (to === from) continue;
    const edges = graph.get(from);
    if (!edges.has(to)) edges.set(to, new Set());
    edges.get(to).add(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
  }
}

const showFiles = process.argv.includes('--files');
const bad = [];
const seen = new Set();
for (const from of [...graph.keys()].sort()) {
  const edges = graph.get(from);
  if (!(from in ALLOWED)) bad.push(`${from}: a group with no row in ALLOWED`);
  const tos = [...edges.keys()].sort();
  console.log(`${from.padEnd(8)} -> ${tos.map((t) => `${t}(${new Set([...edges.get(t)].map((e) => e.split(' ')[0])).size})`).join(' ') || '(nothing)'}`);
  for (const to of tos) {
    if (showFiles) for (const e of [...edges.get(to)].sort()) console.log(`           ${e}`);
    if ((ALLOWED[from] ?? []).includes(to)) continue;
    for (const e of [...edges.get(to)].sort()) {
      if (e in KNOWN) seen.add(e);
      else bad.push(`${from} -> ${to}: ${e}`);
    }
  }
}
for (const e of Object.keys(KNOWN)) if (!seen.has(e)) bad.push(`${e}: listed in KNOWN but no longer imported (remove it from KNOWN)`);
if (seen.size > 0) console.log(`\n${seen.size} known import(s) against the table (KNOWN in tools/imports.mjs)`);
if (bad.length > 0) {
  console.error(`\n${bad.length} import(s) against the table in tools/imports.mjs (docs/ARCHITECTURE.md):`);
  for (const b of bad) console.error(`  ${b}`);
  process.exit(1);
}
