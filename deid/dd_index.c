/* dd_index.c: the patient index (see dd_index.h): records, building,
 * the byte form and lookups.  The tree scan and the stored index are in
 * dd_index_scan.c, the DICOM header scan in dd_index_dicom.c.
 *
 * Byte form (little endian), "region":
 *   header, 96 bytes: "DDX2", u32 version 2, u32 k (bucket bits), u32 0,
 *     u64 n (records), u64 people, u64 dicom, u64 rec_len, 16 zero bytes,
 *     digest[32] = SHA-256(header[0..64) || SHA-256(body));
 *   body: records (rec_len bytes), n slots {u64 h, u64 record offset}
 *     sorted by (h, reference), a bucket table of 2^k + 1 entries
 *     {u32 slot, u64 record offset}: the first slot whose h >> (64 - k)
 *     is >= the bucket, and its record (records are in slot order).
 *   record: u32 len (whole record), u8 kind (0 person, 1 DICOM PatientID),
 *     u8 0, u16 ref length, ref, NUL, u16 key length, key, NUL, u16 n,
 *     n x {u8 infoType, u16 length, value, NUL} sorted by (type, value).
 * h is the first 8 bytes of HMAC-SHA256 under a fixed, public key of the
 * reference: collision resistant, so a source cannot pile references
 * into one slot run, and the same on every machine.  k is the smallest
 * with n <= 4 * 2^k.  Every part is a function of the set of records, so
 * the form and the digest are too.
 *
 * Lookups read 2 small ranges with pread (two table entries, then the
 * bucket's records, ~4 of them; a bucket over 4 KiB is searched through
 * its slots instead), or memcpy for an index held in memory; nothing is
 * cached, so memory does not grow with the index and threads share only
 * the read-only fd.
 *
 * Building: records are appended to a buffer; beyond IX_MEM_MAX bytes (an
 * index with a temporary directory) they go to 2^b temporary files by the
 * top b bits of h.  dd_index_finish() then sorts one partition at a time
 * (a partition larger than IX_PART_MAX is split again by the next 4 bits)
 * and writes records, then slots (held in a temporary file) and the table
 * (computed streaming from the slots): partitions in order of their h
 * prefix give the global (h, ref) order.  Per reference, the smallest
 * record (patient key, then values) is kept.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dd_fhir_i.h"
#include "dd_index.h"
#include "dd_hash.h"
#include "dd_index_i.h"
#include "dd_tls.h"

#define IX_HDR 96
#define IX_SLOT 16
#define IX_TAB 12     /* table entry */
#define IX_DIRECT 4096 /* a bucket read whole at most */
#define IX_VERSION 2
#define IX_MEM_MAX (2u << 20)  /* records held in memory before spilling */
#define IX_PART_MAX (4u << 20) /* partition sorted in memory at most */
#define IX_WBUF (16u << 10)    /* write buffer of a temporary file */
#define IX_REC_MAX 16384       /* > 4+4+2*(2+256+1)+2+48*(3+256+1) */
#define IX_KIND_PERSON 0
#define IX_KIND_DICOM 1

/* ---- temporary and output files ---------------------------------------------- */

/* A file written sequentially (buffered) and read with pread, or a
 * memory buffer when fd < 0. */
struct ix_file {
	int fd;
	uint64_t base; /* offset of byte 0 in fd */
	uint64_t size; /* bytes written (buffered ones included) */
	struct dd_buf mem;
	uint8_t *wb;
	size_t wl;
	EVP_MD_CTX *md; /* hash of everything written, when set */
};

static void ix_f_init_mem(struct ix_file *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	dd_buf_init(&f->mem, SIZE_MAX / 2);
}

static dd_err ix_f_flush(struct ix_file *f)
{
	size_t done = 0;

	while (done < f->wl) {
		ssize_t w = pwrite(f->fd, f->wb + done, f->wl - done,
				   (off_t)(f->base + f->size - f->wl + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return DD_E_IO;
		done += (size_t)w;
	}
	f->wl = 0;
	return DD_OK;
}

static dd_err ix_f_put(struct ix_file *f, const void *p, size_t n)
{
	if (f->md)
		EVP_DigestUpdate(f->md, p, n);
	if (f->fd < 0) {
		f->size += n;
		return dd_buf_add(&f->mem, p, n);
	}
	if (!f->wb) {
		f->wb = malloc(IX_WBUF);
		if (!f->wb)
			return DD_E_NOMEM;
	}
	while (n) {
		size_t k = IX_WBUF - f->wl < n ? IX_WBUF - f->wl : n;

		memcpy(f->wb + f->wl, p, k);
		f->wl += k;
		f->size += k;
		p = (const uint8_t *)p + k;
		n -= k;
		if (f->wl == IX_WBUF) {
			dd_err e = ix_f_flush(f);

			if (e)
				return e;
		}
	}
	return DD_OK;
}

/* Read @n bytes at @off (relative to base). */
static dd_err ix_pread(int fd, uint64_t at, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (uint8_t *)buf + done, n - done,
				  (off_t)(at + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return DD_E_IO;
		if (r == 0)
			return DD_E_CORRUPT; /* shorter than its header says */
		done += (size_t)r;
	}
	return DD_OK;
}

static dd_err ix_f_get(struct ix_file *f, uint64_t off, void *buf, size_t n)
{
	if (off > f->size || n > f->size - off)
		return DD_E_CORRUPT;
	if (f->fd < 0) {
		memcpy(buf, f->mem.data + off, n);
		return DD_OK;
	}
	if (f->wl) {
		dd_err e = ix_f_flush(f);

		if (e)
			return e;
	}
	return ix_pread(f->fd, f->base + off, buf, n);
}

static void ix_f_close(struct ix_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->wb);
	f->wb = NULL;
	dd_buf_free(&f->mem);
}

int dd_index_tmpfd(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* no O_TMPFILE here: a named file, unlinked at once */
	if ((size_t)snprintf(path, sizeof(path), "%s/.ddx-XXXXXX", dir) >=
	    sizeof(path))
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	unlink(path);
	if (fchmod(fd, 0600) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the index ---------------------------------------------------------------- */

struct ix_hdr {
	uint32_t k;
	uint64_t n, people, dicom, rec_len;
};

struct dd_index {
	/* building */
	char *tmp_dir;            /* NULL: memory only */
	struct ix_file recs;      /* unspilled records */
	struct ix_file *parts;    /* spilled: 2^part_bits partitions */
	unsigned part_bits;
	struct dd_index *dset;    /* the tree's DICOM PatientIDs so far */
	const struct dd_index *tree; /* a Bundle's index: the tree's */
	struct dd_pseudo pseudo;
	bool has_pseudo;
	size_t n_added;
	/* finished */
	bool finished;
	struct ix_file out;       /* the byte form (fd or memory) */
	struct ix_hdr h;
	char digest[65];
	uint64_t serial;          /* unique per dd_index_new (table cache key) */
};

static _Atomic uint64_t ix_serial; /* the last index's serial */

static pthread_once_t ix_once = PTHREAD_ONCE_INIT;
static struct dd_pseudo ix_hkey;

static void ix_hkey_init(void)
{
	static const uint8_t k[32] = "deidfs patient index hash v2....";

	dd_pseudo_init(&ix_hkey, k, sizeof(k));
}

static uint64_t ix_hash(const char *s, size_t n)
{
	uint8_t mac[32];
	uint64_t h = 0;

	pthread_once(&ix_once, ix_hkey_init);
	dd_pseudo_mac(&ix_hkey, DD_DOM_FHIR_ID, s, n, mac);
	for (int i = 0; i < 8; i++)
		h = (h << 8) | mac[i];
	return h;
}

static void ix_put16(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void ix_put32(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void ix_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t ix_get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t ix_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t ix_get64(const uint8_t *p)
{
	return (uint64_t)ix_get32(p) | (uint64_t)ix_get32(p + 4) << 32;
}

bool dd_index_is_person(const char *rt)
{
	/* every resource asks: most are neither 'P' nor 'R' */
	if (!rt || (rt[0] != 'P' && rt[0] != 'R'))
		return false;
	return !strcmp(rt, "Patient") || !strcmp(rt, "Practitioner") ||
	       !strcmp(rt, "RelatedPerson") || !strcmp(rt, "Person");
}

static bool ix_key_is_patient(const char *key)
{
	return strncmp(key, "ref:Practitioner/", 17) &&
	       strncmp(key, "ref:RelatedPerson/", 18) &&
	       strncmp(key, "ref:Person/", 11);
}

bool dd_index_patient_is_patient(const struct dd_index_patient *p)
{
	return p && ix_key_is_patient(p->key);
}

dd_err dd_index_new(struct dd_index **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return DD_E_NOMEM;
	(*out)->serial = atomic_fetch_add(&ix_serial, 1) + 1;
	ix_f_init_mem(&(*out)->recs);
	ix_f_init_mem(&(*out)->out);
	return DD_OK;
}

dd_err dd_index_new_for(const struct dd_index *tree, struct dd_index **out)
{
	dd_err e = dd_index_new(out);

	if (!e)
		(*out)->tree = tree;
	return e;
}

dd_err dd_index_new_tree(const char *tmp_dir, const struct dd_pseudo *pseudo,
			 struct dd_index **out)
{
	dd_err e = dd_index_new(out);

	if (e)
		return e;
	if (pseudo) {
		(*out)->pseudo = *pseudo;
		(*out)->has_pseudo = true;
	}
	if (tmp_dir) {
		(*out)->tmp_dir = strdup(tmp_dir);
		if (!(*out)->tmp_dir) {
			dd_index_free(*out);
			*out = NULL;
			return DD_E_NOMEM;
		}
	}
	return DD_OK;
}

static void ix_parts_free(struct dd_index *x)
{
	if (x->parts)
		for (size_t i = 0; i < ((size_t)1 << x->part_bits); i++)
			ix_f_close(&x->parts[i]);
	free(x->parts);
	x->parts = NULL;
}

void dd_index_free(struct dd_index *x)
{
	if (!x)
		return;
	ix_parts_free(x);
	ix_f_close(&x->recs);
	ix_f_close(&x->out);
	dd_index_free(x->dset);
	dd_pseudo_clear(&x->pseudo);
	free(x->tmp_dir);
	free(x);
}

/* ---- references ------------------------------------------------------------- */

static bool ix_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

size_t dd_index_ref_norm(const char *ref, size_t len, char *out, size_t outlen)
{
	const char *c[4];
	size_t cl[4], nc = 0, end = len;

	if (!ref || len == 0 || outlen == 0 || memchr(ref, 0, len))
		return 0;
	if ((ref[0] == 'u' || ref[0] == 'U') &&
	    ((len > 9 && !strncasecmp(ref, "urn:uuid:", 9)) ||
	     (len > 8 && !strncasecmp(ref, "urn:oid:", 8)))) {
		if (len >= outlen)
			return 0;
		for (size_t i = 0; i < len; i++)
			out[i] = (char)(i < 9 ? tolower((unsigned char)ref[i])
					      : ref[i]);
		/* uuids compare case-insensitively */
		if (!strncasecmp(ref, "urn:uuid:", 9))
			for (size_t i = 9; i < len; i++)
				out[i] = (char)tolower((unsigned char)ref[i]);
		out[len] = 0;
		return len;
	}
	if (ref[0] == '#' || memchr(ref, '?', len))
		return 0;
	while (nc < 4 && end > 0) {
		size_t st = end;

		while (st > 0 && ref[st - 1] != '/')
			st--;
		c[nc] = ref + st;
		cl[nc] = end - st;
		nc++;
		if (st == 0)
			break;
		end = st - 1;
	}
	for (size_t k = 0; k + 1 < nc; k += 2) {
		if (k == 2 && !(cl[1] == 8 && !memcmp(c[1], "_history", 8)))
			break;
		if (cl[k + 1] >= 64 || !ix_id_ok(c[k], cl[k]))
			continue;
		if (!dd_fhir_resource_type_n(c[k + 1], cl[k + 1]))
			continue;
		if (cl[k + 1] + 1 + cl[k] + 1 > outlen)
			return 0;
		memcpy(out, c[k + 1], cl[k + 1]);
		out[cl[k + 1]] = '/';
		memcpy(out + cl[k + 1] + 1, c[k], cl[k]);
		out[cl[k + 1] + 1 + cl[k]] = 0;
		return cl[k + 1] + 1 + cl[k];
	}
	return 0;
}

/* Can the index hold this normalised reference?  Only people and
 * urn: references are added, so other types need no read. */
static bool ix_ref_may_be_person(const char *norm)
{
	const char *slash = strchr(norm, '/');
	char t[16];
	size_t n;

	if (!strncmp(norm, "urn:", 4))
		return true;
	if (!slash || (n = (size_t)(slash - norm)) >= sizeof(t))
		return false;
	memcpy(t, norm, n);
	t[n] = 0;
	return dd_index_is_person(t);
}

/* ---- records ----------------------------------------------------------------- */

struct ix_vals {
	struct dd_index_value v[DD_INDEX_MAX_VALUES];
	size_t n, used;
	/* copies: the collector hands out temporary strings */
	char store[DD_INDEX_MAX_VALUES * (DD_INDEX_VALUE_MAX + 1)];
};

struct ix_rec {
	uint8_t kind;
	const char *ref, *key;
	size_t rl, kl, nv;
	const uint8_t *vals; /* the n value entries */
	size_t vals_len;
	const uint8_t *raw;  /* the record's bytes, as parsed */
	size_t raw_len;
};

/* Does @p[0..n) hold a NUL?  Inline: a lookup parses every record of its
 * bucket, each with a dozen short strings (memchr was a call each). */
static inline bool ix_has_nul(const uint8_t *p, size_t n)
{
	uint64_t x;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&x, p, 8);
		if ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull)
			return true;
	}
	for (; n; p++, n--)
		if (!*p)
			return true;
	return false;
}

/* Parse the record @r of @len bytes (its own u32 length included); every
 * length checked. */
static bool ix_rec_parse(const uint8_t *r, size_t len, struct ix_rec *o)
{
	size_t at = 8;

	if (len < 8 + 3 + 3 + 2 || ix_get32(r) != len || r[4] > 1 || r[5])
		return false;
	o->raw = r;
	o->raw_len = len;
	o->kind = r[4];
	o->rl = ix_get16(r + 6);
	if (o->rl == 0 || len - at < o->rl + 1 + 2 || r[at + o->rl] ||
	    ix_has_nul(r + at, o->rl))
		return false;
	o->ref = (const char *)r + at;
	at += o->rl + 1;
	o->kl = ix_get16(r + at);
	at += 2;
	if (len - at < o->kl + 1 + 2 || r[at + o->kl] ||
	    ix_has_nul(r + at, o->kl))
		return false;
	o->key = (const char *)r + at;
	at += o->kl + 1;
	o->nv = ix_get16(r + at);
	at += 2;
	if (o->nv > DD_INDEX_MAX_VALUES)
		return false;
	o->vals = r + at;
	for (size_t i = 0; i < o->nv; i++) {
		size_t vl;

		if (len - at < 3 || r[at] >= DD_IT_LAST)
			return false;
		vl = ix_get16(r + at + 1);
		at += 3;
		if (vl > DD_INDEX_VALUE_MAX || len - at < vl + 1 || r[at + vl] ||
		    ix_has_nul(r + at, vl))
			return false;
		at += vl + 1;
	}
	o->vals_len = (size_t)(r + at - o->vals);
	return at == len;
}

/* The malloc'd patient of a parsed record. */
static dd_err ix_rec_patient(const struct ix_rec *r,
			     struct dd_index_patient **out)
{
	size_t sz = sizeof(**out) + r->nv * sizeof(struct dd_index_value) +
		    r->kl + 1 + r->vals_len;
	struct dd_index_patient *p = malloc(sz);
	struct dd_index_value *v;
	char *s;
	const uint8_t *q = r->vals;

	*out = NULL;
	if (!p)
		return DD_E_NOMEM;
	v = (struct dd_index_value *)(p + 1);
	s = (char *)(v + r->nv);
	memcpy(s, r->key, r->kl + 1);
	p->key = s;
	s += r->kl + 1;
	for (size_t i = 0; i < r->nv; i++) {
		size_t vl = ix_get16(q + 1);

		v[i].type = (enum dd_info_type)q[0];
		memcpy(s, q + 3, vl + 1);
		v[i].s = s;
		s += vl + 1;
		q += 3 + vl + 1;
	}
	p->values = v;
	p->n_values = r->nv;
	*out = p;
	return DD_OK;
}

static int ix_val_cmp(const void *va, const void *vb)
{
	const struct dd_index_value *a = va, *b = vb;

	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->s, b->s);
}

static bool ix_dicom_ref(const struct dd_index *x, const char *key, size_t kl,
			 char out[6 + 64 + 1]);
static dd_err ix_spill(struct dd_index *x);
static dd_err ix_part_put(struct dd_index *x, const uint8_t *rec, size_t n);

/* Append the record (kind, ref, key, values) to the builder. */
static dd_err ix_put(struct dd_index *x, uint8_t kind, const char *ref,
		     const char *key, const struct ix_vals *v)
{
	uint8_t rec[8 + IX_REC_MAX];
	size_t rl = strlen(ref), kl = strlen(key), at = 16;

	if (x->finished)
		return DD_E_INVAL;
	if (rl == 0 || rl > DD_INDEX_KEY_MAX || kl > DD_INDEX_KEY_MAX)
		return DD_OK;
	ix_put64(rec, ix_hash(ref, rl));
	rec[12] = kind;
	rec[13] = 0;
	ix_put16(rec + 14, rl);
	memcpy(rec + at, ref, rl + 1);
	at += rl + 1;
	ix_put16(rec + at, kl);
	memcpy(rec + at + 2, key, kl + 1);
	at += 2 + kl + 1;
	ix_put16(rec + at, v ? v->n : 0);
	at += 2;
	for (size_t i = 0; v && i < v->n; i++) {
		size_t vl = strlen(v->v[i].s);

		rec[at] = (uint8_t)v->v[i].type;
		ix_put16(rec + at + 1, vl);
		memcpy(rec + at + 3, v->v[i].s, vl + 1);
		at += 3 + vl + 1;
	}
	ix_put32(rec + 8, at - 8);
	if (x->parts)
		return ix_part_put(x, rec, at);
	if (x->tmp_dir && x->recs.size + at > IX_MEM_MAX) {
		dd_err e = ix_spill(x);

		if (e)
			return e;
		return ix_part_put(x, rec, at);
	}
	return ix_f_put(&x->recs, rec, at);
}

/* ---- building -------------------------------------------------------------- */

static void ix_add_value(void *ctx, enum dd_info_type t, const char *s)
{
	struct ix_vals *v = ctx;
	size_t n = strlen(s);

	if (n < 2 || n > DD_INDEX_VALUE_MAX || v->n >= DD_INDEX_MAX_VALUES)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].type == t && !strcmp(v->v[i].s, s))
			return;
	memcpy(v->store + v->used, s, n + 1);
	v->v[v->n].type = t;
	v->v[v->n].s = v->store + v->used;
	v->used += n + 1;
	v->n++;
}

dd_err dd_index_add_patient(struct dd_index *x, const struct dd_policy *pol,
			    struct json_object *patient, const char *full_url)
{
	struct json_object *v;
	const char *rt, *id = NULL;
	char key[DD_INDEX_KEY_MAX], ref[128], norm[DD_INDEX_KEY_MAX];
	struct ix_vals vals;
	dd_err e = DD_OK;

	if (!json_object_is_type(patient, json_type_object) ||
	    !json_object_object_get_ex(patient, "resourceType", &v) ||
	    !json_object_is_type(v, json_type_string))
		return DD_OK;
	rt = json_object_get_string(v);
	if (!dd_index_is_person(rt))
		return DD_OK;
	if (json_object_object_get_ex(patient, "id", &v) &&
	    json_object_is_type(v, json_type_string))
		id = json_object_get_string(v);
	key[0] = 0;
	if (!strcmp(rt, "Patient")) {
		if (dd_fhir_patient_key(pol, patient, x->tree ? x->tree : x,
					NULL, key, sizeof(key)) == 0 &&
		    !full_url)
			return DD_OK;
	} else if (id) {
		snprintf(key, sizeof(key), "ref:%s/%s", rt, id);
	}
	if (!key[0] || (!id && !full_url))
		return DD_OK;
	if (x->dset && !x->tree && dd_index_dicom_has(x->dset, key, strlen(key))) {
		/* a PatientID some Patient links by: kept in the index.  The
		 * others are not, so a DICOM file no FHIR Patient names does
		 * not change the digest (part of every file's cache key) */
		char dref[71];

		if (ix_dicom_ref(x, key, strlen(key), dref)) {
			e = ix_put(x, IX_KIND_DICOM, dref, "", NULL);
			if (e)
				return e;
		}
	}
	/* sorted, the values are canonical */
	vals.n = 0;
	vals.used = 0;
	dd_fhir_collect_values(patient, ix_add_value, &vals);
	if (vals.n)
		qsort(vals.v, vals.n, sizeof(vals.v[0]), ix_val_cmp);
	x->n_added++;
	if (id && snprintf(ref, sizeof(ref), "%s/%s", rt, id) < (int)sizeof(ref) &&
	    dd_index_ref_norm(ref, strlen(ref), norm, sizeof(norm)))
		e = ix_put(x, IX_KIND_PERSON, norm, key, &vals);
	if (!e && full_url &&
	    dd_index_ref_norm(full_url, strlen(full_url), norm, sizeof(norm)))
		e = ix_put(x, IX_KIND_PERSON, norm, key, &vals);
	return e;
}

dd_err dd_index_add_tree(struct dd_index *x, const struct dd_policy *pol,
			 struct json_object *res)
{
	struct json_object *v, *entries;
	const char *rt;
	dd_err e = DD_OK;

	if (!json_object_is_type(res, json_type_object) ||
	    !json_object_object_get_ex(res, "resourceType", &v) ||
	    !json_object_is_type(v, json_type_string))
		return DD_OK;
	rt = json_object_get_string(v);
	if (dd_index_is_person(rt))
		return dd_index_add_patient(x, pol, res, NULL);
	if (strcmp(rt, "Bundle") ||
	    !json_object_object_get_ex(res, "entry", &entries) ||
	    !json_object_is_type(entries, json_type_array))
		return DD_OK;
	for (size_t i = 0; i < json_object_array_length(entries) && !e; i++) {
		struct json_object *en = json_object_array_get_idx(entries, i);
		struct json_object *r, *fu;
		const char *full = NULL;

		if (!json_object_object_get_ex(en, "resource", &r))
			continue;
		if (json_object_object_get_ex(en, "fullUrl", &fu) &&
		    json_object_is_type(fu, json_type_string))
			full = json_object_get_string(fu);
		if (json_object_object_get_ex(r, "resourceType", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    dd_index_is_person(json_object_get_string(v)))
			e = dd_index_add_patient(x, pol, r, full);
		else
			e = dd_index_add_tree(x, pol, r);
	}
	return e;
}

dd_err dd_index_add_file(struct dd_index *x, const struct dd_policy *pol,
			 int fd, uint64_t size, bool ndjson)
{
	return dd_fhir_index_source(pol, fd, size, ndjson, x);
}

/* The record name of a DICOM PatientID key: "dicom:" and the hex of its
 * keyed hash; the value itself is never stored. */
static bool ix_dicom_ref(const struct dd_index *x, const char *key, size_t kl,
			 char out[6 + 64 + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[32], in[10 + DD_INDEX_KEY_MAX];

	if (!x->has_pseudo || kl == 0 || kl > DD_INDEX_KEY_MAX)
		return false;
	memcpy(in, "dicom-pid|", 10);
	memcpy(in + 10, key, kl);
	dd_pseudo_mac(&x->pseudo, DD_DOM_PATIENT, in, 10 + kl, mac);
	memcpy(out, "dicom:", 6);
	for (int i = 0; i < 32; i++) {
		out[6 + 2 * i] = hex[mac[i] >> 4];
		out[7 + 2 * i] = hex[mac[i] & 15];
	}
	out[70] = 0;
	return true;
}

dd_err dd_index_add_dicom_key(struct dd_index *x, const char *key, size_t kl)
{
	char ref[71];
	dd_err e;

	if (!ix_dicom_ref(x, key, kl, ref))
		return DD_OK;
	if (!x->dset) {
		e = dd_index_new_tree(x->tmp_dir, &x->pseudo, &x->dset);
		if (e)
			return e;
	}
	return ix_put(x->dset, IX_KIND_DICOM, ref, "", NULL);
}

dd_err dd_index_dicom_done(struct dd_index *x)
{
	return x->dset ? dd_index_finish(x->dset) : DD_OK;
}

size_t dd_index_n_added(const struct dd_index *x)
{
	return x ? x->n_added : 0;
}

/* ---- partitions ---------------------------------------------------------------- */

static dd_err ix_part_put(struct dd_index *x, const uint8_t *rec, size_t n)
{
	uint64_t h = ix_get64(rec);
	struct ix_file *f = &x->parts[x->part_bits ? h >> (64 - x->part_bits) : 0];

	if (f->fd < 0) {
		f->fd = dd_index_tmpfd(x->tmp_dir);
		if (f->fd < 0)
			return DD_E_IO;
	}
	return ix_f_put(f, rec, n);
}

/* Move the buffered records into 2^b temporary files. */
static dd_err ix_spill(struct dd_index *x)
{
	size_t np;
	uint64_t at = 0;
	dd_err e = DD_OK;

	if (mkdir(x->tmp_dir, 0700) < 0 && errno != EEXIST)
		return DD_E_IO;
	/* ~20 times what is held now: partitions of ~1/10 of IX_PART_MAX;
	 * a larger one is split again when sorted */
	x->part_bits = 5;
	np = (size_t)1 << x->part_bits;
	x->parts = calloc(np, sizeof(*x->parts));
	if (!x->parts)
		return DD_E_NOMEM;
	for (size_t i = 0; i < np; i++) {
		x->parts[i].fd = -1;
		dd_buf_init(&x->parts[i].mem, 0);
	}
	while (!e && at < x->recs.size) {
		size_t n = 8 + ix_get32(x->recs.mem.data + at + 8);

		e = ix_part_put(x, x->recs.mem.data + at, n);
		at += n;
	}
	ix_f_close(&x->recs);
	ix_f_init_mem(&x->recs);
	return e;
}

struct ix_emit {
	struct ix_file *out;   /* records (then slots and table) */
	struct ix_file slots;  /* slots, until copied after the records */
	uint64_t rec0;         /* out->size where records start */
	uint64_t n, people, dicom;
	bool have_last;
	uint64_t last_h;
	char last_ref[DD_INDEX_KEY_MAX + 1];
};

static int ix_tmp_cmp(const void *va, const void *vb, void *ctx)
{
	const uint8_t *base = ctx;
	const uint8_t *a = base + *(const uint64_t *)va;
	const uint8_t *b = base + *(const uint64_t *)vb;
	uint64_t ha = ix_get64(a), hb = ix_get64(b);
	struct ix_rec ra, rb;
	int c;

	if (ha != hb)
		return ha < hb ? -1 : 1;
	/* both were written by ix_put: they parse */
	ix_rec_parse(a + 8, ix_get32(a + 8), &ra);
	ix_rec_parse(b + 8, ix_get32(b + 8), &rb);
	if ((c = strcmp(ra.ref, rb.ref)))
		return c;
	if (ra.kind != rb.kind)
		return ra.kind < rb.kind ? -1 : 1;
	if ((c = strcmp(ra.key, rb.key)))
		return c;
	if (ra.nv != rb.nv)
		return ra.nv < rb.nv ? -1 : 1;
	c = memcmp(ra.vals, rb.vals,
		   ra.vals_len < rb.vals_len ? ra.vals_len : rb.vals_len);
	if (c)
		return c;
	return ra.vals_len < rb.vals_len ? -1 : ra.vals_len > rb.vals_len;
}

/* Sort the records of @buf (@n bytes) and emit one per reference. */
static dd_err ix_sort_emit(struct ix_emit *em, uint8_t *buf, size_t n)
{
	uint64_t *off = NULL, cnt = 0, at = 0;
	dd_err e = DD_OK;

	while (at < n) {
		size_t rl;

		if (n - at < 12 || (rl = ix_get32(buf + at + 8)) < 12 ||
		    rl > n - at - 8)
			return DD_E_CORRUPT;
		at += 8 + rl;
		cnt++;
	}
	off = malloc((cnt + 1) * sizeof(*off));
	if (!off)
		return DD_E_NOMEM;
	at = 0;
	for (uint64_t i = 0; i < cnt; i++) {
		struct ix_rec r;

		off[i] = at;
		if (!ix_rec_parse(buf + at + 8, ix_get32(buf + at + 8), &r)) {
			free(off);
			return DD_E_CORRUPT;
		}
		at += 8 + ix_get32(buf + at + 8);
	}
	if (cnt > 1)
		qsort_r(off, cnt, sizeof(*off), ix_tmp_cmp, buf);
	for (uint64_t i = 0; i < cnt && !e; i++) {
		const uint8_t *t = buf + off[i];
		uint64_t h = ix_get64(t);
		struct ix_rec r;
		uint8_t slot[IX_SLOT];

		ix_rec_parse(t + 8, ix_get32(t + 8), &r);
		if (em->have_last && em->last_h == h &&
		    !strcmp(em->last_ref, r.ref))
			continue; /* a larger claim on the same reference */
		em->have_last = true;
		em->last_h = h;
		memcpy(em->last_ref, r.ref, r.rl + 1);
		if (em->n >= UINT32_MAX - 1) {
			e = DD_E_RANGE;
			break;
		}
		ix_put64(slot, h);
		ix_put64(slot + 8, em->out->size - em->rec0);
		e = ix_f_put(em->out, t + 8, ix_get32(t + 8));
		if (!e)
			e = ix_f_put(&em->slots, slot, sizeof(slot));
		em->n++;
		if (r.kind == IX_KIND_DICOM)
			em->dicom++;
		else if (strncmp(r.ref, "urn:", 4))
			em->people++;
	}
	free(off);
	return e;
}

/* Sort and emit the partition @f, whose records share their top @bits
 * bits of h; split by the next 4 bits when too large to sort at once. */
static dd_err ix_part_emit(struct dd_index *x, struct ix_emit *em,
			   struct ix_file *f, unsigned bits)
{
	struct ix_file sub[16];
	uint64_t at = 0;
	uint8_t *buf;
	dd_err e = DD_OK;

	if (f->size == 0)
		return DD_OK;
	if (f->size <= IX_PART_MAX || bits + 4 > 64 || f->fd < 0) {
		if (f->fd < 0)
			return ix_sort_emit(em, f->mem.data, f->size);
		buf = malloc(f->size);
		if (!buf)
			return DD_E_NOMEM;
		e = ix_f_get(f, 0, buf, f->size);
		if (!e)
			e = ix_sort_emit(em, buf, f->size);
		free(buf);
		return e;
	}
	for (int i = 0; i < 16; i++) {
		memset(&sub[i], 0, sizeof(sub[i]));
		sub[i].fd = -1;
		dd_buf_init(&sub[i].mem, 0);
	}
	buf = malloc(8 + IX_REC_MAX);
	if (!buf)
		return DD_E_NOMEM;
	while (!e && at < f->size) {
		uint64_t h;
		size_t rl;
		struct ix_file *s;

		e = ix_f_get(f, at, buf, 12);
		if (e)
			break;
		rl = ix_get32(buf + 8);
		if (rl < 12 || rl > IX_REC_MAX) {
			e = DD_E_CORRUPT;
			break;
		}
		e = ix_f_get(f, at + 12, buf + 12, rl - 4);
		if (e)
			break;
		h = ix_get64(buf);
		s = &sub[(h >> (64 - bits - 4)) & 15];
		if (s->fd < 0 && (s->fd = dd_index_tmpfd(x->tmp_dir)) < 0)
			e = DD_E_IO;
		if (!e)
			e = ix_f_put(s, buf, 8 + rl);
		at += 8 + rl;
	}
	free(buf);
	for (int i = 0; i < 16 && !e; i++) {
		e = ix_part_emit(x, em, &sub[i], bits + 4);
		ix_f_close(&sub[i]);
	}
	for (int i = 0; i < 16; i++)
		ix_f_close(&sub[i]);
	return e;
}

static unsigned ix_bits_for(uint64_t n)
{
	unsigned k = 0;

	while (k < 30 && ((uint64_t)4 << k) < n)
		k++;
	return k;
}

static uint64_t ix_bucket(uint64_t h, unsigned k)
{
	return k ? h >> (64 - k) : 0;
}

static void ix_hex(const uint8_t *h, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * n] = 0;
}

static void ix_hdr_encode(const struct ix_hdr *h, uint8_t out[64])
{
	memset(out, 0, 64);
	memcpy(out, "DDX2", 4);
	ix_put32(out + 4, IX_VERSION);
	ix_put32(out + 8, h->k);
	ix_put64(out + 16, h->n);
	ix_put64(out + 24, h->people);
	ix_put64(out + 32, h->dicom);
	ix_put64(out + 40, h->rec_len);
}

static void ix_digest(const uint8_t hdr[64], const uint8_t body[32],
		      uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned l = 32;

	memset(out, 0, 32);
	if (!md)
		return;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, hdr, 64);
	EVP_DigestUpdate(md, body, 32);
	EVP_DigestFinal_ex(md, out, &l);
	EVP_MD_CTX_free(md);
}

static dd_err ix_tab_put(struct ix_file *out, uint64_t slot, uint64_t rec)
{
	uint8_t t[IX_TAB];

	ix_put32(t, slot);
	ix_put64(t + 4, rec);
	return ix_f_put(out, t, sizeof(t));
}

/* Slots, then the table (streaming over the slots). */
static dd_err ix_write_tail(struct ix_emit *em, unsigned k, uint64_t rec_len)
{
	uint8_t buf[IX_SLOT * 256];
	uint64_t next_b = 0, nb = (uint64_t)1 << k;
	dd_err e = DD_OK;

	for (int pass = 0; pass < 2 && !e; pass++) {
		for (uint64_t i = 0; i < em->n && !e;) {
			size_t c = em->n - i < 256 ? (size_t)(em->n - i) : 256;

			e = ix_f_get(&em->slots, i * IX_SLOT, buf, c * IX_SLOT);
			if (e)
				break;
			if (pass == 0) {
				e = ix_f_put(em->out, buf, c * IX_SLOT);
				i += c;
				continue;
			}
			for (size_t j = 0; j < c && !e; j++) {
				const uint8_t *sl = buf + j * IX_SLOT;
				uint64_t b = ix_bucket(ix_get64(sl), k);

				while (!e && next_b <= b) {
					e = ix_tab_put(em->out, i + j,
						       ix_get64(sl + 8));
					next_b++;
				}
			}
			i += c;
		}
	}
	while (!e && next_b <= nb) {
		e = ix_tab_put(em->out, em->n, rec_len);
		next_b++;
	}
	return e;
}

dd_err dd_index_finish_to(struct dd_index *x, int fd, uint64_t base)
{
	struct ix_emit em = {0};
	uint8_t hdr[IX_HDR], body[32];
	unsigned l = 32;
	dd_err e = DD_OK;

	if (x->finished)
		return DD_OK;
	if (x->dset) {
		e = dd_index_finish(x->dset);
		if (e)
			return e;
	}
	ix_f_close(&x->out);
	ix_f_init_mem(&x->out);
	if (fd >= 0) {
		x->out.fd = fd;
		x->out.base = base;
	}
	em.out = &x->out;
	if (x->parts) {
		em.slots.fd = dd_index_tmpfd(x->tmp_dir);
		if (em.slots.fd < 0)
			return DD_E_IO;
	} else {
		ix_f_init_mem(&em.slots);
	}
	memset(hdr, 0, sizeof(hdr));
	e = ix_f_put(&x->out, hdr, IX_HDR); /* rewritten at the end */
	x->out.md = EVP_MD_CTX_new();
	if (!x->out.md)
		e = DD_E_NOMEM;
	else
		EVP_DigestInit_ex(x->out.md, EVP_sha256(), NULL);
	em.rec0 = x->out.size;
	if (!e && x->parts) {
		for (size_t i = 0; i < ((size_t)1 << x->part_bits) && !e; i++) {
			e = ix_part_emit(x, &em, &x->parts[i], x->part_bits);
			ix_f_close(&x->parts[i]);
		}
		ix_parts_free(x);
	} else if (!e) {
		e = ix_sort_emit(&em, x->recs.mem.data, x->recs.size);
	}
	ix_f_close(&x->recs);
	ix_f_init_mem(&x->recs);
	x->h.rec_len = x->out.size - em.rec0;
	x->h.n = em.n;
	x->h.people = em.people;
	x->h.dicom = em.dicom;
	x->h.k = ix_bits_for(em.n);
	if (!e)
		e = ix_write_tail(&em, x->h.k, x->h.rec_len);
	ix_f_close(&em.slots);
	if (x->out.md) {
		EVP_DigestFinal_ex(x->out.md, body, &l);
		EVP_MD_CTX_free(x->out.md);
		x->out.md = NULL;
	}
	if (!e && x->out.fd >= 0)
		e = ix_f_flush(&x->out);
	if (e) {
		if (fd >= 0)
			x->out.fd = -1; /* the caller's */
		return e;
	}
	ix_hdr_encode(&x->h, hdr);
	ix_digest(hdr, body, hdr + 64);
	if (x->out.fd >= 0) {
		if (pwrite(x->out.fd, hdr, IX_HDR, (off_t)base) != IX_HDR) {
			x->out.fd = -1;
			return DD_E_IO;
		}
	} else {
		memcpy(x->out.mem.data, hdr, IX_HDR);
	}
	x->digest[0] = 0;
	if (em.n)
		ix_hex(hdr + 64, 32, x->digest);
	x->finished = true;
	return DD_OK;
}

dd_err dd_index_finish(struct dd_index *x)
{
	int fd = -1;
	dd_err e;

	if (x->finished)
		return DD_OK;
	if (x->parts) {
		/* a tree's index: the finished form in an unlinked file too */
		fd = dd_index_tmpfd(x->tmp_dir);
		if (fd < 0)
			return DD_E_IO;
	}
	e = dd_index_finish_to(x, fd, 0);
	if (e && fd >= 0 && x->out.fd != fd)
		close(fd);
	return e;
}

/* ---- reading ------------------------------------------------------------------ */

static dd_err ix_rd(const struct dd_index *x, uint64_t off, void *buf, size_t n)
{
	uint64_t total = x->out.size;

	if (off > total || n > total - off)
		return DD_E_CORRUPT;
	if (x->out.fd < 0) {
		memcpy(buf, x->out.mem.data + off, n);
		return DD_OK;
	}
	return ix_pread(x->out.fd, x->out.base + off, buf, n);
}

static uint64_t ix_slots_off(const struct dd_index *x)
{
	return IX_HDR + x->h.rec_len;
}

static uint64_t ix_table_off(const struct dd_index *x)
{
	return ix_slots_off(x) + x->h.n * IX_SLOT;
}

/* Read the record at @off (relative to the records) into @buf. */
static dd_err ix_rd_rec(const struct dd_index *x, uint64_t off, uint8_t *buf,
			struct ix_rec *r)
{
	size_t first, len;
	dd_err e;

	if (off >= x->h.rec_len)
		return DD_E_CORRUPT;
	first = x->h.rec_len - off < 512 ? (size_t)(x->h.rec_len - off) : 512;
	if (first < 4)
		return DD_E_CORRUPT;
	e = ix_rd(x, IX_HDR + off, buf, first);
	if (e)
		return e;
	len = ix_get32(buf);
	if (len > IX_REC_MAX || len > x->h.rec_len - off)
		return DD_E_CORRUPT;
	if (len > first) {
		e = ix_rd(x, IX_HDR + off + first, buf + first, len - first);
		if (e)
			return e;
	}
	return ix_rec_parse(buf, len, r) ? DD_OK : DD_E_CORRUPT;
}

/* ---- the bucket table through a per-thread page cache ---------------------------
 *
 * A lookup in an index file is two preads: two entries of the bucket
 * table, then the bucket.  The table is small (12 bytes per 4 records), so
 * each thread keeps the last IX_TC_PAGES pages of it it read, direct
 * mapped, keyed by the index's serial (never reused, so a freed index's
 * pages never match) and the page number.  The cache has a fixed size:
 * memory still does not grow with the index (a large table just hits
 * less).  The bytes are those of the file, whose digest was checked when
 * it was opened, and they are checked again as before.  Freed when the
 * thread exits.
 */
#define IX_TC_PAGES 16
#define IX_TC_PAGE 4096

struct ix_tc_page {
	uint64_t serial; /* 0: empty */
	uint64_t page;
	size_t len;      /* bytes held (the last page of a file is short) */
	uint8_t data[IX_TC_PAGE];
};

static struct dd_tls ix_tc_tls =
	DD_TLS_INIT(IX_TC_PAGES * sizeof(struct ix_tc_page), NULL, NULL);

/* @n (<= IX_TC_PAGE) table bytes at @off of the region, as ix_rd reads
 * them. */
static dd_err ix_rd_table(const struct dd_index *x, uint64_t off, void *buf,
			  size_t n)
{
	struct ix_tc_page *tc, *pg;
	uint64_t page = off / IX_TC_PAGE, at = off % IX_TC_PAGE;
	dd_err e;

	if (x->out.fd < 0 || at + n > IX_TC_PAGE || off > x->out.size ||
	    n > x->out.size - off)
		return ix_rd(x, off, buf, n);
	tc = dd_tls_get(&ix_tc_tls);
	if (!tc)
		return ix_rd(x, off, buf, n);
	pg = &tc[page % IX_TC_PAGES];
	if (pg->serial != x->serial || pg->page != page) {
		uint64_t start = page * IX_TC_PAGE;
		size_t len = x->out.size - start < IX_TC_PAGE
				     ? (size_t)(x->out.size - start)
				     : IX_TC_PAGE;

		pg->serial = 0;
		e = ix_rd(x, start, pg->data, len);
		if (e)
			return e;
		pg->serial = x->serial;
		pg->page = page;
		pg->len = len;
	}
	if (at + n > pg->len)
		return DD_E_CORRUPT;
	memcpy(buf, pg->data + at, n);
	return DD_OK;
}

/* The record of (@kind, @ref): DD_OK with *found, its parse in @r (its
 * bytes in @buf, IX_REC_MAX). */
static dd_err ix_find(const struct dd_index *x, uint8_t kind, const char *ref,
		      size_t rl, uint8_t *buf, struct ix_rec *r, bool *found)
{
	uint64_t h = ix_hash(ref, rl), b, lo, hi, r0, r1;
	uint8_t t[2 * IX_TAB], sl[IX_SLOT * 32];
	dd_err e;

	*found = false;
	if (!x->finished || x->h.n == 0)
		return DD_OK;
	b = ix_bucket(h, x->h.k);
	e = ix_rd_table(x, ix_table_off(x) + IX_TAB * b, t, sizeof(t));
	if (e)
		return e;
	lo = ix_get32(t);
	r0 = ix_get64(t + 4);
	hi = ix_get32(t + IX_TAB);
	r1 = ix_get64(t + IX_TAB + 4);
	if (lo > hi || hi > x->h.n || r0 > r1 || r1 > x->h.rec_len ||
	    (lo == hi) != (r0 == r1))
		return DD_E_CORRUPT;
	if (lo == hi)
		return DD_OK;
	if (r1 - r0 <= IX_DIRECT) {
		/* the usual case: the bucket's few records in one read */
		uint64_t at = 0, len = r1 - r0;

		e = ix_rd(x, IX_HDR + r0, buf, (size_t)len);
		if (e)
			return e;
		while (at < len) {
			size_t n = len - at >= 4 ? ix_get32(buf + at) : 0;

			if (n == 0 || n > len - at || !ix_rec_parse(buf + at, n, r))
				return DD_E_CORRUPT;
			if (r->kind == kind && r->rl == rl &&
			    !memcmp(r->ref, ref, rl)) {
				*found = true;
				return DD_OK;
			}
			at += n;
		}
		return DD_OK;
	}
	/* a large bucket: lower bound of h in [lo, hi) through the slots */
	while (hi - lo > 32) {
		uint64_t mid = lo + (hi - lo) / 2;

		e = ix_rd(x, ix_slots_off(x) + mid * IX_SLOT, sl, IX_SLOT);
		if (e)
			return e;
		if (ix_get64(sl) < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (;;) {
		uint64_t end, c;

		if (lo >= x->h.n)
			return DD_OK;
		end = x->h.n - lo < 32 ? x->h.n : lo + 32;
		c = end - lo;
		e = ix_rd(x, ix_slots_off(x) + lo * IX_SLOT, sl, c * IX_SLOT);
		if (e)
			return e;
		for (uint64_t i = 0; i < c; i++) {
			uint64_t sh = ix_get64(sl + i * IX_SLOT);

			if (sh < h)
				continue;
			if (sh > h)
				return DD_OK;
			e = ix_rd_rec(x, ix_get64(sl + i * IX_SLOT + 8), buf, r);
			if (e)
				return e;
			if (r->kind == kind && r->rl == rl &&
			    !memcmp(r->ref, ref, rl)) {
				*found = true;
				return DD_OK;
			}
		}
		lo = end;
	}
}

/* ---- the last answers, per thread ---------------------------------------------
 *
 * Bulk NDJSON asks for one patient line after line (the subject of an
 * Observation, then of the next), and a lookup the table cache serves
 * still normalises the reference, hashes it (an HMAC), reads its bucket
 * (a pread) and copies the record out.  Each thread keeps the last
 * IX_MEMO answers (found or not; errors never) of lookups in finished
 * indexes (files, and Bundles' own in memory), direct mapped, keyed by
 * the index's serial (never reused) and the reference as asked (the
 * answer is a function of the two), as the
 * record's own bytes, parsed (ix_rec_parse) when kept: a hit copies them
 * out as a read does (ix_rec_patient), so it gives the same answer.  A
 * record over IX_MEMO_REC bytes or a reference over IX_MEMO_REF is not
 * kept.  Fixed size (about 40 KiB per thread); freed when the thread
 * exits.
 */
#define IX_MEMO 32
#define IX_MEMO_REF 96
#define IX_MEMO_REC 1024

struct ix_memo_ent {
	uint64_t serial; /* 0: empty */
	uint16_t rl;
	bool found;
	struct ix_rec r; /* parsed from rec */
	char ref[IX_MEMO_REF];
	uint8_t rec[IX_MEMO_REC];
};

static struct dd_tls ix_memo_tls =
	DD_TLS_INIT(IX_MEMO * sizeof(struct ix_memo_ent), NULL, NULL);

/* @x's slot for @ref (NULL: a reference too long to keep, or no memory);
 * *hit when it holds @ref's answer.  Any spread will do for the slot (the
 * reference is compared whole): 8 bytes a step, not the keyed hash
 * ix_find needs. */
static struct ix_memo_ent *ix_memo_slot(const struct dd_index *x,
					const char *ref, size_t rl, bool *hit)
{
	struct ix_memo_ent *m;

	*hit = false;
	if (rl > IX_MEMO_REF || !(m = dd_tls_get(&ix_memo_tls)))
		return NULL;
	m += dd_hash_slot(0x243F6A8885A308D3ull, ref, rl) % IX_MEMO;
	*hit = m->serial == x->serial && m->rl == rl && !memcmp(m->ref, ref, rl);
	return m;
}

/* Keep the answer for @ref in @m: @r's record (NULL: not found). */
static void ix_memo_put(const struct dd_index *x, struct ix_memo_ent *m,
			const char *ref, size_t rl, const struct ix_rec *r)
{
	m->serial = 0;
	if (r) {
		if (r->raw_len > IX_MEMO_REC)
			return;
		memcpy(m->rec, r->raw, r->raw_len);
		if (!ix_rec_parse(m->rec, r->raw_len, &m->r))
			return;
	}
	memcpy(m->ref, ref, rl);
	m->rl = (uint16_t)rl;
	m->found = r != NULL;
	m->serial = x->serial;
}

dd_err dd_index_lookup(const struct dd_index *x, const char *ref, size_t len,
		       struct dd_index_patient **out)
{
	char norm[DD_INDEX_KEY_MAX];
	uint8_t buf[IX_REC_MAX];
	struct ix_rec r;
	struct ix_memo_ent *m;
	bool found, hit;
	size_t n;
	dd_err e;

	*out = NULL;
	if (!x || !x->finished || !ref || !x->h.n)
		return DD_OK;
	m = ix_memo_slot(x, ref, len, &hit);
	if (hit)
		return m->found ? ix_rec_patient(&m->r, out) : DD_OK;
	if (!(n = dd_index_ref_norm(ref, len, norm, sizeof(norm))) ||
	    !ix_ref_may_be_person(norm)) {
		found = false;
		e = DD_OK;
	} else {
		e = ix_find(x, IX_KIND_PERSON, norm, n, buf, &r, &found);
	}
	if (!e && m)
		ix_memo_put(x, m, ref, len, found ? &r : NULL);
	if (!e && found)
		e = ix_rec_patient(&r, out);
	return e;
}

bool dd_index_dicom_has(const struct dd_index *x, const char *key, size_t kl)
{
	char ref[71];
	uint8_t *buf;
	struct ix_rec r;
	bool found = false;

	if (!x)
		return false;
	if (x->tree)
		return dd_index_dicom_has(x->tree, key, kl);
	if (!x->finished)
		return x->dset ? dd_index_dicom_has(x->dset, key, kl) : false;
	if (!x->h.dicom || !ix_dicom_ref(x, key, kl, ref))
		return false;
	buf = malloc(IX_REC_MAX);
	if (!buf)
		return false;
	if (ix_find(x, IX_KIND_DICOM, ref, 70, buf, &r, &found))
		found = false;
	free(buf);
	return found;
}

dd_err dd_index_sole_patient(const struct dd_index *x,
			     struct dd_index_patient **out)
{
	uint8_t *buf, *first = NULL;
	size_t first_len = 0;
	uint64_t off = 0;
	dd_err e = DD_OK;
	bool several = false;

	*out = NULL;
	if (!x || !x->finished || !x->h.n)
		return DD_OK;
	buf = malloc(2 * IX_REC_MAX);
	if (!buf)
		return DD_E_NOMEM;
	first = buf + IX_REC_MAX;
	while (!e && !several && off < x->h.rec_len) {
		struct ix_rec r;
		const uint8_t *blob;
		size_t bl;

		e = ix_rd_rec(x, off, buf, &r);
		if (e)
			break;
		off += ix_get32(buf);
		if (r.kind != IX_KIND_PERSON || !ix_key_is_patient(r.key))
			continue;
		/* the patient's identity: key and values (not the ref) */
		blob = (const uint8_t *)r.key;
		bl = (size_t)(r.vals + r.vals_len - blob);
		if (!first_len) {
			memcpy(first, blob, bl);
			first_len = bl;
		} else if (bl != first_len || memcmp(first, blob, bl)) {
			several = true;
		}
	}
	if (!e && !several && first_len) {
		/* parse the first blob again as a record of its own */
		struct ix_rec r = {0};
		const uint8_t *q;

		r.key = (const char *)first;
		r.kl = strlen(r.key);
		q = first + r.kl + 1;
		r.nv = ix_get16(q);
		r.vals = q + 2;
		r.vals_len = first_len - (r.kl + 1 + 2);
		e = ix_rec_patient(&r, out);
	}
	free(buf);
	return e;
}

size_t dd_index_n_refs(const struct dd_index *x)
{
	return x && x->finished ? (size_t)(x->h.n - x->h.dicom) : 0;
}

size_t dd_index_n_patients(const struct dd_index *x)
{
	return x && x->finished ? (size_t)x->h.people : 0;
}

size_t dd_index_n_dicom(const struct dd_index *x)
{
	if (!x)
		return 0;
	if (x->tree) /* a Bundle's index: the tree's PatientIDs */
		return dd_index_n_dicom(x->tree);
	if (!x->finished) /* building: those seen so far */
		return x->dset ? dd_index_n_dicom(x->dset) : 0;
	return (size_t)x->h.dicom;
}

uint64_t dd_index_size(const struct dd_index *x)
{
	return x && x->finished ? x->out.size : 0;
}

const char *dd_index_digest(const struct dd_index *x)
{
	return x && x->finished ? x->digest : "";
}

/* ---- the byte form -------------------------------------------------------------- */

dd_err dd_index_encode(const struct dd_index *x, struct dd_buf *out)
{
	uint8_t tmp[8192];
	uint64_t at = 0;
	dd_err e = DD_OK;

	if (!x->finished)
		return DD_E_INVAL;
	if (x->out.fd < 0)
		return dd_buf_add(out, x->out.mem.data, x->out.mem.len);
	while (!e && at < x->out.size) {
		size_t c = x->out.size - at < sizeof(tmp) ? (size_t)(x->out.size - at)
							  : sizeof(tmp);

		e = ix_rd(x, at, tmp, c);
		if (!e)
			e = dd_buf_add(out, tmp, c);
		at += c;
	}
	return e;
}

/* Check the header and the digest of x->out (set up by the caller). */
static dd_err ix_check(struct dd_index *x)
{
	uint8_t hdr[IX_HDR], body[32], dg[32], tmp[65536];
	uint64_t total = x->out.size, at = IX_HDR, need;
	EVP_MD_CTX *md;
	unsigned l = 32;
	dd_err e = DD_OK;

	if (total < IX_HDR)
		return DD_E_CORRUPT;
	e = ix_rd(x, 0, hdr, IX_HDR);
	if (e)
		return e;
	if (memcmp(hdr, "DDX2", 4) || ix_get32(hdr + 4) != IX_VERSION ||
	    ix_get32(hdr + 12))
		return DD_E_CORRUPT;
	for (int i = 48; i < 64; i++)
		if (hdr[i])
			return DD_E_CORRUPT;
	x->h.k = ix_get32(hdr + 8);
	x->h.n = ix_get64(hdr + 16);
	x->h.people = ix_get64(hdr + 24);
	x->h.dicom = ix_get64(hdr + 32);
	x->h.rec_len = ix_get64(hdr + 40);
	if (x->h.n >= UINT32_MAX || x->h.k != ix_bits_for(x->h.n) ||
	    x->h.people > x->h.n || x->h.dicom > x->h.n - x->h.people ||
	    x->h.rec_len > total)
		return DD_E_CORRUPT;
	need = IX_HDR + x->h.rec_len + x->h.n * IX_SLOT +
	       IX_TAB * (((uint64_t)1 << x->h.k) + 1);
	if (need != total)
		return DD_E_CORRUPT;
	md = EVP_MD_CTX_new();
	if (!md)
		return DD_E_NOMEM;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (!e && at < total) {
		size_t c = total - at < sizeof(tmp) ? (size_t)(total - at)
						    : sizeof(tmp);

		if (x->out.fd < 0) {
			EVP_DigestUpdate(md, x->out.mem.data + at, c);
		} else {
			e = ix_pread(x->out.fd, x->out.base + at, tmp, c);
			if (!e)
				EVP_DigestUpdate(md, tmp, c);
		}
		at += c;
	}
	EVP_DigestFinal_ex(md, body, &l);
	EVP_MD_CTX_free(md);
	if (e)
		return e;
	ix_digest(hdr, body, dg);
	if (memcmp(dg, hdr + 64, 32))
		return DD_E_CORRUPT;
	x->digest[0] = 0;
	if (x->h.n)
		ix_hex(dg, 32, x->digest);
	x->finished = true;
	return DD_OK;
}

dd_err dd_index_decode(const void *p, size_t n, struct dd_index **out)
{
	struct dd_index *x;
	dd_err e;

	*out = NULL;
	e = dd_index_new(&x);
	if (e)
		return e;
	e = dd_buf_add(&x->out.mem, p, n);
	x->out.size = n;
	if (!e)
		e = ix_check(x);
	if (e) {
		dd_index_free(x);
		return e;
	}
	*out = x;
	return DD_OK;
}

dd_err dd_index_open_fd(int fd, uint64_t base, struct dd_index **out)
{
	struct dd_index *x;
	struct stat st;
	dd_err e;

	*out = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < base)
		return DD_E_CORRUPT;
	e = dd_index_new(&x);
	if (e)
		return e;
	x->out.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (x->out.fd < 0) {
		dd_index_free(x);
		return DD_E_IO;
	}
	x->out.base = base;
	x->out.size = (uint64_t)st.st_size - base;
	e = ix_check(x);
	if (e) {
		dd_index_free(x);
		return e;
	}
	*out = x;
	return DD_OK;
}

void dd_index_set_pseudo(struct dd_index *x, const struct dd_pseudo *pseudo)
{
	if (x && pseudo) {
		x->pseudo = *pseudo;
		x->has_pseudo = true;
	}
}
