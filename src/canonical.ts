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
 * no minos format has; such objects are refused), and 5x faster: duplicate
 * keys, whitespace or other spellings make the native re-serialisation differ.
 */
export function isCanonicalText(value: unknown, text: string): boolean {
  return JSON.stringify(value) === text && (value === null || typeof value !== 'object' || keysSorted(value));
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
