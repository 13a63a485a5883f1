/**
 * Byte-range helpers for parsing large Debian index files without decoding
 * them: a hash of a range, JavaScript's whitespace among latin1 bytes,
 * ByteTable (strings keyed by byte content), FieldNames (field names to
 * numbers), and the byte classes of paths and package names.
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

/**
 * Field names to numbers: each distinct name (compared in lower case, as
 * dpkg and apt compare them) gets a number on first sight; known[n] is its
 * index in the parser's field list or -1.
 */
export class FieldNames {
  readonly known: number[] = [];

  /** `fields`: the field names a parser reads, in lower case; known[n] is an index in it. */
  constructor(private readonly fields: readonly string[]) {}

  private readonly names: string[] = [];
  private readonly byHash = new Map<number, number>();

  /** The number of the name b[s, e) whose lower-case hash is h. */
  id(b: Uint8Array, s: number, e: number, h: number): number {
    const hit = this.byHash.get(h);
    if (hit !== undefined && sameLower(b, s, e, this.names[hit])) return hit;
    if (hit !== undefined) for (let k = 0; k < this.names.length; k++) if (sameLower(b, s, e, this.names[k])) return k;
    const name = Buffer.from(b.subarray(s, e)).toString('latin1').toLowerCase();
    this.names.push(name);
    this.known.push(this.fields.indexOf(name));
    if (hit === undefined) this.byHash.set(h, this.names.length - 1);
    return this.names.length - 1;
  }
}

export function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function sameLower(b: Uint8Array, s: number, e: number, name: string): boolean {
  if (e - s !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (lower(b[s + k]) !== name.charCodeAt(k)) return false;
  return true;
}

/**
 * Is b[s, e) a path inside the mirror: not empty, relative, no empty, `.`
 * or `..` component, no control character or backslash.
 */
export function safePath(b: Uint8Array, s: number, e: number): boolean {
  if (s === e || b[s] === 47) return false;
  let from = s;
  for (let k = s; k <= e; k++) {
    const c = k < e ? b[k] : 47;
    if (c < 32 || c === 92) return false;
    if (c !== 47) continue;
    const n = k - from;
    if (n === 0 || (n === 1 && b[from] === 46) || (n === 2 && b[from] === 46 && b[from + 1] === 46)) return false;
    from = k + 1;
  }
  return true;
}

/** [a-z0-9], the first byte of a relation's package name. */
export function nameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

/** [a-z0-9+.-], the bytes of a relation's package name. */
export function nameByte(c: number): boolean {
  return nameStart(c) || c === 43 || c === 45 || c === 46;
}

export function grownTo(a: Int32Array, size: number): Int32Array {
  const g = new Int32Array(size);
  g.set(a);
  return g;
}

const PACKAGE_LINE = Buffer.from('\nPackage:', 'latin1');
const STANZA_END = Buffer.from('\n\n', 'latin1');

/**
 * Skips the stanzas of a Packages file whose names are not wanted, without
 * reading their fields (a build taking a lockfile's packages reads 69
 * stanzas of 63,000). Only a stanza that starts with a `Package:` line and
 * ends at an empty line is skipped; anything else is left to the parser.
 */
export class StanzaSkipper {
  /** Lines in the stanza last skipped, its empty line included. */
  lines = 0;
  /** Where the next "\nPackage:" of the piece is; -1 before the first search. */
  private next = -1;

  constructor(private readonly wanted: ReadonlySet<string>) {}

  /** A new piece of the file is being read. */
  reset(): void {
    this.next = -1;
  }

  /**
   * The end (after its empty line) of the unwanted stanza starting at b[i],
   * or -1 to read it: its name is wanted, it does not start with a
   * `Package:` line, or another `Package:` line comes before its empty line
   * (stanzas parted by a line of spaces).
   */
  skip(b: Buffer, i: number, n: number): number {
    if (b[i] !== 80 || i + 8 > n || b.compare(PACKAGE_LINE, 1, 9, i, i + 8) !== 0) return -1;
    let eol = b.indexOf(10, i);
    if (eol < 0) eol = n;
    let p = i + 8;
    let q = eol;
    while (p < q && (b[p] === 32 || b[p] === 9)) p++;
    while (q > p && (b[q - 1] === 32 || b[q - 1] === 9)) q--;
    if (this.wanted.has(b.toString('latin1', p, q))) return -1;
    const sep = b.indexOf(STANZA_END, eol);
    const end = sep < 0 ? n : sep + 2;
    if (this.next < i + 1) this.next = b.indexOf(PACKAGE_LINE, i + 1);
    if (this.next >= 0 && this.next < end - 1) return -1;
    let lines = 0;
    for (let k = i; k < end; k++) if (b[k] === 10) lines++;
    this.lines = b[end - 1] === 10 ? lines : lines + 1;
    return end;
  }
}
