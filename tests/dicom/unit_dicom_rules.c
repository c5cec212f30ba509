/* unit_dicom_rules.c: the pure decisions of the DICOM engine
 * (dd_dicom_decide and the value rules), table-driven. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/dd_test.h"
#include "dd_buf.h"
#include "dd_dicom_i.h"
#include "dd_dicom_rules.h"
#include "unit_dicom_util.h"

#define T(g, e) DD_TAG(0x##g, 0x##e)

static enum dd_dicom_act decide(const struct dd_policy *p, uint32_t tag,
				const char *vr, const char *creator,
				unsigned depth, unsigned ctx)
{
	struct dd_dicom_elem e;

	memset(&e, 0, sizeof(e));
	e.tag = tag;
	memcpy(e.vr, vr, 2);
	e.creator = creator;
	e.depth = depth;
	e.ctx = ctx;
	return dd_dicom_decide(p, &e);
}

#define EXPECT_ACT(p, tag, vr, want)                                          \
	do {                                                                  \
		enum dd_dicom_act got_ = decide((p), (tag), (vr), NULL, 0, 0); \
		dd_test_checks++;                                             \
		if (got_ != (want)) {                                         \
			dd_test_failures++;                                   \
			fprintf(stderr, "%s:%d: %08X %s: %s, expected %s\n",  \
				__FILE__, __LINE__, (unsigned)(tag), (vr),    \
				dd_dicom_act_name(got_),                      \
				dd_dicom_act_name(want));                     \
		}                                                             \
	} while (0)

static void test_table(void)
{
	const struct dd_ps315_row *r;

	EXPECT(dd_ps315_n_rows > 600);
	r = dd_ps315_find(T(0010, 0010));
	EXPECT(r && strcmp(r->keyword, "PatientName") == 0 && r->code == DD_P_Z);
	r = dd_ps315_find(T(0008, 002A));
	EXPECT(r && r->code == DD_P_XZD);
	/* wildcards */
	r = dd_ps315_find(T(5002, 3000));
	EXPECT(r && r->mask == 0xff000000u);
	r = dd_ps315_find(T(6002, 3000));
	EXPECT(r && strcmp(r->keyword, "OverlayData") == 0);
	r = dd_ps315_find(T(60FE, 4000));
	EXPECT(r && strcmp(r->keyword, "OverlayComments") == 0);
	EXPECT(dd_ps315_find(T(6000, 0010)) == NULL); /* OverlayRows: not listed */
	r = dd_ps315_find(T(0009, 1001));
	EXPECT(r && r->mask == 0 && r->code == DD_P_X);
	EXPECT(dd_ps315_find(T(0028, 0010)) == NULL);
}

static void test_resolve(void)
{
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_XZ), DD_P_Z);
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_ZD), DD_P_D);
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_XD), DD_P_D);
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_XZD), DD_P_D);
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_XZU), DD_P_U);
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_X), DD_P_X);
	EXPECT_EQ_INT(dd_ps315_resolve(DD_P_U), DD_P_U);
}

static void test_basic(void)
{
	struct dd_policy *p = ut_policy(DD_DICOM_PROFILE_BASIC, 0);

	/* single codes */
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_EMPTY);   /* Z */
	EXPECT_ACT(p, T(0010, 1040), "LO", DD_ACT_DELETE);  /* X PatientAddress */
	EXPECT_ACT(p, T(0040, A123), "PN", DD_ACT_DUMMY);   /* D PersonName */
	EXPECT_ACT(p, T(0020, 0052), "UI", DD_ACT_UID);     /* U */
	/* combined codes, resolved keeping presence */
	EXPECT_ACT(p, T(0008, 0022), "DA", DD_ACT_EMPTY);   /* X/Z */
	EXPECT_ACT(p, T(0008, 0023), "DA", DD_ACT_DUMMY);   /* Z/D */
	EXPECT_ACT(p, T(0008, 0021), "DA", DD_ACT_DUMMY);   /* X/D */
	EXPECT_ACT(p, T(0008, 0080), "LO", DD_ACT_DUMMY);   /* X/Z/D */
	EXPECT_ACT(p, T(0008, 1140), "SQ", DD_ACT_RECURSE); /* X/Z/U* on SQ */
	EXPECT_ACT(p, T(0040, 0555), "SQ", DD_ACT_EMPTY);   /* X/Z on SQ */
	/* X/Z on a sequence no module defines as Type 2: items replaced */
	EXPECT_ACT(p, T(0008, 1110), "SQ", DD_ACT_RECURSE);
	EXPECT_ACT(p, T(0008, 0082), "SQ", DD_ACT_RECURSE); /* X/Z/D on SQ */
	EXPECT_ACT(p, T(0088, 0200), "SQ", DD_ACT_DELETE);  /* IconImageSequence */
	/* identifiers become pseudonyms */
	EXPECT_ACT(p, T(0010, 0020), "LO", DD_ACT_PATIENT_ID);
	EXPECT_ACT(p, T(0008, 0050), "SH", DD_ACT_IDENT);
	EXPECT_ACT(p, T(0020, 0010), "SH", DD_ACT_IDENT);
	/* primary UIDs, at any depth */
	EXPECT_ACT(p, T(0020, 000D), "UI", DD_ACT_UID);
	EXPECT(decide(p, T(0020, 000E), "UI", NULL, 3, 0) == DD_ACT_UID);
	/* not listed: kept, sequences recursed; unknown: removed */
	EXPECT_ACT(p, T(0028, 0010), "US", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0060), "CS", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0054, 0016), "SQ", DD_ACT_RECURSE);
	EXPECT_ACT(p, T(0008, 0000), "UL", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0029, 0000), "UL", DD_ACT_DELETE);
	EXPECT_ACT(p, T(0021, 4321), "UN", DD_ACT_DELETE); /* unknown public */
	/* curves, overlays */
	EXPECT_ACT(p, T(5000, 0005), "US", DD_ACT_DELETE);
	EXPECT_ACT(p, T(6000, 3000), "OW", DD_ACT_DELETE);
	EXPECT_ACT(p, T(6002, 4000), "LT", DD_ACT_DELETE);
	/* ... the whole repeating group, not only the listed elements */
	EXPECT_ACT(p, T(6000, 0010), "US", DD_ACT_DELETE); /* OverlayRows */
	EXPECT_ACT(p, T(6000, 0022), "LO", DD_ACT_DELETE); /* Description */
	EXPECT_ACT(p, T(601E, 0040), "CS", DD_ACT_DELETE);
	EXPECT_ACT(p, T(5010, 0022), "LO", DD_ACT_DELETE);
	EXPECT(dd_dicom_is_graphic_group(T(601E, 3000)) &&
	       !dd_dicom_is_graphic_group(T(6020, 3000)) &&
	       !dd_dicom_is_graphic_group(T(6001, 0010)));
	/* sequences replaced (D, kept Z): kept text becomes the dummy */
	{
		struct dd_dicom_elem e;

		memset(&e, 0, sizeof(e));
		memcpy(e.vr, "SQ", 2);
		e.tag = T(0008, 0082); /* InstitutionCodeSequence, X/Z/D */
		EXPECT(dd_dicom_seq_ctx(p, &e) == DD_DCTX_DUMMY);
		e.tag = T(0008, 1110); /* ReferencedStudySequence, kept Z */
		EXPECT(dd_dicom_seq_ctx(p, &e) == DD_DCTX_DUMMY);
		e.tag = T(0040, A730); /* ContentSequence, D */
		EXPECT(dd_dicom_seq_ctx(p, &e) ==
		       (DD_DCTX_CONTENT | DD_DCTX_DUMMY));
		e.tag = T(0008, 1140); /* ReferencedImageSequence, U */
		EXPECT(dd_dicom_seq_ctx(p, &e) == 0);
	}
	EXPECT(decide(p, T(0008, 0104), "LO", NULL, 1, DD_DCTX_DUMMY) ==
	       DD_ACT_DUMMY); /* CodeMeaning */
	EXPECT(decide(p, T(0008, 0100), "SH", NULL, 1, DD_DCTX_DUMMY) ==
	       DD_ACT_DUMMY); /* CodeValue */
	EXPECT(decide(p, T(0008, 0102), "SH", NULL, 1, DD_DCTX_DUMMY) ==
	       DD_ACT_KEEP); /* CodingSchemeDesignator */
	EXPECT(decide(p, T(0008, 1150), "UI", NULL, 1, DD_DCTX_DUMMY) ==
	       DD_ACT_UID); /* act_uid never maps a class UID */
	EXPECT(decide(p, T(0008, 1155), "UI", NULL, 1, DD_DCTX_DUMMY) ==
	       DD_ACT_UID);
	EXPECT(decide(p, T(0028, 0010), "US", NULL, 1, DD_DCTX_DUMMY) ==
	       DD_ACT_KEEP);
	/* private: removed */
	EXPECT_ACT(p, T(0009, 0010), "LO", DD_ACT_DELETE);
	EXPECT_ACT(p, T(0019, 100C), "IS", DD_ACT_DELETE);
	/* D on dates/texts: dummies; EncapsulatedDocument: a document */
	EXPECT_ACT(p, T(0042, 0011), "OB", DD_ACT_DOCUMENT);
	EXPECT_ACT(p, T(0042, 0010), "ST", DD_ACT_CLEAN); /* DocumentTitle */
	/* TextValue inside a ContentSequence: dummy without the option */
	EXPECT(decide(p, T(0040, A160), "UT", NULL, 2, DD_DCTX_CONTENT) ==
	       DD_ACT_DUMMY);
	EXPECT(decide(p, T(0040, A160), "UT", NULL, 2, 0) == DD_ACT_KEEP);
	ut_policy_free(p);
}

static void test_options(void)
{
	struct dd_policy *p = ut_policy(DD_DICOM_PROFILE_BASIC, 0);

	p->dicom.ps315_options = DD_PS315_RETAIN_SAFE_PRIVATE;
	EXPECT(decide(p, T(0019, 100C), "IS", "SIEMENS MR HEADER", 0, 0) ==
	       DD_ACT_KEEP);
	EXPECT(decide(p, T(0019, 0010), "LO", "SIEMENS MR HEADER ", 0, 0) ==
	       DD_ACT_KEEP);
	EXPECT(decide(p, T(0019, 1010), "LO", "SIEMENS MR HEADER", 0, 0) ==
	       DD_ACT_DELETE);
	EXPECT(decide(p, T(0019, 100C), "IS", "OTHER", 0, 0) == DD_ACT_DELETE);

	p->dicom.ps315_options = DD_PS315_RETAIN_UIDS;
	EXPECT_ACT(p, T(0020, 0052), "UI", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0020, 000D), "UI", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 1140), "SQ", DD_ACT_RECURSE);
	EXPECT_ACT(p, T(0008, 1110), "SQ", DD_ACT_RECURSE);

	p->dicom.ps315_options = DD_PS315_RETAIN_DEVICE_ID;
	EXPECT_ACT(p, T(0018, 1000), "LO", DD_ACT_KEEP);  /* DeviceSerialNumber */
	EXPECT_ACT(p, T(0008, 0055), "AE", DD_ACT_CLEAN); /* StationAETitle C */
	EXPECT_ACT(p, T(0018, 700C), "DA", DD_ACT_KEEP);

	p->dicom.ps315_options = DD_PS315_RETAIN_INSTITUTION_ID;
	EXPECT_ACT(p, T(0008, 0080), "LO", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0082), "SQ", DD_ACT_RECURSE);

	p->dicom.ps315_options = DD_PS315_RETAIN_PATIENT_CHARS;
	EXPECT_ACT(p, T(0010, 0040), "CS", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0010, 1030), "DS", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0010, 1010), "AS", DD_ACT_AGE);
	EXPECT_ACT(p, T(0010, 2110), "LO", DD_ACT_CLEAN); /* Allergies C */

	p->dicom.ps315_options = DD_PS315_RETAIN_LONG_FULL_DATES;
	EXPECT_ACT(p, T(0008, 0022), "DA", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0032), "TM", DD_ACT_KEEP);

	p->dicom.ps315_options = DD_PS315_RETAIN_LONG_MODIFIED_DATES;
	EXPECT_ACT(p, T(0008, 0022), "DA", DD_ACT_SHIFT);
	EXPECT_ACT(p, T(0008, 002A), "DT", DD_ACT_SHIFT);
	EXPECT_ACT(p, T(0008, 0032), "TM", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0010, 0030), "DA", DD_ACT_EMPTY); /* no C: still Z */

	/* both date options: the keeping one wins (documented) */
	p->dicom.ps315_options = DD_PS315_RETAIN_LONG_MODIFIED_DATES |
				 DD_PS315_RETAIN_LONG_FULL_DATES;
	EXPECT_ACT(p, T(0008, 0022), "DA", DD_ACT_KEEP);

	p->dicom.ps315_options = DD_PS315_CLEAN_DESC;
	EXPECT_ACT(p, T(0008, 1030), "LO", DD_ACT_CLEAN);
	EXPECT_ACT(p, T(0008, 103E), "LO", DD_ACT_CLEAN);
	EXPECT_ACT(p, T(0018, 1030), "LO", DD_ACT_CLEAN); /* X/D + C */
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_EMPTY);

	p->dicom.ps315_options = 0;
	p->dicom.clean_descriptors = true; /* Google's option = the column */
	EXPECT_ACT(p, T(0008, 1030), "LO", DD_ACT_CLEAN);
	p->dicom.clean_descriptors = false;

	p->dicom.ps315_options = DD_PS315_CLEAN_STRUCT_CONT;
	EXPECT_ACT(p, T(0040, A730), "SQ", DD_ACT_RECURSE);
	EXPECT(decide(p, T(0040, A160), "UT", NULL, 2, DD_DCTX_CONTENT) ==
	       DD_ACT_CLEAN);

	p->dicom.ps315_options = DD_PS315_CLEAN_GRAPH;
	EXPECT_ACT(p, T(0070, 0001), "SQ", DD_ACT_RECURSE);
	EXPECT_ACT(p, T(6000, 3000), "OW", DD_ACT_DELETE); /* cannot clean yet */
	EXPECT_ACT(p, T(5000, 3000), "OW", DD_ACT_DELETE);
	ut_policy_free(p);
}

static void test_profiles(void)
{
	struct dd_policy *p;

	p = ut_policy(DD_DICOM_PROFILE_KEEP_ALL, 0);
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0009, 1001), "LO", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0018), "UI", DD_ACT_UID);
	EXPECT_ACT(p, T(0008, 1140), "SQ", DD_ACT_RECURSE);
	/* references follow the regenerated primary UIDs */
	EXPECT(decide(p, T(0008, 1155), "UI", NULL, 1, 0) == DD_ACT_UID);
	EXPECT_ACT(p, T(0004, 1511), "UI", DD_ACT_UID);
	EXPECT_ACT(p, T(0020, 0052), "UI", DD_ACT_KEEP); /* FrameOfReference */
	/* KEEP_ALL keeps overlays and curves */
	EXPECT_ACT(p, T(6000, 0022), "LO", DD_ACT_KEEP);
	EXPECT_ACT(p, T(6000, 3000), "OW", DD_ACT_KEEP);
	EXPECT_ACT(p, T(5000, 3000), "OW", DD_ACT_KEEP);
	p->dicom.primary_ids = DD_PRIMARY_IDS_KEEP;
	EXPECT_ACT(p, T(0008, 0018), "UI", DD_ACT_KEEP);
	EXPECT(decide(p, T(0008, 1155), "UI", NULL, 1, 0) == DD_ACT_KEEP);
	ut_policy_free(p);

	p = ut_policy(DD_DICOM_PROFILE_MINIMAL_KEEP_LIST, 0);
	EXPECT_ACT(p, T(0028, 0010), "US", DD_ACT_KEEP);
	EXPECT_ACT(p, T(7FE0, 0010), "OW", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0016), "UI", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0018), "UI", DD_ACT_UID);
	EXPECT_ACT(p, T(0010, 0020), "LO", DD_ACT_PATIENT_ID);
	EXPECT_ACT(p, T(0008, 0060), "CS", DD_ACT_DELETE);
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_DELETE);
	ut_policy_free(p);

	p = ut_policy(DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS, 0);
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_CLEAN);
	EXPECT_ACT(p, T(0008, 1030), "LO", DD_ACT_CLEAN);
	EXPECT_ACT(p, T(0010, 1010), "AS", DD_ACT_CLEAN);
	EXPECT_ACT(p, T(0008, 0020), "DA", DD_ACT_SHIFT);
	EXPECT_ACT(p, T(0008, 002A), "DT", DD_ACT_SHIFT);
	EXPECT_ACT(p, T(0008, 0030), "TM", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0060), "CS", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0010, 0020), "LO", DD_ACT_PATIENT_ID);
	EXPECT_ACT(p, T(0020, 000D), "UI", DD_ACT_UID);
	EXPECT_ACT(p, T(0020, 0052), "UI", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0009, 0010), "LO", DD_ACT_KEEP);  /* creator */
	EXPECT_ACT(p, T(0009, 1001), "UN", DD_ACT_DELETE); /* not inspectable */
	EXPECT_ACT(p, T(0009, 1002), "LO", DD_ACT_CLEAN);
	EXPECT_ACT(p, T(0021, 4321), "UN", DD_ACT_DELETE);
	ut_policy_free(p);

	/* v1 keepList: the keep set plus the list; all else deleted */
	p = ut_policy(DD_DICOM_PROFILE_KEEP_ALL, 0);
	p->dicom.filter = DD_DICOM_FILTER_KEEP_LIST;
	p->dicom.list_tags = calloc(2, sizeof(uint32_t));
	p->dicom.list_tags[0] = T(0008, 0060);
	p->dicom.list_tags[1] = T(0018, 0050);
	p->dicom.n_list_tags = 2;
	EXPECT_ACT(p, T(0008, 0060), "CS", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0018, 0050), "DS", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0028, 0011), "US", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0010, 0020), "LO", DD_ACT_PATIENT_ID);
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_DELETE);
	EXPECT_ACT(p, T(0020, 000D), "UI", DD_ACT_UID);
	ut_policy_free(p);

	/* v1 removeList: listed -> emptied; OverlayData always; keep set kept */
	p = ut_policy(DD_DICOM_PROFILE_KEEP_ALL, 0);
	p->dicom.filter = DD_DICOM_FILTER_REMOVE_LIST;
	p->dicom.list_tags = calloc(2, sizeof(uint32_t));
	p->dicom.list_tags[0] = T(0010, 0010);
	p->dicom.list_tags[1] = T(0028, 0010);
	p->dicom.n_list_tags = 2;
	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_EMPTY);
	EXPECT_ACT(p, T(0028, 0010), "US", DD_ACT_KEEP);
	EXPECT_ACT(p, T(6000, 3000), "OW", DD_ACT_DELETE);
	EXPECT_ACT(p, T(6000, 0022), "LO", DD_ACT_DELETE); /* whole group */
	EXPECT_ACT(p, T(0010, 0030), "DA", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0009, 1001), "LO", DD_ACT_KEEP);
	ut_policy_free(p);
}

static void test_actions(void)
{
	struct dd_policy *p = ut_policy(DD_DICOM_PROFILE_BASIC, 0);
	struct dd_dicom_action *a;

	p->dicom.tag_config = true;
	p->dicom.n_actions = 4;
	p->dicom.actions = a = calloc(4, sizeof(*a));
	/* 0: keep PatientName (by keyword = tag) */
	a[0].kind = DD_DACT_KEEP;
	a[0].n_queries = 1;
	a[0].queries = calloc(1, sizeof(*a[0].queries));
	a[0].queries[0].kind = DD_DQ_TAG;
	a[0].queries[0].tag = T(0010, 0010);
	/* 1: regenUid on "PN" does not apply to PN: skipped; "UI" applies */
	a[1].kind = DD_DACT_REGEN_UID;
	a[1].n_queries = 2;
	a[1].queries = calloc(2, sizeof(*a[1].queries));
	a[1].queries[0].kind = DD_DQ_VR;
	memcpy(a[1].queries[0].vr, "PN", 3);
	a[1].queries[1].kind = DD_DQ_VR;
	memcpy(a[1].queries[1].vr, "UI", 3);
	/* 2: delete every PN (PatientName was matched first by 0) */
	a[2].kind = DD_DACT_DELETE;
	a[2].n_queries = 1;
	a[2].queries = calloc(1, sizeof(*a[2].queries));
	a[2].queries[0].kind = DD_DQ_VR;
	memcpy(a[2].queries[0].vr, "PN", 3);
	/* 3: cleanText on dates and LO */
	a[3].kind = DD_DACT_CLEAN_TEXT;
	a[3].n_queries = 2;
	a[3].queries = calloc(2, sizeof(*a[3].queries));
	a[3].queries[0].kind = DD_DQ_VR;
	memcpy(a[3].queries[0].vr, "DA", 3);
	a[3].queries[1].kind = DD_DQ_TAG;
	a[3].queries[1].tag = T(0008, 0070);

	EXPECT_ACT(p, T(0010, 0010), "PN", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0008, 0090), "PN", DD_ACT_DELETE);
	EXPECT_ACT(p, T(0008, 0016), "UI", DD_ACT_UID); /* value rules guard it */
	EXPECT_ACT(p, T(0008, 0020), "DA", DD_ACT_SHIFT);
	EXPECT_ACT(p, T(0008, 0070), "LO", DD_ACT_CLEAN);
	/* unmatched: options, then the profile */
	EXPECT_ACT(p, T(0010, 0040), "CS", DD_ACT_EMPTY);
	p->dicom.ps315_options = DD_PS315_RETAIN_PATIENT_CHARS;
	EXPECT_ACT(p, T(0010, 0040), "CS", DD_ACT_KEEP);
	ut_policy_free(p);

	/* v1beta1 defaults: BASIC profile, primaryIds KEEP */
	p = ut_policy(DD_DICOM_PROFILE_BASIC, 0);
	p->dicom.tag_config = true;
	p->dicom.primary_ids = DD_PRIMARY_IDS_KEEP;
	EXPECT_ACT(p, T(0008, 0018), "UI", DD_ACT_KEEP);
	EXPECT_ACT(p, T(0020, 0052), "UI", DD_ACT_UID);
	ut_policy_free(p);
}

static void test_helpers(void)
{
	char age[5];
	struct dd_buf b;
	size_t n;

	EXPECT(dd_dicom_uid_tag_never_mapped(T(0008, 0016)));
	EXPECT(dd_dicom_uid_tag_never_mapped(T(0008, 1150)));
	EXPECT(dd_dicom_uid_tag_never_mapped(T(0002, 0010)));
	EXPECT(dd_dicom_uid_tag_never_mapped(T(0008, 010C)));
	EXPECT(!dd_dicom_uid_tag_never_mapped(T(0008, 1155)));
	EXPECT(dd_dicom_in_keep_set(T(7FE0, 0010)));
	EXPECT(!dd_dicom_in_keep_set(T(0010, 0010)));
	EXPECT(dd_dicom_vr_is_text("PN") && dd_dicom_vr_is_text("AS") &&
	       !dd_dicom_vr_is_text("CS") && !dd_dicom_vr_is_text("UI"));

	EXPECT_EQ_INT(dd_dicom_age_cap("045Y", 4, 89, age), DD_OK);
	EXPECT_EQ_STR(age, "045Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("089Y", 4, 89, age), DD_OK);
	EXPECT_EQ_STR(age, "089Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("090Y", 4, 89, age), DD_OK);
	EXPECT_EQ_STR(age, "090Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("102Y", 4, 89, age), DD_OK);
	EXPECT_EQ_STR(age, "090Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("999M", 4, 89, age), DD_OK);
	EXPECT_EQ_STR(age, "999M");
	EXPECT_EQ_INT(dd_dicom_age_cap("003W", 4, 89, age), DD_OK);
	EXPECT_EQ_STR(age, "003W");
	EXPECT_EQ_INT(dd_dicom_age_cap("45Y ", 4, 89, age), DD_E_PARSE);
	EXPECT_EQ_INT(dd_dicom_age_cap("045X", 4, 89, age), DD_E_PARSE);
	/* deidfs.maxAge other than 89: the category is maxAge + 1 years,
	 * whatever the unit of the value */
	EXPECT_EQ_INT(dd_dicom_age_cap("010Y", 4, 10, age), DD_OK);
	EXPECT_EQ_STR(age, "010Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("130M", 4, 10, age), DD_OK);
	EXPECT_EQ_STR(age, "130M");
	EXPECT_EQ_INT(dd_dicom_age_cap("132M", 4, 10, age), DD_OK);
	EXPECT_EQ_STR(age, "011Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("999W", 4, 10, age), DD_OK);
	EXPECT_EQ_STR(age, "011Y");
	EXPECT_EQ_INT(dd_dicom_age_cap("999D", 4, 2, age), DD_OK);
	EXPECT_EQ_STR(age, "999D");
	EXPECT_EQ_INT(dd_dicom_age_cap("999D", 4, 1, age), DD_OK);
	EXPECT_EQ_STR(age, "002Y");

	EXPECT_EQ_STR(dd_dicom_dummy("PN"), "ANONYMOUS");
	EXPECT_EQ_STR(dd_dicom_dummy("DA"), "19000101");
	EXPECT_EQ_STR(dd_dicom_dummy("LO"), "REMOVED");
	EXPECT(dd_dicom_dummy("UI") == NULL && dd_dicom_dummy("OB") == NULL);
	EXPECT_EQ_INT(dd_dicom_vr_max_len("SH"), 16);

	dd_buf_init(&b, 1024);
	EXPECT_EQ_INT(dd_dicom_encode_charset("ISO_IR 100", "M\xc3\xbcller", 7, &b),
		      DD_OK);
	EXPECT(b.len == 6 && memcmp(b.data, "M\xfcller", 6) == 0);
	dd_buf_reset(&b);
	EXPECT_EQ_INT(dd_dicom_encode_charset("ISO_IR 192", "M\xc3\xbc", 3, &b),
		      DD_OK);
	EXPECT_EQ_INT(b.len, 3);
	dd_buf_reset(&b);
	EXPECT_EQ_INT(dd_dicom_encode_charset("\\ISO 2022 IR 87", "\xe5\xb1\xb1", 3, &b),
		      DD_E_UNSUPPORTED);
	EXPECT_EQ_INT(dd_dicom_encode_charset("", "\xc3\xbc", 2, &b),
		      DD_E_UNSUPPORTED);
	EXPECT_EQ_INT(dd_dicom_encode_charset("ISO_IR 100", "\xe5\xb1\xb1", 3, &b),
		      DD_E_UNSUPPORTED); /* not representable */
	dd_buf_reset(&b);
	EXPECT_EQ_INT(dd_dicom_encode_charset(NULL, "plain", 5, &b), DD_OK);
	dd_buf_free(&b);

	EXPECT(dd_dicom_dummy_document("application/pdf", &n) != NULL && n > 100);
	EXPECT(memcmp(dd_dicom_dummy_document(NULL, &n), "%PDF-", 5) == 0);
	EXPECT(dd_dicom_sop_is_photographic("1.2.840.10008.5.1.4.1.1.77.1.4"));
	EXPECT(!dd_dicom_sop_is_photographic("1.2.840.10008.5.1.4.1.1.2"));
}

int main(void)
{
	test_table();
	test_resolve();
	test_basic();
	test_options();
	test_profiles();
	test_actions();
	test_helpers();
	return dd_test_done("unit_dicom_rules");
}
