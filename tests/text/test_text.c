/* test_text.c: unit tests of dd_text: negatives (no span at all), the
 * TextConfig transformations with exact outputs, excludeInfoTypes and
 * profile precedence, date shifts in their own format, and contextual
 * values in their spellings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/dd_test.h"
#include "dd_text.h"

/* ---- helpers ---------------------------------------------------------------- */

static char *clean(const struct dd_policy_text *cfg, const struct dd_pseudo *ps,
		   struct dd_text_ctx *c, unsigned flags, const char *in)
{
	struct dd_text *t = NULL;
	struct dd_buf out;
	char *r;

	dd_buf_init(&out, 1 << 20);
	if (dd_text_new(cfg, ps, &t) || dd_text_clean(t, c, in, strlen(in), flags, &out)) {
		dd_text_free(t);
		return strdup("(error)");
	}
	r = strdup(out.data ? (char *)out.data : "");
	dd_buf_free(&out);
	dd_text_free(t);
	return r;
}

#define EXPECT_CLEAN(cfg, ps, c, flags, in, want)                             \
	do {                                                                  \
		char *got_ = clean(cfg, ps, c, flags, in);                    \
		EXPECT_EQ_STR(got_, want);                                    \
		free(got_);                                                   \
	} while (0)

static char n_person[] = "PERSON_NAME", n_phone[] = "PHONE_NUMBER", n_date[] = "DATE";
static char *names_person[] = { n_person };
static char *names_phone[] = { n_phone };
static char *names_date[] = { n_date };

static struct dd_text_transform tx(enum dd_text_tx_kind kind, char **types, size_t n)
{
	struct dd_text_transform t;

	memset(&t, 0, sizeof(t));
	t.kind = kind;
	t.info_types.v = types;
	t.info_types.n = n;
	return t;
}

/* ---- negatives ---------------------------------------------------------------- */

static const char *const negatives[] = {
	"History of Parkinson disease.",
	"Parkinson's disease, stable on carbidopa.",
	"Addison's disease on hydrocortisone.",
	"Hodgkin lymphoma in remission.",
	"Wilson disease was excluded.",
	"Crohn's disease with ileal involvement.",
	"Alzheimer dementia, moderate.",
	"Graves disease treated with methimazole.",
	"Cushing syndrome ruled out.",
	"Bell's palsy on the right.",
	"Down syndrome.",
	"Hashimoto thyroiditis.",
	"Raynaud phenomenon.",
	"Babinski sign negative, Romberg negative.",
	"Foley catheter in place.",
	"Glasgow Coma Scale 15.",
	"Doppler ultrasound negative for DVT.",
	"Murphy sign negative.",
	"Metoprolol 5 mg IV x1.",
	"Aspirin 81 mg daily.",
	"WBC 2 x 10^9/L.",
	"Platelets 150 x 10^3/uL.",
	"LOINC 2345-7",
	"LOINC 8480-6 and 8462-4.",
	"ICD-10 E11.9, I10, N18.3.",
	"BP 120/80, HR 72, RR 16, SpO2 98%.",
	"Temperature 37.2 C.",
	"L",
	"ABD soft.",
	"5 cm mass.",
	"TIS 0.4",
	"MI 1.2, TIS 0.4, 5 MHz probe.",
	"Lasix 40 mg PO daily.",
	"Tylenol 650 mg q6h PRN.",
	"Zofran 4 mg IV.",
	"Chest X-ray PA and lateral.",
	"CT abdomen and pelvis with contrast.",
	"Left ventricle normal in size.",
	"Right upper quadrant tenderness.",
	"Insulin 10 units.",
	"HISTORY OF PRESENT ILLNESS:",
	"IMPRESSION: No acute cardiopulmonary process.",
	"Pain 3/10.",
	"EF 55-60%.",
	"Hemoglobin A1c 7.8%.",
	"Version 1.2.3 of the protocol.",
	"The patient is a 45-year-old man.",
	"Patient is alert and oriented.",
	"Heart regular rate and rhythm.",
	"Gleason score 3+4=7.",
	"Dose 2.5 mg/kg.",
	"Take 1/2 tablet.",
	"May continue current medications.",
	"Follow up in 3 months.",
};

static void test_negatives(void)
{
	struct dd_text *t = NULL;

	EXPECT(dd_text_new(NULL, NULL, &t) == DD_OK);
	for (size_t i = 0; i < sizeof(negatives) / sizeof(negatives[0]); i++) {
		struct dd_text_span *sp = NULL;
		size_t ns = 99;

		EXPECT(dd_text_find(t, NULL, negatives[i], strlen(negatives[i]), &sp, &ns) == DD_OK);
		if (ns)
			fprintf(stderr, "negative fired: \"%s\": %s \"%.*s\"\n", negatives[i],
				dd_info_type_name(sp[0].type), (int)(sp[0].end - sp[0].start),
				negatives[i] + sp[0].start);
		EXPECT_EQ_INT(ns, 0);
		free(sp);
	}
	dd_text_free(t);
}

/* ---- transformations ------------------------------------------------------------- */

static void test_basic_profile(void)
{
	struct dd_text_ctx *c = NULL;

	dd_text_ctx_new(&c);
	/* no shift known: BASIC's dateShift removes the date */
	EXPECT_CLEAN(NULL, NULL, c, 0, "Seen by Dr. John Smith on 2019-03-04.",
		     "Seen by Dr. [PERSON_NAME] on .");
	dd_text_ctx_set_shift(c, -10);
	EXPECT_CLEAN(NULL, NULL, c, 0, "Seen by Dr. John Smith on 2019-03-04.",
		     "Seen by Dr. [PERSON_NAME] on 2019-02-22.");
	EXPECT_CLEAN(NULL, NULL, c, 0, "Call (617) 555-0123 or mail jo@example.com",
		     "Call [PHONE_NUMBER] or mail [EMAIL_ADDRESS]");
	EXPECT_CLEAN(NULL, NULL, c, 0, "MRN: 12345678, SSN 123-45-6789.",
		     "MRN: [MEDICAL_RECORD_NUMBER], SSN [US_SOCIAL_SECURITY_NUMBER].");
	EXPECT_CLEAN(NULL, NULL, c, 0, "A 92-year-old man.", "A [AGE]-year-old man.");
	dd_text_ctx_free(c);
}

static void test_date_formats(void)
{
	static const char *const io[][2] = {
		{ "on 2019-03-04.", "on 2019-02-22." },
		{ "on 03/04/2019.", "on 02/22/2019." },
		{ "on 3/4/19.", "on 2/22/19." },
		{ "on March 4, 2019.", "on February 22, 2019." },
		{ "on Mar. 4, 2019.", "on Feb. 22, 2019." },
		{ "on 4 Mar 2019.", "on 22 Feb 2019." },
		{ "on 04-MAR-2019.", "on 22-FEB-2019." },
		{ "on 4th of March, 2019.", "on 22nd of February, 2019." },
		{ "on March 4th.", "on February 22nd." },
		{ "on 20190304.", "on 20190222." },
		{ "in March 2019.", "in February 2019." },
		{ "on 04.03.2019.", "on 22.02.2019." },
		{ "DOB 3/4.", "DOB 2/22." },
	};
	struct dd_text_ctx *c = NULL;

	dd_text_ctx_new(&c);
	dd_text_ctx_set_shift(c, -10);
	for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++)
		EXPECT_CLEAN(NULL, NULL, c, 0, io[i][0], io[i][1]);
	dd_text_ctx_free(c);
}

static void test_kinds(void)
{
	struct dd_text_transform v[3];
	struct dd_policy_text cfg = { .present = true, .profile = DD_TEXT_PROFILE_EMPTY,
				      .transforms = v };
	struct dd_pseudo ps, own;
	uint8_t key[32], key2[16];
	char h[45], want[256];
	struct dd_text_ctx *c = NULL;

	memset(key, 7, sizeof(key));
	memset(key2, 9, sizeof(key2));
	dd_pseudo_init(&ps, key, sizeof(key));
	dd_pseudo_init(&own, key2, sizeof(key2));
	dd_text_ctx_new(&c);
	dd_text_ctx_set_shift(c, 30);

	/* redact (Google's example) */
	v[0] = tx(DD_TX_REDACT, NULL, 0);
	cfg.n_transforms = 1;
	EXPECT_CLEAN(&cfg, &ps, c, 0, "My name is Jane.", "My name is .");

	/* characterMask: one mask per code point, default "*" */
	v[0] = tx(DD_TX_CHARACTER_MASK, names_person, 1);
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Dr. José Müller", "Dr. ***********");
	strcpy(v[0].mask_char, "\xe2\x80\xa2"); /* U+2022 */
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Dr. Zoë Li", "Dr. \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
		     "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2");
	/* only PERSON_NAME is named and the profile is EMPTY: the phone stays */
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Call 617-555-0123", "Call 617-555-0123");

	/* cryptoHash with the policy key, then with the transform's own key */
	v[0] = tx(DD_TX_CRYPTO_HASH, names_phone, 1);
	dd_pseudo_hash_b64(&ps, "617-555-0123", 12, h);
	snprintf(want, sizeof(want), "Call %s now", h);
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Call 617-555-0123 now", want);
	EXPECT_EQ_INT(strlen(h), 44);
	v[0].key.present = true;
	memcpy(v[0].key.bytes, key2, sizeof(key2));
	v[0].key.len = sizeof(key2);
	dd_pseudo_hash_b64(&own, "617-555-0123", 12, h);
	snprintf(want, sizeof(want), "Call %s now", h);
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Call 617-555-0123 now", want);

	/* dateShift keeps the format; on a non-date it replaces */
	v[0] = tx(DD_TX_DATE_SHIFT, NULL, 0);
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Seen Jan 31, 2020 by Dr. Smith",
		     "Seen Mar 1, 2020 by Dr. [PERSON_NAME]");

	/* replaceWithInfoType */
	v[0] = tx(DD_TX_REPLACE_WITH_INFO_TYPE, names_date, 1);
	EXPECT_CLEAN(&cfg, &ps, c, 0, "Seen 2020-01-31 by Dr. Smith",
		     "Seen [DATE] by Dr. Smith");

	dd_text_ctx_free(c);
	dd_pseudo_clear(&ps);
	dd_pseudo_clear(&own);
}

static void test_precedence(void)
{
	struct dd_text_transform v[3];
	char *excl[] = { n_person };
	struct dd_policy_text cfg = { .present = true, .profile = DD_TEXT_PROFILE_BASIC,
				      .transforms = v };
	struct dd_text_ctx *c = NULL;
	const char *in = "Dr. John Smith, 617-555-0123, 2019-03-04";

	dd_text_ctx_new(&c);
	dd_text_ctx_set_shift(c, 1);

	/* a specific entry beats the default entry, in either order */
	v[0] = tx(DD_TX_REDACT, NULL, 0);
	v[1] = tx(DD_TX_CHARACTER_MASK, names_phone, 1);
	cfg.n_transforms = 2;
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, "Dr. , ************, ");
	v[0] = tx(DD_TX_CHARACTER_MASK, names_phone, 1);
	v[1] = tx(DD_TX_REDACT, NULL, 0);
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, "Dr. , ************, ");

	/* no default entry: BASIC covers the types no entry names */
	cfg.n_transforms = 1;
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, "Dr. [PERSON_NAME], ************, 2019-03-05");

	/* EMPTY profile: only what an entry names */
	cfg.profile = DD_TEXT_PROFILE_EMPTY;
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, "Dr. John Smith, ************, 2019-03-04");
	cfg.n_transforms = 0;
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, in);

	/* excludeInfoTypes beats the profile and the entries */
	cfg.profile = DD_TEXT_PROFILE_BASIC;
	v[0] = tx(DD_TX_REDACT, NULL, 0);
	cfg.n_transforms = 1;
	cfg.exclude_info_types.v = excl;
	cfg.exclude_info_types.n = 1;
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, "Dr. John Smith, , ");
	cfg.n_transforms = 0;
	EXPECT_CLEAN(&cfg, NULL, c, 0, in, "Dr. John Smith, [PHONE_NUMBER], 2019-03-05");

	/* [CTX]: a contextual value goes even when its type is excluded */
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "SMITH^JOHN", 10);
	EXPECT_CLEAN(&cfg, NULL, c, DD_TEXT_CTX_TOKEN, in,
		     "Dr. [CTX], [PHONE_NUMBER], 2019-03-05");
	EXPECT(!dd_text_type_transformed(NULL, DD_IT_DATE));
	dd_text_ctx_free(c);
}

/* ---- contextual spellings --------------------------------------------------------- */

/* Is there a contextual span covering exactly @want in @text? */
static bool ctx_finds(struct dd_text_ctx *c, const char *text, const char *want)
{
	struct dd_text *t = NULL;
	struct dd_text_span *sp = NULL;
	size_t ns = 0;
	const char *at = strstr(text, want);
	bool ok = false;

	if (!at || dd_text_new(NULL, NULL, &t) ||
	    dd_text_find(t, c, text, strlen(text), &sp, &ns))
		goto out;
	for (size_t i = 0; i < ns; i++)
		if (sp[i].contextual && sp[i].start <= (size_t)(at - text) &&
		    sp[i].end >= (size_t)(at - text) + strlen(want))
			ok = true;
out:
	if (!ok)
		fprintf(stderr, "context not found: \"%s\" in \"%s\"\n", want, text);
	free(sp);
	dd_text_free(t);
	return ok;
}

static void test_context(void)
{
	struct dd_text_ctx *c = NULL;

	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "QUIXLEY^JOHANNA^P", 17);
	EXPECT(ctx_finds(c, "the patient Johanna Quixley came", "Johanna Quixley"));
	EXPECT(ctx_finds(c, "QUIXLEY, Johanna came", "QUIXLEY, Johanna"));
	EXPECT(ctx_finds(c, "seen: J. Quixley today", "J. Quixley"));
	EXPECT(ctx_finds(c, "seen: Quixley J. today", "Quixley J."));
	EXPECT(ctx_finds(c, "quixley was here", "quixley"));
	dd_text_ctx_free(c);

	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "M\xc3\x9cLLER^Hans", 11);
	EXPECT(ctx_finds(c, "seen by Muller", "Muller"));
	EXPECT(ctx_finds(c, "seen by MUELLER", "MUELLER"));
	EXPECT(ctx_finds(c, "seen by m\xc3\xbcller", "m\xc3\xbcller"));
	dd_text_ctx_free(c);

	/* a name written without spaces: 山田^太郎 found glued and apart,
	 * and a lone character is not a name */
	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "山田^太郎", strlen("山田^太郎"));
	EXPECT(ctx_finds(c, "CT 山田太郎 head", "山田太郎"));
	EXPECT(ctx_finds(c, "CT 太郎山田", "太郎山田"));
	EXPECT(ctx_finds(c, "患者 山田 様", "山田"));
	EXPECT(!ctx_finds(c, "山 river", "山"));
	dd_text_ctx_free(c);

	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "STRAU\xc3\x9f^Eva", 11);
	EXPECT(ctx_finds(c, "note by Strauss", "Strauss"));
	dd_text_ctx_free(c);

	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "O'BRIEN^Pat", 11);
	EXPECT(ctx_finds(c, "see OBrien", "OBrien"));
	EXPECT(ctx_finds(c, "see O Brien", "O Brien"));
	EXPECT(ctx_finds(c, "see O\xe2\x80\x99" "Brien", "O\xe2\x80\x99" "Brien"));
	dd_text_ctx_free(c);

	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "SMITH-JONES^Ann", 15);
	EXPECT(ctx_finds(c, "see Smith Jones", "Smith Jones"));
	EXPECT(ctx_finds(c, "see Smith-Jones", "Smith-Jones"));
	EXPECT(ctx_finds(c, "see SmithJones", "SmithJones"));
	dd_text_ctx_free(c);

	/* a name that is also a word: only capitalised */
	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_PERSON_NAME, "BROWN^Ann", 9);
	EXPECT(ctx_finds(c, "Mrs Brown called", "Brown"));
	{
		struct dd_text *t = NULL;
		struct dd_text_span *sp = NULL;
		size_t ns = 0;
		const char *s = "brown stool noted";

		dd_text_new(NULL, NULL, &t);
		EXPECT(dd_text_find(t, c, s, strlen(s), &sp, &ns) == DD_OK);
		EXPECT_EQ_INT(ns, 0);
		free(sp);
		dd_text_free(t);
	}
	dd_text_ctx_free(c);

	/* identifiers with or without separators */
	dd_text_ctx_new(&c);
	dd_text_ctx_add(c, DD_IT_MEDICAL_RECORD_NUMBER, "12345678", 8);
	EXPECT(ctx_finds(c, "record 12345678 here", "12345678"));
	EXPECT(ctx_finds(c, "record 1234-5678 here", "1234-5678"));
	EXPECT(ctx_finds(c, "record 12 345 678 here", "12 345 678"));
	EXPECT(ctx_finds(c, "record 12.34.56.78 here", "12.34.56.78"));
	/* dates of the record in any format */
	dd_text_ctx_add(c, DD_IT_DATE, "20190304", 8);
	EXPECT(ctx_finds(c, "born March 4, 2019 at home", "March 4, 2019"));
	EXPECT(ctx_finds(c, "born 03/04/2019 at home", "03/04/2019"));
	/* addresses */
	dd_text_ctx_add(c, DD_IT_STREET_ADDRESS, "12 Quarry Street", 16);
	EXPECT(ctx_finds(c, "lives at 12 Quarry St. now", "12 Quarry St"));
	dd_text_ctx_free(c);
}

int main(void)
{
	test_negatives();
	test_basic_profile();
	test_date_formats();
	test_kinds();
	test_precedence();
	test_context();
	return dd_test_done("test_text");
}
