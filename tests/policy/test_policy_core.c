/* test_policy_core.c: defaults per apiVersion, snake_case, canonical JSON
 * and hash stability, built-in policies, lint messages, file loading, and
 * the examples of docs/policy.md (each a file in tests/policy/examples/). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_policy.h"

static const char *src_root(void)
{
	const char *r = getenv("DD_SOURCE_ROOT");

	return r ? r : ".";
}

static struct dd_policy *ct_load(const char *json)
{
	struct dd_policy *p = NULL;
	struct dd_diags d = {0};
	dd_err e = dd_policy_load_buffer("t.json", json, strlen(json), &p, &d);

	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  %s\n", d.v[i].message);
	EXPECT_EQ_INT(e, DD_OK);
	EXPECT_EQ_INT(d.n_errors, 0);
	dd_diags_free(&d);
	if (!p) {
		fprintf(stderr, "policy did not load: %s\n", json);
		exit(1);
	}
	return p;
}

/* ---- defaults ------------------------------------------------------------- */

static void t_defaults_v1(void)
{
	struct dd_policy *p = ct_load("{}");
	const struct dd_policy_deidfs *d = &p->deidfs;

	EXPECT_EQ_STR(p->source, "t.json");
	EXPECT_EQ_INT(d->api_version, DD_API_V1);
	EXPECT(!p->dicom.present);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(p->dicom.primary_ids, DD_PRIMARY_IDS_REGEN);
	EXPECT(!p->fhir.present);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_KEEP_ALL);
	EXPECT(!p->fhir.keep_extensions);
	EXPECT_EQ_STR(p->fhir.mask_char, "*");
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	EXPECT_EQ_INT(p->image.mode, DD_REDACT_NO_TEXT);
	EXPECT(!p->use_regional_processing);
	/* every deidfs default of docs/policy.md */
	EXPECT(d->key_file == NULL);
	EXPECT(!d->key.present);
	EXPECT_EQ_INT(d->date_shift_min, -365);
	EXPECT_EQ_INT(d->date_shift_max, -1);
	EXPECT_EQ_INT(d->dates, DD_DATES_SHIFT);
	EXPECT_EQ_INT(d->linking, DD_LINK_AUTO);
	EXPECT_EQ_INT(d->placeholder_patient_ids.n, 6);
	EXPECT_EQ_INT(d->linking_identifier_types.n, 1);
	EXPECT_EQ_STR(d->linking_identifier_types.v[0], "MR");
	EXPECT_EQ_INT(d->path_mode, DD_PATH_SCRUB);
	EXPECT_EQ_INT(d->path_allowlist.n, 0);
	EXPECT(d->hide_other_files);
	EXPECT_EQ_INT(d->birth_date, DD_BIRTH_YEAR);
	EXPECT_EQ_INT(d->max_age, 89);
	EXPECT_EQ_INT(d->extension_allowlist.n, 0);
	EXPECT(d->inspect_free_text);
	EXPECT(d->hide_recognizable_visual_features);
	EXPECT(d->hide_photographic);
	EXPECT_EQ_INT(d->redacted_encoding, DD_ENC_EXPLICIT_LE);
	EXPECT_EQ_INT(d->ocr_workers, 1);
	EXPECT_EQ_INT(d->ocr_timeout_s, 120);
	EXPECT_EQ_INT(d->ocr_max_pixels, 1ull << 28);
	EXPECT_EQ_INT(d->ocr_frame_stride, 10);
	EXPECT_EQ_INT(d->n_ocr_regions, 0);
	EXPECT_EQ_INT(d->cache_size, 4ull << 30);
	EXPECT(d->cache_dir == NULL);
	EXPECT_EQ_INT(d->max_file_size, 4ull << 30);
	EXPECT_EQ_INT(d->json_max_depth, 64);
	EXPECT_EQ_INT(p->dicom.ps315_options, 0);
	dd_policy_free(p);
}

static void t_defaults_v1beta1(void)
{
	struct dd_policy *p = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}}");

	EXPECT_EQ_INT(p->deidfs.api_version, DD_API_V1BETA1);
	EXPECT(!p->dicom.present);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_BASIC);
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	dd_policy_free(p);

	p = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}, \"dicomTagConfig\": {}, \"fhirFieldConfig\": {}, \"text\": {\"transformations\": [{\"redactConfig\": {}}]}}");
	EXPECT(p->dicom.tag_config);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT(p->fhir.field_config);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_BASIC);
	/* v1beta1: transformations override the profile, which stays BASIC */
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	dd_policy_free(p);

	/* DicomConfig's own default is KEEP_ALL in both versions */
	p = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}, \"dicom\": {}}");
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_KEEP_ALL);
	dd_policy_free(p);

	/* unspecified enum values resolve to the same defaults */
	p = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}, \"dicomTagConfig\": {\"profileType\": \"PROFILE_TYPE_UNSPECIFIED\", \"options\": {\"cleanImage\": {\"textRedactionMode\": \"TEXT_REDACTION_MODE_UNSPECIFIED\"}, \"primaryIds\": \"PRIMARY_IDS_OPTION_UNSPECIFIED\"}}, \"fhirFieldConfig\": {\"profileType\": \"PROFILE_TYPE_UNSPECIFIED\"}, \"text\": {\"profileType\": \"PROFILE_TYPE_UNSPECIFIED\"}}");
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT_EQ_INT(p->dicom.clean_image.mode, DD_REDACT_NO_TEXT);
	EXPECT_EQ_INT(p->dicom.primary_ids, DD_PRIMARY_IDS_REGEN);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_BASIC);
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	dd_policy_free(p);

	p = ct_load("{\"dicom\": {\"filterProfile\": \"TAG_FILTER_PROFILE_UNSPECIFIED\"}, \"fhir\": {\"fieldMetadataList\": [{\"paths\": [\"Patient.name\"]}]}}");
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(p->fhir.fields[0].action, DD_FACT_UNSPECIFIED);
	dd_policy_free(p);
}

static void t_deidfs_values(void)
{
	struct dd_policy *p = ct_load(
		"{\"deidfs\": {\"dateShift\": {\"minDays\": -30, \"maxDays\": 30},"
		" \"patientLinking\": {\"sources\": [\"/data/fhir\"]},"
		" \"placeholderPatientIds\": [\"TEST\"], \"pathMode\": \"hash\","
		" \"pathAllowlist\": [\"CT\", \"series\"], \"birthDate\": \"remove\","
		" \"maxAge\": 89, \"inspectFreeText\": false, \"redactedEncoding\": \"same\","
		" \"ocr\": {\"workers\": 2, \"timeoutSeconds\": 30, \"maxPixels\": 1000,"
		" \"frameStride\": 3, \"regions\": [{\"manufacturer\": \"ACME\", \"rows\": 512,"
		" \"columns\": 512, \"x\": 0, \"y\": 0, \"width\": 512, \"height\": 40}]},"
		" \"cacheSize\": \"500MB\", \"cacheDir\": \"/var/cache/x\", \"maxFileSize\": 0,"
		" \"jsonMaxDepth\": 100, \"ps315Options\": [\"retainUids\", \"cleanGraphics\"],"
		" \"keyFile\": \"keys/k\"},"
		" \"dicom\": {\"filterProfile\": \"ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE\"}}");
	const struct dd_policy_deidfs *d = &p->deidfs;

	EXPECT_EQ_INT(d->date_shift_min, -30);
	EXPECT_EQ_INT(d->date_shift_max, 30);
	EXPECT_EQ_INT(d->linking, DD_LINK_SOURCES);
	EXPECT_EQ_STR(d->linking_sources.v[0], "/data/fhir");
	EXPECT_EQ_INT(d->placeholder_patient_ids.n, 1);
	EXPECT_EQ_INT(d->path_mode, DD_PATH_HASH);
	EXPECT_EQ_INT(d->path_allowlist.n, 2);
	EXPECT_EQ_INT(d->birth_date, DD_BIRTH_REMOVE);
	EXPECT(!d->inspect_free_text);
	EXPECT_EQ_INT(d->redacted_encoding, DD_ENC_SAME);
	EXPECT_EQ_INT(d->ocr_workers, 2);
	EXPECT_EQ_INT(d->ocr_timeout_s, 30);
	EXPECT_EQ_INT(d->ocr_max_pixels, 1000);
	EXPECT_EQ_INT(d->ocr_frame_stride, 3);
	EXPECT_EQ_INT(d->n_ocr_regions, 1);
	EXPECT_EQ_STR(d->ocr_regions[0].manufacturer, "ACME");
	EXPECT(d->ocr_regions[0].model == NULL);
	EXPECT_EQ_INT(d->ocr_regions[0].height, 40);
	EXPECT_EQ_INT(d->cache_size, 500000000ull);
	EXPECT_EQ_STR(d->cache_dir, "/var/cache/x");
	EXPECT_EQ_INT(d->max_file_size, 0);
	EXPECT_EQ_INT(d->json_max_depth, 100);
	EXPECT_EQ_INT(p->dicom.ps315_options,
		      DD_PS315_RETAIN_UIDS | DD_PS315_CLEAN_GRAPH);
	/* from a buffer, a relative keyFile stays as given */
	EXPECT_EQ_STR(d->key_file, "keys/k");
	dd_policy_free(p);

	p = ct_load("{\"deidfs\": {\"cacheSize\": 8589934592, \"patientLinking\": \"off\", \"dates\": \"year\"}}");
	EXPECT_EQ_INT(p->deidfs.cache_size, 8ull << 30);
	EXPECT_EQ_INT(p->deidfs.linking, DD_LINK_OFF);
	EXPECT_EQ_INT(p->deidfs.dates, DD_DATES_YEAR);
	dd_policy_free(p);

	/* retainLongFullDates without "dates" resolves dates to keep */
	p = ct_load("{\"deidfs\": {\"ps315Options\": [\"retainLongFullDates\"]}, \"dicom\": {\"filterProfile\": \"ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE\"}}");
	EXPECT_EQ_INT(p->deidfs.dates, DD_DATES_KEEP);
	dd_policy_free(p);
}

/* ---- canonical JSON and hash ------------------------------------------------ */

static const char camel[] =
	"{\"deidfs\": {\"apiVersion\": \"v1beta1\", \"pathMode\": \"hash\","
	" \"dateShift\": {\"minDays\": -100, \"maxDays\": -10}},"
	" \"dicomTagConfig\": {\"profileType\": \"ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE\","
	" \"options\": {\"cleanDescriptors\": {}, \"primaryIds\": \"REGEN\"},"
	" \"actions\": [{\"queries\": [\"PatientName\"], \"removeTag\": {}}]},"
	" \"text\": {\"transformations\": [{\"infoTypes\": [\"PERSON_NAME\"], \"redactConfig\": {}}],"
	" \"excludeInfoTypes\": [\"LOCATION\"]}}";
/* the same policy: keys shuffled, proto (snake_case) names, a default
 * spelled out, a deprecated list name, the tag in hex */
static const char snake[] =
	"{\"text\": {\"exclude_info_types\": [\"LOCATION\"], \"additional_transformations\":"
	" [{\"redact_config\": {}, \"info_types\": [\"PERSON_NAME\"]}]},"
	" \"dicom_tag_config\": {\"actions\": [{\"remove_tag\": {}, \"queries\": [\"00100010\"]}],"
	" \"options\": {\"primary_ids\": \"PRIMARY_IDS_OPTION_UNSPECIFIED\", \"clean_descriptors\": {}}},"
	" \"deidfs\": {\"date_shift\": {\"max_days\": -10, \"min_days\": -100},"
	" \"path_mode\": \"hash\", \"api_version\": \"v1beta1\", \"birth_date\": \"year\"}}";

static void t_canonical(void)
{
	struct dd_policy *a = ct_load(camel), *b = ct_load(snake), *c, *r;
	struct dd_key k1 = {0}, k2 = {0};
	char ha[65], hb[65], hc[65];

	EXPECT_EQ_STR(a->canonical_json, b->canonical_json);
	EXPECT_EQ_STR(a->canonical_sha256, b->canonical_sha256);
	strcpy(k1.fingerprint, "ddk1:0000000000000000");
	strcpy(k2.fingerprint, "ddk1:0000000000000001");
	dd_policy_hash(a, &k1, "1.0", ha);
	dd_policy_hash(b, &k1, "1.0", hb);
	EXPECT_EQ_STR(ha, hb);
	EXPECT_EQ_INT(strlen(ha), 64);
	/* the key fingerprint and the engine version are covered */
	dd_policy_hash(a, &k2, "1.0", hc);
	EXPECT(strcmp(ha, hc) != 0);
	dd_policy_hash(a, &k1, "1.1", hc);
	EXPECT(strcmp(ha, hc) != 0);
	/* sorted keys, no white space */
	EXPECT(!strncmp(a->canonical_json, "{\"deidfs\":{\"apiVersion\":\"v1beta1\",\"birthDate\":\"year\",", 51));
	EXPECT(strchr(a->canonical_json, ' ') == NULL);
	/* the canonical JSON is itself a policy with the same canonical JSON */
	r = ct_load(a->canonical_json);
	EXPECT_EQ_STR(r->canonical_json, a->canonical_json);
	dd_policy_free(r);

	/* a changed value changes the hash */
	c = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\", \"pathMode\": \"hash\","
		    " \"dateShift\": {\"minDays\": -100, \"maxDays\": -11}},"
		    " \"dicomTagConfig\": {\"profileType\": \"ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE\","
		    " \"options\": {\"cleanDescriptors\": {}, \"primaryIds\": \"REGEN\"},"
		    " \"actions\": [{\"queries\": [\"PatientName\"], \"removeTag\": {}}]},"
		    " \"text\": {\"transformations\": [{\"infoTypes\": [\"PERSON_NAME\"], \"redactConfig\": {}}],"
		    " \"excludeInfoTypes\": [\"LOCATION\"]}}");
	EXPECT(strcmp(a->canonical_sha256, c->canonical_sha256) != 0);
	dd_policy_hash(c, &k1, "1.0", hc);
	EXPECT(strcmp(ha, hc) != 0);
	dd_policy_free(c);
	dd_policy_free(a);
	dd_policy_free(b);

	/* operational keys do not change the canonical form */
	a = ct_load("{\"deidfs\": {\"cacheSize\": \"1GiB\", \"cacheDir\": \"/tmp/c\", \"keyFile\": \"/k\", \"ocr\": {\"workers\": 2, \"timeoutSeconds\": 5}}}");
	b = ct_load("{}");
	EXPECT_EQ_STR(a->canonical_sha256, b->canonical_sha256);
	dd_policy_free(a);
	dd_policy_free(b);

	/* action order matters; list order of a keepList does not */
	a = ct_load("{\"dicom\": {\"keepList\": {\"tags\": [\"Rows\", \"Columns\"]}}}");
	b = ct_load("{\"dicom\": {\"keepList\": {\"tags\": [\"00280011\", \"Rows\", \"Rows\"]}}}");
	EXPECT_EQ_STR(a->canonical_json, b->canonical_json);
	dd_policy_free(a);
	dd_policy_free(b);
	a = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}, \"dicomTagConfig\": {\"actions\": [{\"queries\": [\"PN\"], \"keepTag\": {}}, {\"queries\": [\"PN\"], \"removeTag\": {}}]}}");
	b = ct_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}, \"dicomTagConfig\": {\"actions\": [{\"queries\": [\"PN\"], \"removeTag\": {}}, {\"queries\": [\"PN\"], \"keepTag\": {}}]}}");
	EXPECT(strcmp(a->canonical_sha256, b->canonical_sha256) != 0);
	dd_policy_free(a);
	dd_policy_free(b);

	/* a hand-built policy (no canonical JSON yet) still hashes */
	c = calloc(1, sizeof(*c));
	dd_policy_hash(c, NULL, NULL, hc);
	EXPECT_EQ_INT(strlen(hc), 64);
	free(c);
}

/* ---- built-ins ------------------------------------------------------------ */

static void t_builtins(void)
{
	const char *const *names = dd_policy_builtin_names();
	struct dd_policy *p;
	struct dd_diags d = {0};
	size_t n = 0;
	unsigned dflt = DD_PS315_RETAIN_LONG_MODIFIED_DATES |
			DD_PS315_RETAIN_PATIENT_CHARS | DD_PS315_CLEAN_DESC |
			DD_PS315_CLEAN_STRUCT_CONT | DD_PS315_CLEAN_GRAPH;

	for (; names[n]; n++) {
		const char *json = dd_policy_builtin_json(names[n]);
		dd_err e;

		EXPECT(json != NULL);
		e = dd_policy_builtin(names[n], &p);
		EXPECT_EQ_INT(e, DD_OK);
		if (e)
			continue;
		EXPECT(!strncmp(p->source, "builtin:", 8));
		EXPECT_EQ_INT(p->deidfs.api_version, DD_API_V1BETA1);
		EXPECT(p->dicom.tag_config);
		EXPECT(p->fhir.field_config);
		dd_policy_free(p);
		/* and without warnings from the parser */
		EXPECT_EQ_INT(dd_policy_load_buffer("b", json, strlen(json), &p, &d), DD_OK);
		EXPECT_EQ_INT(d.n, 0);
		dd_diags_free(&d);
		dd_policy_free(p);
	}
	EXPECT_EQ_INT(n, 4);
	EXPECT(dd_policy_builtin_json("nope") == NULL);
	EXPECT_EQ_INT(dd_policy_builtin("nope", &p), DD_E_NOTFOUND);
	EXPECT(p == NULL);

	EXPECT_EQ_INT(dd_policy_builtin("default", &p), DD_OK);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT_EQ_INT(p->dicom.ps315_options, dflt);
	EXPECT(p->dicom.clean_descriptors);
	EXPECT_EQ_INT(p->dicom.primary_ids, DD_PRIMARY_IDS_REGEN);
	EXPECT_EQ_INT(p->dicom.clean_image.mode, DD_REDACT_SENSITIVE_TEXT);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_BASIC);
	EXPECT(p->fhir.contextual_deid);
	EXPECT(!p->fhir.keep_extensions);
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	EXPECT_EQ_INT(p->deidfs.birth_date, DD_BIRTH_YEAR);
	EXPECT_EQ_INT(p->deidfs.dates, DD_DATES_SHIFT);
	EXPECT_EQ_INT(p->deidfs.path_mode, DD_PATH_SCRUB);
	EXPECT_EQ_INT(p->deidfs.extension_allowlist.n, 2);
	EXPECT_EQ_STR(p->deidfs.extension_allowlist.v[0],
		      "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race");
	EXPECT_EQ_INT(dd_policy_lint(p, &d), DD_OK);
	EXPECT_EQ_INT(d.n, 0); /* the default leaves no category untouched */
	dd_diags_free(&d);
	dd_policy_free(p);

	EXPECT_EQ_INT(dd_policy_builtin("safe-harbor", &p), DD_OK);
	EXPECT_EQ_INT(p->deidfs.dates, DD_DATES_YEAR);
	EXPECT_EQ_INT(p->deidfs.birth_date, DD_BIRTH_YEAR);
	EXPECT_EQ_INT(p->dicom.ps315_options, dflt);
	dd_policy_free(p);

	EXPECT_EQ_INT(dd_policy_builtin("keep-dates", &p), DD_OK);
	EXPECT_EQ_INT(p->deidfs.dates, DD_DATES_KEEP);
	EXPECT_EQ_INT(p->dicom.ps315_options,
		      (dflt & ~(unsigned)DD_PS315_RETAIN_LONG_MODIFIED_DATES) |
		      DD_PS315_RETAIN_LONG_FULL_DATES);
	EXPECT_EQ_INT(dd_policy_lint(p, &d), DD_OK);
	EXPECT_EQ_INT(d.n, 2);
	if (d.n == 2) {
		EXPECT_EQ_STR(d.v[0].message, "builtin:keep-dates: $.deidfs.ps315Options: dates: DICOM dates and times kept (retainLongFullDates)");
		EXPECT_EQ_STR(d.v[1].message, "builtin:keep-dates: $.deidfs.dates: dates: kept where they would be modified (dates \"keep\")");
	}
	dd_diags_free(&d);
	dd_policy_free(p);

	EXPECT_EQ_INT(dd_policy_builtin("minimal", &p), DD_OK);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(p->dicom.n_actions, 2);
	EXPECT_EQ_INT(p->dicom.actions[0].kind, DD_DACT_REMOVE);
	EXPECT_EQ_INT(p->dicom.actions[1].kind, DD_DACT_REGEN_UID);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(p->fhir.n_fields, 1);
	EXPECT_EQ_INT(p->fhir.fields[0].action, DD_FACT_REMOVE);
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_EMPTY);
	dd_policy_free(p);

	/* the four built-ins differ */
	{
		struct dd_policy *q[4];
		size_t i, j;

		for (i = 0; i < 4; i++)
			EXPECT_EQ_INT(dd_policy_builtin(names[i], &q[i]), DD_OK);
		for (i = 0; i < 4; i++)
			for (j = i + 1; j < 4; j++)
				EXPECT(strcmp(q[i]->canonical_sha256,
					      q[j]->canonical_sha256) != 0);
		for (i = 0; i < 4; i++)
			dd_policy_free(q[i]);
	}
}

/* ---- lint ----------------------------------------------------------------- */

static void t_lint(void)
{
	static const char *const want_empty[] = {
		"t.json: $: DICOM attributes: kept unchanged (no dicom config: the v1 default is KEEP_ALL_PROFILE; only the primary UIDs are regenerated)",
		"t.json: $: burnt-in text: not redacted (textRedactionMode REDACT_NO_TEXT)",
		"t.json: $: FHIR fields: passed through unchanged (no fhir config: the v1 default passes every field through)",
	};
	static const char *const want_minimal[] = {
		"builtin:minimal: $.dicomTagConfig.profileType: DICOM attributes: kept unchanged (KEEP_ALL_PROFILE; only the primary UIDs and the actions' tags are regenerated)",
		"builtin:minimal: $: burnt-in text: not redacted (textRedactionMode REDACT_NO_TEXT)",
		"builtin:minimal: $.fhirFieldConfig.profileType: FHIR fields: fields that no fieldMetadataList entry matches are passed through unchanged (KEEP_ALL)",
		"builtin:minimal: $.fhirFieldConfig.options.keepExtensions: FHIR extensions: all kept",
		"builtin:minimal: $.text.profileType: free text: found PHI is not transformed (profile EMPTY and no transformations)",
		"builtin:minimal: $.deidfs.inspectFreeText: free text: not inspected (inspectFreeText false)",
		"builtin:minimal: $.deidfs.dates: dates: kept where they would be modified (dates \"keep\")",
		"builtin:minimal: $.deidfs.birthDate: birth dates: kept (birthDate \"keep\")",
	};
	static const char *const want_many[] = {
		"t.json: $.dicom.removeList: DICOM attributes: only the listed attributes are emptied; all others are kept (removeList)",
		"t.json: $.dicom.skipIdRedaction: UIDs: StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID and MediaStorageSOPInstanceUID kept",
		"t.json: $.image: burnt-in text: not redacted (textRedactionMode REDACT_NO_TEXT)",
		"t.json: $.fhir: FHIR fields: fields that no fieldMetadataList entry matches are passed through unchanged (v1 FhirConfig has no profile)",
		"t.json: $.fhir.fieldMetadataList[0]: FHIR fields: Patient.birthDate kept unchanged (DO_NOT_TRANSFORM)",
		"t.json: $.fhir.defaultKeepExtensions: FHIR extensions: all kept",
		"t.json: $.text.excludeInfoTypes: free text: PERSON_NAME, DATE not transformed (excludeInfoTypes)",
		"t.json: $.deidfs.pathMode: file names: kept unchanged (pathMode \"keep\")",
		"t.json: $.deidfs.maxAge: ages: ages up to 120 kept (HIPAA groups ages over 89)",
		"t.json: $.deidfs.hideRecognizableVisualFeatures: faces: images marked RecognizableVisualFeatures YES are served",
		"t.json: $.deidfs.hidePhotographic: photographs: photographic SOP classes are served",
	};
	struct {
		const char *json;
		const char *const *want;
		size_t n;
	} cases[] = {
		{"{}", want_empty, 3},
		{NULL, want_minimal, 8},
		{"{\"dicom\": {\"removeList\": {\"tags\": [\"PatientName\"]}, \"skipIdRedaction\": true},"
		 " \"image\": {\"textRedactionMode\": \"REDACT_NO_TEXT\"},"
		 " \"fhir\": {\"fieldMetadataList\": [{\"paths\": [\"Patient.birthDate\"], \"action\": \"DO_NOT_TRANSFORM\"}], \"defaultKeepExtensions\": true},"
		 " \"text\": {\"excludeInfoTypes\": [\"PERSON_NAME\", \"DATE\"]},"
		 " \"deidfs\": {\"pathMode\": \"keep\", \"maxAge\": 120, \"hideRecognizableVisualFeatures\": false, \"hidePhotographic\": false}}",
		 want_many, 11},
	};
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dd_diags d = {0};
		struct dd_policy *p = NULL;

		if (cases[i].json)
			p = ct_load(cases[i].json);
		else
			EXPECT_EQ_INT(dd_policy_builtin("minimal", &p), DD_OK);
		if (!p)
			continue;
		EXPECT_EQ_INT(dd_policy_lint(p, &d), DD_OK);
		EXPECT_EQ_INT(d.n, cases[i].n);
		EXPECT_EQ_INT(d.n_warnings, d.n);
		for (j = 0; j < d.n && j < cases[i].n; j++)
			EXPECT_EQ_STR(d.v[j].message, cases[i].want[j]);
		for (j = cases[i].n; j < d.n; j++)
			fprintf(stderr, "unexpected: %s\n", d.v[j].message);
		dd_diags_free(&d);
		dd_policy_free(p);
	}
}

/* ---- files ---------------------------------------------------------------- */

static void t_files(void)
{
	char dir[] = "/tmp/dd_policy_test.XXXXXX", path[512], msg[600];
	struct dd_policy *p = NULL;
	struct dd_diags d = {0};
	FILE *f;

	EXPECT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/p.json", dir);
	f = fopen(path, "w");
	fputs("{\n  \"deidfs\": {\n    \"keyFile\": \"sub/key\"\n  }\n}\n", f);
	fclose(f);
	EXPECT_EQ_INT(dd_policy_load_file(path, &p, &d), DD_OK);
	if (p) {
		/* relative to the policy file's directory */
		snprintf(msg, sizeof(msg), "%s/sub/key", dir);
		EXPECT_EQ_STR(p->deidfs.key_file, msg);
		EXPECT_EQ_STR(p->source, path);
	}
	dd_policy_free(p);
	dd_diags_free(&d);

	/* an error on line 3 */
	f = fopen(path, "w");
	fputs("{\n  \"dicom\": {\n    \"filterProfile\": KEEP\n  }\n}\n", f);
	fclose(f);
	EXPECT_EQ_INT(dd_policy_load_file(path, &p, &d), DD_E_POLICY);
	EXPECT(p == NULL);
	EXPECT_EQ_INT(d.n, 1);
	snprintf(msg, sizeof(msg), "%s: $: JSON syntax error at line 3, column 22: unexpected character (expected valid JSON)", path);
	if (d.n)
		EXPECT_EQ_STR(d.v[0].message, msg);
	dd_diags_free(&d);

	/* not there, a directory */
	snprintf(path, sizeof(path), "%s/none.json", dir);
	EXPECT_EQ_INT(dd_policy_load_file(path, &p, &d), DD_E_IO);
	snprintf(msg, sizeof(msg), "%s: $: cannot read the file: No such file or directory", path);
	if (d.n)
		EXPECT_EQ_STR(d.v[0].message, msg);
	dd_diags_free(&d);
	EXPECT_EQ_INT(dd_policy_load_file(dir, &p, &d), DD_E_IO);
	EXPECT_EQ_INT(d.n_errors, 1);
	dd_diags_free(&d);
	/* a NULL diags is allowed */
	EXPECT_EQ_INT(dd_policy_load_buffer("x", "{\"x\":1}", 7, &p, NULL), DD_E_POLICY);
	snprintf(path, sizeof(path), "%s/p.json", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- docs/policy.md examples ---------------------------------------------- */

/* Each example in docs/policy.md is a ```json block right after a line
 * "<!-- example: NAME.json -->"; the block must equal
 * tests/policy/examples/NAME.json, and that file must load without errors.
 * Every file in examples/ must appear in the doc. */
static char *ct_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	b[n] = 0;
	fclose(f);
	return b;
}

static void t_doc_examples(void)
{
	char path[4096], name[256];
	char *doc, *s, *file;
	size_t n_doc = 0, n_dir = 0;
	DIR *dir;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/docs/policy.md", src_root());
	doc = ct_slurp(path);
	EXPECT(doc != NULL);
	if (!doc)
		return;
	for (s = doc; (s = strstr(s, "<!-- example: ")); n_doc++) {
		char *nl, *start, *end;
		struct dd_policy *p = NULL;
		struct dd_diags d = {0};

		s += strlen("<!-- example: ");
		if (sscanf(s, "%255[^ ]", name) != 1)
			break;
		nl = strstr(s, "```json\n");
		EXPECT(nl != NULL);
		if (!nl)
			break;
		start = nl + strlen("```json\n");
		end = strstr(start, "```");
		if (!end)
			break;
		snprintf(path, sizeof(path), "%s/tests/policy/examples/%s",
			 src_root(), name);
		file = ct_slurp(path);
		EXPECT(file != NULL);
		if (file) {
			if (strlen(file) != (size_t)(end - start) ||
			    strncmp(file, start, (size_t)(end - start))) {
				fprintf(stderr, "docs/policy.md: example %s differs from tests/policy/examples/%s\n",
					name, name);
				EXPECT(0);
			}
			EXPECT_EQ_INT(dd_policy_load_file(path, &p, &d), DD_OK);
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "  %s\n", d.v[i].message);
			EXPECT_EQ_INT(d.n_errors, 0);
			dd_diags_free(&d);
			dd_policy_free(p);
			free(file);
		}
		s = end;
	}
	snprintf(path, sizeof(path), "%s/tests/policy/examples", src_root());
	dir = opendir(path);
	EXPECT(dir != NULL);
	while (dir && (de = readdir(dir))) {
		char tag[300];

		if (!strstr(de->d_name, ".json"))
			continue;
		n_dir++;
		snprintf(tag, sizeof(tag), "<!-- example: %s -->", de->d_name);
		if (!strstr(doc, tag)) {
			fprintf(stderr, "tests/policy/examples/%s is not in docs/policy.md\n",
				de->d_name);
			EXPECT(0);
		}
	}
	if (dir)
		closedir(dir);
	EXPECT_EQ_INT(n_doc, n_dir);
	EXPECT(n_doc >= 5);
	/* "<!-- builtin: NAME -->" blocks show a built-in exactly */
	n_doc = 0;
	for (s = doc; (s = strstr(s, "<!-- builtin: ")); n_doc++) {
		const char *json;
		char *start, *end;

		s += strlen("<!-- builtin: ");
		if (sscanf(s, "%255[^ ]", name) != 1)
			break;
		json = dd_policy_builtin_json(name);
		EXPECT(json != NULL);
		start = strstr(s, "```json\n");
		if (!start || !json)
			break;
		start += strlen("```json\n");
		end = strstr(start, "```");
		EXPECT(end && strlen(json) == (size_t)(end - start) &&
		       !strncmp(json, start, (size_t)(end - start)));
		s = start;
	}
	EXPECT_EQ_INT(n_doc, 1);
	free(doc);
}

int main(void)
{
	t_defaults_v1();
	t_defaults_v1beta1();
	t_deidfs_values();
	t_canonical();
	t_builtins();
	t_lint();
	t_files();
	t_doc_examples();
	return dd_test_done("test_policy_core");
}
