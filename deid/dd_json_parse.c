/* dd_json_parse.c: JSON text to json-c trees, accepting and building
 * exactly what json-c 0.16's tokener does in the engine's mode (strict,
 * UTF-8 validated, depth-capped; dd_json.h), several times faster: the
 * tokener steps a state machine per byte, copies every string through a
 * printbuf, strdup()s every key and creates a C locale per call.
 *
 * json-c's behaviour, read from json_tokener.c (0.16) and kept here on
 * purpose, however odd:
 *  - whitespace is ' ', '\t', '\n', '\r'; a NUL byte anywhere fails;
 *  - UTF-8 is checked for structure only: a lead byte C0-DF, E0-EF or
 *    F0-F7 takes 1, 2 or 3 continuation bytes 80-BF (overlong forms and
 *    surrogates pass), any other byte >= 0x80 outside a sequence fails;
 *    raw control characters inside strings pass;
 *  - escapes \" \\ \/ \b \f \n \r \t \uXXXX (hex in either case);
 *    \u0000 is a NUL inside the string but ends a key (strdup); a high
 *    surrogate not followed by "\u" + a low one becomes U+FFFD, and so
 *    does a lone low surrogate;
 *  - a key may be single-quoted even in strict mode (values may not);
 *  - literals true, false, null, NaN, Infinity, -Infinity (exact case);
 *  - numbers: '-' and digits, one '.', one exponent, a sign right after
 *    the start, the '.' or the 'e'; without '.'/'e' a leading '-' goes
 *    through strtoll (saturating), otherwise strtoull (saturating; a
 *    leading 0 before other digits fails; above INT64_MAX a uint64);
 *    with '.'/'e' strtod must take the whole text, kept as the double's
 *    text (so "1.50" is written back as "1.50");
 *  - a container at depth d (the outer one is 0) may hold members only
 *    when d + 1 < max_depth; no trailing comma.
 * Allocation failure is reported as such (json-c would call it a parse
 * error).  Locale: strtod runs in the process's locale, which deidfs
 * never changes from "C". */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dd_fhir_i.h"
#include "dd_json.h"

#define JP_STACK0 32

/* ---- constant keys ------------------------------------------------------ */

/* The element names of the R4 table (the last component of each path),
 * plus "resourceType": static strings, so the trees may point at them
 * (JSON_C_OBJECT_ADD_CONSTANT_KEY) instead of a malloc'd copy per key. */
#define JP_KEYS 4096 /* slots, a power of two, > 2x the distinct names */

static const char *jp_keys[JP_KEYS];
static uint8_t jp_key_len[JP_KEYS];
static pthread_once_t jp_keys_once = PTHREAD_ONCE_INIT;
/* json-c's hash of each constant key (lh_get_hash: strlen and a hash
 * over the key at every insert otherwise), valid for tables whose hash
 * function is jp_key_hfn (json-c's string hash; its seed is fixed once
 * per process); NULL when it could not be taken. */
static unsigned long jp_key_h[JP_KEYS];
static lh_hash_fn *jp_key_hfn;

static inline uint32_t jp_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* Add @s; true when it was not there yet.  Only names that JSON writes
 * without an escape (printable ASCII, no '"' or '\\'): dd_json_write
 * writes constant keys as they are. */
static bool jp_key_put(const char *s)
{
	size_t n = strlen(s);
	uint32_t h = jp_hash(s, n);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	for (uint32_t i = 0; i < JP_KEYS; i++) {
		uint32_t k = (h + i) & (JP_KEYS - 1);

		if (!jp_keys[k]) {
			jp_keys[k] = s;
			jp_key_len[k] = (uint8_t)n;
			return true;
		}
		if (jp_key_len[k] == n && !memcmp(jp_keys[k], s, n))
			return false;
	}
	return false;
}

static void jp_keys_init(void)
{
	size_t used = jp_key_put("resourceType");

	for (size_t i = 0; i < dd_fhir_n_elems && used * 2 < JP_KEYS; i++) {
		const char *dot = strrchr(dd_fhir_elems[i].path, '.');

		/* past half full the rest are copied: still correct */
		if (dot && jp_key_put(dot + 1))
			used++;
	}
	{
		json_object *o = json_object_new_object();
		struct lh_table *t = json_object_get_object(o);

		if (!t)
			return; /* every insert hashes its key */
		for (size_t k = 0; k < JP_KEYS; k++)
			if (jp_keys[k])
				jp_key_h[k] = lh_get_hash(t, jp_keys[k]);
		jp_key_hfn = t->hash_fn;
		json_object_put(o);
	}
}

/* memcmp(a, b, n) == 0 inline: keys are short, and a call per key cost
 * more than the compare. */
static inline bool jp_same(const char *a, const char *b, size_t n)
{
	uint64_t x, y;

	for (; n >= 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; n; a++, b++, n--)
		if (*a != *b)
			return false;
	return true;
}

/* The static spelling of the key @s (@n bytes), or NULL; *kh is set to
 * its json-c hash (jp_key_h). */
static const char *jp_key_find(const char *s, size_t n, unsigned long *kh)
{
	uint32_t h;

	if (n == 0 || n > 255)
		return NULL;
	h = jp_hash(s, n);
	for (uint32_t i = 0; i < JP_KEYS; i++) {
		uint32_t k = (h + i) & (JP_KEYS - 1);

		if (!jp_keys[k])
			return NULL;
		if (jp_key_len[k] == n && jp_same(jp_keys[k], s, n)) {
			*kh = jp_key_h[k];
			return jp_keys[k];
		}
	}
	return NULL;
}

const char *dd_json_const_key(const char *name)
{
	unsigned long h;

	pthread_once(&jp_keys_once, jp_keys_init);
	return name ? jp_key_find(name, strlen(name), &h) : NULL;
}

json_object *dd_json_get(json_object *o, const char *name, const char *ck)
{
	struct lh_table *t = json_object_get_object(o);
	json_object *v = NULL;

	if (!t)
		return NULL;
	if (t->count > 16)
		return json_object_object_get_ex(o, name, &v) ? v : NULL;
	/* a constant key equal to @name is @ck: dd_json_parse stores every
	 * such name under its one static spelling, and nothing else adds
	 * constant keys (dd_json.h) */
	for (struct lh_entry *e = lh_table_head(t); e; e = lh_entry_next(e)) {
		const char *k = lh_entry_k(e);

		if (k == ck || (!lh_entry_k_is_constant(e) && !strcmp(k, name)))
			return (json_object *)lh_entry_v(e);
	}
	return NULL;
}

/* ---- the parser ---------------------------------------------------------- */

struct jp_frame {
	json_object *o; /* the container (owned by its parent, or the root) */
	bool is_obj;
};

struct jp {
	const uint8_t *p, *end;
	unsigned max_depth;
	struct jp_frame *st, *st0;
	size_t depth;      /* frames in use */
	size_t cap;
	struct dd_buf sb;  /* unescaped string being built */
	struct dd_buf kb;  /* the key of the member being parsed */
	const char *key;   /* NULL, a constant key, or kb's text */
	bool key_const;
	unsigned long key_h; /* a constant key's json-c hash (jp_key_h) */
	enum dd_json_status err;
};

static inline bool jp_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline void jp_skip_ws(struct jp *j)
{
	while (j->p < j->end && jp_ws(*j->p))
		j->p++;
}

static inline int jp_hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at j->p; -1 if not. */
static int jp_u4(struct jp *j)
{
	int v = 0;

	if (j->end - j->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = jp_hex(j->p[i]);

		if (h < 0)
			return -1;
		v = (v << 4) | h;
	}
	j->p += 4;
	return v;
}

static bool jp_sb_add(struct jp *j, const void *p, size_t n)
{
	if (dd_buf_add(&j->sb, p, n)) {
		j->err = DD_JSON_NOMEM;
		return false;
	}
	return true;
}

/* Append code point @u as json-c does (U+FFFD beyond U+10FFFF). */
static bool jp_sb_utf8(struct jp *j, unsigned u)
{
	uint8_t b[4];
	size_t n;

	if (u < 0x80) {
		b[0] = (uint8_t)u;
		n = 1;
	} else if (u < 0x800) {
		b[0] = (uint8_t)(0xc0 | (u >> 6));
		b[1] = (uint8_t)(0x80 | (u & 0x3f));
		n = 2;
	} else if (u < 0x10000) {
		b[0] = (uint8_t)(0xe0 | (u >> 12));
		b[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (u & 0x3f));
		n = 3;
	} else if (u < 0x110000) {
		b[0] = (uint8_t)(0xf0 | ((u >> 18) & 0x07));
		b[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (u & 0x3f));
		n = 4;
	} else {
		return jp_sb_add(j, "\xef\xbf\xbd", 3);
	}
	return jp_sb_add(j, b, n);
}

#define JP_HIGH(u) (((u) & 0xFC00) == 0xD800)
#define JP_LOW(u) (((u) & 0xFC00) == 0xDC00)

/* One escape after its backslash (j->p at the letter), into sb. */
static bool jp_escape(struct jp *j)
{
	static const char simple[128] = {
		['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
		['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
	};
	unsigned high = 0;
	int u;

	for (;;) {
		uint8_t c;

		if (j->p >= j->end)
			return false;
		c = *j->p;
		if (c < 128 && simple[c]) {
			if (high && !jp_sb_add(j, "\xef\xbf\xbd", 3))
				return false;
			j->p++;
			return jp_sb_add(j, &simple[c], 1);
		}
		if (c != 'u')
			return false;
		j->p++;
		if ((u = jp_u4(j)) < 0)
			return false;
		if (high) {
			if (JP_LOW(u)) {
				u = (int)((((high & 0x3FF) << 10) | (u & 0x3FF)) +
					  0x10000);
			} else if (!jp_sb_add(j, "\xef\xbf\xbd", 3)) {
				return false;
			}
			high = 0;
		}
		if (JP_HIGH(u)) {
			/* json-c waits for "\u" + a low surrogate */
			high = (unsigned)u;
			if (j->end - j->p >= 2 && j->p[0] == '\\') {
				/* "\u": maybe the low half; another escape:
				 * U+FFFD, then that escape (loop top) */
				j->p++;
				continue;
			}
			/* anything else: U+FFFD, the byte read as usual */
			return jp_sb_add(j, "\xef\xbf\xbd", 3);
		}
		if (JP_LOW(u))
			return jp_sb_add(j, "\xef\xbf\xbd", 3);
		return jp_sb_utf8(j, (unsigned)u);
	}
}

#define JP_ONES 0x0101010101010101ull
#define JP_HIGHS 0x8080808080808080ull

/* Are the 8 bytes at @q plain string bytes (not @quote, '\\', NUL or
 * >= 0x80)?  The classic "has a zero byte" test, exact as a yes/no. */
static inline bool jp_plain8(const uint8_t *q, uint64_t quotes)
{
	uint64_t x, a, b;

	memcpy(&x, q, 8);
	a = x ^ quotes;
	b = x ^ (JP_ONES * '\\');
	return !((x | ((x - JP_ONES) & ~x) | ((a - JP_ONES) & ~a) |
		  ((b - JP_ONES) & ~b)) & JP_HIGHS);
}

/* A string at j->p (after its opening @quote).  On success *s / *n are
 * its bytes: in the input when it has no escape, else in j->sb. */
static bool jp_string(struct jp *j, uint8_t quote, const char **s, size_t *n)
{
	const uint8_t *start = j->p;
	uint64_t quotes = JP_ONES * quote;
	bool esc = false;

	for (;;) {
		const uint8_t *q = j->p;
		uint8_t c;

		/* plain bytes: 16 at a time (SSE2: the same test as
		 * jp_plain8, a byte <= 0 signed being NUL or >= 0x80), then
		 * 8, then one */
#if defined(__SSE2__)
		{
			const __m128i vq = _mm_set1_epi8((char)quote);
			const __m128i vb = _mm_set1_epi8('\\');
			const __m128i one = _mm_set1_epi8(1);

			while (j->end - q >= 16) {
				__m128i x = _mm_loadu_si128((const __m128i *)q);
				__m128i m = _mm_or_si128(
					_mm_or_si128(_mm_cmpeq_epi8(x, vq),
						     _mm_cmpeq_epi8(x, vb)),
					_mm_cmplt_epi8(x, one));
				unsigned bits = (unsigned)_mm_movemask_epi8(m);

				if (bits) {
					q += __builtin_ctz(bits);
					break;
				}
				q += 16;
			}
		}
#endif
		while (j->end - q >= 8 && jp_plain8(q, quotes))
			q += 8;
		while (q < j->end && (c = *q) != quote && c != '\\' && c >= 0x01 &&
		       c < 0x80)
			q++;
		if (esc && q > j->p && !jp_sb_add(j, j->p, (size_t)(q - j->p)))
			return false;
		j->p = q;
		if (q >= j->end)
			return false;
		c = *q;
		if (c == quote) {
			j->p++;
			if (esc) {
				*s = (const char *)j->sb.data;
				*n = j->sb.len;
			} else {
				*s = (const char *)start;
				*n = (size_t)(q - start);
			}
			return true;
		}
		if (c == 0)
			return false;
		if (c == '\\') {
			if (!esc) {
				dd_buf_reset(&j->sb);
				if (!jp_sb_add(j, start, (size_t)(q - start)))
					return false;
				esc = true;
			}
			j->p++;
			if (!jp_escape(j))
				return false;
			continue;
		}
		/* a UTF-8 sequence: structure only, as json-c */
		{
			size_t more = (c & 0xe0) == 0xc0   ? 1
				      : (c & 0xf0) == 0xe0 ? 2
				      : (c & 0xf8) == 0xf0 ? 3
							   : 0;

			if (!more || (size_t)(j->end - q) <= more)
				return false;
			for (size_t i = 1; i <= more; i++)
				if ((q[i] & 0xc0) != 0x80)
					return false;
			if (esc && !jp_sb_add(j, q, more + 1))
				return false;
			j->p = q + more + 1;
		}
	}
}

/* A number starting at j->p ('-' or a digit). */
static json_object *jp_number(struct jp *j)
{
	const uint8_t *s = j->p;
	bool is_double = false, is_exp = false, neg_ok = true, pos_ok = false;
	char small[64], *t = small;
	size_t n;
	json_object *o = NULL;
	char *end;

	while (j->p < j->end) {
		uint8_t c = *j->p;

		if (!((c >= '0' && c <= '9') ||
		      (!is_exp && (c == 'e' || c == 'E')) ||
		      (neg_ok && c == '-') || (pos_ok && c == '+') ||
		      (!is_double && c == '.')))
			break;
		neg_ok = pos_ok = false;
		if (c == '.') {
			is_double = true;
			neg_ok = pos_ok = true;
		} else if (c == 'e' || c == 'E') {
			is_exp = is_double = true;
			neg_ok = pos_ok = true;
		}
		j->p++;
	}
	n = (size_t)(j->p - s);
	if (j->p >= j->end)
		return NULL; /* a number needs what follows it */
	if (n == 1 && s[0] == '-' && (*j->p == 'I' || *j->p == 'i')) {
		/* -Infinity */
		if (j->end - j->p < 8 || memcmp(j->p, "Infinity", 8))
			return NULL;
		j->p += 8;
		o = json_object_new_double(-INFINITY);
		if (!o)
			j->err = DD_JSON_NOMEM;
		return o;
	}
	{
		uint8_t c = *j->p;

		if (c != ',' && c != ']' && c != '}' && !jp_ws(c))
			return NULL;
	}
	if (n >= sizeof(small)) {
		t = malloc(n + 1);
		if (!t) {
			j->err = DD_JSON_NOMEM;
			return NULL;
		}
	}
	memcpy(t, s, n);
	t[n] = 0;
	errno = 0;
	if (!is_double && t[0] == '-') {
		long long v = strtoll(t, &end, 10);

		if (end != t && !(v == 0 && errno))
			o = json_object_new_int64(v);
		else
			goto out_bad;
	} else if (!is_double) {
		unsigned long long v = strtoull(t, &end, 10);

		if (end == t || (v == 0 && errno) || (v && t[0] == '0'))
			goto out_bad;
		o = v <= INT64_MAX ? json_object_new_int64((int64_t)v)
				   : json_object_new_uint64(v);
	} else {
		double d = strtod(t, &end);

		if (end != t + n)
			goto out_bad;
		o = json_object_new_double_s(d, t);
	}
	if (!o)
		j->err = DD_JSON_NOMEM;
out_bad:
	if (t != small)
		free(t);
	return o;
}

/* A literal at j->p. */
static json_object *jp_literal(struct jp *j, bool *is_null)
{
	static const struct {
		const char *s;
		size_t n;
	} lit[] = {{"true", 4}, {"false", 5}, {"null", 4}, {"NaN", 3},
		   {"Infinity", 8}};
	size_t left = (size_t)(j->end - j->p);
	json_object *o;

	*is_null = false;
	for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		if (left < lit[i].n || memcmp(j->p, lit[i].s, lit[i].n))
			continue;
		j->p += lit[i].n;
		switch (i) {
		case 0:
		case 1:
			o = json_object_new_boolean(i == 0);
			break;
		case 2:
			*is_null = true;
			return NULL;
		case 3:
			o = json_object_new_double(NAN);
			break;
		default:
			o = json_object_new_double(INFINITY);
			break;
		}
		if (!o)
			j->err = DD_JSON_NOMEM;
		return o;
	}
	return NULL;
}

static bool jp_push(struct jp *j, json_object *o, bool is_obj)
{
	if (j->depth == j->cap) {
		struct jp_frame *ns = NULL;

		if (j->cap <= SIZE_MAX / 2 / sizeof(*ns))
			ns = malloc(2 * j->cap * sizeof(*ns));
		if (!ns) {
			j->err = DD_JSON_NOMEM;
			return false;
		}
		memcpy(ns, j->st, j->depth * sizeof(*ns));
		if (j->st != j->st0)
			free(j->st);
		j->st = ns;
		j->cap *= 2;
	}
	j->st[j->depth++] = (struct jp_frame){o, is_obj};
	return true;
}

/* Is the constant key @key not yet in the object @o?  A constant key is
 * the one static spelling of its name (jp_key_find), and a name is either
 * always constant or never, so comparing pointers is exact.  False (ask
 * json-c) past JP_NEW_MAX members: no quadratic work on a hostile
 * object. */
#define JP_NEW_MAX 24

static bool jp_key_new(json_object *o, const char *key)
{
	struct lh_table *t = json_object_get_object(o);
	size_t n = 0;

	for (struct lh_entry *e = lh_table_head(t); e; e = lh_entry_next(e))
		if (lh_entry_k(e) == key || ++n > JP_NEW_MAX)
			return false;
	return true;
}

/* Add @v (NULL: null) to the container on top; @v is put on failure. */
static bool jp_add(struct jp *j, json_object *v)
{
	struct jp_frame *f = &j->st[j->depth - 1];
	int r;

	if (!f->is_obj)
		r = json_object_array_add(f->o, v);
	else if (j->key_const && jp_key_new(f->o, j->key)) {
		/* json_object_object_add, minus the strdup, the lookup of a
		 * new key and, with the hash taken once, the key's hashing:
		 * what json_object_object_add_ex does for a new constant key */
		struct lh_table *t = json_object_get_object(f->o);
		const unsigned opts = JSON_C_OBJECT_ADD_CONSTANT_KEY |
				      JSON_C_OBJECT_ADD_KEY_IS_NEW;

		r = jp_key_hfn && t->hash_fn == jp_key_hfn
			    ? lh_table_insert_w_hash(t, j->key, v, j->key_h,
						     opts)
			    : json_object_object_add_ex(f->o, j->key, v, opts);
	} else if (j->key_const) {
		r = json_object_object_add_ex(f->o, j->key, v,
					      JSON_C_OBJECT_ADD_CONSTANT_KEY);
	} else
		r = json_object_object_add(f->o, j->key, v);
	j->key = NULL;
	if (r) {
		json_object_put(v);
		j->err = DD_JSON_NOMEM;
		return false;
	}
	return true;
}

/* A key at j->p (at its quote), then ':'. */
static bool jp_key(struct jp *j)
{
	uint8_t q = *j->p++;
	const char *s, *z;
	size_t n;

	if (!jp_string(j, q, &s, &n))
		return false;
	/* json-c strdup()s the key: it ends at a NUL, which only an escape
	 * can put there (the string is then in sb; a raw NUL fails) */
	if ((const uint8_t *)s == j->sb.data && (z = memchr(s, 0, n)))
		n = (size_t)(z - s);
	j->key = jp_key_find(s, n, &j->key_h);
	j->key_const = j->key != NULL;
	if (!j->key) {
		dd_buf_reset(&j->kb);
		if (dd_buf_add(&j->kb, s, n)) {
			j->err = DD_JSON_NOMEM;
			return false;
		}
		j->key = n ? (const char *)j->kb.data : "";
	}
	jp_skip_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return false;
	j->p++;
	return true;
}

/* The value at j->p, added to the container on top (the first one
 * becomes the root); a container is also pushed (*pushed). */
static bool jp_value(struct jp *j, bool *pushed)
{
	uint8_t c;
	json_object *o = NULL;
	bool is_null = false;

	*pushed = false;
	jp_skip_ws(j);
	if (j->p >= j->end)
		return false;
	c = *j->p;
	if (c == '{' || c == '[') {
		o = c == '{' ? json_object_new_object()
			     : json_object_new_array_ext(8);
		if (!o) {
			j->err = DD_JSON_NOMEM;
			return false;
		}
		j->p++;
		/* added now, filled later: json-c adds it when complete, to
		 * the same place (no other member of the parent comes
		 * between) */
		if (j->depth && !jp_add(j, o))
			return false;
		if (!jp_push(j, o, c == '{')) {
			if (!j->depth)
				json_object_put(o);
			return false;
		}
		*pushed = true;
		return true;
	}
	if (c == '"') {
		const char *s;
		size_t n;

		j->p++;
		if (!jp_string(j, '"', &s, &n))
			return false;
		o = json_object_new_string_len(s, (int)n);
		if (!o)
			j->err = DD_JSON_NOMEM;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		o = jp_number(j);
	} else {
		o = jp_literal(j, &is_null);
		if (is_null)
			return jp_add(j, NULL);
	}
	return o && jp_add(j, o);
}

static bool jp_run(struct jp *j)
{
	bool pushed, first;
	struct jp_frame *f;
	uint8_t c;

	jp_skip_ws(j);
	if (j->p >= j->end || (*j->p != '{' && *j->p != '['))
		return false;
	if (!jp_value(j, &pushed))
		return false;
	first = true; /* the top container was just opened */
	for (;;) {
		f = &j->st[j->depth - 1];
		jp_skip_ws(j);
		if (j->p >= j->end)
			return false;
		c = *j->p;
		if (first && c == (f->is_obj ? '}' : ']')) {
			j->p++;
			goto closed;
		}
		/* a member; json-c: none when depth >= max_depth - 1 */
		if (j->depth >= j->max_depth)
			return false;
		if (f->is_obj && ((c != '"' && c != '\'') || !jp_key(j)))
			return false;
		if (!jp_value(j, &pushed))
			return false;
		if (pushed) {
			first = true;
			continue;
		}
after_member:
		f = &j->st[j->depth - 1];
		jp_skip_ws(j);
		if (j->p >= j->end)
			return false;
		c = *j->p++;
		if (c == ',') {
			first = false; /* strict: a member must follow */
			continue;
		}
		if (c != (f->is_obj ? '}' : ']'))
			return false;
closed:
		if (j->depth == 1)
			break;
		j->depth--;
		goto after_member;
	}
	jp_skip_ws(j);
	return j->p == j->end;
}

enum dd_json_status dd_json_parse(const uint8_t *p, size_t n,
				  unsigned max_depth, json_object **out)
{
	struct jp_frame stack0[JP_STACK0];
	struct jp j = {.p = p, .end = p + n, .max_depth = max_depth,
		       .st = stack0, .st0 = stack0, .cap = JP_STACK0};
	json_object *root = NULL;
	bool ok;

	*out = NULL;
	if (max_depth < 1)
		return DD_JSON_BAD;
	pthread_once(&jp_keys_once, jp_keys_init);
	dd_buf_init(&j.sb, n);
	dd_buf_init(&j.kb, n);
	ok = jp_run(&j);
	if (j.depth)
		root = j.st[0].o;
	if (j.st != stack0)
		free(j.st);
	dd_buf_free(&j.sb);
	dd_buf_free(&j.kb);
	if (!ok) {
		json_object_put(root);
		return j.err ? j.err : DD_JSON_BAD;
	}
	*out = root;
	return DD_JSON_OK;
}
