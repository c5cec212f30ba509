/* test_pseudo.c: keyed pseudonyms, date shifts and date arithmetic. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../unit/dd_test.h"
#include "dd_pseudo.h"

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				  14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
				  25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_b[32] = {32, 31, 30};

static bool is_uid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			/* no leading zero in a multi-digit component */
			if (s[i + 1] == '0' && isdigit((unsigned char)s[i + 2]))
				return false;
			continue;
		}
		if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static void test_uid(void)
{
	struct dd_pseudo a, b;
	char u1[65], u2[65], u3[65], u4[65];
	const char *src = "1.2.826.0.1.3680043.8.498.123456789";

	EXPECT_EQ_INT(dd_pseudo_init(&a, key_a, 32), DD_OK);
	EXPECT_EQ_INT(dd_pseudo_init(&b, key_b, 32), DD_OK);
	dd_pseudo_uid(&a, src, strlen(src), u1);
	dd_pseudo_uid(&a, src, strlen(src), u2);
	dd_pseudo_uid(&b, src, strlen(src), u3);
	dd_pseudo_uid(&a, "1.2.3", 5, u4);
	EXPECT_EQ_STR(u1, u2);                 /* deterministic */
	EXPECT(strcmp(u1, u3) != 0);           /* keyed */
	EXPECT(strcmp(u1, u4) != 0);           /* value-dependent */
	EXPECT(strncmp(u1, "2.25.", 5) == 0);
	EXPECT(is_uid(u1));
	EXPECT(strlen(u1) <= 44);
	EXPECT(strlen(u1) >= 5 + 30); /* 128 bits: ~39 digits, rarely fewer */
	/* domain separation: the same text as a patient id differs */
	{
		char id[17];

		dd_pseudo_ident(&a, DD_DOM_UID, src, strlen(src), 16, id);
		EXPECT_EQ_INT(strlen(id), 16);
	}
}

static void test_ident(void)
{
	struct dd_pseudo a;
	char p1[65], p2[65], p3[65], w64[65];

	dd_pseudo_init(&a, key_a, 16);
	dd_pseudo_ident(&a, DD_DOM_PATIENT, "MRN123", 6, 12, p1);
	dd_pseudo_ident(&a, DD_DOM_ACCESSION, "MRN123", 6, 12, p2);
	dd_pseudo_ident(&a, DD_DOM_PATIENT, "MRN124", 6, 12, p3);
	EXPECT_EQ_INT(strlen(p1), 12);
	EXPECT(strcmp(p1, p2) != 0); /* domains separate */
	EXPECT(strcmp(p1, p3) != 0);
	for (const char *c = p1; *c; c++)
		EXPECT(isdigit((unsigned char)*c) || isupper((unsigned char)*c));
	dd_pseudo_ident(&a, DD_DOM_PATIENT, "MRN123", 6, 64, w64);
	EXPECT_EQ_INT(strlen(w64), 64);
	EXPECT(strncmp(w64, p1, 12) == 0); /* prefix-stable */
	/* chars past 32 come from an extended stream, not a repeat */
	EXPECT(strncmp(w64, w64 + 32, 32) != 0);
	EXPECT_EQ_INT(dd_pseudo_init(&a, key_a, 20), DD_E_KEY);
}

static void test_fhir_and_hash(void)
{
	struct dd_pseudo a;
	char f1[33], f2[33], h[45];

	dd_pseudo_init(&a, key_a, 32);
	dd_pseudo_fhir_id(&a, "Patient", "example", f1);
	dd_pseudo_fhir_id(&a, "Observation", "example", f2);
	EXPECT_EQ_INT(strlen(f1), 32);
	EXPECT(strcmp(f1, f2) != 0);
	for (const char *c = f1; *c; c++)
		EXPECT(isxdigit((unsigned char)*c) && !isupper((unsigned char)*c));
	dd_pseudo_hash_b64(&a, "John Smith", 10, h);
	EXPECT_EQ_INT(strlen(h), 44);
	EXPECT(h[43] == '=');
}

static void test_shift_days(void)
{
	struct dd_pseudo a;
	int d, seen_neg = 0, seen_pos = 0;
	char pk[32];

	dd_pseudo_init(&a, key_a, 32);
	for (int i = 0; i < 2000; i++) {
		int n = snprintf(pk, sizeof(pk), "patient-%d", i);

		EXPECT_EQ_INT(dd_pseudo_shift_days(&a, pk, (size_t)n, -365, -1, &d),
			      DD_OK);
		EXPECT(d >= -365 && d <= -1);
		EXPECT_EQ_INT(dd_pseudo_shift_days(&a, pk, (size_t)n, -3, 3, &d),
			      DD_OK);
		EXPECT(d != 0 && d >= -3 && d <= 3);
		seen_neg += d < 0;
		seen_pos += d > 0;
	}
	EXPECT(seen_neg > 500 && seen_pos > 500);
	/* the range {0, 1} can only give 1 */
	EXPECT_EQ_INT(dd_pseudo_shift_days(&a, "x", 1, 0, 1, &d), DD_OK);
	EXPECT_EQ_INT(d, 1);
	EXPECT_EQ_INT(dd_pseudo_shift_days(&a, "x", 1, 0, 0, &d), DD_E_RANGE);
	EXPECT_EQ_INT(dd_pseudo_shift_days(&a, "x", 1, 5, 1, &d), DD_E_RANGE);
	/* same patient, same shift */
	{
		int d1, d2;

		dd_pseudo_shift_days(&a, "P1", 2, -365, -1, &d1);
		dd_pseudo_shift_days(&a, "P1", 2, -365, -1, &d2);
		EXPECT_EQ_INT(d1, d2);
	}
}

static void test_dates(void)
{
	static const struct {
		const char *in;
		int days;
		const char *da; /* NULL: parse error expected */
	} da[] = {
		{"20190304", -10, "20190222"},
		{"20200301", -1, "20200229"},  /* leap day */
		{"20190101", -1, "20181231"},
		{"201903", -40, "201901"},     /* 2019-03-01 - 40 = 2019-01-20 */
		{"2019", -1, "2018"},          /* 2019-01-01 - 1 */
		{"2019", -100, "2018"},
		{"1999.12.31", 1, "2000.01.01"},
		{"20190304-20190310", -3, "20190301-20190307"},
		{"-20190310", -3, "-20190307"},
		{"20190304 ", -1, "20190303"}, /* DICOM space padding */
		{"20191304", -1, NULL},        /* month 13 */
		{"20190230", -1, NULL},        /* Feb 30 */
		{"2019030", -1, NULL},
		{"abcd", -1, NULL},
		{"", -1, NULL},
		{"-", -1, NULL},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(da) / sizeof(da[0]); i++) {
		dd_err e = dd_date_shift_da(da[i].in, da[i].days, out, sizeof(out));

		if (da[i].da) {
			EXPECT_EQ_INT(e, DD_OK);
			EXPECT_EQ_STR(out, da[i].da);
		} else {
			EXPECT(e != DD_OK);
		}
	}
	EXPECT_EQ_INT(dd_date_shift_dt("20190304121530.123456+0100", -4, out,
				       sizeof(out)), DD_OK);
	EXPECT_EQ_STR(out, "20190228121530.123456+0100");
	EXPECT_EQ_INT(dd_date_shift_dt("2019", -1, out, sizeof(out)), DD_OK);
	EXPECT_EQ_STR(out, "2018");
	EXPECT_EQ_INT(dd_date_shift_dt("20190304T1200", -1, out, sizeof(out)),
		      DD_E_PARSE);
	EXPECT_EQ_INT(dd_date_shift_fhir("2019-03-04", -4, out, sizeof(out)),
		      DD_OK);
	EXPECT_EQ_STR(out, "2019-02-28");
	EXPECT_EQ_INT(dd_date_shift_fhir("2019-03-04T10:20:30.5+02:00", 30, out,
					 sizeof(out)), DD_OK);
	EXPECT_EQ_STR(out, "2019-04-03T10:20:30.5+02:00");
	EXPECT_EQ_INT(dd_date_shift_fhir("2019-03", -1, out, sizeof(out)), DD_OK);
	EXPECT_EQ_STR(out, "2019-02");
	EXPECT_EQ_INT(dd_date_shift_fhir("2019", 365, out, sizeof(out)), DD_OK);
	EXPECT_EQ_STR(out, "2020");
	EXPECT_EQ_INT(dd_date_shift_fhir("2019-3-4", 1, out, sizeof(out)),
		      DD_E_PARSE);
	EXPECT_EQ_INT(dd_date_shift_fhir("2019-03-04X", 1, out, sizeof(out)),
		      DD_E_PARSE);
	/* the FHIR shifter formats by hand: it must agree with the DICOM DA
	 * shifter (snprintf) on every precision, keep the time part, and
	 * need exactly strlen + 1 bytes */
	for (int i = 0; i < 4000; i++) {
		static const int dd[] = {-365, -200, -31, -1, 0, 1, 59, 366};
		char fin[40], da[16], fout[40], dout[16];
		unsigned y = 1 + (unsigned)i * 7919u % 9998u;
		unsigned m = 1 + (unsigned)i % 12u, d = 1 + (unsigned)i % 28u;
		int days = dd[i % 8];

		snprintf(da, sizeof(da), "%04u%02u%02u", y, m, d);
		if (dd_date_shift_da(da, days, dout, sizeof(dout)) != DD_OK)
			continue; /* outside 0000-9999 */
		snprintf(fin, sizeof(fin), "%04u-%02u-%02uT09:10:11Z", y, m, d);
		EXPECT_EQ_INT(dd_date_shift_fhir(fin, days, fout, strlen(fin) + 1),
			      DD_OK);
		EXPECT(!memcmp(fout, dout, 4) && fout[4] == '-' &&
		       !memcmp(fout + 5, dout + 4, 2) && fout[7] == '-' &&
		       !memcmp(fout + 8, dout + 6, 2) &&
		       !strcmp(fout + 10, "T09:10:11Z"));
		EXPECT_EQ_INT(dd_date_shift_fhir(fin, days, fout, strlen(fin)),
			      DD_E_RANGE);
		snprintf(fin, sizeof(fin), "%04u-%02u", y, m);
		snprintf(da, sizeof(da), "%04u%02u", y, m);
		if (dd_date_shift_da(da, days, dout, sizeof(dout)) == DD_OK &&
		    dd_date_shift_fhir(fin, days, fout, 8) == DD_OK)
			EXPECT(strlen(fout) == 7 && !memcmp(fout, dout, 4) &&
			       fout[4] == '-' && !memcmp(fout + 5, dout + 4, 3));
		snprintf(fin, sizeof(fin), "%04u", y);
		if (dd_date_shift_da(fin, days, dout, sizeof(dout)) == DD_OK) {
			EXPECT_EQ_INT(dd_date_shift_fhir(fin, days, fout, 5), DD_OK);
			EXPECT_EQ_STR(fout, dout);
		}
	}
	/* round trip of the civil day count over four centuries */
	for (int64_t z = -146097; z < 146097 * 2; z += 17) {
		int64_t y;
		unsigned m, d;

		dd_civil_from_days(z, &y, &m, &d);
		if (dd_days_from_civil(y, m, d) != z) {
			EXPECT(0);
			break;
		}
	}
	EXPECT_EQ_INT(dd_days_from_civil(1970, 1, 1), 0);
	EXPECT_EQ_INT(dd_days_from_civil(2000, 3, 1), 11017);
}

static void test_patient_key(void)
{
	struct dd_pseudo a;
	char k1[64], k2[64], k3[64], p1[17], p2[17];

	dd_pseudo_init(&a, key_a, 32);
	/* DICOM (issuer "HOSP", padded) and FHIR (a system URI) link */
	EXPECT_EQ_INT(dd_patient_key("HOSP", "12345678 ", k1, sizeof(k1)), 11);
	dd_patient_key("urn:oid:1.2.36.146.595.217.0.1", " 12345678", k2,
		       sizeof(k2));
	EXPECT_EQ_STR(k1, k2);
	EXPECT_EQ_STR(k1, "id:12345678");
	dd_patient_key_study("1.2.3.4", k3, sizeof(k3));
	EXPECT_EQ_STR(k3, "study:1.2.3.4");
	dd_pseudo_patient_id(&a, k1, p1);
	dd_pseudo_patient_id(&a, k2, p2);
	EXPECT_EQ_STR(p1, p2);
	EXPECT_EQ_INT(strlen(p1), 16);
	/* truncation is bounded */
	EXPECT_EQ_INT(dd_patient_key(NULL, "123456789", k3, 6), 5);
	EXPECT_EQ_STR(k3, "id:12");
}

/* the precomputed-state HMAC equals OpenSSL's HMAC() over
 * (domain tag || 0 || value), for every key size and many lengths */
static void test_mac_reference(void)
{
	static const size_t klens[] = {16, 24, 32};
	uint8_t key[32], val[300], buf[320], mac[32], ref[32];
	unsigned int rl = 32;
	struct dd_pseudo p;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 37 + 11);
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 13 + 5);
	for (size_t k = 0; k < 3; k++) {
		EXPECT_EQ_INT(dd_pseudo_init(&p, key, klens[k]), DD_OK);
		for (size_t n = 0; n < sizeof(val); n += 7) {
			/* "uid" is DD_DOM_UID's tag */
			memcpy(buf, "uid", 3);
			buf[3] = 0;
			memcpy(buf + 4, val, n);
			HMAC(EVP_sha256(), key, (int)klens[k], buf, n + 4, ref, &rl);
			dd_pseudo_mac(&p, DD_DOM_UID, val, n, mac);
			EXPECT(memcmp(mac, ref, 32) == 0);
		}
	}
	/* two parts (dd_pseudo_fhir_id: "fhir-id" || 0 || type || id), short
	 * (one update) and long: the first 16 bytes in hex */
	for (size_t tl = 0; tl < 40; tl += 9) {
		for (size_t il = 1; il < 200; il += 13) {
			char type[64], id[256], hex[33], want[33];

			for (size_t i = 0; i < tl; i++)
				type[i] = (char)('A' + i % 26);
			type[tl] = 0;
			for (size_t i = 0; i < il; i++)
				id[i] = (char)('a' + (i * 7) % 26);
			id[il] = 0;
			memcpy(buf, "fhir-id", 8); /* with its NUL */
			memcpy(buf + 8, type, tl);
			memcpy(buf + 8 + tl, id, il);
			HMAC(EVP_sha256(), key, 32, buf, 8 + tl + il, ref, &rl);
			for (int i = 0; i < 16; i++)
				snprintf(want + 2 * i, 3, "%02x", ref[i]);
			EXPECT_EQ_INT(dd_pseudo_init(&p, key, 32), DD_OK);
			dd_pseudo_fhir_id(&p, tl ? type : NULL, id, hex);
			EXPECT_EQ_STR(hex, want);
		}
	}
}

int main(void)
{
	test_mac_reference();
	test_patient_key();
	test_uid();
	test_ident();
	test_fhir_and_hash();
	test_shift_days();
	test_dates();
	return dd_test_done("test_pseudo");
}
