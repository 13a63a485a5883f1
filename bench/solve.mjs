#!/usr/bin/env node
/**
 * Resolver benchmark: minos against libsolv's testsolv on one generated
 * repository of 60,000 packages with Debian's density (about 4.4 dependency
 * clauses per package, 2.5% of clauses with alternatives, 15% of packages
 * with provides, 5% with conflicts) and a request whose closure has at least
 * 1,000 packages. Deterministic (seeded PRNG).
 *
 *   npx tsc -p tsconfig.json && node bench/solve.mjs [--runs N] [--keep DIR]
 *
 * minos: "index load" = JSON.parse of an index-like document + building the
 * universe (names and provides indexed; dependency strings parsed lazily),
 * reported with and without parsing every dependency string up front;
 * "solve" = solve() on the prepared universe (the first solve on a fresh
 * universe pays for parsing and matching the dependency strings of the
 * packages the search tries).
 * The same steps are also timed in a fresh node process per run (read the
 * index file, parse, prepare, solve with a cold JIT), as one CLI run pays them.
 * testsolv: the same instance as an inline testtags testcase (its parse
 * included, as a user of testsolv would pay it) and as a .solv file made by
 * deb2solv from a Debian Packages file (parse of the binary format only).
 * testsolv's solve time is its "createwhatprovides took" plus "solver_solve
 * took" lines from -v (provider index, rule creation and search). Ratios use
 * the best of N runs, the measure least disturbed by other load on the
 * machine; medians and the load average are printed alongside.
 *
 * runSolveBench() returns { title, columns, rows, notes } for bench/run.mjs
 * (plus `data`, the raw measurements).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { canonicalBytes } from '../dist/canonical.js';
import { generateKey, loadSecretKey, signBytes } from '../dist/repo/keys.js';
import { Universe, solve } from '../dist/solve/solver.js';

const PREFIXES = ['lib', 'python3-', 'golang-', 'ruby-', 'node-', 'fonts-', 'gir1.2-', 'perl-', 'r-cran-', ''];
const SUFFIXES = ['', '-dev', '-doc', '-common', '1', '-data', '-bin', '-utils'];

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The instance: `names` ordered from base libraries (index 0) to leaf
 * applications; a package depends mostly on lower indexes, biased towards
 * the most popular ones, as in Debian.
 */
export function generateInstance({ packages = 60_000, seed = 42, skew = 2, bias = 4 } = {}) {
  const rnd = prng(seed);
  const nNames = Math.round(packages / 1.2);
  const names = [];
  for (let i = 0; i < nNames; i++) {
    names.push(`${PREFIXES[i % PREFIXES.length]}${i.toString(36)}x${SUFFIXES[(i * 7) % SUFFIXES.length]}`);
  }
  const virtuals = Array.from({ length: 3000 }, (_, k) => `virt-${k}`);
  // Versions: every name has 1.x; one in five also 2.x.
  const versions = names.map(() => {
    const minor = Math.floor(rnd() * 20);
    const v = [`1.${minor}-${1 + Math.floor(rnd() * 3)}`];
    return v;
  });
  let total = nNames;
  while (total < packages) {
    const k = Math.floor(rnd() * nNames);
    if (versions[k].length < 3) {
      versions[k].push(`${versions[k].length + 1}.${Math.floor(rnd() * 10)}-1`);
      total++;
    }
  }
  while (total > packages) {
    const k = Math.floor(rnd() * nNames);
    if (versions[k].length > 1) {
      versions[k].pop();
      total--;
    }
  }
  const providersOf = new Map();
  const pkgs = [];
  let clauses = 0;
  let altClauses = 0;
  for (let i = 0; i < nNames; i++) {
    for (const version of versions[i]) {
      const depends = [];
      // Base libraries have few dependencies, applications many (mean 4.4).
      let k = Math.floor(-Math.log(1 - rnd()) * (0.5 + 4.55 * (skew + 1) * (i / nNames) ** skew));
      k = Math.min(k, i, 40);
      const used = new Set();
      const target = () => {
        if (rnd() < 0.005 && i + 1 < nNames) return i + 1 + Math.floor(rnd() * Math.min(50, nNames - i - 1)); // a rare back edge
        return Math.floor(i * rnd() ** bias);
      };
      const dep = () => {
        if (rnd() < 0.03) {
          const v = virtuals[Math.floor(rnd() * virtuals.length)];
          return v;
        }
        const j = target();
        if (used.has(j)) return undefined;
        used.add(j);
        const r = rnd();
        if (r < 0.55) return `${names[j]} >= ${versions[j][0].split('-')[0]}`;
        if (r < 0.58) return `${names[j]} < 9`;
        return names[j];
      };
      for (let d = 0; d < k; d++) {
        const a = dep();
        if (!a) continue;
        if (rnd() < 0.025) {
          const b = dep();
          if (b) {
            depends.push(`${a} | ${b}`);
            altClauses++;
            clauses++;
            continue;
          }
        }
        depends.push(a);
        clauses++;
      }
      const provides = [];
      if (rnd() < 0.15) {
        const v = virtuals[Math.floor(rnd() * virtuals.length)];
        provides.push(rnd() < 0.5 ? `${v} = 1.0` : v);
        providersOf.set(v, (providersOf.get(v) ?? 0) + 1);
      }
      // Conflicts as Debian has them: mostly against old versions (`<< 1.0`),
      // some between providers of one virtual name, some against a package
      // nothing depends on (filled in below, once the leaves are known).
      const conflicts = [];
      if (rnd() < 0.05) {
        const r = rnd();
        if (r < 0.6) conflicts.push(`${names[Math.floor(rnd() * nNames)]} < 1.0`);
        else if (r < 0.8 && provides.length) conflicts.push(provides[0].split(' ')[0]);
        else conflicts.push('@leaf');
      }
      const arch = rnd() < 0.1 ? 'noarch' : 'x86_64';
      pkgs.push({
        name: names[i], version, arch, summary: `package ${names[i]}`, license: 'MIT',
        depends, provides, conflicts, replaces: [], optional: [], builddate: 1700000000, installedSize: 1000,
        file: `${names[i]}-${version}-${arch}.mpk`, size: 1000, sha256: '0'.repeat(64),
      });
    }
  }
  const depended = new Set();
  for (const p of pkgs) for (const d of p.depends) for (const a of d.split(' | ')) depended.add(a.split(' ')[0]);
  const leaves = names.filter((n, i) => i < nNames / 2 && !depended.has(n));
  for (const p of pkgs) p.conflicts = p.conflicts.map((c) => (c === '@leaf' ? leaves[Math.floor(rnd() * leaves.length)] : c));
  // Virtual names nobody provides are rewritten to a provided one so deps stay meaningful.
  const provided = [...providersOf.keys()].sort();
  for (const p of pkgs) {
    p.depends = p.depends.map((d) => d.split(' | ').map((a) => (a.startsWith('virt-') && !providersOf.has(a) ? provided[a.length % provided.length] : a)).join(' | '));
  }
  return { pkgs, names, stats: { packages: pkgs.length, names: nNames, clauses, altClauses } };
}

/** Debian-preserving testtags encoding (see test/solve-differential.test.ts). */
function alt(s) {
  const m = /^\s*(\S+)\s*(?:(\S+)\s+(\S+))?\s*$/.exec(s);
  return m[2] ? `${m[1]} ${m[2]} ${m[3]}` : `${m[1]} | ${m[1]}.unv`;
}

function evr(v) {
  const d = v.lastIndexOf('-');
  return d < 0 ? `${v} -` : `${v.slice(0, d)} ${v.slice(d + 1)}`;
}

function testtags(pkgs, requests) {
  const out = ['repo system 0 testtags <inline>', 'repo test 0 testtags <inline>'];
  for (const p of pkgs) {
    out.push(`#>=Pkg: ${p.name} ${evr(p.version)} ${p.arch}`);
    for (const d of p.depends) out.push(`#>=Req: ${d.split('|').map(alt).join(' | ')}`);
    for (const v of p.provides) out.push(`#>=Prv: ${v.includes('=') ? v : `${v}.unv`}`);
    for (const c of p.conflicts) {
      if (/[<>=]/.test(c)) out.push(`#>=Con: ${c}`);
      else out.push(`#>=Con: ${c}`, `#>=Con: ${c}.unv`);
    }
  }
  out.push('system x86_64 rpm system');
  for (const r of requests) out.push(`job install name ${r}`);
  out.push('result transaction,problems <inline>', '');
  return out.join('\n');
}

/** Debian Packages stanza for deb2solv (this libsolv has no "all": noarch is written as amd64). */
function packagesFile(pkgs) {
  const debOp = (s) => s.replace(/^(\S+)\s*(<=|>=|=|<|>)\s*(\S+)$/, (_, n, op, v) => `${n} (${op === '<' ? '<<' : op === '>' ? '>>' : op} ${v})`);
  const dalt = (s) => {
    const t = s.trim();
    return /[<>=]/.test(t) ? debOp(t) : `${t} | ${t}.unv`;
  };
  const out = [];
  for (const p of pkgs) {
    out.push(`Package: ${p.name}`, `Version: ${p.version}`, 'Architecture: amd64');
    if (p.depends.length) out.push(`Depends: ${p.depends.map((d) => d.split('|').map(dalt).join(' | ')).join(', ')}`);
    if (p.provides.length) out.push(`Provides: ${p.provides.map((v) => (v.includes('=') ? debOp(v) : `${v}.unv`)).join(', ')}`);
    if (p.conflicts.length) out.push(`Conflicts: ${p.conflicts.map((c) => (/[<>=]/.test(c) ? debOp(c) : `${c}, ${c}.unv`)).join(', ')}`);
    out.push('');
  }
  return out.join('\n');
}

/** Best of the runs: the least disturbed by other load on the machine. */
function best(xs) {
  return xs.length ? Math.min(...xs) : NaN;
}

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function loadavg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

function timeTestsolv(file, runs) {
  const wall = [];
  const solver = [];
  let stdout = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync('testsolv', ['-v', '-r', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    wall.push(performance.now() - t0);
    if (r.error) throw r.error;
    stdout = r.stdout;
    const m = /solver_solve took (\d+) ms/.exec(r.stdout + r.stderr);
    const w = /createwhatprovides took (\d+) ms/.exec(r.stdout + r.stderr);
    // libsolv's solve proper: building the provider index + rule creation + search.
    if (m && w) solver.push(Number(m[1]) + Number(w[1]));
  }
  const installs = stdout.split('\n').filter((l) => l.startsWith('install ')).length;
  const problems = /^problem /m.test(stdout);
  return { wall: best(wall), wallMedian: median(wall), solver: best(solver), solverMedian: median(solver), installs, problems };
}

/**
 * One cold run in a fresh node process, as the CLI pays it: read the index
 * file, JSON.parse, prepare, solve (no warm-up, no JIT feedback).
 */
function coldRun(indexFile, requests) {
  const url = new URL('../dist/solve/solver.js', import.meta.url).href;
  const code = `
    const { readFileSync } = await import('node:fs');
    const { Universe, solve } = await import(${JSON.stringify(url)});
    const t0 = performance.now();
    const doc = JSON.parse(readFileSync(${JSON.stringify(indexFile)}, 'utf8'));
    const t1 = performance.now();
    const u = new Universe(doc.packages.map((meta) => ({ meta, repo: doc.name, priority: 0 })), 'x86_64');
    const t2 = performance.now();
    const cs = solve({ candidates: u, arch: 'x86_64', requests: ${JSON.stringify(requests)} });
    const t3 = performance.now();
    console.log(JSON.stringify({ load: t1 - t0, prepare: t2 - t1, solve: t3 - t2, n: cs.result.length }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`cold run failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * `minos plan SPEC --json` in a new process per run, on the instance signed
 * as a repository in `dir`; checks it installs `closure` packages.
 */
function timePlan(dir, inst, requests, runs, closure) {
  const key = generateKey(dir, 'bench');
  const secret = loadSecretKey(key.secretFile);
  const repo = join(dir, 'repo');
  mkdirSync(repo, { recursive: true });
  const bytes = canonicalBytes({ format: 1, name: 'main', serial: 1, created: '2026-01-01T00:00:00Z', expires: null, signer: secret.id, packages: inst.pkgs });
  writeFileSync(join(repo, 'index.json'), bytes);
  writeFileSync(join(repo, 'index.sig'), signBytes(bytes, secret));
  const spec = join(dir, 'plan.yaml');
  writeFileSync(spec, `name: bench\narch: x86_64\nrepositories:\n  - path: repo\n    keys: [${key.publicFile}]\npackages: ${JSON.stringify(requests)}\n`);
  const bin = new URL('../bin/minos.js', import.meta.url).pathname;
  const wall = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [bin, 'plan', spec, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    wall.push(performance.now() - t0);
    if (p.status !== 0) throw new Error(`minos plan failed: ${p.stderr}`);
    const n = JSON.parse(p.stdout).install.length;
    if (n !== closure) throw new Error(`minos plan installs ${n} packages, solve() ${closure}`);
  }
  return { best: best(wall), median: median(wall) };
}

/**
 * Run the benchmark; returns `{ title, columns, rows, notes }` (the table
 * bench/run.mjs prints) plus `data` (the measurements, milliseconds), and
 * prints the table unless `quiet`.
 */
export function runSolveBench({ runs = 5, quiet = false, keep } = {}) {
  const log = quiet ? () => {} : (...a) => console.log(...a);
  const loadBefore = loadavg();
  const inst = generateInstance();
  const index = JSON.stringify({ format: 1, name: 'main', serial: 1, created: '2026-01-01T00:00:00Z', expires: null, signer: 'bench', packages: inst.pkgs });

  // Pick a request: the leafmost applications until the closure reaches 1,000.
  const probe = new Universe(inst.pkgs.map((meta) => ({ meta, repo: 'main', priority: 0 })), 'x86_64');
  const requests = [];
  let closure = 0;
  for (let i = inst.names.length - 1; i >= 0 && closure < 1000; i--) {
    requests.push(inst.names[i]);
    if (requests.length % 5 === 0) closure = solve({ candidates: probe, arch: 'x86_64', requests }).result.length;
  }

  const m = { jsonParse: [], prepare: [], load: [], solveLazy: [], parseAll: [], solveEager: [], solveAgain: [], total: [] };
  let cs;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const doc = JSON.parse(index);
    const t1 = performance.now();
    const u = new Universe(doc.packages.map((meta) => ({ meta, repo: doc.name, priority: 0 })), 'x86_64');
    const t2 = performance.now();
    cs = solve({ candidates: u, arch: 'x86_64', requests });
    const t3 = performance.now();
    solve({ candidates: u, arch: 'x86_64', requests });
    const t4 = performance.now();
    const u2 = new Universe(doc.packages.map((meta) => ({ meta, repo: doc.name, priority: 0 })), 'x86_64');
    const t5 = performance.now();
    u2.parseAll();
    const t6 = performance.now();
    solve({ candidates: u2, arch: 'x86_64', requests });
    const t7 = performance.now();
    m.jsonParse.push(t1 - t0);
    m.prepare.push(t2 - t1);
    m.load.push(t2 - t0);
    m.solveLazy.push(t3 - t2);
    m.solveAgain.push(t4 - t3);
    m.parseAll.push(t6 - t5);
    m.solveEager.push(t7 - t6);
    m.total.push(t3 - t0);
  }
  const ours = {};
  for (const k of Object.keys(m)) ours[k] = { best: best(m[k]), median: median(m[k]) };

  let theirs;
  let cold;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'minos-bench-'));
  mkdirSync(dir, { recursive: true });
  try {
    const indexFile = join(dir, 'index.json');
    writeFileSync(indexFile, index);
    const c = [];
    for (let r = 0; r < runs; r++) c.push(coldRun(indexFile, requests));
    cold = {};
    for (const k of ['load', 'prepare', 'solve']) cold[k] = { best: best(c.map((x) => x[k])), median: median(c.map((x) => x[k])) };
    cold.plan = timePlan(dir, inst, requests, runs, cs.result.length);
    const have = spawnSync('testsolv', ['-h'], { encoding: 'utf8' }).error === undefined;
    if (have) {
      const tagsFile = join(dir, 'instance.t');
      writeFileSync(tagsFile, testtags(inst.pkgs, requests));
      const tags = timeTestsolv(tagsFile, runs);
      let solv;
      const have2 = spawnSync('deb2solv', ['-r'], { input: '' }).error === undefined;
      if (have2) {
        writeFileSync(join(dir, 'Packages'), packagesFile(inst.pkgs));
        const t0 = performance.now();
        const conv = spawnSync('sh', ['-c', `deb2solv -r < "${join(dir, 'Packages')}" > "${join(dir, 'instance.solv')}"`]);
        const convMs = performance.now() - t0;
        if (conv.status === 0) {
          const solvCase = ['repo system 0 testtags <inline>', `repo test 0 solv instance.solv`, 'system amd64 rpm system', ...requests.map((r) => `job install name ${r}`), 'result transaction,problems <inline>', ''].join('\n');
          const solvFile = join(dir, 'instance-solv.t');
          writeFileSync(solvFile, solvCase);
          solv = { ...timeTestsolv(solvFile, runs), convert: convMs };
        }
      }
      theirs = { tags, solv };
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }

  const s = inst.stats;
  const f = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : '—');
  const ts = theirs?.tags.solver;
  const row = (step, x, other, otherLabel = other) => [step, f(x.best), f(x.median), otherLabel === undefined ? '—' : f(otherLabel), other === undefined ? '' : ratio(x.best, other)];
  const rows = [
    row('index load: JSON.parse', ours.jsonParse, undefined),
    row('index load: prepare (deps parsed lazily)', ours.prepare, undefined),
    row('index load: JSON.parse + prepare (goal 300 ms)', ours.load, 300, 300),
    row('index load: prepare + parse every dep', { best: best(m.prepare.map((x, i) => x + m.parseAll[i])), median: median(m.prepare.map((x, i) => x + m.parseAll[i])) }, undefined),
    row('solve, parsing deps on first use (first solve)', ours.solveLazy, ts),
    row('solve, every dep parsed at load', ours.solveEager, ts),
    row('solve again on the same universe', ours.solveAgain, ts),
    row('whole run vs testtags (parse + solve)', ours.total, theirs?.tags.wall),
    row('whole run vs .solv (parse + solve)', ours.total, theirs?.solv?.wall),
    row('fresh process: read + JSON.parse', cold.load, undefined),
    row('fresh process: prepare', cold.prepare, undefined),
    row('fresh process: solve (cold JIT)', cold.solve, ts),
    row('minos plan, end to end, vs testsolv on testtags', cold.plan, theirs?.tags.wall),
  ];
  const notes = [
    `instance: ${s.packages} packages, ${s.names} names, ${(s.clauses / s.packages).toFixed(2)} dependency clauses/package, ` +
      `${((100 * s.altClauses) / s.clauses).toFixed(1)}% with alternatives; request: ${requests.length} packages, closure ${cs.result.length} ` +
      `(${cs.stats.mentioned} packages mentioned, ${cs.stats.expanded} expanded, ${cs.stats.clauses} clauses, ${cs.stats.decisions} decisions, ${cs.stats.conflicts} conflicts; ` +
      `last solve: build ${cs.stats.buildMs.toFixed(1)} ms, search ${cs.stats.searchMs.toFixed(1)} ms)`,
    theirs
      ? `testsolv answers: testtags ${theirs.tags.problems ? 'PROBLEM' : `${theirs.tags.installs} installs`}` +
        (theirs.solv ? `, .solv ${theirs.solv.problems ? 'PROBLEM' : `${theirs.solv.installs} installs`} (deb2solv conversion ${f(theirs.solv.convert)}, not counted)` : '') +
        `; testsolv solve = createwhatprovides + solver_solve from -v (provider index, rule creation, search), best ${f(theirs.tags.solver)}, median ${f(theirs.tags.solverMedian)}`
      : 'testsolv not found (apt-get install libsolv-tools): no comparison',
    `${runs} runs each, wall clock; ratios use the best run (the least disturbed by other load); load average before ${loadBefore}, after ${loadavg()}`,
    'fresh process rows: a new node process per run reading the index file (what one CLI invocation pays; node start-up not counted)',
    '"minos plan, end to end": the CLI on a signed repository of the instance (node start-up, read, signature, canonical form and entry checks, prepare, solve, print), against testsolv\'s whole run on the testtags file (start-up, parse, solve, print)',
  ];
  const columns = ['step', 'minos best', 'minos median', 'testsolv / goal', 'ratio (best)'];
  const table = { title: `resolver: ${s.packages} packages, closure ${cs.result.length} vs libsolv testsolv`, columns, rows, notes };
  if (!quiet) {
    const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => String(r[i]).length)));
    log(`\n${table.title}\n`);
    log(columns.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
    for (const r of rows) log(r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '));
    log('');
    for (const n of notes) log(n);
  }
  return { ...table, data: { instance: s, requests: requests.length, closure: cs.result.length, stats: cs.stats, ours, cold, theirs } };
}

function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
  const keep = args.includes('--keep') ? args[args.indexOf('--keep') + 1] : undefined;
  runSolveBench({ runs, keep });
}
