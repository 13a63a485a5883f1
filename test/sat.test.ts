/**
 * The SAT solver's lazy variables (Sat.addVar(true), Expander, addLive)
 * against the same clauses given up front: on random problems where every
 * clause of variable v contains ¬v, both must agree on satisfiability; a
 * lazy model must satisfy every clause, expanded or not; a lazy refutation's
 * core must itself be unsatisfiable.
 */
import t from 'tap';
import { checkClauses, scanDecider } from '../src/solve/clauses.js';
import { Sat } from '../src/solve/sat.js';
import type { Expander } from '../src/solve/sat.js';
import { prng } from './lib/prng.js';

interface Problem {
  nVars: number;
  /** clausesOf[v]: v's clauses, each with ¬v first; variable 0's are asserted by the unit clause [0]. */
  clausesOf: number[][][];
}

function generate(seed: number): Problem {
  const rnd = prng(seed);
  const nVars = 4 + Math.floor(rnd() * 40);
  const clausesOf: number[][][] = [];
  for (let v = 0; v < nVars; v++) {
    const cs: number[][] = [];
    const k = v === 0 ? 1 + Math.floor(rnd() * 3) : Math.floor(rnd() * 4);
    for (let i = 0; i < k; i++) {
      const c = [(v << 1) | 1];
      const len = Math.floor(rnd() * 4);
      for (let j = 0; j < len; j++) {
        const w = 1 + Math.floor(rnd() * (nVars - 1));
        c.push((w << 1) | (rnd() < 0.35 ? 1 : 0));
      }
      cs.push(c);
    }
    clausesOf.push(cs);
  }
  return { nVars, clausesOf };
}

function satisfied(clause: readonly number[], value: (v: number) => number): boolean {
  return clause.some((l) => (value(l >> 1) === 1) === ((l & 1) === 0));
}

t.test('lazy expansion agrees with the clauses given up front', async (t) => {
  let sat = 0;
  let unsat = 0;
  let expandedConflicts = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const p = generate(seed);
    const all = [[0], ...p.clausesOf.flat()];

    const eager = new Sat(p.nVars);
    for (const c of all) eager.addClause(c);
    const eagerOk = eager.solve(scanDecider(all));

    const added: number[][] = [];
    let lazy: Sat;
    const expander: Expander = {
      expand(v: number): number {
        let confl = -1;
        for (const c of p.clausesOf[v]) {
          added.push(c);
          const x = lazy.addLive(c, 0, c.length);
          if (confl < 0) confl = x;
        }
        if (confl >= 0) expandedConflicts++;
        return confl;
      },
    };
    lazy = new Sat(0, 0, 0, expander);
    lazy.addVar(false);
    for (let v = 1; v < p.nVars; v++) lazy.addVar(true);
    for (const c of [[0], ...p.clausesOf[0]]) {
      added.push(c);
      lazy.addClause(c);
    }
    const lazyOk = lazy.solve(scanDecider(added));

    if (lazyOk !== eagerOk) {
      t.fail(`seed ${seed}: lazy ${lazyOk}, eager ${eagerOk}`);
      continue;
    }
    if (lazyOk) {
      sat++;
      const bad = all.filter((c) => !satisfied(c, (v) => lazy.value(v)));
      if (bad.length) t.fail(`seed ${seed}: lazy model breaks ${JSON.stringify(bad)}`);
    } else {
      unsat++;
      const core = lazy.core().map((i) => added[i]);
      if (checkClauses(p.nVars, core).sat) t.fail(`seed ${seed}: lazy core is satisfiable`);
    }
  }
  t.ok(sat > 300 && unsat > 300, `both kinds of problems: ${sat} satisfiable, ${unsat} not`);
  t.ok(expandedConflicts > 100, `expansions that meet a falsified clause: ${expandedConflicts}`);
});

t.test('a lazy variable is expanded when it becomes true, and its clauses then propagate', async (t) => {
  // Variables: 0 (root), 1 (lazy), 2, 3. The root needs 1; expanding 1 adds [¬1 ∨ 2].
  let s: Sat;
  const expander: Expander = { expand: (v) => (v === 1 ? s.addLive([3, 4], 0, 2) : -1) };
  s = new Sat(0, 0, 0, expander);
  for (let v = 0; v < 4; v++) s.addVar(v === 1);
  t.notOk(s.isExpanded(1), '1 waits for expansion');
  s.addClause([0]);
  s.addClause([1, 2]);
  t.ok(s.solve({ decide: () => -1 }), 'satisfiable');
  t.ok(s.isExpanded(1) && s.value(1) === 1, 'the root needs 1, which was expanded');
  t.equal(s.value(2), 1, '1 needs 2');
  t.equal(s.value(3), 0, '3 is left alone');
  t.ok(s.addLive([3, 5], 0, 2) >= 0, 'a clause whose every literal is false is reported: [¬1 ∨ ¬2]');
  t.throws(() => s.addLive([6, 3], 0, 2), /first literal/, 'addLive insists on the expanded variable first');
});
