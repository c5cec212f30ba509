/* test_policy_google.c: Google's documented DeidentifyConfig examples
 * (tests/policy/google/, see its README.md) load unchanged, and resolve to
 * the values Google's schema gives them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/dd_test.h"
#include "dd_dict.h"
#include "dd_policy.h"

static struct dd_policy *gt_load(const char *name, size_t warnings)
{
	const char *root = getenv("DD_SOURCE_ROOT");
	struct dd_policy *p = NULL;
	struct dd_diags d = {0};
	char path[4096];
	dd_err e;

	snprintf(path, sizeof(path), "%s/tests/policy/google/%s",
		 root ? root : ".", name);
	e = dd_policy_load_file(path, &p, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  %s\n", d.v[i].message);
	EXPECT_EQ_INT(e, DD_OK);
	EXPECT_EQ_INT(d.n_errors, 0);
	EXPECT_EQ_INT(d.n_warnings, warnings);
	dd_diags_free(&d);
	if (!p) {
		fprintf(stderr, "%s did not load\n", name);
		exit(1);
	}
	EXPECT_EQ_INT(strlen(p->canonical_sha256), 64);
	return p;
}

static uint32_t kw(const char *k)
{
	const struct dd_dict_entry *e = dd_dict_find_keyword(k);

	if (!e) {
		fprintf(stderr, "no keyword %s\n", k);
		exit(1);
	}
	return e->tag;
}

static bool has_tag(const struct dd_policy_dicom *d, uint32_t t)
{
	for (size_t i = 0; i < d->n_list_tags; i++)
		if (d->list_tags[i] == t)
			return true;
	return false;
}

static void t_dicom_basic(void)
{
	struct dd_policy *p = gt_load("dicom_basic_profile.json", 0);

	EXPECT(p->dicom.present);
	EXPECT(!p->dicom.tag_config);
	EXPECT_EQ_INT(p->dicom.filter, DD_DICOM_FILTER_PROFILE);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT_EQ_INT(p->dicom.primary_ids, DD_PRIMARY_IDS_REGEN);
	EXPECT_EQ_INT(p->dicom.ps315_options, 0);
	/* v1, nothing else given: FHIR passes through, text BASIC */
	EXPECT(!p->fhir.present);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	EXPECT(!p->image.present);
	EXPECT(!p->dicom.clean_image.present);
	dd_policy_free(p);
}

static void t_dicom_keep_list(void)
{
	struct dd_policy *p = gt_load("dicom_keep_list.json", 0);
	size_t i;

	EXPECT_EQ_INT(p->dicom.filter, DD_DICOM_FILTER_KEEP_LIST);
	EXPECT_EQ_INT(p->dicom.n_list_tags, 17);
	EXPECT(has_tag(&p->dicom, DD_TAG(0x0028, 0x0011))); /* Columns */
	EXPECT(has_tag(&p->dicom, DD_TAG(0x0010, 0x0020))); /* PatientID */
	EXPECT(has_tag(&p->dicom, DD_TAG(0x0002, 0x0010))); /* TransferSyntaxUID */
	EXPECT(has_tag(&p->dicom, DD_TAG(0x7fe0, 0x0010))); /* PixelData */
	EXPECT(!has_tag(&p->dicom, DD_TAG(0x0010, 0x0010)));
	for (i = 1; i < p->dicom.n_list_tags; i++)
		EXPECT(p->dicom.list_tags[i - 1] < p->dicom.list_tags[i]);
	dd_policy_free(p);
}

static void t_dicom_remove_list(void)
{
	struct dd_policy *p = gt_load("dicom_remove_list.json", 0);

	EXPECT_EQ_INT(p->dicom.filter, DD_DICOM_FILTER_REMOVE_LIST);
	EXPECT_EQ_INT(p->dicom.n_list_tags, 3);
	EXPECT(has_tag(&p->dicom, kw("PatientName")));
	EXPECT(has_tag(&p->dicom, DD_TAG(0x0010, 0x0030)));
	EXPECT(has_tag(&p->dicom, kw("PatientAddress")));
	EXPECT(p->image.present);
	EXPECT_EQ_INT(p->image.mode, DD_REDACT_ALL_TEXT);
	/* the engines read dicom.clean_image: the v1 image is copied there */
	EXPECT(p->dicom.clean_image.present);
	EXPECT_EQ_INT(p->dicom.clean_image.mode, DD_REDACT_ALL_TEXT);
	EXPECT(!p->dicom.clean_image_given);
	dd_policy_free(p);
}

static void t_dicom_minimal(void)
{
	struct dd_policy *p = gt_load("dicom_minimal_skip_ids.json", 0);

	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_MINIMAL_KEEP_LIST);
	EXPECT_EQ_INT(p->dicom.primary_ids, DD_PRIMARY_IDS_KEEP);
	dd_policy_free(p);
}

static void t_text_redact(void)
{
	struct dd_policy *p = gt_load("text_redact_all.json", 0);

	EXPECT(p->text.present);
	EXPECT_EQ_INT(p->text.n_transforms, 1);
	EXPECT_EQ_INT(p->text.transforms[0].kind, DD_TX_REDACT);
	EXPECT_EQ_INT(p->text.transforms[0].info_types.n, 0);
	/* v1 with transformations: only those apply */
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_EMPTY);
	/* v1, no dicom config: KEEP_ALL */
	EXPECT(!p->dicom.present);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_KEEP_ALL);
	dd_policy_free(p);
}

static void t_image(void)
{
	struct dd_policy *p = gt_load("image_sensitive_text.json", 0);

	EXPECT(p->image.present);
	EXPECT_EQ_INT(p->image.mode, DD_REDACT_SENSITIVE_TEXT);
	EXPECT_EQ_INT(p->dicom.clean_image.mode, DD_REDACT_SENSITIVE_TEXT);
	dd_policy_free(p);
}

static void t_tag_contents(void)
{
	struct dd_policy *p = gt_load("dicom_tag_contents.json", 0);

	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS);
	EXPECT_EQ_INT(p->text.n_transforms, 2);
	EXPECT_EQ_INT(p->text.transforms[0].kind, DD_TX_REPLACE_WITH_INFO_TYPE);
	EXPECT_EQ_STR(p->text.transforms[0].info_types.v[0], "PERSON_NAME");
	EXPECT_EQ_INT(p->text.transforms[1].kind, DD_TX_DATE_SHIFT);
	EXPECT(p->text.transforms[1].key.present);
	EXPECT_EQ_INT(p->text.transforms[1].key.len, 16);
	EXPECT_EQ_INT(p->text.transforms[1].key.bytes[0], 100);
	EXPECT_EQ_INT(p->text.transforms[1].key.bytes[15], 115);
	dd_policy_free(p);
}

static void t_fhir_fields(void)
{
	struct dd_policy *p = gt_load("fhir_field_metadata.json", 0);
	const struct dd_policy_fhir *f = &p->fhir;

	EXPECT(f->present);
	EXPECT(!f->field_config);
	EXPECT_EQ_INT(f->profile, DD_FHIR_PROFILE_KEEP_ALL);
	EXPECT(f->keep_extensions);
	EXPECT_EQ_INT(f->n_fields, 4);
	EXPECT_EQ_STR(f->fields[0].paths.v[0], "Patient.Address.String");
	EXPECT_EQ_INT(f->fields[0].action, DD_FACT_TRANSFORM);
	EXPECT_EQ_STR(f->fields[1].paths.v[0], "HumanName");
	EXPECT_EQ_INT(f->fields[1].action, DD_FACT_INSPECT_AND_TRANSFORM);
	EXPECT_EQ_INT(f->fields[2].paths.n, 2);
	EXPECT_EQ_STR(f->fields[2].paths.v[0], "Deceased.Age.unit");
	EXPECT_EQ_STR(f->fields[2].paths.v[1], "Address.city");
	EXPECT_EQ_INT(f->fields[3].action, DD_FACT_DO_NOT_TRANSFORM);
	EXPECT_EQ_STR(f->mask_char, "*");
	dd_policy_free(p);
}

static void t_fhir_default(void)
{
	struct dd_policy *p = gt_load("fhir_default.json", 0);

	EXPECT(p->fhir.present);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_KEEP_ALL);
	EXPECT(!p->fhir.keep_extensions); /* unset removes extensions */
	EXPECT_EQ_INT(p->fhir.n_fields, 0);
	dd_policy_free(p);
}

static void t_crypto_hash(void)
{
	struct dd_policy *p = gt_load("text_crypto_hash.json", 0);
	const struct dd_text_transform *t = p->text.transforms;

	EXPECT_EQ_INT(p->text.n_transforms, 3);
	EXPECT_EQ_INT(t[0].kind, DD_TX_CRYPTO_HASH);
	EXPECT_EQ_INT(t[0].info_types.n, 2);
	EXPECT_EQ_STR(t[0].info_types.v[1], "EMAIL_ADDRESS");
	EXPECT_EQ_INT(t[0].key.len, 32);
	for (int i = 0; i < 32; i++)
		EXPECT_EQ_INT(t[0].key.bytes[i], i);
	EXPECT_EQ_INT(t[1].kind, DD_TX_CHARACTER_MASK);
	EXPECT_EQ_STR(t[1].mask_char, "#");
	EXPECT_EQ_INT(t[2].kind, DD_TX_DATE_SHIFT);
	EXPECT_EQ_INT(p->text.exclude_info_types.n, 1);
	EXPECT_EQ_STR(p->text.exclude_info_types.v[0], "LOCATION");
	/* the inline key never appears in the canonical JSON */
	EXPECT(strstr(p->canonical_json, "AAECAwQF") == NULL);
	EXPECT(strstr(p->canonical_json, "\"cryptoKey\":\"ddk1:8a0d6fc5d1a0a0ba\"") != NULL);
	dd_policy_free(p);
}

static void t_regional(void)
{
	struct dd_policy *p = gt_load("regional.json", 0);

	EXPECT(p->use_regional_processing);
	EXPECT(p->dicom.present);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(p->text.n_transforms, 1);
	EXPECT_EQ_INT(p->text.exclude_info_types.n, 2);
	dd_policy_free(p);
}

static void t_beta_dicom(void)
{
	struct dd_policy *p = gt_load("v1beta1_dicom_tag_config.json", 0);
	const struct dd_policy_dicom *d = &p->dicom;
	const struct dd_dicom_action *a = d->actions;

	EXPECT_EQ_INT(p->deidfs.api_version, DD_API_V1BETA1);
	EXPECT(d->present && d->tag_config);
	EXPECT_EQ_INT(d->profile, DD_DICOM_PROFILE_KEEP_ALL);
	EXPECT_EQ_INT(d->primary_ids, DD_PRIMARY_IDS_KEEP);
	EXPECT(d->clean_descriptors);
	EXPECT(d->ps315_options & DD_PS315_CLEAN_DESC);
	EXPECT(d->clean_image_given);
	EXPECT_EQ_INT(d->clean_image.mode, DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS);
	EXPECT_EQ_STR(d->clean_image.additional_info_types.v[0], "EMAIL_ADDRESS");
	EXPECT_EQ_STR(d->clean_image.exclude_info_types.v[0], "DATE");
	EXPECT_EQ_INT(d->n_actions, 8);
	if (d->n_actions != 8)
		goto out;
	EXPECT_EQ_INT(a[0].kind, DD_DACT_CLEAN_TEXT);
	EXPECT_EQ_INT(a[0].n_queries, 2);
	EXPECT_EQ_INT(a[0].queries[0].kind, DD_DQ_TAG);
	EXPECT_EQ_INT(a[0].queries[0].tag, DD_TAG(0x0010, 0x0010));
	EXPECT_EQ_INT(a[0].queries[1].tag, DD_TAG(0x0010, 0x0020));
	EXPECT_EQ_INT(a[1].kind, DD_DACT_REGEN_UID);
	EXPECT_EQ_INT(a[1].queries[0].kind, DD_DQ_VR);
	EXPECT_EQ_STR(a[1].queries[0].vr, "UI");
	EXPECT_EQ_INT(a[2].kind, DD_DACT_RECURSE);
	EXPECT_EQ_INT(a[2].queries[0].tag, kw("ReferencedImageSequence"));
	EXPECT_EQ_INT(a[3].kind, DD_DACT_CLEAN_IMAGE);
	EXPECT(a[3].image.present);
	EXPECT_EQ_INT(a[3].image.mode, DD_REDACT_ALL_TEXT);
	EXPECT_EQ_INT(a[4].kind, DD_DACT_REMOVE);
	EXPECT_EQ_STR(a[4].queries[0].vr, "PN");
	EXPECT_EQ_INT(a[5].kind, DD_DACT_RESET);
	EXPECT_EQ_INT(a[5].queries[0].tag, DD_TAG(0x0008, 0x0020));
	EXPECT_EQ_INT(a[6].kind, DD_DACT_DELETE);
	EXPECT_EQ_INT(a[6].queries[0].tag, DD_TAG(0x0009, 0x1001));
	EXPECT_EQ_INT(a[7].kind, DD_DACT_KEEP);
	/* v1beta1, fhir absent: the BASIC profile */
	EXPECT(!p->fhir.present);
	EXPECT_EQ_INT(p->fhir.profile, DD_FHIR_PROFILE_BASIC);
out:
	dd_policy_free(p);
}

static void t_beta_fhir(void)
{
	struct dd_policy *p = gt_load("v1beta1_fhir_field_config.json", 0);
	const struct dd_policy_fhir *f = &p->fhir;
	static const enum dd_fhir_action want[] = {
		DD_FACT_REMOVE, DD_FACT_CHARACTER_MASK, DD_FACT_CRYPTO_HASH,
		DD_FACT_DATE_SHIFT, DD_FACT_CLEAN_TEXT, DD_FACT_KEEP,
	};

	EXPECT(f->present && f->field_config);
	EXPECT_EQ_INT(f->profile, DD_FHIR_PROFILE_CLEAN_ALL);
	EXPECT_EQ_INT(f->n_fields, 6);
	for (size_t i = 0; i < 6 && i < f->n_fields; i++)
		EXPECT_EQ_INT(f->fields[i].action, want[i]);
	EXPECT_EQ_STR(f->mask_char, "x");
	EXPECT_EQ_INT(f->crypto_hash_key.len, 32);
	EXPECT_EQ_INT(f->date_shift_key.len, 16);
	EXPECT(f->keep_extensions);
	EXPECT(f->contextual_deid);
	/* v1beta1, dicom absent: the Basic Profile */
	EXPECT(!p->dicom.present);
	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_BASIC);
	dd_policy_free(p);
}

static void t_beta_text(void)
{
	struct dd_policy *p = gt_load("v1beta1_text_profile.json", 0);

	EXPECT_EQ_INT(p->text.profile, DD_TEXT_PROFILE_EMPTY);
	EXPECT_EQ_INT(p->text.n_transforms, 1);
	EXPECT_EQ_INT(p->image.mode, DD_REDACT_SENSITIVE_TEXT);
	EXPECT_EQ_STR(p->image.additional_info_types.v[0], "US_SOCIAL_SECURITY_NUMBER");
	EXPECT_EQ_STR(p->image.exclude_info_types.v[0], "AGE");
	EXPECT_EQ_STR(p->dicom.clean_image.additional_info_types.v[0],
		      "US_SOCIAL_SECURITY_NUMBER");
	dd_policy_free(p);
}

static void t_beta_annotation(void)
{
	/* two warnings: annotation and operationMetadata have no effect */
	struct dd_policy *p = gt_load("v1beta1_annotation.json", 2);

	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	dd_policy_free(p);
}

static void t_proto_names(void)
{
	struct dd_policy *p = gt_load("proto_names.json", 0);

	EXPECT_EQ_INT(p->dicom.profile, DD_DICOM_PROFILE_BASIC);
	EXPECT_EQ_INT(p->fhir.n_fields, 1);
	EXPECT_EQ_INT(p->fhir.fields[0].action, DD_FACT_DO_NOT_TRANSFORM);
	EXPECT_EQ_INT(p->text.n_transforms, 1);
	EXPECT_EQ_INT(p->text.transforms[0].kind, DD_TX_CHARACTER_MASK);
	EXPECT_EQ_STR(p->text.transforms[0].info_types.v[0], "PHONE_NUMBER");
	dd_policy_free(p);
}

int main(void)
{
	t_dicom_basic();
	t_dicom_keep_list();
	t_dicom_remove_list();
	t_dicom_minimal();
	t_text_redact();
	t_image();
	t_tag_contents();
	t_fhir_fields();
	t_fhir_default();
	t_crypto_hash();
	t_regional();
	t_beta_dicom();
	t_beta_fhir();
	t_beta_text();
	t_beta_annotation();
	t_proto_names();
	return dd_test_done("test_policy_google");
}
