/**
 * Differential test against libsolv's testsolv: many small random
 * repositories, each solved by minos and by testsolv; both must agree on
 * whether the request can be satisfied, and every minos answer (and every
 * testsolv answer) must pass the independent checker.
 *
 * This libsolv build (Debian's libsolv-tools) only has rpm semantics
 * ("could not change disttype to 'debian'"), so the repositories are written
 * as testtags with an encoding that keeps Debian's meaning:
 * - versions are drawn from a set where rpm and dpkg order agree;
 * - an unversioned provide `v` becomes the provide `v.unv`, and every
 *   unversioned dependency or conflict on `v` also names `v.unv` (rpm would
 *   let a bare provide satisfy `v >= 2`; Debian does not);
 * - the request is the Requires of a root package `zzroot`.
 *
 * 150 cases by default; MINOS_FULL=1 runs 2,000.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { isMinosError } from '../src/errors.js';
import { solve } from '../src/solve/solver.js';
import type { Candidate } from '../src/solve/solver.js';
import { checkSolution } from './lib/checksolution.js';
import type { CheckLocator } from './lib/checksolution.js';
import { meta } from './lib/solvefixture.js';
import { prng } from './lib/prng.js';

const CASES = process.env.MINOS_FULL ? 2000 : 150;
const VERSIONS = ['1', '1.5', '2', '3'];
const OPS = ['=', '<', '<=', '>', '>='];

interface Case { candidates: Candidate[]; requests: string[] }

function generate(seed: number): Case {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  // Mostly tiny repositories; every tenth case a larger one to exercise learning.
  const nNames = seed % 10 === 0 ? 20 + Math.floor(rnd() * 30) : 3 + Math.floor(rnd() * 8);
  const names = Array.from({ length: nNames }, (_, i) => `p${i}`);
  const virtuals = ['v0', 'v1', 'v2'];
  const target = (): string => (rnd() < 0.75 ? pick(names) : pick(virtuals));
  const desc = (allowVersion = true): string => {
    const n = target();
    return allowVersion && rnd() < 0.4 ? `${n} ${pick(OPS)} ${pick(VERSIONS)}` : n;
  };
  const candidates: Candidate[] = [];
  for (const name of names) {
    const vs = [...VERSIONS].sort(() => rnd() - 0.5).slice(0, 1 + Math.floor(rnd() * 3));
    for (const version of vs) {
      const arch = rnd() < 0.7 ? 'x86_64' : rnd() < 0.8 ? 'noarch' : 'aarch64';
      const depends: string[] = [];
      const nd = Math.floor(rnd() * 3.2);
      for (let i = 0; i < nd; i++) depends.push(rnd() < 0.2 ? `${desc()} | ${desc()}` : desc());
      const provides: string[] = [];
      if (rnd() < 0.25) provides.push(rnd() < 0.5 ? `${pick(virtuals)} = ${pick(VERSIONS)}` : pick(virtuals));
      const conflicts: string[] = [];
      if (rnd() < 0.15) conflicts.push(desc());
      candidates.push({ meta: meta(name, version, arch, { depends, provides, conflicts }), repo: 'test', priority: 0 });
    }
  }
  const requests: string[] = [];
  const nr = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < nr; i++) requests.push(rnd() < 0.3 ? desc() : pick(names));
  return { candidates, requests };
}

/** libsolv spelling of one alternative under the Debian-preserving encoding. */
function alt(s: string): string {
  const m = /^\s*(\S+)\s*(?:(\S+)\s+(\S+))?\s*$/.exec(s)!;
  return m[2] ? `${m[1]} ${m[2]} ${m[3]}` : `${m[1]} | ${m[1]}.unv`;
}

function testcase(c: Case): string {
  const out = ['repo system 0 testtags <inline>', 'repo test 0 testtags <inline>'];
  const pkg = (name: string, version: string, arch: string, depends: string[], provides: string[], conflicts: string[]): void => {
    out.push(`#>=Pkg: ${name} ${version} - ${arch}`);
    for (const d of depends) out.push(`#>=Req: ${d.split('|').map(alt).join(' | ')}`);
    for (const p of provides) out.push(`#>=Prv: ${p.includes('=') ? p : `${p}.unv`}`);
    for (const k of conflicts) {
      if (/[<>=]/.test(k)) out.push(`#>=Con: ${k}`);
      else out.push(`#>=Con: ${k}`, `#>=Con: ${k}.unv`);
    }
  };
  for (const { meta: m } of c.candidates) pkg(m.name, m.version, m.arch, m.depends, m.provides, m.conflicts);
  pkg('zzroot', '1', 'noarch', c.requests, [], []);
  out.push('system x86_64 rpm system', 'job install name zzroot', 'result transaction,problems <inline>', '');
  return out.join('\n');
}

const haveTestsolv = spawnSync('testsolv', ['-h'], { encoding: 'utf8' }).error === undefined;
t.ok(haveTestsolv, 'testsolv is installed (make test installs libsolv-tools)');
const dir = mkdtempSync(join(tmpdir(), 'minos-diff-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('minos agrees with testsolv on random repositories', { skip: haveTestsolv ? false : 'testsolv not installed (apt-get install libsolv-tools)' }, async (t) => {
  let sat = 0;
  let unsat = 0;
  let disagreements = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const c = generate(seed);
    const file = join(dir, `case${seed}.t`);
    writeFileSync(file, testcase(c));
    const r = spawnSync('testsolv', ['-r', file], { encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 1) throw new Error(`testsolv failed on seed ${seed}: ${r.stderr}`);
    const libsolvSat = !/^problem /m.test(r.stdout);

    let minosSat: boolean;
    let result: CheckLocator[] = [];
    try {
      result = solve({ candidates: c.candidates, arch: 'x86_64', requests: c.requests }).result;
      minosSat = true;
    } catch (e) {
      if (!isMinosError(e) || (e.code !== 'MN0301' && e.code !== 'MN0302')) throw e;
      minosSat = false;
    }
    if (minosSat !== libsolvSat) {
      disagreements++;
      t.fail(`seed ${seed}: minos ${minosSat ? 'solved' : 'failed'}, testsolv ${libsolvSat ? 'solved' : 'failed'}\n${testcase(c)}\n${r.stdout}`);
      continue;
    }
    if (minosSat) {
      sat++;
      const errs = checkSolution(c.candidates, result, 'x86_64', { requests: c.requests });
      if (errs.length) t.fail(`seed ${seed}: minos answer fails the checker: ${errs.join('; ')}`);
      // libsolv's own answer must pass the checker too (validates the encoding).
      const theirs: CheckLocator[] = [];
      for (const line of r.stdout.split('\n')) {
        const m = /^install (\S+)-([^-]+)\.([a-z0-9_]+)@test$/.exec(line.trim());
        if (m && m[1] !== 'zzroot') theirs.push({ name: m[1], version: m[2], arch: m[3], repo: 'test' });
      }
      if (theirs.length === 0) t.fail(`seed ${seed}: could not read testsolv's answer:\n${r.stdout}`);
      const errs2 = checkSolution(c.candidates, theirs, 'x86_64', { requests: c.requests });
      if (errs2.length) t.fail(`seed ${seed}: testsolv answer fails the checker: ${errs2.join('; ')}`);
    } else {
      unsat++;
    }
  }
  t.equal(disagreements, 0, `${CASES} cases: ${sat} satisfiable, ${unsat} not`);
  t.ok(sat > CASES / 5 && unsat > CASES / 20, 'the generator makes both kinds of cases');
});
