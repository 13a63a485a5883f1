/**
 * The LZMA2 chunk layer and the LZMA decoder beneath it (range coder, literal,
 * match and repeat-match coding), written from the published format.
 *
 * Contract: `lzma2Chunks(input, pos, sink)` decodes LZMA2 chunks starting at
 * `input[pos]` up to and including the end marker (control byte 0), passes
 * the output to `sink.out` in order (fresh copies, at least at every chunk
 * end), and returns the position after the end marker. The dictionary is a
 * ring of `sink.dictSize` bytes; a match reaching before the last dictionary
 * reset or beyond the ring, output over `sink.limit`, or input that ends
 * early calls `sink.fail`, which must throw.
 */

export interface Lzma2Sink {
  dictSize: number;
  limit: number;
  out(chunk: Uint8Array): void;
  fail(msg: string): never;
}

const STATES = 12;
const POS_STATES_MAX = 16;
const PROB_INIT = 1024;

interface LenCoder {
  choice: Uint16Array; // [choice, choice2]
  low: Uint16Array; // 16 pos states x 8
  mid: Uint16Array;
  high: Uint16Array; // 256
}

function newLen(): LenCoder {
  return { choice: new Uint16Array(2), low: new Uint16Array(POS_STATES_MAX * 8), mid: new Uint16Array(POS_STATES_MAX * 8), high: new Uint16Array(256) };
}

function resetLen(l: LenCoder): void {
  l.choice.fill(PROB_INIT);
  l.low.fill(PROB_INIT);
  l.mid.fill(PROB_INIT);
  l.high.fill(PROB_INIT);
}

export function lzma2Chunks(input: Uint8Array, start: number, sink: Lzma2Sink): number {
  const { fail } = sink;
  const dsize = sink.dictSize;
  const dict = new Uint8Array(dsize);
  let dpos = 0; // next write position in the ring
  let flushed = 0; // ring position up to which output was handed out
  let filled = 0; // bytes written since the last dictionary reset (capped at dsize)
  let total = 0;
  let base0 = 0; // `total` at the last dictionary reset: positions count from there

  let lc = 0;
  let lp = 0;
  let pb = 0;
  let literal = new Uint16Array(0x300);
  const isMatch = new Uint16Array(STATES * POS_STATES_MAX);
  const isRep = new Uint16Array(STATES);
  const isRepG0 = new Uint16Array(STATES);
  const isRepG1 = new Uint16Array(STATES);
  const isRepG2 = new Uint16Array(STATES);
  const isRep0Long = new Uint16Array(STATES * POS_STATES_MAX);
  const posSlot = new Uint16Array(4 * 64);
  const specPos = new Uint16Array(115);
  const align = new Uint16Array(16);
  const matchLen = newLen();
  const repLen = newLen();
  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;

  let range = 0;
  let code = 0;
  let ip = 0;
  let iend = 0;

  const flush = () => {
    if (dpos > flushed) sink.out(dict.slice(flushed, dpos));
    flushed = dpos === dsize ? 0 : dpos;
    if (dpos === dsize) dpos = 0;
  };
  const put = (b: number) => {
    dict[dpos++] = b;
    if (filled < dsize) filled++;
    if (dpos === dsize) flush();
  };
  const back = (dist: number) => {
    const i = dpos - dist - 1;
    return dict[i < 0 ? i + dsize : i];
  };

  const resetState = () => {
    literal.fill(PROB_INIT);
    isMatch.fill(PROB_INIT);
    isRep.fill(PROB_INIT);
    isRepG0.fill(PROB_INIT);
    isRepG1.fill(PROB_INIT);
    isRepG2.fill(PROB_INIT);
    isRep0Long.fill(PROB_INIT);
    posSlot.fill(PROB_INIT);
    specPos.fill(PROB_INIT);
    align.fill(PROB_INIT);
    resetLen(matchLen);
    resetLen(repLen);
    state = 0;
    rep0 = rep1 = rep2 = rep3 = 0;
  };

  const next = () => {
    if (ip >= iend) fail('LZMA chunk ends early');
    return input[ip++];
  };
  const bit = (probs: Uint16Array, i: number): number => {
    const p = probs[i];
    const bound = (range >>> 11) * p;
    let b: number;
    if (code < bound) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      b = 0;
    } else {
      range -= bound;
      code -= bound;
      probs[i] = p - (p >>> 5);
      b = 1;
    }
    if (range < 0x1000000) {
      range = (range * 256) >>> 0;
      code = ((code * 256) >>> 0) + next();
      code >>>= 0;
    }
    return b;
  };
  const tree = (probs: Uint16Array, base: number, bits: number): number => {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | bit(probs, base + m);
    return m - (1 << bits);
  };
  const reverse = (probs: Uint16Array, base: number, bits: number): number => {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = bit(probs, base + m);
      m = (m << 1) | b;
      sym |= b << i;
    }
    return sym;
  };
  const direct = (bits: number): number => {
    let v = 0;
    for (let i = 0; i < bits; i++) {
      range >>>= 1;
      let b = 0;
      if (code >= range) {
        code -= range;
        b = 1;
      }
      v = v * 2 + b;
      if (range < 0x1000000) {
        range = (range * 256) >>> 0;
        code = (((code * 256) >>> 0) + next()) >>> 0;
      }
    }
    return v;
  };
  const length = (l: LenCoder, ps: number): number => {
    if (bit(l.choice, 0) === 0) return tree(l.low, ps * 8, 3);
    if (bit(l.choice, 1) === 0) return 8 + tree(l.mid, ps * 8, 3);
    return 16 + tree(l.high, 0, 8);
  };

  /** Decode `want` output bytes of one LZMA chunk whose compressed bytes end at `end`. */
  const lzmaChunk = (want: number, end: number) => {
    iend = end;
    if (next() !== 0) fail('range coder does not start with a zero byte');
    range = 0xffffffff;
    code = 0;
    for (let i = 0; i < 4; i++) code = (((code * 256) >>> 0) + next()) >>> 0;
    const pbMask = (1 << pb) - 1;
    const lpMask = (1 << lp) - 1;
    let left = want;
    while (left > 0) {
      const upos = total - base0;
      const ps = upos & pbMask;
      if (bit(isMatch, state * POS_STATES_MAX + ps) === 0) {
        const prev = filled > 0 ? back(0) : 0;
        const base = 0x300 * (((upos & lpMask) << lc) + (prev >>> (8 - lc)));
        let sym = 1;
        if (state >= 7) {
          if (rep0 >= filled) fail('match distance beyond the dictionary');
          let mb = back(rep0);
          for (;;) {
            const mbit = (mb >>> 7) & 1;
            mb <<= 1;
            const b = bit(literal, base + ((1 + mbit) << 8) + sym);
            sym = (sym << 1) | b;
            if (mbit !== b || sym >= 0x100) break;
          }
        }
        while (sym < 0x100) sym = (sym << 1) | bit(literal, base + sym);
        put(sym & 0xff);
        total++;
        left--;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (bit(isRep, state) === 0) {
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        len = length(matchLen, ps);
        state = state < 7 ? 7 : 10;
        const slot = tree(posSlot, (len < 3 ? len : 3) * 64, 6);
        if (slot < 4) rep0 = slot;
        else {
          const nd = (slot >>> 1) - 1;
          let dist = (2 | (slot & 1)) * 2 ** nd;
          if (slot < 14) dist += reverse(specPos, dist - slot, nd);
          else dist += direct(nd - 4) * 16 + reverse(align, 0, 4);
          if (dist >= 0xffffffff) fail('end marker inside an LZMA2 chunk');
          rep0 = dist;
        }
      } else {
        if (filled === 0) fail('repeated match at the start of the dictionary');
        if (bit(isRepG0, state) === 0) {
          if (bit(isRep0Long, state * POS_STATES_MAX + ps) === 0) {
            state = state < 7 ? 9 : 11;
            if (rep0 >= filled) fail('match distance beyond the dictionary');
            put(back(rep0));
            total++;
            left--;
            continue;
          }
        } else {
          let dist: number;
          if (bit(isRepG1, state) === 0) dist = rep1;
          else {
            if (bit(isRepG2, state) === 0) dist = rep2;
            else {
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        len = length(repLen, ps);
        state = state < 7 ? 8 : 11;
      }
      let n = len + 2;
      if (rep0 >= filled) fail('match distance beyond the dictionary');
      if (n > left) fail('match runs past the chunk end');
      left -= n;
      total += n;
      while (n-- > 0) put(back(rep0));
    }
    if (ip !== end) fail('LZMA chunk size mismatch');
  };

  let pos = start;
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    if (pos >= input.length) fail('truncated LZMA2 data');
    const ctl = input[pos++];
    if (ctl === 0) break;
    if (ctl === 1 || ctl === 2) {
      if (pos + 2 > input.length) fail('truncated LZMA2 chunk header');
      const size = ((input[pos] << 8) | input[pos + 1]) + 1;
      pos += 2;
      if (ctl === 1) {
        filled = 0;
        base0 = total;
        needDictReset = false;
      } else if (needDictReset) fail('first LZMA2 chunk does not reset the dictionary');
      if (pos + size > input.length) fail('truncated uncompressed chunk');
      if (total + size > sink.limit) fail(`output larger than the ${sink.limit} bytes expected`);
      for (let i = 0; i < size; i++) put(input[pos + i]);
      total += size;
      pos += size;
      flush();
      continue;
    }
    if (ctl < 0x80) fail(`invalid LZMA2 control byte 0x${ctl.toString(16)}`);
    if (pos + 4 > input.length) fail('truncated LZMA2 chunk header');
    const usize = ((ctl & 0x1f) << 16) + (input[pos] << 8) + input[pos + 1] + 1;
    const csize = (input[pos + 2] << 8) + input[pos + 3] + 1;
    pos += 4;
    const reset = (ctl >>> 5) & 3;
    if (reset === 3) {
      filled = 0;
      base0 = total;
      needDictReset = false;
    } else if (needDictReset) fail('first LZMA2 chunk does not reset the dictionary');
    if (reset >= 2) {
      if (pos >= input.length) fail('truncated LZMA2 properties');
      let d = input[pos++];
      if (d >= 9 * 5 * 5) fail('invalid LZMA properties');
      lc = d % 9;
      d = (d / 9) | 0;
      lp = d % 5;
      pb = (d / 5) | 0;
      if (lc + lp > 4) fail('LZMA2 needs lc + lp <= 4');
      literal = new Uint16Array(0x300 << (lc + lp));
      needProps = false;
    } else if (needProps) fail('LZMA chunk without properties');
    if (reset >= 1) resetState();
    if (total + usize > sink.limit) fail(`output larger than the ${sink.limit} bytes expected`);
    if (pos + csize > input.length) fail('truncated LZMA chunk');
    ip = pos;
    lzmaChunk(usize, pos + csize);
    pos += csize;
    flush();
  }
  flush();
  return pos;
}
