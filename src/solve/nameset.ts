/**
 * NameSet: the distinct names of a universe, numbered in first-seen order,
 * with their code units in one buffer, and sorted by a radix sort over it.
 */
import { grown } from './grow.js';

/** Widest range of code units one radix pass buckets (wider: comparison sort). */
const SPAN = 4096;

const FNV_BASIS = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** FNV-1a over UTF-16 code units (NameSet keys; scanAlt hashes a name inside a dependency with hashRange). */
function hashString(s: string): number {
  return hashRange(s, 0, s.length);
}

/** hashString of s[from, to). */
export function hashRange(s: string, from: number, to: number): number {
  let h = FNV_BASIS;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Distinct strings numbered in first-seen order (intern), with their code
 * units copied into one buffer: lookups compare against the buffer (not
 * against string objects scattered over the heap) and sorting reads
 * contiguous memory. The hash table is open addressing with linear probing;
 * a slot is [hash, entry + 1 (0: empty), offset, length], so one probe
 * touches one place.
 */
export class NameSet {
  readonly keys: string[] = [];
  /** keys[e] is buf[off[e], off[e + 1]). */
  private off: Int32Array;
  private buf: Uint16Array;
  private slots: Int32Array;

  /**
   * Sized for about `expect` package names plus the names they provide
   * (about half as many again in Debian's main), 40 code units each (it
   * grows as needed: each growth doubles and leaves the old buffer as
   * garbage, a third of the peak memory of a Debian-sized universe).
   */
  constructor(expect: number) {
    let cap = 1024;
    while (cap < expect * 3) cap <<= 1;
    this.slots = new Int32Array(4 * cap);
    this.off = new Int32Array(expect + 2);
    this.buf = new Uint16Array(40 * expect + 1024);
  }

  /** The entry of `s`, added when new. */
  intern(s: string): number {
    const len = s.length;
    const e = this.keys.length;
    const at = this.off[e];
    if (at + len > this.buf.length) this.buf = grown(this.buf, at + len);
    const buf = this.buf;
    let h = FNV_BASIS;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      buf[at + i] = c;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const slots = this.slots;
    const mask = (slots.length >> 2) - 1;
    let q = h & mask;
    for (; slots[4 * q + 1] !== 0; q = (q + 1) & mask) {
      if (slots[4 * q] === h && slots[4 * q + 3] === len && this.same(slots[4 * q + 2], buf, at, len)) return slots[4 * q + 1] - 1;
    }
    slots[4 * q] = h;
    slots[4 * q + 1] = e + 1;
    slots[4 * q + 2] = at;
    slots[4 * q + 3] = len;
    this.keys.push(s);
    if (e + 2 > this.off.length) this.off = grown(this.off, e + 2);
    this.off[e + 1] = at + len;
    if ((e + 1) * 2 > slots.length >> 2) this.rehash();
    return e;
  }

  /** Entry of `s`, or -1. */
  find(s: string): number {
    return this.findRange(s, 0, s.length, hashString(s));
  }

  /** Entry of s[from, to), whose hash (hashString of that part) is h, or -1. */
  findRange(s: string, from: number, to: number, h: number): number {
    const slots = this.slots;
    const buf = this.buf;
    const mask = (slots.length >> 2) - 1;
    const len = to - from;
    for (let q = h & mask; ; q = (q + 1) & mask) {
      const x = slots[4 * q + 1];
      if (x === 0) return -1;
      if (slots[4 * q] !== h || slots[4 * q + 3] !== len) continue;
      const at = slots[4 * q + 2];
      let j = 0;
      while (j < len && buf[at + j] === s.charCodeAt(from + j)) j++;
      if (j === len) return x - 1;
    }
  }

  /** Is buf[a, a + len) equal to b[at, at + len)? */
  private same(a: number, b: Uint16Array, at: number, len: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < len; i++) if (buf[a + i] !== b[at + i]) return false;
    return true;
  }

  /** Double the table. */
  private rehash(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = (slots.length >> 2) - 1;
    for (let p = 0; p < old.length; p += 4) {
      if (old[p + 1] === 0) continue;
      let q = old[p] & mask;
      while (slots[4 * q + 1] !== 0) q = (q + 1) & mask;
      slots[4 * q] = old[p];
      slots[4 * q + 1] = old[p + 1];
      slots[4 * q + 2] = old[p + 2];
      slots[4 * q + 3] = old[p + 3];
    }
    this.slots = slots;
  }

  /**
   * Entries in ascending code-unit order of their strings: a
   * most-significant-character radix sort over the buffer, insertion sort
   * for small buckets. One loop over an explicit stack of buckets, not
   * recursion, so that a fresh process gets it optimized early (on-stack
   * replacement) instead of running thousands of short calls unoptimized.
   */
  sorted(): Int32Array {
    const n = this.keys.length;
    const off = this.off;
    const buf = this.buf;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    const tmp = new Int32Array(n);
    const code = new Int32Array(n);
    const count = new Int32Array(SPAN + 2);
    // Buckets still to sort: [lo, hi, depth] triples; their strings share their first `depth` code units.
    let stack: Int32Array = new Int32Array(3 * 64);
    let sp = 0;
    if (n > 1) {
      stack[0] = 0;
      stack[1] = n;
      stack[2] = 0;
      sp = 3;
    }
    while (sp > 0) {
      sp -= 3;
      const lo = stack[sp];
      const hi = stack[sp + 1];
      const depth = stack[sp + 2];
      if (hi - lo <= 16) {
        for (let i = lo + 1; i < hi; i++) {
          const x = idx[i];
          let j = i - 1;
          while (j >= lo && this.compare(idx[j], x, depth) > 0) {
            idx[j + 1] = idx[j];
            j--;
          }
          idx[j + 1] = x;
        }
        continue;
      }
      // Bucket by the code unit at `depth` plus one; 0 for a string that ends there.
      let min = 0x10001;
      let max = 0;
      for (let i = lo; i < hi; i++) {
        const x = idx[i];
        const at = off[x] + depth;
        const c = at < off[x + 1] ? buf[at] + 1 : 0;
        code[i] = c;
        if (c < min) min = c;
        if (c > max) max = c;
      }
      if (max - min > SPAN) {
        const part = Array.from(idx.subarray(lo, hi)).sort((x, y) => this.compare(x, y, depth));
        idx.set(part, lo);
        continue;
      }
      const nb = max - min + 1;
      count.fill(0, 0, nb + 1);
      for (let i = lo; i < hi; i++) count[code[i] - min + 1]++;
      for (let b = 1; b <= nb; b++) count[b] += count[b - 1];
      for (let i = lo; i < hi; i++) tmp[lo + count[code[i] - min]++] = idx[i];
      for (let i = lo; i < hi; i++) idx[i] = tmp[i];
      // count[b] is now the end of bucket b. A string ending at `depth` (code 0) is alone: the strings are distinct.
      if (sp + 3 * nb > stack.length) stack = grown(stack, sp + 3 * nb);
      let s = lo;
      for (let b = 0; b < nb; b++) {
        const e = lo + count[b];
        if (e - s > 1) {
          stack[sp] = s;
          stack[sp + 1] = e;
          stack[sp + 2] = depth + 1;
          sp += 3;
        }
        s = e;
      }
    }
    return idx;
  }

  /** Code-unit order of entries x and y, which share their first `from` code units. */
  private compare(x: number, y: number, from: number): number {
    const off = this.off;
    const buf = this.buf;
    const xs = off[x] + from;
    const xe = off[x + 1];
    const ys = off[y] + from;
    const ye = off[y + 1];
    const n = Math.min(xe - xs, ye - ys);
    for (let i = 0; i < n; i++) {
      const d = buf[xs + i] - buf[ys + i];
      if (d !== 0) return d;
    }
    return xe - xs - (ye - ys);
  }
}
