// Live root: install, upgrade and remove 100 small packages (50 files each, 0.5-8 KiB)
// on tmpfs (/dev/shm), side by side with `pacman -U` / `pacman -R` of the same
// payloads (built by /work/shared/peers/gen.py and build.sh, or the copies in
// bench/peers/ when present). Each run starts from a fresh root; the table
// shows the median of RUNS (default 3).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WORK } from './payload.mjs';
import { pacmanArgs, requiredConf } from './pacman.mjs';

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

/** Wall and CPU (user + system, all threads) seconds of one command. */
function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = run('/usr/bin/time', ['-f', '%U %S', cmd, ...args]);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const [u, s] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: u + s };
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
  // Version 1.0-2 of every package, every file one line longer: what upgrade replaces.
  const v2 = join(dir, 'v2');
  const repo2 = join(dir, 'repo2');
  mkdirSync(repo2);
  for (const name of readdirSync(join(dir, 'tree')).sort()) {
    cpSync(join(dir, 'tree', name), join(v2, 'tree', name), { recursive: true });
    const info = join(v2, 'tree', name, '.PKGINFO');
    writeFileSync(info, readFileSync(info, 'utf8').replace('pkgver = 1.0-1', 'pkgver = 1.0-2'));
    run('sh', ['-c', 'find "$1/usr" -type f -exec sh -c \'for f; do echo v2 >> "$f"; done\' sh {} +', 'sh', join(v2, 'tree', name)]);
    const src = join(v2, 'src', name);
    mkdirSync(src, { recursive: true });
    cpSync(join(v2, 'tree', name, 'usr'), join(src, 'files/usr'), { recursive: true });
    const recipe = readFileSync(join(dir, 'src', name, 'recipe.yaml'), 'utf8').replace('version: "1.0-1"', 'version: "1.0-2"');
    writeFileSync(join(src, 'recipe.yaml'), recipe);
    packPackage({ recipe: loadRecipe(join(src, 'recipe.yaml')), key, outDir: repo2, level: 3, sourceDateEpoch: 1700000000 });
  }
  run('bash', [join(PEERS, 'build.sh'), v2]);
  for (const f of readdirSync(join(v2, 'pkgs'))) renameSync(join(v2, 'pkgs', f), join(v2, 'pkgs', f.replace('-1.0-1-', '-1.0-2-')));
  writeIndex({ dir: repo2, key, name: 'bench2', expires: null, created: 1700000000 });
  writeFileSync(join(dir, '.done'), '');
  return dir;
}

export async function runLiveBench() {
  if (!PEERS) return { title: 'live: skipped (no peers/gen.py)', columns: [], rows: [] };
  const havePacman = process.getuid?.() === 0 && spawnSync('pacman', ['--version'], { stdio: 'ignore' }).status === 0;
  const dir = await prepare();
  const shm = existsSync('/dev/shm') ? '/dev/shm' : WORK;
  const base = join(shm, `minos-live-bench-${process.pid}`);
  const names = readdirSync(join(dir, 'tree')).sort();
  const pkgsOf = (d) => readdirSync(d).filter((f) => f.endsWith('.zst')).sort().map((f) => join(d, f));
  const pkgs = pkgsOf(join(dir, 'pkgs'));
  const pkgs2 = pkgsOf(join(dir, 'v2/pkgs'));
  mkdirSync(base, { recursive: true });
  const required = havePacman ? requiredConf(base, [...pkgs, ...pkgs2]) : undefined;
  // Per operation: minos, pacman Never, pacman Required; each { wall: [], cpu: [] }.
  const ops = ['install', 'upgrade', 'remove'];
  const m = Object.fromEntries(ops.map((o) => [o, { minos: { wall: [], cpu: [] }, never: { wall: [], cpu: [] }, req: { wall: [], cpu: [] } }]));
  const add = (slot, r) => {
    slot.wall.push(r.wall);
    slot.cpu.push(r.cpu);
  };
  const load0 = loadavg()[0];
  try {
    for (let k = 0; k < RUNS; k++) {
      const mroot = join(base, 'minos');
      rmSync(mroot, { recursive: true, force: true });
      run(process.execPath, [MINOS, '--root', mroot, 'init', '--arch', 'x86_64']);
      run(process.execPath, [MINOS, '--root', mroot, 'repo', 'add', 'bench', join(dir, 'repo'), '--key', join(dir, 'bench.pub')]);
      add(m.install.minos, timed(process.execPath, [MINOS, '--root', mroot, 'install', ...names]));
      run(process.execPath, [MINOS, '--root', mroot, 'repo', 'add', 'bench2', join(dir, 'repo2'), '--key', join(dir, 'bench.pub')]);
      add(m.upgrade.minos, timed(process.execPath, [MINOS, '--root', mroot, 'upgrade']));
      add(m.remove.minos, timed(process.execPath, [MINOS, '--root', mroot, 'remove', ...names]));
      for (const [slot, conf] of [['never', join(PEERS, 'pacman.conf')], ['req', required]]) {
        if (!havePacman || !conf) continue;
        const proot = join(base, `pacman-${slot}`);
        rmSync(proot, { recursive: true, force: true });
        const pac = pacmanArgs(conf, proot);
        add(m.install[slot], timed('pacman', [...pac, '-U', ...pkgs]));
        add(m.upgrade[slot], timed('pacman', [...pac, '-U', ...pkgs2]));
        add(m.remove[slot], timed('pacman', [...pac, '-R', ...names]));
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const files = Number(execFileSync('sh', ['-c', `find ${join(dir, 'tree')} -type f -path '*/usr/*' | wc -l`]).toString().trim());
  const med = (xs) => (xs.length ? [...xs].sort((x, y) => x - y)[xs.length >> 1] : NaN);
  const fmt = (s) => (Number.isFinite(s) ? s.toFixed(3) : 'n/a');
  const ratio = (a, b) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a');
  const goal = (a, b, g) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x ${a <= g * b ? 'MET' : 'MISSED'}` : 'n/a');
  const what = { install: 'install (fetch to cache, verify signatures + hashes, stage, journal, switch)', upgrade: 'upgrade every package to 1.0-2 (every file changed)', remove: 'remove (journal, commit, unlink)' };
  const rows = ops.map((o) => {
    const x = m[o];
    const [mw, mc, nw, rc] = [med(x.minos.wall), med(x.minos.cpu), med(x.never.wall), med(x.req.cpu)];
    return [what[o], fmt(mw), fmt(nw), ratio(mw, nw), fmt(mc), fmt(rc), ratio(mc, rc)];
  });
  const goals = ops.map((o) => {
    const x = m[o];
    return `${o}: wall ${goal(med(x.minos.wall), med(x.never.wall), 1.1)} pacman Never (goal <= 1.1x), CPU ${goal(med(x.minos.cpu), med(x.req.cpu), 0.9)} pacman Required (goal <= 0.9x)`;
  });
  return {
    title: `live root on tmpfs: ${names.length} packages, ${files} files (median of ${RUNS})`,
    columns: ['operation', 'minos s', 'pacman Never s', 'minos/it', 'minos CPU s', 'pacman Required CPU s', 'minos/it'],
    rows,
    notes: [
      'minos: `minos --root R install NAMES...`, then `repo add` of a second repository with version 1.0-2 and `upgrade`, then `remove NAMES...`, from signed folder repositories; every package copied into R/var/cache/minos, signature and every file hash verified, fsync per file and folder.',
      'pacman: `pacman -U PKGS...`, `-U PKGS-1.0-2...`, `-R NAMES...` as root, packages given as local files, with SigLevel = Never (no signature checks) and with SigLevel = Required (each package\'s detached signature by a throwaway gpg key). CPU: user + system seconds, all threads.',
      `issue 20 goal 4: ${goals.join('; ')}`,
      `load average (1 min) ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after, on ${availableParallelism()} cores: minos stages on worker threads only with idle cores (MINOS_LIVE_WORKERS=N forces N threads, the main one included).`,
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const t = await runLiveBench();
  console.log(JSON.stringify(t, null, 2));
}
