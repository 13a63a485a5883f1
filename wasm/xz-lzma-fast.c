/*
 * liblzma's LZMA decoder (lzma/lzma_decoder.c of the pinned xz release,
 * included below) with a fast path in front of it, for WebAssembly.
 *
 * Why: upstream's lzma_decode() can stop after any bit when input runs out
 * and resumes through `switch (coder->sequence)`, whose `case` labels sit
 * inside the decoding loop. That control flow is irreducible; clang lowers
 * it to wasm's structured control flow with a dispatch loop, so every
 * decoded bit goes back through a 70-way br_table. Native builds do not pay
 * this, which is why the wasm decoder ran at 0.65-0.72x native `xz -d`.
 *
 * The fast path decodes whole symbols with plain loops, and only while no
 * symbol can run out of input or output: at least FAST_IN_MARGIN input
 * bytes left (one symbol reads at most 48: one per bit, normalizing before
 * each) and more than MATCH_LEN_MAX bytes of room below the write limit
 * (and below the chunk's end, so it never finishes an LZMA2 chunk). It
 * starts and stops only between symbols (coder->sequence == SEQ_IS_MATCH),
 * where upstream's resumable code takes over with the same state; it reads,
 * normalizes and updates probabilities exactly where upstream does, so both
 * consume the same input bytes and write the same output, and corrupt data
 * fails with LZMA_DATA_ERROR at the same symbol. Everything else (the range
 * decoder's initialization, the end of a chunk, the last bytes of input and
 * room, LZMA1 streams without a known size) is upstream's code, unchanged.
 *
 * lzma_decode is the name upstream's init stores (`lz->code =
 * &lzma_decode`); the function-like macro renames only its definition, which
 * is followed by "(", to upstream_lzma_decode.
 */
#include "lz_decoder.h"

static lzma_ret lzma_decode(void *coder_ptr, lzma_dict *restrict dictptr,
                            const uint8_t *restrict in, size_t *restrict in_pos,
                            size_t in_size);

#define lzma_decode(...) upstream_lzma_decode(__VA_ARGS__)
#include "lzma_decoder.c"
#undef lzma_decode

#define FAST_IN_MARGIN 64

/* Range decoder steps on the locals `range`, `code`, `ip` of fast_decode. */
#define FAST_NORMALIZE()                                                      \
  do {                                                                        \
    if (range < RC_TOP_VALUE) {                                               \
      range <<= RC_SHIFT_BITS;                                                \
      code = (code << RC_SHIFT_BITS) | in[ip++];                              \
    }                                                                         \
  } while (0)

/* Decodes one bit with probability `prob`: zero runs `on0`, one runs `on1`. */
#define FAST_BIT(prob, on0, on1)                                              \
  do {                                                                        \
    FAST_NORMALIZE();                                                         \
    const uint32_t bound_ = (range >> RC_BIT_MODEL_TOTAL_BITS) * (prob);      \
    if (code < bound_) {                                                      \
      range = bound_;                                                         \
      (prob) += (RC_BIT_MODEL_TOTAL - (prob)) >> RC_MOVE_BITS;                \
      on0;                                                                    \
    } else {                                                                  \
      range -= bound_;                                                        \
      code -= bound_;                                                         \
      (prob) -= (prob) >> RC_MOVE_BITS;                                       \
      on1;                                                                    \
    }                                                                         \
  } while (0)

/* One step of a bittree: `sym` gains the decoded bit. */
#define FAST_TREE(probs, sym)                                                 \
  FAST_BIT((probs)[sym], (sym) = (sym) << 1, (sym) = ((sym) << 1) + 1)

#define FAST_TREE3(probs, sym)                                                \
  do {                                                                        \
    FAST_TREE(probs, sym);                                                    \
    FAST_TREE(probs, sym);                                                    \
    FAST_TREE(probs, sym);                                                    \
  } while (0)

/* A match length from length decoder `ld` (MATCH_LEN_MIN..MATCH_LEN_MAX). */
#define FAST_LEN(target, ld, pos_state)                                       \
  do {                                                                        \
    uint32_t s_ = 1;                                                          \
    int choice_ = 0;                                                          \
    FAST_BIT((ld).choice, choice_ = 0, choice_ = 1);                          \
    if (choice_ == 0) {                                                       \
      FAST_TREE3((ld).low[pos_state], s_);                                    \
      (target) = s_ - LEN_LOW_SYMBOLS + MATCH_LEN_MIN;                        \
    } else {                                                                  \
      FAST_BIT((ld).choice2, choice_ = 0, choice_ = 1);                       \
      if (choice_ == 0) {                                                     \
        FAST_TREE3((ld).mid[pos_state], s_);                                  \
        (target) = s_ - LEN_MID_SYMBOLS + MATCH_LEN_MIN + LEN_LOW_SYMBOLS;    \
      } else {                                                                \
        do FAST_TREE((ld).high, s_); while (s_ < LEN_HIGH_SYMBOLS);           \
        (target) = s_ - LEN_HIGH_SYMBOLS + MATCH_LEN_MIN + LEN_LOW_SYMBOLS +  \
                   LEN_MID_SYMBOLS;                                           \
      }                                                                       \
    }                                                                         \
  } while (0)

/*
 * Whole symbols while the margins hold. Precondition: the range decoder is
 * initialized, coder->sequence == SEQ_IS_MATCH and the chunk's uncompressed
 * size is known. Returns LZMA_OK (stopped between symbols, state saved) or
 * LZMA_DATA_ERROR (a distance before the start of the data, or an end
 * marker where the size is known: upstream's two checks).
 */
static lzma_ret fast_decode(lzma_lzma1_decoder *restrict coder,
                            lzma_dict *restrict dictptr,
                            const uint8_t *restrict in, size_t *restrict in_pos,
                            size_t in_size) {
  if (in_size - *in_pos < FAST_IN_MARGIN) return LZMA_OK;
  lzma_dict dict = *dictptr;
  size_t limit = dict.limit;
  if (coder->uncompressed_size < limit - dict.pos)
    limit = dict.pos + (size_t)coder->uncompressed_size;
  const size_t dict_start = dict.pos;
  const size_t in_last = in_size - FAST_IN_MARGIN;
  size_t ip = *in_pos;
  uint32_t range = coder->rc.range;
  uint32_t code = coder->rc.code;
  uint32_t state = coder->state;
  uint32_t rep0 = coder->rep0, rep1 = coder->rep1, rep2 = coder->rep2,
           rep3 = coder->rep3;
  const uint32_t pos_mask = coder->pos_mask;
  const uint32_t lc = coder->literal_context_bits;
  const uint32_t lp_mask = coder->literal_pos_mask;
  lzma_ret ret = LZMA_OK;
  int bit;

  while (ip <= in_last && limit - dict.pos > MATCH_LEN_MAX) {
    const uint32_t pos_state = dict.pos & pos_mask;
    FAST_BIT(coder->is_match[state][pos_state], bit = 0, bit = 1);
    if (bit == 0) {
      probability *probs = literal_subcoder(coder->literal, lc, lp_mask,
                                            dict.pos, dict_get(&dict, 0));
      uint32_t symbol = 1;
      if (is_literal_state(state)) {
        /* Unrolled: 3% faster in wasm than the loop. */
        FAST_TREE3(probs, symbol);
        FAST_TREE3(probs, symbol);
        FAST_TREE(probs, symbol);
        FAST_TREE(probs, symbol);
      } else {
        /* A literal after a match: bits of the byte at rep0 pick the
           probabilities until the first bit that differs. */
        uint32_t match_byte = dict_get(&dict, rep0) << 1;
        uint32_t offset = 0x100;
        do {
          const uint32_t match_bit = match_byte & offset;
          const uint32_t index = offset + match_bit + symbol;
          FAST_BIT(probs[index],
                   (symbol <<= 1, offset &= ~match_bit),
                   (symbol = (symbol << 1) + 1, offset &= match_bit));
          match_byte <<= 1;
        } while (symbol < (1 << 8));
      }
      update_literal(state);
      dict_put(&dict, (uint8_t)symbol);
      continue;
    }

    uint32_t len;
    FAST_BIT(coder->is_rep[state], bit = 0, bit = 1);
    if (bit == 0) {
      update_match(state);
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      FAST_LEN(len, coder->match_len_decoder, pos_state);
      probability *probs = coder->dist_slot[get_dist_state(len)];
      uint32_t slot = 1;
      FAST_TREE3(probs, slot);
      FAST_TREE3(probs, slot);
      slot -= DIST_SLOTS;
      if (slot < DIST_MODEL_START) {
        rep0 = slot;
      } else {
        const uint32_t bits = (slot >> 1) - 1;
        rep0 = 2 + (slot & 1);
        if (slot < DIST_MODEL_END) {
          /* Reverse bittree in pos_special from index rep0 - slot
             (upstream's `probs = pos_special + rep0 - slot - 1` with
             probs[1] first). */
          rep0 <<= bits;
          const uint32_t base = rep0 - slot - 1;
          uint32_t s = 1;
          for (uint32_t i = 0; i < bits; ++i)
            FAST_BIT(coder->pos_special[base + s], s <<= 1,
                     (s = (s << 1) + 1, rep0 += 1U << i));
        } else {
          for (uint32_t i = bits - ALIGN_BITS; i > 0; --i) {
            FAST_NORMALIZE();
            range >>= 1;
            code -= range;
            const uint32_t mask = UINT32_C(0) - (code >> 31);
            code += range & mask;
            rep0 = (rep0 << 1) + (mask + 1);
          }
          rep0 <<= ALIGN_BITS;
          uint32_t s = 1;
          for (uint32_t i = 0; i < ALIGN_BITS; ++i)
            FAST_BIT(coder->pos_align[s], s <<= 1,
                     (s = (s << 1) + 1, rep0 += 1U << i));
          /* An end-of-payload marker, where the size is known. */
          if (rep0 == UINT32_MAX) {
            ret = LZMA_DATA_ERROR;
            break;
          }
        }
      }
      if (unlikely(!dict_is_distance_valid(&dict, rep0))) {
        ret = LZMA_DATA_ERROR;
        break;
      }
    } else {
      if (unlikely(!dict_is_distance_valid(&dict, 0))) {
        ret = LZMA_DATA_ERROR;
        break;
      }
      FAST_BIT(coder->is_rep0[state], bit = 0, bit = 1);
      if (bit == 0) {
        FAST_BIT(coder->is_rep0_long[state][pos_state], bit = 0, bit = 1);
        if (bit == 0) {
          update_short_rep(state);
          dict_put(&dict, dict_get(&dict, rep0));
          continue;
        }
      } else {
        uint32_t distance;
        FAST_BIT(coder->is_rep1[state], bit = 0, bit = 1);
        if (bit == 0) {
          distance = rep1;
        } else {
          FAST_BIT(coder->is_rep2[state], bit = 0, bit = 1);
          if (bit == 0) {
            distance = rep2;
          } else {
            distance = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = distance;
      }
      update_long_rep(state);
      FAST_LEN(len, coder->rep_len_decoder, pos_state);
    }
    /* Fits: more than MATCH_LEN_MAX bytes of room were left. */
    dict_repeat(&dict, rep0, &len);
  }

  dictptr->pos = dict.pos;
  dictptr->full = dict.full;
  coder->rc.range = range;
  coder->rc.code = code;
  *in_pos = ip;
  coder->state = state;
  coder->rep0 = rep0;
  coder->rep1 = rep1;
  coder->rep2 = rep2;
  coder->rep3 = rep3;
  coder->uncompressed_size -= dict.pos - dict_start;
  return ret;
}

/*
 * Upstream's entry point with the fast path in front. A call that starts
 * inside a symbol (the previous one ran out of input or room there) first
 * finishes that symbol with upstream's code, writing at most one byte or
 * the rest of a pending match, so the fast path can start between symbols.
 * Upstream then decodes the rest, to the end of input or room as before.
 */
static lzma_ret lzma_decode(void *coder_ptr, lzma_dict *restrict dictptr,
                            const uint8_t *restrict in, size_t *restrict in_pos,
                            size_t in_size) {
  lzma_lzma1_decoder *restrict coder = coder_ptr;
  const lzma_ret init = rc_read_init(&coder->rc, in, in_pos, in_size);
  if (init != LZMA_STREAM_END) return init;
  if (coder->uncompressed_size == LZMA_VLI_UNKNOWN)
    return upstream_lzma_decode(coder_ptr, dictptr, in, in_pos, in_size);

  while (coder->sequence != SEQ_IS_MATCH) {
    if (dictptr->limit - dictptr->pos <= MATCH_LEN_MAX)
      return upstream_lzma_decode(coder_ptr, dictptr, in, in_pos, in_size);
    /* Upstream stops where the limit is reached between symbols, or in
       SEQ_COPY when a match goes past it (the loop then copies the rest). */
    lzma_dict step = *dictptr;
    step.limit = step.pos + (coder->sequence == SEQ_COPY ? coder->len : 1);
    const lzma_ret ret =
        upstream_lzma_decode(coder_ptr, &step, in, in_pos, in_size);
    dictptr->pos = step.pos;
    dictptr->full = step.full;
    if (ret != LZMA_OK) return ret;
    if (coder->sequence != SEQ_IS_MATCH && coder->sequence != SEQ_COPY)
      return LZMA_OK; /* out of input inside a symbol, as upstream would */
  }

  const lzma_ret ret = fast_decode(coder, dictptr, in, in_pos, in_size);
  if (ret != LZMA_OK) return ret;
  return upstream_lzma_decode(coder_ptr, dictptr, in, in_pos, in_size);
}
