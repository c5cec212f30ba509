/* dd_index.c: the patient index (see dd_index.h).
 *
 * Byte form (little endian): "DDX1", u32 n_patients, u32 n_refs; each
 * patient: u16 key length, key, u16 n_values, each value: u8 infoType,
 * u16 length, bytes; each ref: u16 length, bytes, u32 patient.  After
 * dd_index_finish() patients are sorted by (key, values) and refs by ref,
 * so equal sets of Patients give equal bytes and digests.
 *
 * Store file (patientLinking auto): "DDXF", u32 version 1, u64 n_files;
 * each file: u16 path length, path (relative to SRC), 5 x u64 identity;
 * then u64 index length and the index byte form.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dd_fhir_i.h"
#include "dd_index.h"
#include "dd_log.h"
#include "dd_view.h"

struct ix_pat {
	char *key;
	struct dd_index_value *values; /* s owned */
	size_t n_values;
	bool used;
	size_t new_idx;
};

struct ix_ref {
	char *ref;
	size_t pat;
};

struct dd_index {
	struct ix_pat *pats;
	size_t n_pats, cap_pats;
	struct ix_ref *refs;
	size_t n_refs, cap_refs;
	struct dd_index_patient *pub; /* after finish */
	bool finished;
	char digest[65];
};

bool dd_index_is_person(const char *rt)
{
	return rt && (!strcmp(rt, "Patient") || !strcmp(rt, "Practitioner") ||
		      !strcmp(rt, "RelatedPerson") || !strcmp(rt, "Person"));
}

bool dd_index_patient_is_patient(const struct dd_index_patient *p)
{
	return p && strncmp(p->key, "ref:Practitioner/", 17) &&
	       strncmp(p->key, "ref:RelatedPerson/", 18) &&
	       strncmp(p->key, "ref:Person/", 11);
}

dd_err dd_index_new(struct dd_index **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? DD_OK : DD_E_NOMEM;
}

static void ix_pat_free(struct ix_pat *p)
{
	free(p->key);
	for (size_t i = 0; i < p->n_values; i++)
		free((char *)p->values[i].s);
	free(p->values);
}

void dd_index_free(struct dd_index *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n_pats; i++)
		ix_pat_free(&x->pats[i]);
	for (size_t i = 0; i < x->n_refs; i++)
		free(x->refs[i].ref);
	free(x->pats);
	free(x->refs);
	free(x->pub);
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
	if ((len > 9 && !strncasecmp(ref, "urn:uuid:", 9)) ||
	    (len > 8 && !strncasecmp(ref, "urn:oid:", 8))) {
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
		char type[64];

		if (k == 2 && !(cl[1] == 8 && !memcmp(c[1], "_history", 8)))
			break;
		if (cl[k + 1] >= sizeof(type) || !ix_id_ok(c[k], cl[k]))
			continue;
		memcpy(type, c[k + 1], cl[k + 1]);
		type[cl[k + 1]] = 0;
		if (!dd_fhir_resource_type(type))
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

/* ---- building -------------------------------------------------------------- */

static dd_err ix_add_ref(struct dd_index *x, const char *ref, size_t pat)
{
	char norm[DD_INDEX_KEY_MAX];
	size_t n = dd_index_ref_norm(ref, strlen(ref), norm, sizeof(norm));

	if (n == 0)
		return DD_OK;
	if (x->n_refs == x->cap_refs) {
		size_t nc = x->cap_refs ? x->cap_refs * 2 : 64;
		struct ix_ref *p = realloc(x->refs, nc * sizeof(*p));

		if (!p)
			return DD_E_NOMEM;
		x->refs = p;
		x->cap_refs = nc;
	}
	x->refs[x->n_refs].ref = strdup(norm);
	if (!x->refs[x->n_refs].ref)
		return DD_E_NOMEM;
	x->refs[x->n_refs].pat = pat;
	x->n_refs++;
	x->finished = false;
	return DD_OK;
}

static void ix_add_value(void *ctx, enum dd_info_type t, const char *s)
{
	struct ix_pat *p = ctx;
	struct dd_index_value *nv;
	size_t n = strlen(s);

	if (n < 2 || n > DD_INDEX_VALUE_MAX || p->n_values >= DD_INDEX_MAX_VALUES)
		return;
	for (size_t i = 0; i < p->n_values; i++)
		if (p->values[i].type == t && !strcmp(p->values[i].s, s))
			return;
	nv = realloc(p->values, (p->n_values + 1) * sizeof(*nv));
	if (!nv)
		return;
	p->values = nv;
	nv[p->n_values].type = t;
	nv[p->n_values].s = strdup(s);
	if (nv[p->n_values].s)
		p->n_values++;
}

dd_err dd_index_add_patient(struct dd_index *x, const struct dd_policy *pol,
			    struct json_object *patient, const char *full_url)
{
	struct json_object *v;
	const char *rt, *id = NULL;
	char key[DD_INDEX_KEY_MAX], ref[128];
	struct ix_pat *p;
	size_t pi;
	dd_err e;

	if (!json_object_is_type(patient, json_type_object) ||
	    !json_object_object_get_ex(patient, "resourceType", &v) ||
	    !json_object_is_type(v, json_type_string))
		return DD_OK;
	rt = json_object_get_string(v);
	if (strcmp(rt, "Patient") && strcmp(rt, "Practitioner") &&
	    strcmp(rt, "RelatedPerson") && strcmp(rt, "Person"))
		return DD_OK;
	if (json_object_object_get_ex(patient, "id", &v) &&
	    json_object_is_type(v, json_type_string))
		id = json_object_get_string(v);
	key[0] = 0;
	if (!strcmp(rt, "Patient")) {
		if (dd_fhir_patient_key(pol, patient, key, sizeof(key)) == 0 &&
		    !full_url)
			return DD_OK;
	} else if (id) {
		snprintf(key, sizeof(key), "ref:%s/%s", rt, id);
	}
	if (!key[0] || (!id && !full_url))
		return DD_OK;
	if (x->n_pats == x->cap_pats) {
		size_t nc = x->cap_pats ? x->cap_pats * 2 : 64;
		struct ix_pat *np = realloc(x->pats, nc * sizeof(*np));

		if (!np)
			return DD_E_NOMEM;
		x->pats = np;
		x->cap_pats = nc;
	}
	pi = x->n_pats;
	p = &x->pats[pi];
	memset(p, 0, sizeof(*p));
	p->key = strdup(key);
	if (!p->key)
		return DD_E_NOMEM;
	x->n_pats++;
	dd_fhir_collect_values(patient, ix_add_value, p);
	if (id && snprintf(ref, sizeof(ref), "%s/%s", rt, id) < (int)sizeof(ref)) {
		e = ix_add_ref(x, ref, pi);
		if (e)
			return e;
	}
	if (full_url)
		return ix_add_ref(x, full_url, pi);
	return DD_OK;
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

/* ---- finishing -------------------------------------------------------------- */

static int ix_val_cmp(const struct dd_index_value *a,
		      const struct dd_index_value *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->s, b->s);
}

static int ix_val_qcmp(const void *a, const void *b)
{
	return ix_val_cmp(a, b);
}

static int ix_pat_cmp(const void *va, const void *vb)
{
	const struct ix_pat *a = va, *b = vb;
	int c = strcmp(a->key, b->key);

	if (c)
		return c;
	for (size_t i = 0; i < a->n_values && i < b->n_values; i++)
		if ((c = ix_val_cmp(&a->values[i], &b->values[i])))
			return c;
	return a->n_values < b->n_values ? -1 : a->n_values > b->n_values;
}

static int ix_ref_cmp(const void *va, const void *vb)
{
	const struct ix_ref *a = va, *b = vb;
	int c = strcmp(a->ref, b->ref);

	if (c)
		return c;
	return a->pat < b->pat ? -1 : a->pat > b->pat;
}

static void ix_hex(const uint8_t *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

dd_err dd_index_finish(struct dd_index *x)
{
	size_t *order, w;
	struct dd_buf enc;
	uint8_t h[32];
	unsigned hl = 32;
	dd_err e;

	if (x->finished)
		return DD_OK;
	/* patients: sort (values first), remember where each went */
	for (size_t i = 0; i < x->n_pats; i++) {
		if (x->pats[i].n_values)
			qsort(x->pats[i].values, x->pats[i].n_values,
			      sizeof(x->pats[i].values[0]), ix_val_qcmp);
		x->pats[i].new_idx = i;
	}
	order = malloc((x->n_pats + 1) * sizeof(*order));
	if (!order)
		return DD_E_NOMEM;
	/* sort a copy, then map old index -> sorted index */
	{
		struct ix_pat *sorted = malloc((x->n_pats + 1) * sizeof(*sorted));

		if (!sorted) {
			free(order);
			return DD_E_NOMEM;
		}
		if (x->n_pats)
			memcpy(sorted, x->pats, x->n_pats * sizeof(*sorted));
		if (x->n_pats)
			qsort(sorted, x->n_pats, sizeof(*sorted), ix_pat_cmp);
		for (size_t i = 0; i < x->n_pats; i++)
			order[sorted[i].new_idx] = i;
		if (x->n_pats)
			memcpy(x->pats, sorted, x->n_pats * sizeof(*sorted));
		free(sorted);
	}
	for (size_t i = 0; i < x->n_refs; i++)
		x->refs[i].pat = order[x->refs[i].pat];
	/* identical patients collapse onto the first */
	for (size_t i = 0; i < x->n_pats; i++) {
		x->pats[i].new_idx = i;
		if (i && !ix_pat_cmp(&x->pats[i], &x->pats[i - 1]))
			x->pats[i].new_idx = x->pats[i - 1].new_idx;
		x->pats[i].used = false;
	}
	for (size_t i = 0; i < x->n_refs; i++)
		x->refs[i].pat = x->pats[x->refs[i].pat].new_idx;
	/* refs: sorted; one per reference, the smallest patient wins */
	if (x->n_refs)
		qsort(x->refs, x->n_refs, sizeof(x->refs[0]), ix_ref_cmp);
	w = 0;
	for (size_t i = 0; i < x->n_refs; i++) {
		if (w && !strcmp(x->refs[w - 1].ref, x->refs[i].ref)) {
			free(x->refs[i].ref);
			continue;
		}
		x->refs[w++] = x->refs[i];
	}
	x->n_refs = w;
	/* drop unreferenced patients, renumber */
	for (size_t i = 0; i < x->n_refs; i++)
		x->pats[x->refs[i].pat].used = true;
	w = 0;
	for (size_t i = 0; i < x->n_pats; i++) {
		if (!x->pats[i].used) {
			ix_pat_free(&x->pats[i]);
			continue;
		}
		order[i] = w;
		x->pats[w++] = x->pats[i];
	}
	x->n_pats = w;
	for (size_t i = 0; i < x->n_refs; i++)
		x->refs[i].pat = order[x->refs[i].pat];
	free(order);
	free(x->pub);
	x->pub = calloc(x->n_pats + 1, sizeof(*x->pub));
	if (!x->pub)
		return DD_E_NOMEM;
	for (size_t i = 0; i < x->n_pats; i++) {
		x->pub[i].key = x->pats[i].key;
		x->pub[i].values = x->pats[i].values;
		x->pub[i].n_values = x->pats[i].n_values;
	}
	x->finished = true;
	x->digest[0] = 0;
	if (x->n_refs == 0)
		return DD_OK;
	dd_buf_init(&enc, SIZE_MAX / 2);
	e = dd_index_encode(x, &enc);
	if (!e) {
		EVP_Digest(enc.data, enc.len, h, &hl, EVP_sha256(), NULL);
		ix_hex(h, 32, x->digest);
	}
	dd_buf_free(&enc);
	return e;
}

static int ix_ref_key_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct ix_ref *)e)->ref);
}

const struct dd_index_patient *dd_index_lookup(const struct dd_index *x,
					       const char *ref, size_t len)
{
	char norm[DD_INDEX_KEY_MAX];
	const struct ix_ref *r;

	if (!x || !x->finished || !ref || !x->n_refs ||
	    !dd_index_ref_norm(ref, len, norm, sizeof(norm)))
		return NULL;
	r = bsearch(norm, x->refs, x->n_refs, sizeof(x->refs[0]), ix_ref_key_cmp);
	return r ? &x->pub[r->pat] : NULL;
}

const struct dd_index_patient *dd_index_patient_at(const struct dd_index *x,
						   size_t i)
{
	return x && x->finished && i < x->n_pats ? &x->pub[i] : NULL;
}

size_t dd_index_n_refs(const struct dd_index *x)
{
	return x ? x->n_refs : 0;
}

size_t dd_index_n_patients(const struct dd_index *x)
{
	return x ? x->n_pats : 0;
}

const char *dd_index_digest(const struct dd_index *x)
{
	return x && x->finished ? x->digest : "";
}

/* ---- byte form ----------------------------------------------------------------- */

static dd_err ix_u16(struct dd_buf *b, size_t v)
{
	uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	return v > 0xFFFF ? DD_E_RANGE : dd_buf_add(b, p, 2);
}

static dd_err ix_u32(struct dd_buf *b, uint64_t v)
{
	uint8_t p[4];

	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return v > 0xFFFFFFFFu ? DD_E_RANGE : dd_buf_add(b, p, 4);
}

dd_err dd_index_encode(const struct dd_index *x, struct dd_buf *out)
{
	dd_err e;

	e = dd_buf_add(out, "DDX1", 4);
	if (!e)
		e = ix_u32(out, x->n_pats);
	if (!e)
		e = ix_u32(out, x->n_refs);
	for (size_t i = 0; i < x->n_pats && !e; i++) {
		const struct ix_pat *p = &x->pats[i];
		size_t kl = strlen(p->key);

		e = ix_u16(out, kl);
		if (!e)
			e = dd_buf_add(out, p->key, kl);
		if (!e)
			e = ix_u16(out, p->n_values);
		for (size_t k = 0; k < p->n_values && !e; k++) {
			size_t vl = strlen(p->values[k].s);

			e = dd_buf_addc(out, (uint8_t)p->values[k].type);
			if (!e)
				e = ix_u16(out, vl);
			if (!e)
				e = dd_buf_add(out, p->values[k].s, vl);
		}
	}
	for (size_t i = 0; i < x->n_refs && !e; i++) {
		size_t rl = strlen(x->refs[i].ref);

		e = ix_u16(out, rl);
		if (!e)
			e = dd_buf_add(out, x->refs[i].ref, rl);
		if (!e)
			e = ix_u32(out, x->refs[i].pat);
	}
	return e;
}

struct ix_rd {
	const uint8_t *p;
	size_t n, at;
	bool bad;
};

static uint32_t ix_rd_n(struct ix_rd *r, int bytes)
{
	uint32_t v = 0;

	if (r->bad || r->n - r->at < (size_t)bytes) {
		r->bad = true;
		return 0;
	}
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | r->p[r->at + (size_t)i];
	r->at += (size_t)bytes;
	return v;
}

static char *ix_rd_str(struct ix_rd *r, size_t len)
{
	char *s;

	if (r->bad || r->n - r->at < len || memchr(r->p + r->at, 0, len)) {
		r->bad = true;
		return NULL;
	}
	s = strndup((const char *)r->p + r->at, len);
	if (!s)
		r->bad = true;
	r->at += len;
	return s;
}

dd_err dd_index_decode(const void *p, size_t n, struct dd_index **out)
{
	struct ix_rd r = {p, n, 0, false};
	struct dd_index *x;
	uint32_t np, nr;
	dd_err e;

	*out = NULL;
	if (n < 12 || memcmp(p, "DDX1", 4))
		return DD_E_CORRUPT;
	r.at = 4;
	np = ix_rd_n(&r, 4);
	nr = ix_rd_n(&r, 4);
	if (np > n / 4 || nr > n / 6)
		return DD_E_CORRUPT;
	e = dd_index_new(&x);
	if (e)
		return e;
	x->pats = calloc(np + 1, sizeof(*x->pats));
	x->refs = calloc(nr + 1, sizeof(*x->refs));
	if (!x->pats || !x->refs) {
		dd_index_free(x);
		return DD_E_NOMEM;
	}
	x->cap_pats = np + 1;
	x->cap_refs = nr + 1;
	for (uint32_t i = 0; i < np && !r.bad; i++) {
		struct ix_pat *pt = &x->pats[i];
		uint32_t nv;

		pt->key = ix_rd_str(&r, ix_rd_n(&r, 2));
		x->n_pats = i + 1;
		nv = ix_rd_n(&r, 2);
		if (r.bad || nv > DD_INDEX_MAX_VALUES) {
			r.bad = true;
			break;
		}
		pt->values = calloc(nv + 1, sizeof(*pt->values));
		if (!pt->values) {
			r.bad = true;
			break;
		}
		for (uint32_t k = 0; k < nv && !r.bad; k++) {
			uint32_t t = ix_rd_n(&r, 1);

			if (t >= DD_IT_LAST)
				r.bad = true;
			pt->values[k].type = (enum dd_info_type)t;
			pt->values[k].s = ix_rd_str(&r, ix_rd_n(&r, 2));
			if (pt->values[k].s)
				pt->n_values = k + 1;
		}
	}
	for (uint32_t i = 0; i < nr && !r.bad; i++) {
		x->refs[i].ref = ix_rd_str(&r, ix_rd_n(&r, 2));
		if (x->refs[i].ref)
			x->n_refs = i + 1;
		x->refs[i].pat = ix_rd_n(&r, 4);
		if (x->refs[i].pat >= np)
			r.bad = true;
	}
	if (r.bad || r.at != n) {
		dd_index_free(x);
		return DD_E_CORRUPT;
	}
	e = dd_index_finish(x);
	if (e) {
		dd_index_free(x);
		return e;
	}
	*out = x;
	return DD_OK;
}

/* ---- scanning a tree ------------------------------------------------------------- */

struct ix_file {
	char *path;     /* relative to SRC */
	uint64_t id[5]; /* dev, ino, size, mtime_ns, ctime_ns */
};

struct ix_list {
	struct ix_file *v;
	size_t n, cap;
};

static void ix_list_free(struct ix_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool ix_fhir_name(const char *name, bool *ndjson)
{
	size_t n = strlen(name);

	*ndjson = n > 7 && !strcasecmp(name + n - 7, ".ndjson");
	return *ndjson || (n > 5 && !strcasecmp(name + n - 5, ".json"));
}

static void ix_ident(const struct stat *st, uint64_t id[5])
{
	id[0] = (uint64_t)st->st_dev;
	id[1] = (uint64_t)st->st_ino;
	id[2] = (uint64_t)st->st_size;
	id[3] = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
		(uint64_t)st->st_mtim.tv_nsec;
	id[4] = (uint64_t)st->st_ctim.tv_sec * 1000000000u +
		(uint64_t)st->st_ctim.tv_nsec;
}

static dd_err ix_walk(int dirfd, const char *prefix, struct ix_list *l,
		      unsigned depth)
{
	DIR *d;
	struct dirent *de;
	int fd;
	dd_err e = DD_OK;

	if (depth > 64)
		return DD_OK;
	/* the source: listed and read with O_NOATIME where permitted */
	fd = dd_view_openat_noatime(dirfd, ".",
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DD_E_IO;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return DD_E_IO;
	}
	while (!e && (de = readdir(d))) {
		struct stat st;
		char path[PATH_MAX];
		bool nd;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", prefix,
				     *prefix ? "/" : "", de->d_name) >= sizeof(path))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = -1;

			if (dd_view_open_beneath(dirfd, de->d_name,
						 O_DIRECTORY | O_NOFOLLOW,
						 &sub) == DD_OK) {
				e = ix_walk(sub, path, l, depth + 1);
				close(sub);
			}
			continue;
		}
		if (!S_ISREG(st.st_mode) || !ix_fhir_name(de->d_name, &nd))
			continue;
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 64;
			struct ix_file *p = realloc(l->v, nc * sizeof(*p));

			if (!p) {
				e = DD_E_NOMEM;
				break;
			}
			l->v = p;
			l->cap = nc;
		}
		l->v[l->n].path = strdup(path);
		if (!l->v[l->n].path) {
			e = DD_E_NOMEM;
			break;
		}
		ix_ident(&st, l->v[l->n].id);
		l->n++;
	}
	closedir(d);
	return e;
}

static int ix_file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ix_file *)a)->path,
		      ((const struct ix_file *)b)->path);
}

static dd_err ix_add_list(struct dd_index *x, const struct dd_policy *pol,
			  int dirfd, const struct ix_list *l, FILE *progress)
{
	for (size_t i = 0; i < l->n; i++) {
		bool nd;
		int fd = -1;
		struct stat st;
		dd_err e;

		/* beneath the root, O_NOATIME where permitted, as the view */
		if (dd_view_open_beneath(dirfd, l->v[i].path, O_NOFOLLOW, &fd))
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (pol->deidfs.max_file_size &&
		     (uint64_t)st.st_size > pol->deidfs.max_file_size)) {
			close(fd);
			continue;
		}
		ix_fhir_name(l->v[i].path, &nd);
		e = dd_index_add_file(x, pol, fd, (uint64_t)st.st_size, nd);
		close(fd);
		if (e == DD_E_NOMEM)
			return e;
		if (progress && ((i + 1) % 1000 == 0 || i + 1 == l->n))
			fprintf(progress, "\rdeid index: %zu/%zu files, %zu patients",
				i + 1, l->n, x->n_pats);
	}
	if (progress && l->n)
		fputc('\n', progress);
	return DD_OK;
}

dd_err dd_index_scan_dir(struct dd_index *x, const struct dd_policy *pol,
			 int dirfd, FILE *progress, size_t *n_files)
{
	struct ix_list l = {0};
	dd_err e;

	e = ix_walk(dirfd, "", &l, 0);
	if (!e) {
		if (l.n)
			qsort(l.v, l.n, sizeof(l.v[0]), ix_file_cmp);
		e = ix_add_list(x, pol, dirfd, &l, progress);
	}
	if (n_files)
		*n_files = l.n;
	ix_list_free(&l);
	return e;
}

/* ---- the stored index (patientLinking auto) ---------------------------------------- */

char *dd_index_default_store(const struct dd_policy *pol)
{
	const char *d = pol ? pol->deidfs.cache_dir : NULL;
	const char *env;
	char *out = NULL;

	if (d && *d) {
		if (asprintf(&out, "%s/fhir-index", d) < 0)
			out = NULL;
	} else if ((env = getenv("DEIDFS_CACHE_DIR")) && *env) {
		if (asprintf(&out, "%s/fhir-index", env) < 0)
			out = NULL;
	} else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
		if (asprintf(&out, "%s/deidfs/fhir-index", env) < 0)
			out = NULL;
	} else if ((env = getenv("HOME")) && *env) {
		if (asprintf(&out, "%s/.cache/deidfs/fhir-index", env) < 0)
			out = NULL;
	}
	return out;
}

static char *ix_store_path(const struct dd_policy *pol, const char *real,
			   const char *store)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned hl = 32;
	char hex[65], *out = NULL;
	const struct dd_strv *t = &pol->deidfs.linking_identifier_types;

	if (!md)
		return NULL;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "fhir-index-1|", 13);
	EVP_DigestUpdate(md, real, strlen(real) + 1);
	for (size_t i = 0; i < t->n; i++)
		EVP_DigestUpdate(md, t->v[i], strlen(t->v[i]) + 1);
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	ix_hex(h, 16, hex);
	if (asprintf(&out, "%s/%s.idx", store, hex) < 0)
		return NULL;
	return out;
}

static dd_err ix_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return DD_E_INVAL;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		buf[i] = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return DD_E_IO;
		buf[i] = i < n ? '/' : 0;
	}
	return DD_OK;
}

static dd_err ix_u64(struct dd_buf *b, uint64_t v)
{
	uint8_t p[8];

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return dd_buf_add(b, p, 8);
}

static dd_err ix_store_write(const char *path, const struct ix_list *l,
			     const struct dd_index *x)
{
	struct dd_buf b, enc;
	char tmp[PATH_MAX];
	dd_err e;
	int fd;

	dd_buf_init(&b, SIZE_MAX / 2);
	dd_buf_init(&enc, SIZE_MAX / 2);
	e = dd_buf_add(&b, "DDXF", 4);
	if (!e)
		e = ix_u32(&b, 1);
	if (!e)
		e = ix_u64(&b, l->n);
	for (size_t i = 0; i < l->n && !e; i++) {
		size_t pl = strlen(l->v[i].path);

		e = ix_u16(&b, pl);
		if (!e)
			e = dd_buf_add(&b, l->v[i].path, pl);
		for (int k = 0; k < 5 && !e; k++)
			e = ix_u64(&b, l->v[i].id[k]);
	}
	if (!e)
		e = dd_index_encode(x, &enc);
	if (!e)
		e = ix_u64(&b, enc.len);
	if (!e)
		e = dd_buf_add(&b, enc.data, enc.len);
	dd_buf_free(&enc);
	if (e)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = DD_E_IO;
		goto out;
	}
	if (write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0)
		e = DD_E_IO;
	if (close(fd) < 0)
		e = DD_E_IO;
	if (!e && rename(tmp, path) < 0)
		e = DD_E_IO;
	if (e)
		unlink(tmp);
out:
	dd_buf_free(&b);
	return e;
}

/* The stored index, if its file list equals @l. */
static dd_err ix_store_read(const char *path, const struct ix_list *l,
			    struct dd_index **out)
{
	struct stat st;
	uint8_t *p = NULL;
	struct ix_rd r;
	uint64_t nf, il;
	dd_err e = DD_E_NOTFOUND;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return DD_E_NOTFOUND;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 16 ||
	    st.st_size > ((off_t)1 << 34))
		goto out;
	p = malloc((size_t)st.st_size);
	if (!p || read(fd, p, (size_t)st.st_size) != st.st_size)
		goto out;
	r = (struct ix_rd){p, (size_t)st.st_size, 0, false};
	if (memcmp(p, "DDXF", 4))
		goto out;
	r.at = 4;
	if (ix_rd_n(&r, 4) != 1)
		goto out;
	nf = ix_rd_n(&r, 4);
	nf |= (uint64_t)ix_rd_n(&r, 4) << 32;
	if (r.bad || nf != l->n)
		goto out;
	for (size_t i = 0; i < l->n; i++) {
		size_t pl = ix_rd_n(&r, 2);

		if (r.bad || r.n - r.at < pl || pl != strlen(l->v[i].path) ||
		    memcmp(r.p + r.at, l->v[i].path, pl))
			goto out;
		r.at += pl;
		for (int k = 0; k < 5; k++) {
			uint64_t v = ix_rd_n(&r, 4);

			v |= (uint64_t)ix_rd_n(&r, 4) << 32;
			if (r.bad || v != l->v[i].id[k])
				goto out;
		}
	}
	il = ix_rd_n(&r, 4);
	il |= (uint64_t)ix_rd_n(&r, 4) << 32;
	if (r.bad || il != r.n - r.at)
		goto out;
	e = dd_index_decode(r.p + r.at, (size_t)il, out);
out:
	free(p);
	close(fd);
	return e;
}

dd_err dd_index_load_or_build(const struct dd_policy *pol, const char *src_dir,
			      const char *store_dir, FILE *progress,
			      struct dd_index **out, bool *rebuilt)
{
	struct ix_list l = {0};
	char real[PATH_MAX], *spath = NULL;
	struct dd_index *x = NULL;
	dd_err e;
	int dirfd;

	*out = NULL;
	if (rebuilt)
		*rebuilt = false;
	if (!realpath(src_dir, real))
		return DD_E_IO;
	dirfd = dd_view_openat_noatime(AT_FDCWD, real,
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return DD_E_IO;
	e = ix_walk(dirfd, "", &l, 0);
	if (e)
		goto out;
	if (l.n)
		qsort(l.v, l.n, sizeof(l.v[0]), ix_file_cmp);
	if (store_dir) {
		spath = ix_store_path(pol, real, store_dir);
		if (spath && ix_store_read(spath, &l, &x) == DD_OK)
			goto done;
	}
	if (rebuilt)
		*rebuilt = true;
	e = dd_index_new(&x);
	if (!e)
		e = ix_add_list(x, pol, dirfd, &l, progress);
	if (!e)
		e = dd_index_finish(x);
	if (e)
		goto out;
	if (spath && (ix_mkdirs(store_dir) || ix_store_write(spath, &l, x)))
		dd_log(DD_LOG_WARN, "patient index: cannot store it under the "
				    "cache directory; it will be rebuilt next time");
done:
	*out = x;
	x = NULL;
out:
	dd_index_free(x);
	free(spath);
	ix_list_free(&l);
	close(dirfd);
	return e;
}
