// The cost of privilege separation (docs/SECURITY.md): the same build and
// live install with packages read in-process (MINOS_PRIVSEP=0) and through
// the unprivileged reader (the default as root), runs interleaved and the
// order alternated each round. Payload: build case (a) of
// bench/build.mjs (100 packages x 50 files); the live install takes the same
// repository, and the remove after it. Median and min of BENCH_PRIVSEP_RUNS
// (7) runs each. The readers' CPU is not in any minos process's own time (they
// outlive it by a moment), so the table shows wall time only.
// Needs root: otherwise minos is already unprivileged and nothing differs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fixtureSynth, MINOS } from './build-fixtures.mjs';

const RUNS = Number(process.env.BENCH_PRIVSEP_RUNS ?? 7);
// Images go to BENCH_PRIVSEP_DIR (default the temp folder: minos refuses to write an image
// under /dev); live roots to /dev/shm when there is one, as bench/live.mjs does (every staged
// file is fsynced: on a disk that dominates and varies from run to run).
const TMPFS = process.env.BENCH_PRIVSEP_DIR ?? tmpdir();
const LIVE = existsSync('/dev/shm') ? '/dev/shm' : TMPFS;

function run(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [MINOS, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`minos ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Serve `dir` over loopback http from a child process (minos runs synchronously here); resolves to [url, stop]. */
function serve(dir) {
  const code = `const http = require('node:http'); const fs = require('node:fs'); const path = require('node:path');
const dir = ${JSON.stringify(dir)};
const s = http.createServer((req, res) => { const f = path.join(dir, decodeURIComponent(req.url.slice(1)));
  if (!f.startsWith(dir + '/') || !fs.existsSync(f)) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-length': fs.statSync(f).size }); fs.createReadStream(f).pipe(res); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve([`http://127.0.0.1:${String(d).trim()}`, () => child.kill()])));
}

export async function runPrivsepBench() {
  if (process.getuid?.() !== 0) return { title: 'privsep: skipped (needs root: as any other user minos is already unprivileged)', columns: [], rows: [] };
  const fx = await fixtureSynth();
  const names = readdirSync(join(fx.dir, 'src')).sort();
  const work = join(TMPFS, `minos-bench-privsep-${process.pid}`);
  const liveWork = join(LIVE, `minos-bench-privsep-${process.pid}`);
  // As bench/build.mjs: no NODE_EXTRA_CA_CERTS (no TLS here; it costs every process start).
  const base = { ...process.env };
  delete base.NODE_EXTRA_CA_CERTS;
  const envs = { off: { ...base, MINOS_PRIVSEP: '0' }, on: { ...base, MINOS_PRIVSEP: '1' } };
  const t = { build: { off: [], on: [] }, http: { off: [], on: [] }, install: { off: [], on: [] }, remove: { off: [], on: [] } };
  const [url, stop] = await serve(join(fx.dir, 'repo'));
  // Beside the spec, so that its relative key path still holds.
  const httpSpec = join(dirname(fx.spec), `http-${process.pid}.yaml`);
  writeFileSync(httpSpec, readFileSync(fx.spec, 'utf8').replace(/^(\s*-\s*)path:.*$/m, `$1url: ${url}`));
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const mode of i % 2 ? ['on', 'off'] : ['off', 'on']) {
        const env = envs[mode];
        rmSync(work, { recursive: true, force: true });
        rmSync(liveWork, { recursive: true, force: true });
        t.build[mode].push(run(['build', fx.spec, '-o', join(work, 'img'), '--format', 'dir'], env));
        // Every package downloaded again: a fresh cache each run.
        t.http[mode].push(run(['build', httpSpec, '-o', join(work, 'img-http'), '--format', 'dir'], { ...env, XDG_CACHE_HOME: join(work, 'cache') }));
        const root = join(liveWork, 'root');
        run(['--root', root, 'init', '--arch', 'x86_64'], env);
        run(['--root', root, 'repo', 'add', 'bench', join(fx.dir, 'repo'), '--key', join(fx.dir, 'keys/bench.pub')], env);
        t.install[mode].push(run(['--root', root, 'install', ...names], env));
        // Reads no package, but its (idle) pool starts a reader too.
        t.remove[mode].push(run(['--root', root, 'remove', ...names], env));
      }
    }
  } finally {
    stop();
    rmSync(httpSpec, { force: true });
    rmSync(work, { recursive: true, force: true });
    rmSync(liveWork, { recursive: true, force: true });
  }
  const rows = [];
  const goals = [];
  for (const [what, label] of [['build', `build --format dir, ${fx.packages} packages, ${fx.files} files`], ['http', 'the same build from http (loopback), empty cache'], ['install', `live install of the same ${names.length} packages`], ['remove', 'live remove of them']]) {
    const off = median(t[what].off);
    const on = median(t[what].on);
    const ratio = on / off;
    rows.push([label, `${off.toFixed(3)} (min ${Math.min(...t[what].off).toFixed(3)})`, `${on.toFixed(3)} (min ${Math.min(...t[what].on).toFixed(3)})`, ratio.toFixed(3)]);
    goals.push(`${what}: privsep costs ${((ratio - 1) * 100).toFixed(1)}% ${ratio <= 1.05 ? 'MET' : 'MISSED'} (goal <= 5%)`);
  }
  return {
    title: `privilege separation: packages read in-process vs by the unprivileged reader, images in ${TMPFS}, roots in ${LIVE} (median of ${RUNS}, interleaved)`,
    columns: ['operation', 'MINOS_PRIVSEP=0 s', 'privsep s', 'privsep/in-process'],
    rows,
    notes: goals,
  };
}
