// Live root: install and remove 100 small packages (50 files each, 0.5-8 KiB)
// on tmpfs (/dev/shm), side by side with `pacman -U` / `pacman -R` of the same
// payloads (built by /work/shared/peers/gen.py and build.sh, or the copies in
// bench/peers/ when present). Each run starts from a fresh root; the table
// shows the best of RUNS (default 3).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WORK } from './payload.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const MINOS = join(HERE, '../bin/minos.js');
const PEERS = [process.env.MINOS_PEERS, join(HERE, 'peers'), '/work/shared/peers'].find((d) => d && existsSync(join(d, 'gen.py')));
const NPKG = Number(process.env.BENCH_LIVE_PKGS ?? 100);
const NFILES = Number(process.env.BENCH_LIVE_FILES ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Payload trees, pacman packages and a signed minos repository of the same files (cached). */
async function prepare() {
  const dir = join(WORK, `live-${NPKG}x${NFILES}`);
  if (existsSync(join(dir, '.done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('python3', [join(PEERS, 'gen.py'), dir, String(NPKG), String(NFILES)]);
  run('bash', [join(PEERS, 'build.sh'), dir]);
  const { loadRecipe } = await import('../dist/spec/recipe.js');
  const { packPackage } = await import('../dist/pkg/write.js');
  const { generateKey, loadSecretKey } = await import('../dist/repo/keys.js');
  const { writeIndex } = await import('../dist/repo/index.js');
  generateKey(dir, 'bench');
  const key = loadSecretKey(join(dir, 'bench.key'));
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  for (const name of readdirSync(join(dir, 'tree')).sort()) {
    const src = join(dir, 'src', name);
    mkdirSync(src, { recursive: true });
    cpSync(join(dir, 'tree', name, 'usr'), join(src, 'files/usr'), { recursive: true });
    const i = Number(name.slice(5));
    const dep = i >= 2 ? `depends: ["synth${String(Math.floor(i / 2)).padStart(3, '0')}"]\n` : '';
    writeFileSync(join(src, 'recipe.yaml'), `name: ${name}\nversion: "1.0-1"\narch: x86_64\nsummary: synthetic ${name}\nlicense: MIT\n${dep}files: files\n`);
    packPackage({ recipe: loadRecipe(join(src, 'recipe.yaml')), key, outDir: repo, level: 3, sourceDateEpoch: 1700000000 });
  }
  writeIndex({ dir: repo, key, name: 'bench', expires: null, created: 1700000000 });
  writeFileSync(join(dir, '.done'), '');
  return dir;
}

export async function runLiveBench() {
  if (!PEERS) return { title: 'live: skipped (no peers/gen.py)', columns: [], rows: [] };
  const havePacman = spawnSync('pacman', ['--version'], { stdio: 'ignore' }).status === 0;
  const dir = await prepare();
  const shm = existsSync('/dev/shm') ? '/dev/shm' : WORK;
  const base = join(shm, `minos-live-bench-${process.pid}`);
  const names = readdirSync(join(dir, 'tree')).sort();
  const pkgs = readdirSync(join(dir, 'pkgs')).sort().map((f) => join(dir, 'pkgs', f));
  const best = { mi: Infinity, mr: Infinity, pi: Infinity, pr: Infinity };
  const load0 = loadavg()[0];
  try {
    for (let k = 0; k < RUNS; k++) {
      rmSync(base, { recursive: true, force: true });
      const mroot = join(base, 'minos');
      run(process.execPath, [MINOS, '--root', mroot, 'init', '--arch', 'x86_64']);
      run(process.execPath, [MINOS, '--root', mroot, 'repo', 'add', 'bench', join(dir, 'repo'), '--key', join(dir, 'bench.pub')]);
      best.mi = Math.min(best.mi, time(() => run(process.execPath, [MINOS, '--root', mroot, 'install', ...names])));
      best.mr = Math.min(best.mr, time(() => run(process.execPath, [MINOS, '--root', mroot, 'remove', ...names])));
      if (havePacman) {
        const proot = join(base, 'pacman');
        mkdirSync(join(proot, 'var/lib/pacman'), { recursive: true });
        const pac = ['--config', join(PEERS, 'pacman.conf'), '--noconfirm', '--noprogressbar', '-r', proot, '--dbpath', join(proot, 'var/lib/pacman'),
          '--cachedir', join(proot, 'var/cache/pacman/pkg'), '--logfile', join(proot, 'pacman.log'), '--hookdir', join(proot, 'hooks')];
        best.pi = Math.min(best.pi, time(() => run('pacman', [...pac, '-U', ...pkgs])));
        best.pr = Math.min(best.pr, time(() => run('pacman', [...pac, '-R', ...names])));
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const files = Number(execFileSync('sh', ['-c', `find ${join(dir, 'tree')} -type f -path '*/usr/*' | wc -l`]).toString().trim());
  const fmt = (s) => (Number.isFinite(s) ? s.toFixed(3) : 'n/a');
  const ratio = (a, b) => (Number.isFinite(b) ? (a / b).toFixed(2) : 'n/a');
  return {
    title: `live root on tmpfs: ${names.length} packages, ${files} files (best of ${RUNS})`,
    columns: ['operation', 'minos s', 'pacman s', 'minos/pacman'],
    rows: [
      ['install (fetch to cache, verify signatures + hashes, stage, journal, switch)', fmt(best.mi), fmt(best.pi), ratio(best.mi, best.pi)],
      ['remove (journal, commit, unlink)', fmt(best.mr), fmt(best.pr), ratio(best.mr, best.pr)],
    ],
    notes: [
      'minos: `minos --root R install NAMES...` / `remove NAMES...` from a signed folder repository; every package copied into R/var/cache/minos, signature and every file hash verified, fsync per file and folder.',
      'pacman: `pacman -U PKGS...` / `pacman -R NAMES...` with SigLevel = Never (no signature checks), packages given as local files.',
      `load average (1 min) ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after, on ${availableParallelism()} cores: minos stages on worker threads only with idle cores (MINOS_LIVE_WORKERS=N forces N threads, the main one included).`,
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const t = await runLiveBench();
  console.log(JSON.stringify(t, null, 2));
}
