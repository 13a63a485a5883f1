// Fixtures for bench/build.mjs: the same payload trees packed twice, as pacman
// packages (shared/peers/build.sh: bsdtar + zstd -3) and as a signed minos
// repository (minos pack --level 3, minos repo index), plus an image spec
// requesting every package. Cached under bench/.work/build/CASE/ (a `.done`
// file marks a finished fixture; anything else is regenerated).
//
//   CASE/tree/NAME/      payload with .PKGINFO (+ .MTREE after build.sh)
//   CASE/pkgs/*.pkg.tar.zst
//   CASE/src/NAME/       recipe.yaml + tree/ (hard links to the payload, no .PKGINFO/.MTREE)
//   CASE/repo/           *.mpk, index.json, index.sig
//   CASE/keys/           throwaway bench.key / bench.pub
//   CASE/image.yaml      every package, explicitly
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostBinaries, WORK } from './payload.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const MINOS = join(HERE, '../bin/minos.js');
export const PEERS = process.env.MINOS_PEERS ?? join(HERE, '../../shared/peers');
const EPOCH = '1700000000';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout.toString();
}

function runAsync(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${err}`))));
  });
}

async function pool(items, n, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

/** Parse a .PKGINFO into { name, depends[] }. */
function pkginfo(file) {
  const o = { depends: [] };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\w+) = (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'pkgname') o.name = m[2];
    if (m[1] === 'depend') o.depends.push(m[2]);
  }
  return o;
}

// ---- case (b) payload: host binaries and generated text, split over NPKG packages


const WORDS = ['package', 'minos', 'root', 'image', 'zstd', 'verify', 'signature', 'the', 'of', 'and', 'install', 'config', 'usr', 'lib', 'share', 'doc', '=', '{', '}', 'return', 'function', 'const', 'if', 'else', 'while', 'for', 'struct', 'int', 'char', 'void', '0x1f', '42'];

/** Deterministic text of `size` bytes: words picked by a xorshift seeded from sha256(seed). */
function text(seed, size) {
  const h = createHash('sha256').update(seed).digest();
  let x = h.readUInt32LE(0) | 1;
  const out = Buffer.alloc(size);
  let n = 0;
  while (n < size) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = WORDS[(x >>> 0) % WORDS.length];
    n += out.write(w, n);
    if (n < size) out[n++] = (x >>> 8) % 11 === 0 ? 10 : 32;
  }
  return out;
}

/**
 * Write OUT/tree/mixNN/ for NPKG packages totalling about `mib` MiB: half host
 * binaries (dealt round-robin, sorted, so one machine always gives the same
 * trees), half text files of 0.5–20 KiB; package N depends on package N/2.
 */
function genMixed(out, npkg, mib) {
  const budget = mib * 2 ** 20;
  const names = Array.from({ length: npkg }, (_, i) => `mix${String(i + 1).padStart(2, '0')}`);
  const sizes = new Array(npkg).fill(0);
  let bin = 0;
  let k = 0;
  for (const b of hostBinaries(4 << 20)) {
    if (bin + b.size > budget / 2) continue;
    const i = k % npkg;
    const dest = join(out, 'tree', names[i], 'usr/lib', names[i], `b${k % 4}`, b.name);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(b.path, dest);
    bin += b.size;
    sizes[i] += b.size;
    k++;
  }
  let txt = 0;
  for (let j = 0; bin + txt < budget; j++) {
    const i = j % npkg;
    const size = 512 * (1 + ((j * 7919) % 40));
    const dest = join(out, 'tree', names[i], 'usr/share', names[i], `t${(j / npkg | 0) % 8}`, `f${j}.txt`);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, text(`${names[i]}/${j}`, size));
    txt += size;
    sizes[i] += size;
  }
  names.forEach((name, i) => {
    const n = i + 1;
    const deps = n >= 2 ? `depend = ${names[(n >> 1) - 1]}\n` : '';
    writeFileSync(join(out, 'tree', name, '.PKGINFO'),
      `pkgname = ${name}\npkgbase = ${name}\npkgver = 1.0-1\npkgdesc = synthetic ${name}\n` +
      `url = \nbuilddate = ${EPOCH}\npackager = bench\nsize = ${sizes[i]}\narch = x86_64\nlicense = MIT\n${deps}`);
  });
}

/**
 * The fixture for one case, generated when missing. `gen(tmpDir)` must write
 * tmpDir/tree/NAME/ with a .PKGINFO each. Returns paths and sizes.
 */
async function fixture(name, gen) {
  const dir = join(WORK, 'build', name);
  if (!existsSync(join(dir, '.done'))) {
    const tmp = `${dir}.tmp`;
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    gen(tmp);
    const names = readdirSync(join(tmp, 'tree')).sort();
    // minos sources first (hard links, before build.sh adds .MTREE), then pacman packages
    for (const n of names) {
      const src = join(tmp, 'src', n);
      mkdirSync(join(src, 'tree'), { recursive: true });
      run('cp', ['-al', join(tmp, 'tree', n, 'usr'), join(src, 'tree', 'usr')]);
      const info = pkginfo(join(tmp, 'tree', n, '.PKGINFO'));
      writeFileSync(join(src, 'recipe.yaml'),
        `name: ${info.name}\nversion: 1.0-1\narch: x86_64\nsummary: synthetic ${info.name}\nlicense: MIT\n` +
        `depends: [${info.depends.join(', ')}]\nfiles: tree\n`);
    }
    run('bash', [join(PEERS, 'build.sh'), tmp]);
    mkdirSync(join(tmp, 'keys'));
    mkdirSync(join(tmp, 'repo'));
    run(process.execPath, [MINOS, 'key', 'generate', 'bench', '--dir', join(tmp, 'keys')]);
    const env = { ...process.env, SOURCE_DATE_EPOCH: EPOCH };
    await pool(names, Math.max(1, cpus().length), (n) =>
      runAsync(process.execPath, [MINOS, 'pack', join(tmp, 'src', n, 'recipe.yaml'), '--key', join(tmp, 'keys/bench.key'), '--out', join(tmp, 'repo'), '--level', '3'], { env }));
    run(process.execPath, [MINOS, 'repo', 'index', join(tmp, 'repo'), '--key', join(tmp, 'keys/bench.key'), '--name', 'bench', '--expires', 'never']);
    writeFileSync(join(tmp, 'image.yaml'),
      `name: bench-${name}\narch: x86_64\nrepositories:\n  - path: repo\n    keys: [keys/bench.pub]\npackages:\n${names.map((n) => `  - ${n}\n`).join('')}`);
    const files = Number(run('sh', ['-c', `find ${join(tmp, 'src')} -path '*/tree/*' -type f | wc -l`]).trim());
    const bytes = Number(run('sh', ['-c', `find ${join(tmp, 'src')} -path '*/tree/*' -type f -printf '%s\\n' | awk '{s+=$1} END {print s}'`]).trim());
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify({ packages: names.length, files, bytes }));
    writeFileSync(join(tmp, '.done'), '');
    renameSync(tmp, dir);
  }
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  const pkgs = readdirSync(join(dir, 'pkgs')).filter((f) => f.endsWith('.pkg.tar.zst')).sort().map((f) => join(dir, 'pkgs', f));
  return { name, dir, spec: join(dir, 'image.yaml'), pkgs, ...meta };
}

/** (a) gen.py: 100 packages x 50 text files (~22 MiB). */
export function fixtureSynth(npkg = 100, nfiles = 50) {
  return fixture(`synth-${npkg}x${nfiles}`, (tmp) => run('python3', [join(PEERS, 'gen.py'), tmp, String(npkg), String(nfiles)]));
}

/** (b) 40 packages mixing host binaries and text, ~112 MiB in > 5,000 files. */
export function fixtureMixed(npkg = 40, mib = 112) {
  return fixture(`mixed-${npkg}x${mib}`, (tmp) => genMixed(tmp, npkg, mib));
}
