/**
 * Small clause sets solved outright (the explainer's core minimisation,
 * tests): a decider that scans the clauses, and a satisfiability check.
 */
import { Sat, type Decider } from './sat.js';

/**
 * The decider for clause sets whose completion argument holds for any
 * clause: pick the first clause with no true literal, no negative literal on
 * an unassigned variable, and decide its first unassigned positive literal.
 * O(clauses) per decision: for small sets (core minimisation, tests).
 */
export function scanDecider(clauses: readonly (readonly number[])[]): Decider {
  return {
    decide(sat: Sat): number {
      for (const c of clauses) {
        let pending = true;
        let choice = -1;
        for (const l of c) {
          const val = sat.litVal[l];
          if (val === 1) {
            pending = false;
            break;
          }
          if (val === 0) {
            if (l & 1) {
              pending = false;
              break;
            }
            if (choice < 0) choice = l;
          }
        }
        if (pending && choice >= 0) return choice;
      }
      return -1;
    },
  };
}

/** Is the conjunction of these clauses satisfiable? Returns a core when not. */
export function checkClauses(nVars: number, clauses: readonly (readonly number[])[]): { sat: boolean; core: number[] } {
  const s = new Sat(nVars);
  for (const c of clauses) s.addClause(c);
  const ok = s.solve(scanDecider(clauses));
  return { sat: ok, core: ok ? [] : s.core() };
}
