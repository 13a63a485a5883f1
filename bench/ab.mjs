#!/usr/bin/env node
/**
 * Interleaved A/B of two minos builds of one image spec, for a machine whose
 * speed drifts between runs: old, new, old, new… into /dev/shm (or the temp
 * folder), outputs removed before each run; prints min and median of each.
 *
 *   git worktree add /tmp/old REV && (cd /tmp/old && npm ci && make build)
 *   node bench/ab.mjs 10 bench/.work/build/synth-100x50/image.yaml /tmp/old/bin/minos.js [bin/minos.js]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [runsArg, spec, oldBin, newBin = new URL('../bin/minos.js', import.meta.url).pathname] = process.argv.slice(2);
if (!runsArg || !spec || !oldBin) {
  console.error('usage: node bench/ab.mjs RUNS SPEC OLD_BIN [NEW_BIN]');
  process.exit(2);
}
const out = join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `minos-ab-${process.pid}`);
const bins = { old: oldBin, new: newBin };
const times = { old: [], new: [] };
const clean = () => {
  for (const p of [out, `${out}.lock.json`, `${out}.spdx.json`]) rmSync(p, { recursive: true, force: true });
};
try {
  for (let r = 0; r < Number(runsArg); r++) {
    for (const [k, bin] of Object.entries(bins)) {
      clean();
      const t = performance.now();
      const x = spawnSync(process.execPath, [bin, 'build', spec, '-o', out, '--format', 'dir'], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (x.status !== 0) throw new Error(`${k} (${bin}) exited ${x.status}`);
      times[k].push(performance.now() - t);
    }
  }
} finally {
  clean();
}
for (const [k, xs] of Object.entries(times)) {
  const s = [...xs].sort((a, b) => a - b);
  console.log(`${k.padEnd(4)} min ${s[0].toFixed(0)} ms  median ${s[Math.floor(s.length / 2)].toFixed(0)} ms  (${bins[k]})`);
}
