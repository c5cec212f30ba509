/* dd_policy_deidfs.c: the "deidfs" object (our own settings).  Every key,
 * its default and its range are in docs/policy.md; keep the two in step. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dd_policy_i.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *const pol_ps315_names[POL_N_PS315] = {
	"retainSafePrivate", "retainUids", "retainDeviceId",
	"retainInstitutionId", "retainPatientChars", "retainLongFullDates",
	"retainLongModifiedDates", "cleanDescriptors", "cleanStructuredContent",
	"cleanGraphics",
};
const char *const pol_path_mode_names[] = {
	[DD_PATH_SCRUB] = "scrub", [DD_PATH_HASH] = "hash",
	[DD_PATH_KEEP] = "keep",
};
const char *const pol_birth_names[] = {
	[DD_BIRTH_YEAR] = "year", [DD_BIRTH_SHIFT] = "shift",
	[DD_BIRTH_KEEP] = "keep", [DD_BIRTH_REMOVE] = "remove",
};
const char *const pol_dates_names[] = {
	[DD_DATES_SHIFT] = "shift", [DD_DATES_YEAR] = "year",
	[DD_DATES_KEEP] = "keep",
};
const char *const pol_enc_names[] = {
	[DD_ENC_EXPLICIT_LE] = "explicitLittleEndian", [DD_ENC_SAME] = "same",
};

/* Default placeholder PatientIDs (compared case-insensitively; the empty
 * value is always a placeholder). */
static const char *const dd_default_placeholders[] = {
	"ANON", "ANONYMOUS", "N/A", "NONE", "NULL", "UNKNOWN",
};

void pol_deidfs_defaults(struct pol_ctx *c)
{
	struct dd_policy_deidfs *d = &c->p->deidfs;
	size_t i;

	d->api_version = DD_API_V1;
	d->date_shift_min = -365;
	d->date_shift_max = -1;
	d->dates = DD_DATES_SHIFT;
	d->linking = DD_LINK_AUTO;
	for (i = 0; i < N(dd_default_placeholders); i++)
		pol_strv_add(c, &d->placeholder_patient_ids,
			     dd_default_placeholders[i]);
	pol_strv_add(c, &d->linking_identifier_types, "MR");
	d->path_mode = DD_PATH_SCRUB;
	d->hide_other_files = true;
	d->birth_date = DD_BIRTH_YEAR;
	d->max_age = 89;
	d->inspect_free_text = true;
	d->hide_recognizable_visual_features = true;
	d->hide_photographic = true;
	d->redacted_encoding = DD_ENC_EXPLICIT_LE;
	d->ocr_workers = 1;
	d->ocr_timeout_s = 120;
	d->ocr_max_pixels = 1ull << 28;
	d->ocr_frame_stride = 10;
	d->cache_size = 4ull << 30;
	d->max_file_size = 4ull << 30;
	d->json_max_depth = 64;
}

void pol_deidfs_free(struct dd_policy_deidfs *d)
{
	size_t i;

	free(d->key_file);
	OPENSSL_cleanse(&d->key, sizeof(d->key));
	pol_strv_free(&d->linking_sources);
	pol_strv_free(&d->placeholder_patient_ids);
	pol_strv_free(&d->linking_identifier_types);
	pol_strv_free(&d->path_allowlist);
	pol_strv_free(&d->extension_allowlist);
	for (i = 0; i < d->n_ocr_regions; i++) {
		free(d->ocr_regions[i].manufacturer);
		free(d->ocr_regions[i].model);
	}
	free(d->ocr_regions);
	free(d->cache_dir);
	memset(d, 0, sizeof(*d));
}

/* ---- small checks --------------------------------------------------------- */

/* An integer in [lo, hi], reported otherwise. */
static bool ds_int(struct pol_ctx *c, json_object *o, const char *path,
		   int64_t lo, int64_t hi, int64_t *out)
{
	int64_t v = json_object_get_int64(o);

	if (v < lo || v > hi) {
		pol_err(c, path, "%lld is out of range (expected %lld..%lld)",
			(long long)v, (long long)lo, (long long)hi);
		return false;
	}
	*out = v;
	return true;
}

/* A byte count: an integer or a string with a unit ("4GiB"). */
static bool ds_size(struct pol_ctx *c, json_object *o, const char *path,
		    uint64_t lo, uint64_t *out)
{
	uint64_t v;
	struct pol_q q;

	if (json_object_get_type(o) == json_type_int) {
		int64_t i = json_object_get_int64(o);

		if (i < 0) {
			pol_err(c, path, "%lld is negative (expected a byte count)",
				(long long)i);
			return false;
		}
		v = (uint64_t)i;
	} else if (!pol_parse_size(json_object_get_string(o), &v)) {
		pol_err(c, path, "bad size %s (expected bytes as an integer, or a whole number with a unit such as \"4GiB\" or \"500MB\")",
			pol_q(&q, json_object_get_string(o)));
		return false;
	}
	if (v > (uint64_t)INT64_MAX) {
		pol_err(c, path, "%llu bytes is too large (expected at most %lld bytes)",
			(unsigned long long)v, (long long)INT64_MAX);
		return false;
	}
	if (v < lo) {
		pol_err(c, path, "%llu bytes is too small (expected at least %llu bytes)",
			(unsigned long long)v, (unsigned long long)lo);
		return false;
	}
	*out = v;
	return true;
}

static bool ds_nonempty(struct pol_ctx *c, const char *s, const char *path)
{
	if (!*s) {
		pol_err(c, path, "empty string (expected a non-empty value)");
		return false;
	}
	return true;
}

static bool ds_token(struct pol_ctx *c, const char *s, const char *path)
{
	struct pol_q q;

	if (!*s || strchr(s, '/')) {
		pol_err(c, path, "bad name token %s (expected a non-empty word without \"/\")",
			pol_q(&q, s));
		return false;
	}
	return true;
}

static bool ds_url(struct pol_ctx *c, const char *s, const char *path)
{
	struct pol_q q;

	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ')
			goto bad;
	if (*s)
		return true;
bad:
	pol_err(c, path, "bad extension URL %s (expected a URL without spaces, such as \"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\")",
		pol_q(&q, s));
	return false;
}

/* ---- sub-objects ---------------------------------------------------------- */

static void ds_date_shift(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {
		{"minDays", JT_INT, 0, false},
		{"maxDays", JT_INT, 0, false},
	};
	struct dd_policy_deidfs *d = &c->p->deidfs;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];
	int64_t v;
	bool ok = true;

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	if (g[0]) {
		if (ds_int(c, g[0], pol_jp_key(sub, path, "minDays"), -36500,
			   36500, &v))
			d->date_shift_min = (int)v;
		else
			ok = false;
	}
	if (g[1]) {
		if (ds_int(c, g[1], pol_jp_key(sub, path, "maxDays"), -36500,
			   36500, &v))
			d->date_shift_max = (int)v;
		else
			ok = false;
	}
	if (!ok)
		return;
	if (d->date_shift_min > d->date_shift_max)
		pol_err(c, path, "minDays %d is greater than maxDays %d (expected minDays <= maxDays)",
			d->date_shift_min, d->date_shift_max);
	else if (d->date_shift_min == 0 && d->date_shift_max == 0)
		pol_err(c, path, "the range holds only 0 days (expected a range with a non-zero shift, such as -365..-1)");
}

static void ds_linking(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {{"sources", JT_ARR, 0, false}};
	struct dd_policy_deidfs *d = &c->p->deidfs;
	json_object *g[1];
	char sub[POL_PATH_MAX];
	int v;

	if (json_object_get_type(o) == json_type_string) {
		static const char *const str_modes[] = {"auto", "off"};

		v = pol_enum(c, o, path, str_modes, N(str_modes));
		if (v >= 0)
			d->linking = v == 0 ? DD_LINK_AUTO : DD_LINK_OFF;
		return;
	}
	if (!pol_fields_take(c, o, path, f, 1, g))
		return;
	pol_jp_key(sub, path, "sources");
	if (g[0])
		pol_strv_take(c, g[0], sub, &d->linking_sources, ds_nonempty);
	if (!d->linking_sources.n) {
		pol_err(c, sub, "no sources (expected {\"sources\": [\"DIR or FILE\", ...]} with at least one entry, or \"auto\" or \"off\")");
		return;
	}
	d->linking = DD_LINK_SOURCES;
}

static void ds_region(struct pol_ctx *c, json_object *o, const char *path,
		      struct dd_ocr_region *r, bool *ok)
{
	static const struct pol_field f[] = {
		{"manufacturer", JT_STR, 0, false},
		{"model", JT_STR, 0, false},
		{"rows", JT_INT, 0, false},
		{"columns", JT_INT, 0, false},
		{"x", JT_INT, 0, false},
		{"y", JT_INT, 0, false},
		{"width", JT_INT, 0, false},
		{"height", JT_INT, 0, false},
	};
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];
	uint32_t *dst[] = {&r->rows, &r->columns, &r->x, &r->y, &r->width,
			   &r->height};
	size_t i;
	int64_t v;

	*ok = false;
	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	if (g[0])
		r->manufacturer = pol_strdup(c, json_object_get_string(g[0]));
	if (g[1])
		r->model = pol_strdup(c, json_object_get_string(g[1]));
	for (i = 2; i < N(f); i++) {
		if (!g[i])
			continue;
		if (ds_int(c, g[i], pol_jp_key(sub, path, f[i].name),
			   i >= 6 ? 1 : 0, 65535, &v))
			*dst[i - 2] = (uint32_t)v;
	}
	for (i = 6; i < 8; i++)
		if (!g[i]) {
			pol_err(c, path, "missing field %s (expected x, y, width and height in pixels)",
				f[i].name);
			return;
		}
	if (r->columns && r->x + r->width > r->columns) {
		pol_err(c, path, "x + width = %u is beyond columns %u (expected a region inside the image)",
			r->x + r->width, r->columns);
		return;
	}
	if (r->rows && r->y + r->height > r->rows) {
		pol_err(c, path, "y + height = %u is beyond rows %u (expected a region inside the image)",
			r->y + r->height, r->rows);
		return;
	}
	*ok = true;
}

static void ds_ocr(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {
		{"workers", JT_INT, 0, false},
		{"timeoutSeconds", JT_INT, 0, false},
		{"maxPixels", JT_INT, 0, false},
		{"frameStride", JT_INT, 0, false},
		{"regions", JT_ARR, 0, false},
	};
	struct dd_policy_deidfs *d = &c->p->deidfs;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX], el[POL_PATH_MAX];
	int64_t v;
	size_t i, n;

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	if (g[0] && ds_int(c, g[0], pol_jp_key(sub, path, "workers"), 1, 2, &v))
		d->ocr_workers = (unsigned)v;
	if (g[1] && ds_int(c, g[1], pol_jp_key(sub, path, "timeoutSeconds"), 1,
			   86400, &v))
		d->ocr_timeout_s = (unsigned)v;
	if (g[2] && ds_int(c, g[2], pol_jp_key(sub, path, "maxPixels"), 1,
			   (int64_t)1 << 40, &v))
		d->ocr_max_pixels = (uint64_t)v;
	if (g[3] && ds_int(c, g[3], pol_jp_key(sub, path, "frameStride"), 1,
			   1000000, &v))
		d->ocr_frame_stride = (unsigned)v;
	if (!g[4])
		return;
	pol_jp_key(sub, path, "regions");
	n = json_object_array_length(g[4]);
	if (n > 10000) {
		pol_err(c, sub, "%zu elements (expected at most 10000)", n);
		return;
	}
	d->ocr_regions = calloc(n ? n : 1, sizeof(*d->ocr_regions));
	if (!d->ocr_regions) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		struct dd_ocr_region *r = &d->ocr_regions[d->n_ocr_regions];
		bool ok;

		ds_region(c, json_object_array_get_idx(g[4], i),
			  pol_jp_idx(el, sub, i), r, &ok);
		if (ok) {
			d->n_ocr_regions++;
		} else {
			free(r->manufacturer);
			free(r->model);
			memset(r, 0, sizeof(*r));
		}
	}
}

static void ds_ps315(struct pol_ctx *c, json_object *arr, const char *path)
{
	char el[POL_PATH_MAX];
	size_t i, n = json_object_array_length(arr);
	unsigned bits = 0;

	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		int v;

		pol_jp_idx(el, path, i);
		if (json_object_get_type(e) != json_type_string) {
			pol_err(c, el, "wrong type %s (expected string)",
				pol_type_name(e));
			continue;
		}
		v = pol_enum(c, e, el, pol_ps315_names, POL_N_PS315);
		if (v >= 0)
			bits |= 1u << v;
	}
	if ((bits & DD_PS315_RETAIN_LONG_FULL_DATES) &&
	    (bits & DD_PS315_RETAIN_LONG_MODIFIED_DATES))
		pol_err(c, path, "both retainLongFullDates and retainLongModifiedDates are set (expected only one: PS3.15 defines them as alternatives)");
	c->p->dicom.ps315_options |= bits;
}

/* ---- the object ----------------------------------------------------------- */

static const struct pol_field ds_f[] = {
	{"apiVersion", JT_STR, 0, false},            /* 0 */
	{"cryptoKey", JT_STR, 1, false},
	{"keyFile", JT_STR, 1, false},
	{"dateShift", JT_OBJ, 0, false},
	{"dates", JT_STR, 0, false},
	{"patientLinking", JT_STR_OR_OBJ, 0, false}, /* 5 */
	{"placeholderPatientIds", JT_ARR, 0, false},
	{"linkingIdentifierTypes", JT_ARR, 0, false},
	{"pathMode", JT_STR, 0, false},
	{"pathAllowlist", JT_ARR, 0, false},
	{"otherFiles", JT_STR, 0, false},            /* 10 */
	{"birthDate", JT_STR, 0, false},
	{"maxAge", JT_INT, 0, false},
	{"extensionAllowlist", JT_ARR, 0, false},
	{"inspectFreeText", JT_BOOL, 0, false},
	{"hideRecognizableVisualFeatures", JT_BOOL, 0, false}, /* 15 */
	{"hidePhotographic", JT_BOOL, 0, false},
	{"redactedEncoding", JT_STR, 0, false},
	{"ocr", JT_OBJ, 0, false},
	{"cacheSize", JT_INT_OR_STR, 0, false},
	{"cacheDir", JT_STR, 0, false},              /* 20 */
	{"maxFileSize", JT_INT_OR_STR, 0, false},
	{"jsonMaxDepth", JT_INT, 0, false},
	{"ps315Options", JT_ARR, 0, false},
};

/* A relative keyFile is relative to the policy file's directory. */
static char *ds_key_path(struct pol_ctx *c, const char *s, const char *dir)
{
	char *out;

	if (s[0] == '/' || !dir)
		return pol_strdup(c, s);
	if (asprintf(&out, "%s/%s", dir, s) < 0) {
		c->nomem = true;
		return NULL;
	}
	return out;
}

void pol_deidfs_parse(struct pol_ctx *c, json_object *o, const char *path)
{
	static const char *const api[] = {"v1", "v1beta1"};
	static const char *const other[] = {"hide"};
	struct dd_policy_deidfs *d = &c->p->deidfs;
	json_object *g[N(ds_f)];
	char sub[POL_PATH_MAX];
	int64_t v;
	uint64_t u;
	int e;

	if (!pol_fields_take(c, o, path, ds_f, N(ds_f), g))
		return;
#define SUB(name) pol_jp_key(sub, path, name)
	if (g[0] && (e = pol_enum(c, g[0], SUB("apiVersion"), api, 2)) >= 0) {
		d->api_version = (enum dd_api_version)e;
		c->api_explicit = true;
	}
	c->api = d->api_version;
	if (g[1])
		pol_key_take(c, g[1], SUB("cryptoKey"), &d->key);
	if (g[2] && ds_nonempty(c, json_object_get_string(g[2]), SUB("keyFile")))
		d->key_file = ds_key_path(c, json_object_get_string(g[2]),
					  c->dir);
	if (g[3])
		ds_date_shift(c, g[3], SUB("dateShift"));
	if (g[5])
		ds_linking(c, g[5], SUB("patientLinking"));
	if (g[6])
		pol_strv_take(c, g[6], SUB("placeholderPatientIds"),
			      &d->placeholder_patient_ids, NULL);
	if (g[7])
		pol_strv_take(c, g[7], SUB("linkingIdentifierTypes"),
			      &d->linking_identifier_types, ds_nonempty);
	if (g[8] && (e = pol_enum(c, g[8], SUB("pathMode"), pol_path_mode_names,
				  3)) >= 0)
		d->path_mode = (enum dd_path_mode)e;
	if (g[9])
		pol_strv_take(c, g[9], SUB("pathAllowlist"), &d->path_allowlist,
			      ds_token);
	if (g[10])
		pol_enum(c, g[10], SUB("otherFiles"), other, 1);
	if (g[11] && (e = pol_enum(c, g[11], SUB("birthDate"), pol_birth_names,
				   4)) >= 0)
		d->birth_date = (enum dd_birth_date)e;
	if (g[12] && ds_int(c, g[12], SUB("maxAge"), 1, 150, &v))
		d->max_age = (int)v;
	if (g[13])
		pol_strv_take(c, g[13], SUB("extensionAllowlist"),
			      &d->extension_allowlist, ds_url);
	if (g[14])
		d->inspect_free_text = json_object_get_boolean(g[14]);
	if (g[15])
		d->hide_recognizable_visual_features =
			json_object_get_boolean(g[15]);
	if (g[16])
		d->hide_photographic = json_object_get_boolean(g[16]);
	if (g[17] && (e = pol_enum(c, g[17], SUB("redactedEncoding"),
				   pol_enc_names, 2)) >= 0)
		d->redacted_encoding = (enum dd_redacted_encoding)e;
	if (g[18])
		ds_ocr(c, g[18], SUB("ocr"));
	if (g[19] && ds_size(c, g[19], SUB("cacheSize"), 1u << 20, &u))
		d->cache_size = u;
	if (g[20] && ds_nonempty(c, json_object_get_string(g[20]), SUB("cacheDir")))
		d->cache_dir = pol_strdup(c, json_object_get_string(g[20]));
	if (g[21] && ds_size(c, g[21], SUB("maxFileSize"), 0, &u))
		d->max_file_size = u;
	if (g[22] && ds_int(c, g[22], SUB("jsonMaxDepth"), 4, 10000, &v))
		d->json_max_depth = (unsigned)v;
	if (g[23])
		ds_ps315(c, g[23], SUB("ps315Options"));

	/* dates: after ps315Options, whose date options it must agree with */
	{
		unsigned o315 = c->p->dicom.ps315_options;

		d->dates = (o315 & DD_PS315_RETAIN_LONG_FULL_DATES)
				   ? DD_DATES_KEEP : DD_DATES_SHIFT;
		if (g[4] && (e = pol_enum(c, g[4], SUB("dates"), pol_dates_names,
					  3)) >= 0) {
			d->dates = (enum dd_dates)e;
			if (e == DD_DATES_KEEP &&
			    (o315 & DD_PS315_RETAIN_LONG_MODIFIED_DATES))
				pol_err(c, sub, "\"keep\" contradicts ps315Options retainLongModifiedDates (expected \"shift\" or \"year\", or retainLongFullDates)");
			else if (e != DD_DATES_KEEP &&
				 (o315 & DD_PS315_RETAIN_LONG_FULL_DATES))
				pol_err(c, sub, "%s contradicts ps315Options retainLongFullDates (expected \"keep\", or retainLongModifiedDates)",
					e == DD_DATES_YEAR ? "\"year\"" : "\"shift\"");
		}
	}
#undef SUB
}

void pol_deidfs_check(struct pol_ctx *c, json_object *deidfs)
{
	const struct dd_policy *p = c->p;
	unsigned mine = p->dicom.ps315_options & ~(unsigned)DD_PS315_CLEAN_DESC;

	(void)deidfs;
	if (mine && p->dicom.profile != DD_DICOM_PROFILE_BASIC)
		pol_warn(c, "$.deidfs.ps315Options",
			 "PS3.15 options apply only to ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE (accepted, no effect with %s)",
			 p->dicom.filter == DD_DICOM_FILTER_KEEP_LIST ? "a keepList"
			 : p->dicom.filter == DD_DICOM_FILTER_REMOVE_LIST
				 ? "a removeList"
				 : pol_dicom_profile_names[p->dicom.profile]);
}
