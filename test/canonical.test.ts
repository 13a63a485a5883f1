import t from 'tap';
import { canonicalJson, compareUtf8, isCanonicalText } from '../src/canonical.js';
import { pathError } from '../src/pkg/manifest.js';

const sign = (n: number) => Math.sign(n);

t.test('compareUtf8 orders by UTF-8 bytes', async (t) => {
  t.equal(sign(compareUtf8('a', 'b')), -1);
  t.equal(sign(compareUtf8('ab', 'a')), 1);
  t.equal(compareUtf8('usr/bin', 'usr/bin'), 0);
  t.equal(sign(compareUtf8('a/b', 'a-b')), 1, '"/" sorts after "-"');
  // U+FFFD is EF BF BD in UTF-8, U+1F600 is F0 9F 98 80: code unit order says the opposite.
  t.equal(sign(compareUtf8('x\ufffd', 'x\u{1f600}')), -1);
  t.equal(sign(compareUtf8('x\u{1f600}', 'x\ufffd')), 1);
  t.equal(sign(compareUtf8('\u00e9', '\u{1f600}')), -1);
  const words = ['b', 'a\u{1f600}', 'a\ue000', 'a', 'a\u00ff', 'a/b', 'a-b'];
  const bytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  t.same([...words].sort(compareUtf8), bytes);
});

t.test('canonicalJson sorts every object, shared or copied', async (t) => {
  const inOrder = { a: 1, b: { c: [1, { d: 2, e: 3 }] } };
  t.equal(canonicalJson(inOrder), '{"a":1,"b":{"c":[1,{"d":2,"e":3}]}}');
  const mixed = { b: [{ z: 1, y: { q: 1, p: 2 } }, 'x', null], a: { n: true, m: false } };
  t.equal(canonicalJson(mixed), '{"a":{"m":false,"n":true},"b":[{"y":{"p":2,"q":1},"z":1},"x",null]}');
  t.same(mixed, { b: [{ z: 1, y: { q: 1, p: 2 } }, 'x', null], a: { n: true, m: false } }, 'input is not changed');
  t.equal(canonicalJson({ b: undefined, a: 1 }), '{"a":1}');
  t.equal(canonicalJson([new Date(0), { toJSON: () => ({ y: 1, x: 2 }) }]), '["1970-01-01T00:00:00.000Z",{"x":2,"y":1}]');
  t.equal(canonicalJson({ v: { toJSON: () => ({ toJSON: () => 1, k: 2 }) } }), '{"v":{"k":2}}', 'toJSON of a toJSON result is not called');
  t.equal(canonicalJson('s'), '"s"');
  t.throws(() => canonicalJson(undefined), TypeError);
  t.throws(() => canonicalJson({ a: [1, NaN] }), /non-finite/);
  t.throws(() => canonicalJson({ a: { b: Infinity } }), /non-finite/);
  t.throws(() => canonicalJson(-Infinity), /non-finite/);
});

t.test('isCanonicalText refuses every other spelling', async (t) => {
  const yes = '{"a":[{"b":1,"c":"x"}],"d":{"e":null}}';
  t.ok(isCanonicalText(JSON.parse(yes), yes));
  for (const no of ['{"d":{"e":null},"a":[]}', '{"a":[{"c":"x","b":1}]}', '{"a":{"y":{"b":1,"a":2}}}', '{"a": 1}', '{"a":1,"a":1}', '{"a":1.0}', '{"a":"\\u0041"}']) {
    t.notOk(isCanonicalText(JSON.parse(no), no), no);
  }
});

t.test('pathError: the ASCII fast path agrees with every rule', async (t) => {
  const cases: [string, string | undefined][] = [
    ['usr/bin/ls', undefined],
    ['a'.repeat(255), undefined],
    [`x/${'a'.repeat(256)}`, 'path component longer than 255 bytes'],
    [`${'abcdefg/'.repeat(511)}abcdefgh`, 'path longer than 4095 bytes'],
    [`${'abcdefg/'.repeat(511)}abcdefg`, undefined],
    ['', 'empty path'],
    ['/etc', 'absolute path'],
    ['etc/', 'trailing slash'],
    ['a//b', 'empty path component'],
    ['a/./b', '"." path component'],
    ['a/..', '".." path component'],
    ['..a/b.', undefined],
    ['a\tb', 'control character in path'],
    ['a\u007fb', 'control character in path'],
    ['.MANIFEST', 'reserved name'],
    ['x/.MANIFEST', undefined],
    ['caf\u00e9', undefined],
    ['cafe\u0301', 'path is not in Unicode NFC form'],
    [`${'\u00e9'.repeat(128)}`, 'path component longer than 255 bytes'],
  ];
  for (const [p, want] of cases) t.equal(pathError(p), want, JSON.stringify(p.length > 20 ? `${p.slice(0, 20)}…` : p));
});
