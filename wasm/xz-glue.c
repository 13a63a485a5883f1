/*
 * Canonical-ABI glue between the WIT interfaces in xz.wit and liblzma:
 * compiled with -DMINOS_XZ_DECODER for the `decoder` world (export
 * minos:xz/decode, liblzma's .xz stream decoder) and with -DMINOS_XZ_ENCODER
 * for the `encoder` world (export minos:xz/encode, its single-threaded
 * stream encoder), so each core module carries only half of liblzma.
 *
 * Written by hand (no wit-bindgen), like glue.c:
 *   - a `list<u8>` argument arrives as (ptr, len), allocated by our
 *     cabi_realloc; ownership passes to us (pending input, freed once used);
 *   - `result<list<u8>, string>` is returned through cabi.h's static return
 *     area; the list points into the decoder's reusable output buffer and
 *     error strings are static;
 *   - methods receive the resource representation (our struct pointer);
 *     the constructor returns a handle from the imported [resource-new].
 *
 * liblzma is built with the LZMA2 filter only (wasm/build.mjs), so a block
 * using any other filter fails with LZMA_OPTIONS_ERROR.
 */
#include "lzma.h"

#include "cabi.h"

/* Bytes one decode/encode/finish call returns at most. */
#define OUT_CAP ((size_t)256 * 1024)

#if defined(MINOS_XZ_DECODER) == defined(MINOS_XZ_ENCODER)
#error "define exactly one of MINOS_XZ_DECODER, MINOS_XZ_ENCODER"
#endif
#ifdef MINOS_XZ_DECODER
#define IFACE "minos:xz/decode@0.1.0"
#else
#define IFACE "minos:xz/encode@0.1.0"
#endif
#define EXPORT(name) __attribute__((export_name(IFACE "#" name)))
#define IMPORT(name) \
  __attribute__((import_module("[export]" IFACE), import_name(name)))

EXPORT("out-capacity") uint32_t out_capacity(void) { return (uint32_t)OUT_CAP; }

/* ------------------------------------------------------------------ decoder */
#ifdef MINOS_XZ_DECODER

IMPORT("[resource-new]decoder") extern int32_t resource_new_decoder(int32_t rep);

typedef struct {
  lzma_stream strm;
  pending_t in;
  uint8_t *out;
  int more;  /* the last call filled the output: more may be pending */
  int last;  /* a call with last = true was made */
  int ended; /* liblzma returned LZMA_STREAM_END */
  const char *err; /* sticky */
} decoder_t;

/* "memory limit: N bytes needed" with N in decimal, in a static buffer. */
static const char *memlimit_message(uint64_t need) {
  static char msg[64];
  static const char head[] = "memory limit: ";
  static const char tail[] = " bytes needed";
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + need % 10);
    need /= 10;
  } while (need != 0);
  size_t at = sizeof head - 1;
  memcpy(msg, head, at);
  while (n > 0) msg[at++] = digits[--n];
  memcpy(msg + at, tail, sizeof tail);
  return msg;
}

/* A static description of a liblzma failure. The host matches the prefix
   before ':' where it needs to tell kinds apart. */
static const char *describe(decoder_t *d, lzma_ret r) {
  switch (r) {
    case LZMA_MEM_ERROR: return ERR_OOM;
    case LZMA_MEMLIMIT_ERROR: return memlimit_message(lzma_memusage(&d->strm));
    case LZMA_FORMAT_ERROR: return "not an xz stream";
    case LZMA_OPTIONS_ERROR: return "unsupported options: filters other than LZMA2, or a newer xz format";
    case LZMA_DATA_ERROR: return "data is corrupt (or its integrity check does not match)";
    case LZMA_BUF_ERROR: return "truncated: the data ends inside a stream";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check type";
    default: return "internal error in liblzma";
  }
}

EXPORT("[constructor]decoder") int32_t decoder_new(uint32_t memlimit) {
  decoder_t *d = calloc(1, sizeof *d);
  if (d == NULL) __builtin_trap();
  d->strm = (lzma_stream)LZMA_STREAM_INIT;
  d->out = malloc(OUT_CAP);
  if (d->out == NULL) {
    d->err = ERR_OOM;
  } else {
    /* CONCATENATED: streams and stream padding follow each other, as in
       `xz -d`; TELL_UNSUPPORTED_CHECK: a check we cannot verify is refused. */
    lzma_ret r = lzma_stream_decoder(&d->strm, memlimit == 0 ? 1 : memlimit,
                                     LZMA_CONCATENATED | LZMA_TELL_UNSUPPORTED_CHECK);
    if (r != LZMA_OK) d->err = describe(d, r);
  }
  return resource_new_decoder((int32_t)(uintptr_t)d);
}

EXPORT("[dtor]decoder") void decoder_drop(decoder_t *d) {
  lzma_end(&d->strm);
  free(d->in.buf);
  free(d->out);
  free(d);
}

EXPORT("[method]decoder.decode")
void *decoder_decode(decoder_t *d, uint8_t *ptr, size_t len, int32_t last) {
  if (d->err == NULL && d->last && len != 0) d->err = "input after the last chunk";
  if (d->err != NULL) {
    if (len) free(ptr);
    return ret_err(d->err);
  }
  const char *e = pending_add(&d->in, ptr, len);
  if (e != NULL) return ret_err(d->err = e);
  if (last) d->last = 1;
  lzma_stream *s = &d->strm;
  s->next_in = d->in.buf + d->in.pos;
  s->avail_in = d->in.size - d->in.pos;
  s->next_out = d->out;
  s->avail_out = OUT_CAP;
  /* Without input, liblzma is only called while output may be pending or the
     end must be checked: two calls without progress are LZMA_BUF_ERROR. */
  if (!d->ended && (s->avail_in != 0 || d->more || d->last)) {
    lzma_action action = d->last ? LZMA_FINISH : LZMA_RUN;
    for (;;) {
      lzma_ret r = lzma_code(s, action);
      if (r == LZMA_STREAM_END) {
        d->ended = 1;
        break;
      }
      if (r != LZMA_OK) {
        d->in.pos = d->in.size - s->avail_in;
        return ret_err(d->err = describe(d, r));
      }
      if (s->avail_out == 0 || (action == LZMA_RUN && s->avail_in == 0)) break;
      /* LZMA_FINISH with room left: call again; liblzma ends with
         LZMA_STREAM_END, or LZMA_BUF_ERROR once it stops progressing. */
    }
  }
  d->more = s->avail_out == 0;
  d->in.pos = d->in.size - s->avail_in;
  pending_release_if_done(&d->in);
  return ret_ok(d->out, OUT_CAP - s->avail_out);
}

EXPORT("[method]decoder.at-end") int32_t decoder_at_end(decoder_t *d) {
  return d->err == NULL && d->ended && d->in.pos >= d->in.size;
}

#endif /* MINOS_XZ_DECODER */

/* ------------------------------------------------------------------ encoder */
#ifdef MINOS_XZ_ENCODER

IMPORT("[resource-new]encoder") extern int32_t resource_new_encoder(int32_t rep);

typedef struct {
  lzma_stream strm;
  pending_t in;
  uint8_t *out;
  int finished; /* liblzma returned LZMA_STREAM_END for LZMA_FINISH */
  const char *err; /* sticky */
} encoder_t;

static const char *describe_enc(lzma_ret r) {
  switch (r) {
    case LZMA_MEM_ERROR: return ERR_OOM;
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check type";
    default: return "internal error in liblzma";
  }
}

/* `check` is the WIT enum's index: none, crc32, crc64. */
static const lzma_check CHECKS[] = {LZMA_CHECK_NONE, LZMA_CHECK_CRC32, LZMA_CHECK_CRC64};

EXPORT("[constructor]encoder")
int32_t encoder_new(uint32_t preset, int32_t check, uint32_t dict_max) {
  encoder_t *c = calloc(1, sizeof *c);
  if (c == NULL) __builtin_trap();
  c->strm = (lzma_stream)LZMA_STREAM_INIT;
  c->out = malloc(OUT_CAP);
  lzma_options_lzma opt;
  if (c->out == NULL) {
    c->err = ERR_OOM;
  } else if (check < 0 || check > 2 || lzma_lzma_preset(&opt, preset)) {
    c->err = "unsupported options";
  } else {
    /* Never above the preset's dictionary; liblzma's minimum is 4 KiB. */
    if (dict_max != 0 && dict_max < opt.dict_size) opt.dict_size = dict_max < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : dict_max;
    lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_ret r = lzma_stream_encoder(&c->strm, filters, CHECKS[check]);
    if (r != LZMA_OK) c->err = describe_enc(r);
  }
  return resource_new_encoder((int32_t)(uintptr_t)c);
}

EXPORT("[dtor]encoder") void encoder_drop(encoder_t *c) {
  lzma_end(&c->strm);
  free(c->in.buf);
  free(c->out);
  free(c);
}

static void *encoder_run(encoder_t *c, lzma_action action) {
  lzma_stream *s = &c->strm;
  s->next_in = c->in.buf + c->in.pos;
  s->avail_in = c->in.size - c->in.pos;
  s->next_out = c->out;
  s->avail_out = OUT_CAP;
  /* LZMA_RUN stops once the input is used up or the output is full;
     LZMA_FINISH once the stream ended or the output is full. */
  while (s->avail_out != 0 && (action == LZMA_FINISH || s->avail_in != 0)) {
    lzma_ret r = lzma_code(s, action);
    if (r == LZMA_STREAM_END) {
      c->finished = 1;
      break;
    }
    if (r != LZMA_OK) {
      c->in.pos = c->in.size - s->avail_in;
      return ret_err(c->err = describe_enc(r));
    }
  }
  c->in.pos = c->in.size - s->avail_in;
  pending_release_if_done(&c->in);
  return ret_ok(c->out, OUT_CAP - s->avail_out);
}

EXPORT("[method]encoder.encode")
void *encoder_encode(encoder_t *c, uint8_t *ptr, size_t len) {
  if (c->err != NULL || c->finished) {
    if (len) free(ptr);
    return ret_err(c->err != NULL ? c->err : "encoder already finished");
  }
  const char *e = pending_add(&c->in, ptr, len);
  if (e != NULL) return ret_err(c->err = e);
  return encoder_run(c, LZMA_RUN);
}

EXPORT("[method]encoder.finish") void *encoder_finish(encoder_t *c) {
  if (c->err != NULL) return ret_err(c->err);
  if (c->finished) return ret_ok(c->out, 0);
  return encoder_run(c, LZMA_FINISH);
}

#endif /* MINOS_XZ_ENCODER */
