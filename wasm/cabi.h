/*
 * Canonical-ABI helpers shared by glue.c (zstd) and xz-glue.c (xz): the
 * static return area for `result<list<u8>, string>`, cabi_realloc, and the
 * pending-input buffer that takes ownership of `list<u8>` arguments.
 * Header-only (static functions), included once per core module.
 *
 * Return area layout: { u8 tag @0; u32 ptr @4; u32 len @8 }. The list points
 * into the coder's reusable output buffer and error strings are static, so
 * nothing needs freeing after the host copied them (no cabi_post_* export).
 * The modules are single-threaded and never re-entered, so one static return
 * area is enough.
 */
#ifndef MINOS_CABI_H
#define MINOS_CABI_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct {
  uint8_t tag;
  uint8_t pad[3];
  uint32_t ptr;
  uint32_t len;
} ret_area;

static void *ret_ok(const uint8_t *p, size_t n) {
  ret_area.tag = 0;
  ret_area.ptr = (uint32_t)(uintptr_t)p;
  ret_area.len = (uint32_t)n;
  return &ret_area;
}

static void *ret_err(const char *msg) {
  ret_area.tag = 1;
  ret_area.ptr = (uint32_t)(uintptr_t)msg;
  ret_area.len = (uint32_t)strlen(msg);
  return &ret_area;
}

__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  (void)old_size;
  if (new_size == 0) return (void *)align;
  void *p = realloc(old, new_size);
  if (p == NULL) __builtin_trap();
  return p;
}

/* Input received but not yet consumed by the coder. */
typedef struct {
  uint8_t *buf; /* owned, or NULL */
  size_t size;
  size_t pos;
} pending_t;

static const char *ERR_OOM = "Allocation error : not enough memory";

/* Append (ptr,len) (ownership transferred) to the pending input. */
static const char *pending_add(pending_t *in, uint8_t *ptr, size_t len) {
  if (len == 0) return NULL;
  if (in->pos >= in->size) {
    free(in->buf);
    in->buf = ptr;
    in->size = len;
    in->pos = 0;
    return NULL;
  }
  /* Rare: the host queued more before draining; concatenate. */
  size_t rest = in->size - in->pos;
  uint8_t *b = malloc(rest + len);
  if (b == NULL) {
    free(ptr);
    return ERR_OOM;
  }
  memcpy(b, in->buf + in->pos, rest);
  memcpy(b + rest, ptr, len);
  free(ptr);
  free(in->buf);
  in->buf = b;
  in->size = rest + len;
  in->pos = 0;
  return NULL;
}

static void pending_release_if_done(pending_t *in) {
  if (in->buf != NULL && in->pos >= in->size) {
    free(in->buf);
    in->buf = NULL;
    in->size = in->pos = 0;
  }
}

#endif /* MINOS_CABI_H */
