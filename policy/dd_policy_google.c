/* dd_policy_google.c: Google's DeidentifyConfig (v1 and v1beta1) into
 * struct dd_policy.  Field names, oneof groups and defaults follow the
 * Cloud Healthcare API schema (docs/policy.md has the sources). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dd_dict.h"
#include "dd_policy_i.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names, by resolved enum (shared with the canonical writer) ----------- */

const char *const pol_dicom_profile_names[] = {
	[DD_DICOM_PROFILE_KEEP_ALL] = "KEEP_ALL_PROFILE",
	[DD_DICOM_PROFILE_MINIMAL_KEEP_LIST] = "MINIMAL_KEEP_LIST_PROFILE",
	[DD_DICOM_PROFILE_BASIC] = "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
	[DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS] = "DEIDENTIFY_TAG_CONTENTS",
};
const char *const pol_redaction_names[] = {
	[DD_REDACT_NO_TEXT] = "REDACT_NO_TEXT",
	[DD_REDACT_ALL_TEXT] = "REDACT_ALL_TEXT",
	[DD_REDACT_SENSITIVE_TEXT] = "REDACT_SENSITIVE_TEXT",
	[DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS] =
		"REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS",
};
const char *const pol_fhir_profile_names[] = {
	[DD_FHIR_PROFILE_KEEP_ALL] = "KEEP_ALL",
	[DD_FHIR_PROFILE_BASIC] = "BASIC",
	[DD_FHIR_PROFILE_CLEAN_ALL] = "CLEAN_ALL",
};
const char *const pol_dact_names[] = {
	[DD_DACT_KEEP] = "keepTag",
	[DD_DACT_REMOVE] = "removeTag",
	[DD_DACT_DELETE] = "deleteTag",
	[DD_DACT_RESET] = "resetTag",
	[DD_DACT_REGEN_UID] = "regenUidTag",
	[DD_DACT_CLEAN_TEXT] = "cleanTextTag",
	[DD_DACT_CLEAN_IMAGE] = "cleanImageTag",
	[DD_DACT_RECURSE] = "recurseTag",
};
const char *const pol_fact_names[] = {
	[DD_FACT_UNSPECIFIED] = "ACTION_UNSPECIFIED",
	[DD_FACT_TRANSFORM] = "TRANSFORM",
	[DD_FACT_INSPECT_AND_TRANSFORM] = "INSPECT_AND_TRANSFORM",
	[DD_FACT_DO_NOT_TRANSFORM] = "DO_NOT_TRANSFORM",
	[DD_FACT_KEEP] = "keepField",
	[DD_FACT_REMOVE] = "removeField",
	[DD_FACT_CHARACTER_MASK] = "characterMaskField",
	[DD_FACT_CRYPTO_HASH] = "cryptoHashField",
	[DD_FACT_DATE_SHIFT] = "dateShiftField",
	[DD_FACT_CLEAN_TEXT] = "cleanTextField",
};
const char *const pol_tx_names[] = {
	[DD_TX_REPLACE_WITH_INFO_TYPE] = "replaceWithInfoTypeConfig",
	[DD_TX_REDACT] = "redactConfig",
	[DD_TX_CHARACTER_MASK] = "characterMaskConfig",
	[DD_TX_CRYPTO_HASH] = "cryptoHashConfig",
	[DD_TX_DATE_SHIFT] = "dateShiftConfig",
};

/* ---- ImageConfig ---------------------------------------------------------- */

static const char *const g_mode_in[] = {
	"TEXT_REDACTION_MODE_UNSPECIFIED", "REDACT_ALL_TEXT",
	"REDACT_SENSITIVE_TEXT", "REDACT_NO_TEXT",
	"REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS",
};
static const int g_mode_map[] = {
	DD_REDACT_NO_TEXT, DD_REDACT_ALL_TEXT, DD_REDACT_SENSITIVE_TEXT,
	DD_REDACT_NO_TEXT, DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS,
};

static void g_image(struct pol_ctx *c, json_object *o, const char *path,
		    struct dd_policy_image *im)
{
	static const struct pol_field f[] = {
		{"textRedactionMode", JT_STR, 0, false},
		{"additionalInfoTypes", JT_ARR, 0, true},
		{"excludeInfoTypes", JT_ARR, 0, true},
	};
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];
	int mode = 0;

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	im->present = true;
	im->mode = DD_REDACT_NO_TEXT;
	if (g[0]) {
		pol_jp_key(sub, path, "textRedactionMode");
		mode = pol_enum(c, g[0], sub, g_mode_in, N(g_mode_in));
		if (mode == 4 && c->api == DD_API_V1)
			pol_err(c, sub, "REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS needs apiVersion v1beta1 (expected \"deidfs\": {\"apiVersion\": \"v1beta1\"})");
		if (mode >= 0)
			im->mode = (enum dd_redaction_mode)g_mode_map[mode];
	}
	if (g[1]) {
		pol_jp_key(sub, path, "additionalInfoTypes");
		pol_strv_take(c, g[1], sub, &im->additional_info_types,
			      pol_check_info_type);
		if (im->additional_info_types.n && mode != 0 && mode != 2 &&
		    mode != 4 && mode >= 0)
			pol_err(c, sub, "not allowed with textRedactionMode %s (expected REDACT_SENSITIVE_TEXT, REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS or no textRedactionMode)",
				g_mode_in[mode]);
	}
	if (g[2]) {
		pol_jp_key(sub, path, "excludeInfoTypes");
		pol_strv_take(c, g[2], sub, &im->exclude_info_types,
			      pol_check_info_type);
		if (im->exclude_info_types.n && mode != 2 && mode != 4 &&
		    mode >= 0)
			pol_err(c, sub, "not allowed with textRedactionMode %s (expected REDACT_SENSITIVE_TEXT or REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS)",
				g_mode_in[mode]);
	}
}

/* ---- DicomConfig (v1) ----------------------------------------------------- */

static const char *const g_tfp_in[] = {
	"TAG_FILTER_PROFILE_UNSPECIFIED", "MINIMAL_KEEP_LIST_PROFILE",
	"ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE", "KEEP_ALL_PROFILE",
	"DEIDENTIFY_TAG_CONTENTS",
};
/* index in g_tfp_in / DicomTagConfig profile names -> enum; 0 is
 * "unspecified", resolved by the caller */
static const int g_prof_map[] = {
	-1, DD_DICOM_PROFILE_MINIMAL_KEEP_LIST, DD_DICOM_PROFILE_BASIC,
	DD_DICOM_PROFILE_KEEP_ALL, DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS,
};

static int g_tag_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* TagFilterList {tags[]}: resolved, sorted, without duplicates. */
static void g_tag_list(struct pol_ctx *c, json_object *o, const char *path,
		       struct dd_policy_dicom *d)
{
	static const struct pol_field f[] = {{"tags", JT_ARR, 0, false}};
	json_object *g[1];
	char sub[POL_PATH_MAX], el[POL_PATH_MAX];
	size_t i, n, k = 0;

	if (!pol_fields_take(c, o, path, f, 1, g) || !g[0])
		return;
	pol_jp_key(sub, path, "tags");
	n = json_object_array_length(g[0]);
	if (n > POL_MAX_ARRAY) {
		pol_err(c, sub, "%zu elements (expected at most %u)", n,
			POL_MAX_ARRAY);
		return;
	}
	d->list_tags = calloc(n ? n : 1, sizeof(*d->list_tags));
	if (!d->list_tags) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(g[0], i);

		pol_jp_idx(el, sub, i);
		if (json_object_get_type(e) != json_type_string) {
			pol_err(c, el, "wrong type %s (expected string)",
				pol_type_name(e));
			continue;
		}
		if (pol_tag_resolve(c, json_object_get_string(e), el,
				    &d->list_tags[k]))
			k++;
	}
	qsort(d->list_tags, k, sizeof(*d->list_tags), g_tag_cmp);
	for (i = 0, n = 0; i < k; i++)
		if (n == 0 || d->list_tags[n - 1] != d->list_tags[i])
			d->list_tags[n++] = d->list_tags[i];
	d->n_list_tags = n;
}

static void g_dicom(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {
		{"filterProfile", JT_STR, 1, false},
		{"keepList", JT_OBJ, 1, false},
		{"removeList", JT_OBJ, 1, false},
		{"skipIdRedaction", JT_BOOL, 0, false},
	};
	struct dd_policy_dicom *d = &c->p->dicom;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];
	int v;

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	d->present = true;
	/* DicomConfig: TAG_FILTER_PROFILE_UNSPECIFIED is KEEP_ALL_PROFILE, in
	 * v1 and v1beta1 alike */
	d->profile = DD_DICOM_PROFILE_KEEP_ALL;
	d->filter = DD_DICOM_FILTER_PROFILE;
	if (g[0]) {
		v = pol_enum(c, g[0], pol_jp_key(sub, path, "filterProfile"),
			     g_tfp_in, N(g_tfp_in));
		if (v > 0)
			d->profile = (enum dd_dicom_profile)g_prof_map[v];
	}
	if (g[1]) {
		d->filter = DD_DICOM_FILTER_KEEP_LIST;
		g_tag_list(c, g[1], pol_jp_key(sub, path, "keepList"), d);
	}
	if (g[2]) {
		d->filter = DD_DICOM_FILTER_REMOVE_LIST;
		g_tag_list(c, g[2], pol_jp_key(sub, path, "removeList"), d);
	}
	if (g[3] && json_object_get_boolean(g[3]))
		d->primary_ids = DD_PRIMARY_IDS_KEEP;
}

/* ---- DicomTagConfig (v1beta1) --------------------------------------------- */

static const char *const g_dprof_in[] = {
	"PROFILE_TYPE_UNSPECIFIED", "MINIMAL_KEEP_LIST_PROFILE",
	"ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE", "KEEP_ALL_PROFILE",
	"DEIDENTIFY_TAG_CONTENTS",
};

static const struct pol_field g_action_f[] = {
	{"queries", JT_ARR, 0, false},
	{"keepTag", JT_OBJ, 1, false},
	{"removeTag", JT_OBJ, 1, false},
	{"deleteTag", JT_OBJ, 1, false},
	{"resetTag", JT_OBJ, 1, false},
	{"regenUidTag", JT_OBJ, 1, false},
	{"cleanTextTag", JT_OBJ, 1, false},
	{"cleanImageTag", JT_OBJ, 1, false},
	{"recurseTag", JT_OBJ, 1, false},
};
/* g_action_f[i + 1] is action kind i */

/* The VRs an action applies to ("UI"), or NULL for any. */
static const char *g_action_vrs(enum dd_dicom_action_kind k)
{
	switch (k) {
	case DD_DACT_REGEN_UID:
		return "UI";
	case DD_DACT_CLEAN_TEXT:
		return "AE LO LT PN SH ST UC UT DA DT AS";
	case DD_DACT_RECURSE:
		return "SQ";
	default:
		return NULL;
	}
}

static bool g_vr_in(const char *vr, const char *list)
{
	size_t k, n = (strlen(list) + 1) / 3;

	for (k = 0; k < n; k++)
		if (list[3 * k] == vr[0] && list[3 * k + 1] == vr[1])
			return true;
	return false;
}

/* "UI", or "AE, LO, ... or AS" */
static const char *g_vr_list_words(const char *list, char *out, size_t len)
{
	size_t k, o = 0, n = (strlen(list) + 1) / 3;

	out[0] = 0;
	for (k = 0; k < n && o < len; k++)
		o += (size_t)snprintf(out + o, len - o, "%s%.2s",
				      k == 0 ? "" : (k + 1 == n ? " or " : ", "),
				      list + 3 * k);
	return out;
}

static bool g_query(struct pol_ctx *c, const char *s, const char *path,
		    enum dd_dicom_action_kind kind, struct dd_dicom_query *q)
{
	const char *vrs = g_action_vrs(kind), *kname = pol_dact_names[kind];
	const struct dd_dict_entry *e;
	char words[128];
	struct pol_q qs;

	memset(q, 0, sizeof(*q));
	if (strlen(s) == 2 && isupper((unsigned char)s[0]) &&
	    isupper((unsigned char)s[1]) && !dd_dict_find_keyword(s)) {
		if (!pol_vr_valid(s)) {
			pol_err(c, path, "unknown VR %s (expected a tag, a keyword or a VR such as \"PN\")",
				pol_q(&qs, s));
			return false;
		}
		if (kind == DD_DACT_CLEAN_IMAGE) {
			pol_err(c, path, "cleanImageTag applies only to PixelData (expected \"PixelData\" or \"7FE00010\")");
			return false;
		}
		if (vrs && !g_vr_in(s, vrs)) {
			pol_err(c, path, "%s does not apply to VR %s (expected VR %s)",
				kname, s, g_vr_list_words(vrs, words, sizeof(words)));
			return false;
		}
		q->kind = DD_DQ_VR;
		q->vr[0] = s[0];
		q->vr[1] = s[1];
		return true;
	}
	if (!pol_tag_resolve(c, s, path, &q->tag))
		return false;
	q->kind = DD_DQ_TAG;
	if (kind == DD_DACT_CLEAN_IMAGE && q->tag != DD_TAG(0x7fe0, 0x0010)) {
		pol_err(c, path, "cleanImageTag applies only to PixelData (expected \"PixelData\" or \"7FE00010\")");
		return false;
	}
	e = dd_dict_find_tag(q->tag);
	if (vrs && e && isupper((unsigned char)e->vr[0]) &&
	    isupper((unsigned char)e->vr[1]) && !g_vr_in(e->vr, vrs)) {
		pol_err(c, path, "%s does not apply to %s (VR %s) (expected a tag of VR %s)",
			kname, pol_q(&qs, s), e->vr,
			g_vr_list_words(vrs, words, sizeof(words)));
		return false;
	}
	return true;
}

static void g_action(struct pol_ctx *c, json_object *o, const char *path,
		     struct dd_dicom_action *a, bool *ok)
{
	json_object *g[N(g_action_f)];
	char sub[POL_PATH_MAX], el[POL_PATH_MAX];
	size_t i, n, k;

	*ok = false;
	if (!pol_fields_take(c, o, path, g_action_f, N(g_action_f), g))
		return;
	for (k = 1; k < N(g_action_f); k++)
		if (g[k])
			break;
	if (k == N(g_action_f)) {
		pol_oneof_missing(c, path, "action", g_action_f,
				  N(g_action_f), 1);
		return;
	}
	a->kind = (enum dd_dicom_action_kind)(k - 1);
	pol_jp_key(sub, path, g_action_f[k].name);
	if (a->kind == DD_DACT_CLEAN_IMAGE)
		g_image(c, g[k], sub, &a->image);
	else
		pol_empty_msg(c, g[k], sub);
	*ok = true;
	if (!g[0] || json_object_array_length(g[0]) == 0) {
		pol_warn(c, path, "no queries: this action matches nothing");
		return;
	}
	pol_jp_key(sub, path, "queries");
	n = json_object_array_length(g[0]);
	if (n > POL_MAX_ARRAY) {
		pol_err(c, sub, "%zu elements (expected at most %u)", n,
			POL_MAX_ARRAY);
		return;
	}
	a->queries = calloc(n, sizeof(*a->queries));
	if (!a->queries) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(g[0], i);

		pol_jp_idx(el, sub, i);
		if (json_object_get_type(e) != json_type_string) {
			pol_err(c, el, "wrong type %s (expected string)",
				pol_type_name(e));
			continue;
		}
		if (g_query(c, json_object_get_string(e), el, a->kind,
			    &a->queries[a->n_queries]))
			a->n_queries++;
	}
}

static void g_actions(struct pol_ctx *c, json_object *arr, const char *path,
		      struct dd_policy_dicom *d)
{
	char sub[POL_PATH_MAX];
	size_t i, n = json_object_array_length(arr);

	if (n > POL_MAX_ARRAY) {
		pol_err(c, path, "%zu elements (expected at most %u)", n,
			POL_MAX_ARRAY);
		return;
	}
	d->actions = calloc(n ? n : 1, sizeof(*d->actions));
	if (!d->actions) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		bool ok;

		g_action(c, json_object_array_get_idx(arr, i),
			 pol_jp_idx(sub, path, i), &d->actions[d->n_actions],
			 &ok);
		if (ok) {
			d->n_actions++;
		} else {
			struct dd_dicom_action *a = &d->actions[d->n_actions];

			free(a->queries);
			pol_strv_free(&a->image.additional_info_types);
			pol_strv_free(&a->image.exclude_info_types);
			memset(a, 0, sizeof(*a));
		}
	}
}

static void g_dicom_options(struct pol_ctx *c, json_object *o, const char *path,
			    struct dd_policy_dicom *d)
{
	static const struct pol_field f[] = {
		{"cleanDescriptors", JT_OBJ, 0, false},
		{"cleanImage", JT_OBJ, 0, false},
		{"primaryIds", JT_STR, 0, false},
	};
	static const char *const pid[] = {"PRIMARY_IDS_OPTION_UNSPECIFIED",
					  "KEEP", "REGEN"};
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	if (g[0]) {
		pol_empty_msg(c, g[0], pol_jp_key(sub, path, "cleanDescriptors"));
		d->clean_descriptors = true;
		d->ps315_options |= DD_PS315_CLEAN_DESC;
	}
	if (g[1]) {
		g_image(c, g[1], pol_jp_key(sub, path, "cleanImage"),
			&d->clean_image);
		d->clean_image_given = true;
	}
	if (g[2] && pol_enum(c, g[2], pol_jp_key(sub, path, "primaryIds"),
			     pid, N(pid)) == 1)
		d->primary_ids = DD_PRIMARY_IDS_KEEP;
}

static void g_dicom_tag_config(struct pol_ctx *c, json_object *o,
			       const char *path)
{
	static const struct pol_field f[] = {
		{"profileType", JT_STR, 0, false},
		{"options", JT_OBJ, 0, false},
		{"actions", JT_ARR, 0, false},
	};
	struct dd_policy_dicom *d = &c->p->dicom;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];
	int v;

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	d->present = true;
	d->tag_config = true;
	d->filter = DD_DICOM_FILTER_PROFILE;
	/* DicomTagConfig: PROFILE_TYPE_UNSPECIFIED is the Basic Profile */
	d->profile = DD_DICOM_PROFILE_BASIC;
	if (g[0]) {
		v = pol_enum(c, g[0], pol_jp_key(sub, path, "profileType"),
			     g_dprof_in, N(g_dprof_in));
		if (v > 0)
			d->profile = (enum dd_dicom_profile)g_prof_map[v];
	}
	if (g[1])
		g_dicom_options(c, g[1], pol_jp_key(sub, path, "options"), d);
	if (g[2])
		g_actions(c, g[2], pol_jp_key(sub, path, "actions"), d);
}

/* ---- FHIR ----------------------------------------------------------------- */

/* A FieldMetadata path: dot-separated names, each [A-Za-z][A-Za-z0-9_]*
 * with an optional "[x]".  Names we do not know only warn: the engine
 * matches paths by suffix, so an unknown one merely matches nothing. */
static bool g_fhir_path(struct pol_ctx *c, const char *s, const char *path)
{
	const char *p = s;
	char comp[128];
	struct pol_q q, q2;

	if (!*s || strlen(s) > 512)
		goto bad;
	for (;;) {
		const char *start = p;
		size_t len;

		if (!isalpha((unsigned char)*p))
			goto bad;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		len = (size_t)(p - start);
		if (!strncmp(p, "[x]", 3))
			p += 3;
		if (len < sizeof(comp)) {
			memcpy(comp, start, len);
			comp[len] = 0;
			if ((start == s || isupper((unsigned char)comp[0])) &&
			    !pol_fhir_name_known(comp))
				pol_warn(c, path, "%s: %s is no FHIR R4 %s (this path may match nothing)",
					 pol_q(&q, s), pol_q(&q2, comp),
					 start == s ? "resource, type or element name"
						    : "type name");
		}
		if (*p == 0)
			return true;
		if (*p != '.')
			goto bad;
		p++;
	}
bad:
	pol_err(c, path, "bad FHIR path %s (expected dot-separated names such as \"Patient.name\", \"Address.String\" or \"HumanName\")",
		pol_q(&q, s));
	return false;
}

/* FieldMetadata paths[] (both versions). */
static void g_paths(struct pol_ctx *c, json_object *arr, const char *path,
		    struct dd_strv *v)
{
	pol_strv_take(c, arr, path, v, g_fhir_path);
}

static const char *const g_fact_v1_in[] = {
	"ACTION_UNSPECIFIED", "TRANSFORM", "INSPECT_AND_TRANSFORM",
	"DO_NOT_TRANSFORM",
};

static void g_fhir_fields(struct pol_ctx *c, json_object *arr,
			  const char *path, struct dd_policy_fhir *fh, bool beta)
{
	static const struct pol_field f1[] = {
		{"paths", JT_ARR, 0, false},
		{"action", JT_STR, 0, false},
	};
	static const struct pol_field fb[] = {
		{"paths", JT_ARR, 0, false},
		{"keepField", JT_OBJ, 1, false},
		{"removeField", JT_OBJ, 1, false},
		{"characterMaskField", JT_OBJ, 1, false},
		{"cryptoHashField", JT_OBJ, 1, false},
		{"dateShiftField", JT_OBJ, 1, false},
		{"cleanTextField", JT_OBJ, 1, false},
	};
	char sub[POL_PATH_MAX], el[POL_PATH_MAX];
	size_t i, k, n = json_object_array_length(arr);

	if (n > POL_MAX_ARRAY) {
		pol_err(c, path, "%zu elements (expected at most %u)", n,
			POL_MAX_ARRAY);
		return;
	}
	fh->fields = calloc(n ? n : 1, sizeof(*fh->fields));
	if (!fh->fields) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		struct dd_fhir_field *fd = &fh->fields[fh->n_fields];
		json_object *g[N(fb)];
		int v;

		pol_jp_idx(el, path, i);
		if (!pol_fields_take(c, json_object_array_get_idx(arr, i), el,
				     beta ? fb : f1, beta ? N(fb) : N(f1), g))
			continue;
		if (g[0])
			g_paths(c, g[0], pol_jp_key(sub, el, "paths"),
				&fd->paths);
		if (!fd->paths.n)
			pol_warn(c, el, "no paths: this entry matches nothing");
		if (!beta) {
			fd->action = DD_FACT_UNSPECIFIED;
			if (g[1]) {
				v = pol_enum(c, g[1], pol_jp_key(sub, el, "action"),
					     g_fact_v1_in, N(g_fact_v1_in));
				if (v > 0)
					fd->action = (enum dd_fhir_action)v;
			}
			fh->n_fields++;
			continue;
		}
		for (k = 1; k < N(fb); k++)
			if (g[k])
				break;
		if (k == N(fb)) {
			pol_oneof_missing(c, el, "action", fb, N(fb), 1);
			pol_strv_free(&fd->paths);
			continue;
		}
		pol_empty_msg(c, g[k], pol_jp_key(sub, el, fb[k].name));
		fd->action = (enum dd_fhir_action)(DD_FACT_KEEP + (int)k - 1);
		fh->n_fields++;
	}
}

/* CharacterMaskConfig {maskingCharacter}: one UTF-8 character, "" = "*". */
static void g_mask(struct pol_ctx *c, json_object *o, const char *path,
		   char out[8])
{
	static const struct pol_field f[] = {
		{"maskingCharacter", JT_STR, 0, false},
	};
	json_object *g[1];
	char sub[POL_PATH_MAX];
	const unsigned char *s;
	size_t len, chars = 0, i;
	struct pol_q q;

	strcpy(out, "*");
	if (!pol_fields_take(c, o, path, f, 1, g) || !g[0])
		return;
	s = (const unsigned char *)json_object_get_string(g[0]);
	len = strlen((const char *)s);
	for (i = 0; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			chars++;
	if (len == 0)
		return;
	if (chars != 1 || len > 4) {
		pol_err(c, pol_jp_key(sub, path, "maskingCharacter"),
			"%s is %zu characters (expected exactly one character)",
			pol_q(&q, (const char *)s), chars);
		return;
	}
	memcpy(out, s, len);
	out[len] = 0;
}

/* CryptoHashConfig / DateShiftConfig {cryptoKey | kmsWrapped}. */
static void g_keyed(struct pol_ctx *c, json_object *o, const char *path,
		    struct dd_inline_key *k)
{
	static const struct pol_field f[] = {
		{"cryptoKey", JT_STR, 1, false},
		{"kmsWrapped", JT_OBJ, 1, false},
	};
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	if (g[0])
		pol_key_take(c, g[0], pol_jp_key(sub, path, "cryptoKey"), k);
	if (g[1])
		pol_err(c, pol_jp_key(sub, path, "kmsWrapped"),
			"KMS-wrapped keys are not supported: there is no KMS offline (expected cryptoKey, or deidfs.cryptoKey or deidfs.keyFile)");
}

static void g_fhir(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {
		{"fieldMetadataList", JT_ARR, 0, false},
		{"defaultKeepExtensions", JT_BOOL, 0, false},
	};
	struct dd_policy_fhir *fh = &c->p->fhir;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	fh->present = true;
	/* v1 FhirConfig has no profile: unmatched fields pass through */
	fh->profile = DD_FHIR_PROFILE_KEEP_ALL;
	if (g[0])
		g_fhir_fields(c, g[0], pol_jp_key(sub, path, "fieldMetadataList"),
			      fh, false);
	if (g[1])
		fh->keep_extensions = json_object_get_boolean(g[1]);
}

static void g_fhir_options(struct pol_ctx *c, json_object *o, const char *path,
			   struct dd_policy_fhir *fh)
{
	static const struct pol_field f[] = {
		{"characterMaskConfig", JT_OBJ, 0, false},
		{"cryptoHashConfig", JT_OBJ, 0, false},
		{"dateShiftConfig", JT_OBJ, 0, false},
		{"keepExtensions", JT_OBJ, 0, false},
		{"contextualDeid", JT_OBJ, 0, false},
	};
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	if (g[0])
		g_mask(c, g[0], pol_jp_key(sub, path, "characterMaskConfig"),
		       fh->mask_char);
	if (g[1])
		g_keyed(c, g[1], pol_jp_key(sub, path, "cryptoHashConfig"),
			&fh->crypto_hash_key);
	if (g[2])
		g_keyed(c, g[2], pol_jp_key(sub, path, "dateShiftConfig"),
			&fh->date_shift_key);
	if (g[3]) {
		pol_empty_msg(c, g[3], pol_jp_key(sub, path, "keepExtensions"));
		fh->keep_extensions = true;
	}
	if (g[4]) {
		pol_empty_msg(c, g[4], pol_jp_key(sub, path, "contextualDeid"));
		fh->contextual_deid = true;
	}
}

static void g_fhir_field_config(struct pol_ctx *c, json_object *o,
				const char *path)
{
	static const struct pol_field f[] = {
		{"profileType", JT_STR, 0, false},
		{"fieldMetadataList", JT_ARR, 0, false},
		{"options", JT_OBJ, 0, false},
	};
	static const char *const prof[] = {"PROFILE_TYPE_UNSPECIFIED",
					   "KEEP_ALL", "BASIC", "CLEAN_ALL"};
	static const int prof_map[] = {DD_FHIR_PROFILE_BASIC,
				       DD_FHIR_PROFILE_KEEP_ALL,
				       DD_FHIR_PROFILE_BASIC,
				       DD_FHIR_PROFILE_CLEAN_ALL};
	struct dd_policy_fhir *fh = &c->p->fhir;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];
	int v;

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	fh->present = true;
	fh->field_config = true;
	fh->profile = DD_FHIR_PROFILE_BASIC; /* PROFILE_TYPE_UNSPECIFIED */
	if (g[0]) {
		v = pol_enum(c, g[0], pol_jp_key(sub, path, "profileType"),
			     prof, N(prof));
		if (v >= 0)
			fh->profile = (enum dd_fhir_profile)prof_map[v];
	}
	if (g[1])
		g_fhir_fields(c, g[1], pol_jp_key(sub, path, "fieldMetadataList"),
			      fh, true);
	if (g[2])
		g_fhir_options(c, g[2], pol_jp_key(sub, path, "options"), fh);
}

/* ---- TextConfig ----------------------------------------------------------- */

static const struct pol_field g_tx_f[] = {
	{"infoTypes", JT_ARR, 0, false},
	{"replaceWithInfoTypeConfig", JT_OBJ, 1, false},
	{"redactConfig", JT_OBJ, 1, false},
	{"characterMaskConfig", JT_OBJ, 1, false},
	{"cryptoHashConfig", JT_OBJ, 1, false},
	{"dateShiftConfig", JT_OBJ, 1, false},
};
/* g_tx_f[i + 1] is enum dd_text_tx_kind i */

static bool g_transform(struct pol_ctx *c, json_object *o, const char *path,
			struct dd_text_transform *t)
{
	json_object *g[N(g_tx_f)];
	char sub[POL_PATH_MAX];
	size_t k;

	if (!pol_fields_take(c, o, path, g_tx_f, N(g_tx_f), g))
		return false;
	strcpy(t->mask_char, "*");
	if (g[0])
		pol_strv_take(c, g[0], pol_jp_key(sub, path, "infoTypes"),
			      &t->info_types, pol_check_info_type);
	for (k = 1; k < N(g_tx_f); k++)
		if (g[k])
			break;
	if (k == N(g_tx_f)) {
		pol_oneof_missing(c, path, "transformation", g_tx_f,
				  N(g_tx_f), 1);
		pol_strv_free(&t->info_types);
		return false;
	}
	t->kind = (enum dd_text_tx_kind)(k - 1);
	pol_jp_key(sub, path, g_tx_f[k].name);
	switch (t->kind) {
	case DD_TX_CHARACTER_MASK:
		g_mask(c, g[k], sub, t->mask_char);
		break;
	case DD_TX_CRYPTO_HASH:
	case DD_TX_DATE_SHIFT:
		g_keyed(c, g[k], sub, &t->key);
		break;
	default:
		pol_empty_msg(c, g[k], sub);
		break;
	}
	return true;
}

static void g_transforms(struct pol_ctx *c, json_object *arr,
			 const char *path, struct dd_policy_text *t)
{
	char sub[POL_PATH_MAX];
	size_t i, n = json_object_array_length(arr);
	struct dd_text_transform *nv;

	if (n > POL_MAX_ARRAY) {
		pol_err(c, path, "%zu elements (expected at most %u)", n,
			POL_MAX_ARRAY);
		return;
	}
	nv = realloc(t->transforms, (t->n_transforms + n + 1) * sizeof(*nv));
	if (!nv) {
		c->nomem = true;
		return;
	}
	t->transforms = nv;
	for (i = 0; i < n; i++) {
		struct dd_text_transform *x = &t->transforms[t->n_transforms];

		memset(x, 0, sizeof(*x));
		if (g_transform(c, json_object_array_get_idx(arr, i),
				pol_jp_idx(sub, path, i), x))
			t->n_transforms++;
	}
}

static void g_text(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {
		{"transformations", JT_ARR, 0, false},
		{"additionalTransformations", JT_ARR, 0, false},
		{"excludeInfoTypes", JT_ARR, 0, false},
		{"profileType", JT_STR, 0, true},
	};
	static const char *const prof[] = {"PROFILE_TYPE_UNSPECIFIED",
					   "EMPTY", "BASIC"};
	struct dd_policy_text *t = &c->p->text;
	json_object *g[N(f)];
	char sub[POL_PATH_MAX];

	if (!pol_fields_take(c, o, path, f, N(f), g))
		return;
	t->present = true;
	if (g[0])
		g_transforms(c, g[0], pol_jp_key(sub, path, "transformations"), t);
	if (g[1])
		g_transforms(c, g[1],
			     pol_jp_key(sub, path, "additionalTransformations"), t);
	if (g[2])
		pol_strv_take(c, g[2], pol_jp_key(sub, path, "excludeInfoTypes"),
			      &t->exclude_info_types, pol_check_info_type);
	if (c->api == DD_API_V1) {
		/* v1 has no profile: BASIC behaviour only when nothing is
		 * configured, else exactly the listed transformations */
		t->profile = t->n_transforms ? DD_TEXT_PROFILE_EMPTY
					     : DD_TEXT_PROFILE_BASIC;
	} else {
		t->profile = DD_TEXT_PROFILE_BASIC;
		if (g[3] && pol_enum(c, g[3], pol_jp_key(sub, path, "profileType"),
				     prof, N(prof)) == 1)
			t->profile = DD_TEXT_PROFILE_EMPTY;
	}
}

/* ---- accepted without effect ---------------------------------------------- */

static void g_annotation(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {
		{"annotationStoreName", JT_STR, 0, false},
		{"storeQuote", JT_BOOL, 0, false},
	};
	json_object *g[N(f)];

	if (pol_fields_take(c, o, path, f, N(f), g))
		pol_warn(c, path, "accepted, no effect (deidfs writes no annotation store)");
}

static void g_op_metadata(struct pol_ctx *c, json_object *o, const char *path)
{
	static const struct pol_field f[] = {{"fhirOutput", JT_OBJ, 0, false}};
	static const struct pol_field fo[] = {{"fhirStore", JT_STR, 0, false}};
	json_object *g[1], *go[1];
	char sub[POL_PATH_MAX];

	if (!pol_fields_take(c, o, path, f, 1, g))
		return;
	if (g[0])
		pol_fields_take(c, g[0], pol_jp_key(sub, path, "fhirOutput"),
				fo, 1, go);
	pol_warn(c, path, "accepted, no effect (deidfs writes no FHIR store)");
}

/* ---- DeidentifyConfig ----------------------------------------------------- */

void pol_google_parse(struct pol_ctx *c, json_object *root)
{
	static const struct pol_field f[] = {
		{"dicom", JT_OBJ, 1, false},
		{"dicomTagConfig", JT_OBJ, 1, true},
		{"fhir", JT_OBJ, 2, false},
		{"fhirFieldConfig", JT_OBJ, 2, true},
		{"image", JT_OBJ, 0, false},
		{"text", JT_OBJ, 0, false},
		{"annotation", JT_OBJ, 0, true},
		{"operationMetadata", JT_OBJ, 0, true},
		{"useRegionalDataProcessing", JT_BOOL, 0, false},
		{"deidfs", JT_OBJ, 0, false},
	};
	struct dd_policy *p = c->p;
	json_object *g[N(f)];

	if (!pol_fields_take(c, root, "$", f, N(f), g))
		return;
	if (g[0])
		g_dicom(c, g[0], "$.dicom");
	if (g[1])
		g_dicom_tag_config(c, g[1], "$.dicomTagConfig");
	if (g[2])
		g_fhir(c, g[2], "$.fhir");
	if (g[3])
		g_fhir_field_config(c, g[3], "$.fhirFieldConfig");
	if (g[4])
		g_image(c, g[4], "$.image", &p->image);
	if (g[5])
		g_text(c, g[5], "$.text");
	if (g[6])
		g_annotation(c, g[6], "$.annotation");
	if (g[7])
		g_op_metadata(c, g[7], "$.operationMetadata");
	if (g[8])
		p->use_regional_processing = json_object_get_boolean(g[8]);

	/* what is absent: Google's defaults for the API version */
	if (!p->dicom.present) {
		p->dicom.filter = DD_DICOM_FILTER_PROFILE;
		p->dicom.profile = c->api == DD_API_V1
					   ? DD_DICOM_PROFILE_KEEP_ALL
					   : DD_DICOM_PROFILE_BASIC;
	}
	if (!p->fhir.present)
		p->fhir.profile = c->api == DD_API_V1 ? DD_FHIR_PROFILE_KEEP_ALL
						      : DD_FHIR_PROFILE_BASIC;
	if (!p->fhir.mask_char[0])
		strcpy(p->fhir.mask_char, "*");
	if (!p->text.present)
		p->text.profile = DD_TEXT_PROFILE_BASIC;
	if (!p->image.present)
		p->image.mode = DD_REDACT_NO_TEXT;
	/* the engines read dicom.clean_image: options.cleanImage, else the
	 * top-level (v1) image */
	if (p->dicom.clean_image_given && p->image.present) {
		pol_err(c, "$.image", "both image and dicomTagConfig.options.cleanImage are set (expected only one; image is deprecated in v1beta1)");
	} else if (!p->dicom.clean_image_given && p->image.present) {
		struct dd_policy_image *d = &p->dicom.clean_image;
		size_t i;

		d->present = true;
		d->mode = p->image.mode;
		for (i = 0; i < p->image.additional_info_types.n; i++)
			pol_strv_add(c, &d->additional_info_types,
				     p->image.additional_info_types.v[i]);
		for (i = 0; i < p->image.exclude_info_types.n; i++)
			pol_strv_add(c, &d->exclude_info_types,
				     p->image.exclude_info_types.v[i]);
	}
}
