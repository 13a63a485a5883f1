/**
 * The state a Sat search works on (sat.ts's first layer): the clause arena
 * with its watch lists (slot 2c+k of clause c watches its k-th literal),
 * the assignment (litVal per literal, level, reason, trail), the lazy
 * variables waiting for the Expander, and the bookkeeping core() reads
 * (which clauses are original, the antecedents of learned ones). Adding
 * clauses lives here: addClause before the search, addLive from
 * Expander.expand during it (with the watch choice that keeps the watch
 * invariant after any backjump); search and learning are in sat.ts, whose
 * Sat extends this class so both work on one object's plain fields.
 */
import { grown } from './grow.js';

/** Adds the clauses of a lazy variable (see addVar) when it first becomes true. */
export interface Expander {
  /**
   * Add variable v's clauses with addLive; returns the first clause addLive
   * reported falsified, or -1.
   */
  expand(v: number): number;
}

/** Clause storage and assignment of a Sat (see the header). */
export class SatClauses {
  nVars = 0;
  /** Per literal: 1 true, -1 false, 0 unassigned. */
  litVal: Int8Array;
  level: Int32Array;
  reason: Int32Array;
  trail: Int32Array;
  trailLen = 0;
  protected qhead = 0;
  protected readonly trailLim: number[] = [];

  protected arena: Int32Array;
  private arenaLen = 0;
  protected cStart: Int32Array;
  protected cLen: Int32Array;
  protected nClauses = 0;
  /** Per clause: its number among the original clauses (dense, in the order added), or -1 when learned. */
  protected orig: Int32Array;
  private nOriginal = 0;
  protected started = false;
  /**
   * Watch lists as linked lists in typed arrays (no per-literal arrays): slot
   * 2c+k is clause c watching one of its first two literals; wHead[lit] is
   * the first slot watching lit, wNext[slot] the next one (-1 ends).
   */
  protected wHead: Int32Array;
  protected wNext: Int32Array;
  /** Antecedents of each learned clause, by clause id. */
  protected readonly proof: Int32Array[] = [];
  /** Per variable: 1 while its clauses wait for the Expander. */
  protected lazy: Uint8Array;
  protected expander: Expander | undefined;
  /** Clauses that are empty or unit and must be asserted at level 0. */
  protected readonly pendingUnits: number[] = [];
  protected conflictClause = -1;
  protected seen: Uint8Array;
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
  protected watch(c: number): void {
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
  protected store(lits: ArrayLike<number>): number {
    const c = this.nClauses;
    this.begin(lits.length);
    for (let i = 0; i < lits.length; i++) this.arena[this.arenaLen++] = lits[i];
    this.cLen[c] = lits.length;
    this.orig[c] = -1;
    return c;
  }
}
