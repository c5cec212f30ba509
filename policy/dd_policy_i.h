/* dd_policy_i.h: internals of the policy module, shared by its .c files.
 * Nothing here is part of the contract (that is dd_policy.h).
 *
 * The parser walks the json-c tree with one struct pol_ctx.  Each message
 * (Google's or ours) is a table of struct pol_field; pol_fields_take()
 * matches the object's keys against it (lowerCamelCase or snake_case),
 * reports unknown fields, wrong JSON types, v1beta1-only fields under v1
 * and oneof violations, and hands back the values found.  Every problem
 * becomes a struct dd_diag; parsing goes on so that all of them are shown.
 */
#ifndef DD_POLICY_I_H
#define DD_POLICY_I_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "dd_buf.h"
#include "dd_policy.h"

#define POL_MAX_FILE (4u << 20)  /* policy files are at most 4 MiB */
#define POL_MAX_DEPTH 32         /* JSON nesting accepted by the tokener */
#define POL_MAX_DIAGS 200        /* diagnostics kept; then one "too many" */
#define POL_MAX_ARRAY 100000     /* elements in any one array */
#define POL_PATH_MAX 384         /* a JSON path in a message */

struct pol_ctx {
	const char *name;        /* the file name used in messages */
	struct dd_diags *diags;
	struct dd_policy *p;     /* being filled */
	enum dd_api_version api; /* known before the Google part is read */
	bool api_explicit;       /* deidfs.apiVersion was given */
	const char *dir;         /* directory of the policy file, or NULL */
	bool nomem;              /* an allocation failed: result unusable */
	bool full;               /* POL_MAX_DIAGS reached */
};

/* ---- diagnostics (dd_policy_util.c) ---- */

/* Append "NAME: PATH: text" at @level. */
void pol_diag(struct pol_ctx *c, enum dd_diag_level level, const char *path,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define pol_err(c, path, ...) pol_diag(c, DD_DIAG_ERROR, path, __VA_ARGS__)
#define pol_warn(c, path, ...) pol_diag(c, DD_DIAG_WARNING, path, __VA_ARGS__)

/* A user string quoted for a message: "..." with non-printable bytes as
 * \xNN and anything past 60 bytes cut to "...".  Never use it on a key. */
struct pol_q {
	char s[300];
};
const char *pol_q(struct pol_q *b, const char *s);

/* JSON paths: "$.a.b[2]".  Keys that are not identifiers are written as
 * ["..."].  Over-long paths are cut (they only feed messages). */
const char *pol_jp_key(char *out, const char *parent, const char *key);
const char *pol_jp_idx(char *out, const char *parent, size_t i);

/* The JSON type of @o as a message word ("string", "integer", ...). */
const char *pol_type_name(json_object *o);

/* ---- field tables ---- */

enum pol_jt { JT_OBJ, JT_ARR, JT_STR, JT_BOOL, JT_INT, JT_STR_OR_OBJ,
	      JT_INT_OR_STR };

struct pol_field {
	const char *name;    /* lowerCamelCase, as the JSON spelling */
	enum pol_jt type;
	unsigned char oneof; /* 0: none; else members of one group share it */
	bool beta;           /* v1beta1 only */
};

/* Match the keys of object @o (at @path) against @f[0..n).  got[i] is the
 * value of field i or NULL (absent, null, wrong type or not allowed).
 * After the call, at most one member of each oneof group is set.  Returns
 * false (and reports) if @o is not an object. */
bool pol_fields_take(struct pol_ctx *c, json_object *o, const char *path,
		     const struct pol_field *f, size_t n, json_object **got);
/* An empty message such as keepTag {}: only checks there are no fields. */
void pol_empty_msg(struct pol_ctx *c, json_object *o, const char *path);
/* Report "no @what given" for the oneof group @group of @f. */
void pol_oneof_missing(struct pol_ctx *c, const char *path, const char *what,
		       const struct pol_field *f, size_t n, unsigned group);

/* The index of string @o in @names[0..n), or -1 (reported). */
int pol_enum(struct pol_ctx *c, json_object *o, const char *path,
	     const char *const *names, size_t n);

/* Copy a JSON array of strings into @v (replacing its contents).  Each
 * element is checked to be a string; @check (may be NULL) validates one
 * element and returns false to drop it. */
typedef bool (*pol_str_check)(struct pol_ctx *c, const char *s,
			      const char *path);
void pol_strv_take(struct pol_ctx *c, json_object *arr, const char *path,
		   struct dd_strv *v, pol_str_check check);
void pol_strv_free(struct dd_strv *v);
bool pol_strv_add(struct pol_ctx *c, struct dd_strv *v, const char *s);
char *pol_strdup(struct pol_ctx *c, const char *s);

/* Check an infoType name: syntax error or "not detected" warning. */
bool pol_check_info_type(struct pol_ctx *c, const char *s, const char *path);

/* ---- keys ---- */

/* Decode standard or URL-safe base64, padding optional.  false on a bad
 * character, bad padding or more than @max output bytes. */
bool pol_b64_decode(const char *s, uint8_t *out, size_t max, size_t *len);
/* Encode @n bytes as standard padded base64 into @out (4*ceil(n/3)+1). */
void pol_b64_encode(const uint8_t *in, size_t n, char *out);
/* A cryptoKey string into @k (reported on error; never echoes the key). */
bool pol_key_take(struct pol_ctx *c, json_object *o, const char *path,
		  struct dd_inline_key *k);
/* The key fingerprint "ddk1:" + 16 hex into @out (24 bytes). */
void pol_key_fingerprint(const uint8_t *key, size_t len, char out[24]);

/* ---- DICOM ---- */

/* Resolve a tag given as a keyword or 8 hex digits; reports errors. */
bool pol_tag_resolve(struct pol_ctx *c, const char *s, const char *path,
		     uint32_t *tag);
bool pol_vr_valid(const char *s);

/* ---- FHIR names (generated table) ---- */

/* true if @name is an R4 resource, data type (either case of the first
 * letter), element name, or a choice element's capitalised stem. */
bool pol_fhir_name_known(const char *name);

/* ---- the parts ---- */

void pol_google_parse(struct pol_ctx *c, json_object *root);
void pol_deidfs_parse(struct pol_ctx *c, json_object *o, const char *path);
void pol_deidfs_defaults(struct pol_ctx *c);
void pol_deidfs_free(struct dd_policy_deidfs *d);
/* Cross-checks between deidfs and the Google part, after both. */
void pol_deidfs_check(struct pol_ctx *c, json_object *deidfs);

/* Canonical JSON of a resolved policy (dd_policy_canon.c). */
dd_err pol_canon_build(struct dd_policy *p);

/* Size strings "4GiB", "500MB", "1024" -> bytes. */
bool pol_parse_size(const char *s, uint64_t *out);

/* Names tables shared with the canonical writer. */
extern const char *const pol_ps315_names[]; /* bit i -> name */
#define POL_N_PS315 10
extern const char *const pol_redaction_names[]; /* by enum dd_redaction_mode */
extern const char *const pol_dicom_profile_names[]; /* by dd_dicom_profile */
extern const char *const pol_fhir_profile_names[];  /* by dd_fhir_profile */
extern const char *const pol_dact_names[];   /* by dd_dicom_action_kind */
extern const char *const pol_fact_names[];   /* by dd_fhir_action */
extern const char *const pol_tx_names[];     /* by dd_text_tx_kind */
extern const char *const pol_path_mode_names[];
extern const char *const pol_birth_names[];
extern const char *const pol_dates_names[];
extern const char *const pol_enc_names[];

/* Built-in policy texts (generated from the JSON files in presets/). */
struct pol_builtin {
	const char *name;
	const char *json;
};
extern const struct pol_builtin pol_builtins[];
extern const size_t pol_n_builtins;

#endif /* DD_POLICY_I_H */
