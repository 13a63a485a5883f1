/**
 * Checked reading of machine-written JSON (package manifests, index entries):
 * the bytes must be canonical JSON (see canonical.ts) of an object, and each
 * field is checked as it is read. Every failure is a MinosError with the
 * caller's code that names the file and the field.
 */
import { isCanonicalText } from './canonical.js';
import { MinosError, type ErrorCode } from './errors.js';

/** Where a value came from, for messages: e.g. `hello-1.0-1-x86_64.mpk: manifest`. */
export interface Ctx {
  where: string;
  code: ErrorCode;
}

/** The error for a field of a checked file: `WHERE: field "FIELD": MSG`. */
export function fieldError(ctx: Ctx, field: string, msg: string): MinosError {
  return new MinosError(ctx.code, `${ctx.where}: field "${field}": ${msg}`, { data: { file: ctx.where, field } });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parse bytes that must be canonical JSON of an object. */
export function parseCanonical(bytes: Uint8Array, ctx: Ctx): Record<string, unknown> {
  let text: string;
  let value: unknown;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new MinosError(ctx.code, `${ctx.where}: starts with a UTF-8 byte order mark, which canonical JSON does not allow`, { data: { file: ctx.where } });
  }
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch (e) {
    throw new MinosError(ctx.code, `${ctx.where}: not valid JSON: ${(e as Error).message}`, { data: { file: ctx.where } });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MinosError(ctx.code, `${ctx.where}: expected a JSON object`, { data: { file: ctx.where } });
  }
  if (!isCanonicalText(value, text, bytes)) {
    throw new MinosError(ctx.code, `${ctx.where}: JSON is not in canonical form (sorted keys, no whitespace, no duplicate keys)`, {
      data: { file: ctx.where },
    });
  }
  return value as Record<string, unknown>;
}

/** The keys an object must and may have, precomputed for checks run per entry. */
export interface KeySpec {
  required: readonly string[];
  optional: readonly string[];
  bits: Map<string, number>;
  requiredMask: number;
}

/** The KeySpec of an object with keys `required` and `optional`. */
export function keySpec(required: readonly string[], optional: readonly string[] = []): KeySpec {
  const bits = new Map<string, number>();
  [...required, ...optional].forEach((k, i) => bits.set(k, 2 ** i));
  return { required, optional, bits, requiredMask: 2 ** required.length - 1 };
}

/** Which keys of `spec` `o` has, as a bit mask (bit i for key i of required then optional), or -1 if it has another key. */
function keyMask(o: object, spec: KeySpec): number {
  let mask = 0;
  for (const k in o) {
    const bit = spec.bits.get(k);
    if (bit === undefined) return -1;
    mask |= bit;
  }
  return mask;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `obj` as an object with all keys of `required`, any of `optional` and no other; throws naming `field`. */
export function exactKeys(obj: unknown, ctx: Ctx, field: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (!isObject(obj)) throw fieldError(ctx, field, 'expected an object');
  const allowed = new Set([...required, ...optional]);
  for (const k of Object.keys(obj)) if (!allowed.has(k)) throw fieldError(ctx, field ? `${field}.${k}` : k, 'unknown field');
  for (const k of required) if (!(k in obj)) throw fieldError(ctx, field ? `${field}.${k}` : k, 'missing');
  return obj;
}

/** Field name `list[i]`, or `list` without an index; built only for messages. */
export function itemName(list: string, i?: number): string {
  return i === undefined ? list : `${list}[${i}]`;
}

/** exactKeys of the object at `list[i]` with a precomputed spec; returns its key mask. */
export function specKeys(obj: unknown, ctx: Ctx, spec: KeySpec, list: string, i?: number): number {
  const mask = isObject(obj) ? keyMask(obj, spec) : -1;
  if (mask >= 0 && (mask & spec.requiredMask) === spec.requiredMask) return mask;
  exactKeys(obj, ctx, itemName(list, i), spec.required, spec.optional); // throws the precise error
  return mask;
}

/** Why `v` is not a string of at most `max` UTF-8 bytes, or undefined. */
export function strError(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return 'expected a string';
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes, so only a middle length needs counting.
  if (v.length > max || (v.length * 3 > max && Buffer.byteLength(v) > max)) return `longer than ${max} bytes`;
  return undefined;
}

export function isInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

export function intMessage(max: number): string {
  return `expected an integer between 0 and ${max}`;
}

/** `o[k]`: a string of at most `max` UTF-8 bytes; throws naming `field`. */
export function getStr(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, max = 4096): string {
  const v = o[k];
  const err = strError(v, max);
  if (err) throw fieldError(ctx, field, err);
  return v as string;
}

/** `o[k]`: an integer from 0 to `max`; throws naming `field`. */
export function getInt(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (!isInt(v, max)) throw fieldError(ctx, field, intMessage(max));
  return v;
}

/** Check a list field; `each` gets the item's index to name `field[i]` only when it fails. */
export function getList<T>(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, each: (v: unknown, i: number) => T): T[] {
  const v = o[k];
  if (!Array.isArray(v)) throw fieldError(ctx, field, 'expected a list');
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = each(v[i], i);
  return out;
}

/** A list of strings each passing `check` (which throws to refuse); returned as it is, not copied. */
export function strings(o: Record<string, unknown>, k: string, ctx: Ctx, check: (s: string) => unknown, field = k): string[] {
  const v = o[k];
  if (!Array.isArray(v)) throw fieldError(ctx, field, 'expected a list');
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'string') throw fieldError(ctx, itemName(field, i), 'expected a string');
    try {
      check(x);
    } catch (e) {
      throw fieldError(ctx, itemName(field, i), (e as Error).message);
    }
  }
  return v as string[];
}
