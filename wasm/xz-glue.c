/*
 * Canonical-ABI glue between the WIT interface in xz.wit
 * (`export minos:xz/decode@0.1.0`) and liblzma's .xz stream decoder.
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

/* Bytes one decode call returns at most. */
#define OUT_CAP ((size_t)256 * 1024)

#define IFACE "minos:xz/decode@0.1.0"
#define EXPORT(name) __attribute__((export_name(IFACE "#" name)))
#define IMPORT(name) \
  __attribute__((import_module("[export]" IFACE), import_name(name)))

IMPORT("[resource-new]decoder") extern int32_t resource_new_decoder(int32_t rep);

EXPORT("out-capacity") uint32_t out_capacity(void) { return (uint32_t)OUT_CAP; }

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
