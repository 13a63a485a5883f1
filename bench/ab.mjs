#!/usr/bin/env node
/**
 * Interleaved A/B of two minos builds of one image spec, for a machine whose
 * speed drifts between runs: old, new, old, new… into BENCH_TMP, else
 * /dev/shm, else the temp folder (see bench/build.mjs), outputs removed
 * before each run; prints min and median of each, wall time and
 * CPU (user + system, when /usr/bin/time is there). Like bench/build.mjs,
 * it runs minos without NODE_EXTRA_CA_CERTS (see there).
 *
 *   git worktree add /tmp/old REV && (cd /tmp/old && npm ci && make build)
 *   node bench/ab.mjs 10 bench/.work/build/synth-100x50/image.yaml /tmp/old/bin/minos.js [bin/minos.js]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [runsArg, spec, oldBin, newBin = new URL('../bin/minos.js', import.meta.url).pathname] = process.argv.slice(2);
if (!runsArg || !spec || !oldBin) {
  console.error('usage: node bench/ab.mjs RUNS SPEC OLD_BIN [NEW_BIN]');
  process.exit(2);
}
const base = process.env.BENCH_TMP ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const out = join(base, `minos-ab-${process.pid}`);
const cpuFile = join(base, `minos-ab-${process.pid}.time`);
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const bins = { old: oldBin, new: newBin };
const times = { old: [], new: [] };
const cpus = { old: [], new: [] };
const clean = () => {
  for (const p of [out, `${out}.lock.json`, `${out}.spdx.json`, cpuFile]) rmSync(p, { recursive: true, force: true });
};
try {
  for (let r = 0; r < Number(runsArg); r++) {
    for (const [k, bin] of Object.entries(bins)) {
      clean();
      const argv = [process.execPath, bin, 'build', spec, '-o', out, '--format', 'dir'];
      const cmd = TIME ? [TIME, '-f', '%U %S', '-o', cpuFile, ...argv] : argv;
      const t = performance.now();
      const x = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env });
      if (x.status !== 0) throw new Error(`${k} (${bin}) exited ${x.status}`);
      times[k].push(performance.now() - t);
      if (TIME) cpus[k].push(readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').reduce((s, v) => s + Number(v) * 1000, 0));
    }
  }
} finally {
  clean();
}
const minMedian = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0].toFixed(0)} ms  median ${s[Math.floor(s.length / 2)].toFixed(0)} ms`;
};
for (const k of Object.keys(bins)) {
  console.log(`${k.padEnd(4)} wall ${minMedian(times[k])}${cpus[k].length ? `  |  cpu ${minMedian(cpus[k])}` : ''}  (${bins[k]})`);
}
