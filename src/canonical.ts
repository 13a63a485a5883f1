/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no insignificant
 * whitespace, numbers as JSON.stringify writes them. Machine-written files that
 * are hashed or signed use this form so equal data gives equal bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new TypeError('undefined in canonical JSON');
  // Native serialisation of a tree whose keys are already in order: on a
  // 1 MB database, 1.4x faster than a recursive serialiser and 2x faster than
  // a replacer function, which the serialiser calls back for every value.
  return JSON.stringify(value !== null && typeof value === 'object' ? inKeyOrder(value, '') : finite(value));
}

function finite(v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError('non-finite number in canonical JSON');
  return v;
}

/**
 * Object `v` as JSON.stringify sees it (after toJSON) with every object's
 * keys in sorted order. Parts already in order (parsed canonical JSON,
 * objects built in key order) are shared, not copied. Members that are not
 * objects are checked inline: a call per value is most of the cost of the
 * single, not yet optimised, run that writes a database.
 */
function inKeyOrder(v: object, key: string | number): unknown {
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  // JSON.stringify does not call toJSON on what toJSON returned: that must
  // be a copy without it, or serialising the result would.
  let copy = false;
  if (typeof toJSON === 'function') {
    const j: unknown = toJSON.call(v, String(key));
    if (j === null || typeof j !== 'object') return finite(j);
    v = j;
    copy = typeof (j as { toJSON?: unknown }).toJSON === 'function';
  }
  if (Array.isArray(v)) {
    let out: unknown[] | undefined = copy ? v.slice() : undefined;
    for (let i = 0; i < v.length; i++) {
      let x: unknown = v[i];
      if (x !== null && typeof x === 'object') x = inKeyOrder(x, i);
      else if (typeof x === 'number' && !Number.isFinite(x)) finite(x);
      if (out) out[i] = x;
      else if (x !== v[i]) {
        out = v.slice();
        out[i] = x;
      }
    }
    return out ?? v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  let ordered = true;
  for (let i = 1; i < keys.length && ordered; i++) ordered = keys[i - 1] < keys[i];
  if (!ordered) keys.sort();
  let out: Record<string, unknown> | undefined = ordered && !copy ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    let x = o[k];
    if (copy && k === 'toJSON' && typeof x === 'function') continue; // not written either way
    if (x !== null && typeof x === 'object') x = inKeyOrder(x, k);
    else if (typeof x === 'number' && !Number.isFinite(x)) finite(x);
    if (out) out[k] = x;
    else if (x !== o[k]) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]] = o[keys[j]];
      out[k] = x;
    }
  }
  return out ?? o;
}

/** Are the keys of object `v`, and of every object inside it, in sorted order? */
function keysSorted(v: object): boolean {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x !== null && typeof x === 'object' && !keysSorted(x)) return false;
    }
    return true;
  }
  let prev: string | undefined;
  for (const k in v) {
    if (prev !== undefined && !(prev < k)) return false;
    prev = k;
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object' && !keysSorted(x)) return false;
  }
  return true;
}

/**
 * Is `text` the canonical form of `value` (= JSON.parse(text))? Equivalent to
 * canonicalJson(value) === text for objects without integer-like keys (which
 * no minos format has; such objects are refused). Given `bytes`, the UTF-8
 * that `text` was decoded from, most canonical texts are recognised by one
 * scan of those bytes (scanValue: a 26 MB index in a fraction of the time
 * re-serialising takes); the rest, and every text that is not canonical,
 * take the exact check: duplicate keys, whitespace or other spellings make
 * the native re-serialisation differ.
 */
export function isCanonicalText(value: unknown, text: string, bytes?: Uint8Array): boolean {
  if (bytes !== undefined && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return false; // a decoder drops the BOM from `text`
  if (text.charCodeAt(0) === 0xfeff) return false;
  if (bytes !== undefined && scanValue(bytes, 0, 0) === bytes.length) return true;
  return JSON.stringify(value) === text && (value === null || typeof value !== 'object' || keysSorted(value));
}

/** Deepest nesting scanValue follows (deeper: the exact check decides). */
const MAX_SCAN_DEPTH = 256;

/**
 * The end of the JSON value at b[i] when it is certainly written as
 * JSON.stringify writes its parse: no whitespace; object keys of ASCII
 * without escapes, not all digits, strictly increasing; strings whose only
 * escapes are \" \\ \b \f \n \r \t; integers of at most 15 characters
 * without leading zeros or -0; true, false, null. -1 when not (which does
 * not mean the text is not canonical: isCanonicalText then takes the exact
 * check). `b` must be valid UTF-8, so a string holds no lone surrogate.
 */
function scanValue(b: Uint8Array, i: number, depth: number): number {
  if (i >= b.length) return -1;
  const c = b[i];
  if (c === 0x22) return scanString(b, i, false);
  if (c === 0x7b) return depth < MAX_SCAN_DEPTH ? scanObject(b, i, depth) : -1;
  if (c === 0x5b) return depth < MAX_SCAN_DEPTH ? scanArray(b, i, depth) : -1;
  if (c === 0x74) return word(b, i, 'true');
  if (c === 0x66) return word(b, i, 'false');
  if (c === 0x6e) return word(b, i, 'null');
  const n = b.length;
  let j = c === 0x2d ? i + 1 : i;
  if (j >= n) return -1;
  const d0 = b[j];
  if (d0 === 0x30) {
    if (j > i) return -1; // -0 is written 0
    j++;
  } else if (d0 >= 0x31 && d0 <= 0x39) {
    j++;
    while (j < n && isDigit(b[j])) j++;
  } else {
    return -1;
  }
  // A fraction, an exponent or a leading zero's next digit ends no value: the caller refuses what follows.
  return j - i > 15 ? -1 : j;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The end of `w` when b[i…] spells it, else -1. */
function word(b: Uint8Array, i: number, w: string): number {
  if (i + w.length > b.length) return -1;
  for (let k = 0; k < w.length; k++) if (b[i + k] !== w.charCodeAt(k)) return -1;
  return i + w.length;
}

/** scanValue for the array at b[i] ("["). */
function scanArray(b: Uint8Array, i: number, depth: number): number {
  i++;
  if (i < b.length && b[i] === 0x5d) return i + 1;
  for (;;) {
    i = scanValue(b, i, depth + 1);
    if (i < 0 || i >= b.length) return -1;
    const d = b[i];
    if (d === 0x5d) return i + 1;
    if (d !== 0x2c) return -1;
    i++;
  }
}

/** scanValue for the object at b[i] ("{"). */
function scanObject(b: Uint8Array, i: number, depth: number): number {
  i++;
  if (i < b.length && b[i] === 0x7d) return i + 1;
  let prev = -1;
  let prevEnd = -1;
  for (;;) {
    const e = scanString(b, i, true);
    if (e < 0 || e >= b.length) return -1;
    if (prev >= 0 && !spanBefore(b, prev, prevEnd, i + 1, e - 1)) return -1;
    prev = i + 1;
    prevEnd = e - 1;
    if (b[e] !== 0x3a) return -1;
    i = scanValue(b, e + 1, depth + 1);
    if (i < 0 || i >= b.length) return -1;
    const d = b[i];
    if (d === 0x7d) return i + 1;
    if (d !== 0x2c) return -1;
    i++;
  }
}

/** scanValue for the string at b[i] ('"'); a key (`key`) must be ASCII without escapes and not all digits. */
function scanString(b: Uint8Array, i: number, key: boolean): number {
  const n = b.length;
  if (i >= n || b[i] !== 0x22) return -1;
  let digits = true;
  for (let j = i + 1; j < n; j++) {
    const c = b[j];
    if (c === 0x22) return key && digits ? -1 : j + 1;
    if (c < 0x20) return -1;
    if (c === 0x5c) {
      if (key || j + 1 >= n) return -1;
      const e = b[j + 1];
      if (!(e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74)) return -1;
      j++;
    } else if (c >= 0x80 && key) {
      return -1;
    }
    if (c < 0x30 || c > 0x39) digits = false;
  }
  return -1;
}

/** Does b[a, ae) sort strictly before b[x, xe) (ASCII: by code units)? */
function spanBefore(b: Uint8Array, a: number, ae: number, x: number, xe: number): boolean {
  for (; a < ae && x < xe; a++, x++) {
    if (b[a] !== b[x]) return b[a] < b[x];
  }
  return a === ae && x < xe;
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Compare two strings by their UTF-8 bytes (the order of paths in packages
 * and images); only the sign of the result is meaningful. Equal to code unit
 * order except where surrogates meet U+E000..U+FFFF, which only then takes
 * the slow path.
 */
export function compareUtf8(a: string, b: string): number {
  // Without surrogates, code unit order is code point order, which UTF-8 keeps.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 || y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a.slice(i)), Buffer.from(b.slice(i)));
  }
  return a.length - b.length;
}
