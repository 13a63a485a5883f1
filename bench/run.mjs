// make bench: every benchmark, each printed as a table with ratios against a
// baseline measured in the same run. BENCH=pack,zstd,solve selects some.
import { existsSync } from 'node:fs';

function table({ title, columns, rows, notes = [] }) {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  for (const n of notes) console.log(`\n${n}`);
}

const all = {
  zstd: async () => (await import('./zstd.mjs')).runZstdBench(),
  pack: async () => (await import('./pack.mjs')).runPackBench(),
  solve: async () => (await import('./solve.mjs')).runSolveBench(),
  build: async () => (await import('./build.mjs')).runBuildBench(),
  live: async () => (await import('./live.mjs')).runLiveBench(),
  xz: async () => (await import('./xz.mjs')).runXzBench(),
  debian: async () => (await import('./debian.mjs')).runDebianBench(),
  fsimg: async () => (await import('./fsimg.mjs')).runFsimgBench(),
  privsep: async () => (await import('./privsep.mjs')).runPrivsepBench(),
};
const wanted = (process.env.BENCH ?? Object.keys(all).join(',')).split(',');
console.log(`minos bench on ${process.arch}, node ${process.version}`);
for (const name of wanted) {
  if (!existsSync(new URL(`./${name}.mjs`, import.meta.url))) continue;
  console.log(`\n## ${name}`);
  const result = await all[name]();
  for (const t of Array.isArray(result) ? result : [result]) if (t && t.rows) table(t);
}
