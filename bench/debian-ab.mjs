#!/usr/bin/env node
/**
 * Interleaved A/B of `minos plan` on all of bookworm main amd64 (the request
 * of bench/debian.mjs) for two minos builds, with libsolv (deb2solv +
 * testsolv on the same Packages) in every round as the yardstick: old, new,
 * peer, old, new, peer… Prints the median wall time, CPU (user + system) and
 * peak RSS of each, and each build's ratio to the peer. For a busy machine:
 * the medians and the CPU column are what to compare.
 *
 *   node bench/debian-ab.mjs 7 /tmp/old/bin/minos.js [bin/minos.js]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const [runsArg, oldBin, newBin = new URL('../bin/minos.js', import.meta.url).pathname] = process.argv.slice(2);
if (!runsArg || !oldBin) {
  console.error('usage: node bench/debian-ab.mjs RUNS OLD_BIN [NEW_BIN]');
  process.exit(2);
}
const ROOT = new URL('..', import.meta.url).pathname;
const MIRROR = join(ROOT, '.cache/debian-mirror');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const REQUEST = ['task-xfce-desktop', 'build-essential', 'python3-full', 'libreoffice-writer', 'gimp'];
const dir = mkdtempSync(join(tmpdir(), 'minos-debab-'));
const spec = join(dir, 'plan.yaml');
writeFileSync(spec, ['name: plan', 'arch: x86_64', 'repositories:', `  - debian: ${MIRROR}`, '    suite: bookworm', `    keys: [${KEYRING}]`,
  `packages: ${JSON.stringify(REQUEST)}`, 'sets: [essential]', ''].join('\n'));
const packages = join(MIRROR, 'dists/bookworm/main/binary-amd64/Packages');
const essential = [...new Set([...readFileSync(packages, 'utf8').matchAll(/^Package: (\S+)\n(?:(?!\n\n)[\s\S])*?^Essential: yes$/gm)].map((m) => m[1]))];
writeFileSync(join(dir, 'case.t'), ['repo system 0 testtags <inline>', 'repo test 0 solv bookworm.solv', 'system amd64 deb system', 'solverflags ignorerecommended',
  ...[...REQUEST, ...essential].map((r) => `job install name ${r}`), 'result transaction,problems <inline>', ''].join('\n'));

/** Wall ms, CPU ms and peak RSS (MiB) of one shell command. */
function run(cmd) {
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', 'sh', '-c', cmd], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  const [u, s, m] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { ms, cpu: (u + s) * 1000, rss: m / 1024 };
}

const cmds = {
  old: `node '${oldBin}' plan '${spec}' --json > old.json`,
  new: `node '${newBin}' plan '${spec}' --json > new.json`,
  peer: `deb2solv -r < '${packages}' > bookworm.solv && testsolv -r case.t > peer.txt`,
};
const got = { old: [], new: [], peer: [] };
try {
  for (let i = 0; i < Number(runsArg); i++) for (const k of Object.keys(cmds)) got[k].push(run(cmds[k]));
  const same = readFileSync(join(dir, 'old.json'), 'utf8') === readFileSync(join(dir, 'new.json'), 'utf8');
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  const m = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, { ms: med(v.map((x) => x.ms)), cpu: med(v.map((x) => x.cpu)), rss: Math.max(...v.map((x) => x.rss)) }]));
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${runsArg} rounds; old and new answers ${same ? 'equal' : 'DIFFER'}`);
  for (const k of ['old', 'new', 'peer']) {
    const r = m[k];
    const ratio = k === 'peer' ? '' : `  wall ${(r.ms / m.peer.ms).toFixed(2)}x  cpu ${(r.cpu / m.peer.cpu).toFixed(2)}x of peer`;
    console.log(`${k.padEnd(4)}  wall ${(r.ms / 1000).toFixed(2)} s  cpu ${(r.cpu / 1000).toFixed(2)} s  rss ${r.rss.toFixed(0)} MiB${ratio}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
