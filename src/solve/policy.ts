/**
 * The decision policy of the solver (solver.ts says which choices it
 * prefers): the Decider the SAT search asks for its next decision.
 */
import type { Encoding } from './encode.js';
import type { Decider, Sat } from './sat.js';

/**
 * The decision policy (see the module comment). It walks the trail: every
 * true variable's obligations must hold; three cursors remember how far the
 * trail is known to be fine for pass A (choices among versions of one name),
 * pass B (any choice) and pass C (optional wishes). Cursors are saved per
 * decision level and restored on backjumps.
 */
export class Policy implements Decider {
  private readonly p: Encoding;
  private readonly sat: Sat;
  private a = 0;
  private b = 0;
  private c = 0;
  private readonly saved: number[] = [];
  /** Name number per package id (read only for the few clauses decided on). */
  private readonly names: Int32Array;

  constructor(p: Encoding, sat: Sat) {
    this.p = p;
    this.sat = sat;
    this.names = p.u.nameIndex;
  }

  backtrack(level: number): void {
    const base = level * 3;
    this.a = Math.min(this.a, this.saved[base]);
    this.b = Math.min(this.b, this.saved[base + 1]);
    this.c = Math.min(this.c, this.saved[base + 2]);
    this.saved.length = base;
  }

  decide(): number {
    const l = this.search();
    if (l >= 0) this.saved.push(this.a, this.b, this.c);
    return l;
  }

  private search(): number {
    const sat = this.sat;
    const trail = sat.trail;
    const p = this.p;
    for (; this.a < sat.trailLen; this.a++) {
      const t = trail[this.a];
      if (t & 1) continue;
      const l = this.pickHard(p.hardFrom.a[t >> 1], p.hardTo.a[t >> 1], true);
      if (l >= 0) return l;
    }
    for (; this.b < sat.trailLen; this.b++) {
      const t = trail[this.b];
      if (t & 1) continue;
      const l = this.pickHard(p.hardFrom.a[t >> 1], p.hardTo.a[t >> 1], false);
      if (l >= 0) return l;
    }
    if (p.optional) {
      for (; this.c < sat.trailLen; this.c++) {
        const t = trail[this.c];
        if (t & 1) continue;
        for (let w = p.softFrom.a[t >> 1]; w < p.softTo.a[t >> 1]; w++) {
          const l = this.choose(p.softLits.a, p.softStarts.a[w], p.softEnds.a[w], false);
          if (l >= 0) return l;
        }
      }
    }
    return -1;
  }

  /** The literal to decide for the first unmet clause in [from, to), or -1. */
  private pickHard(from: number, to: number, oneName: boolean): number {
    const p = this.p;
    const starts = p.starts.a;
    for (let c = from; c < to; c++) {
      const l = this.choose(p.lits.a, starts[c] + 1, p.end(c), oneName);
      if (l >= 0) return l;
    }
    return -1;
  }

  /**
   * For the candidate literals lits[s, e): -1 when one is true or none is
   * free (or, with oneName, when the free ones have different names and none
   * is a kept installed version); else the best free one: a kept installed
   * version first, then the first in preference order.
   */
  private choose(lits: Int32Array, s: number, e: number, oneName: boolean): number {
    const val = this.sat.litVal;
    const keep = this.p.keep;
    const varToPkg = this.p.varToPkg.a;
    let first = -1;
    let kept = -1;
    let name = -1;
    let several = false;
    for (let i = s; i < e; i++) {
      const l = lits[i];
      const x = val[l];
      if (x === 1) return -1;
      if (x === 0) {
        const id = varToPkg[l >> 1];
        if (first < 0) first = l;
        if (kept < 0 && keep[id]) kept = l;
        const nm = this.names[id];
        if (name < 0) name = nm;
        else if (nm !== name) several = true;
      }
    }
    if (first < 0) return -1;
    if (oneName && several && kept < 0) return -1;
    return kept >= 0 ? kept : first;
  }
}
