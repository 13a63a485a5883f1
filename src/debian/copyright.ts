/**
 * The license a Debian package declares in `usr/share/doc/NAME/copyright`,
 * when that file is machine-readable (DEP-5, copyright-format 1.0).
 *
 * Contract: `copyrightLicense(text)` returns undefined unless the text parses
 * as deb822 stanzas whose first one has `Format:` the copyright-format 1.0
 * URL (http or https, trailing slash optional) and every stanza with a
 * `Files:` field has a non-empty `License:` short name (its first line).
 * Otherwise it returns the short names of all Files stanzas in file order,
 * each once (compared without case), joined with ` AND `: Debian's `and`,
 * `or` and `with` written as SPDX's `AND`, `OR`, `WITH`, and a name that is
 * itself such an expression put in parentheses when there are several. The
 * names stay Debian's (`GPL-2+`, `Expat`): most are SPDX identifiers, some
 * are not, so the result is an SPDX-like expression, not a validated one.
 */
import { fieldOf, parseStanzas, type Stanza } from './control.js';

const FORMAT = /^https?:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/?$/;

/** One License short name as an SPDX-like expression. */
function expression(shortName: string): string {
  return shortName
    .replace(/\s+/g, ' ')
    .replace(/,\s*(and|or)\s/gi, ' $1 ')
    .replace(/ (and|or|with) /gi, (_, w: string) => ` ${w.toUpperCase()} `);
}

export function copyrightLicense(text: string): string | undefined {
  const stanzas: Stanza[] = [];
  try {
    parseStanzas(text, 'copyright', (s) => stanzas.push(s));
  } catch {
    return undefined;
  }
  if (stanzas.length === 0 || !FORMAT.test(fieldOf(stanzas[0], 'Format')?.trim() ?? '')) return undefined;
  const names: string[] = [];
  const seen = new Set<string>();
  for (const s of stanzas) {
    if (fieldOf(s, 'Files') === undefined) continue;
    const name = expression((fieldOf(s, 'License') ?? '').split('\n')[0].trim());
    if (name === '') return undefined;
    if (seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    names.push(name);
  }
  if (names.length === 0) return undefined;
  if (names.length === 1) return names[0];
  return names.map((n) => (n.includes(' ') ? `(${n})` : n)).join(' AND ');
}
