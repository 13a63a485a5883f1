/**
 * A small CDCL SAT solver (minisat-style): two watched literals, first-UIP
 * clause learning, non-chronological backjumping. Decisions are delegated to a
 * Decider, so the caller's preferences (newest version, fewest packages…)
 * decide *which* model is found while learning keeps the search complete.
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
import { grown } from './grow.js';

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

/** Adds the clauses of a lazy variable (see addVar) when it first becomes true. */
export interface Expander {
  /**
   * Add variable v's clauses with addLive; returns the first clause addLive
   * reported falsified, or -1.
   */
  expand(v: number): number;
}

export class Sat {
  nVars = 0;
  /** Per literal: 1 true, -1 false, 0 unassigned. */
  litVal: Int8Array;
  level: Int32Array;
  reason: Int32Array;
  trail: Int32Array;
  trailLen = 0;
  private qhead = 0;
  private readonly trailLim: number[] = [];

  private arena: Int32Array;
  private arenaLen = 0;
  private cStart: Int32Array;
  private cLen: Int32Array;
  private nClauses = 0;
  /** Per clause: its number among the original clauses (dense, in the order added), or -1 when learned. */
  private orig: Int32Array;
  private nOriginal = 0;
  private started = false;
  /**
   * Watch lists as linked lists in typed arrays (no per-literal arrays): slot
   * 2c+k is clause c watching one of its first two literals; wHead[lit] is
   * the first slot watching lit, wNext[slot] the next one (-1 ends).
   */
  private wHead: Int32Array;
  private wNext: Int32Array;
  /** Antecedents of each learned clause, by clause id. */
  private readonly proof: Int32Array[] = [];
  /** Per variable: 1 while its clauses wait for the Expander. */
  private lazy: Uint8Array;
  private expander: Expander | undefined;
  /** Clauses that are empty or unit and must be asserted at level 0. */
  private readonly pendingUnits: number[] = [];
  private conflictClause = -1;
  private seen: Uint8Array;
  private litStamp: Int32Array;
  private stampNo = 0;
  /** Number of conflicts met so far (statistics and budgets). */
  conflicts = 0;
  decisions = 0;

  /**
   * `nVars` variables (more may be added with addVar); `clauses` and `lits`:
   * expected original clauses and their literals (room is reserved; more may
   * be added).
   */
  constructor(nVars: number, clauses = 0, lits = 0, expander?: Expander) {
    const room = Math.max(256, clauses + (clauses >> 3));
    this.arena = new Int32Array(Math.max(1024, lits + (lits >> 3)));
    this.cStart = new Int32Array(room);
    this.cLen = new Int32Array(room);
    this.orig = new Int32Array(room);
    this.wNext = new Int32Array(2 * room);
    const cap = Math.max(16, nVars);
    this.litVal = new Int8Array(2 * cap);
    this.level = new Int32Array(cap);
    this.reason = new Int32Array(cap).fill(-1);
    this.trail = new Int32Array(cap);
    this.wHead = new Int32Array(2 * cap).fill(-1);
    this.seen = new Uint8Array(cap);
    this.litStamp = new Int32Array(2 * cap);
    this.lazy = new Uint8Array(cap);
    this.nVars = nVars;
    this.expander = expander;
  }

  /**
   * A new variable (numbered from nVars up). A lazy one's clauses are added by
   * the Expander when propagation first finds it true; every one of them must
   * contain the variable's negation, so leaving them out while it is false or
   * unassigned changes no model and no refutation.
   */
  addVar(lazy = false): number {
    const v = this.nVars;
    if (v === this.level.length) this.growVars(2 * v);
    this.lazy[v] = lazy ? 1 : 0;
    this.nVars = v + 1;
    return v;
  }

  private growVars(cap: number): void {
    this.litVal = grown(this.litVal, 2 * cap);
    this.seen = grown(this.seen, cap);
    this.lazy = grown(this.lazy, cap);
    this.level = grown(this.level, cap);
    this.reason = grown(this.reason, cap, -1);
    this.trail = grown(this.trail, cap);
    this.wHead = grown(this.wHead, 2 * cap, -1);
    this.litStamp = grown(this.litStamp, 2 * cap);
  }

  get decisionLevel(): number {
    return this.trailLim.length;
  }

  /** Value of variable v: 1 true, -1 false, 0 unassigned. */
  value(v: number): number {
    return this.litVal[v << 1];
  }

  get clauseCount(): number {
    return this.nClauses;
  }

  /** Literals of clause c (a copy; watched clauses are reordered in place). */
  clause(c: number): number[] {
    return Array.from(this.arena.subarray(this.cStart[c], this.cStart[c] + this.cLen[c]));
  }

  /**
   * Add an original clause before solve(): the literals lits[from, to).
   * Duplicate literals are dropped. Returns its number among the original
   * clauses (dense from 0, in the order of addClause and addLive calls):
   * what core() returns.
   */
  addClause(lits: ArrayLike<number>, from = 0, to = lits.length): number {
    if (this.started) throw new Error('addClause after solve');
    const c = this.copyIn(lits, from, to);
    if (this.cLen[c] >= 2) {
      this.watch(c);
    } else {
      this.pendingUnits.push(c);
    }
    return this.orig[c];
  }

  /**
   * Add an original clause during the search, from Expander.expand(v):
   * the literals lits[from, to), where lits[from] is ¬v. The watched
   * literals are the best two (true, then unassigned, then false at the
   * highest level, ¬v first among equals), so the watch invariant holds
   * after any backjump. A clause left with one unassigned literal watches
   * ¬v, whose watchers propagation walks right after expand returns: it is
   * implied then, in the order it would have been had every clause been
   * given up front (newest watcher first). Returns the clause's internal id
   * when every literal is false (a conflict for propagation to report),
   * else -1.
   */
  addLive(lits: ArrayLike<number>, from: number, to: number): number {
    const c = this.copyIn(lits, from, to);
    const n = this.cLen[c];
    const a = this.arena;
    const s = this.cStart[c];
    const neg = a[s];
    if (this.litVal[neg] !== -1) throw new Error('addLive: the first literal must be the expanded variable\'s negation');
    for (let k = 0; k < 2 && k < n; k++) {
      let best = s + k;
      let rank = this.rank(a[best], neg);
      for (let j = best + 1; j < s + n; j++) {
        const r = this.rank(a[j], neg);
        if (r > rank) {
          best = j;
          rank = r;
        }
      }
      const t = a[s + k];
      a[s + k] = a[best];
      a[best] = t;
    }
    if (n === 1) return c;
    this.watch(c);
    return this.litVal[a[s]] === -1 ? c : -1;
  }

  /** Has variable v no clauses waiting for the Expander (not lazy, or expanded already)? */
  isExpanded(v: number): boolean {
    return this.lazy[v] === 0;
  }

  /** Watch preference of a literal in addLive, whose clause's first literal is `neg`. */
  private rank(l: number, neg: number): number {
    const x = this.litVal[l];
    if (x === 1) return 0x7ffffffe;
    if (x === 0) return 0x7ffffffd;
    return 2 * this.level[l >> 1] + (l === neg ? 1 : 0);
  }

  /** Store an original clause, duplicates dropped; returns its internal id. */
  private copyIn(lits: ArrayLike<number>, from: number, to: number): number {
    const stamp = ++this.stampNo;
    const c = this.nClauses;
    this.begin(to - from);
    let n = 0;
    for (let i = from; i < to; i++) {
      const l = lits[i];
      if (this.litStamp[l] === stamp) continue;
      this.litStamp[l] = stamp;
      this.arena[this.arenaLen++] = l;
      n++;
    }
    this.cLen[c] = n;
    this.orig[c] = this.nOriginal++;
    return c;
  }

  /** Link clause c into the watch lists of its first two literals. */
  private watch(c: number): void {
    const s = this.cStart[c];
    for (let k = 0; k < 2; k++) {
      const slot = 2 * c + k;
      const l = this.arena[s + k];
      this.wNext[slot] = this.wHead[l];
      this.wHead[l] = slot;
    }
  }

  /** Reserve room for a clause of up to n literals; sets its start. */
  private begin(n: number): void {
    if (this.arenaLen + n > this.arena.length) this.arena = grown(this.arena, this.arenaLen + n);
    if (this.nClauses === this.cStart.length) {
      this.cStart = grown(this.cStart, 0);
      this.cLen = grown(this.cLen, 0);
      this.orig = grown(this.orig, 0);
    }
    if (2 * this.nClauses + 2 > this.wNext.length) this.wNext = grown(this.wNext, 2 * this.nClauses + 2);
    this.cStart[this.nClauses] = this.arenaLen;
    this.cLen[this.nClauses] = 0;
    this.nClauses++;
  }

  /** Store a learned clause. */
  private store(lits: ArrayLike<number>): number {
    const c = this.nClauses;
    this.begin(lits.length);
    for (let i = 0; i < lits.length; i++) this.arena[this.arenaLen++] = lits[i];
    this.cLen[c] = lits.length;
    this.orig[c] = -1;
    return c;
  }

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
