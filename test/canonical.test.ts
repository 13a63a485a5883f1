import t from 'tap';
import { canonicalJson, compareUtf8, isCanonicalText } from '../src/canonical.js';
import { pathError } from '../src/names.js';
import { prng } from './lib/prng.js';

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
  t.ok(isCanonicalText(JSON.parse(yes), yes, Buffer.from(yes)), 'by the byte scan too');
  for (const no of ['{"d":{"e":null},"a":[]}', '{"a":[{"c":"x","b":1}]}', '{"a":{"y":{"b":1,"a":2}}}', '{"a": 1}', '{"a":1,"a":1}', '{"a":1.0}', '{"a":"\\u0041"}', '{"10":1,"9":2}', '{"a":-0}', '[12345678901234567]']) {
    t.notOk(isCanonicalText(JSON.parse(no), no), no);
    t.notOk(isCanonicalText(JSON.parse(no), no, Buffer.from(no)), `${no}, given its bytes`);
  }
});

t.test('isCanonicalText: the byte scan agrees with the exact check', async (t) => {
  const rnd = prng(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const KEYS = ['a', 'b', 'ab', 'B', '_', '12', '0', 'é', '\u{1f600}', '\ue000', 'a"b', 'a\\b', 'a\nb', '\u0001', '__proto__'];
  const STRINGS = ['', 'x', 'é', '\u{1f600}', '"', '\\', '\b\f\n\r\t', '\u0001\u001f', '\u007f', '/', '\u2028', '\ud800'];
  const NUMBERS = [0, 1, -1, 7, 123456789012345, 1234567890123456, -123456789012345, 2 ** 53 + 2, 1.5, -0.25, 1e21, 1e-7, 100];
  // Half the values use only what the scan follows, so it meets every rule rather than bailing out early.
  const PLAIN_KEYS = ['a', 'b', 'ab', 'B', '_', '9', '10'];
  const PLAIN = ['', 'x', 'é', '"', '\\', '\n', '/', 0, 1, -1, 100, 123456789012345, true, false, null];
  const value = (depth: number, plain: boolean): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.3) return plain ? pick<unknown>(PLAIN) : pick<unknown>([...STRINGS, ...NUMBERS, true, false, null]);
    if (r < 0.55) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1, plain));
    const o: Record<string, unknown> = {};
    for (let k = Math.floor(rnd() * 5); k > 0; k--) o[pick(plain ? PLAIN_KEYS : KEYS)] = value(depth + 1, plain);
    return o;
  };
  const mutate = (s: string): string => {
    const i = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 8)) {
      case 0: return `${s.slice(0, i)} ${s.slice(i)}`;
      case 1: return s.slice(0, i) + s.slice(i + 1, i + 2) + s.slice(i, i + 1) + s.slice(i + 2);
      case 2: return s.replace(/"([a-z_]+)":([^,{}[\]]+)/, '"$1":$2,"$1":$2');
      case 3: return s.replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
      case 4: return s.replace(/\d+/, '$&.0');
      case 5: return s.replace(/\b0\b/, '-0').replace(/:(\d)/, ':0$1');
      case 6: return s.replace('/', '\\/').replace(/\d{3,}/, '$&987'); // 12345678901234598 is not a double
      default: return s.replace(/"([^"]*)":/, '"$1","$1":').replace(/,(?=[}\]])/, '');
    }
  };
  let canonical = 0;
  let refused = 0;
  for (let k = 0; k < 4000; k++) {
    const v0 = value(0, k % 4 < 2);
    const base = k % 3 === 2 ? JSON.stringify(v0) : canonicalJson(v0); // keys in insertion order, or sorted
    const text = k % 2 ? base : mutate(base);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      continue;
    }
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.toString('utf8') !== text) continue; // a lone surrogate: no UTF-8 decodes to this text
    const exact = isCanonicalText(v, text);
    const scanned = isCanonicalText(v, text, bytes);
    if (scanned !== exact) t.fail(`${JSON.stringify(text)}: scan says ${scanned}, exact check ${exact}`);
    if (exact) canonical++;
    else refused++;
  }
  t.ok(canonical > 1000 && refused > 500, `${canonical} canonical, ${refused} refused, the same both ways`);
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
