/**
 * Resolver fixtures: test/fixtures/solve/*.txt (format in test/lib/solvefixture.ts).
 * Every successful answer is also validated by the independent checker and
 * must not change when the candidates and installed packages are shuffled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isMinosError } from '../src/errors.js';
import { solve } from '../src/solve/solver.js';
import type { Changeset, Locator } from '../src/solve/solver.js';
import { checkSolution } from './lib/checksolution.js';
import { parseFixture, shuffled } from './lib/solvefixture.js';

const dir = join(import.meta.dirname, 'fixtures', 'solve');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

function fmt(l: Locator, withRepo: boolean): string {
  return `${l.name}=${l.version}${withRepo ? `@${l.repo}` : ''}`;
}

/** Compare actual locators with expected tokens NAME[=VERSION[@REPO]]. */
function same(actual: Locator[], expected: string[]): { got: string[]; want: string[] } {
  const want = [...expected].sort();
  const got = actual.map((l, i) => {
    const e = expected[i] ?? '';
    const withVersion = e.includes('=') || expected.some((x) => x.includes('='));
    const withRepo = expected.some((x) => x.includes('@'));
    return withVersion ? fmt(l, withRepo) : l.name;
  }).sort();
  return { got, want };
}

t.test('fixtures exist', async (t) => {
  t.ok(files.length >= 40, `${files.length} fixtures`);
});

for (const file of files) {
  t.test(file, async (t) => {
    const fx = parseFixture(file, readFileSync(join(dir, file), 'utf8'));
    const { expect } = fx;
    if (expect.error) {
      let err: unknown;
      try {
        solve(fx.request);
      } catch (e) {
        err = e;
      }
      t.ok(isMinosError(err), `${fx.description}: fails with a MinosError`);
      if (!isMinosError(err)) {
        t.fail(`no error: ${String(err)}`);
        return;
      }
      t.equal(err.code, expect.error.code, 'error code');
      if (expect.error.text) t.match(err.message, expect.error.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') ? new RegExp(expect.error.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : '', 'message');
      if (expect.hint) t.match(err.hint ?? '', new RegExp(expect.hint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'hint');
      if (err.code === 'MN0301') {
        const problem = (err.data as { problem: { facts: unknown[]; lines: string[] } }).problem;
        t.ok(problem.facts.length > 0 && problem.lines.length === problem.facts.length, 'structured explanation');
      }
      // Same error whatever the input order.
      for (const seed of [1, 2, 3]) {
        try {
          solve({ ...fx.request, candidates: shuffled(fx.request.candidates, seed), installed: shuffled(fx.request.installed, seed) });
          t.fail('shuffled input solved');
        } catch (e) {
          t.equal((e as Error).message, err.message, `same message, shuffle ${seed}`);
        }
      }
      return;
    }
    const cs: Changeset = solve(fx.request);
    if (expect.result) {
      const r = same(cs.result, expect.result);
      t.strictSame(r.got, r.want, `${fx.description}: result`);
    }
    if (expect.install) {
      const r = same(cs.install, expect.install);
      t.strictSame(r.got, r.want, 'install');
    }
    if (expect.remove) {
      const r = same(cs.remove, expect.remove);
      t.strictSame(r.got, r.want, 'remove');
    }
    if (expect.upgrade) {
      t.strictSame(cs.upgrade.map((u) => `${u.to.name}=${u.from.version}->${u.to.version}`).sort(), [...expect.upgrade].sort(), 'upgrade');
    }
    const candidates = [...fx.request.candidates];
    for (const l of cs.result) {
      if (l.repo === '@installed') candidates.push({ meta: { name: l.name, version: l.version, arch: l.arch as 'x86_64', summary: '', license: '', depends: [], provides: [], conflicts: [], replaces: [], optional: [], builddate: 0, installedSize: 0 }, repo: l.repo, priority: 0 });
    }
    const keep = fx.request.autoremove ? [] : fx.request.installed.map((i) => i.name).filter((n) => !(fx.request.remove ?? []).includes(n));
    t.strictSame(checkSolution(candidates, cs.result, fx.request.arch, { requests: [...fx.request.requests], remove: [...(fx.request.remove ?? [])], keep }), [], 'independent check');
    for (const seed of [1, 2, 3]) {
      const again = solve({ ...fx.request, candidates: shuffled(fx.request.candidates, seed), installed: shuffled(fx.request.installed, seed) });
      t.strictSame(again.result, cs.result, `deterministic under shuffle ${seed}`);
    }
  });
}

t.test('explanations name the Debian field a relation came from', async (t) => {
  const deb = (name: string, version: string, f: { pre?: string[]; depends?: string[]; breaks?: string[]; conflicts?: string[] } = {}) => ({
    repo: 'debian', priority: 0,
    meta: {
      name, version, arch: 'x86_64' as const, summary: '', license: '', provides: [], replaces: [], optional: [], builddate: 0, installedSize: 0,
      depends: [...(f.pre ?? []), ...(f.depends ?? [])], conflicts: [...(f.conflicts ?? []), ...(f.breaks ?? [])],
      debian: { preDepends: f.pre ?? [], breaks: f.breaks ?? [], recommends: [], essential: false, priority: 'optional', multiArch: '', debArch: 'amd64', section: '', source: '' },
    },
  });
  const fails = (candidates: ReturnType<typeof deb>[], requests: string[]) => {
    try {
      solve({ arch: 'x86_64', candidates, requests });
    } catch (e) {
      return (e as Error).message;
    }
    return 'solved';
  };
  t.match(fails([deb('app', '1', { pre: ['libx >= 2'] }), deb('libx', '1')], ['app']), /app 1 pre-depends on libx >= 2/);
  t.match(fails([deb('app', '1', { depends: ['libx >= 2'] }), deb('libx', '1')], ['app']), /app 1 depends on libx >= 2/);
  t.match(fails([deb('a', '1', { breaks: ['b'] }), deb('b', '1')], ['a', 'b']), /a 1 breaks b/);
  t.match(fails([deb('a', '1', { conflicts: ['b'] }), deb('b', '1')], ['a', 'b']), /a 1 conflicts with b/);
});
