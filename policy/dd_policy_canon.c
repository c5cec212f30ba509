/* dd_policy_canon.c: the canonical JSON of a resolved policy, and the
 * policy hash.
 *
 * The canonical JSON is written from the resolved struct, not from the
 * input text, so key order, snake_case spellings, defaults left implicit
 * and "transformations" vs "additionalTransformations" cannot change it.
 * Object keys are sorted (bytewise), there is no white space, strings are
 * escaped minimally (", \ and control characters).  Inline keys appear as
 * their fingerprint, never as key bytes.  Operational deidfs keys that do
 * not change a single output byte (keyFile, cacheSize, cacheDir,
 * ocr.workers, ocr.timeoutSeconds) are left out, so changing them keeps
 * the cache valid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dd_policy_i.h"

#define CANON_MAX (64u << 20)

/* ---- json-c tree from the struct ---------------------------------------- */

static json_object *cj_strv(const struct dd_strv *v)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < v->n; i++)
		json_object_array_add(a, json_object_new_string(v->v[i]));
	return a;
}

static void cj_add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *cj_key(const struct dd_inline_key *k)
{
	char fp[24];

	pol_key_fingerprint(k->bytes, k->len, fp);
	return json_object_new_string(fp);
}

static json_object *cj_image(const struct dd_policy_image *im)
{
	json_object *o = json_object_new_object();

	cj_add(o, "textRedactionMode",
	       json_object_new_string(pol_redaction_names[im->mode]));
	/* v1beta1-only fields: written when set (an empty list is unset) */
	if (im->additional_info_types.n)
		cj_add(o, "additionalInfoTypes", cj_strv(&im->additional_info_types));
	if (im->exclude_info_types.n)
		cj_add(o, "excludeInfoTypes", cj_strv(&im->exclude_info_types));
	return o;
}

static json_object *cj_hex_tag(uint32_t tag)
{
	char s[9];

	snprintf(s, sizeof(s), "%08X", tag);
	return json_object_new_string(s);
}

static json_object *cj_dicom(const struct dd_policy_dicom *d)
{
	json_object *o = json_object_new_object(), *a, *opt;
	size_t i, j;

	if (!d->tag_config) {
		if (d->filter == DD_DICOM_FILTER_PROFILE) {
			cj_add(o, "filterProfile",
			       json_object_new_string(pol_dicom_profile_names[d->profile]));
		} else {
			json_object *l = json_object_new_object();

			a = json_object_new_array();
			for (i = 0; i < d->n_list_tags; i++)
				json_object_array_add(a, cj_hex_tag(d->list_tags[i]));
			cj_add(l, "tags", a);
			cj_add(o, d->filter == DD_DICOM_FILTER_KEEP_LIST
					  ? "keepList" : "removeList", l);
		}
		cj_add(o, "skipIdRedaction",
		       json_object_new_boolean(d->primary_ids == DD_PRIMARY_IDS_KEEP));
		return o;
	}
	cj_add(o, "profileType",
	       json_object_new_string(pol_dicom_profile_names[d->profile]));
	opt = json_object_new_object();
	cj_add(opt, "primaryIds", json_object_new_string(
		d->primary_ids == DD_PRIMARY_IDS_KEEP ? "KEEP" : "REGEN"));
	if (d->clean_descriptors)
		cj_add(opt, "cleanDescriptors", json_object_new_object());
	if (d->clean_image_given)
		cj_add(opt, "cleanImage", cj_image(&d->clean_image));
	cj_add(o, "options", opt);
	a = json_object_new_array();
	for (i = 0; i < d->n_actions; i++) {
		const struct dd_dicom_action *x = &d->actions[i];
		json_object *ao = json_object_new_object();
		json_object *q = json_object_new_array();

		for (j = 0; j < x->n_queries; j++)
			json_object_array_add(q, x->queries[j].kind == DD_DQ_TAG
				? cj_hex_tag(x->queries[j].tag)
				: json_object_new_string(x->queries[j].vr));
		cj_add(ao, "queries", q);
		cj_add(ao, pol_dact_names[x->kind],
		       x->kind == DD_DACT_CLEAN_IMAGE ? cj_image(&x->image)
						      : json_object_new_object());
		json_object_array_add(a, ao);
	}
	cj_add(o, "actions", a);
	return o;
}

static json_object *cj_keyed(const struct dd_inline_key *k)
{
	json_object *o = json_object_new_object();

	if (k->present)
		cj_add(o, "cryptoKey", cj_key(k));
	return o;
}

static json_object *cj_mask(const char *mask)
{
	json_object *o = json_object_new_object();

	cj_add(o, "maskingCharacter", json_object_new_string(mask));
	return o;
}

static json_object *cj_fhir(const struct dd_policy_fhir *f)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	for (i = 0; i < f->n_fields; i++) {
		json_object *e = json_object_new_object();

		cj_add(e, "paths", cj_strv(&f->fields[i].paths));
		if (f->field_config)
			cj_add(e, pol_fact_names[f->fields[i].action],
			       json_object_new_object());
		else
			cj_add(e, "action", json_object_new_string(
					pol_fact_names[f->fields[i].action]));
		json_object_array_add(a, e);
	}
	cj_add(o, "fieldMetadataList", a);
	if (!f->field_config) {
		cj_add(o, "defaultKeepExtensions",
		       json_object_new_boolean(f->keep_extensions));
		return o;
	}
	cj_add(o, "profileType",
	       json_object_new_string(pol_fhir_profile_names[f->profile]));
	a = json_object_new_object();
	cj_add(a, "characterMaskConfig", cj_mask(f->mask_char));
	cj_add(a, "cryptoHashConfig", cj_keyed(&f->crypto_hash_key));
	cj_add(a, "dateShiftConfig", cj_keyed(&f->date_shift_key));
	if (f->keep_extensions)
		cj_add(a, "keepExtensions", json_object_new_object());
	if (f->contextual_deid)
		cj_add(a, "contextualDeid", json_object_new_object());
	cj_add(o, "options", a);
	return o;
}

static json_object *cj_text(const struct dd_policy_text *t,
			    enum dd_api_version api)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	for (i = 0; i < t->n_transforms; i++) {
		const struct dd_text_transform *x = &t->transforms[i];
		json_object *e = json_object_new_object(), *k;

		cj_add(e, "infoTypes", cj_strv(&x->info_types));
		if (x->kind == DD_TX_CHARACTER_MASK)
			k = cj_mask(x->mask_char);
		else if (x->kind == DD_TX_CRYPTO_HASH || x->kind == DD_TX_DATE_SHIFT)
			k = cj_keyed(&x->key);
		else
			k = json_object_new_object();
		cj_add(e, pol_tx_names[x->kind], k);
		json_object_array_add(a, e);
	}
	cj_add(o, "additionalTransformations", a);
	cj_add(o, "excludeInfoTypes", cj_strv(&t->exclude_info_types));
	if (api == DD_API_V1BETA1)
		cj_add(o, "profileType", json_object_new_string(
			t->profile == DD_TEXT_PROFILE_EMPTY ? "EMPTY" : "BASIC"));
	return o;
}

static json_object *cj_deidfs(const struct dd_policy *p)
{
	const struct dd_policy_deidfs *d = &p->deidfs;
	json_object *o = json_object_new_object(), *x, *a;
	size_t i;

	cj_add(o, "apiVersion", json_object_new_string(
		d->api_version == DD_API_V1 ? "v1" : "v1beta1"));
	if (d->key.present)
		cj_add(o, "cryptoKey", cj_key(&d->key));
	x = json_object_new_object();
	cj_add(x, "minDays", json_object_new_int64(d->date_shift_min));
	cj_add(x, "maxDays", json_object_new_int64(d->date_shift_max));
	cj_add(o, "dateShift", x);
	cj_add(o, "dates", json_object_new_string(pol_dates_names[d->dates]));
	if (d->linking == DD_LINK_SOURCES) {
		x = json_object_new_object();
		cj_add(x, "sources", cj_strv(&d->linking_sources));
		cj_add(o, "patientLinking", x);
	} else {
		cj_add(o, "patientLinking", json_object_new_string(
			d->linking == DD_LINK_OFF ? "off" : "auto"));
	}
	cj_add(o, "placeholderPatientIds", cj_strv(&d->placeholder_patient_ids));
	cj_add(o, "linkingIdentifierTypes", cj_strv(&d->linking_identifier_types));
	cj_add(o, "pathMode", json_object_new_string(pol_path_mode_names[d->path_mode]));
	cj_add(o, "pathAllowlist", cj_strv(&d->path_allowlist));
	cj_add(o, "otherFiles", json_object_new_string("hide"));
	cj_add(o, "birthDate", json_object_new_string(pol_birth_names[d->birth_date]));
	cj_add(o, "maxAge", json_object_new_int64(d->max_age));
	cj_add(o, "extensionAllowlist", cj_strv(&d->extension_allowlist));
	cj_add(o, "inspectFreeText", json_object_new_boolean(d->inspect_free_text));
	cj_add(o, "hideRecognizableVisualFeatures",
	       json_object_new_boolean(d->hide_recognizable_visual_features));
	cj_add(o, "hidePhotographic", json_object_new_boolean(d->hide_photographic));
	cj_add(o, "redactedEncoding",
	       json_object_new_string(pol_enc_names[d->redacted_encoding]));
	x = json_object_new_object();
	cj_add(x, "maxPixels", json_object_new_int64((int64_t)d->ocr_max_pixels));
	cj_add(x, "frameStride", json_object_new_int64(d->ocr_frame_stride));
	a = json_object_new_array();
	for (i = 0; i < d->n_ocr_regions; i++) {
		const struct dd_ocr_region *r = &d->ocr_regions[i];
		json_object *e = json_object_new_object();

		if (r->manufacturer)
			cj_add(e, "manufacturer", json_object_new_string(r->manufacturer));
		if (r->model)
			cj_add(e, "model", json_object_new_string(r->model));
		cj_add(e, "rows", json_object_new_int64(r->rows));
		cj_add(e, "columns", json_object_new_int64(r->columns));
		cj_add(e, "x", json_object_new_int64(r->x));
		cj_add(e, "y", json_object_new_int64(r->y));
		cj_add(e, "width", json_object_new_int64(r->width));
		cj_add(e, "height", json_object_new_int64(r->height));
		json_object_array_add(a, e);
	}
	cj_add(x, "regions", a);
	cj_add(o, "ocr", x);
	cj_add(o, "maxFileSize", json_object_new_int64((int64_t)d->max_file_size));
	cj_add(o, "jsonMaxDepth", json_object_new_int64(d->json_max_depth));
	a = json_object_new_array();
	for (i = 0; i < POL_N_PS315; i++)
		if (p->dicom.ps315_options & (1u << i))
			json_object_array_add(a, json_object_new_string(pol_ps315_names[i]));
	cj_add(o, "ps315Options", a);
	return o;
}

static json_object *cj_policy(const struct dd_policy *p)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	cj_add(o, "deidfs", cj_deidfs(p));
	if (p->dicom.present)
		cj_add(o, p->dicom.tag_config ? "dicomTagConfig" : "dicom",
		       cj_dicom(&p->dicom));
	if (p->fhir.present)
		cj_add(o, p->fhir.field_config ? "fhirFieldConfig" : "fhir",
		       cj_fhir(&p->fhir));
	if (p->image.present)
		cj_add(o, "image", cj_image(&p->image));
	if (p->text.present)
		cj_add(o, "text", cj_text(&p->text, p->deidfs.api_version));
	cj_add(o, "useRegionalDataProcessing",
	       json_object_new_boolean(p->use_regional_processing));
	return o;
}

/* ---- writer: sorted keys, no white space ---------------------------------- */

static dd_err cw_string(struct dd_buf *b, const char *s)
{
	dd_err e = dd_buf_addc(b, '"');

	for (; !e && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			e = dd_buf_addf(b, "\\%c", ch);
		else if (ch < 0x20)
			e = dd_buf_addf(b, "\\u%04x", ch);
		else
			e = dd_buf_addc(b, ch);
	}
	return e ? e : dd_buf_addc(b, '"');
}

static int cw_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static dd_err cw_value(struct dd_buf *b, json_object *o)
{
	dd_err e = DD_OK;
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return dd_buf_adds(b, "null");
	case json_type_boolean:
		return dd_buf_adds(b, json_object_get_boolean(o) ? "true" : "false");
	case json_type_int:
		return dd_buf_addf(b, "%lld", (long long)json_object_get_int64(o));
	case json_type_double:
		return dd_buf_adds(b, json_object_to_json_string(o));
	case json_type_string:
		return cw_string(b, json_object_get_string(o));
	case json_type_array:
		e = dd_buf_addc(b, '[');
		n = json_object_array_length(o);
		for (i = 0; !e && i < n; i++) {
			if (i)
				e = dd_buf_addc(b, ',');
			if (!e)
				e = cw_value(b, json_object_array_get_idx(o, i));
		}
		return e ? e : dd_buf_addc(b, ']');
	case json_type_object: {
		const char **keys;

		n = (size_t)json_object_object_length(o);
		keys = calloc(n ? n : 1, sizeof(*keys));
		if (!keys)
			return DD_E_NOMEM;
		i = 0;
		json_object_object_foreach(o, k, v) {
			(void)v;
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), cw_cmp);
		e = dd_buf_addc(b, '{');
		for (i = 0; !e && i < n; i++) {
			if (i)
				e = dd_buf_addc(b, ',');
			if (!e)
				e = cw_string(b, keys[i]);
			if (!e)
				e = dd_buf_addc(b, ':');
			if (!e)
				e = cw_value(b, json_object_object_get(o, keys[i]));
		}
		free(keys);
		return e ? e : dd_buf_addc(b, '}');
	}
	}
	return DD_E_INTERNAL;
}

static dd_err pc_json(const struct dd_policy *p, char **out)
{
	json_object *o = cj_policy(p);
	struct dd_buf b;
	size_t len;
	dd_err e;

	*out = NULL;
	if (!o)
		return DD_E_NOMEM;
	dd_buf_init(&b, CANON_MAX);
	e = cw_value(&b, o);
	json_object_put(o);
	if (e) {
		dd_buf_free(&b);
		return e;
	}
	*out = (char *)dd_buf_steal(&b, &len);
	return *out ? DD_OK : DD_E_NOMEM;
}

static void pc_hex(const unsigned char *md, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = 0;
}

/* sha256 over the NUL-separated parts, lower-case hex. */
static void pc_sha256(const char *const *parts, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);

	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) +
					     (i + 1 < n ? 1 : 0));
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != 32) {
		memset(md, 0, 32); /* cannot happen with a working libcrypto */
		mdlen = 32;
	}
	pc_hex(md, 32, out);
}

dd_err pol_canon_build(struct dd_policy *p)
{
	const char *parts[1];
	dd_err e;

	free(p->canonical_json);
	e = pc_json(p, &p->canonical_json);
	if (e)
		return e;
	parts[0] = p->canonical_json;
	pc_sha256(parts, 1, p->canonical_sha256);
	return DD_OK;
}

void dd_policy_hash(const struct dd_policy *p, const struct dd_key *key,
		    const char *engine_version, char out[65])
{
	const char *parts[4];
	char *own = NULL;

	parts[0] = "deidfs-policy-hash-v1";
	parts[1] = p->canonical_json;
	if (!parts[1]) {
		/* a policy built by hand (tests): write it now */
		if (pc_json(p, &own))
			own = NULL;
		parts[1] = own ? own : "";
	}
	parts[2] = key ? key->fingerprint : "";
	parts[3] = engine_version ? engine_version : "";
	pc_sha256(parts, 4, out);
	free(own);
}
