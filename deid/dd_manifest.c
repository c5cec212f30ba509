/* dd_manifest.c: segment lists, serving reads, and the cache byte form.
 *
 * Byte form (little endian), version 1 (REGEN segments, kind 4, were added
 * without a version bump: older records never hold them):
 *   u32 magic "DDM1", u8 kind, u8 reason, u16 reserved(0),
 *   u64 size, u32 n_segs, u32 reserved(0), u64 data_len,
 *   n_segs x { u8 kind, u8 pad[7], u64 len, u64 offset },
 *   data_len bytes of literal data.
 * decode() checks every field; the record checksum is the cache's job.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dd_manifest.h"
#include "dd_tls.h"

#define DDM_MAGIC 0x314d4444u /* "DDM1" */
#define DDM_MAX_SEGS (1u << 24)
#define DDM_MAX_DATA ((size_t)1 << 34) /* 16 GiB of literal data */

static uint32_t get_u32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static const char *const dd_kind_names[DD_KIND_LAST] = {
	[DD_KIND_UNKNOWN] = "other", [DD_KIND_DICOM] = "dicom",
	[DD_KIND_DICOMDIR] = "dicomdir", [DD_KIND_FHIR_JSON] = "fhir_json",
	[DD_KIND_FHIR_NDJSON] = "fhir_ndjson", [DD_KIND_DIR] = "directory",
};

static const char *const dd_reason_names[DD_REASON_LAST] = {
	[DD_REASON_NONE] = "none",
	[DD_REASON_OTHER_FILE] = "other_file",
	[DD_REASON_DICOMDIR] = "dicomdir",
	[DD_REASON_DICOM_PARSE] = "dicom_parse",
	[DD_REASON_DICOM_UNSUPPORTED] = "dicom_unsupported",
	[DD_REASON_FHIR_PARSE] = "fhir_parse",
	[DD_REASON_FHIR_UNSUPPORTED] = "fhir_unsupported",
	[DD_REASON_POLICY_EXCLUDED] = "policy_excluded",
	[DD_REASON_TOO_LARGE] = "too_large",
	[DD_REASON_LIMIT] = "limit",
	[DD_REASON_TIMEOUT] = "timeout",
	[DD_REASON_NAME_COLLISION] = "name_collision",
	[DD_REASON_UNREADABLE] = "unreadable",
	[DD_REASON_SPECIAL_FILE] = "special_file",
	[DD_REASON_INTERNAL] = "internal",
};

const char *dd_kind_name(enum dd_kind k)
{
	return (unsigned)k < DD_KIND_LAST ? dd_kind_names[k] : "invalid";
}

const char *dd_reason_name(enum dd_reason r)
{
	return (unsigned)r < DD_REASON_LAST ? dd_reason_names[r] : "invalid";
}

bool dd_reason_is_error(enum dd_reason r)
{
	switch (r) {
	case DD_REASON_DICOM_PARSE:
	case DD_REASON_DICOM_UNSUPPORTED:
	case DD_REASON_FHIR_PARSE:
	case DD_REASON_FHIR_UNSUPPORTED:
	case DD_REASON_TOO_LARGE:
	case DD_REASON_LIMIT:
	case DD_REASON_TIMEOUT:
	case DD_REASON_UNREADABLE:
	case DD_REASON_INTERNAL:
		return true;
	default:
		return false;
	}
}

bool dd_reason_is_transient(enum dd_reason r)
{
	return r == DD_REASON_TIMEOUT || r == DD_REASON_UNREADABLE ||
	       r == DD_REASON_INTERNAL;
}

void dd_manifest_init(struct dd_manifest *m)
{
	memset(m, 0, sizeof(*m));
	dd_buf_init(&m->data, DDM_MAX_DATA);
}

void dd_manifest_free(struct dd_manifest *m)
{
	free(m->segs);
	dd_buf_free(&m->data);
	dd_manifest_init(m);
}

void dd_manifest_reset(struct dd_manifest *m)
{
	dd_manifest_free(m);
}

void dd_manifest_hide(struct dd_manifest *m, enum dd_kind kind,
		      enum dd_reason reason)
{
	dd_manifest_free(m);
	m->kind = kind;
	m->reason = reason == DD_REASON_NONE ? DD_REASON_INTERNAL : reason;
}

static dd_err ddm_push(struct dd_manifest *m, uint8_t kind, uint64_t len,
		       uint64_t offset)
{
	struct dd_seg *last = m->n_segs ? &m->segs[m->n_segs - 1] : NULL;

	if (len == 0)
		return DD_OK;
	if (UINT64_MAX - m->size < len)
		return DD_E_RANGE;
	if (last && last->kind == kind && kind != DD_SEG_REGEN &&
	    (kind == DD_SEG_ZERO || last->offset + last->len == offset)) {
		last->len += len;
		m->size += len;
		return DD_OK;
	}
	if (m->n_segs == m->cap_segs) {
		uint32_t ncap = m->cap_segs ? m->cap_segs * 2 : 8;
		struct dd_seg *p;

		if (ncap > DDM_MAX_SEGS)
			return DD_E_LIMIT;
		p = realloc(m->segs, ncap * sizeof(*p));
		if (!p)
			return DD_E_NOMEM;
		m->segs = p;
		m->cap_segs = ncap;
	}
	m->segs[m->n_segs].kind = kind;
	m->segs[m->n_segs].len = len;
	m->segs[m->n_segs].offset = offset;
	m->n_segs++;
	m->size += len;
	return DD_OK;
}

dd_err dd_manifest_add_literal(struct dd_manifest *m, const void *p, size_t n)
{
	size_t off = m->data.len;
	dd_err e;

	if (n == 0)
		return DD_OK;
	e = dd_buf_add(&m->data, p, n);
	if (e)
		return e;
	return ddm_push(m, DD_SEG_LITERAL, n, off);
}

dd_err dd_manifest_add_source(struct dd_manifest *m, uint64_t src_off,
			      uint64_t len)
{
	if (UINT64_MAX - src_off < len)
		return DD_E_RANGE;
	return ddm_push(m, DD_SEG_SOURCE, len, src_off);
}

dd_err dd_manifest_add_zero(struct dd_manifest *m, uint64_t len)
{
	return ddm_push(m, DD_SEG_ZERO, len, 0);
}

/* ---- REGEN segments ------------------------------------------------------ */

#define DDM_REGEN_HDR 20       /* u32 desc_len + tag[16] */
#define DDM_REGEN_MAX 64       /* registry entries */
#define DDM_REGEN_DESC_MAX (1u << 20) /* descriptor bytes remembered */
#define DDM_REGEN_SLACK 4096

struct ddm_regen_ent {
	uint8_t tag[16];
	dd_manifest_regen_fn fn;
	void *ctx;
	unsigned refs;
};

static pthread_mutex_t ddm_regen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ddm_regen_ent ddm_regen_tab[DDM_REGEN_MAX]; /* ddm_regen_lock */

dd_err dd_manifest_regen_tag(uint8_t tag[16], const char *first, ...)
{
	uint8_t h[32];
	unsigned int len = sizeof(h);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	va_list ap;
	int ok;

	if (!md)
		return DD_E_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	va_start(ap, first);
	for (const char *s = first; s && ok; s = va_arg(ap, const char *))
		ok = EVP_DigestUpdate(md, s, strlen(s));
	va_end(ap);
	ok = ok && EVP_DigestFinal_ex(md, h, &len);
	EVP_MD_CTX_free(md);
	if (!ok)
		return DD_E_NOMEM;
	memcpy(tag, h, 16);
	return DD_OK;
}

dd_err dd_manifest_regen_register(const uint8_t tag[16],
				  dd_manifest_regen_fn fn, void *ctx)
{
	struct ddm_regen_ent *free_ent = NULL;
	dd_err e = DD_OK;

	pthread_mutex_lock(&ddm_regen_lock);
	for (int i = 0; i < DDM_REGEN_MAX; i++) {
		struct ddm_regen_ent *r = &ddm_regen_tab[i];

		if (r->refs && r->fn == fn && r->ctx == ctx &&
		    !memcmp(r->tag, tag, 16)) {
			r->refs++;
			goto out;
		}
		if (!r->refs && !free_ent)
			free_ent = r;
	}
	if (!free_ent) {
		e = DD_E_LIMIT;
		goto out;
	}
	memcpy(free_ent->tag, tag, 16);
	free_ent->fn = fn;
	free_ent->ctx = ctx;
	free_ent->refs = 1;
out:
	pthread_mutex_unlock(&ddm_regen_lock);
	return e;
}

void dd_manifest_regen_unregister(const uint8_t tag[16], void *ctx)
{
	pthread_mutex_lock(&ddm_regen_lock);
	for (int i = 0; i < DDM_REGEN_MAX; i++) {
		struct ddm_regen_ent *r = &ddm_regen_tab[i];

		if (r->refs && r->ctx == ctx && !memcmp(r->tag, tag, 16)) {
			r->refs--;
			break;
		}
	}
	pthread_mutex_unlock(&ddm_regen_lock);
}

static bool ddm_regen_find(const uint8_t tag[16], dd_manifest_regen_fn *fn,
			   void **ctx)
{
	bool found = false;

	pthread_mutex_lock(&ddm_regen_lock);
	for (int i = 0; i < DDM_REGEN_MAX && !found; i++) {
		struct ddm_regen_ent *r = &ddm_regen_tab[i];

		if (r->refs && !memcmp(r->tag, tag, 16)) {
			*fn = r->fn;
			*ctx = r->ctx;
			found = true;
		}
	}
	pthread_mutex_unlock(&ddm_regen_lock);
	return found;
}

dd_err dd_manifest_add_regen(struct dd_manifest *m, uint64_t len,
			     const uint8_t tag[16], const void *priv,
			     size_t priv_len)
{
	uint8_t h[DDM_REGEN_HDR];
	size_t off = m->data.len;
	dd_err e;

	if (len == 0)
		return DD_OK;
	if (priv_len > UINT32_MAX - DDM_REGEN_HDR)
		return DD_E_RANGE;
	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)((DDM_REGEN_HDR + priv_len) >> (8 * i));
	memcpy(h + 4, tag, 16);
	e = dd_buf_add(&m->data, h, sizeof(h));
	if (!e && priv_len)
		e = dd_buf_add(&m->data, priv, priv_len);
	if (e)
		return e;
	return ddm_push(m, DD_SEG_REGEN, len, off);
}

/* The last regenerated segment of this thread. */
struct ddm_regen_cache {
	struct stat st;  /* identity of the source it came from */
	uint8_t *desc;   /* owned; a redacted image's holds its boxes */
	size_t desc_len; /* 0: empty */
	size_t desc_cap;
	struct dd_buf out;
};

static void ddm_regen_cache_free(void *p)
{
	struct ddm_regen_cache *c = p;

	dd_buf_free(&c->out);
	free(c->desc);
	free(c);
}

/* calloc's zeroes are an empty out buffer (dd_buf_init(&out, 0)) */
static struct dd_tls ddm_regen_tls =
	DD_TLS_INIT(sizeof(struct ddm_regen_cache), NULL, ddm_regen_cache_free);

static bool ddm_same_source(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* ---- segments shared by all threads ---------------------------------------
 *
 * The kernel reads one file ahead on several daemon threads at once: with
 * only a per-thread memo, each of them would rebuild the same segment (a
 * whole image decode).  The last DDM_SH_N segments rebuilt, up to
 * DDM_SH_BYTES of them (more only while in use), are shared by every
 * thread, keyed like the per-thread memo; a segment being rebuilt is
 * waited for, not rebuilt again.  When every slot is in use, or a segment
 * is larger than the cap, a thread rebuilds into its own memo. */
#define DDM_SH_N 8
#define DDM_SH_BYTES ((size_t)256 << 20)

struct ddm_sh_ent {
	struct stat st;     /* identity of the source */
	uint8_t *desc;      /* owned; NULL: a free slot */
	size_t desc_len;
	uint8_t *data;      /* owned: the segment's bytes once built */
	size_t len;
	unsigned refs;      /* the builder and the readers copying from it */
	bool building;
	dd_err err;         /* the build's result */
	uint64_t stamp;     /* last use */
	unsigned idle;      /* dd_manifest_regen_trim calls since then */
};

static pthread_mutex_t ddm_sh_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ddm_sh_cond = PTHREAD_COND_INITIALIZER;
static struct ddm_sh_ent ddm_sh[DDM_SH_N]; /* all three: ddm_sh_lock */
static uint64_t ddm_sh_clock;
static size_t ddm_sh_bytes;

static void ddm_sh_drop(struct ddm_sh_ent *e) /* lock held, refs 0 */
{
	ddm_sh_bytes -= e->len;
	free(e->desc);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

/* Unused entries go, oldest first, until the bytes are under the cap. */
static void ddm_sh_trim(void) /* lock held */
{
	while (ddm_sh_bytes > DDM_SH_BYTES) {
		struct ddm_sh_ent *old = NULL;

		for (int i = 0; i < DDM_SH_N; i++) {
			struct ddm_sh_ent *e = &ddm_sh[i];

			if (e->desc && !e->refs &&
			    (!old || e->stamp < old->stamp))
				old = e;
		}
		if (!old)
			break;
		ddm_sh_drop(old);
	}
}

/* The entry of (@st, @desc) with a reference taken, built by this call
 * (*@build: the caller builds it and calls ddm_sh_done) or by another
 * thread (waited for).  NULL when no slot is free. */
static struct ddm_sh_ent *ddm_sh_get(const struct stat *st,
				     const uint8_t *desc, size_t dlen,
				     bool *build)
{
	struct ddm_sh_ent *e = NULL, *slot = NULL;

	*build = false;
	pthread_mutex_lock(&ddm_sh_lock);
	for (int i = 0; i < DDM_SH_N && !e; i++) {
		struct ddm_sh_ent *x = &ddm_sh[i];

		if (x->desc && x->desc_len == dlen &&
		    ddm_same_source(&x->st, st) && !memcmp(x->desc, desc, dlen))
			e = x;
	}
	/* else a free slot, or the oldest one nobody holds */
	for (int i = 0; i < DDM_SH_N && !e; i++) {
		struct ddm_sh_ent *x = &ddm_sh[i];

		if (!x->desc) {
			slot = x;
			break;
		}
		if (!x->refs && (!slot || x->stamp < slot->stamp))
			slot = x;
	}
	if (e) {
		e->refs++;
		while (e->building)
			pthread_cond_wait(&ddm_sh_cond, &ddm_sh_lock);
	} else if (slot) {
		if (slot->desc)
			ddm_sh_drop(slot);
		slot->desc = malloc(dlen);
		if (slot->desc) {
			memcpy(slot->desc, desc, dlen);
			slot->desc_len = dlen;
			slot->st = *st;
			slot->building = true;
			slot->refs = 1;
			*build = true;
			e = slot;
		}
	}
	if (e) {
		e->stamp = ++ddm_sh_clock;
		e->idle = 0;
	}
	pthread_mutex_unlock(&ddm_sh_lock);
	return e;
}

size_t dd_manifest_regen_trim(unsigned idle)
{
	size_t freed = 0;

	pthread_mutex_lock(&ddm_sh_lock);
	for (int i = 0; i < DDM_SH_N; i++) {
		struct ddm_sh_ent *e = &ddm_sh[i];

		if (!e->desc || e->refs)
			continue;
		if (++e->idle < idle && idle)
			continue;
		freed += e->len;
		ddm_sh_drop(e);
	}
	pthread_mutex_unlock(&ddm_sh_lock);
	return freed;
}

/* The build of @e ended with @err; its bytes are taken from @out. */
static void ddm_sh_done(struct ddm_sh_ent *e, dd_err err, struct dd_buf *out)
{
	pthread_mutex_lock(&ddm_sh_lock);
	e->building = false;
	e->err = err;
	if (!err) {
		e->data = dd_buf_steal(out, &e->len);
		if (!e->data)
			e->err = DD_E_NOMEM;
		ddm_sh_bytes += e->len;
	}
	pthread_cond_broadcast(&ddm_sh_cond);
	ddm_sh_trim();
	pthread_mutex_unlock(&ddm_sh_lock);
}

static void ddm_sh_put(struct ddm_sh_ent *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&ddm_sh_lock);
	e->refs--;
	if (!e->refs && e->err)
		ddm_sh_drop(e); /* a failed build is not kept */
	else if (!e->refs)
		ddm_sh_trim();
	pthread_mutex_unlock(&ddm_sh_lock);
}

/* REGEN segment @s through the shared entries: false when it cannot be
 * shared (the caller uses its own memo); else *@err, and on success *@p
 * and *@held (release with ddm_sh_put after copying). */
static bool ddm_sh_regen(const struct dd_manifest *m, const struct dd_seg *s,
			 int src_fd, dd_manifest_regen_fn fn, void *ctx,
			 const struct stat *st, const uint8_t **p,
			 struct ddm_sh_ent **held, dd_err *err)
{
	const uint8_t *desc = m->data.data + s->offset;
	uint32_t dlen = get_u32_le(desc);
	struct ddm_sh_ent *e;
	bool build;

	if (dlen > DDM_REGEN_DESC_MAX || s->len > DDM_SH_BYTES)
		return false;
	e = ddm_sh_get(st, desc, dlen, &build);
	if (!e)
		return false;
	if (build) {
		struct dd_buf out;
		dd_err be;

		dd_buf_init(&out, (size_t)s->len + DDM_REGEN_SLACK);
		be = fn(ctx, src_fd, m, desc, dlen, &out);
		if (!be && out.len != s->len)
			be = DD_E_CHANGED;
		ddm_sh_done(e, be, &out);
		dd_buf_free(&out);
	}
	/* built: data, len and err stay as they are while we hold it */
	*err = e->err ? e->err : e->len != s->len ? DD_E_CHANGED : DD_OK;
	if (*err) {
		ddm_sh_put(e);
		return true;
	}
	*p = e->data;
	*held = e;
	return true;
}

/* The output bytes of REGEN segment @s: shared by all threads, else from
 * this thread's memo, or regenerated.  *p stays valid until
 * ddm_sh_put(*@held) (shared) or the next call on this thread. */
static dd_err ddm_regen_get(const struct dd_manifest *m, const struct dd_seg *s,
			    int src_fd, dd_manifest_regen_fn fn, void *ctx,
			    const uint8_t **p, struct ddm_sh_ent **held)
{
	const uint8_t *desc = m->data.data + s->offset;
	uint32_t dlen = get_u32_le(desc);
	struct ddm_regen_cache *c;
	struct stat st;
	bool have_st;
	dd_err e;

	*held = NULL;
	if (!fn && !ddm_regen_find(desc + 4, &fn, &ctx))
		return DD_E_UNSUPPORTED;
	have_st = fstat(src_fd, &st) == 0;
	if (have_st && ddm_sh_regen(m, s, src_fd, fn, ctx, &st, p, held, &e))
		return e;
	c = dd_tls_get(&ddm_regen_tls);
	if (!c)
		return DD_E_NOMEM;
	if (have_st && c->desc_len && c->desc_len == dlen &&
	    ddm_same_source(&c->st, &st) && !memcmp(c->desc, desc, dlen) &&
	    c->out.len == s->len) {
		*p = c->out.data;
		return DD_OK;
	}
	c->desc_len = 0;
	dd_buf_free(&c->out);
	if (s->len > SIZE_MAX - DDM_REGEN_SLACK)
		return DD_E_LIMIT;
	dd_buf_init(&c->out, (size_t)s->len + DDM_REGEN_SLACK);
	e = fn(ctx, src_fd, m, desc, dlen, &c->out);
	if (!e && c->out.len != s->len)
		e = DD_E_CHANGED;
	if (e) {
		dd_buf_free(&c->out);
		return e;
	}
	if (have_st && dlen <= DDM_REGEN_DESC_MAX && dlen > c->desc_cap) {
		uint8_t *nd = realloc(c->desc, dlen);

		if (nd) {
			c->desc = nd;
			c->desc_cap = dlen;
		}
	}
	if (have_st && dlen <= c->desc_cap) {
		c->st = st;
		memcpy(c->desc, desc, dlen);
		c->desc_len = dlen;
	}
	*p = c->out.data;
	return DD_OK;
}

/* Forget this thread's last regenerated segment (a whole-file writer
 * will not read it again; it may be a large image value). */
static void ddm_regen_forget(void)
{
	struct ddm_regen_cache *c;

	c = dd_tls_peek(&ddm_regen_tls);
	if (c) {
		c->desc_len = 0;
		dd_buf_free(&c->out);
	}
}

/* Index of the segment holding output offset @off (binary search over the
 * running sums would need a prefix array; segment counts are small, so a
 * linear scan with a running offset is used). */
dd_err dd_manifest_read(const struct dd_manifest *m, int src_fd, void *buf,
			size_t n, uint64_t off, size_t *got)
{
	return dd_manifest_read_ex(m, src_fd, buf, n, off, got, NULL, NULL);
}

dd_err dd_manifest_read_ex(const struct dd_manifest *m, int src_fd, void *buf,
			   size_t n, uint64_t off, size_t *got,
			   dd_manifest_regen_fn fn, void *ctx)
{
	uint8_t *out = buf;
	uint64_t pos = 0;
	size_t done = 0;

	*got = 0;
	if (m->reason != DD_REASON_NONE)
		return DD_E_NOT_CLAIMED;
	if (off >= m->size || n == 0)
		return DD_OK;
	if (n > m->size - off)
		n = (size_t)(m->size - off);
	for (uint32_t i = 0; i < m->n_segs && done < n; i++) {
		const struct dd_seg *s = &m->segs[i];
		uint64_t in_seg, take;

		if (off + done >= pos + s->len) {
			pos += s->len;
			continue;
		}
		in_seg = off + done - pos;
		take = s->len - in_seg;
		if (take > n - done)
			take = n - done;
		switch (s->kind) {
		case DD_SEG_LITERAL:
			memcpy(out + done, m->data.data + s->offset + in_seg,
			       (size_t)take);
			break;
		case DD_SEG_ZERO:
			memset(out + done, 0, (size_t)take);
			break;
		case DD_SEG_REGEN: {
			const uint8_t *rp;
			struct ddm_sh_ent *held;
			dd_err e = ddm_regen_get(m, s, src_fd, fn, ctx, &rp,
						 &held);

			if (e)
				return e;
			memcpy(out + done, rp + in_seg, (size_t)take);
			ddm_sh_put(held);
			break;
		}
		case DD_SEG_SOURCE: {
			uint64_t r = 0;

			while (r < take) {
				ssize_t k = pread(src_fd, out + done + r,
						  (size_t)(take - r),
						  (off_t)(s->offset + in_seg + r));
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					return DD_E_IO;
				r += (uint64_t)k;
			}
			break;
		}
		default:
			return DD_E_CORRUPT;
		}
		done += (size_t)take;
		pos += s->len;
	}
	*got = done;
	return DD_OK;
}

dd_err dd_manifest_materialize(const struct dd_manifest *m, int src_fd,
			       struct dd_buf *out)
{
	size_t got;
	dd_err e;

	if (m->reason != DD_REASON_NONE)
		return DD_E_NOT_CLAIMED;
	if (m->size > out->max - out->len)
		return DD_E_LIMIT;
	e = dd_buf_reserve(out, (size_t)m->size);
	if (e)
		return e;
	e = dd_manifest_read(m, src_fd, out->data + out->len, (size_t)m->size,
			     0, &got);
	if (e)
		return e;
	if (got != m->size)
		return DD_E_IO;
	out->len += got;
	out->data[out->len] = 0;
	return DD_OK;
}

static dd_err ddm_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k = write(fd, b, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return DD_E_IO;
		b += k;
		n -= (size_t)k;
	}
	return DD_OK;
}

static dd_err ddm_copy_source(int src_fd, int out_fd, uint64_t off,
			      uint64_t len)
{
	static __thread uint8_t bounce[1 << 16];
	loff_t in_off = (loff_t)off;
	bool try_cfr = true;

	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t k = -1;

		if (try_cfr) {
			k = copy_file_range(src_fd, &in_off, out_fd, NULL,
					    chunk, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				try_cfr = false; /* EXDEV, EINVAL...: fall back */
				continue;
			}
			if (k == 0)
				return DD_E_IO; /* source shrank */
		} else {
			if (chunk > sizeof(bounce))
				chunk = sizeof(bounce);
			k = pread(src_fd, bounce, chunk, in_off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return DD_E_IO;
			if (ddm_write_all(out_fd, bounce, (size_t)k))
				return DD_E_IO;
			in_off += k;
		}
		len -= (uint64_t)k;
	}
	return DD_OK;
}

dd_err dd_manifest_write_fd(const struct dd_manifest *m, int src_fd, int out_fd)
{
	static const uint8_t zeros[4096];
	dd_err e = DD_OK;

	if (m->reason != DD_REASON_NONE)
		return DD_E_NOT_CLAIMED;
	for (uint32_t i = 0; i < m->n_segs && !e; i++) {
		const struct dd_seg *s = &m->segs[i];

		switch (s->kind) {
		case DD_SEG_LITERAL:
			e = ddm_write_all(out_fd, m->data.data + s->offset,
					  (size_t)s->len);
			break;
		case DD_SEG_SOURCE:
			e = ddm_copy_source(src_fd, out_fd, s->offset, s->len);
			break;
		case DD_SEG_REGEN: {
			const uint8_t *rp;
			struct ddm_sh_ent *held;

			e = ddm_regen_get(m, s, src_fd, NULL, NULL, &rp, &held);
			if (!e)
				e = ddm_write_all(out_fd, rp, (size_t)s->len);
			ddm_sh_put(held);
			ddm_regen_forget();
			break;
		}
		case DD_SEG_ZERO:
			for (uint64_t left = s->len; left && !e;) {
				size_t k = left > sizeof(zeros) ? sizeof(zeros)
								 : (size_t)left;
				e = ddm_write_all(out_fd, zeros, k);
				left -= k;
			}
			break;
		default:
			e = DD_E_CORRUPT;
		}
	}
	return e;
}

/* ---- byte form ---------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define DDM_HDR 32
#define DDM_SEG 24

dd_err dd_manifest_encode(const struct dd_manifest *m, struct dd_buf *out)
{
	uint8_t h[DDM_HDR] = {0};
	dd_err e;

	put_u32(h, DDM_MAGIC);
	h[4] = (uint8_t)m->kind;
	h[5] = (uint8_t)m->reason;
	put_u64(h + 8, m->size);
	put_u32(h + 16, m->n_segs);
	put_u64(h + 24, m->data.len);
	e = dd_buf_add(out, h, sizeof(h));
	for (uint32_t i = 0; i < m->n_segs && !e; i++) {
		uint8_t s[DDM_SEG] = {0};

		s[0] = m->segs[i].kind;
		put_u64(s + 8, m->segs[i].len);
		put_u64(s + 16, m->segs[i].offset);
		e = dd_buf_add(out, s, sizeof(s));
	}
	if (!e && m->data.len)
		e = dd_buf_add(out, m->data.data, m->data.len);
	return e;
}

dd_err dd_manifest_decode(const void *p, size_t n, struct dd_manifest *m)
{
	const uint8_t *b = p;
	uint64_t size, data_len, sum = 0;
	uint32_t nseg;
	dd_err e;

	dd_manifest_free(m);
	if (n < DDM_HDR || get_u32(b) != DDM_MAGIC || b[6] || b[7] ||
	    get_u32(b + 20))
		return DD_E_CORRUPT;
	if (b[4] >= DD_KIND_LAST || b[5] >= DD_REASON_LAST)
		return DD_E_CORRUPT;
	size = get_u64(b + 8);
	nseg = get_u32(b + 16);
	data_len = get_u64(b + 24);
	if (nseg > DDM_MAX_SEGS || (n - DDM_HDR) / DDM_SEG < nseg ||
	    data_len != n - DDM_HDR - (size_t)nseg * DDM_SEG)
		return DD_E_CORRUPT;
	if (b[5] != DD_REASON_NONE && (nseg || size || data_len))
		return DD_E_CORRUPT;
	m->kind = (enum dd_kind)b[4];
	m->reason = (enum dd_reason)b[5];
	if (nseg) {
		m->segs = malloc((size_t)nseg * sizeof(*m->segs));
		if (!m->segs)
			return DD_E_NOMEM;
		m->cap_segs = nseg;
	}
	for (uint32_t i = 0; i < nseg; i++) {
		const uint8_t *s = b + DDM_HDR + (size_t)i * DDM_SEG;
		struct dd_seg *d = &m->segs[i];

		d->kind = s[0];
		d->len = get_u64(s + 8);
		d->offset = get_u64(s + 16);
		for (int k = 1; k < 8; k++)
			if (s[k])
				goto out_corrupt;
		if (d->len == 0 || UINT64_MAX - sum < d->len)
			goto out_corrupt;
		if (d->kind == DD_SEG_LITERAL) {
			if (d->offset > data_len || d->len > data_len - d->offset)
				goto out_corrupt;
		} else if (d->kind == DD_SEG_SOURCE) {
			if (UINT64_MAX - d->offset < d->len)
				goto out_corrupt;
		} else if (d->kind == DD_SEG_REGEN) {
			const uint8_t *dp = b + DDM_HDR + (size_t)nseg * DDM_SEG;
			uint32_t dl;

			if (d->offset > data_len || data_len - d->offset < 4)
				goto out_corrupt;
			dl = get_u32(dp + d->offset);
			if (dl < DDM_REGEN_HDR || dl > data_len - d->offset)
				goto out_corrupt;
		} else if (d->kind != DD_SEG_ZERO || d->offset) {
			goto out_corrupt;
		}
		sum += d->len;
		m->n_segs = i + 1;
	}
	if (sum != size)
		goto out_corrupt;
	m->size = size;
	if (data_len) {
		e = dd_buf_add(&m->data, b + DDM_HDR + (size_t)nseg * DDM_SEG,
			       (size_t)data_len);
		if (e) {
			dd_manifest_free(m);
			return e;
		}
	}
	return DD_OK;

out_corrupt:
	dd_manifest_free(m);
	return DD_E_CORRUPT;
}
