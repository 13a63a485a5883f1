/**
 * A small CDCL SAT solver (minisat-style): two watched literals, first-UIP
 * clause learning, non-chronological backjumping. Decisions are delegated to a
 * Decider, so the caller's preferences (newest version, fewest packages…)
 * decide *which* model is found while learning keeps the search complete.
 * Clause storage and the assignment are in satclauses.ts (SatClauses, which
 * Sat extends); the search (propagation, conflict analysis, backjumping) and
 * core() are here.
 *
 * Literals are integers: `2*v` is variable v, `2*v+1` its negation. Variables
 * the decider leaves unassigned are false in the model; the decider must only
 * report "done" when that completion satisfies every clause (see Decider).
 *
 * Lazy variables (addVar(true)) have clauses that are only needed once the
 * variable is true: every one of them contains its negation. The first time
 * propagation meets such a variable true, the Expander adds them (addLive),
 * so a search touches only the part of a large problem it makes true.
 *
 * When the clauses are unsatisfiable, `core()` returns the ids of original
 * clauses whose conjunction is unsatisfiable (from the recorded resolution
 * proof), which the explainer minimises and renders.
 */
import { SatClauses } from './satclauses.js';

export type { Expander } from './satclauses.js';

/** Chooses the next decision. */
export interface Decider {
  /**
   * A currently unassigned literal to make true, or -1 when the assignment
   * extended with "every unassigned variable is false" satisfies all clauses.
   */
  decide(sat: Sat): number;
  /** Called after the solver undid every level above `level`. */
  backtrack?(level: number): void;
}

export class Sat extends SatClauses {
  private enqueue(l: number, reason: number): void {
    const v = l >> 1;
    this.litVal[l] = 1;
    this.litVal[l ^ 1] = -1;
    this.level[v] = this.trailLim.length;
    this.reason[v] = reason;
    this.trail[this.trailLen++] = l;
  }

  /**
   * Unit propagation; returns a falsified clause id or -1. A watched clause
   * keeps its two watched literals at arena positions 0 and 1; slot 2c+k
   * watches position k. A lazy variable met true is expanded first.
   */
  private propagate(): number {
    let arena = this.arena;
    let litVal = this.litVal;
    let wHead = this.wHead;
    let wNext = this.wNext;
    let cStart = this.cStart;
    let cLen = this.cLen;
    while (this.qhead < this.trailLen) {
      const t = this.trail[this.qhead++];
      if ((t & 1) === 0 && this.lazy[t >> 1] === 1) {
        this.lazy[t >> 1] = 0;
        const confl = this.expander!.expand(t >> 1);
        if (confl >= 0) return confl;
        arena = this.arena;
        litVal = this.litVal;
        wHead = this.wHead;
        wNext = this.wNext;
        cStart = this.cStart;
        cLen = this.cLen;
      }
      const falseLit = t ^ 1;
      let prev = -1;
      let slot = wHead[falseLit];
      while (slot >= 0) {
        const next = wNext[slot];
        const c = slot >> 1;
        const k = slot & 1;
        const s = cStart[c];
        const other = arena[s + 1 - k];
        if (litVal[other] === 1) {
          prev = slot;
          slot = next;
          continue;
        }
        const end = s + cLen[c];
        let moved = false;
        for (let j = s + 2; j < end; j++) {
          const l = arena[j];
          if (litVal[l] !== -1) {
            arena[s + k] = l;
            arena[j] = falseLit;
            // Unlink from falseLit's list, link into l's.
            if (prev < 0) wHead[falseLit] = next;
            else wNext[prev] = next;
            wNext[slot] = wHead[l];
            wHead[l] = slot;
            moved = true;
            break;
          }
        }
        if (moved) {
          slot = next;
          continue;
        }
        if (litVal[other] === -1) return c;
        this.enqueue(other, c);
        prev = slot;
        slot = next;
      }
    }
    return -1;
  }

  private cancelUntil(level: number, decider: Decider): void {
    if (this.trailLim.length <= level) return;
    const lim = this.trailLim[level];
    for (let i = this.trailLen - 1; i >= lim; i--) {
      const l = this.trail[i];
      this.litVal[l] = 0;
      this.litVal[l ^ 1] = 0;
      this.reason[l >> 1] = -1;
    }
    this.trailLen = lim;
    this.qhead = lim;
    this.trailLim.length = level;
    decider.backtrack?.(level);
  }

  /** First-UIP analysis of a conflict above level 0. */
  private analyze(confl: number): { learnt: number[]; btLevel: number; antecedents: number[] } {
    const seen = this.seen;
    const learnt: number[] = [-1];
    const antecedents: number[] = [];
    const cur = this.trailLim.length;
    let pathC = 0;
    let p = -1;
    let idx = this.trailLen - 1;
    let c = confl;
    const touched: number[] = [];
    for (;;) {
      antecedents.push(c);
      const s = this.cStart[c];
      const e = s + this.cLen[c];
      for (let k = s; k < e; k++) {
        const q = this.arena[k];
        if (q === p) continue;
        const v = q >> 1;
        if (seen[v] || this.level[v] === 0) continue;
        seen[v] = 1;
        touched.push(v);
        if (this.level[v] === cur) pathC++;
        else learnt.push(q);
      }
      while (!seen[this.trail[idx] >> 1]) idx--;
      p = this.trail[idx];
      idx--;
      seen[p >> 1] = 0;
      pathC--;
      if (pathC <= 0) break;
      c = this.reason[p >> 1];
    }
    learnt[0] = p ^ 1;
    for (const v of touched) seen[v] = 0;
    let btLevel = 0;
    if (learnt.length > 1) {
      let maxI = 1;
      for (let k = 2; k < learnt.length; k++) if (this.level[learnt[k] >> 1] > this.level[learnt[maxI] >> 1]) maxI = k;
      const t = learnt[1];
      learnt[1] = learnt[maxI];
      learnt[maxI] = t;
      btLevel = this.level[learnt[1] >> 1];
    }
    return { learnt, btLevel, antecedents };
  }

  /**
   * Search for a model. Returns true when one is found (read it with value();
   * unassigned variables are false), false when the clauses are unsatisfiable
   * (then core() explains why). `maxConflicts` bounds the work; exceeding it
   * throws.
   */
  solve(decider: Decider, maxConflicts = Infinity): boolean {
    this.started = true;
    for (const c of this.pendingUnits) {
      if (this.cLen[c] === 0) {
        this.conflictClause = c;
        return false;
      }
      const l = this.arena[this.cStart[c]];
      if (this.litVal[l] === -1) {
        this.conflictClause = c;
        return false;
      }
      if (this.litVal[l] === 0) this.enqueue(l, c);
    }
    for (;;) {
      const confl = this.propagate();
      if (confl >= 0) {
        this.conflicts++;
        if (this.trailLim.length === 0) {
          this.conflictClause = confl;
          return false;
        }
        if (this.conflicts > maxConflicts) throw new Error('conflict budget exceeded');
        const { learnt, btLevel, antecedents } = this.analyze(confl);
        this.cancelUntil(btLevel, decider);
        const c = this.store(learnt);
        this.proof[c] = Int32Array.from(antecedents);
        if (learnt.length >= 2) this.watch(c);
        this.enqueue(learnt[0], c);
        continue;
      }
      const d = decider.decide(this);
      if (d < 0) return true;
      if (this.litVal[d] !== 0) throw new Error(`decider chose an assigned literal ${d}`);
      this.decisions++;
      this.trailLim.push(this.trailLen);
      this.enqueue(d, -1);
    }
  }

  /**
   * After solve() returned false: ids of original clauses that are together
   * unsatisfiable (not necessarily minimal), ascending.
   */
  core(): number[] {
    if (this.conflictClause < 0) throw new Error('core() without a refutation');
    const inCore = new Uint8Array(this.nClauses);
    const stack = [this.conflictClause];
    inCore[this.conflictClause] = 1;
    const out: number[] = [];
    while (stack.length) {
      const c = stack.pop()!;
      if (this.orig[c] >= 0) out.push(this.orig[c]);
      else for (const a of this.proof[c]) push(a);
      const s = this.cStart[c];
      for (let k = s; k < s + this.cLen[c]; k++) {
        const v = this.arena[k] >> 1;
        if (this.litVal[this.arena[k]] !== 0 && this.level[v] === 0 && this.reason[v] >= 0) push(this.reason[v]);
      }
    }
    return out.sort((a, b) => a - b);
    function push(c: number): void {
      if (!inCore[c]) {
        inCore[c] = 1;
        stack.push(c);
      }
    }
  }
}
