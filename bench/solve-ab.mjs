#!/usr/bin/env node
/**
 * The resolver against another build of itself: N random requests (1 to 20
 * names, biased towards applications) over bench/solve.mjs's 60,000-package
 * instance, solved by this checkout's dist/ and by OLD's; prints how many
 * answers (result sets, or error messages) are identical, the total result
 * sizes and the time each took.
 *
 *   git worktree add /tmp/old REV && (cd /tmp/old && ln -s "$PWD/node_modules" . && npx tsc -p tsconfig.json)
 *   npx tsc -p tsconfig.json && node bench/solve-ab.mjs /tmp/old [N]
 */
import { resolve } from 'node:path';
import { generateInstance } from './solve.mjs';

const [oldDir, nArg] = process.argv.slice(2);
if (!oldDir) {
  console.error('usage: node bench/solve-ab.mjs OLD_CHECKOUT [N]');
  process.exit(2);
}
const NEW = await import(new URL('../dist/solve/solver.js', import.meta.url).href);
const OLD = await import(`file://${resolve(oldDir, 'dist/solve/solver.js')}`);
const n = Number(nArg ?? 1000);
const inst = generateInstance();
const cands = inst.pkgs.map((meta) => ({ meta, repo: 'main', priority: 0 }));
const un = new NEW.Universe(cands, 'x86_64');
const uo = new OLD.Universe(cands, 'x86_64');
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const run = (m, u, requests) => {
  const t0 = performance.now();
  try {
    const r = m.solve({ candidates: u, arch: 'x86_64', requests }).result;
    return { ms: performance.now() - t0, size: r.length, key: r.map((l) => `${l.name}=${l.version}`).join(',') };
  } catch (e) {
    return { ms: performance.now() - t0, size: 0, key: `error: ${e.message}` };
  }
};
const tot = { same: 0, differ: 0, failed: 0, newSize: 0, oldSize: 0, newMs: 0, oldMs: 0 };
for (let i = 0; i < n; i++) {
  const requests = [];
  for (let k = 1 + Math.floor(rnd() * 20); k > 0; k--) requests.push(inst.names[Math.floor(inst.names.length * (1 - rnd() ** 3))]);
  const a = run(NEW, un, requests);
  const b = run(OLD, uo, requests);
  if (a.key === b.key) tot.same++;
  else tot.differ++;
  if (a.key.startsWith('error: ')) tot.failed++;
  tot.newSize += a.size;
  tot.oldSize += b.size;
  tot.newMs += a.ms;
  tot.oldMs += b.ms;
}
console.log(`${n} requests: ${tot.same} identical answers, ${tot.differ} different (${tot.failed} unsatisfiable in this checkout)`);
console.log(`packages in all results: ${tot.newSize} here, ${tot.oldSize} in ${oldDir}`);
console.log(`solve time: ${tot.newMs.toFixed(0)} ms here, ${tot.oldMs.toFixed(0)} ms in ${oldDir} (one universe each, reused)`);
