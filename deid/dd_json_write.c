/* dd_json_write.c: json-c trees to bytes, as json-c 0.16 writes them with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (dd_json.h),
 * straight into a dd_buf: json-c's own writer goes through a printbuf, a
 * snprintf per number and a function pointer per node, then the caller
 * copies the result once more.
 *
 * json-c's rules, copied from json_object.c (json_escape_str and the
 * *_to_json_string functions): strings escape '"', '\\', \b \f \n \r \t
 * and every other byte below 0x20 as \u00xx (lower-case hex), nothing
 * else (bytes >= 0x7f verbatim); keys likewise, up to their NUL; a NULL
 * member or element is "null"; integers in decimal (int64 or uint64);
 * a double parsed from text is its text (json_object_new_double_s keeps
 * it as user data); other doubles (NaN, Infinity, or made by code) go
 * through json-c itself. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dd_json.h"

/* Escape of each byte: 0 verbatim, a letter for "\\<letter>", 'u' for
 * "\\u00xx". */
static const char jw_esc[256] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	['"'] = '"', ['\\'] = '\\',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u',
};

/* Append without the trailing NUL (dd_json_write puts it at the end). */
static inline dd_err jw_put(struct dd_buf *b, const void *p, size_t n)
{
	if (b->data && n < b->cap - b->len && n <= b->max - b->len) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		return DD_OK;
	}
	return dd_buf_add(b, p, n);
}

static inline dd_err jw_putc(struct dd_buf *b, char c)
{
	if (b->data && b->len + 1 < b->cap && b->len < b->max) {
		b->data[b->len++] = (uint8_t)c;
		return DD_OK;
	}
	return dd_buf_add(b, &c, 1);
}

#define JW_ONES 0x0101010101010101ull
#define JW_HIGHS 0x8080808080808080ull

/* Do the 8 bytes at @s need no escape (no byte < 0x20, '"' or '\\')?
 * The classic "has a zero byte" test (exact as a yes/no). */
static inline bool jw_plain8(const char *s)
{
	uint64_t x, q, b;

	memcpy(&x, s, 8);
	q = x ^ (JW_ONES * '"');
	b = x ^ (JW_ONES * '\\');
	return !((((x - JW_ONES * 0x20) & ~x) | ((q - JW_ONES) & ~q) |
		  ((b - JW_ONES) & ~b)) & JW_HIGHS);
}

/* "s" quoted and escaped. */
static dd_err jw_str(struct dd_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	dd_err e;

	if ((e = jw_putc(b, '"')))
		return e;
	for (size_t i = 0; i < n;) {
		unsigned char c;
		char x, u[6];

#if defined(__SSE2__)
		if (i + 16 <= n) {
			/* 16 bytes: '"', '\\', or <= 0x1f (unsigned) */
			__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
			__m128i m = _mm_or_si128(
				_mm_or_si128(
					_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
					_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				_mm_cmpeq_epi8(
					_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
			unsigned bits = (unsigned)_mm_movemask_epi8(m);

			if (!bits) {
				i += 16;
				continue;
			}
			i += (size_t)__builtin_ctz(bits); /* the byte to escape */
		}
#endif
		if (i + 8 <= n && jw_plain8(s + i)) {
			i += 8;
			continue;
		}
		c = (unsigned char)s[i];
		x = jw_esc[c];
		if (!x) {
			i++;
			continue;
		}
		if (i > run && (e = jw_put(b, s + run, i - run)))
			return e;
		run = ++i;
		u[0] = '\\';
		u[1] = x;
		u[2] = u[3] = '0';
		if (x == 'u') {
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			e = jw_put(b, u, 6);
		} else {
			e = jw_put(b, u, 2);
		}
		if (e)
			return e;
	}
	if (n > run && (e = jw_put(b, s + run, n - run)))
		return e;
	return jw_putc(b, '"');
}

static dd_err jw_double(struct dd_buf *b, json_object *o)
{
	const char *text = json_object_get_userdata(o);
	double d = json_object_get_double(o);
	size_t n;

	if (text) /* parsed: its own text (json_object_new_double_s) */
		return jw_put(b, text, strlen(text));
	if (isnan(d))
		return jw_put(b, "NaN", 3);
	if (isinf(d))
		return d > 0 ? jw_put(b, "Infinity", 8) : jw_put(b, "-Infinity", 9);
	text = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	return text ? jw_put(b, text, n) : DD_E_NOMEM;
}

static dd_err jw_int(struct dd_buf *b, json_object *o)
{
	char t[24];
	int64_t v = json_object_get_int64(o);
	int k;

	/* a uint64 above INT64_MAX reads as INT64_MAX through get_int64 */
	if (v == INT64_MAX)
		k = snprintf(t, sizeof(t), "%" PRIu64, json_object_get_uint64(o));
	else if (v >= 0 && v < 10) {
		t[0] = (char)('0' + v);
		k = 1;
	} else {
		char *p = t + sizeof(t);
		uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

		do
			*--p = (char)('0' + u % 10);
		while (u /= 10);
		if (v < 0)
			*--p = '-';
		k = (int)(t + sizeof(t) - p);
		memmove(t, p, (size_t)k);
	}
	return jw_put(b, t, (size_t)k);
}

static dd_err jw_value(struct dd_buf *b, json_object *o)
{
	dd_err e;
	bool first = true;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return jw_put(b, "null", 4);
	case json_type_boolean:
		return json_object_get_boolean(o) ? jw_put(b, "true", 4)
						  : jw_put(b, "false", 5);
	case json_type_int:
		return jw_int(b, o);
	case json_type_double:
		return jw_double(b, o);
	case json_type_string:
		return jw_str(b, json_object_get_string(o),
			      (size_t)json_object_get_string_len(o));
	case json_type_array: {
		size_t n = json_object_array_length(o);

		if ((e = jw_putc(b, '[')))
			return e;
		for (size_t i = 0; i < n; i++) {
			if (i && (e = jw_putc(b, ',')))
				return e;
			if ((e = jw_value(b, json_object_array_get_idx(o, i))))
				return e;
		}
		return jw_putc(b, ']');
	}
	case json_type_object:
		if ((e = jw_putc(b, '{')))
			return e;
		json_object_object_foreach(o, key, val) {
			size_t kl = strlen(key);

			if (!first && (e = jw_putc(b, ',')))
				return e;
			first = false;
			/* a constant key is one of dd_json_parse's: it needs
			 * no escape (dd_json.h) */
			if (lh_entry_k_is_constant(entrykey)
				    ? (e = jw_putc(b, '"')) ||
					      (e = jw_put(b, key, kl)) ||
					      (e = jw_put(b, "\":", 2))
				    : (e = jw_str(b, key, kl)) ||
					      (e = jw_putc(b, ':')))
				return e;
			if ((e = jw_value(b, val)))
				return e;
		}
		return jw_putc(b, '}');
	}
	return DD_E_INVAL;
}

dd_err dd_json_write(json_object *o, struct dd_buf *out)
{
	dd_err e = jw_value(out, o);

	if (!e && (e = dd_buf_reserve(out, 0)) == DD_OK)
		out->data[out->len] = 0;
	return e;
}
