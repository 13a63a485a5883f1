/**
 * parsePackages reads a Packages file as bytes: deb822's corners (folded
 * relation fields, CR line ends, field names in any case, UTF-8 summaries)
 * come out as the text-based control parser reads them.
 */
import t from 'tap';
import { parsePackages } from '../src/debian/packages.js';

const SHA = 'b'.repeat(64);
const stanza = (name: string, extra = '') => `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/${name}.deb\nSize: 10\nSHA256: ${SHA}\n${extra}`;
const opts = { label: 'P', arch: 'x86_64' as const };

t.test('folded relations, CR line ends, any case, a UTF-8 summary', async (t) => {
  const text = `${stanza('a', 'Depends: x,\n y (>= 2)\n  | z\nDescription: Grüße, world\n more text\n .\nESSENTIAL: yes\nPriority: required\n')}\n${stanza('b', 'Source: src (1.0)\nDepends: x\n')}`;
  const [a, b] = parsePackages(text, opts);
  t.same(a.depends, ['x', 'y >= 2 | z']);
  t.equal(a.summary, 'Grüße, world');
  t.equal(a.debian.essential, true);
  t.equal(a.debian.priority, 'required');
  t.equal(b.debian.source, 'src');
  t.same(b.depends, ['x']);
  t.same(parsePackages(Buffer.from(text.replace(/\n/g, '\r\n')), opts), [a, b], 'CR LF line ends read the same');
  t.same(parsePackages(Buffer.from(text), opts), [a, b], 'bytes and text read the same');
});

t.test('strict as the control parser', async (t) => {
  t.throws(() => parsePackages(stanza('a', 'depends: x\nDepends: y\n'), opts), { code: 'MN0110', message: /P:8: field Depends given twice/ });
  t.throws(() => parsePackages(` x\n${stanza('a')}`, opts), { code: 'MN0110', message: /P:1: continuation line without a field/ });
  t.throws(() => parsePackages(stanza('a', 'Depends: x\rjunk\n'), opts), { code: 'MN0110', message: /P:7: not a "Field: value" line/ });
  t.throws(() => parsePackages('Version: 1\nArchitecture: amd64\n', opts), { code: 'MN0216', message: /P:1: stanza without a Package field/ });
  t.throws(() => parsePackages(`${stanza('a', 'Depends: x (>= 1)\n')}\n${stanza('b', 'Depends: x (>= 1), \n')}`, opts), { code: 'MN0216', message: /P:9: package b: Depends: empty relation/ });
  t.throws(() => parsePackages(stanza('a', 'Installed-Size: 1k\n'), opts), { code: 'MN0216', message: /Installed-Size: "1k" is not a number/ });
  t.throws(() => parsePackages(stanza('a').replace(SHA, SHA.toUpperCase()), opts), { code: 'MN0216', message: /SHA256: ".*" is not a sha256/ });
  t.throws(() => parsePackages(stanza('a').replace('1.0-1', '1.0-1-'), opts), { code: 'MN0216', message: /Version: bad revision/ });
});

t.test('lazy: relations converted on first read, the same entries, safe to spread, clone and serialize', async (t) => {
  const text = [
    stanza('a', 'Pre-Depends: p\nDepends: x,\n y (>= 2)\n  | z\nBreaks: old (<< 1)\nConflicts: c\nReplaces: old\nRecommends: r\nProvides: v (= 1)\nPriority: required\n'),
    stanza('b', 'Depends: x (>= 1), \n'),
    stanza('c'),
  ].join('\n');
  const lazy = parsePackages(text, { ...opts, lazy: true });
  const eager = parsePackages(text.replace(', \n', '\n'), opts);
  t.equal(lazy.length, 3, 'a malformed relation does not fail the parse');
  const [a, b, c] = lazy;
  t.same(Object.keys(a).includes('depends'), false, 'not converted before it is read');
  t.same(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(eager[0])), 'JSON sees every field (toJSON converts)');
  t.same({ ...a }, eager[0], 'converted: spread sees every field');
  t.same(structuredClone({ ...a, debian: { ...a.debian } }), eager[0]);
  t.same(a.debian.preDepends, ['p']);
  t.same(a.debian.breaks, ['old < 1']);
  t.same(a.conflicts, ['c', 'old < 1']);
  t.same(c.debian.recommends, [], 'read through debian first');
  t.same(structuredClone(c), eager[2], 'a converted entry survives structured cloning');
  t.throws(() => b.depends, { code: 'MN0216', message: /P:18: package b: Depends: empty relation/ }, 'the error names the stanza line, the package and the field');
  t.throws(() => b.debian.recommends, { code: 'MN0216' }, 'and again on the next read');
});

t.test('only: the wanted stanzas, the same entries and line numbers, whatever parts the stanzas', async (t) => {
  const text = [stanza('a'), stanza('b', 'Depends: x\n'), stanza('c'), `Version: 1.0-1\nPackage: d\nArchitecture: amd64\nFilename: pool/d.deb\nSize: 10\nSHA256: ${SHA}\n`, stanza('e')].join('\n');
  const all = parsePackages(text, opts);
  const only = new Set(['b', 'd', 'e']);
  const want = all.filter((p) => only.has(p.name));
  t.same(parsePackages(text, { ...opts, lazy: true, only }), want, 'skipped stanzas, a stanza that does not start with Package');
  t.same(parsePackages(text.replace(/\n\n/g, '\n \n'), { ...opts, only }), want, 'stanzas parted by lines of spaces');
  t.same(parsePackages(Buffer.from(text.replace(/\n/g, '\r\n')), { ...opts, only }), want, 'CR LF line ends');
  const bad = text.replace('Package: e\nVersion: 1.0-1', 'Package: e\nVersion: 1.0-1-');
  t.throws(() => parsePackages(bad, opts), { message: /P:30: package e: Version/ });
  t.throws(() => parsePackages(bad, { ...opts, only }), { message: /P:30: package e: Version/ }, 'lines counted across skipped stanzas');
  t.same(parsePackages(bad, { ...opts, only: new Set(['a']) }), all.slice(0, 1), 'an unwanted stanza is not checked');
});
