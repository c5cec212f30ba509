/* dd_fhir.c: FHIR files: NDJSON lines, Bundles entry by entry, single
 * resources; the manifest (literal or REGEN chunks) and regeneration.
 *
 * A file is a sequence of units with literal glue between them:
 *   NDJSON:    each line is a unit; its output is the resource + "\n";
 *   Bundle:    the top-level object is scanned (not parsed whole): each
 *              element of "entry" is a unit (output "," + entry, no comma
 *              for the first), the other members are glue ("key":value);
 *   otherwise: the whole resource is one unit.
 * Units are transformed independently (given the policy, the key, the
 * patient index and, for a Bundle, the Bundle's own patients), so a chunk
 * of consecutive units can be transformed again on its own at read time.
 * A Bundle is read twice: once for its Patients (the local index, stored
 * in the manifest for regeneration), once to transform.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dd_fhir_i.h"
#include "dd_json.h"
#include "dd_log.h"
#include "dd_tls.h"

#define FF_BLOCK ((size_t)1 << 20)
#define FF_CHUNK_OUT ((size_t)1 << 20)
#define FF_CHUNK_SRC ((size_t)4 << 20)
#define FF_UNIT_MAX ((size_t)1 << 30) /* one line / entry / resource */
#define FF_REF_YEAR 2026             /* age reference: see docs/fhir.md */

enum ff_mode { FF_NDJSON = 1, FF_ENTRIES = 2, FF_RESOURCE = 3 };

static _Atomic uint64_t ff_serial; /* the last engine's serial */

/* ---- reader ------------------------------------------------------------------ */

struct fr {
	int fd;             /* -1: memory only */
	const uint8_t *mem; /* memory mode: bytes of [base, end) */
	struct dd_buf b;    /* fd mode: bytes of [base, base + b.len) */
	uint64_t base;
	uint64_t end;       /* end of the range read */
	bool err;
};

static void fr_init_mem(struct fr *r, const void *p, uint64_t base, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->mem = p;
	r->base = base;
	r->end = base + n;
}

static void fr_init_fd(struct fr *r, int fd, uint64_t start, uint64_t end)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->base = start;
	r->end = end;
	dd_buf_init(&r->b, FF_UNIT_MAX + 2 * FF_BLOCK);
}

static void fr_free(struct fr *r)
{
	dd_buf_free(&r->b);
}

static const uint8_t *fr_data(const struct fr *r)
{
	return r->fd < 0 ? r->mem : r->b.data;
}

static uint64_t fr_avail_end(const struct fr *r)
{
	return r->fd < 0 ? r->end : r->base + r->b.len;
}

/* Read more, dropping bytes before @keep.  1: more bytes, 0: end, -1:
 * error or limit. */
static int fr_fill(struct fr *r, uint64_t keep)
{
	size_t want;
	ssize_t k;

	if (r->fd < 0 || r->base + r->b.len >= r->end)
		return 0;
	if (keep > r->base) {
		size_t drop = (size_t)(keep - r->base);

		if (drop > r->b.len)
			drop = r->b.len;
		memmove(r->b.data, r->b.data + drop, r->b.len - drop);
		r->b.len -= drop;
		r->base += drop;
	}
	want = FF_BLOCK;
	if (r->end - (r->base + r->b.len) < want)
		want = (size_t)(r->end - (r->base + r->b.len));
	if (dd_buf_reserve(&r->b, want)) {
		r->err = true;
		return -1;
	}
	do
		k = pread(r->fd, r->b.data + r->b.len, want,
			  (off_t)(r->base + r->b.len));
	while (k < 0 && errno == EINTR);
	if (k <= 0) {
		r->err = true;
		return -1;
	}
	r->b.len += (size_t)k;
	r->b.data[r->b.len] = 0;
	return 1;
}

/* The byte at @at (keeping @keep onwards); 1 ok, 0 end, -1 error. */
static inline int fr_at(struct fr *r, uint64_t at, uint64_t keep, uint8_t *c)
{
	while (at >= fr_avail_end(r)) {
		int k = fr_fill(r, keep);

		if (k <= 0)
			return k;
	}
	*c = fr_data(r)[at - r->base];
	return 1;
}

/* The end of the line that starts at @ls (keeping @ls onwards): *le is
 * its '\n' (1) or the end of the range (0); -1 on a read error; -2 when
 * the line is longer than FF_UNIT_MAX.  memchr over what is buffered,
 * not a byte at a time. */
static int fr_line_end(struct fr *r, uint64_t ls, uint64_t *le)
{
	uint64_t at = ls;

	for (;;) {
		uint64_t av = fr_avail_end(r);
		int k;

		if (at < av) {
			const uint8_t *p = fr_data(r) + (at - r->base);
			const uint8_t *nl = memchr(p, '\n', (size_t)(av - at));

			if (nl) {
				*le = at + (uint64_t)(nl - p);
				return *le - ls > FF_UNIT_MAX ? -2 : 1;
			}
			at = av;
		}
		if (at - ls > FF_UNIT_MAX)
			return -2;
		k = fr_fill(r, ls);
		if (k <= 0) {
			*le = at;
			return k;
		}
	}
}

static bool ff_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip whitespace from *at. */
static int fr_skip_ws(struct fr *r, uint64_t *at, uint64_t keep)
{
	uint8_t c;
	int k;

	while ((k = fr_at(r, *at, keep, &c)) == 1 && ff_ws(c))
		(*at)++;
	return k;
}

/* The end of the JSON value starting at @a (structure only; json-c
 * validates the bytes later).  @depth: nesting allowed. */
static enum fw_status fr_value_end(struct fr *r, uint64_t a, unsigned depth,
				   uint64_t *end)
{
	uint64_t at = a;
	unsigned d = 0;
	bool in_str = false, esc = false;
	uint8_t c;
	int k;

	for (;;) {
		k = fr_at(r, at, a, &c);
		if (k < 0)
			return r->err && r->b.len >= r->b.max ? FW_LIMIT : FW_INTERNAL;
		if (k == 0) {
			if (d == 0 && !in_str && at > a) {
				*end = at; /* a scalar at the end */
				return FW_OK;
			}
			return FW_PARSE;
		}
		if (at - a > FF_UNIT_MAX)
			return FW_LIMIT;
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"') {
				in_str = false;
				if (d == 0) {
					*end = at + 1;
					return FW_OK;
				}
			}
			at++;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '{':
		case '[':
			if (++d > depth)
				return FW_PARSE;
			break;
		case '}':
		case ']':
			if (d == 0) {
				*end = at;
				return at > a ? FW_OK : FW_PARSE;
			}
			if (--d == 0) {
				*end = at + 1;
				return FW_OK;
			}
			break;
		case ',':
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			if (d == 0) {
				*end = at;
				return at > a ? FW_OK : FW_PARSE;
			}
			break;
		default:
			break;
		}
		at++;
	}
}

/* Can the JSON text @p hold a person resource (Patient, Practitioner,
 * RelatedPerson, Person: all the patient index keeps)?  False only when
 * certain, so callers skip the parse of most lines: without a \u escape
 * (which could spell any key or value) such a resource has the raw bytes
 * "resourceType" ws : ws "<type>".  A "Patient/..." reference alone does
 * not count. */
/* The next "\"resourceType\"" in [@q, @end), or NULL: memmem's result,
 * found faster (a memchr for its 'T', then a compare around it; this runs
 * over every byte of every NDJSON file before the first transform). */
static const uint8_t *ff_find_rt(const uint8_t *q, const uint8_t *end)
{
	static const char rt[] = "\"resourceType\"";
	const uint8_t *t = q + 9; /* the 'T' of a match starting at q */

	while (t < end && (t = memchr(t, 'T', (size_t)(end - t)))) {
		if ((size_t)(end - t) >= 5 && !memcmp(t - 9, rt, 14))
			return t - 9;
		t++;
	}
	return NULL;
}

static bool ff_may_hold_person(const uint8_t *p, size_t n)
{
	static const char *const types[] = {"Patient\"", "Practitioner\"",
					    "RelatedPerson\"", "Person\""};
	const uint8_t *q = p, *end = p + n;

	if (!n)
		return false;
	/* with a backslash (maybe a \u escape), the plain test: the text
	 * names Patient, Person or Practitioner somewhere */
	if (memchr(p, '\\', n))
		return memmem(p, n, "Patient", 7) || memmem(p, n, "Person", 6) ||
		       memmem(p, n, "Practitioner", 12);
	while ((q = ff_find_rt(q, end))) {
		q += 14;
		while (q < end && ff_ws(*q))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && ff_ws(*q))
			q++;
		if (q >= end || *q != '"')
			continue;
		q++;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			size_t tl = strlen(types[i]);

			if ((size_t)(end - q) >= tl && !memcmp(q, types[i], tl))
				return true;
		}
	}
	return false;
}

/* ---- units ----------------------------------------------------------------- */

/* Tokeners are reused per thread (json_tokener_new_ex clears its whole
 * depth stack: about as much work as parsing a short line), one per depth
 * in use, reset before every parse (json_tokener_reset: "prepare to parse
 * a brand new JSON object").  A tokener that parsed more than
 * FF_TOK_KEEP_MAX bytes is freed instead, so no thread keeps a large
 * string buffer.  The thread's tokeners are freed when it exits. */
#define FF_TOK_SLOTS 4
#define FF_TOK_KEEP_MAX ((size_t)1 << 20)

struct ff_toks {
	struct json_tokener *tok[FF_TOK_SLOTS];
	unsigned depth[FF_TOK_SLOTS];
};

static void ff_toks_free(void *p)
{
	struct ff_toks *c = p;

	for (size_t i = 0; i < FF_TOK_SLOTS; i++)
		if (c->tok[i])
			json_tokener_free(c->tok[i]);
	free(c);
}

static struct dd_tls ff_tok_tls =
	DD_TLS_INIT(sizeof(struct ff_toks), NULL, ff_toks_free);

/* A reset tokener of @depth for @n bytes; *slot is where it is kept
 * (NULL: the caller frees it). */
static struct json_tokener *ff_tok_get(unsigned depth, size_t n,
				       struct json_tokener ***slot)
{
	struct ff_toks *c = NULL;
	struct json_tokener **sp;

	*slot = NULL;
	if (n <= FF_TOK_KEEP_MAX)
		c = dd_tls_get(&ff_tok_tls);
	if (!c)
		return json_tokener_new_ex((int)depth);
	sp = &c->tok[depth % FF_TOK_SLOTS];
	if (*sp && c->depth[depth % FF_TOK_SLOTS] != depth) {
		json_tokener_free(*sp);
		*sp = NULL;
	}
	if (!*sp) {
		*sp = json_tokener_new_ex((int)depth);
		c->depth[depth % FF_TOK_SLOTS] = depth;
	} else {
		json_tokener_reset(*sp);
	}
	*slot = sp;
	return *sp;
}

/* Parse @n bytes as one JSON value (strict, UTF-8 checked, @depth deep). */
static enum fw_status ff_parse(const uint8_t *p, size_t n, unsigned depth,
			       json_object **out)
{
	struct json_tokener *tok, **slot;
	json_object *o;
	enum fw_status st = FW_OK;
	size_t end;
	uint8_t small[64];

	*out = NULL;
	if (n > FF_UNIT_MAX || n == 0)
		return n ? FW_LIMIT : FW_PARSE;
	if (depth < 1)
		return FW_PARSE;
	for (end = 0; end < n && ff_ws(p[end]); end++)
		;
	if (end < n && (p[end] == '{' || p[end] == '[')) {
		/* containers: our parser, json-c's behaviour (dd_json.h) */
		switch (dd_json_parse(p, n, depth, out)) {
		case DD_JSON_OK:
			return FW_OK;
		case DD_JSON_BAD:
			return FW_PARSE;
		default:
			return FW_INTERNAL;
		}
	}
	tok = ff_tok_get(depth, n, &slot);
	if (!tok)
		return FW_INTERNAL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	if (p[0] != '{' && p[0] != '[' && n < sizeof(small)) {
		/* a scalar needs its terminator */
		memcpy(small, p, n);
		small[n] = 0;
		o = json_tokener_parse_ex(tok, (const char *)small, (int)n + 1);
		end = n;
	} else {
		o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
		end = json_tokener_get_parse_end(tok);
	}
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		st = FW_PARSE;
	} else {
		for (size_t i = end; i < n; i++)
			if (!ff_ws(p[i]))
				st = FW_PARSE;
	}
	if (!slot)
		json_tokener_free(tok);
	else
		json_tokener_reset(tok); /* drop references to @o's parts */
	if (st)
		json_object_put(o);
	else
		*out = o;
	return st;
}

static const char *ff_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
		       json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* One resource (NDJSON line or whole file) -> its output. */
static enum fw_status ff_unit_resource(const struct dd_fhir *f,
				       const uint8_t *p, size_t n,
				       struct dd_buf *out)
{
	json_object *o;
	struct dd_index *local = NULL;
	enum fw_status st;
	const char *rt;

	st = ff_parse(p, n, f->max_depth, &o);
	if (st)
		return st;
	if (!json_object_is_type(o, json_type_object) ||
	    !(rt = ff_str(o, "resourceType")) || !dd_fhir_resource_type(rt)) {
		json_object_put(o);
		return FW_UNSUPPORTED;
	}
	if (!strcmp(rt, "Bundle")) {
		if (dd_index_new_for(f->index, &local) ||
		    dd_index_add_tree(local, f->pol, o) ||
		    dd_index_finish(local)) {
			dd_index_free(local);
			json_object_put(o);
			return FW_INTERNAL;
		}
	}
	st = dd_fhir_walk_resource(f, local, o);
	if (!st && dd_fhir_serialise(o, out))
		st = FW_LIMIT;
	dd_index_free(local);
	json_object_put(o);
	return st;
}

static enum fw_status ff_unit_entry(const struct dd_fhir *f,
				    const struct dd_index *local,
				    const char *bundle_id, const uint8_t *p,
				    size_t n, bool comma, struct dd_buf *out)
{
	json_object *o;
	enum fw_status st;

	st = ff_parse(p, n, f->max_depth > 2 ? f->max_depth - 2 : 0, &o);
	if (st)
		return st;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return FW_PARSE;
	}
	st = dd_fhir_walk_entry(f, local, bundle_id, o);
	if (!st && ((comma && dd_buf_addc(out, ',')) || dd_fhir_serialise(o, out)))
		st = FW_LIMIT;
	json_object_put(o);
	return st;
}

/* ---- the output builder ----------------------------------------------------- */

struct fb_piece {
	bool regen;
	uint8_t mode;
	bool first;      /* ENTRIES: the chunk starts at entry 0 */
	uint64_t a, b;   /* source range */
	uint64_t olen;   /* output bytes */
	size_t goff;     /* LIT: offset in glue */
};

struct fb {
	const struct dd_fhir *f;
	struct dd_buf out;    /* the whole output, while small (or keep_all) */
	bool keep_all;        /* transform_buffer: never spill */
	bool spilled;
	uint64_t total;
	struct fb_piece *pc;
	size_t n, cap;
	bool open;            /* pc[n-1] is an open REGEN chunk */
	struct dd_buf glue;
	struct dd_buf unit;   /* one unit's output */
	int sink_fd;          /* -1, or every output byte also goes here */
	struct dd_buf sink;   /* bytes not yet written to sink_fd */
	bool sink_err;        /* a write to sink_fd failed */
};

static void fb_init(struct fb *b, const struct dd_fhir *f, bool keep_all)
{
	memset(b, 0, sizeof(*b));
	b->f = f;
	b->keep_all = keep_all;
	dd_buf_init(&b->out, keep_all ? (size_t)16 << 30 : f->literal_max + 1);
	dd_buf_init(&b->glue, (size_t)256 << 20);
	dd_buf_init(&b->unit, FF_UNIT_MAX * 2);
	b->sink_fd = -1;
	dd_buf_init(&b->sink, FF_UNIT_MAX * 2);
}

static void fb_free(struct fb *b)
{
	dd_buf_free(&b->out);
	dd_buf_free(&b->glue);
	dd_buf_free(&b->unit);
	dd_buf_free(&b->sink);
	free(b->pc);
}

/* Write what the sink holds to sink_fd. */
static bool fb_sink_flush(struct fb *b)
{
	size_t done = 0;

	while (done < b->sink.len && !b->sink_err) {
		ssize_t k = write(b->sink_fd, b->sink.data + done,
				  b->sink.len - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			b->sink_err = true;
		else
			done += (size_t)k;
	}
	dd_buf_reset(&b->sink);
	return !b->sink_err;
}

static bool fb_push(struct fb *b, const struct fb_piece *p)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		struct fb_piece *np = realloc(b->pc, nc * sizeof(*np));

		if (!np)
			return false;
		b->pc = np;
		b->cap = nc;
	}
	b->pc[b->n++] = *p;
	return true;
}

static bool fb_keep(struct fb *b, const uint8_t *p, size_t n)
{
	b->total += n;
	if (b->sink_fd >= 0) {
		if (dd_buf_add(&b->sink, p, n))
			return false;
		if (b->sink.len >= FF_BLOCK && !fb_sink_flush(b))
			return false;
	}
	if (b->spilled)
		return true;
	if (!b->keep_all && b->total > b->f->literal_max) {
		b->spilled = true;
		dd_buf_free(&b->out);
		return true;
	}
	return dd_buf_add(&b->out, p, n) == DD_OK;
}

static enum fw_status fb_glue(struct fb *b, const void *p, size_t n)
{
	struct fb_piece pc = {0};

	b->open = false;
	if (n == 0)
		return FW_OK;
	pc.goff = b->glue.len;
	pc.olen = n;
	if (dd_buf_add(&b->glue, p, n) || !fb_keep(b, p, n))
		return FW_LIMIT;
	if (b->n && !b->pc[b->n - 1].regen) { /* merge literals */
		b->pc[b->n - 1].olen += n;
		return FW_OK;
	}
	return fb_push(b, &pc) ? FW_OK : FW_INTERNAL;
}

/* Account for one unit of @mode at source [a, b) whose output is in
 * b->unit. */
static enum fw_status fb_unit(struct fb *b, uint8_t mode, bool first,
			      uint64_t a, uint64_t e)
{
	struct fb_piece *last = b->n ? &b->pc[b->n - 1] : NULL;

	if (!(b->open && last && last->mode == mode)) {
		struct fb_piece pc = {.regen = true, .mode = mode,
				      .first = first, .a = a, .b = a};

		if (!fb_push(b, &pc))
			return FW_INTERNAL;
		last = &b->pc[b->n - 1];
		b->open = true;
	}
	last->b = e;
	last->olen += b->unit.len;
	if (!fb_keep(b, b->unit.data, b->unit.len))
		return FW_LIMIT;
	if (last->olen >= b->f->chunk_out || last->b - last->a >= b->f->chunk_src)
		b->open = false;
	return FW_OK;
}

/* ---- NDJSON ------------------------------------------------------------------ */

/* Transform the lines of @r in [start, end); output through @b. */
static enum fw_status ff_ndjson(const struct dd_fhir *f, struct fr *r,
				uint64_t start, uint64_t end, struct fb *b)
{
	uint64_t ls = start;

	while (ls < end) {
		uint64_t le = ls, next;
		int k;
		const uint8_t *p;
		size_t n;
		bool blank = true;
		enum fw_status st;

		k = fr_line_end(r, ls, &le);
		if (k == -2)
			return FW_LIMIT;
		if (k < 0)
			return FW_INTERNAL;
		next = k == 1 ? le + 1 : le;
		p = fr_data(r) + (ls - r->base);
		n = (size_t)(le - ls);
		if (n && p[n - 1] == '\r')
			n--;
		for (size_t i = 0; i < n && blank; i++)
			blank = ff_ws(p[i]);
		if (!blank) {
			dd_buf_reset(&b->unit);
			st = ff_unit_resource(f, p, n, &b->unit);
			if (st)
				return st;
			if (dd_buf_addc(&b->unit, '\n'))
				return FW_LIMIT;
			st = fb_unit(b, FF_NDJSON, false, ls, next);
			if (st)
				return st;
		}
		ls = next;
	}
	return FW_OK;
}

/* ---- top-level JSON object ----------------------------------------------------- */

struct fj_ctx {
	const struct dd_fhir *f;
	struct fb *b;              /* pass 2 */
	struct dd_index *local;    /* pass 1 builds it */
	const struct dd_index *use_local;
	char rt[64];               /* resourceType seen */
	char id[65];               /* Bundle id */
	size_t n_emitted;          /* members written */
	bool pass2;
	char **seen;               /* keys seen (duplicates are refused) */
	size_t n_seen;
};

static void fj_ctx_free(struct fj_ctx *c)
{
	for (size_t i = 0; i < c->n_seen; i++)
		free(c->seen[i]);
	free(c->seen);
	c->seen = NULL;
	c->n_seen = 0;
}

static bool fj_seen(struct fj_ctx *c, const char *key)
{
	char **ns;

	for (size_t i = 0; i < c->n_seen; i++)
		if (!strcmp(c->seen[i], key))
			return true;
	ns = realloc(c->seen, (c->n_seen + 1) * sizeof(*ns));
	if (!ns)
		return true;
	c->seen = ns;
	c->seen[c->n_seen] = strdup(key);
	if (c->seen[c->n_seen])
		c->n_seen++;
	return false;
}

/* Pass 1: the resource type, the id and the Patients of the entries. */
static enum fw_status fj_entry_pass1(struct fj_ctx *c, const uint8_t *p,
				     size_t n)
{
	json_object *o;
	enum fw_status st;

	/* memmem, not ff_may_hold_person: a malformed entry that mentions
	 * a Patient must keep hiding the file here (fhir_parse), before
	 * pass 1 could decide fhir_unsupported */
	if (!memmem(p, n, "Patient", 7) && !memmem(p, n, "Person", 6) &&
	    !memmem(p, n, "Practitioner", 12))
		return FW_OK; /* cannot hold a person; pass 2 validates it */
	st = ff_parse(p, n, c->f->max_depth > 2 ? c->f->max_depth - 2 : 0, &o);
	if (st)
		return st;
	if (json_object_is_type(o, json_type_object)) {
		json_object *res;

		if (json_object_object_get_ex(o, "resource", &res) &&
		    json_object_is_type(res, json_type_object)) {
			const char *rt = ff_str(res, "resourceType");

			if (dd_index_is_person(rt))
				st = dd_index_add_patient(c->local, c->f->pol,
							  res, ff_str(o, "fullUrl"))
					     ? FW_INTERNAL
					     : FW_OK;
			else if (rt && !strcmp(rt, "Bundle"))
				st = dd_index_add_tree(c->local, c->f->pol, res)
					     ? FW_INTERNAL
					     : FW_OK;
		}
	}
	json_object_put(o);
	return st;
}

static enum fw_status fj_member(struct fj_ctx *c, const char *key,
				const uint8_t *p, size_t n)
{
	json_object *v;
	enum fw_status st;
	bool remove = false;
	struct dd_buf *g;
	json_object *ks;

	if (!c->pass2) {
		if (!strcmp(key, "resourceType") || !strcmp(key, "id")) {
			st = ff_parse(p, n, 1, &v);
			if (st)
				return st;
			if (json_object_is_type(v, json_type_string)) {
				const char *s = json_object_get_string(v);

				if (!strcmp(key, "id"))
					snprintf(c->id, sizeof(c->id), "%s", s);
				else
					snprintf(c->rt, sizeof(c->rt), "%s", s);
			}
			json_object_put(v);
		}
		return FW_OK;
	}
	st = ff_parse(p, n, c->f->max_depth > 1 ? c->f->max_depth - 1 : 0, &v);
	if (st)
		return st;
	st = dd_fhir_walk_bundle_member(c->f, c->use_local, c->id[0] ? c->id : NULL,
					key, &v, &remove);
	if (st || remove) {
		json_object_put(v);
		return st;
	}
	g = &c->b->unit;
	dd_buf_reset(g);
	ks = json_object_new_string(key);
	if (!ks || (c->n_emitted && dd_buf_addc(g, ',')) ||
	    dd_fhir_serialise(ks, g) || dd_buf_addc(g, ':') ||
	    dd_fhir_serialise(v, g))
		st = FW_LIMIT;
	json_object_put(ks);
	json_object_put(v);
	if (!st)
		st = fb_glue(c->b, g->data, g->len);
	c->n_emitted++;
	return st;
}

/* Scan the top-level object at *at.  Pass 1 collects; pass 2 writes. */
static enum fw_status fj_object(struct fj_ctx *c, struct fr *r, uint64_t *at)
{
	uint64_t pos = *at;
	uint8_t ch;
	enum fw_status st;
	bool first = true;

	if (fr_at(r, pos, pos, &ch) != 1 || ch != '{')
		return FW_PARSE;
	pos++;
	if (c->pass2 && (st = fb_glue(c->b, "{", 1)))
		return st;
	for (;;) {
		uint64_t ka, kb, va, vb;
		json_object *ko;
		const char *key;
		char *keyc;

		if (fr_skip_ws(r, &pos, pos) < 0)
			return FW_INTERNAL;
		if (fr_at(r, pos, pos, &ch) != 1)
			return FW_PARSE;
		if (ch == '}' && first) {
			pos++;
			break;
		}
		if (ch != '"')
			return FW_PARSE;
		ka = pos;
		if ((st = fr_value_end(r, ka, 1, &kb)))
			return st;
		if (ff_parse(fr_data(r) + (ka - r->base), (size_t)(kb - ka), 1,
			     &ko))
			return FW_PARSE;
		if (!json_object_is_type(ko, json_type_string)) {
			json_object_put(ko);
			return FW_PARSE;
		}
		keyc = strdup(json_object_get_string(ko));
		json_object_put(ko);
		if (!keyc)
			return FW_INTERNAL;
		key = keyc;
		pos = kb;
		if (fr_skip_ws(r, &pos, pos) < 0 || fr_at(r, pos, pos, &ch) != 1 ||
		    ch != ':' || (pos++, fr_skip_ws(r, &pos, pos) < 0) ||
		    fj_seen(c, key)) {
			free(keyc);
			return FW_PARSE;
		}
		va = pos;
		if (fr_at(r, va, va, &ch) != 1) {
			free(keyc);
			return FW_PARSE;
		}
		if (!strcmp(key, "entry") && ch == '[') {
			/* the entries, one unit each */
			uint64_t ep = va + 1;
			size_t idx = 0;

			if (c->pass2) {
				struct dd_buf *g = &c->b->unit;

				dd_buf_reset(g);
				if ((c->n_emitted && dd_buf_addc(g, ',')) ||
				    dd_buf_adds(g, "\"entry\":[") ||
				    (st = fb_glue(c->b, g->data, g->len))) {
					free(keyc);
					return FW_LIMIT;
				}
				c->n_emitted++;
			}
			for (;;) {
				uint64_t ea, eb;

				if (fr_skip_ws(r, &ep, ep) < 0 ||
				    fr_at(r, ep, ep, &ch) != 1) {
					free(keyc);
					return FW_PARSE;
				}
				if (ch == ']' && idx == 0) {
					ep++;
					break;
				}
				ea = ep;
				st = fr_value_end(r, ea, c->f->max_depth - 2, &eb);
				if (st) {
					free(keyc);
					return st;
				}
				if (c->pass2) {
					dd_buf_reset(&c->b->unit);
					st = ff_unit_entry(c->f, c->use_local,
							   c->id[0] ? c->id : NULL,
							   fr_data(r) + (ea - r->base),
							   (size_t)(eb - ea), idx > 0,
							   &c->b->unit);
					if (!st)
						st = fb_unit(c->b, FF_ENTRIES,
							     idx == 0, ea, eb);
				} else {
					st = fj_entry_pass1(
						c, fr_data(r) + (ea - r->base),
						(size_t)(eb - ea));
				}
				if (st) {
					free(keyc);
					return st;
				}
				idx++;
				ep = eb;
				if (fr_skip_ws(r, &ep, ep) < 0 ||
				    fr_at(r, ep, ep, &ch) != 1) {
					free(keyc);
					return FW_PARSE;
				}
				ep++;
				if (ch == ']')
					break;
				if (ch != ',') {
					free(keyc);
					return FW_PARSE;
				}
			}
			vb = ep;
			if (c->pass2 && (st = fb_glue(c->b, "]", 1))) {
				free(keyc);
				return st;
			}
		} else {
			if ((st = fr_value_end(r, va, c->f->max_depth - 1, &vb))) {
				free(keyc);
				return st;
			}
			st = fj_member(c, key, fr_data(r) + (va - r->base),
				       (size_t)(vb - va));
			if (st) {
				free(keyc);
				return st;
			}
		}
		free(keyc);
		first = false;
		pos = vb;
		if (fr_skip_ws(r, &pos, pos) < 0 || fr_at(r, pos, pos, &ch) != 1)
			return FW_PARSE;
		pos++;
		if (ch == '}')
			break;
		if (ch != ',')
			return FW_PARSE;
	}
	if (c->pass2 && (st = fb_glue(c->b, "}", 1)))
		return st;
	*at = pos;
	return FW_OK;
}

/* ---- one file ----------------------------------------------------------------- */

struct ff_src {
	int fd;            /* or -1 */
	const uint8_t *mem;
	uint64_t size;
};

static void ff_reader(const struct ff_src *s, struct fr *r, uint64_t a,
		      uint64_t b)
{
	if (s->fd < 0)
		fr_init_mem(r, s->mem + a, a, (size_t)(b - a));
	else
		fr_init_fd(r, s->fd, a, b);
}

static uint64_t ff_bom(const struct ff_src *s)
{
	uint8_t bom[3];

	if (s->size < 3)
		return 0;
	if (s->fd < 0)
		memcpy(bom, s->mem, 3);
	else if (pread(s->fd, bom, 3, 0) != 3)
		return 0;
	return bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF ? 3 : 0;
}

/* Whole file [start, size) as one resource. */
static enum fw_status ff_whole(const struct dd_fhir *f, const struct ff_src *s,
			       uint64_t start, struct fb *b)
{
	struct fr r;
	enum fw_status st;
	uint64_t a = start, e = s->size;
	const uint8_t *p;

	if (e - a > FF_UNIT_MAX)
		return FW_LIMIT;
	ff_reader(s, &r, a, e);
	while (fr_avail_end(&r) < e)
		if (fr_fill(&r, a) <= 0) {
			fr_free(&r);
			return FW_INTERNAL;
		}
	p = fr_data(&r) + (a - r.base);
	/* trim whitespace so the unit range is the resource itself */
	while (a < e && ff_ws(*p))
		a++, p++;
	while (e > a && ff_ws(fr_data(&r)[e - 1 - r.base]))
		e--;
	dd_buf_reset(&b->unit);
	st = ff_unit_resource(f, p, (size_t)(e - a), &b->unit);
	if (!st)
		st = fb_unit(b, FF_RESOURCE, false, a, e);
	fr_free(&r);
	return st;
}

static enum fw_status ff_json(const struct dd_fhir *f, const struct ff_src *s,
			      uint64_t start, struct fb *b,
			      struct dd_index **local_out, char bid[65])
{
	struct fj_ctx c = {.f = f, .b = b};
	struct fr r;
	uint64_t at = start;
	enum fw_status st;

	*local_out = NULL;
	if (dd_index_new_for(f->index, &c.local))
		return FW_INTERNAL;
	/* pass 1 */
	ff_reader(s, &r, start, s->size);
	if (fr_skip_ws(&r, &at, at) < 0) {
		st = FW_INTERNAL;
		goto out;
	}
	st = fj_object(&c, &r, &at);
	if (!st && fr_skip_ws(&r, &at, at) < 0)
		st = FW_INTERNAL;
	if (!st && at != s->size)
		st = FW_PARSE;
	fr_free(&r);
	if (st)
		goto out;
	if (!c.rt[0] || !dd_fhir_resource_type(c.rt)) {
		st = FW_UNSUPPORTED;
		goto out;
	}
	if (strcmp(c.rt, "Bundle")) {
		st = ff_whole(f, s, start, b);
		goto out;
	}
	/* pass 2 */
	if (dd_index_finish(c.local)) {
		st = FW_INTERNAL;
		goto out;
	}
	fj_ctx_free(&c);
	c.pass2 = true;
	c.use_local = c.local;
	at = start;
	ff_reader(s, &r, start, s->size);
	if (fr_skip_ws(&r, &at, at) < 0)
		st = FW_INTERNAL;
	else
		st = fj_object(&c, &r, &at);
	fr_free(&r);
	if (!st) {
		*local_out = c.local;
		c.local = NULL;
		memcpy(bid, c.id, sizeof(c.id));
	}
out:
	fj_ctx_free(&c);
	dd_index_free(c.local);
	return st;
}

static enum dd_reason ff_reason(enum fw_status st)
{
	switch (st) {
	case FW_OK:
		return DD_REASON_NONE;
	case FW_PARSE:
		return DD_REASON_FHIR_PARSE;
	case FW_UNSUPPORTED:
		return DD_REASON_FHIR_UNSUPPORTED;
	case FW_LIMIT:
		return DD_REASON_LIMIT;
	default:
		return DD_REASON_INTERNAL;
	}
}

/* Transform @s into @b (and the file's own patient index for Bundles). */
static enum fw_status ff_file(const struct dd_fhir *f, const struct ff_src *s,
			      enum dd_kind kind, struct fb *b,
			      struct dd_index **local, char bid[65])
{
	uint64_t start = ff_bom(s);
	enum fw_status st;
	struct fr r;

	*local = NULL;
	if (!f->pol->fhir.present)
		return FW_UNSUPPORTED;
	if (kind == DD_KIND_FHIR_NDJSON) {
		ff_reader(s, &r, start, s->size);
		st = ff_ndjson(f, &r, start, s->size, b);
		fr_free(&r);
		return st;
	}
	return ff_json(f, s, start, b, local, bid);
}

/* ---- regeneration ---------------------------------------------------------------- */

#define FF_DESC_LEN 48

static void ff_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ff_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* descriptor (after dd_manifest's 20 bytes): u8 mode, u8 first, u8 idlen,
 * u8 0, u32 0, u64 a, u64 len, u64 lidx_off, u64 lidx_len, then the Bundle
 * id (idlen bytes). */
static dd_err ff_regen(void *ctx, int src_fd, const struct dd_manifest *m,
		       const uint8_t *desc, size_t desc_len, struct dd_buf *out)
{
	const struct dd_fhir *f = ctx;
	const uint8_t *d = desc + 20;
	uint8_t mode, first, idlen;
	uint64_t a, len, lo, ll;
	struct dd_index *local = NULL;
	char id[65];
	struct fr r;
	struct fb b;
	enum fw_status st = FW_OK;
	dd_err e = DD_OK;

	if (desc_len < 20 + 40)
		return DD_E_CORRUPT;
	mode = d[0];
	first = d[1];
	idlen = d[2];
	a = ff_get64(d + 8);
	len = ff_get64(d + 16);
	lo = ff_get64(d + 24);
	ll = ff_get64(d + 32);
	if (idlen > 64 || desc_len < 20 + 40 + (size_t)idlen || len > FF_UNIT_MAX ||
	    lo > m->data.len || ll > m->data.len - lo)
		return DD_E_CORRUPT;
	memcpy(id, d + 40, idlen);
	id[idlen] = 0;
	if (ll && dd_index_decode(m->data.data + lo, (size_t)ll, &local))
		return DD_E_CORRUPT;
	fb_init(&b, f, true);
	fr_init_fd(&r, src_fd, a, a + len);
	while (fr_avail_end(&r) < a + len)
		if (fr_fill(&r, a) <= 0) {
			e = DD_E_IO;
			goto out;
		}
	switch (mode) {
	case FF_NDJSON:
		st = ff_ndjson(f, &r, a, a + len, &b);
		break;
	case FF_RESOURCE:
		st = ff_unit_resource(f, fr_data(&r), (size_t)len, &b.out);
		break;
	case FF_ENTRIES: {
		uint64_t ep = a;
		bool comma = !first;

		while (!st) {
			uint64_t eb;
			uint8_t ch;

			if (fr_skip_ws(&r, &ep, ep) < 0) {
				st = FW_INTERNAL;
				break;
			}
			if (ep >= a + len)
				break;
			if (fr_at(&r, ep, ep, &ch) == 1 && ch == ',') {
				ep++;
				continue;
			}
			st = fr_value_end(&r, ep, f->max_depth - 2, &eb);
			if (!st)
				st = ff_unit_entry(f, local, idlen ? id : NULL,
						   fr_data(&r) + (ep - r.base),
						   (size_t)(eb - ep), comma, &b.out);
			comma = true;
			ep = eb;
		}
		break;
	}
	default:
		st = FW_PARSE;
	}
	if (st)
		e = DD_E_CHANGED;
	else
		e = dd_buf_add(out, b.out.data, b.out.len);
out:
	fr_free(&r);
	fb_free(&b);
	dd_index_free(local);
	return e;
}

/* The manifest from the pieces of @b. */
static dd_err ff_manifest(const struct dd_fhir *f, struct fb *b,
			  const struct dd_index *local, const char *bundle_id,
			  struct dd_manifest *m)
{
	uint64_t lo = 0, ll = 0;
	dd_err e = DD_OK;
	size_t idlen = bundle_id ? strlen(bundle_id) : 0;

	if (!b->spilled)
		return dd_manifest_add_literal(m, b->out.data, b->out.len);
	if (idlen > 64)
		idlen = 0;
	if (local && dd_index_n_refs(local)) {
		lo = m->data.len;
		e = dd_index_encode(local, &m->data);
		if (e)
			return e;
		ll = m->data.len - lo;
	}
	for (size_t i = 0; i < b->n && !e; i++) {
		const struct fb_piece *p = &b->pc[i];
		uint8_t d[40 + 64] = {0};

		if (!p->regen) {
			e = dd_manifest_add_literal(m, b->glue.data + p->goff,
						    (size_t)p->olen);
			continue;
		}
		d[0] = p->mode;
		d[1] = p->first;
		d[2] = (uint8_t)idlen;
		ff_put64(d + 8, p->a);
		ff_put64(d + 16, p->b - p->a);
		ff_put64(d + 24, lo);
		ff_put64(d + 32, ll);
		if (idlen)
			memcpy(d + 40, bundle_id, idlen);
		e = dd_manifest_add_regen(m, p->olen, f->tag, d, 40 + idlen);
	}
	return e;
}

/* ---- public ------------------------------------------------------------------------ */

dd_err dd_fhir_new(const struct dd_policy *pol, const struct dd_pseudo *pseudo,
		   const struct dd_text *text, const struct dd_index *index,
		   const char *policy_hash, struct dd_fhir **out)
{
	struct dd_fhir *f;
	const struct dd_policy_fhir *pf = &pol->fhir;
	const char *digest = dd_index_digest(index);
	dd_err e = DD_OK;

	*out = NULL;
	dd_fhir_walk_prepare();
	f = calloc(1, sizeof(*f));
	if (!f)
		return DD_E_NOMEM;
	f->pol = pol;
	f->pseudo = pseudo;
	f->text = text;
	f->index = index;
	f->chunk_out = FF_CHUNK_OUT;
	f->chunk_src = FF_CHUNK_SRC;
	f->literal_max = FF_CHUNK_OUT;
	f->max_depth = pol->deidfs.json_max_depth ? pol->deidfs.json_max_depth : 64;
	if (f->max_depth < 4)
		f->max_depth = 4;
	f->ref_year = FF_REF_YEAR;
	f->serial = atomic_fetch_add(&ff_serial, 1) + 1;
	f->hash_pseudo = *pseudo;
	f->shift_pseudo = *pseudo;
	if (pf->crypto_hash_key.present)
		dd_pseudo_init(&f->hash_pseudo, pf->crypto_hash_key.bytes,
			       pf->crypto_hash_key.len);
	if (pf->date_shift_key.present)
		dd_pseudo_init(&f->shift_pseudo, pf->date_shift_key.bytes,
			       pf->date_shift_key.len);
	if (pf->n_fields) {
		f->rules = calloc(pf->n_fields, sizeof(*f->rules));
		if (!f->rules) {
			e = DD_E_NOMEM;
			goto out_free;
		}
		f->n_rules = pf->n_fields;
	}
	for (size_t i = 0; i < pf->n_fields && !e; i++) {
		struct dd_fhir_rule *r = &f->rules[i];

		r->action = pf->fields[i].action;
		r->paths = calloc(pf->fields[i].paths.n + 1, sizeof(*r->paths));
		if (!r->paths) {
			e = DD_E_NOMEM;
			break;
		}
		for (size_t k = 0; k < pf->fields[i].paths.n && !e; k++) {
			e = dd_fhir_rpath_parse(pf->fields[i].paths.v[k],
						&r->paths[r->n_paths]);
			if (!e)
				r->n_paths++;
			else if (e == DD_E_INVAL)
				e = DD_OK; /* an empty path matches nothing */
		}
	}
	if (e)
		goto out_free;
	e = dd_manifest_regen_tag(f->tag, "dd-fhir-regen-1",
				  policy_hash ? policy_hash : "", "|", digest,
				  NULL);
	if (!e)
		e = dd_manifest_regen_register(f->tag, ff_regen, f);
	if (e)
		goto out_free;
	f->registered = true;
	*out = f;
	return DD_OK;

out_free:
	dd_fhir_free(f);
	return e;
}

void dd_fhir_free(struct dd_fhir *f)
{
	if (!f)
		return;
	if (f->registered)
		dd_manifest_regen_unregister(f->tag, f);
	for (size_t i = 0; i < f->n_rules; i++) {
		for (size_t k = 0; k < f->rules[i].n_paths; k++)
			dd_fhir_rpath_free(&f->rules[i].paths[k]);
		free(f->rules[i].paths);
	}
	free(f->rules);
	dd_pseudo_clear(&f->hash_pseudo);
	dd_pseudo_clear(&f->shift_pseudo);
	free(f);
}

void dd_fhir_set_chunking(struct dd_fhir *f, size_t chunk_out,
			  size_t literal_max)
{
	f->chunk_out = chunk_out ? chunk_out : 1;
	f->chunk_src = 4 * f->chunk_out;
	f->literal_max = literal_max;
}

/* dd_fhir_transform, with every output byte also written to @sink_fd
 * (when >= 0) as it is produced. */
static dd_err ff_transform(const struct dd_fhir *f, int fd, uint64_t size,
			   enum dd_kind kind, const char *log_name, int sink_fd,
			   struct dd_manifest *out)
{
	struct ff_src s = {.fd = fd, .size = size};
	struct dd_index *local = NULL;
	enum fw_status st;
	struct fb b;
	dd_err e = DD_OK;
	char bid[65] = "";

	fb_init(&b, f, false);
	b.sink_fd = sink_fd;
	st = ff_file(f, &s, kind, &b, &local, bid);
	if (b.sink_err) {
		e = DD_E_IO; /* the output fd failed, not the source */
		goto out;
	}
	if (st) {
		dd_log(DD_LOG_INFO, "%s: FHIR: %s", log_name ? log_name : "?",
		       dd_reason_name(ff_reason(st)));
		dd_manifest_hide(out, kind, ff_reason(st));
		goto out;
	}
	if (sink_fd >= 0 && !fb_sink_flush(&b)) {
		e = DD_E_IO;
		goto out;
	}
	e = ff_manifest(f, &b, local, bid[0] ? bid : NULL, out);
	if (e == DD_E_NOMEM)
		goto out;
	if (e) {
		dd_manifest_hide(out, kind, DD_REASON_LIMIT);
		e = DD_OK;
		goto out;
	}
	out->kind = kind;
out:
	dd_index_free(local);
	fb_free(&b);
	return e;
}

dd_err dd_fhir_transform(const struct dd_fhir *f, int fd, uint64_t size,
			 enum dd_kind kind, const char *log_name,
			 struct dd_manifest *out)
{
	return ff_transform(f, fd, size, kind, log_name, -1, out);
}

dd_err dd_fhir_transform_to_fd(const struct dd_fhir *f, int fd, uint64_t size,
			       enum dd_kind kind, const char *log_name,
			       int out_fd, struct dd_manifest *out)
{
	if (out_fd < 0)
		return DD_E_INVAL;
	return ff_transform(f, fd, size, kind, log_name, out_fd, out);
}

dd_err dd_fhir_transform_buffer(const struct dd_fhir *f, const void *in,
				size_t n, enum dd_kind kind, struct dd_buf *out,
				enum dd_reason *reason)
{
	struct ff_src s = {.fd = -1, .mem = in, .size = n};
	struct dd_index *local = NULL;
	enum fw_status st;
	struct fb b;
	dd_err e = DD_OK;
	char bid[65] = "";

	fb_init(&b, f, true);
	st = ff_file(f, &s, kind, &b, &local, bid);
	*reason = ff_reason(st);
	if (!st)
		e = dd_buf_add(out, b.out.data, b.out.len);
	dd_index_free(local);
	fb_free(&b);
	return e;
}

/* ---- indexing (dd_index_add_file) ------------------------------------------------ */

static enum fw_status ff_index_ndjson(struct fj_ctx *c, struct fr *r,
				      uint64_t start, uint64_t end)
{
	uint64_t ls = start;

	while (ls < end) {
		uint64_t le = ls;
		int k;
		const uint8_t *p;
		size_t n;

		k = fr_line_end(r, ls, &le);
		if (k == -2)
			return FW_LIMIT;
		if (k < 0)
			return FW_INTERNAL;
		p = fr_data(r) + (ls - r->base);
		n = (size_t)(le - ls);
		if (n && p && ff_may_hold_person(p, n)) {
			json_object *o;

			if (ff_parse(p, n, c->f->max_depth, &o) == FW_OK) {
				if (dd_index_add_tree(c->local, c->f->pol, o)) {
					json_object_put(o);
					return FW_INTERNAL;
				}
				json_object_put(o);
			}
		}
		ls = k == 1 ? le + 1 : le;
	}
	return FW_OK;
}

dd_err dd_fhir_index_source(const struct dd_policy *pol, int fd, uint64_t size,
			    bool ndjson, struct dd_index *x)
{
	struct dd_fhir f = {0};
	struct ff_src s = {.fd = fd, .size = size};
	struct fj_ctx c = {0};
	uint64_t start = ff_bom(&s), at = start;
	enum fw_status st;
	struct fr r;

	f.pol = pol;
	f.max_depth = pol->deidfs.json_max_depth ? pol->deidfs.json_max_depth : 64;
	if (f.max_depth < 4)
		f.max_depth = 4;
	c.f = &f;
	c.local = x;
	ff_reader(&s, &r, start, size);
	if (ndjson) {
		st = ff_index_ndjson(&c, &r, start, size);
	} else {
		st = fr_skip_ws(&r, &at, at) < 0 ? FW_INTERNAL
						 : fj_object(&c, &r, &at);
	}
	fr_free(&r);
	fj_ctx_free(&c);
	if (!ndjson && st == FW_OK && dd_index_is_person(c.rt)) {
		/* a single Patient: read it whole */
		struct fb b;
		json_object *o;

		fb_init(&b, &f, true);
		ff_reader(&s, &r, start, size);
		while (st == FW_OK && fr_avail_end(&r) < size)
			if (fr_fill(&r, start) <= 0)
				st = FW_INTERNAL;
		if (st == FW_OK && size - start <= FF_UNIT_MAX &&
		    ff_parse(fr_data(&r), (size_t)(size - start), f.max_depth,
			     &o) == FW_OK) {
			if (dd_index_add_tree(x, pol, o))
				st = FW_INTERNAL;
			json_object_put(o);
		}
		fr_free(&r);
		fb_free(&b);
	}
	return st == FW_INTERNAL ? (r.err ? DD_E_IO : DD_E_NOMEM) : DD_OK;
}
