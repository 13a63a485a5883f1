// Debian roots and Debian-sized resolution, against the peers in the same run:
//  - bookworm's essential root for amd64 into a folder from the local mirror
//    (.cache/debian-mirror, made by the tests or tools/debian-mirror.mjs):
//    `minos build images/debian-minimal.yaml` (complete: effects applied)
//    against `mmdebstrap --variant=essential` (goal <= 0.3x its time) and
//    `mmdebstrap --variant=extract` of the same 69 packages (goal <= 0.5x);
//    mmdebstrap reads the same mirror through copy:// in root mode. minos is
//    timed twice: resolving (no lockfile) and with the lockfile of its last
//    build, which it takes as locked (the CI rebuild of a pinned image).
//  - `minos plan` of a desktop-sized request (with the essential set) on all of
//    bookworm main amd64, from InRelease to the answer, verified, against
//    libsolv: deb2solv on the same Packages file plus testsolv on the .solv
//    (goal <= 2x), with minos's peak memory (goal <= 200 MiB).
// Times are the best of BENCH_DEBIAN_RUNS (default 3) runs, each a new process;
// the plan rows also show CPU (user + system, best run), steadier on a busy machine.
// Both tools write their roots to a tmpfs (BENCH_TMP, else /dev/shm): on ext4 each
// run's files are created just after the previous run's were deleted, and ext4's
// inode allocator then spends its time checking recently deleted inodes (perf:
// recently_deleted, a fifth of all CPU), which measures the disk, not the tools.
const TMPFS = process.env.BENCH_TMP ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNS = Number(process.env.BENCH_DEBIAN_RUNS ?? 3);
const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/minos.js');
const MIRROR = join(ROOT, '.cache/debian-mirror');
const SPEC = join(ROOT, 'images/debian-minimal.yaml');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const REQUEST = ['task-xfce-desktop', 'build-essential', 'python3-full', 'libreoffice-writer', 'gimp'];

function timed(cmd, args, opts = {}) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}: ${r.stderr || r.error}`);
  return { ms, out: r.stdout, err: r.stderr };
}

function bestOf(fn) {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) best = Math.min(best, fn());
  return best;
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;

function essentialNames() {
  const r = timed(process.execPath, [BIN, 'plan', SPEC, '--json']);
  return JSON.parse(r.out).install.map((p) => p.name);
}

function mmdebstrap(variant, dir, include) {
  const out = join(dir, `mm-${variant}`);
  rmSync(out, { recursive: true, force: true });
  const args = [
    `--variant=${variant}`, '--mode=root', '--quiet',
    // The mirror holds the plain Packages only (InRelease lists them all).
    '--aptopt=Acquire::CompressionTypes::xz "false"', '--aptopt=Acquire::CompressionTypes::gz "false"',
    ...(include ? [`--include=${include.join(',')}`] : []),
    'bookworm', out, `deb [signed-by=${KEYRING}] copy://${MIRROR} bookworm main`,
  ];
  const { ms } = timed('mmdebstrap', args);
  rmSync(out, { recursive: true, force: true });
  return ms;
}

function rootBench(dir) {
  const names = essentialNames();
  const lock = join(dir, 'root.lock.json');
  // Resolving: no lockfile. Locked: the lockfile of the previous run, whose resolution digest matches (IMAGES.md).
  const build = (resolving) => bestOf(() => {
    const out = join(dir, 'minos-root');
    rmSync(out, { recursive: true, force: true });
    if (resolving) rmSync(lock, { force: true });
    const { ms, out: json } = timed(process.execPath, [BIN, 'build', SPEC, '-o', out, '--lock', lock, '--json']);
    if (JSON.parse(json).resolution !== (resolving ? 'resolved' : 'locked')) throw new Error(`minos build: resolution ${JSON.parse(json).resolution}`);
    rmSync(out, { recursive: true, force: true });
    return ms;
  });
  const resolving = build(true);
  const locked = build(false);
  const rows = [
    ['minos build (complete root), resolving', names.length, s(resolving), '', ''],
    ['minos build (complete root), lockfile of the last build', names.length, s(locked), '', ''],
  ];
  const notes = [];
  if (process.getuid?.() !== 0 || spawnSync('mmdebstrap', ['--version']).error) {
    notes.push('mmdebstrap not run: it needs root here (--mode=root) and the mmdebstrap package.');
    return { rows, notes };
  }
  const ess = bestOf(() => mmdebstrap('essential', dir));
  const ext = bestOf(() => mmdebstrap('extract', dir, names));
  const ratios = (peer) => `${(resolving / peer).toFixed(2)}x resolving, ${(locked / peer).toFixed(2)}x locked`;
  rows.push(['mmdebstrap --variant=essential', names.length, s(ess), ratios(ess), '<= 0.3x']);
  rows.push(['mmdebstrap --variant=extract', names.length, s(ext), ratios(ext), '<= 0.5x']);
  return { rows, notes };
}

function planBench(dir) {
  const spec = join(dir, 'plan.yaml');
  writeFileSync(spec, [
    'name: plan', 'arch: x86_64', 'repositories:', `  - debian: ${MIRROR}`, '    suite: bookworm', `    keys: [${KEYRING}]`,
    `packages: ${JSON.stringify(REQUEST)}`, 'sets: [essential]', '',
  ].join('\n'));
  let n = 0;
  let rss = 0;
  let cpu = Infinity;
  const minos = bestOf(() => {
    const r = timed('/usr/bin/time', ['-f', '%U %S %M', process.execPath, BIN, 'plan', spec, '--json']);
    n = JSON.parse(r.out).install.length;
    const [u, sys, m] = r.err.trim().split('\n').pop().split(' ').map(Number);
    rss = Math.max(rss, m / 1024);
    cpu = Math.min(cpu, (u + sys) * 1000);
    return r.ms;
  });
  const rows = [['minos plan (InRelease to answer)', n, `${s(minos)} (CPU ${s(cpu)})`, '', `${rss.toFixed(0)} MiB`]];
  if (spawnSync('testsolv', ['-h']).error || spawnSync('deb2solv', ['-h'], { input: '' }).error) return rows;
  const packages = join(MIRROR, 'dists/bookworm/main/binary-amd64/Packages');
  const essential = [...new Set([...readFileSync(packages, 'utf8').matchAll(/^Package: (\S+)\n(?:(?!\n\n)[\s\S])*?^Essential: yes$/gm)].map((m) => m[1]))];
  const solv = join(dir, 'bookworm.solv');
  const tc = join(dir, 'case.t');
  writeFileSync(tc, ['repo system 0 testtags <inline>', 'repo test 0 solv bookworm.solv', 'system amd64 deb system', 'solverflags ignorerecommended',
    ...[...REQUEST, ...essential].map((r) => `job install name ${r}`), 'result transaction,problems <inline>', ''].join('\n'));
  let installs = 0;
  let theirCpu = Infinity;
  const theirs = bestOf(() => {
    const r = timed('/usr/bin/time', ['-f', '%U %S', 'sh', '-c', `deb2solv -r < '${packages}' > '${solv}' && testsolv -r '${tc}'`], { cwd: dir });
    installs = r.out.split('\n').filter((l) => l.startsWith('install ')).length;
    const [u, sys] = r.err.trim().split('\n').pop().split(' ').map(Number);
    theirCpu = Math.min(theirCpu, (u + sys) * 1000);
    return r.ms;
  });
  rows.push(['deb2solv + testsolv (Packages to answer)', installs, `${s(theirs)} (CPU ${s(theirCpu)})`, `${(minos / theirs).toFixed(2)}x (CPU ${(cpu / theirCpu).toFixed(2)}x)`, '<= 2x, <= 200 MiB']);
  return rows;
}

export function runDebianBench() {
  if (!existsSync(join(MIRROR, 'dists/bookworm/InRelease'))) {
    return { title: 'Debian: no local mirror (run make test once, or tools/debian-mirror.mjs)', columns: ['-'], rows: [] };
  }
  const dir = mkdtempSync(join(TMPFS, 'minos-bench-deb-'));
  try {
    const root = rootBench(dir);
    const plan = planBench(dir);
    return [
      { title: `Debian essential root (amd64, 69 packages, local mirror, roots written to ${TMPFS})`, columns: ['tool', 'packages', 'time', 'minos/peer', 'goal'], rows: root.rows, notes: root.notes },
      { title: 'Resolution on bookworm main amd64 (about 63,000 packages)', columns: ['tool', 'installs', 'time', 'minos/peer', 'goal / minos peak RSS'], rows: plan },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const t of [runDebianBench()].flat()) console.log(JSON.stringify(t, null, 1));
}
