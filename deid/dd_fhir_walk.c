/* dd_fhir_walk.c: one resource through the rules.
 *
 * The walk follows the R4 element-type table: every member of an object is
 * looked up as "<def>.<key>" (def = the resource type, a complex type name,
 * or the backbone element's path), so each leaf knows its R4 type and the
 * complex type that holds it.  Members R4 does not know are removed.
 *
 * Per leaf, in this order:
 *  1. structural roles, always: resource id, Reference.reference, fullUrl,
 *     Bundle link/request/response URLs, ImagingStudy UIDs (a removeField
 *     rule may still remove them; no other rule changes them, so
 *     references keep resolving);
 *  2. the first policy rule (fieldMetadataList) matching the leaf or any
 *     ancestor (Google: first match wins, paths by name or type, partial,
 *     choice types as two components);
 *  3. the profile: BASIC / CLEAN_ALL classification (docs/fhir.md), or
 *     KEEP_ALL (pass through).
 * Objects and arrays left empty are removed.  json-c ownership: the walk
 * edits the tree in place; a replaced value is put by
 * json_object_object_add(), which takes over the new one.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dd_fhir_i.h"
#include "dd_json.h"
#include "dd_hash.h"
#include "dd_log.h"
#include "dd_tls.h"

#define FW_MAX_SLOTS 192
#define FW_RULE_NONE ((size_t)-1)
#define FW_IDENT_WIDTH 16

enum fw_act {
	FA_KEEP,
	FA_REMOVE,
	FA_MASK,
	FA_HASH,
	FA_SHIFT,
	FA_CLEAN,
	FA_TRANSFORM,
	FA_BIRTH,
	FA_IDENT,
};

struct fw_val {
	enum dd_info_type type;
	char *s;
};

struct fw_res {
	const char *type;         /* resourceType (static) */
	char key[DD_INDEX_KEY_MAX]; /* patient key */
	int shift;
	int ref_year;             /* age reference year */
	bool contained;
	struct dd_index_patient *pat;    /* malloc'd (dd_index_lookup) */
	struct dd_index_patient **people; /* referenced people, malloc'd */
	size_t n_people;
	bool people_owned;                /* also owns pat */
	json_object *link_ident;          /* the linking Identifier, if chosen
					   * by a DICOM PatientID */
	const char *pat_ref;              /* the reference pat came from */
	struct fw_val *vals;      /* own identifying values (person resources) */
	size_t n_vals;
	bool vals_owned;
	struct dd_text_ctx *tctx; /* lazily created */
	bool tctx_owned;
	bool tctx_cached;         /* tctx is the thread's cached one */
	bool tctx_failed;
};

struct fw {
	const struct dd_fhir *f;
	const struct dd_policy *pol;
	const struct dd_index *local;
	size_t n_slots;
	struct fw_res *res;
	enum fw_status st;
	unsigned ext_keep; /* > 0 inside a kept extension */
	/* per Identifier / Reference object being walked */
	bool ident_linking, ident_uid, ref_person;
	char ident_system[256];
	struct dd_buf tmp;
	/* last: fw_init clears what comes before (7.7 KB of slots per
	 * resource otherwise); only slots[0..n_slots) are ever read */
	struct fw_slot slots[FW_MAX_SLOTS];
};

/* ---- small helpers ----------------------------------------------------------- */

/* strcmp(a, b) == 0 (both non-NULL), the first byte compared inline:
 * most comparisons of the walk fail there. */
static inline bool fw_eq(const char *a, const char *b)
{
	return a[0] == b[0] && strcmp(a, b) == 0;
}

static bool fw_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool fw_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (fw_eq(s, *list))
			return true;
	return false;
}

/* ---- classes of R4 types ------------------------------------------------------
 *
 * Every member asks of its element's R4 type whether it is a boolean, a
 * number, a date, Extension, Resource, a backbone... (strcmp chains per
 * member and per leaf).  The answers for the table's elements are taken
 * once, into an array parallel to dd_fhir_elems; an element made up by
 * the walk itself is classified from its type each time.
 */
enum {
	FW_T_BOOL = 1u << 0,
	FW_T_NUMBER = 1u << 1,     /* integer, decimal, positive-, unsignedInt */
	FW_T_DATE = 1u << 2,       /* date, dateTime, instant */
	FW_T_DATE_ONLY = 1u << 3,  /* "date" */
	FW_T_STRING = 1u << 4,
	FW_T_TEXT = 1u << 5,       /* markdown, xhtml */
	FW_T_B64 = 1u << 6,        /* base64Binary */
	FW_T_CODE = 1u << 7,
	FW_T_EXT = 1u << 8,        /* Extension */
	FW_T_RESOURCE = 1u << 9,
	FW_T_BACKBONE = 1u << 10,  /* BackboneElement, Element */
	FW_T_REF = 1u << 11,       /* "ref:<path>" */
	FW_T_ATTACHMENT = 1u << 12,
	FW_T_XHTML = 1u << 13,
	FW_T_ID = 1u << 14,        /* "id" */
	FW_T_IDENTIFIER = 1u << 15,
	FW_T_REFERENCE = 1u << 16,
	FW_T_AGE = 1u << 17,
};

/* R4 type names and their classes ("ref:<path>" is the one prefix) */
static const struct {
	const char *type;
	unsigned cls;
} fw_type_classes[] = {
	{"boolean", FW_T_BOOL},
	{"integer", FW_T_NUMBER},
	{"decimal", FW_T_NUMBER},
	{"positiveInt", FW_T_NUMBER},
	{"unsignedInt", FW_T_NUMBER},
	{"date", FW_T_DATE | FW_T_DATE_ONLY},
	{"dateTime", FW_T_DATE},
	{"instant", FW_T_DATE},
	{"string", FW_T_STRING},
	{"markdown", FW_T_TEXT},
	{"xhtml", FW_T_TEXT | FW_T_XHTML},
	{"base64Binary", FW_T_B64},
	{"code", FW_T_CODE},
	{"Extension", FW_T_EXT},
	{"Resource", FW_T_RESOURCE},
	{"BackboneElement", FW_T_BACKBONE},
	{"Element", FW_T_BACKBONE},
	{"Attachment", FW_T_ATTACHMENT},
	{"id", FW_T_ID},
	{"Identifier", FW_T_IDENTIFIER},
	{"Reference", FW_T_REFERENCE},
	{"Age", FW_T_AGE},
};

static unsigned fw_type_class(const char *t)
{
	if (!strncmp(t, "ref:", 4))
		return FW_T_REF;
	for (size_t i = 0; i < sizeof(fw_type_classes) /
				       sizeof(fw_type_classes[0]); i++)
		if (fw_eq(t, fw_type_classes[i].type))
			return fw_type_classes[i].cls;
	return 0;
}

static uint32_t *fw_tclass; /* per element of dd_fhir_elems; NULL: none */
static pthread_once_t fw_tclass_once = PTHREAD_ONCE_INIT;

static void fw_hot_init(void);

static void fw_tclass_init(void)
{
	uint32_t *c = malloc(dd_fhir_n_elems * sizeof(*c));

	fw_hot_init();
	if (!c)
		return; /* classified one by one */
	for (size_t i = 0; i < dd_fhir_n_elems; i++)
		c[i] = fw_type_class(dd_fhir_elems[i].type);
	fw_tclass = c;
}

/* Called by dd_fhir_new: the array exists before any engine does, so a
 * walk (which has an engine) reads it without synchronising again. */
void dd_fhir_walk_prepare(void)
{
	pthread_once(&fw_tclass_once, fw_tclass_init);
}

static inline unsigned fw_elem_class(const struct dd_fhir_elem *e)
{
	uintptr_t a = (uintptr_t)e, b = (uintptr_t)dd_fhir_elems;

	if (fw_tclass && a >= b &&
	    a < (uintptr_t)(dd_fhir_elems + dd_fhir_n_elems))
		return fw_tclass[(a - b) / sizeof(*e)];
	return fw_type_class(e->type);
}

/* The members the walk asks for most (per Reference, Identifier and
 * resource), with their constant spelling (dd_json_const_key, taken by
 * dd_fhir_walk_prepare): fw_get finds them by address.  A key is matched
 * here by its address only, so a key that is not one of these literals
 * (another spelling, a key from a tree) is looked up by json-c. */
static const char *const fw_hot[] = {"reference", "type", "system",
				     "resourceType", "value", "url"};
static const char *fw_hot_ck[sizeof(fw_hot) / sizeof(fw_hot[0])];

static void fw_hot_init(void)
{
	for (size_t i = 0; i < sizeof(fw_hot) / sizeof(fw_hot[0]); i++)
		fw_hot_ck[i] = dd_json_const_key(fw_hot[i]);
}

static json_object *fw_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	for (size_t i = 0; i < sizeof(fw_hot) / sizeof(fw_hot[0]); i++)
		if (key == fw_hot[i] && fw_hot_ck[i])
			return dd_json_get(o, key, fw_hot_ck[i]);
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *fw_get_str(json_object *o, const char *key)
{
	json_object *v = fw_get(o, key);

	return v && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static json_object *fw_first(json_object *v)
{
	if (v && json_object_is_type(v, json_type_array))
		return json_object_array_length(v)
			       ? json_object_array_get_idx(v, 0)
			       : NULL;
	return v;
}

dd_err dd_fhir_serialise(struct json_object *o, struct dd_buf *out)
{
	return dd_json_write(o, out);
}

/* ---- pseudonym memo -----------------------------------------------------------
 *
 * Each mapped id and each date shift is an HMAC (a few microseconds with
 * OpenSSL's one-shot API), and bulk NDJSON repeats them: an Observation's
 * subject and encounter are those of the lines before it.  The memo is
 * direct-mapped, per thread (no locks, no sharing), and keyed by the
 * engine's serial, so it returns exactly what dd_pseudo computes for this
 * engine: entries of an engine that was freed never match (serials are
 * not reused; 0, an engine not from dd_fhir_new, bypasses the memo).
 */
#define FW_MEMO_SLOTS 64
#define FW_MEMO_KEY 128

struct fw_memo_ent {
	uint64_t serial; /* 0: empty */
	uint8_t kind;    /* 1: fhir id, 2: shift days */
	uint16_t len;    /* key bytes */
	char key[FW_MEMO_KEY];
	char id[33];
	int days;
};

static _Thread_local struct fw_memo_ent fw_memo[FW_MEMO_SLOTS];

/* The slot for @kind/@key, and whether it holds that key. */
static struct fw_memo_ent *fw_memo_slot(const struct dd_fhir *f, uint8_t kind,
					const char *key, size_t len, bool *hit)
{
	uint64_t h = dd_hash_slot(1469598103934665603ull ^ kind, key, len);
	struct fw_memo_ent *m;

	m = &fw_memo[h % FW_MEMO_SLOTS];
	*hit = m->serial == f->serial && m->kind == kind && m->len == len &&
	       !memcmp(m->key, key, len);
	return m;
}

void dd_fhir_memo_fhir_id(const struct dd_fhir *f, const char *type,
			  const char *id, char out[33])
{
	size_t tl = type ? strlen(type) : 0, il = strlen(id);
	char key[FW_MEMO_KEY];
	struct fw_memo_ent *m;
	bool hit;

	if (!f->serial || tl + 1 + il > sizeof(key)) {
		dd_pseudo_fhir_id(f->pseudo, type, id, out);
		return;
	}
	memcpy(key, type ? type : "", tl);
	key[tl] = 0; /* neither a type nor an id holds a NUL */
	memcpy(key + tl + 1, id, il);
	m = fw_memo_slot(f, 1, key, tl + 1 + il, &hit);
	if (!hit) {
		dd_pseudo_fhir_id(f->pseudo, type, id, m->id);
		m->serial = f->serial;
		m->kind = 1;
		m->len = (uint16_t)(tl + 1 + il);
		memcpy(m->key, key, m->len);
	}
	memcpy(out, m->id, 33);
}

dd_err dd_fhir_memo_shift_days(const struct dd_fhir *f, const char *key,
			       size_t len, int *days)
{
	const struct dd_policy *pol = f->pol;
	struct fw_memo_ent *m;
	bool hit;
	dd_err e;

	if (!f->serial || len > FW_MEMO_KEY || memchr(key, 0, len))
		return dd_pseudo_shift_days(&f->shift_pseudo, key, len,
					    pol->deidfs.date_shift_min,
					    pol->deidfs.date_shift_max, days);
	m = fw_memo_slot(f, 2, key, len, &hit);
	if (hit) {
		*days = m->days;
		return DD_OK;
	}
	e = dd_pseudo_shift_days(&f->shift_pseudo, key, len,
				 pol->deidfs.date_shift_min,
				 pol->deidfs.date_shift_max, days);
	if (e)
		return e;
	m->serial = f->serial;
	m->kind = 2;
	m->len = (uint16_t)len;
	memcpy(m->key, key, len);
	m->days = *days;
	return DD_OK;
}

/* ---- the patient ------------------------------------------------------------ */

static bool fw_ident_is_linking(const struct dd_policy *pol, json_object *ident)
{
	const struct dd_strv *types = &pol->deidfs.linking_identifier_types;
	json_object *codings = fw_get(fw_get(ident, "type"), "coding");
	size_t n;

	if (!codings || !json_object_is_type(codings, json_type_array))
		return false;
	n = json_object_array_length(codings);
	for (size_t i = 0; i < n; i++) {
		const char *code =
			fw_get_str(json_object_array_get_idx(codings, i), "code");

		if (!code)
			continue;
		if (types->n == 0 && fw_eq(code, "MR"))
			return true;
		for (size_t k = 0; k < types->n; k++)
			if (fw_eq(code, types->v[k]))
				return true;
	}
	return false;
}

size_t dd_fhir_patient_key(const struct dd_policy *pol,
			   struct json_object *patient,
			   const struct dd_index *x, struct json_object **chosen,
			   char *out, size_t outlen)
{
	json_object *ids = fw_get(patient, "identifier");
	const char *id = fw_get_str(patient, "id");
	json_object *best = NULL;
	const char *best_sys = NULL;
	char best_key[DD_INDEX_KEY_MAX], key[DD_INDEX_KEY_MAX];

	if (chosen)
		*chosen = NULL;
	if (ids && json_object_is_type(ids, json_type_array)) {
		size_t n = json_object_array_length(ids);

		for (size_t i = 0; i < n; i++) {
			json_object *it = json_object_array_get_idx(ids, i);
			const char *val = fw_get_str(it, "value");
			size_t k;

			if (!val || !fw_ident_is_linking(pol, it))
				continue;
			k = dd_patient_key(fw_get_str(it, "system"), val, out,
					   outlen);
			if (k > 3) { /* "id:" and a value */
				if (chosen)
					*chosen = it;
				return k;
			}
		}
		/* no MR: the identifier equal to a DICOM PatientID of the
		 * tree; several: the smallest (system, value) */
		for (size_t i = 0; dd_index_n_dicom(x) && i < n; i++) {
			json_object *it = json_object_array_get_idx(ids, i);
			const char *val = fw_get_str(it, "value");
			const char *sys = fw_get_str(it, "system");
			size_t k;
			int c;

			if (!val)
				continue;
			k = dd_patient_key(sys, val, key, sizeof(key));
			if (k <= 3 || !dd_index_dicom_has(x, key, k))
				continue;
			c = best ? strcmp(sys ? sys : "", best_sys ? best_sys : "")
				 : -1;
			if (!best || c < 0 || (c == 0 && strcmp(key, best_key) < 0)) {
				best = it;
				best_sys = sys;
				memcpy(best_key, key, k + 1);
			}
		}
		if (best) {
			if (chosen)
				*chosen = best;
			return (size_t)snprintf(out, outlen, "%s", best_key) < outlen
				       ? strlen(best_key)
				       : 0;
		}
	}
	if (id && *id) {
		int k = snprintf(out, outlen, "ref:Patient/%s", id);

		return k > 0 && (size_t)k < outlen ? (size_t)k : 0;
	}
	return 0;
}

/* ---- identifying values of a person resource ------------------------------ */

static void fw_collect_str(json_object *o, const char *key,
			   enum dd_info_type t, fw_add_fn add, void *ctx)
{
	json_object *v = fw_get(o, key);

	if (!v)
		return;
	if (json_object_is_type(v, json_type_string)) {
		add(ctx, t, json_object_get_string(v));
	} else if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);

		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);

			if (e && json_object_is_type(e, json_type_string))
				add(ctx, t, json_object_get_string(e));
		}
	}
}

static void fw_collect_each(json_object *arr, void (*one)(json_object *,
							    fw_add_fn, void *),
			    fw_add_fn add, void *ctx)
{
	if (!arr)
		return;
	if (!json_object_is_type(arr, json_type_array)) {
		one(arr, add, ctx);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		one(json_object_array_get_idx(arr, i), add, ctx);
}

static void fw_collect_name(json_object *n, fw_add_fn add, void *ctx)
{
	fw_collect_str(n, "text", DD_IT_PERSON_NAME, add, ctx);
	fw_collect_str(n, "family", DD_IT_LAST_NAME, add, ctx);
	fw_collect_str(n, "given", DD_IT_FIRST_NAME, add, ctx);
}

static void fw_collect_telecom(json_object *t, fw_add_fn add, void *ctx)
{
	const char *sys = fw_get_str(t, "system");

	fw_collect_str(t, "value",
		       fw_streq(sys, "email") ? DD_IT_EMAIL_ADDRESS
		       : fw_streq(sys, "url") ? DD_IT_URL
					      : DD_IT_PHONE_NUMBER,
		       add, ctx);
}

static void fw_collect_address(json_object *a, fw_add_fn add, void *ctx)
{
	fw_collect_str(a, "text", DD_IT_STREET_ADDRESS, add, ctx);
	fw_collect_str(a, "line", DD_IT_STREET_ADDRESS, add, ctx);
	fw_collect_str(a, "city", DD_IT_LOCATION, add, ctx);
	fw_collect_str(a, "district", DD_IT_LOCATION, add, ctx);
	fw_collect_str(a, "postalCode", DD_IT_US_ZIP, add, ctx);
}

static void fw_collect_ident(json_object *i, fw_add_fn add, void *ctx)
{
	fw_collect_str(i, "value", DD_IT_MEDICAL_RECORD_NUMBER, add, ctx);
}

static void fw_collect_contact(json_object *c, fw_add_fn add, void *ctx)
{
	fw_collect_each(fw_get(c, "name"), fw_collect_name, add, ctx);
	fw_collect_each(fw_get(c, "telecom"), fw_collect_telecom, add, ctx);
	fw_collect_each(fw_get(c, "address"), fw_collect_address, add, ctx);
}

void dd_fhir_collect_values(json_object *res, fw_add_fn add, void *ctx)
{
	const char *bd = fw_get_str(res, "birthDate");

	fw_collect_each(fw_get(res, "name"), fw_collect_name, add, ctx);
	fw_collect_each(fw_get(res, "telecom"), fw_collect_telecom, add, ctx);
	fw_collect_each(fw_get(res, "address"), fw_collect_address, add, ctx);
	fw_collect_each(fw_get(res, "identifier"), fw_collect_ident, add, ctx);
	fw_collect_each(fw_get(res, "contact"), fw_collect_contact, add, ctx);
	if (bd && strlen(bd) >= 10) {
		char d[9];

		memcpy(d, bd, 4);
		memcpy(d + 4, bd + 5, 2);
		memcpy(d + 6, bd + 8, 2);
		d[8] = 0;
		add(ctx, DD_IT_DATE_OF_BIRTH, d);
		add(ctx, DD_IT_DATE_OF_BIRTH, bd);
	}
}

static void fw_res_add_val(void *ctx, enum dd_info_type t, const char *s)
{
	struct fw_res *r = ctx;
	struct fw_val *nv;
	size_t n = strlen(s);

	if (n < 2 || n > DD_INDEX_VALUE_MAX || r->n_vals >= DD_INDEX_MAX_VALUES)
		return;
	nv = realloc(r->vals, (r->n_vals + 1) * sizeof(*nv));
	if (!nv)
		return;
	r->vals = nv;
	r->vals[r->n_vals].type = t;
	r->vals[r->n_vals].s = strdup(s);
	if (r->vals[r->n_vals].s)
		r->n_vals++;
}

/* ---- text contexts ------------------------------------------------------------
 *
 * Building a resource's text context (every spelling of every value of its
 * patient and people) costs about as much as cleaning its note, and the
 * consecutive resources of one patient in bulk NDJSON build the same one.
 * Each thread keeps the last context built with its inputs: the shift and
 * the values in the order they are added, which is everything a
 * dd_text_ctx depends on; a resource with the same inputs borrows it
 * instead.  A context is read-only once built (dd_text_clean takes it
 * const).  One resource borrows it at a time: a resource walked inside
 * another (a Bundle's entries) while it is borrowed builds its own.  The
 * context is freed when the thread exits.
 */
struct fw_tcache {
	struct dd_text_ctx *ctx;
	struct dd_buf sig;  /* inputs of ctx */
	struct dd_buf want; /* inputs of the context being asked for */
	bool busy;          /* borrowed by a resource */
};

#define FW_TCACHE_SIG_MAX ((size_t)1 << 20)

static void fw_tc_free(void *p)
{
	struct fw_tcache *tc = p;

	dd_text_ctx_free(tc->ctx);
	dd_buf_free(&tc->sig);
	dd_buf_free(&tc->want);
	free(tc);
}

static void fw_tc_init(void *p)
{
	struct fw_tcache *tc = p;

	dd_buf_init(&tc->sig, FW_TCACHE_SIG_MAX);
	dd_buf_init(&tc->want, FW_TCACHE_SIG_MAX);
}

static struct dd_tls fw_tc_tls =
	DD_TLS_INIT(sizeof(struct fw_tcache), fw_tc_init, fw_tc_free);

static struct fw_tcache *fw_tcache(void)
{
	return dd_tls_get(&fw_tc_tls);
}

static void fw_tcache_return(void)
{
	struct fw_tcache *tc = dd_tls_peek(&fw_tc_tls);

	if (tc)
		tc->busy = false;
}

static bool fw_sig_val(struct dd_buf *b, enum dd_info_type t, const char *s)
{
	return !dd_buf_addc(b, (char)t) && !dd_buf_add(b, s, strlen(s) + 1);
}

/* The inputs of @r's text context into @b, in the order fw_tctx adds
 * them; false when they do not fit. */
static bool fw_tctx_sig(const struct fw_res *r, struct dd_buf *b)
{
	dd_buf_reset(b);
	if (dd_buf_add(b, &r->shift, sizeof(r->shift)))
		return false;
	for (size_t i = 0; r->pat && i < r->pat->n_values; i++)
		if (!fw_sig_val(b, r->pat->values[i].type, r->pat->values[i].s))
			return false;
	if (dd_buf_addc(b, 0))
		return false;
	for (size_t i = 0; i < r->n_vals; i++)
		if (!fw_sig_val(b, r->vals[i].type, r->vals[i].s))
			return false;
	for (size_t k = 0; k < r->n_people; k++) {
		if (dd_buf_addc(b, 0))
			return false;
		for (size_t i = 0; i < r->people[k]->n_values; i++)
			if (!fw_sig_val(b, r->people[k]->values[i].type,
					r->people[k]->values[i].s))
				return false;
	}
	return true;
}

static void fw_res_release(struct fw_res *r)
{
	if (r->people_owned) {
		for (size_t i = 0; i < r->n_people; i++)
			free(r->people[i]);
		free(r->people);
		free(r->pat);
	}
	if (r->vals_owned) {
		for (size_t i = 0; i < r->n_vals; i++)
			free(r->vals[i].s);
		free(r->vals);
	}
	if (r->tctx_owned)
		dd_text_ctx_free(r->tctx);
	if (r->tctx_cached)
		fw_tcache_return();
}

/* The text context of the current resource, created on first use (or
 * borrowed from the thread's cache). */
static struct dd_text_ctx *fw_tctx(struct fw *w)
{
	struct fw_res *r = w->res;
	struct fw_tcache *tc;
	struct dd_text_ctx *c;
	bool keep;

	if (r->tctx || r->tctx_failed)
		return r->tctx;
	tc = fw_tcache();
	keep = tc && !tc->busy && fw_tctx_sig(r, &tc->want);
	if (keep && tc->ctx && tc->sig.len == tc->want.len &&
	    !memcmp(tc->sig.data, tc->want.data, tc->want.len)) {
		tc->busy = true;
		r->tctx = tc->ctx;
		r->tctx_cached = true;
		return r->tctx;
	}
	if (dd_text_ctx_new(&c)) {
		r->tctx_failed = true;
		return NULL;
	}
	dd_text_ctx_set_shift(c, r->shift);
	for (size_t i = 0; r->pat && i < r->pat->n_values; i++)
		dd_text_ctx_add(c, r->pat->values[i].type, r->pat->values[i].s,
				strlen(r->pat->values[i].s));
	for (size_t i = 0; i < r->n_vals; i++)
		dd_text_ctx_add(c, r->vals[i].type, r->vals[i].s,
				strlen(r->vals[i].s));
	for (size_t k = 0; k < r->n_people; k++)
		for (size_t i = 0; i < r->people[k]->n_values; i++)
			dd_text_ctx_add(c, r->people[k]->values[i].type,
					r->people[k]->values[i].s,
					strlen(r->people[k]->values[i].s));
	r->tctx = c;
	if (keep) {
		struct dd_buf t = tc->sig;

		dd_text_ctx_free(tc->ctx);
		tc->ctx = c;
		tc->sig = tc->want; /* swap: no copy */
		tc->want = t;
		tc->busy = true;
		r->tctx_cached = true;
	} else {
		r->tctx_owned = true;
	}
	return c;
}

/* ---- pseudonyms ----------------------------------------------------------- */

static bool fw_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static void fw_uuid(const struct dd_fhir *f, const char *s, size_t n,
		    char out[37])
{
	uint8_t mac[32];
	char buf[128];
	size_t k = n < sizeof(buf) ? n : sizeof(buf);

	for (size_t i = 0; i < k; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	if (n > sizeof(buf)) { /* long: hash it all */
		dd_pseudo_mac(f->pseudo, DD_DOM_FHIR_ID, s, n, mac);
	} else {
		dd_pseudo_mac(f->pseudo, DD_DOM_FHIR_ID, buf, k, mac);
	}
	mac[6] = (uint8_t)((mac[6] & 0x0f) | 0x40);
	mac[8] = (uint8_t)((mac[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mac[6], mac[7],
		 mac[8], mac[9], mac[10], mac[11], mac[12], mac[13], mac[14],
		 mac[15]);
}

/* A base URL ("http://host/fhir/") becomes "https://<12 hex>.deidfs.invalid/
 * fhir/": distinct bases stay distinct, the host name goes. */
static dd_err fw_base(const struct dd_fhir *f, const char *s, size_t n,
		      struct dd_buf *out)
{
	uint8_t mac[32];

	dd_pseudo_mac(f->pseudo, DD_DOM_FHIR_ID, s, n, mac);
	return dd_buf_addf(out, "https://%02x%02x%02x%02x%02x%02x.deidfs.invalid/fhir/",
			   mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

enum { FR_REF, FR_LINK, FR_REQUEST };

/* Map a reference-like URL; false: drop it.  @mode: FR_REF (references,
 * fullUrl, response.location), FR_LINK (Bundle.link.url: query dropped),
 * FR_REQUEST (request.url: query dropped, relative kept relative). */
static bool fw_map_url1(struct fw *w, const char *s, size_t n, int mode,
			struct dd_buf *out)
{
	const struct dd_fhir *f = w->f;
	const char *q = memchr(s, '?', n);
	size_t pn = q ? (size_t)(q - s) : n;  /* path part */
	const char *comp[4];
	size_t clen[4], nc = 0, end = pn;
	size_t hist = 0; /* 1 when "/_history/v" follows */
	char id[33];

	if (memchr(s, 0, n))
		return false;
	if (n && s[0] == '#')
		return mode == FR_REF && dd_buf_add(out, s, n) == DD_OK;
	if (n > 9 && !strncasecmp(s, "urn:uuid:", 9)) {
		char u[37];

		if (q)
			return false;
		fw_uuid(f, s, n, u);
		return dd_buf_addf(out, "urn:uuid:%s", u) == DD_OK;
	}
	if (n > 8 && !strncasecmp(s, "urn:oid:", 8)) {
		char uid[65], tmp[65];
		size_t k = n - 8 < 64 ? n - 8 : 64;

		if (q)
			return false;
		memcpy(tmp, s + 8, k);
		tmp[k] = 0;
		dd_pseudo_uid(f->pseudo, tmp, k, uid);
		return dd_buf_addf(out, "urn:oid:%s", uid) == DD_OK;
	}
	if (q && mode == FR_REF)
		return false; /* conditional reference: dropped */
	/* the last (up to) four path components */
	while (nc < 4 && end > 0) {
		size_t st = end;

		while (st > 0 && s[st - 1] != '/')
			st--;
		comp[nc] = s + st;
		clen[nc] = end - st;
		nc++;
		if (st == 0) {
			end = 0;
			break;
		}
		end = st - 1;
	}
	/* comp[0] is last.  Forms: Type/id, Type/id/_history/v, Type */
	for (size_t k = 0; k + 1 < nc; k++) {
		const char *rt;
		size_t tpos;

		if (k != 0 && k != 2)
			continue;
		if (k == 2 && !(clen[1] == 8 && !memcmp(comp[1], "_history", 8)))
			continue;
		if (clen[k + 1] >= 64)
			continue;
		rt = dd_fhir_resource_type_n(comp[k + 1], clen[k + 1]);
		if (!rt || !fw_id_valid(comp[k], clen[k]))
			continue;
		if (k == 2 && !fw_id_valid(comp[0], clen[0]))
			continue;
		hist = k == 2;
		tpos = (size_t)(comp[k + 1] - s);
		if (tpos > 0 && fw_base(f, s, tpos, out))
			return false;
		{
			char idb[65];

			memcpy(idb, comp[k], clen[k]);
			idb[clen[k]] = 0;
			dd_fhir_memo_fhir_id(f, rt, idb, id);
		}
		if (dd_buf_adds(out, rt) || dd_buf_addc(out, '/') ||
		    dd_buf_adds(out, id)) /* not addf: every reference */
			return false;
		if (hist && dd_buf_addf(out, "/_history/%.*s", (int)clen[0],
					comp[0]))
			return false;
		return true;
	}
	if (mode == FR_REF)
		return false;
	/* "Type" or "<base>/Type" or "<base>" (links, request URLs) */
	{
		char type[64];
		const char *rt = NULL;
		size_t tpos = pn;

		if (nc && clen[0] < sizeof(type)) {
			memcpy(type, comp[0], clen[0]);
			type[clen[0]] = 0;
			rt = dd_fhir_resource_type(type);
			if (rt)
				tpos = (size_t)(comp[0] - s);
		}
		if (tpos > 0 && (mode == FR_LINK || memmem(s, pn, "://", 3)) &&
		    fw_base(f, s, tpos, out))
			return false;
		if (mode == FR_REQUEST && pn > 1 && s[0] == '$' &&
		    !memchr(s, '/', pn))
			return dd_buf_add(out, s, pn) == DD_OK; /* an operation */
		if (tpos > 0 && mode == FR_REQUEST && !memmem(s, pn, "://", 3))
			return false;
		if (rt && dd_buf_adds(out, rt))
			return false;
		return out->len > 0;
	}
}

/* fw_map_url1's answer is a function of the engine (its keys), the mode
 * and the URL's bytes when @out starts empty, and bulk NDJSON maps the
 * same references line after line (a patient's, an encounter's): each
 * time a split, a type lookup, an id check and a pseudonym from fw_memo.
 * The thread's last FW_UMEMO_SLOTS answers are kept whole, keyed like
 * fw_memo by the engine's serial; URLs over FW_UMEMO_KEY bytes, answers
 * over FW_UMEMO_OUT and failures are not kept. */
#define FW_UMEMO_SLOTS 64
#define FW_UMEMO_KEY 96
#define FW_UMEMO_OUT 128

struct fw_umemo_ent {
	uint64_t serial; /* 0: empty */
	uint8_t mode;
	uint8_t len;
	uint8_t olen;
	char key[FW_UMEMO_KEY];
	char out[FW_UMEMO_OUT];
};

static _Thread_local struct fw_umemo_ent fw_umemo[FW_UMEMO_SLOTS];

static bool fw_map_url(struct fw *w, const char *s, size_t n, int mode,
		       struct dd_buf *out)
{
	const struct dd_fhir *f = w->f;
	struct fw_umemo_ent *m;

	if (!f->serial || n > FW_UMEMO_KEY || out->len)
		return fw_map_url1(w, s, n, mode, out);
	m = &fw_umemo[dd_hash_slot(0x452821E638D01377ull ^ (unsigned)mode, s,
				   n) %
		      FW_UMEMO_SLOTS];
	if (m->serial == f->serial && m->mode == mode && m->len == n &&
	    !memcmp(m->key, s, n))
		return dd_buf_add(out, m->out, m->olen) == DD_OK;
	if (!fw_map_url1(w, s, n, mode, out))
		return false;
	m->serial = 0;
	if (out->len <= FW_UMEMO_OUT) {
		memcpy(m->key, s, n);
		memcpy(m->out, out->data, out->len);
		m->mode = (uint8_t)mode;
		m->len = (uint8_t)n;
		m->olen = (uint8_t)out->len;
		m->serial = f->serial;
	}
	return true;
}

/* ---- dates ------------------------------------------------------------------ */

static bool fw_shift(const char *s, size_t n, int days, char *out,
		     size_t outlen)
{
	/* the bytes a FHIR date, dateTime or instant may hold */
	static const bool ok[256] = {
		['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
		['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
		['-'] = 1, ['T'] = 1, [':'] = 1, ['.'] = 1, ['+'] = 1,
		['Z'] = 1,
	};

	if (n < 4 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ok[(unsigned char)s[i]])
			return false;
	return dd_date_shift_fhir(s, days, out, outlen) == DD_OK;
}

/* ---- text -------------------------------------------------------------------- */

struct fw_clean_ctx {
	struct fw *w;
};

/* The first position >= @i where @c or @d (may be equal) occurs in the
 * @n bytes at @p, or @n. */
static size_t fw_next2(const uint8_t *p, size_t i, size_t n, uint8_t c,
		       uint8_t d)
{
	const uint8_t *x = i < n ? memchr(p + i, c, n - i) : NULL;
	size_t k = x ? (size_t)(x - p) : n;

	if (d != c && k > i) {
		const uint8_t *y = memchr(p + i, d, k - i);

		if (y)
			k = (size_t)(y - p);
	}
	return k;
}

/* Replace each whole-token, case-insensitive occurrence of @v in @b from
 * @from with "[@name]".  Most values never occur: candidates are found
 * with memchr on the first letter (either case) before strncasecmp, and
 * the token is only formatted on a match. */
static bool fw_sweep_one(struct dd_buf *b, size_t from, const char *v,
			 const char *name)
{
	size_t vl = strlen(v), tl = 0;
	unsigned char lo, up;
	char tok[48];

	if (vl < 4)
		return true;
	lo = (unsigned char)tolower((unsigned char)v[0]);
	up = (unsigned char)toupper((unsigned char)v[0]);
	for (size_t i = from; i + vl <= b->len; i++) {
		i = fw_next2(b->data, i, b->len - vl + 1, lo, up);
		if (i + vl > b->len)
			break;
		if (strncasecmp((const char *)b->data + i, v, vl))
			continue;
		if (i > from && isalnum(b->data[i - 1]))
			continue;
		if (i + vl < b->len && isalnum(b->data[i + vl]))
			continue;
		if (!tl) {
			snprintf(tok, sizeof(tok), "[%s]", name);
			tl = strlen(tok);
		}
		if (dd_buf_reserve(b, tl > vl ? tl - vl : 0))
			return false;
		memmove(b->data + i + tl, b->data + i + vl, b->len - i - vl + 1);
		memcpy(b->data + i, tok, tl);
		b->len = b->len + tl - vl;
		i += tl - 1;
	}
	return true;
}

/* A literal pass after the detector: any identifying value of the
 * resource's people still present verbatim (case-insensitive, as a whole
 * token) is replaced too.  Defence in depth for spellings the detector's
 * contextual matching does not cover, e.g. "(03) 5555 6473". */
static bool fw_sweep(struct fw *w, struct dd_buf *b, size_t from,
		     unsigned flags)
{
	const struct fw_res *r = w->res;

	for (int pass = 0; pass < 3; pass++) {
		const struct dd_index_patient *p = pass == 0 ? r->pat : NULL;
		size_t n = pass == 2 ? r->n_vals : p ? p->n_values : 0;

		if (pass == 1) {
			for (size_t k = 0; k < r->n_people; k++)
				for (size_t i = 0; i < r->people[k]->n_values; i++) {
					const struct dd_index_value *v =
						&r->people[k]->values[i];

					if (!fw_sweep_one(b, from, v->s,
							  flags & DD_TEXT_CTX_TOKEN
								  ? "CTX"
								  : dd_info_type_name(v->type)))
						return false;
				}
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			enum dd_info_type t = pass == 2 ? r->vals[i].type
							: p->values[i].type;
			const char *v = pass == 2 ? r->vals[i].s : p->values[i].s;

			if (!fw_sweep_one(b, from, v,
					  flags & DD_TEXT_CTX_TOKEN
						  ? "CTX"
						  : dd_info_type_name(t)))
				return false;
		}
	}
	return true;
}

/* Replace @n bytes at @i of @b with @rep. */
static bool fw_splice(struct dd_buf *b, size_t i, size_t n, const char *rep,
		      size_t rl)
{
	if (rl > n && dd_buf_reserve(b, rl - n))
		return false;
	memmove(b->data + i + rl, b->data + i + n, b->len - i - n + 1);
	memcpy(b->data + i, rep, rl);
	b->len = b->len + rl - n;
	return true;
}

static bool fw_id_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.';
}

/* Resource ids named in free text ("see Practitioner/123", "urn:uuid:...")
 * get the same keyed mapping as references, so narrative and structure
 * keep agreeing and the original ids go. */
static bool fw_sweep_refs(struct fw *w, struct dd_buf *b, size_t from)
{
	for (size_t i = from; i < b->len; i++) {
		char *s = (char *)b->data;

		if (s[i] == '/') {
			size_t ts = i, ie = i + 1;
			char type[64], idb[65], id[33], rep[100];
			const char *rt;

			while (ts > from && isalpha((unsigned char)s[ts - 1]))
				ts--;
			if (ts == i || i - ts >= sizeof(type) ||
			    (ts > from && (isdigit((unsigned char)s[ts - 1]) ||
					   s[ts - 1] == '_')))
				continue;
			while (ie < b->len && fw_id_char(s[ie]))
				ie++;
			while (ie > i + 1 && s[ie - 1] == '.')
				ie--; /* end of a sentence */
			if (ie == i + 1 || ie - i - 1 > 64)
				continue;
			memcpy(type, s + ts, i - ts);
			type[i - ts] = 0;
			rt = dd_fhir_resource_type(type);
			if (!rt)
				continue;
			memcpy(idb, s + i + 1, ie - i - 1);
			idb[ie - i - 1] = 0;
			dd_fhir_memo_fhir_id(w->f, rt, idb, id);
			snprintf(rep, sizeof(rep), "%s/%s", rt, id);
			if (!fw_splice(b, ts, ie - ts, rep, strlen(rep)))
				return false;
			i = ts + strlen(rep) - 1;
		} else if ((s[i] == 'u' || s[i] == 'U') && b->len - i > 9 + 36 &&
			   !strncasecmp(s + i, "urn:uuid:", 9) &&
			   (i == from || !isalnum((unsigned char)s[i - 1]))) {
			size_t ue = i + 9;
			char u[37], rep[46];

			while (ue < b->len && (isxdigit((unsigned char)s[ue]) ||
					       s[ue] == '-'))
				ue++;
			if (ue - i - 9 != 36)
				continue;
			fw_uuid(w->f, s + i, ue - i, u);
			snprintf(rep, sizeof(rep), "urn:uuid:%s", u);
			if (!fw_splice(b, i, ue - i, rep, strlen(rep)))
				return false;
			i += strlen(rep) - 1;
		}
	}
	return true;
}

/* Clean free text into @out; false: the caller must not keep it. */
static bool fw_clean_text(void *vctx, const char *s, size_t n,
			  struct dd_buf *out)
{
	struct fw *w = vctx;
	struct dd_text_ctx *c;
	unsigned flags = w->pol->fhir.contextual_deid ? DD_TEXT_CTX_TOKEN : 0;
	size_t before = out->len;

	if (!w->pol->deidfs.inspect_free_text || !w->f->text)
		return false;
	c = fw_tctx(w);
	if (!c)
		return false;
	if (dd_text_clean(w->f->text, c, s, n, flags, out) != DD_OK) {
		if (out->len > before) /* drop a partial result */
			out->len = before;
		return false;
	}
	return fw_sweep(w, out, before, flags) &&
	       fw_sweep_refs(w, out, before);
}

/* Text node callback of the XHTML cleaner: a failure becomes a fixed
 * placeholder for that node, never the original. */
static bool fw_clean_node(void *vctx, const char *s, size_t n,
			  struct dd_buf *out)
{
	bool blank = true;

	for (size_t i = 0; i < n && blank; i++)
		blank = isspace((unsigned char)s[i]);
	if (blank)
		return dd_buf_add(out, s, n) == DD_OK;
	if (fw_clean_text(vctx, s, n, out))
		return true;
	return dd_buf_adds(out, "[REDACTED]") == DD_OK;
}

static const char fw_div_redacted[] =
	"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>[REDACTED]</p></div>";

/* ---- leaf actions --------------------------------------------------------------- */

static enum fw_act fw_rule_act(enum dd_fhir_action a)
{
	switch (a) {
	case DD_FACT_UNSPECIFIED:
	case DD_FACT_TRANSFORM:
		return FA_TRANSFORM;
	case DD_FACT_INSPECT_AND_TRANSFORM:
	case DD_FACT_CLEAN_TEXT:
		return FA_CLEAN;
	case DD_FACT_DO_NOT_TRANSFORM:
	case DD_FACT_KEEP:
		return FA_KEEP;
	case DD_FACT_REMOVE:
		return FA_REMOVE;
	case DD_FACT_CHARACTER_MASK:
		return FA_MASK;
	case DD_FACT_CRYPTO_HASH:
		return FA_HASH;
	case DD_FACT_DATE_SHIFT:
		return FA_SHIFT;
	}
	return FA_REMOVE;
}

static const char *const fw_free_text[] = {
	"text", "description", "comment", "comments", "note", "conclusion",
	"summary", "valueString", "contentString", "patientInstruction",
	"instruction", "title", "detail", "onsetString", "abatementString",
	"answerString", "itemString", "remarks", "explanation", "reasonString",
	"sourceString", "authorString", "valueMarkdown", "outcomeString",
	"statusReason", "preparationInstruction", "usage",
	"availabilityExceptions", "patientInstruction", NULL,
};

/* Resources whose "name" is often a person's: "Inpatient: Peter Chalmers" */
static const char *const fw_named_people[] = {
	"Account", "CareTeam", "Group", "Schedule", "Slot", NULL,
};

static const char *const fw_ident_names[] = {
	"subscriberId", "serialNumber", "deviceIdentifier", "carrierHRF",
	"preAuthRef", "lotNumber", NULL,
};

/* BASIC (and CLEAN_ALL) for a leaf, in two steps: what the leaf's
 * element decides (its type class @tc, its name @key, the complex type
 * @ct that holds it), taken once per element by fw_leaf_class, then what
 * depends on the walk (fw_basic).  docs/fhir.md lists the same rules in
 * prose; in this order, the first that applies decides. */
enum fw_bclass {
	FB_KEEP,
	FB_REMOVE,
	FB_IDENT,
	FB_CLEAN,
	FB_SHIFT,
	FB_BIRTH,
	FB_REF_DISPLAY, /* removed when the target is a person, else cleaned */
	FB_STRING,      /* cleaned with CLEAN_ALL, else kept */
};

/* The class of the leaf; *named: a string "name", cleaned first when the
 * resource is one of fw_named_people (else the class decides). */
static enum fw_bclass fw_basic_class(const char *ct, const char *key,
				     unsigned tc, bool *named)
{
	static const char *const hn[] = {"text", "family", "given", "prefix",
					 "suffix", NULL};
	static const char *const addr[] = {"text", "line", "city", "district",
					   "postalCode", NULL};

	*named = false;
	if (fw_eq(ct, "HumanName") && fw_in(key, hn))
		return FB_REMOVE;
	if (fw_eq(ct, "ContactPoint") && fw_eq(key, "value"))
		return FB_REMOVE;
	if (fw_eq(ct, "Address") && fw_in(key, addr))
		return FB_REMOVE;
	if (fw_eq(ct, "Identifier") && fw_eq(key, "value"))
		return FB_IDENT;
	if (fw_eq(ct, "Attachment") && fw_eq(key, "url"))
		return FB_REMOVE;
	if (fw_eq(ct, "Annotation") && fw_eq(key, "authorString"))
		return FB_REMOVE;
	if (fw_eq(ct, "Reference") && fw_eq(key, "display"))
		return FB_REF_DISPLAY;
	if (fw_eq(ct, "Meta") && fw_eq(key, "source"))
		return FB_REMOVE;
	if (fw_eq(ct, "Signature") && fw_eq(key, "data"))
		return FB_REMOVE;
	if (fw_eq(key, "birthDate") && (tc & FW_T_DATE_ONLY))
		return FB_BIRTH;
	if (tc & FW_T_DATE)
		return FB_SHIFT;
	if (tc & FW_T_TEXT)
		return FB_CLEAN;
	if (tc & FW_T_B64)
		return FB_REMOVE;
	*named = (tc & FW_T_STRING) && fw_eq(key, "name");
	if (fw_eq(ct, "FamilyMemberHistory") && fw_eq(key, "name"))
		return FB_REMOVE; /* a relative's name */
	if (tc & FW_T_STRING) {
		if (fw_in(key, fw_ident_names))
			return FB_IDENT;
		if (fw_in(key, fw_free_text))
			return FB_CLEAN;
		return FB_STRING;
	}
	return FB_KEEP;
}

static enum fw_act fw_basic(const struct fw *w, enum fw_bclass c, bool named)
{
	enum dd_fhir_profile prof = w->pol->fhir.profile;

	if (prof == DD_FHIR_PROFILE_KEEP_ALL)
		return FA_KEEP;
	if (named && fw_in(w->res->type, fw_named_people))
		return FA_CLEAN;
	switch (c) {
	case FB_REMOVE:
		return FA_REMOVE;
	case FB_IDENT:
		return FA_IDENT;
	case FB_CLEAN:
		return FA_CLEAN;
	case FB_SHIFT:
		return FA_SHIFT;
	case FB_BIRTH:
		return FA_BIRTH;
	case FB_REF_DISPLAY:
		return w->ref_person ? FA_REMOVE : FA_CLEAN;
	case FB_STRING:
		return prof == DD_FHIR_PROFILE_CLEAN_ALL ? FA_CLEAN : FA_KEEP;
	case FB_KEEP:
		break;
	}
	return FA_KEEP;
}

/* The default transformation of the TextConfig (v1 TRANSFORM). */
static enum fw_act fw_transform_kind(const struct fw *w)
{
	const struct dd_policy_text *t = &w->pol->text;

	for (size_t i = 0; i < t->n_transforms; i++) {
		if (t->transforms[i].info_types.n)
			continue;
		if (t->transforms[i].kind == DD_TX_CRYPTO_HASH)
			return FA_HASH;
		if (t->transforms[i].kind == DD_TX_CHARACTER_MASK)
			return FA_MASK;
		return FA_REMOVE;
	}
	return FA_REMOVE;
}

static json_object *fw_new_str(struct fw *w, const char *s, size_t n)
{
	json_object *o = json_object_new_string_len(s, (int)n);

	if (!o)
		w->st = FW_INTERNAL;
	return o;
}

/* Apply @act to the primitive @*pv of type class @tc (fw_elem_class);
 * returns false to drop. */
static bool fw_leaf_act(struct fw *w, json_object **pv, unsigned tc,
			enum fw_act act)
{
	json_object *v = *pv;
	bool is_str = json_object_is_type(v, json_type_string);
	const char *s = is_str ? json_object_get_string(v) : NULL;
	size_t n = is_str ? (size_t)json_object_get_string_len(v) : 0;
	char buf[128];

	if (act == FA_TRANSFORM)
		act = (tc & FW_T_DATE) ? FA_SHIFT : fw_transform_kind(w);
	if (act == FA_CLEAN && (tc & FW_T_DATE))
		act = FA_SHIFT;
	switch (act) {
	case FA_KEEP:
		return true;
	case FA_REMOVE:
		return false;
	case FA_SHIFT:
		if (!is_str || !(tc & FW_T_DATE) ||
		    !fw_shift(s, n, w->res->shift, buf, sizeof(buf)))
			return false;
		*pv = fw_new_str(w, buf, strlen(buf));
		return *pv != NULL;
	case FA_BIRTH: {
		enum dd_birth_date mode = w->pol->deidfs.birth_date;
		int year, max = w->pol->deidfs.max_age;

		if (!is_str || n < 4 || !isdigit((unsigned char)s[0]) ||
		    !isdigit((unsigned char)s[1]) ||
		    !isdigit((unsigned char)s[2]) ||
		    !isdigit((unsigned char)s[3]))
			return false;
		if (mode == DD_BIRTH_KEEP)
			return true;
		if (mode == DD_BIRTH_REMOVE)
			return false;
		year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
		       (s[2] - '0') * 10 + (s[3] - '0');
		if (max > 0 && w->res->ref_year - year > max)
			return false;
		if (mode == DD_BIRTH_SHIFT) {
			if (!fw_shift(s, n, w->res->shift, buf, sizeof(buf)))
				return false;
			*pv = fw_new_str(w, buf, strlen(buf));
		} else {
			*pv = fw_new_str(w, s, 4);
		}
		return *pv != NULL;
	}
	case FA_IDENT: {
		char out[80];

		if (!is_str || n == 0)
			return false;
		if (w->ident_uid) {
			const char *u = s;
			size_t un = n;
			char tmp[65], uid[65];

			if (un > 8 && !strncasecmp(u, "urn:oid:", 8))
				u += 8, un -= 8;
			if (un > 64)
				return false;
			memcpy(tmp, u, un);
			tmp[un] = 0;
			dd_pseudo_uid(w->f->pseudo, tmp, un, uid);
			snprintf(out, sizeof(out), "%s%s", u != s ? "urn:oid:" : "",
				 uid);
		} else if (w->ident_linking) {
			char key[DD_INDEX_KEY_MAX];

			dd_patient_key(w->ident_system[0] ? w->ident_system : NULL,
				       s, key, sizeof(key));
			dd_pseudo_patient_id(w->f->pseudo, key, out);
		} else {
			dd_pseudo_ident(w->f->pseudo, DD_DOM_IDENT, s, n,
					FW_IDENT_WIDTH, out);
			out[FW_IDENT_WIDTH] = 0;
		}
		*pv = fw_new_str(w, out, strlen(out));
		return *pv != NULL;
	}
	case FA_MASK: {
		const char *m = w->pol->fhir.mask_char[0] ? w->pol->fhir.mask_char
							  : "*";

		if (!is_str || (tc & FW_T_DATE))
			return false;
		dd_buf_reset(&w->tmp);
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)s[i] & 0xC0) != 0x80 &&
			    dd_buf_adds(&w->tmp, m))
				return false;
		if (w->tmp.len == 0)
			return false;
		*pv = fw_new_str(w, (const char *)w->tmp.data, w->tmp.len);
		return *pv != NULL;
	}
	case FA_HASH: {
		char out[45];

		if (!is_str || (tc & FW_T_DATE))
			return false;
		if ((tc & FW_T_ID)) {
			uint8_t mac[32];

			dd_pseudo_mac(&w->f->hash_pseudo, DD_DOM_HASH, s, n, mac);
			for (int i = 0; i < 16; i++)
				snprintf(out + 2 * i, 3, "%02x", mac[i]);
		} else {
			dd_pseudo_hash_b64(&w->f->hash_pseudo, s, n, out);
		}
		*pv = fw_new_str(w, out, strlen(out));
		return *pv != NULL;
	}
	case FA_CLEAN: {
		bool ok;

		if (!is_str)
			return true; /* numbers, booleans: nothing to inspect */
		dd_buf_reset(&w->tmp);
		if ((tc & FW_T_XHTML)) {
			ok = w->pol->deidfs.inspect_free_text && w->f->text &&
			     dd_fhir_xhtml_clean(s, n, fw_clean_node, w, &w->tmp);
			if (!ok) {
				dd_buf_reset(&w->tmp);
				if (dd_buf_adds(&w->tmp, fw_div_redacted))
					return false;
			}
		} else if (!fw_clean_text(w, s, n, &w->tmp)) {
			return false;
		}
		if (w->tmp.len == 0)
			return false;
		if (w->tmp.len == n && !memcmp(w->tmp.data, s, n))
			return true;
		*pv = fw_new_str(w, (const char *)w->tmp.data, w->tmp.len);
		return *pv != NULL;
	}
	case FA_TRANSFORM:
		break;
	}
	return false;
}

/* ---- the walk --------------------------------------------------------------- */

static bool fw_object(struct fw *w, json_object *obj, const char *def,
		      const char *ct, unsigned ctc, size_t rule, bool root);
static bool fw_resource_rt(struct fw *w, json_object *obj, bool contained,
			   const char *rt);
static const char *fw_res_type(json_object *obj);

static size_t fw_rule_at(const struct fw *w, size_t rule)
{
	const struct dd_fhir *f = w->f;
	size_t lim = rule == FW_RULE_NONE ? f->n_rules : rule;

	for (size_t i = 0; i < lim; i++)
		for (size_t k = 0; k < f->rules[i].n_paths; k++)
			if (dd_fhir_rpath_match(&f->rules[i].paths[k], w->slots,
						w->n_slots))
				return i;
	return rule;
}

static bool fw_push(struct fw *w, const struct dd_fhir_elem *e,
		    const char *key, size_t klen)
{
	const char *alias = NULL;

	if (w->n_slots + 2 > FW_MAX_SLOTS) {
		w->st = FW_LIMIT;
		return false;
	}
	if (!w->f->n_rules) {
		/* only policy rules read the slots (fw_rule_at); the depth
		 * they count is still capped */
		w->n_slots += e->choice ? 2 : 1;
		return true;
	}
	if (klen == 6 && !memcmp(key, "gender", 6) &&
	    (fw_elem_class(e) & FW_T_CODE))
		alias = "AdministrativeGenderCode";
	if (klen == 8 && !memcmp(key, "language", 8) &&
	    (fw_elem_class(e) & FW_T_CODE))
		alias = "LanguageCode";
	if (e->choice) {
		w->slots[w->n_slots++] = (struct fw_slot){
			FW_SLOT_CHOICE_BASE, e->choice, strlen(e->choice), NULL,
			NULL};
		w->slots[w->n_slots++] = (struct fw_slot){
			FW_SLOT_CHOICE_TYPE, key, klen, e->type, alias};
	} else {
		w->slots[w->n_slots++] = (struct fw_slot){FW_SLOT_PLAIN, key,
							  klen, e->type, alias};
	}
	return true;
}

static void fw_pop(struct fw *w, const struct dd_fhir_elem *e)
{
	w->n_slots -= e->choice ? 2 : 1;
}

enum fw_role {
	FR_NONE,
	FR_RES_ID,
	FR_REFERENCE,
	FR_FULLURL,
	FR_LINKURL,
	FR_REQURL,
	FR_DROP,
	FR_UID,
};

static enum fw_role fw_role_of(const char *def, const char *ct,
			       const char *key, bool root)
{
	if (root && fw_eq(key, "id"))
		return FR_RES_ID;
	if (fw_eq(ct, "Reference") && fw_eq(key, "reference"))
		return FR_REFERENCE;
	if (fw_eq(def, "Bundle.entry")) {
		if (fw_eq(key, "fullUrl"))
			return FR_FULLURL;
	} else if (fw_eq(def, "Bundle.link")) {
		if (fw_eq(key, "url"))
			return FR_LINKURL;
	} else if (fw_eq(def, "Bundle.entry.request")) {
		if (fw_eq(key, "url"))
			return FR_REQURL;
		if (fw_eq(key, "ifNoneExist"))
			return FR_DROP;
	} else if (fw_eq(def, "Bundle.entry.response")) {
		if (fw_eq(key, "location"))
			return FR_REFERENCE;
	} else if (fw_eq(def, "ImagingStudy.series") ||
		   fw_eq(def, "ImagingStudy.series.instance")) {
		if (fw_eq(key, "uid"))
			return FR_UID;
	}
	return FR_NONE;
}

static bool fw_role_apply(struct fw *w, json_object **pv, enum fw_role role)
{
	json_object *v = *pv;
	const char *s;
	size_t n;

	if (role == FR_DROP || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	dd_buf_reset(&w->tmp);
	switch (role) {
	case FR_RES_ID: {
		char id[33];

		if (w->res->contained)
			return true;
		if (!fw_id_valid(s, n))
			return false;
		dd_fhir_memo_fhir_id(w->f, w->res->type, s, id);
		*pv = fw_new_str(w, id, 32);
		return *pv != NULL;
	}
	case FR_UID: {
		char tmp[65], uid[65];

		if (n > 64)
			return false;
		memcpy(tmp, s, n);
		tmp[n] = 0;
		dd_pseudo_uid(w->f->pseudo, tmp, n, uid);
		*pv = fw_new_str(w, uid, strlen(uid));
		return *pv != NULL;
	}
	case FR_REFERENCE:
	case FR_FULLURL:
		if (!fw_map_url(w, s, n, FR_REF, &w->tmp))
			return false;
		break;
	case FR_LINKURL:
		if (!fw_map_url(w, s, n, FR_LINK, &w->tmp))
			return false;
		break;
	case FR_REQURL:
		if (!fw_map_url(w, s, n, FR_REQUEST, &w->tmp))
			return false;
		break;
	default:
		return false;
	}
	*pv = fw_new_str(w, (const char *)w->tmp.data, w->tmp.len);
	return *pv != NULL;
}

/* What a leaf's element decides (the leaf's role, its BASIC class, whether
 * it is an Identifier's value): a function of the element, its name, the
 * def and complex type that hold it and whether that is a resource's root
 * object, so fw_elem keeps it with the element. */
struct fw_leafc {
	uint8_t role;   /* enum fw_role */
	uint8_t basic;  /* enum fw_bclass */
	bool named;     /* fw_basic_class's *named */
	bool ident_value;
};

static void fw_leaf_class(const struct dd_fhir_elem *e, const char *key,
			  const char *def, const char *ct, bool root,
			  struct fw_leafc *lc)
{
	lc->role = (uint8_t)fw_role_of(def, ct, key, root);
	lc->basic = (uint8_t)fw_basic_class(ct, key, fw_elem_class(e),
					    &lc->named);
	lc->ident_value = fw_eq(ct, "Identifier") && fw_eq(key, "value");
}

/* @lc: the leaf's class (fw_leaf_class), or NULL to take it here. */
static bool fw_leaf(struct fw *w, json_object **pv, const struct dd_fhir_elem *e,
		    const char *key, const char *def, const char *ct,
		    size_t rule, bool root, const struct fw_leafc *lc)
{
	struct fw_leafc lc0;
	enum fw_role role;
	json_object *v = *pv;
	enum json_type jt = json_object_get_type(v);
	unsigned tc = fw_elem_class(e);
	enum fw_act act;

	if (!lc) {
		fw_leaf_class(e, key, def, ct, root, &lc0);
		lc = &lc0;
	}
	role = (enum fw_role)lc->role;
	if (role != FR_NONE) {
		if (rule != FW_RULE_NONE &&
		    w->f->rules[rule].action == DD_FACT_REMOVE)
			return false;
		return fw_role_apply(w, pv, role);
	}
	/* the JSON type must fit the R4 type */
	if ((tc & FW_T_BOOL)	  ? jt != json_type_boolean
	    : (tc & FW_T_NUMBER) ? jt != json_type_int &&
				       jt != json_type_double
				     : jt != json_type_string)
		return false;
	if (rule != FW_RULE_NONE)
		act = fw_rule_act(w->f->rules[rule].action);
	else if (w->ident_uid && lc->ident_value)
		act = FA_IDENT; /* DICOM UIDs: mapped in every profile */
	else
		act = fw_basic(w, (enum fw_bclass)lc->basic, lc->named);
	return fw_leaf_act(w, pv, tc, act);
}

static bool fw_ext_allowed(const struct fw *w, json_object *ext)
{
	const char *url = fw_get_str(ext, "url");
	const struct dd_strv *al = &w->pol->deidfs.extension_allowlist;

	if (w->ext_keep || w->pol->fhir.keep_extensions)
		return true;
	if (!url)
		return false;
	for (size_t i = 0; i < al->n; i++)
		if (fw_eq(url, al->v[i]))
			return true;
	return false;
}

/* Walk the value @*pv of element @e (member @key of @def/@ct; @lc: its
 * leaf class when known, see fw_leaf).  Returns false to drop it; *pv may
 * be replaced. */
static bool fw_item(struct fw *w, json_object **pv, const struct dd_fhir_elem *e,
		    const char *key, const char *def, const char *ct,
		    size_t rule, bool root, const struct fw_leafc *lc)
{
	json_object *v = *pv;
	const char *t = e->type;
	const char *cdef, *cct;
	unsigned tc = fw_elem_class(e);
	bool is_ext = tc & FW_T_EXT;
	bool ok;

	if (!v || json_object_is_type(v, json_type_null))
		return false;
	if (tc & FW_T_RESOURCE) {
		if (!json_object_is_type(v, json_type_object))
			return false;
		if (rule != FW_RULE_NONE &&
		    w->f->rules[rule].action == DD_FACT_REMOVE)
			return false;
		return fw_resource_rt(w, v, fw_eq(key, "contained"),
				      fw_res_type(v));
	}
	if (dd_fhir_type_primitive(t))
		return fw_leaf(w, pv, e, key, def, ct, rule, root, lc);
	if (!json_object_is_type(v, json_type_object))
		return false;
	if (rule == 0 && w->f->rules[0].action == DD_FACT_REMOVE)
		return false;
	if (is_ext && !fw_ext_allowed(w, v))
		return false;
	if (rule == FW_RULE_NONE &&
	    w->pol->fhir.profile != DD_FHIR_PROFILE_KEEP_ALL) {
		if ((tc & FW_T_ATTACHMENT) && fw_eq(key, "photo"))
			return false;
		if (fw_eq(def, "Patient") && fw_eq(key, "contact"))
			return false;
	}
	if (tc & FW_T_REF) {
		cdef = t + 4; /* static, as every def (fw_elem) */
		cct = "BackboneElement";
	} else if (tc & FW_T_BACKBONE) {
		cdef = e->path;
		cct = "BackboneElement";
	} else {
		cdef = t;
		cct = t;
	}
	if (is_ext)
		w->ext_keep++;
	ok = fw_object(w, v, cdef, cct, cct == t ? tc : 0, rule, false);
	if (is_ext)
		w->ext_keep--;
	return ok && json_object_object_length(v) > 0;
}

/* ---- element lookups by address ----------------------------------------------
 *
 * Every member of every object is looked up in the R4 table as
 * "<def>.<key>" (a hash over the key's bytes, a probe, a compare).  The
 * defs fw_object gets are static strings (a resource type, a type or an
 * element path of the table, a literal), and so are the keys
 * dd_json_parse stores as constant (the static spelling of an R4 element
 * name; nothing else adds constant keys to the trees the walk gets), so
 * their addresses name them for the life of the process.  This per-thread,
 * direct-mapped memo answers a (def, key) pair seen before from the two
 * addresses alone: the element (or none) and the key's length.  Fixed
 * size (48 KiB); other keys are looked up every time.
 */
#define FW_EMEMO_BITS 10

struct fw_ememo_ent {
	const char *def; /* NULL: empty */
	const char *key;
	const char *ct;  /* the leaf class depends on these two too */
	bool root;
	bool has_lc;     /* lc is set (a primitive element) */
	struct fw_leafc lc;
	const struct dd_fhir_elem *e;
	size_t kl;
};

static _Thread_local struct fw_ememo_ent fw_ememo[1u << FW_EMEMO_BITS];

/* A def set up by fw_def_lazy is prepared (dd_fhir_def_init: its length
 * and hash) at its first lookup the memo does not answer. */
#define FW_DEF_LAZY ((size_t)-1)

static inline void fw_def_lazy(struct dd_fhir_def *dd, const char *def)
{
	dd->def = def;
	dd->len = FW_DEF_LAZY;
}

static inline const struct dd_fhir_def *fw_def_ready(struct dd_fhir_def *dd)
{
	if (dd->len == FW_DEF_LAZY)
		dd_fhir_def_init(dd, dd->def);
	return dd;
}

/* The element @key (@kconst: a constant key of the tree) of @dd, an
 * object of complex type @ct (@root: a resource's); *kl is set to
 * strlen(@key), and *lc to the leaf class of a primitive element the
 * memo holds (else NULL). */
static const struct dd_fhir_elem *fw_elem(struct dd_fhir_def *dd,
					  const char *key, bool kconst,
					  const char *ct, bool root,
					  size_t *kl, struct fw_leafc *lc,
					  const struct fw_leafc **lcp)
{
	struct fw_ememo_ent *m;
	uint64_t h;

	*lcp = NULL;
	if (!kconst) {
		*kl = strlen(key);
		return dd_fhir_elem_find_in(fw_def_ready(dd), key, *kl);
	}
	h = (uint64_t)(uintptr_t)dd->def * 0x9E3779B97F4A7C15ull ^
	    (uint64_t)(uintptr_t)key * 0xC2B2AE3D27D4EB4Full;
	m = &fw_ememo[h >> (64 - FW_EMEMO_BITS)];
	if (m->def != dd->def || m->key != key || m->ct != ct ||
	    m->root != root) {
		m->kl = strlen(key);
		m->e = dd_fhir_elem_find_in(fw_def_ready(dd), key, m->kl);
		m->has_lc = m->e && dd_fhir_type_primitive(m->e->type);
		if (m->has_lc)
			fw_leaf_class(m->e, key, dd->def, ct, root, &m->lc);
		m->key = key;
		m->ct = ct;
		m->root = root;
		m->def = dd->def;
	}
	*kl = m->kl;
	if (m->has_lc) {
		/* a copy: the walk below may reuse the slot */
		*lc = m->lc;
		*lcp = lc;
	}
	return m->e;
}

/* Member @key of @dd (the def, prepared once per object; @kconst: @key
 * is a constant key of the tree): arrays element by element.  Returns
 * false to drop. */
static bool fw_member(struct fw *w, json_object **pv, const char *key,
		      bool kconst, struct dd_fhir_def *dd,
		      const char *ct, size_t rule, bool root)
{
	const char *def = dd->def;
	size_t kl;
	struct fw_leafc lcb;
	const struct fw_leafc *lc;
	const struct dd_fhir_elem *e =
		fw_elem(dd, key, kconst, ct, root, &kl, &lcb, &lc);
	json_object *v = *pv;
	bool keep = true;

	if (!e)
		return false; /* not an R4 element: removed */
	if (!fw_push(w, e, key, kl))
		return false;
	rule = fw_rule_at(w, rule);
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v), kept = 0;
		bool changed = false;
		json_object *na;

		for (size_t i = 0; i < n && w->st == FW_OK; i++) {
			json_object *it = json_object_array_get_idx(v, i);
			json_object *nv = it;

			if (fw_item(w, &nv, e, key, def, ct, rule, root, lc)) {
				if (nv != it)
					json_object_array_put_idx(v, i, nv);
				kept++;
			} else {
				json_object_array_put_idx(v, i, NULL);
				changed = true;
			}
		}
		if (kept == 0) {
			keep = false;
		} else if (changed) {
			na = json_object_new_array_ext((int)kept);
			if (!na) {
				w->st = FW_INTERNAL;
				keep = false;
				goto out;
			}
			for (size_t i = 0; i < n; i++) {
				json_object *it = json_object_array_get_idx(v, i);

				if (it)
					json_object_array_add(na,
							      json_object_get(it));
			}
			*pv = na;
		}
	} else {
		keep = fw_item(w, pv, e, key, def, ct, rule, root, lc);
	}
out:
	fw_pop(w, e);
	return keep;
}

/* `_key`: the id/extension of primitive @key.  Only its extensions (as
 * filtered everywhere) and id survive. */
static bool fw_prim_ext_one(struct fw *w, json_object *o, const char *def,
			    size_t rule)
{
	json_object *ext = NULL;
	json_object *id = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return false;
	json_object_object_get_ex(o, "extension", &ext);
	json_object_object_get_ex(o, "id", &id);
	if (ext) {
		json_object *nv = json_object_get(ext);
		const struct dd_fhir_elem e = {"Element.extension", "Extension",
					       NULL, 1};
		bool keep;

		(void)def;
		if (!fw_push(w, &e, "extension", 9)) {
			json_object_put(nv);
			return false;
		}
		if (json_object_is_type(nv, json_type_array)) {
			size_t n = json_object_array_length(nv), kept = 0;
			json_object *na = json_object_new_array();

			for (size_t i = 0; na && i < n; i++) {
				json_object *it = json_object_array_get_idx(nv, i);
				json_object *x = it;

				if (fw_item(w, &x, &e, "extension", "Element",
					    "Element", rule, false, NULL)) {
					json_object_array_add(
						na, x == it ? json_object_get(it) : x);
					kept++;
				}
			}
			json_object_put(nv);
			nv = kept ? na : NULL;
			if (!kept)
				json_object_put(na);
		} else {
			json_object_put(nv);
			nv = NULL;
		}
		fw_pop(w, &e);
		keep = nv != NULL;
		if (keep)
			json_object_object_add(o, "extension", nv);
		else
			json_object_object_del(o, "extension");
	}
	/* anything else in the element is dropped */
	{
		const char *drop[16];
		size_t nd = 0;

		json_object_object_foreach(o, k, val) {
			(void)val;
			if (fw_eq(k, "extension") || fw_eq(k, "id"))
				continue;
			if (nd == 16)
				return false; /* the whole element goes */
			drop[nd++] = k;
		}
		for (size_t i = 0; i < nd; i++)
			json_object_object_del(o, drop[i]);
	}
	return json_object_object_length(o) > 0;
}

static bool fw_prim_ext(struct fw *w, json_object **pv, const char *def,
			size_t rule)
{
	json_object *v = *pv;

	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		bool any = false;

		for (size_t i = 0; i < n; i++) {
			json_object *it = json_object_array_get_idx(v, i);

			if (it && !fw_prim_ext_one(w, it, def, rule))
				json_object_array_put_idx(v, i, NULL);
			else if (it)
				any = true;
		}
		return any;
	}
	return fw_prim_ext_one(w, v, def, rule);
}

/* Attachment (and Binary) content under BASIC: text types are decoded,
 * cleaned and re-encoded (size updated, hash recomputed); other content is
 * removed with its size and hash.  The members are final afterwards. */
static void fw_attachment(struct fw *w, json_object *obj, const char *ctype_key,
			  const char *data_key)
{
	const char *ct = fw_get_str(obj, ctype_key);
	json_object *data = fw_get(obj, data_key);
	bool text = false, html = false;
	struct dd_buf raw, clean, b64;
	bool ok = false;

	if (!data)
		return;
	if (ct) {
		text = !strncasecmp(ct, "text/", 5) ||
		       !strncasecmp(ct, "application/json", 16) ||
		       !strncasecmp(ct, "application/fhir+json", 21) ||
		       !strncasecmp(ct, "application/xml", 15) ||
		       !strncasecmp(ct, "application/fhir+xml", 20);
		html = !strncasecmp(ct, "text/html", 9) ||
		       !strncasecmp(ct, "application/xhtml", 17);
	}
	dd_buf_init(&raw, (size_t)64 << 20);
	dd_buf_init(&clean, (size_t)96 << 20);
	dd_buf_init(&b64, (size_t)160 << 20);
	if (text && json_object_is_type(data, json_type_string) &&
	    dd_fhir_b64_decode(json_object_get_string(data),
			       (size_t)json_object_get_string_len(data), &raw)) {
		if (html)
			ok = dd_fhir_xhtml_clean((const char *)raw.data, raw.len,
						 fw_clean_node, w, &clean);
		else
			ok = raw.len == 0 ||
			     fw_clean_text(w, (const char *)raw.data, raw.len,
					   &clean);
		if (ok && clean.len && !dd_fhir_b64_encode(clean.data, clean.len,
							   &b64)) {
			json_object *nd = json_object_new_string_len(
				(const char *)b64.data, (int)b64.len);

			if (nd)
				json_object_object_add(obj, data_key, nd);
			else
				ok = false;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		json_object_object_del(obj, data_key);
		json_object_object_del(obj, "size");
		json_object_object_del(obj, "hash");
	} else {
		uint8_t sha[20];
		unsigned len = 20;

		if (fw_get(obj, "size"))
			json_object_object_add(obj, "size",
					       json_object_new_int64((int64_t)clean.len));
		if (fw_get(obj, "hash")) {
			dd_fhir_sha1(clean.data, clean.len, sha, &len);
			dd_buf_reset(&b64);
			if (!dd_fhir_b64_encode(sha, len, &b64))
				json_object_object_add(
					obj, "hash",
					json_object_new_string_len(
						(const char *)b64.data,
						(int)b64.len));
			else
				json_object_object_del(obj, "hash");
		}
	}
	dd_buf_free(&raw);
	dd_buf_free(&clean);
	dd_buf_free(&b64);
}

/* Reference: is the target a person (display removed) or not (cleaned)? */
static bool fw_ref_person(json_object *ref)
{
	static const char *const people[] = {"Patient", "Practitioner",
					     "PractitionerRole", "RelatedPerson",
					     "Person", NULL};
	const char *r = fw_get_str(ref, "reference");
	const char *t = fw_get_str(ref, "type");
	char norm[256];
	size_t n;

	if (t) {
		const char *slash = strrchr(t, '/');

		return fw_in(slash ? slash + 1 : t, people);
	}
	if (!r)
		return true;
	n = dd_index_ref_norm(r, strlen(r), norm, sizeof(norm));
	if (n == 0 || !strncmp(norm, "urn:", 4))
		return true;
	{
		char *slash = strchr(norm, '/');

		if (slash)
			*slash = 0;
		return fw_in(norm, people) || !dd_fhir_resource_type(norm);
	}
}

struct fw_edit {
	const char *key;
	struct lh_entry *ent; /* the member's entry in the object's table */
	json_object *nv;      /* NULL: drop */
};

/* HIPAA groups ages over deidfs.maxAge (default 89) into one category: an
 * Age (Quantity profile; UCUM code a/mo/wk/d/h/min, or the same words in
 * `unit`) above it becomes ">= maxAge + 1 years".  An Age whose unit cannot
 * be read is taken as years: the cap errs towards grouping. */
static void fw_age_cap(struct fw *w, json_object *obj)
{
	static const struct {
		const char *name;
		double per_year;
	} units[] = {
		{"a", 1},        {"yr", 1},          {"year", 1},
		{"years", 1},    {"mo", 12},         {"month", 12},
		{"months", 12},  {"wk", 52.1775},    {"week", 52.1775},
		{"weeks", 52.1775}, {"d", 365.25},   {"day", 365.25},
		{"days", 365.25}, {"h", 8766},       {"hour", 8766},
		{"hours", 8766}, {"min", 525960},    {"minute", 525960},
		{"minutes", 525960},
	};
	int max = w->pol->deidfs.max_age;
	json_object *v = fw_get(obj, "value");
	const char *code = fw_get_str(obj, "code");
	const char *unit = fw_get_str(obj, "unit");
	double per_year = 1;

	if (max <= 0 || !v || (!json_object_is_type(v, json_type_int) &&
			       !json_object_is_type(v, json_type_double)))
		return;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if ((code && !strcmp(code, units[i].name)) ||
		    (!code && unit && !strcasecmp(unit, units[i].name))) {
			per_year = units[i].per_year;
			break;
		}
	if (!(json_object_get_double(v) / per_year >= (double)max + 1))
		return;
	json_object_object_add(obj, "value", json_object_new_int(max + 1));
	json_object_object_add(obj, "comparator", json_object_new_string(">="));
	json_object_object_add(obj, "unit", json_object_new_string("years"));
	json_object_object_add(obj, "system",
			       json_object_new_string("http://unitsofmeasure.org"));
	json_object_object_add(obj, "code", json_object_new_string("a"));
}

/* Walk the members of @obj, an object of @def (a static string: fw_elem
 * keys on its address) inside complex type @ct (@ctc: its class,
 * fw_type_class; 0 for a resource or a backbone element). */
static bool fw_object(struct fw *w, json_object *obj, const char *def,
		      const char *ct, unsigned ctc, size_t rule, bool root)
{
	struct fw_edit stack_edits[32], *ed = stack_edits;
	size_t ne = 0, cap = 32, nkeys = (size_t)json_object_object_length(obj);
	bool saved_link = w->ident_linking, saved_uid = w->ident_uid;
	bool saved_person = w->ref_person;
	char saved_sys[sizeof(w->ident_system)];
	bool sys_saved = false; /* only an Identifier changes ident_system */
	bool skip_attach = false;
	bool basic = rule == FW_RULE_NONE &&
		     w->pol->fhir.profile != DD_FHIR_PROFILE_KEEP_ALL;
	struct dd_fhir_def dd;

	fw_def_lazy(&dd, def);
	if (nkeys > cap) {
		ed = malloc(nkeys * sizeof(*ed));
		if (!ed) {
			w->st = FW_INTERNAL;
			return false;
		}
		cap = nkeys;
	}
	if (ctc & FW_T_IDENTIFIER) {
		const char *sys = fw_get_str(obj, "system");

		memcpy(saved_sys, w->ident_system, sizeof(saved_sys));
		sys_saved = true;
		w->ident_linking = fw_ident_is_linking(w->pol, obj) ||
				   (w->res && w->res->link_ident == obj);
		w->ident_uid = fw_streq(sys, "urn:dicom:uid");
		snprintf(w->ident_system, sizeof(w->ident_system), "%s",
			 sys ? sys : "");
	} else if (ctc & FW_T_REFERENCE) {
		w->ref_person = fw_ref_person(obj);
	}
	if (basic && (ctc & FW_T_ATTACHMENT)) {
		fw_attachment(w, obj, "contentType", "data");
		skip_attach = true;
	} else if (basic && root && fw_eq(def, "Binary")) {
		fw_attachment(w, obj, "contentType", "data");
		skip_attach = true;
	}
	json_object_object_foreach(obj, key, val) {
		json_object *nv = val;
		bool keep;

		if (w->st != FW_OK)
			break;
		if (key[0] == '_')
			continue;
		if (root && fw_eq(key, "resourceType"))
			continue;
		if (skip_attach && (fw_eq(key, "data") || fw_eq(key, "size") ||
				    fw_eq(key, "hash")))
			continue;
		keep = fw_member(w, &nv, key, lh_entry_k_is_constant(entrykey),
				 &dd, ct, rule, root);
		if (!keep)
			ed[ne++] = (struct fw_edit){key, entrykey, NULL};
		else if (nv != val)
			ed[ne++] = (struct fw_edit){key, entrykey, nv};
	}
	/* primitive extensions: after their primitive */
	json_object_object_foreach(obj, pkey, pval) {
		json_object *nv = pval;
		bool base_gone = true;

		if (w->st != FW_OK || pkey[0] != '_')
			continue;
		if (fw_get(obj, pkey + 1)) {
			base_gone = false;
			for (size_t i = 0; i < ne; i++)
				if (fw_eq(ed[i].key, pkey + 1) && !ed[i].nv)
					base_gone = true;
		}
		if (base_gone ||
		    !dd_fhir_elem_find_in(fw_def_ready(&dd), pkey + 1,
					  strlen(pkey + 1)) ||
		    !fw_prim_ext(w, &nv, def, rule))
			ed[ne++] = (struct fw_edit){pkey, entrypkey, NULL};
	}
	/* through the entries, as json_object_object_add and _del do after
	 * looking the key up (no member was added or removed since) */
	for (size_t i = 0; i < ne; i++)
		if (ed[i].nv) {
			json_object_put((json_object *)lh_entry_v(ed[i].ent));
			lh_entry_set_val(ed[i].ent, ed[i].nv);
		}
	for (size_t i = 0; i < ne; i++)
		if (!ed[i].nv)
			lh_table_delete_entry(json_object_get_object(obj),
					      ed[i].ent);
	if (ed != stack_edits)
		free(ed);
	if (basic && w->st == FW_OK && (ctc & FW_T_AGE))
		fw_age_cap(w, obj);
	w->ident_linking = saved_link;
	w->ident_uid = saved_uid;
	w->ref_person = saved_person;
	if (sys_saved)
		memcpy(w->ident_system, saved_sys, sizeof(saved_sys));
	return w->st == FW_OK;
}

/* ---- resources ------------------------------------------------------------- */

/* The members of a resource fw_res_init reads, found in one pass over its
 * keys (json-c hashes the key for each lookup: eight per resource). */
struct fw_res_members {
	json_object *id, *subject, *patient, *beneficiary, *identifier,
		*telecom, *address, *contained;
};

static void fw_res_members(json_object *obj, struct fw_res_members *m)
{
	memset(m, 0, sizeof(*m));
	json_object_object_foreach(obj, k, v) {
		json_object **slot = NULL;

		switch (k[0]) {
		case 'i':
			slot = !strcmp(k, "id")		  ? &m->id
			       : !strcmp(k, "identifier") ? &m->identifier
							  : NULL;
			break;
		case 's':
			slot = !strcmp(k, "subject") ? &m->subject : NULL;
			break;
		case 'p':
			slot = !strcmp(k, "patient") ? &m->patient : NULL;
			break;
		case 'b':
			slot = !strcmp(k, "beneficiary") ? &m->beneficiary : NULL;
			break;
		case 't':
			slot = !strcmp(k, "telecom") ? &m->telecom : NULL;
			break;
		case 'a':
			slot = !strcmp(k, "address") ? &m->address : NULL;
			break;
		case 'c':
			slot = !strcmp(k, "contained") ? &m->contained : NULL;
			break;
		default:
			break;
		}
		if (slot)
			*slot = v;
	}
}

/* The reference of the first of subject, patient, beneficiary that has
 * one. */
static const char *fw_patient_ref(const struct fw_res_members *m)
{
	json_object *const refs[] = {m->subject, m->patient, m->beneficiary};

	for (int i = 0; i < 3; i++) {
		const char *s = fw_get_str(fw_first(refs[i]), "reference");

		if (s)
			return s;
	}
	return NULL;
}

/* The person @ref points to (malloc'd), or NULL: the file's own index
 * first, then the tree's (dd_index_lookup keeps each thread's last
 * answers: bulk NDJSON asks for one patient line after line).  A failed
 * read stops the walk (fail closed: the person's values would be
 * missing). */
static struct dd_index_patient *fw_lookup(struct fw *w, const char *ref)
{
	struct dd_index_patient *p = NULL;
	size_t rl = strlen(ref);

	if (w->local && dd_index_lookup(w->local, ref, rl, &p))
		w->st = FW_INTERNAL;
	if (p || !w->f->index)
		return p;
	if (dd_index_lookup(w->f->index, ref, rl, &p))
		w->st = FW_INTERNAL;
	return p;
}

static bool fw_same_person(const struct dd_index_patient *a,
			   const struct dd_index_patient *b)
{
	if (!a || !b || strcmp(a->key, b->key) || a->n_values != b->n_values)
		return false;
	for (size_t i = 0; i < a->n_values; i++)
		if (a->values[i].type != b->values[i].type ||
		    strcmp(a->values[i].s, b->values[i].s))
			return false;
	return true;
}

/* Every person the resource @o references (in the indexes) joins the
 * contextual values: a Practitioner's name in an Observation's narrative. */
static void fw_people(struct fw *w, struct fw_res *r, json_object *o,
		      unsigned depth)
{
	enum json_type t;

	if (depth > 24 || r->n_people >= 32)
		return;
	t = json_object_get_type(o);
	if (t == json_type_array) {
		size_t n = json_object_array_length(o);

		for (size_t i = 0; i < n; i++)
			fw_people(w, r, json_object_array_get_idx(o, i), depth + 1);
		return;
	}
	if (t != json_type_object)
		return;
	json_object_object_foreach(o, k, v) {
		enum json_type vt = json_object_get_type(v); /* null for NULL */

		if (fw_eq(k, "reference") && vt == json_type_string) {
			const char *s = json_object_get_string(v);
			struct dd_index_patient *p, **np;
			bool dup;

			if (r->pat_ref && !strcmp(s, r->pat_ref))
				continue; /* the resource's patient, looked up */
			p = fw_lookup(w, s);
			dup = fw_same_person(p, r->pat);

			for (size_t i = 0; p && !dup && i < r->n_people; i++)
				dup = fw_same_person(r->people[i], p);
			if (!p || dup || r->n_people >= 32) {
				free(p);
				continue;
			}
			np = realloc(r->people, (r->n_people + 1) * sizeof(*np));
			if (!np) {
				free(p);
				return;
			}
			np[r->n_people++] = p;
			r->people = np;
		} else if ((vt == json_type_object || vt == json_type_array) &&
			   !fw_eq(k, "contained")) {
			/* only containers can hold a reference: no call
			 * per scalar */
			fw_people(w, r, v, depth + 1);
		}
	}
}

/* snprintf(out, cap, "%s%s", a, b) without its cost (once per resource):
 * the same bytes, the same result. */
static size_t fw_cat(char *out, size_t cap, const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);

	if (al + bl < cap) {
		memcpy(out, a, al);
		memcpy(out + al, b, bl + 1);
	} else {
		snprintf(out, cap, "%s%s", a, b);
	}
	return al + bl;
}

/* Patient key, shift and values of the resource @obj of type @rt. */
static bool fw_res_init(struct fw *w, struct fw_res *r, json_object *obj,
			const char *rt)
{
	struct fw_res_members mb;
	const char *id;
	const struct dd_policy *pol = w->pol;
	size_t klen = 0;

	fw_res_members(obj, &mb);
	id = mb.id && json_object_is_type(mb.id, json_type_string)
		     ? json_object_get_string(mb.id)
		     : NULL;
	memset(r, 0, sizeof(*r));
	r->type = rt;
	r->ref_year = w->f->ref_year;
	r->people_owned = true;
	if (fw_eq(rt, "Patient")) {
		const char *dec = fw_get_str(obj, "deceasedDateTime");
		char ref[128];

		klen = dd_fhir_patient_key(pol, obj, w->f->index, &r->link_ident,
					   r->key, sizeof(r->key));
		if (id && snprintf(ref, sizeof(ref), "Patient/%s", id) <
				  (int)sizeof(ref))
			r->pat = fw_lookup(w, ref);
		if (dec && strlen(dec) >= 4 && isdigit((unsigned char)dec[0]) &&
		    isdigit((unsigned char)dec[1]) &&
		    isdigit((unsigned char)dec[2]) &&
		    isdigit((unsigned char)dec[3]))
			r->ref_year = (dec[0] - '0') * 1000 + (dec[1] - '0') * 100 +
				      (dec[2] - '0') * 10 + (dec[3] - '0');
	} else {
		const char *ref = fw_patient_ref(&mb);
		char norm[DD_INDEX_KEY_MAX - 8];

		if (ref && dd_index_ref_norm(ref, strlen(ref), norm,
					     sizeof(norm))) {
			r->pat = fw_lookup(w, norm);
			r->pat_ref = ref;
			if (r->pat)
				klen = fw_cat(r->key, sizeof(r->key), "",
					      r->pat->key);
			else
				klen = fw_cat(r->key, sizeof(r->key), "ref:",
					      norm);
		} else if (w->local) {
			/* a document or a bundle of one patient */
			struct dd_index_patient *p = NULL;

			if (dd_index_sole_patient(w->local, &p))
				w->st = FW_INTERNAL;
			if (p) {
				r->pat = p;
				klen = (size_t)snprintf(r->key, sizeof(r->key),
							"%s", p->key);
			}
		}
	}
	if (klen == 0)
		klen = (size_t)snprintf(r->key, sizeof(r->key), "res:%s/%s", rt,
					id ? id : "");
	if (klen >= sizeof(r->key))
		klen = sizeof(r->key) - 1;
	if (dd_fhir_memo_shift_days(w->f, r->key, klen, &r->shift)) {
		w->st = FW_INTERNAL;
		return false;
	}
	r->vals_owned = true;
	if (dd_index_is_person(rt)) {
		dd_fhir_collect_values(obj, fw_res_add_val, r);
	} else {
		/* any resource: its own identifiers, telecom and addresses
		 * (they are transformed where structured; the narrative
		 * must not repeat them) */
		fw_collect_each(mb.identifier, fw_collect_ident,
				fw_res_add_val, r);
		fw_collect_each(mb.telecom, fw_collect_telecom,
				fw_res_add_val, r);
		fw_collect_each(mb.address, fw_collect_address,
				fw_res_add_val, r);
	}
	{
		/* contained people belong to this resource's context */
		json_object *c = mb.contained;

		for (size_t i = 0; c && json_object_is_type(c, json_type_array) &&
				   i < json_object_array_length(c); i++) {
			json_object *cr = json_object_array_get_idx(c, i);

			if (dd_index_is_person(fw_get_str(cr, "resourceType")))
				dd_fhir_collect_values(cr, fw_res_add_val, r);
		}
	}
	fw_people(w, r, obj, 0);
	r->people_owned = true;
	return true;
}

/* The static spelling of @obj's resourceType, or NULL. */
static const char *fw_res_type(json_object *obj)
{
	const char *rts = fw_get_str(obj, "resourceType");

	return rts ? dd_fhir_resource_type(rts) : NULL;
}

/* The resource @obj of type @rt (fw_res_type: NULL drops it). */
static bool fw_resource_rt(struct fw *w, json_object *obj, bool contained,
			   const char *rt)
{
	struct fw_res r, *prev = w->res;
	struct fw_slot root;
	bool ok;

	if (!rt)
		return false;
	if (contained && prev) {
		r = *prev;
		r.type = rt;
		r.contained = true;
		r.vals_owned = false;
		r.people_owned = false;
		r.tctx_owned = false;
		r.tctx_cached = false;
		if (!r.tctx)
			r.tctx_failed = false;
	} else if (!fw_res_init(w, &r, obj, rt)) {
		fw_res_release(&r);
		return false;
	}
	if (w->n_slots + 1 > FW_MAX_SLOTS) {
		w->st = FW_LIMIT;
		fw_res_release(&r);
		return false;
	}
	root = (struct fw_slot){FW_SLOT_PLAIN, rt, strlen(rt), rt, NULL};
	w->slots[w->n_slots++] = root;
	w->res = &r;
	ok = fw_object(w, obj, rt, rt, 0, fw_rule_at(w, FW_RULE_NONE), true);
	w->res = prev;
	w->n_slots--;
	fw_res_release(&r);
	return ok;
}

/* ---- entry points ------------------------------------------------------------ */

static void fw_init(struct fw *w, const struct dd_fhir *f,
		    const struct dd_index *local)
{
	memset(w, 0, offsetof(struct fw, slots));
	w->f = f;
	w->pol = f->pol;
	w->local = local;
	dd_buf_init(&w->tmp, (size_t)256 << 20);
}

enum fw_status dd_fhir_walk_resource(const struct dd_fhir *f,
				     const struct dd_index *local,
				     struct json_object *res)
{
	struct fw w;
	enum fw_status st;
	const char *rt = fw_res_type(res); /* NULL for a non-object too */

	if (!rt)
		return FW_UNSUPPORTED;
	fw_init(&w, f, local);
	fw_resource_rt(&w, res, false, rt);
	st = w.st;
	dd_buf_free(&w.tmp);
	return st;
}

/* A walker over members of a Bundle itself: @w initialised, its resource
 * context the Bundle's own (its single patient, else itself) in @r, and
 * the root slot "Bundle" pushed.  On false @w holds nothing to free. */
static bool fw_bundle_begin(struct fw *w, struct fw_res *r,
			    const struct dd_fhir *f, const struct dd_index *local,
			    const char *bundle_id)
{
	json_object *b = json_object_new_object();
	bool ok;

	fw_init(w, f, local);
	if (!b)
		goto out_fail;
	json_object_object_add(b, "resourceType",
			       json_object_new_string("Bundle"));
	if (bundle_id)
		json_object_object_add(b, "id", json_object_new_string(bundle_id));
	ok = fw_res_init(w, r, b, "Bundle");
	json_object_put(b);
	if (!ok)
		goto out_fail;
	w->res = r;
	w->slots[w->n_slots++] = (struct fw_slot){FW_SLOT_PLAIN, "Bundle", 6,
						  "Bundle", NULL};
	return true;

out_fail:
	dd_buf_free(&w->tmp);
	return false;
}

enum fw_status dd_fhir_walk_entry(const struct dd_fhir *f,
				  const struct dd_index *local,
				  const char *bundle_id,
				  struct json_object *entry)
{
	static const struct dd_fhir_elem e = {"Bundle.entry", "BackboneElement",
					      NULL, 1};
	struct fw w;
	struct fw_res r;
	enum fw_status st;

	if (!json_object_is_type(entry, json_type_object))
		return FW_PARSE;
	if (!fw_bundle_begin(&w, &r, f, local, bundle_id))
		return FW_INTERNAL;
	fw_push(&w, &e, "entry", 5);
	fw_object(&w, entry, "Bundle.entry", "BackboneElement", 0,
		  fw_rule_at(&w, FW_RULE_NONE), false);
	st = w.st;
	fw_res_release(&r);
	dd_buf_free(&w.tmp);
	return st;
}

enum fw_status dd_fhir_walk_bundle_member(const struct dd_fhir *f,
					  const struct dd_index *local,
					  const char *bundle_id,
					  const char *key,
					  struct json_object **val,
					  bool *remove)
{
	struct fw w;
	struct fw_res r;
	enum fw_status st;
	bool keep;

	*remove = false;
	if (fw_eq(key, "resourceType"))
		return FW_OK;
	if (!fw_bundle_begin(&w, &r, f, local, bundle_id))
		return FW_INTERNAL;
	{
		json_object *orig = *val;

		struct dd_fhir_def dd;

		dd_fhir_def_init(&dd, "Bundle");
		keep = fw_member(&w, val, key, false, &dd, "Bundle",
				 fw_rule_at(&w, FW_RULE_NONE), true);
		if (*val != orig) /* replaced: the caller owns the new one */
			json_object_put(orig);
	}
	*remove = !keep;
	st = w.st;
	fw_res_release(&r);
	dd_buf_free(&w.tmp);
	return st;
}
