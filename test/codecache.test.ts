/**
 * bin/load.cjs: the CLI bundle runs through the code cache `make build`
 * trained, and a cache that does not belong to the bundle beside it is never
 * used, even where V8 would take it (V8 checks only the source's length).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from './lib/cli.js';

const BUNDLE = join(ROOT, 'dist/bundle');

/** In a fresh node: load `names` from `root`'s bundle, run `--help` there, and report each cache's fate. */
function probe(root: string, names: string[]): { status: Record<string, string>; help: string } {
  const script = `
    const l = require(${JSON.stringify(join(root, 'bin/load.cjs'))});
    for (const n of ${JSON.stringify(names)}) l.load(n);
    const lines = [];
    const io = { out: (s) => lines.push(s), err: (s) => lines.push(s), isTTY: false, version: 'x' };
    l.load('minos.cjs').main(['--help'], io).then(() => console.log(JSON.stringify({ status: l.cacheStatus(), help: lines.join('\\n') })));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** A copy of the built CLI (bin/, dist/bundle/, package.json) to change. */
function copy(t: Parameters<typeof tempDir>[0]): string {
  const d = tempDir(t);
  cpSync(join(ROOT, 'bin'), join(d, 'bin'), { recursive: true });
  cpSync(BUNDLE, join(d, 'dist/bundle'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(d, 'package.json'));
  return d;
}

t.test('make build leaves a cache for each CommonJS file of the bundle, and V8 takes it', async (t) => {
  const files = ['minos.cjs', 'errors.cjs', 'engine.cjs', 'yaml.cjs'];
  for (const f of files) {
    const cache = readFileSync(join(BUNDLE, `${f}.cache`));
    const src = readFileSync(join(BUNDLE, f));
    t.equal(cache.readUInt32LE(0), src.length, `${f}.cache starts with the length of ${f}`);
    t.ok(cache.subarray(4, 4 + src.length).equals(src), `and a copy of ${f}`);
  }
  const p = probe(ROOT, files);
  t.same(p.status, { 'minos.cjs': 'used', 'errors.cjs': 'used', 'engine.cjs': 'used', 'yaml.cjs': 'used' });
  t.match(p.help, /offline root-image builder/);
});

t.test('--help loads the CLI without the library (engine.cjs); a command loads it', async (t) => {
  t.same(Object.keys(probe(ROOT, []).status).sort(), ['errors.cjs', 'minos.cjs']);
  const script = `
    const l = require(${JSON.stringify(join(ROOT, 'bin/load.cjs'))});
    const io = { out: () => {}, err: () => {}, isTTY: false, version: 'x' };
    l.load('minos.cjs').main(['search', 'x', '--root', '/nonexistent'], io).then((code) => console.log(JSON.stringify({ code, status: l.cacheStatus() })));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.not(out.code, 0, 'no root there');
  t.equal(out.status['engine.cjs'], 'used');
});

t.test('a cache of another bundle of the same length is not used', async (t) => {
  const d = copy(t);
  const file = join(d, 'dist/bundle/minos.cjs');
  const src = readFileSync(file, 'utf8');
  t.ok(src.includes('offline root-image builder'));
  const changed = src.replace('offline root-image builder', 'OFFLINE ROOT-IMAGE BUILDER');
  t.equal(Buffer.byteLength(changed), Buffer.byteLength(src), 'same length, so V8 alone would take the old cache');
  writeFileSync(file, changed);
  const p = probe(d, []);
  t.same(p.status, { 'minos.cjs': 'stale', 'errors.cjs': 'used' });
  t.match(p.help, /OFFLINE ROOT-IMAGE BUILDER/, 'the new bundle runs, not the cached code of the old one');
});

t.test('a cache V8 refuses, or none, leaves the CLI working', async (t) => {
  const d = copy(t);
  const cache = join(d, 'dist/bundle/minos.cjs.cache');
  const bytes = readFileSync(cache);
  const v8 = 4 + bytes.readUInt32LE(0);
  bytes.fill(0x5a, v8 + 64);
  writeFileSync(cache, bytes.subarray(0, v8 + 4096));
  let p = probe(d, []);
  t.same(p.status, { 'minos.cjs': 'rejected', 'errors.cjs': 'used' });
  t.match(p.help, /offline root-image builder/);
  cpSync(join(d, 'package.json'), cache); // any file: now not a cache at all
  p = probe(d, []);
  t.same(p.status, { 'minos.cjs': 'stale', 'errors.cjs': 'used' });
  t.ok(existsSync(join(d, 'bin/minos.js')));
  const r = spawnSync(process.execPath, [join(d, 'bin/minos.js'), '--version'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal(r.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
});
