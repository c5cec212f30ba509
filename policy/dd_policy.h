/* dd_policy.h: the de-identification policy, parsed, validated, resolved.
 *
 * A policy file is Google's Cloud Healthcare `DeidentifyConfig` JSON (v1 and
 * the v1beta1 additions; lowerCamelCase or snake_case) plus one top-level
 * object "deidfs" holding our own settings (docs/policy.md has the table of
 * every key and its default).  dd_policy_load_*() parse and validate it
 * strictly and resolve it into the read-only model below, which is what the
 * engines read.  Google's defaults for unspecified enums are applied here,
 * according to deidfs.apiVersion, so no engine needs to know about versions.
 *
 * Ownership: a struct dd_policy is created by dd_policy_load_*() or
 * dd_policy_builtin() and freed with dd_policy_free(); every pointer inside
 * it is owned by it and lives as long as it.  A loaded policy is immutable:
 * any number of threads may read it at once.
 *
 * What this module does NOT do: it does not open the cache, read source
 * files or decide per-attribute DICOM actions (deid/dd_dicom_rules.h does
 * that from this model).  The key is loaded here (dd_policy_key_load())
 * because the policy names where it lives.
 */
#ifndef DD_POLICY_H
#define DD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Diagnostics ------------------------------------------------------ */

enum dd_diag_level { DD_DIAG_ERROR, DD_DIAG_WARNING };

/* One problem found while loading.  Messages have the form
 *   FILE: JSON.PATH: what is wrong (expected ...)
 * e.g. "p.json: $.dicom.filterProfile: unknown enum value "BASIC"
 * (expected one of ...)".  @path is the JSON path alone ("$.dicom.keepList.tags[2]").
 */
struct dd_diag {
	enum dd_diag_level level;
	char *path;    /* JSON path, "$" for the root */
	char *message; /* the full line, file and path included */
};

struct dd_diags {
	struct dd_diag *v;
	size_t n;
	size_t n_errors;
	size_t n_warnings;
};

void dd_diags_free(struct dd_diags *d);

/* ---- Google enums (values resolved: never *_UNSPECIFIED) ----------------- */

enum dd_api_version { DD_API_V1, DD_API_V1BETA1 };

/* DicomConfig.filterProfile / DicomTagConfig.profileType */
enum dd_dicom_profile {
	DD_DICOM_PROFILE_KEEP_ALL,
	DD_DICOM_PROFILE_MINIMAL_KEEP_LIST,
	DD_DICOM_PROFILE_BASIC, /* ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE */
	DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS,
};

/* Which mechanism of DicomConfig's oneof was used. */
enum dd_dicom_filter {
	DD_DICOM_FILTER_PROFILE,
	DD_DICOM_FILTER_KEEP_LIST,
	DD_DICOM_FILTER_REMOVE_LIST,
};

enum dd_primary_ids {
	DD_PRIMARY_IDS_REGEN, /* default in every profile */
	DD_PRIMARY_IDS_KEEP,  /* skipIdRedaction true or primaryIds KEEP */
};

/* DicomTagConfig.Action kinds */
enum dd_dicom_action_kind {
	DD_DACT_KEEP,      /* keepTag */
	DD_DACT_REMOVE,    /* removeTag: zero-length value */
	DD_DACT_DELETE,    /* deleteTag: element deleted */
	DD_DACT_RESET,     /* resetTag: placeholder (dummy) value */
	DD_DACT_REGEN_UID, /* regenUidTag */
	DD_DACT_CLEAN_TEXT,  /* cleanTextTag */
	DD_DACT_CLEAN_IMAGE, /* cleanImageTag (image member holds its config) */
	DD_DACT_RECURSE,   /* recurseTag */
};

/* ImageConfig.textRedactionMode */
enum dd_redaction_mode {
	DD_REDACT_NO_TEXT,
	DD_REDACT_ALL_TEXT,
	DD_REDACT_SENSITIVE_TEXT,
	DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS,
};

/* FhirFieldConfig.profileType; v1 FhirConfig has no profile (= KEEP_ALL,
 * "unmatched fields pass through"). */
enum dd_fhir_profile {
	DD_FHIR_PROFILE_KEEP_ALL,
	DD_FHIR_PROFILE_BASIC,
	DD_FHIR_PROFILE_CLEAN_ALL,
};

/* v1 FieldMetadata.action and v1beta1 FieldMetadata action members,
 * in one enum. */
enum dd_fhir_action {
	DD_FACT_UNSPECIFIED,  /* v1 ACTION_UNSPECIFIED: treated as TRANSFORM */
	DD_FACT_TRANSFORM,    /* v1 */
	DD_FACT_INSPECT_AND_TRANSFORM, /* v1 */
	DD_FACT_DO_NOT_TRANSFORM,      /* v1 */
	DD_FACT_KEEP,         /* keepField */
	DD_FACT_REMOVE,       /* removeField */
	DD_FACT_CHARACTER_MASK, /* characterMaskField */
	DD_FACT_CRYPTO_HASH,  /* cryptoHashField */
	DD_FACT_DATE_SHIFT,   /* dateShiftField */
	DD_FACT_CLEAN_TEXT,   /* cleanTextField */
};

/* TextConfig.profileType (v1beta1); v1 behaves as BASIC when it has no
 * transformations at all. */
enum dd_text_profile { DD_TEXT_PROFILE_BASIC, DD_TEXT_PROFILE_EMPTY };

/* InfoTypeTransformation kinds */
enum dd_text_tx_kind {
	DD_TX_REPLACE_WITH_INFO_TYPE,
	DD_TX_REDACT,
	DD_TX_CHARACTER_MASK,
	DD_TX_CRYPTO_HASH,
	DD_TX_DATE_SHIFT,
};

/* ---- Google sub-configs, resolved ----------------------------------------- */

struct dd_strv {
	char **v; /* owned strings */
	size_t n;
};

/* A key given inline in a transformation (cryptoKey, base64-decoded). */
struct dd_inline_key {
	bool present;
	uint8_t bytes[32];
	size_t len; /* 16, 24 or 32 */
};

struct dd_policy_image {
	bool present;
	enum dd_redaction_mode mode;
	/* v1beta1.  With no textRedactionMode (mode REDACT_NO_TEXT) Google
	 * allows additionalInfoTypes: then only these infoTypes are redacted. */
	struct dd_strv additional_info_types;
	struct dd_strv exclude_info_types;    /* v1beta1 */
};

/* One DicomTagConfig.Action query, resolved. */
struct dd_dicom_query {
	enum { DD_DQ_TAG, DD_DQ_VR } kind;
	uint32_t tag; /* DD_DQ_TAG: keyword or 8-hex-digit tag resolved */
	char vr[3];   /* DD_DQ_VR: two upper-case letters */
};

struct dd_dicom_action {
	enum dd_dicom_action_kind kind;
	struct dd_dicom_query *queries;
	size_t n_queries;
	struct dd_policy_image image; /* DD_DACT_CLEAN_IMAGE only */
};

/* PS3.15 option columns (Table E.1-1), as a bit set. */
enum dd_ps315_option {
	DD_PS315_RETAIN_SAFE_PRIVATE = 1u << 0,
	DD_PS315_RETAIN_UIDS = 1u << 1,
	DD_PS315_RETAIN_DEVICE_ID = 1u << 2,
	DD_PS315_RETAIN_INSTITUTION_ID = 1u << 3,
	DD_PS315_RETAIN_PATIENT_CHARS = 1u << 4,
	DD_PS315_RETAIN_LONG_FULL_DATES = 1u << 5,
	DD_PS315_RETAIN_LONG_MODIFIED_DATES = 1u << 6,
	DD_PS315_CLEAN_DESC = 1u << 7,
	DD_PS315_CLEAN_STRUCT_CONT = 1u << 8,
	DD_PS315_CLEAN_GRAPH = 1u << 9,
};

struct dd_policy_dicom {
	bool present;     /* "dicom" or "dicomTagConfig" given */
	bool tag_config;  /* it was dicomTagConfig (v1beta1) */
	enum dd_dicom_profile profile;
	enum dd_dicom_filter filter;
	uint32_t *list_tags; /* keepList / removeList, resolved, sorted */
	size_t n_list_tags;
	enum dd_primary_ids primary_ids;
	bool clean_descriptors;          /* options.cleanDescriptors */
	struct dd_policy_image clean_image; /* options.cleanImage, else top-level image */
	bool clean_image_given;          /* options.cleanImage itself was given */
	struct dd_dicom_action *actions; /* in the order given */
	size_t n_actions;
	unsigned ps315_options;          /* dd_ps315_option bits */
};

struct dd_fhir_field {
	struct dd_strv paths;
	enum dd_fhir_action action;
};

struct dd_policy_fhir {
	bool present;      /* "fhir" or "fhirFieldConfig" given */
	bool field_config; /* it was fhirFieldConfig (v1beta1) */
	enum dd_fhir_profile profile;
	struct dd_fhir_field *fields; /* first match wins */
	size_t n_fields;
	bool keep_extensions; /* defaultKeepExtensions / options.keepExtensions */
	bool contextual_deid; /* options.contextualDeid */
	/* options.characterMaskConfig / cryptoHashConfig / dateShiftConfig */
	char mask_char[8];    /* UTF-8, one character; default "*" */
	struct dd_inline_key crypto_hash_key;
	struct dd_inline_key date_shift_key;
};

struct dd_text_transform {
	struct dd_strv info_types; /* empty: the default entry */
	enum dd_text_tx_kind kind;
	char mask_char[8];         /* DD_TX_CHARACTER_MASK */
	struct dd_inline_key key;  /* DD_TX_CRYPTO_HASH / DD_TX_DATE_SHIFT */
};

struct dd_policy_text {
	bool present;
	enum dd_text_profile profile;
	/* "transformations" followed by "additionalTransformations" */
	struct dd_text_transform *transforms;
	size_t n_transforms;
	struct dd_strv exclude_info_types;
};

/* ---- deidfs settings (docs/policy.md, "The deidfs object") ---------------- */

enum dd_path_mode { DD_PATH_SCRUB, DD_PATH_HASH, DD_PATH_KEEP };
enum dd_linking { DD_LINK_AUTO, DD_LINK_SOURCES, DD_LINK_OFF };
enum dd_birth_date { DD_BIRTH_YEAR, DD_BIRTH_SHIFT, DD_BIRTH_KEEP, DD_BIRTH_REMOVE };
enum dd_redacted_encoding { DD_ENC_EXPLICIT_LE, DD_ENC_SAME };
/* deidfs.dates: how a date that the policy modifies rather than removes is
 * modified: DICOM DA/DT values kept by ps315 retainLongModifiedDates, FHIR
 * dateShiftField / BASIC-profile dates, DATE findings under a
 * dateShiftConfig.  SHIFT: the patient's shift; YEAR: cut to the year
 * (DICOM DA "YYYY0101", FHIR "YYYY"); KEEP: unchanged.  (Added by the
 * policy module: the Safe Harbor preset needs "cut to the year".) */
enum dd_dates { DD_DATES_SHIFT, DD_DATES_YEAR, DD_DATES_KEEP };

struct dd_ocr_region {
	char *manufacturer; /* NULL: any */
	char *model;        /* NULL: any */
	uint32_t rows, columns; /* 0: any */
	uint32_t x, y, width, height;
};

struct dd_policy_deidfs {
	enum dd_api_version api_version; /* default v1 */
	char *key_file;                  /* NULL: the default key file */
	struct dd_inline_key key;        /* deidfs.cryptoKey */
	int date_shift_min;              /* default -365 */
	int date_shift_max;              /* default -1; 0 never chosen */
	enum dd_dates dates;             /* default shift (see enum dd_dates) */
	enum dd_linking linking;         /* default auto */
	struct dd_strv linking_sources;  /* DD_LINK_SOURCES */
	struct dd_strv placeholder_patient_ids;
	struct dd_strv linking_identifier_types; /* default ["MR"] */
	enum dd_path_mode path_mode;     /* default scrub */
	struct dd_strv path_allowlist;   /* extra tokens kept in names */
	bool hide_other_files;           /* default true (only true for now) */
	enum dd_birth_date birth_date;   /* default year */
	int max_age;                     /* default 89 */
	struct dd_strv extension_allowlist; /* FHIR extension URLs kept */
	bool inspect_free_text;          /* default true */
	bool hide_recognizable_visual_features; /* default true */
	bool hide_photographic;          /* default true */
	enum dd_redacted_encoding redacted_encoding; /* default explicit LE */
	unsigned ocr_workers;            /* default 1, range 1..2 */
	unsigned ocr_timeout_s;          /* default 120; wall clock; hides file */
	uint64_t ocr_max_pixels;         /* count limit per file */
	unsigned ocr_frame_stride;       /* every Nth frame, default 10 */
	struct dd_ocr_region *ocr_regions;
	size_t n_ocr_regions;
	uint64_t cache_size;             /* bytes, default 4 GiB */
	char *cache_dir;                 /* NULL: the default cache directory */
	uint64_t max_file_size;          /* largest source transformed, default 4 GiB */
	unsigned json_max_depth;         /* default 64 */
};

/* ---- The policy ---------------------------------------------------------- */

struct dd_policy {
	char *source;         /* file name, or "builtin:NAME" */
	struct dd_policy_dicom dicom;
	struct dd_policy_fhir fhir;
	struct dd_policy_image image; /* top-level "image" (v1) */
	struct dd_policy_text text;
	bool use_regional_processing;
	struct dd_policy_deidfs deidfs;
	/* sha256 of the canonical JSON (sorted keys, resolved defaults, inline
	 * keys as fingerprints, operational deidfs keys left out: see
	 * docs/policy.md), lower-case hex.  The policy hash of the cache key also covers the key
	 * fingerprint and the engine version: see dd_policy_hash(). */
	char canonical_sha256[65];
	char *canonical_json; /* owned, NUL-terminated */
};

/* Load and validate the policy in @path.  On success *out is set and
 * @diags may still hold warnings.  On DD_E_POLICY, @diags holds at least one
 * error, each naming @path and the JSON path; every problem found is
 * reported, not only the first (at most 200 lines).  DD_E_IO if the file
 * cannot be read (also reported in @diags).  A relative deidfs.keyFile is
 * made relative to the directory of @path.  Files over 4 MiB or nested
 * deeper than 32 levels are refused.  @diags may be NULL; otherwise it
 * must be freed with dd_diags_free() in every case (it may be reused
 * across calls: diagnostics are appended).  *out is NULL on failure. */
dd_err dd_policy_load_file(const char *path, struct dd_policy **out,
			   struct dd_diags *diags);

/* The same, from @len bytes in memory (no NUL needed); @name is used in
 * messages; a relative keyFile stays relative to the working directory. */
dd_err dd_policy_load_buffer(const char *name, const char *json, size_t len,
			     struct dd_policy **out, struct dd_diags *diags);

/* Names of the built-in policies: "default", "safe-harbor", "keep-dates",
 * "minimal".  NULL-terminated, static. */
const char *const *dd_policy_builtin_names(void);

/* The JSON text of a built-in policy (static), or NULL if unknown. */
const char *dd_policy_builtin_json(const char *name);

/* Load a built-in policy by name ("default" and the presets); its source
 * is "builtin:NAME".  DD_E_NOTFOUND for an unknown name. */
dd_err dd_policy_builtin(const char *name, struct dd_policy **out);

void dd_policy_free(struct dd_policy *p);

/* Warnings for PHI categories a valid policy leaves untouched (names,
 * identifiers, dates, free text, burnt-in text, paths, extensions...).
 * Appended to @diags as DD_DIAG_WARNING. */
dd_err dd_policy_lint(const struct dd_policy *p, struct dd_diags *diags);

/* ---- Key ----------------------------------------------------------------- */

struct dd_key {
	uint8_t bytes[32];
	size_t len;               /* 16, 24 or 32 */
	char fingerprint[24];     /* "ddk1:" + 16 hex of sha256("deidfs-fp"||key) */
	enum { DD_KEY_POLICY, DD_KEY_FILE, DD_KEY_GENERATED } origin;
	char *file;               /* key file used (owned), or NULL */
};

/* The default key file: $DEIDFS_KEY_FILE, else
 * $XDG_CONFIG_HOME/deidfs/key, else $HOME/.config/deidfs/key.
 * Returns a malloc'd string or NULL. */
char *dd_policy_default_key_file(void);

/* Find the key as the policy says, in this order (docs/policy.md, "The
 * key"): deidfs.cryptoKey; deidfs.keyFile; @override_file (CLI --key-file,
 * may be NULL); the first cryptoKey inside the policy (text
 * transformations in order, then fhirFieldConfig.options.cryptoHashConfig,
 * then .dateShiftConfig); else the default key file, generated (32
 * random bytes, base64 + newline, O_CREAT|O_EXCL, mode 0600, missing
 * directories 0700) if @may_generate and it does not exist.  Only the
 * default key file is ever generated: a named key file must exist.  A key
 * file holds the base64 key on one line and must not be accessible to
 * group or others (mode & 077), else DD_E_KEY.  key->origin is
 * DD_KEY_POLICY (inline), DD_KEY_FILE (an existing file) or
 * DD_KEY_GENERATED (created by this call); key->file is set for the last
 * two.  Errors (DD_E_KEY) name the file and the reason in @errbuf.  The
 * key is never printed; only its fingerprint.  Free with dd_key_clear(),
 * which also wipes the bytes.  Thread-safe for distinct @key. */
dd_err dd_policy_key_load(const struct dd_policy *p, const char *override_file,
			  bool may_generate, struct dd_key *key,
			  char *errbuf, size_t errlen);

void dd_key_clear(struct dd_key *key);

/* The policy hash of DESIGN.md, lower-case hex into @out (65 bytes):
 *   sha256("deidfs-policy-hash-v1" NUL canonical_json NUL
 *          key->fingerprint NUL engine_version)
 * A NULL @key or @engine_version counts as "".  A policy built by hand
 * (no canonical_json) is serialised on the fly. */
void dd_policy_hash(const struct dd_policy *p, const struct dd_key *key,
		    const char *engine_version, char out[65]);

#ifdef __cplusplus
}
#endif
#endif /* DD_POLICY_H */
