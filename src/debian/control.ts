/**
 * Debian's control-file syntax (deb822), as Release, Packages and a package's
 * `control` use it: stanzas separated by blank lines, `Field: value` lines,
 * continuation lines starting with a space or tab. Strict: anything else is
 * an error naming the file and line (MinosError MN0110, exit 2, unless the
 * caller maps it).
 */
import { MinosError } from '../errors.js';

export interface Stanza {
  /** Field name in lower case (dpkg and apt ignore case) → value; folded values keep their newlines. */
  fields: Map<string, string>;
  /** 1-based line of the stanza's first field. */
  line: number;
}

/** Case-insensitive field lookup, as dpkg and apt treat field names. */
export function fieldOf(s: Stanza, name: string): string | undefined {
  return s.fields.get(name.toLowerCase());
}

const FIELD = /^([!-9;-~][!-9;-~]*):[ \t]*(.*)$/;

/**
 * Parse `text` into stanzas, calling `each` for every one as it completes
 * (so a 60,000-stanza Packages file is never held twice). With `keep`, only
 * those fields (lower case) keep their values, and only the first line of
 * a folded one: the others are checked as strictly and stored as ''.
 * (Packages' multi-line Descriptions were most of the parse's time.)
 */
export function parseStanzas(text: string, label: string, each: (s: Stanza) => void, keep?: ReadonlySet<string>): number {
  let count = 0;
  let fields: Map<string, string> | undefined;
  let first = 0;
  let last: string | undefined;
  let lineNo = 0;
  const done = () => {
    if (fields) {
      each({ fields, line: first });
      count++;
    }
    fields = undefined;
    last = undefined;
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    let j = text.indexOf('\n', i);
    if (j < 0) j = n;
    lineNo++;
    const line = text.charCodeAt(j - 1) === 13 ? text.slice(i, j - 1) : text.slice(i, j);
    i = j + 1;
    if (line.length === 0 || /^[ \t]*$/.test(line)) {
      done();
      continue;
    }
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      if (!fields || last === undefined) throw bad(label, lineNo, 'continuation line without a field');
      if (!keep) fields.set(last, `${fields.get(last)}\n${line.slice(1)}`);
      continue;
    }
    if (c === 35 /* # */) continue;
    const m = FIELD.exec(line);
    if (!m) throw bad(label, lineNo, `not a "Field: value" line: ${JSON.stringify(line.slice(0, 60))}`);
    if (!fields) {
      fields = new Map();
      first = lineNo;
    }
    const key = m[1].toLowerCase();
    if (fields.has(key)) throw bad(label, lineNo, `field ${m[1]} given twice`);
    fields.set(key, keep && !keep.has(key) ? '' : m[2].replace(/[ \t]+$/, ''));
    last = key;
  }
  done();
  return count;
}

export function bad(label: string, line: number, why: string): MinosError {
  return new MinosError('MN0110', `${label}:${line}: ${why}`, { data: { file: label, line } });
}
