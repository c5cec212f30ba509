/* dd_buf.c: bounded growable buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dd_buf.h"

void dd_buf_init(struct dd_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void dd_buf_free(struct dd_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void dd_buf_reset(struct dd_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

dd_err dd_buf_reserve(struct dd_buf *b, size_t n)
{
	size_t need, ncap;
	uint8_t *p;

	if (n > b->max || b->len > b->max - n) {
		dd_buf_free(b);
		return DD_E_LIMIT;
	}
	need = b->len + n + 1; /* room for the NUL */
	if (need <= b->cap)
		return DD_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	p = realloc(b->data, ncap);
	if (!p) {
		dd_buf_free(b);
		return DD_E_NOMEM;
	}
	b->data = p;
	b->cap = ncap;
	return DD_OK;
}

dd_err dd_buf_add(struct dd_buf *b, const void *p, size_t n)
{
	dd_err e = dd_buf_reserve(b, n);

	if (e)
		return e;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return DD_OK;
}

dd_err dd_buf_adds(struct dd_buf *b, const char *s)
{
	return dd_buf_add(b, s, strlen(s));
}

dd_err dd_buf_addc(struct dd_buf *b, uint8_t c)
{
	return dd_buf_add(b, &c, 1);
}

dd_err dd_buf_vaddf(struct dd_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	dd_err e;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return DD_E_INVAL;
	e = dd_buf_reserve(b, (size_t)n);
	if (e)
		return e;
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return DD_OK;
}

dd_err dd_buf_addf(struct dd_buf *b, const char *fmt, ...)
{
	va_list ap;
	dd_err e;

	va_start(ap, fmt);
	e = dd_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return e;
}

uint8_t *dd_buf_steal(struct dd_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
