/*
 * Canonical-ABI glue between the WIT interfaces in zstd.wit and upstream zstd.
 * Compiled twice: with -DMINOS_ZSTD_DECODER for the `decoder` world (export
 * minos:zstd/decode) and with -DMINOS_ZSTD_ENCODER for the `encoder` world
 * (export minos:zstd/encode), so each core module carries only half of zstd.
 *
 * Written by hand (no wit-bindgen) so the build needs only clang + wasi-libc.
 * Export names and signatures follow the component model's canonical ABI for
 * `export minos:zstd/decode@0.1.0` (resp. encode):
 *   - a `list<u8>` argument arrives as (ptr, len); the buffer was allocated by
 *     our cabi_realloc and its ownership passes to us (we keep it as pending
 *     input and free it once consumed: no extra copy);
 *   - `result<list<u8>, string>` is returned through cabi.h's static return
 *     area; error strings are zstd's static error names;
 *   - methods receive the resource representation (our struct pointer);
 *     constructors return a handle from the imported [resource-new].
 */
#define ZSTD_STATIC_LINKING_ONLY
#include "zstd.h"

#include "cabi.h"

/* Bytes one decode/encode/finish call returns at most. */
#define OUT_CAP ((size_t)256 * 1024)

#if defined(MINOS_ZSTD_DECODER) == defined(MINOS_ZSTD_ENCODER)
#error "define exactly one of MINOS_ZSTD_DECODER, MINOS_ZSTD_ENCODER"
#endif
#ifdef MINOS_ZSTD_DECODER
#define IFACE "minos:zstd/decode@0.1.0"
#else
#define IFACE "minos:zstd/encode@0.1.0"
#endif
#define EXPORT(name) __attribute__((export_name(IFACE "#" name)))
#define IMPORT(name) \
  __attribute__((import_module("[export]" IFACE), import_name(name)))

EXPORT("out-capacity") uint32_t out_capacity(void) { return (uint32_t)OUT_CAP; }

/* ------------------------------------------------------------------ decoder */
#ifdef MINOS_ZSTD_DECODER

IMPORT("[resource-new]decoder") extern int32_t resource_new_decoder(int32_t rep);

typedef struct {
  ZSTD_DCtx *dctx;
  pending_t in;
  uint8_t *out;
  size_t last; /* last ZSTD_decompressStream hint; 0 = at a frame boundary */
  const char *err; /* sticky */
} decoder_t;

EXPORT("[constructor]decoder") int32_t decoder_new(uint32_t window_log_max) {
  decoder_t *d = calloc(1, sizeof *d);
  if (d == NULL) __builtin_trap();
  d->dctx = ZSTD_createDCtx();
  d->out = malloc(OUT_CAP);
  if (d->dctx == NULL || d->out == NULL) {
    d->err = ERR_OOM;
  } else {
    size_t r = ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_windowLogMax, (int)window_log_max);
    if (ZSTD_isError(r)) d->err = ZSTD_getErrorName(r);
  }
  return resource_new_decoder((int32_t)(uintptr_t)d);
}

EXPORT("[dtor]decoder") void decoder_drop(decoder_t *d) {
  ZSTD_freeDCtx(d->dctx);
  free(d->in.buf);
  free(d->out);
  free(d);
}

EXPORT("[method]decoder.decode")
void *decoder_decode(decoder_t *d, uint8_t *ptr, size_t len) {
  if (d->err != NULL) {
    if (len) free(ptr);
    return ret_err(d->err);
  }
  const char *e = pending_add(&d->in, ptr, len);
  if (e != NULL) return ret_err(d->err = e);
  ZSTD_outBuffer out = {d->out, OUT_CAP, 0};
  ZSTD_inBuffer in = {d->in.buf, d->in.size, d->in.pos};
  /* No input and a completed frame (last == 0): nothing left to flush. */
  while (in.pos < in.size || d->last != 0) {
    size_t in0 = in.pos, out0 = out.pos;
    size_t r = ZSTD_decompressStream(d->dctx, &out, &in);
    if (ZSTD_isError(r)) {
      d->in.pos = in.pos;
      return ret_err(d->err = ZSTD_getErrorName(r));
    }
    if (in.pos == in0 && out.pos == out0) break; /* no progress possible */
    d->last = r;
    if (out.pos == out.size || in.pos == in.size) break;
  }
  d->in.pos = in.pos;
  pending_release_if_done(&d->in);
  return ret_ok(d->out, out.pos);
}

EXPORT("[method]decoder.at-frame-boundary") int32_t decoder_at_boundary(decoder_t *d) {
  return d->err == NULL && d->in.pos >= d->in.size && d->last == 0;
}

#endif /* MINOS_ZSTD_DECODER */

/* ------------------------------------------------------------------ encoder */
#ifdef MINOS_ZSTD_ENCODER

IMPORT("[resource-new]encoder") extern int32_t resource_new_encoder(int32_t rep);

typedef struct {
  ZSTD_CCtx *cctx;
  pending_t in;
  uint8_t *out;
  int finished;
  const char *err; /* sticky */
} encoder_t;

EXPORT("[constructor]encoder") int32_t encoder_new(int32_t level) {
  encoder_t *c = calloc(1, sizeof *c);
  if (c == NULL) __builtin_trap();
  c->cctx = ZSTD_createCCtx();
  c->out = malloc(OUT_CAP);
  if (c->cctx == NULL || c->out == NULL) {
    c->err = ERR_OOM;
  } else {
    size_t r = ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1);
    if (ZSTD_isError(r)) c->err = ZSTD_getErrorName(r);
  }
  return resource_new_encoder((int32_t)(uintptr_t)c);
}

EXPORT("[dtor]encoder") void encoder_drop(encoder_t *c) {
  ZSTD_freeCCtx(c->cctx);
  free(c->in.buf);
  free(c->out);
  free(c);
}

static void *encoder_run(encoder_t *c, ZSTD_EndDirective mode) {
  ZSTD_outBuffer out = {c->out, OUT_CAP, 0};
  ZSTD_inBuffer in = {c->in.buf, c->in.size, c->in.pos};
  for (;;) {
    size_t in0 = in.pos, out0 = out.pos;
    size_t r = ZSTD_compressStream2(c->cctx, &out, &in, mode);
    if (ZSTD_isError(r)) {
      c->in.pos = in.pos;
      return ret_err(c->err = ZSTD_getErrorName(r));
    }
    if (mode == ZSTD_e_end && r == 0) {
      c->finished = 1;
      break;
    }
    if (out.pos == out.size) break;
    if (mode == ZSTD_e_continue && in.pos == in.size) break;
    if (in.pos == in0 && out.pos == out0) break; /* no progress possible */
  }
  c->in.pos = in.pos;
  pending_release_if_done(&c->in);
  return ret_ok(c->out, out.pos);
}

EXPORT("[method]encoder.encode")
void *encoder_encode(encoder_t *c, uint8_t *ptr, size_t len) {
  if (c->err != NULL || c->finished) {
    if (len) free(ptr);
    return ret_err(c->err != NULL ? c->err : "encoder already finished");
  }
  const char *e = pending_add(&c->in, ptr, len);
  if (e != NULL) return ret_err(c->err = e);
  return encoder_run(c, ZSTD_e_continue);
}

EXPORT("[method]encoder.finish") void *encoder_finish(encoder_t *c) {
  if (c->err != NULL) return ret_err(c->err);
  if (c->finished) return ret_ok(c->out, 0);
  return encoder_run(c, ZSTD_e_end);
}

#endif /* MINOS_ZSTD_ENCODER */
