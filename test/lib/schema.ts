/**
 * A JSON Schema validator for the subset docs/json/ uses: type, properties,
 * required, additionalProperties, items, minItems, enum, const, pattern,
 * minimum, oneOf and $ref (within a file, or FILE#/$defs/NAME beside it).
 * A keyword outside the subset is an error, so no schema says more than the
 * tests check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Schema = { [k: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', '$defs', 'title', 'description', '$comment']);
const KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'enum', 'const', 'pattern', 'minimum', 'oneOf', '$ref']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const typeMatches = (want: string, got: string) => want === got || (want === 'number' && got === 'integer');

export interface Validator {
  /** Problems of `value` against the schema file `name`, as "PATH: message" lines; empty when it is valid. */
  validate(name: string, value: unknown): string[];
}

export function schemaValidator(dir: string): Validator {
  const files = new Map<string, Schema>();
  const load = (name: string): Schema => {
    let s = files.get(name);
    if (!s) files.set(name, (s = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Schema));
    return s;
  };
  const resolveRef = (file: string, ref: string): { file: string; schema: Schema } => {
    const [f, frag = ''] = ref.split('#');
    const target = f || file;
    let s: unknown = load(target);
    for (const part of frag.split('/').filter(Boolean)) s = (s as Schema)[part];
    if (!s) throw new Error(`${file}: unresolved $ref ${ref}`);
    return { file: target, schema: s as Schema };
  };

  const check = (file: string, s: Schema, v: unknown, path: string, out: string[]): void => {
    for (const k of Object.keys(s)) if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`${file}: keyword ${k} at ${path} is outside the subset`);
    if (s.$ref !== undefined) {
      const r = resolveRef(file, s.$ref as string);
      check(r.file, r.schema, v, path, out);
    }
    const got = typeOf(v);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeMatches(t, got))) {
        out.push(`${path}: expected ${types.join(' or ')}, got ${got}`);
        return;
      }
    }
    if (s.const !== undefined && v !== s.const) out.push(`${path}: expected ${JSON.stringify(s.const)}`);
    if (s.enum !== undefined && !(s.enum as unknown[]).includes(v)) out.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
    if (s.pattern !== undefined && typeof v === 'string' && !new RegExp(s.pattern as string, 'u').test(v)) out.push(`${path}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    if (s.minimum !== undefined && typeof v === 'number' && v < (s.minimum as number)) out.push(`${path}: ${v} is below ${s.minimum}`);
    if (s.oneOf !== undefined) {
      const results = (s.oneOf as Schema[]).map((alt) => {
        const o: string[] = [];
        check(file, alt, v, path, o);
        return o;
      });
      const ok = results.filter((r) => r.length === 0).length;
      if (ok !== 1) out.push(`${path}: matches ${ok} of the oneOf alternatives (${results.map((r, i) => `#${i}: ${r[0] ?? 'ok'}`).join('; ')})`);
    }
    if (got === 'object') {
      const o = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const k of (s.required ?? []) as string[]) if (!(k in o)) out.push(`${path}: missing "${k}"`);
      for (const [k, x] of Object.entries(o)) {
        if (props[k]) check(file, props[k], x, `${path}.${k}`, out);
        else if (s.additionalProperties === false) out.push(`${path}: unexpected "${k}"`);
        else if (typeof s.additionalProperties === 'object') check(file, s.additionalProperties as Schema, x, `${path}.${k}`, out);
      }
    }
    if (got === 'array') {
      const a = v as unknown[];
      if (s.minItems !== undefined && a.length < (s.minItems as number)) out.push(`${path}: fewer than ${s.minItems} items`);
      if (s.items !== undefined) a.forEach((x, i) => check(file, s.items as Schema, x, `${path}[${i}]`, out));
    }
  };

  return {
    validate(name, value) {
      const out: string[] = [];
      check(name, load(name), value, '$', out);
      return out;
    },
  };
}
