/* dd_fhir_types.c: element lookups in the R4 type table, and Google's
 * FieldMetadata path matching (field names, type names, partial paths,
 * choice types as two components, HumanName shorthand by subtree). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dd_fhir_i.h"

#define FT_PATH_MAX 256

static int ft_elem_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct dd_fhir_elem *)e)->path);
}

/* Every member of every object is looked up here, so the sorted table
 * (bsearch: a dozen strcmp per lookup) gets an open-addressing hash of
 * its paths, built once: slot = element index + 1, 0 empty.  The table
 * has unique paths, so both find the same element. */
#define FT_HASH_BITS 15
#define FT_RT_BITS 10

static uint16_t ft_slots[1u << FT_HASH_BITS];
static uint64_t *ft_h;    /* per element: the FNV-1a hash of its path */
static uint16_t *ft_plen; /* per element: strlen of its path */
static uint16_t ft_rt_slots[1u << FT_RT_BITS]; /* resource types, the same */
static uint8_t *ft_rt_len; /* per resource type: its strlen (< 256) */
static pthread_once_t ft_once = PTHREAD_ONCE_INIT;
static bool ft_hash_ok;

/* FNV-1a over @n bytes, continuing from @h (FT_FNV_BASIS to start): a
 * path's hash is the same whether taken whole or piece by piece. */
#define FT_FNV_BASIS 1469598103934665603ull

static uint64_t ft_fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static uint32_t ft_fold(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32)) & ((1u << FT_HASH_BITS) - 1);
}

static uint32_t ft_hash(const char *s, size_t n)
{
	return ft_fold(ft_fnv(FT_FNV_BASIS, s, n));
}

static void ft_hash_build(void)
{
	const uint32_t mask = (1u << FT_HASH_BITS) - 1;

	if (dd_fhir_n_elems * 2 > mask || dd_fhir_n_elems >= UINT16_MAX)
		return; /* too many for the slots: bsearch */
	ft_h = malloc(dd_fhir_n_elems * sizeof(*ft_h));
	ft_plen = malloc(dd_fhir_n_elems * sizeof(*ft_plen));
	if (!ft_h || !ft_plen) {
		free(ft_h);
		free(ft_plen);
		ft_h = NULL;
		ft_plen = NULL;
		return;
	}
	for (size_t i = 0; i < dd_fhir_n_elems; i++) {
		const char *p = dd_fhir_elems[i].path;
		size_t pl = strlen(p);
		uint32_t h;

		if (pl >= UINT16_MAX) {
			free(ft_h);
			free(ft_plen);
			ft_h = NULL;
			ft_plen = NULL;
			memset(ft_slots, 0, sizeof(ft_slots));
			return;
		}
		ft_h[i] = ft_fnv(FT_FNV_BASIS, p, pl);
		ft_plen[i] = (uint16_t)pl;
		for (h = ft_fold(ft_h[i]); ft_slots[h]; h = (h + 1) & mask)
			;
		ft_slots[h] = (uint16_t)(i + 1);
	}
	if (dd_fhir_n_resource_types * 2 > (1u << FT_RT_BITS))
		return;
	ft_rt_len = malloc(dd_fhir_n_resource_types);
	if (!ft_rt_len)
		return;
	for (size_t i = 0; i < dd_fhir_n_resource_types; i++) {
		const char *p = dd_fhir_resource_types[i];
		size_t pl = strlen(p);
		uint32_t h = ft_hash(p, pl) & ((1u << FT_RT_BITS) - 1);

		if (pl > 255) {
			memset(ft_rt_slots, 0, sizeof(ft_rt_slots));
			return;
		}
		ft_rt_len[i] = (uint8_t)pl;
		while (ft_rt_slots[h])
			h = (h + 1) & ((1u << FT_RT_BITS) - 1);
		ft_rt_slots[h] = (uint16_t)(i + 1);
	}
	ft_hash_ok = true;
}

void dd_fhir_def_init(struct dd_fhir_def *d, const char *def)
{
	d->def = def;
	d->len = strlen(def);
	d->h = ft_fnv(ft_fnv(FT_FNV_BASIS, def, d->len), ".", 1);
}

/* The hash lookup of "<def>.<key>" without building the path: the hash
 * continues from @d's over @key, and a candidate is compared by its
 * stored full hash and length before its bytes.  The table must be built
 * (ft_hash_ok).  NULL: no element, or @key has a NUL or a '.'. */
static const struct dd_fhir_elem *ft_probe(const struct dd_fhir_def *d,
					   const char *key, size_t key_len)
{
	const uint32_t mask = (1u << FT_HASH_BITS) - 1;
	size_t pl = d->len + 1 + key_len;
	uint64_t h;
	uint32_t slot;

	if (memchr(key, 0, key_len) || memchr(key, '.', key_len))
		return NULL;
	h = ft_fnv(d->h, key, key_len);
	for (slot = ft_fold(h); ft_slots[slot]; slot = (slot + 1) & mask) {
		size_t e = ft_slots[slot] - 1u;
		const char *p = dd_fhir_elems[e].path;

		if (ft_h[e] == h && ft_plen[e] == pl &&
		    !memcmp(p, d->def, d->len) && p[d->len] == '.' &&
		    !memcmp(p + d->len + 1, key, key_len))
			return &dd_fhir_elems[e];
	}
	return NULL;
}

const struct dd_fhir_elem *dd_fhir_elem_find_in(const struct dd_fhir_def *d,
						const char *key, size_t key_len)
{
	pthread_once(&ft_once, ft_hash_build);
	if (!ft_hash_ok || d->len + 1 + key_len + 1 > FT_PATH_MAX ||
	    key_len == 0)
		return dd_fhir_elem_find(d->def, key, key_len);
	return ft_probe(d, key, key_len);
}

const struct dd_fhir_elem *dd_fhir_elem_find(const char *def, const char *key,
					     size_t key_len)
{
	char path[FT_PATH_MAX];
	size_t dl = strlen(def);

	if (dl + 1 + key_len + 1 > sizeof(path) || key_len == 0)
		return NULL;
	if (memchr(key, 0, key_len) || memchr(key, '.', key_len))
		return NULL;
	pthread_once(&ft_once, ft_hash_build);
	if (ft_hash_ok) {
		struct dd_fhir_def d;

		dd_fhir_def_init(&d, def);
		return ft_probe(&d, key, key_len);
	}
	memcpy(path, def, dl);
	path[dl] = '.';
	memcpy(path + dl + 1, key, key_len);
	path[dl + 1 + key_len] = 0;
	return bsearch(path, dd_fhir_elems, dd_fhir_n_elems,
		       sizeof(dd_fhir_elems[0]), ft_elem_cmp);
}

static int ft_str_cmp(const void *k, const void *e)
{
	return strcmp(k, *(const char *const *)e);
}

const char *dd_fhir_resource_type_n(const char *name, size_t n)
{
	pthread_once(&ft_once, ft_hash_build);
	if (ft_hash_ok) {
		const uint32_t mask = (1u << FT_RT_BITS) - 1;

		for (uint32_t h = ft_hash(name, n) & mask; ft_rt_slots[h];
		     h = (h + 1) & mask) {
			size_t i = ft_rt_slots[h] - 1u;

			if (ft_rt_len[i] == n &&
			    !memcmp(dd_fhir_resource_types[i], name, n))
				return dd_fhir_resource_types[i];
		}
		return NULL;
	}
	{
		/* no table: the bsearch of dd_fhir_resource_type */
		char t[256];

		if (n >= sizeof(t) || memchr(name, 0, n))
			return NULL;
		memcpy(t, name, n);
		t[n] = 0;
		return dd_fhir_resource_type(t);
	}
}

const char *dd_fhir_resource_type(const char *name)
{
	const char *const *p;

	pthread_once(&ft_once, ft_hash_build);
	if (ft_hash_ok) {
		const uint32_t mask = (1u << FT_RT_BITS) - 1;

		for (uint32_t h = ft_hash(name, strlen(name)) & mask;
		     ft_rt_slots[h]; h = (h + 1) & mask) {
			const char *t = dd_fhir_resource_types[ft_rt_slots[h] - 1];

			if (!strcmp(t, name))
				return t;
		}
		return NULL;
	}
	p = bsearch(name, dd_fhir_resource_types, dd_fhir_n_resource_types,
		    sizeof(dd_fhir_resource_types[0]), ft_str_cmp);
	return p ? *p : NULL;
}

/* ---- policy paths ---------------------------------------------------------- */

dd_err dd_fhir_rpath_parse(const char *s, struct dd_fhir_rpath *p)
{
	const char *q = s;

	memset(p, 0, sizeof(*p));
	if (!s || !*s)
		return DD_E_INVAL;
	for (;;) {
		const char *dot = strchr(q, '.');
		size_t n = dot ? (size_t)(dot - q) : strlen(q);
		char **nc;

		if (n == 0) {
			dd_fhir_rpath_free(p);
			return DD_E_INVAL;
		}
		nc = realloc(p->comp, (p->n + 1) * sizeof(*nc));
		if (!nc) {
			dd_fhir_rpath_free(p);
			return DD_E_NOMEM;
		}
		p->comp = nc;
		p->comp[p->n] = strndup(q, n);
		if (!p->comp[p->n]) {
			dd_fhir_rpath_free(p);
			return DD_E_NOMEM;
		}
		p->n++;
		if (!dot)
			break;
		q = dot + 1;
	}
	return DD_OK;
}

void dd_fhir_rpath_free(struct dd_fhir_rpath *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->comp[i]);
	free(p->comp);
	memset(p, 0, sizeof(*p));
}

static bool ft_name_eq(const char *c, const struct fw_slot *s)
{
	return s->name && strlen(c) == s->name_len &&
	       memcmp(c, s->name, s->name_len) == 0;
}

/* "String" names type "string"; complex types are already capitalised. */
static bool ft_type_eq(const char *c, const struct fw_slot *s)
{
	if (s->alias && strcmp(c, s->alias) == 0)
		return true;
	if (!s->type || !s->type[0] || strncmp(s->type, "ref:", 4) == 0)
		return false;
	return c[0] == toupper((unsigned char)s->type[0]) &&
	       strcmp(c + 1, s->type + 1) == 0;
}

/* "deceased" or "Deceased" */
static bool ft_base_eq(const char *c, const struct fw_slot *s)
{
	return strlen(c) == s->name_len && s->name_len &&
	       tolower((unsigned char)c[0]) == s->name[0] &&
	       memcmp(c + 1, s->name + 1, s->name_len - 1) == 0;
}

static bool ft_match(char **c, size_t k, const struct fw_slot *s, size_t m)
{
	const struct fw_slot *t;

	if (k == 0)
		return true; /* leading components dropped */
	if (m == 0)
		return false;
	t = &s[m - 1];
	if (t->kind == FW_SLOT_CHOICE_TYPE && m >= 2) {
		if (ft_name_eq(c[k - 1], t) && ft_match(c, k - 1, s, m - 2))
			return true;
		if (!ft_type_eq(c[k - 1], t))
			return false;
		if (k == 1)
			return true;
		return ft_base_eq(c[k - 2], &s[m - 2]) &&
		       ft_match(c, k - 2, s, m - 2);
	}
	if (!ft_name_eq(c[k - 1], t) && !ft_type_eq(c[k - 1], t))
		return false;
	return ft_match(c, k - 1, s, m - 1);
}

bool dd_fhir_rpath_match(const struct dd_fhir_rpath *p,
			 const struct fw_slot *slots, size_t n)
{
	return p->n && ft_match(p->comp, p->n, slots, n);
}

/* ---- test helper: a concrete path to slots --------------------------------- */

bool dd_fhir_path_matches(const char *rule, const char *path)
{
	struct fw_slot slots[64];
	struct dd_fhir_rpath rp, pp;
	const char *def;
	char defbuf[FT_PATH_MAX];
	size_t n = 0;
	bool ok = false;

	if (dd_fhir_rpath_parse(rule, &rp))
		return false;
	if (dd_fhir_rpath_parse(path, &pp)) {
		dd_fhir_rpath_free(&rp);
		return false;
	}
	def = dd_fhir_resource_type(pp.comp[0]);
	if (!def)
		def = pp.comp[0]; /* a data type path: "HumanName.given" */
	slots[n++] = (struct fw_slot){FW_SLOT_PLAIN, def, strlen(def), def,
				      NULL};
	for (size_t i = 1; i < pp.n && n + 2 < 64; i++) {
		const struct dd_fhir_elem *e =
			dd_fhir_elem_find(def, pp.comp[i], strlen(pp.comp[i]));
		const char *alias = NULL;

		if (!e)
			goto out;
		if (!strcmp(e->type, "code") && !strcmp(pp.comp[i], "gender"))
			alias = "AdministrativeGenderCode";
		if (!strcmp(e->type, "code") && !strcmp(pp.comp[i], "language"))
			alias = "LanguageCode";
		if (e->choice) {
			slots[n++] = (struct fw_slot){FW_SLOT_CHOICE_BASE,
						      e->choice,
						      strlen(e->choice), NULL,
						      NULL};
			slots[n++] = (struct fw_slot){FW_SLOT_CHOICE_TYPE,
						      pp.comp[i],
						      strlen(pp.comp[i]),
						      e->type, alias};
		} else {
			slots[n++] = (struct fw_slot){FW_SLOT_PLAIN, pp.comp[i],
						      strlen(pp.comp[i]),
						      e->type, alias};
		}
		if (!strncmp(e->type, "ref:", 4)) {
			snprintf(defbuf, sizeof(defbuf), "%s", e->type + 4);
			def = defbuf;
		} else if (!strcmp(e->type, "BackboneElement") ||
			   !strcmp(e->type, "Element")) {
			snprintf(defbuf, sizeof(defbuf), "%s", e->path);
			def = defbuf;
		} else {
			def = e->type;
		}
	}
	ok = dd_fhir_rpath_match(&rp, slots, n);
out:
	dd_fhir_rpath_free(&rp);
	dd_fhir_rpath_free(&pp);
	return ok;
}
