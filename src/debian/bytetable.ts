/**
 * Byte-range helpers for parsing large Debian index files without decoding
 * them: a hash of a range, JavaScript's whitespace among latin1 bytes, and
 * ByteTable, strings keyed by byte content.
 */

/** FNV-1a of b[s, e). */
export function hashBytes(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let k = s; k < e; k++) h = Math.imul(h ^ b[k], 16777619);
  return h;
}

/** JavaScript's \s among latin1 bytes (what String.prototype.trim removes). */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

/**
 * Strings keyed by byte strings, looked up without decoding the key (open
 * addressing; the table keeps its own copy of each key, so keys may come
 * from buffers that are reused). In a Packages file clauses, versions and
 * short values repeat: each distinct one is decoded, checked and converted
 * once.
 */
export class ByteTable {
  private hash: Int32Array;
  /** Per slot: offset of the key in pool, -1 when free. */
  private at: Int32Array;
  private len: Int32Array;
  private vals: string[];
  private pool: Uint8Array;
  private used = 0;
  private count = 0;

  /**
   * `expect`: about how many keys will be stored, `bytes` about how long
   * they are together (the table grows past both, doubling; the old arrays
   * are garbage until the next collection, which is why the sizes are asked
   * for up front).
   */
  constructor(expect = 512, bytes = 16 * expect) {
    this.pool = new Uint8Array(bytes);
    let size = 1024;
    while (size < 2 * expect) size *= 2;
    this.hash = new Int32Array(size);
    this.at = new Int32Array(size).fill(-1);
    this.len = new Int32Array(size);
    this.vals = new Array(size);
  }

  /** The value stored for the key b[s, e) whose hashBytes is h, or undefined. */
  get(b: Uint8Array, s: number, e: number, h: number): string | undefined {
    const pool = this.pool;
    const mask = this.at.length - 1;
    const n = e - s;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const a = this.at[i];
      if (a < 0) return undefined;
      if (this.hash[i] !== h || this.len[i] !== n) continue;
      let k = 0;
      while (k < n && pool[a + k] === b[s + k]) k++;
      if (k === n) return this.vals[i];
    }
  }

  /** Store v for the key b[s, e) (not present yet) whose hashBytes is h; returns v. */
  set(b: Uint8Array, s: number, e: number, h: number, v: string): string {
    const n = e - s;
    if (this.used + n > this.pool.length) {
      const p = new Uint8Array(Math.max(2 * this.pool.length, this.used + n));
      p.set(this.pool.subarray(0, this.used));
      this.pool = p;
    }
    const pool = this.pool;
    for (let k = 0; k < n; k++) pool[this.used + k] = b[s + k];
    this.place(h, this.used, n, v);
    this.used += n;
    return v;
  }

  private place(h: number, a: number, n: number, v: string): void {
    if (2 * (this.count + 1) > this.at.length) this.grow();
    const mask = this.at.length - 1;
    let i = h & mask;
    while (this.at[i] >= 0) i = (i + 1) & mask;
    this.hash[i] = h;
    this.at[i] = a;
    this.len[i] = n;
    this.vals[i] = v;
    this.count++;
  }

  private grow(): void {
    const { hash, at, len, vals } = this;
    const size = at.length * 2;
    this.hash = new Int32Array(size);
    this.at = new Int32Array(size).fill(-1);
    this.len = new Int32Array(size);
    this.vals = new Array(size);
    this.count = 0;
    for (let i = 0; i < at.length; i++) if (at[i] >= 0) this.place(hash[i], at[i], len[i], vals[i]);
  }
}
