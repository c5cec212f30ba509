/* dd_buf.h: a growable byte buffer with a hard size cap (after curl's
 * dynbuf).  Used wherever bytes from outside are accumulated.
 *
 * Rules: a dd_buf is caller-allocated (usually on the stack) and set up with
 * dd_buf_init().  When an append would pass the cap or an allocation fails,
 * the buffer frees its memory, stays usable as an empty buffer, and the call
 * returns DD_E_LIMIT or DD_E_NOMEM.  The bytes are always followed by a NUL
 * that is not counted in len, so text can be used as a C string.
 * Not thread-safe: one owner at a time.
 */
#ifndef DD_BUF_H
#define DD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_buf {
	uint8_t *data; /* owned; NULL until the first append */
	size_t len;    /* bytes used, not counting the trailing NUL */
	size_t cap;    /* bytes allocated */
	size_t max;    /* the hard cap on len */
};

/* Set up an empty buffer that may grow to @max bytes. */
void dd_buf_init(struct dd_buf *b, size_t max);
/* Free the memory; the buffer is empty and may be reused. */
void dd_buf_free(struct dd_buf *b);
/* Forget the contents but keep the allocation. */
void dd_buf_reset(struct dd_buf *b);
/* Append @n bytes. */
dd_err dd_buf_add(struct dd_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string (without its NUL). */
dd_err dd_buf_adds(struct dd_buf *b, const char *s);
/* Append one byte. */
dd_err dd_buf_addc(struct dd_buf *b, uint8_t c);
/* Append printf-formatted text. */
dd_err dd_buf_addf(struct dd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
dd_err dd_buf_vaddf(struct dd_buf *b, const char *fmt, va_list ap);
/* Make sure @n more bytes fit without reallocating. */
dd_err dd_buf_reserve(struct dd_buf *b, size_t n);
/* Take the bytes: returns the allocation (caller frees with free()) and
 * leaves the buffer empty.  Returns NULL for an empty buffer. */
uint8_t *dd_buf_steal(struct dd_buf *b, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* DD_BUF_H */
