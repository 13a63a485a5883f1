/**
 * Reading human-written YAML files with errors that name the file, the line
 * and the field: `recipe.yaml:7: field "users[0].uid": expected an integer`.
 * Validators take the parsed plain data plus the path to it; the path is used
 * only to find the line and to name the field.
 */
import type { Document, LineCounter } from 'yaml';
import { MinosError, type ErrorCode } from '../errors.js';
import { CAP, readInputText } from '../input.js';
import { nearest } from '../text.js';
import { loadYaml } from './yamllib.js';

export type Path = readonly (string | number)[];

/**
 * The yaml library, loaded on first use: most commands read no YAML. Loading
 * it from node_modules took ~47 ms, from dist/bundle/yaml.cjs ~12 ms (see yamllib.ts).
 */
let yamlLib: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  return (yamlLib ??= loadYaml());
}

export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  data: unknown;
}

/** Parse a YAML file. MN0101 if unreadable, MN0102 if not valid YAML. */
export function readYamlFile(file: string): YamlSource {
  return parseYamlText(file, readInputText(file, CAP.spec));
}

export function parseYamlText(file: string, text: string): YamlSource {
  const { LineCounter: Lines, parseDocument } = yaml();
  const lines = new Lines();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, version: '1.2' });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? lines.linePos(first.pos[0]).line;
    const msg = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new MinosError('MN0102', `${file}:${line}: invalid YAML: ${msg}`, { data: { file, line } });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new MinosError('MN0102', `${file}: invalid YAML: ${(e as Error).message}`, { data: { file } });
  }
  return { file, doc, lines, data };
}

export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

/** Line of the node at `path`, or of its nearest existing ancestor. */
export function lineOf(src: YamlSource, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = src.doc.getIn(path.slice(0, n), true);
    if (yaml().isNode(node) && node.range) return src.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Line of the key `path[-1]` itself (for unknown-field errors). */
function keyLine(src: YamlSource, path: Path): number | undefined {
  const parent = path.length > 1 ? src.doc.getIn(path.slice(0, -1), true) : src.doc.contents;
  const items = (parent as { items?: { key?: unknown }[] } | null)?.items;
  if (Array.isArray(items)) {
    for (const item of items) {
      const key = item.key as { value?: unknown; range?: [number, number, number] } | undefined;
      if (key && key.value === path[path.length - 1] && key.range) return src.lines.linePos(key.range[0]).line;
    }
  }
  return lineOf(src, path);
}

export function yamlError(src: YamlSource, path: Path, message: string, code: ErrorCode = 'MN0104'): MinosError {
  const line = code === 'MN0103' ? keyLine(src, path) : lineOf(src, path);
  const where = line === undefined ? src.file : `${src.file}:${line}`;
  const field = path.length ? ` field "${formatPath(path)}":` : '';
  return new MinosError(code, `${where}:${field} ${message}`, { data: { file: src.file, line, field: formatPath(path) } });
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Check a mapping's keys; returns it as a record. */
export function mapping(
  src: YamlSource,
  path: Path,
  v: unknown,
  spec: { required?: readonly string[]; optional?: readonly string[] },
): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw yamlError(src, path, `expected a mapping, got ${describe(v)}`);
  }
  const obj = v as Record<string, unknown>;
  const allowed = new Set([...(spec.required ?? []), ...(spec.optional ?? [])]);
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) {
      const near = nearest(k, [...allowed]);
      throw yamlError(src, [...path, k], `unknown field${near ? ` (did you mean "${near}"?)` : ''}`, 'MN0103');
    }
  }
  for (const k of spec.required ?? []) {
    if (obj[k] === undefined || obj[k] === null) throw yamlError(src, [...path, k], 'is required', 'MN0105');
  }
  return obj;
}

export function str(src: YamlSource, path: Path, v: unknown): string {
  if (typeof v !== 'string') throw yamlError(src, path, `expected a string, got ${describe(v)}`);
  return v;
}

/** A string, or a number YAML turned a bare value into (e.g. `version: 1.0`). */
export function scalarString(src: YamlSource, path: Path, v: unknown): string {
  if (typeof v === 'number' && Number.isFinite(v)) {
    const raw = src.doc.getIn(path, true) as { source?: string } | undefined;
    return raw?.source ?? String(v);
  }
  return str(src, path, v);
}

export function int(src: YamlSource, path: Path, v: unknown, min = 0, max = 2 ** 32 - 2): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw yamlError(src, path, `expected an integer, got ${describe(v)}`);
  if (v < min || v > max) throw yamlError(src, path, `must be between ${min} and ${max}`);
  return v;
}

export function bool(src: YamlSource, path: Path, v: unknown): boolean {
  if (typeof v !== 'boolean') throw yamlError(src, path, `expected true or false, got ${describe(v)}`);
  return v;
}

export function list(src: YamlSource, path: Path, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw yamlError(src, path, `expected a list, got ${describe(v)}`);
  return v;
}

export function strList(src: YamlSource, path: Path, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return list(src, path, v).map((x, i) => str(src, [...path, i], x));
}

/** Run `check` on a value; a MinosError it throws is re-thrown naming file, line and field. */
export function field<T>(src: YamlSource, path: Path, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof MinosError && !(e.data && 'file' in e.data)) throw yamlError(src, path, e.message, e.code);
    throw e;
  }
}
