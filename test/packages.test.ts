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
