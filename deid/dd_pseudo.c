/* dd_pseudo.c: HMAC-SHA256 pseudonyms, date shifts and date arithmetic. */
/* SHA256_Init & co. are deprecated in OpenSSL 3 but are the only way to
 * keep a precomputed HMAC key state in a plain struct (EVP contexts are
 * heap objects). */
#define OPENSSL_API_COMPAT 0x10100000L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "dd_pseudo.h"

/* Domain tags: never change them, every pseudonym depends on them. */
static const char *const dd_domain_tag[DD_DOM_LAST] = {
	[DD_DOM_UID] = "uid",
	[DD_DOM_PATIENT] = "patient",
	[DD_DOM_ACCESSION] = "accession",
	[DD_DOM_IDENT] = "ident",
	[DD_DOM_FHIR_ID] = "fhir-id",
	[DD_DOM_PATH] = "path",
	[DD_DOM_DATE_SHIFT] = "date-shift",
	[DD_DOM_HASH] = "crypto-hash",
	[DD_DOM_TIMESTAMP] = "timestamp",
};

_Static_assert(sizeof(SHA256_CTX) <= 128, "dd_pseudo.hstate too small");

dd_err dd_pseudo_init(struct dd_pseudo *p, const uint8_t *key, size_t len)
{
	uint8_t pad[SHA256_CBLOCK];
	SHA256_CTX c;

	if (!key || (len != 16 && len != 24 && len != 32))
		return DD_E_KEY;
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, len);
	p->key_len = len;
	/* HMAC (RFC 2104): keys shorter than the block are zero-padded */
	for (int k = 0; k < 2; k++) {
		memset(pad, k ? 0x5c : 0x36, sizeof(pad));
		for (size_t i = 0; i < len; i++)
			pad[i] ^= key[i];
		SHA256_Init(&c);
		SHA256_Update(&c, pad, sizeof(pad));
		memcpy(p->hstate[k], &c, sizeof(c));
	}
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&c, sizeof(c));
	return DD_OK;
}

void dd_pseudo_clear(struct dd_pseudo *p)
{
	OPENSSL_cleanse(p, sizeof(*p));
}

/* HMAC over (tag || 0x00 || a || b), from the precomputed key states. */
static void ps_mac2(const struct dd_pseudo *p, enum dd_domain d, const void *a,
		    size_t alen, const void *b, size_t blen, uint8_t mac[32])
{
	const char *tag = (unsigned)d < DD_DOM_LAST ? dd_domain_tag[d] : "?";
	uint8_t inner[SHA256_DIGEST_LENGTH], zero = 0, msg[128];
	size_t tl = strlen(tag);
	SHA256_CTX c;

	memcpy(&c, p->hstate[0], sizeof(c));
	if (tl + 1 + alen + blen <= sizeof(msg)) {
		/* the usual short message in one update (each costs a copy
		 * into the block and a call): the same bytes hashed */
		memcpy(msg, tag, tl);
		msg[tl] = 0;
		if (alen)
			memcpy(msg + tl + 1, a, alen);
		if (blen)
			memcpy(msg + tl + 1 + alen, b, blen);
		SHA256_Update(&c, msg, tl + 1 + alen + blen);
	} else {
		SHA256_Update(&c, tag, tl);
		SHA256_Update(&c, &zero, 1);
		if (alen)
			SHA256_Update(&c, a, alen);
		if (blen)
			SHA256_Update(&c, b, blen);
	}
	SHA256_Final(inner, &c);
	memcpy(&c, p->hstate[1], sizeof(c));
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(mac, &c);
}

void dd_pseudo_mac(const struct dd_pseudo *p, enum dd_domain d,
		   const void *value, size_t len, uint8_t mac[32])
{
	ps_mac2(p, d, value, len, NULL, 0, mac);
}

void dd_pseudo_uid(const struct dd_pseudo *p, const char *uid, size_t len,
		   char out[65])
{
	uint8_t mac[32];
	unsigned __int128 v = 0;
	char digits[48];
	int nd = 0;

	dd_pseudo_mac(p, DD_DOM_UID, uid, len, mac);
	for (int i = 0; i < 16; i++)
		v = (v << 8) | mac[i];
	do {
		digits[nd++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	memcpy(out, "2.25.", 5);
	for (int i = 0; i < nd; i++)
		out[5 + i] = digits[nd - 1 - i];
	out[5 + nd] = 0;
}

void dd_pseudo_ident(const struct dd_pseudo *p, enum dd_domain d,
		     const char *value, size_t len, size_t width, char *out)
{
	static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint8_t mac[32];
	size_t i;

	if (width < 1)
		width = 1;
	if (width > 64)
		width = 64;
	dd_pseudo_mac(p, d, value, len, mac);
	for (i = 0; i < width; i++) {
		if (i == 32) /* extend the stream for widths over 32 */
			ps_mac2(p, d, value, len, mac, 32, mac);
		/* 256 % 36 bias is negligible for pseudonyms */
		out[i] = alphabet[mac[i % 32] % 36];
	}
	out[width] = 0;
}

void dd_pseudo_fhir_id(const struct dd_pseudo *p, const char *type,
		       const char *id, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[32];
	size_t tl = type ? strlen(type) : 0;

	ps_mac2(p, DD_DOM_FHIR_ID, type ? type : "", tl, id, strlen(id), mac);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[32] = 0;
}

void dd_pseudo_hash_b64(const struct dd_pseudo *p, const char *value,
			size_t len, char out[45])
{
	uint8_t mac[32];

	dd_pseudo_mac(p, DD_DOM_HASH, value, len, mac);
	EVP_EncodeBlock((unsigned char *)out, mac, 32);
	out[44] = 0;
}

dd_err dd_pseudo_shift_days(const struct dd_pseudo *p, const char *patient_key,
			    size_t len, int min, int max, int *days)
{
	uint8_t mac[32];
	uint64_t v = 0, span;
	int64_t d;
	bool has_zero = min <= 0 && max >= 0;

	if (min > max || (min == 0 && max == 0))
		return DD_E_RANGE;
	span = (uint64_t)((int64_t)max - (int64_t)min + 1) - (has_zero ? 1 : 0);
	dd_pseudo_mac(p, DD_DOM_DATE_SHIFT, patient_key, len, mac);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | mac[i];
	d = (int64_t)min + (int64_t)(v % span);
	if (has_zero && d >= 0)
		d++;
	*days = (int)d;
	return DD_OK;
}

/* ---- patients --------------------------------------------------------------- */

static size_t ps_copy_trimmed(const char *prefix, const char *v, char *out,
			      size_t outlen)
{
	size_t pl = strlen(prefix), n;

	if (!outlen)
		return 0;
	while (v && (*v == ' ' || *v == '\t'))
		v++;
	n = v ? strlen(v) : 0;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (pl > outlen - 1)
		pl = outlen - 1;
	memcpy(out, prefix, pl);
	if (n > outlen - 1 - pl)
		n = outlen - 1 - pl;
	if (n)
		memcpy(out + pl, v, n);
	out[pl + n] = 0;
	return pl + n;
}

size_t dd_patient_key(const char *issuer, const char *value, char *out,
		      size_t outlen)
{
	(void)issuer;
	return ps_copy_trimmed("id:", value, out, outlen);
}

size_t dd_patient_key_study(const char *study_uid, char *out, size_t outlen)
{
	return ps_copy_trimmed("study:", study_uid, out, outlen);
}

void dd_pseudo_patient_id(const struct dd_pseudo *p, const char *patient_key,
			  char out[17])
{
	dd_pseudo_ident(p, DD_DOM_PATIENT, patient_key, strlen(patient_key), 16,
			out);
}

/* ---- civil dates (H. Hinnant's algorithms) -------------------------------- */

int64_t dd_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void dd_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y += *m <= 2;
}

static unsigned ps_month_days(int64_t y, unsigned m)
{
	static const unsigned md[] = {31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : md[m - 1];
}

static bool ps_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static unsigned ps_num(const char *s, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

/* Parse a date of @prec components (1 = year, 2 = +month, 3 = +day) and
 * shift it; the result has the same precision. */
static bool ps_shift_ymd(unsigned y, unsigned m, unsigned d, int prec, int days,
			 int64_t *oy, unsigned *om, unsigned *od)
{
	if (prec < 2)
		m = 1;
	if (prec < 3)
		d = 1;
	if (m < 1 || m > 12 || d < 1 || d > ps_month_days(y, m))
		return false;
	dd_civil_from_days(dd_days_from_civil(y, m, d) + days, oy, om, od);
	return *oy >= 0 && *oy <= 9999;
}

/* One DA value without range; n is its length (spaces trimmed). */
static dd_err ps_shift_da1(const char *s, size_t n, int days, char *out,
			   size_t outlen)
{
	unsigned y, m = 1, d = 1, om, od;
	int64_t oy;
	int prec;
	bool legacy = false;
	int k;

	if (n == 10 && s[4] == '.' && s[7] == '.' && ps_digits(s, 4) &&
	    ps_digits(s + 5, 2) && ps_digits(s + 8, 2)) {
		legacy = true;
		y = ps_num(s, 4);
		m = ps_num(s + 5, 2);
		d = ps_num(s + 8, 2);
		prec = 3;
	} else if ((n == 8 || n == 6 || n == 4) && ps_digits(s, n)) {
		y = ps_num(s, 4);
		prec = (int)n / 2 - 1;
		if (n >= 6)
			m = ps_num(s + 4, 2);
		if (n == 8)
			d = ps_num(s + 6, 2);
	} else {
		return DD_E_PARSE;
	}
	if (!ps_shift_ymd(y, m, d, prec, days, &oy, &om, &od))
		return DD_E_PARSE;
	if (legacy || prec == 3)
		k = snprintf(out, outlen, legacy ? "%04d.%02u.%02u" : "%04d%02u%02u",
			     (int)oy, om, od);
	else if (prec == 2)
		k = snprintf(out, outlen, "%04d%02u", (int)oy, om);
	else
		k = snprintf(out, outlen, "%04d", (int)oy);
	return k > 0 && (size_t)k < outlen ? DD_OK : DD_E_RANGE;
}

static size_t ps_trim(const char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		n--;
	return n;
}

dd_err dd_date_shift_da(const char *in, int days, char *out, size_t outlen)
{
	size_t n = ps_trim(in);
	const char *dash;
	dd_err e;

	while (n && *in == ' ') {
		in++;
		n--;
	}
	dash = memchr(in, '-', n);
	if (!dash)
		return ps_shift_da1(in, n, days, out, outlen);
	/* range: "A-B", "-B", "A-" */
	{
		size_t a = (size_t)(dash - in), used;

		out[0] = 0;
		if (a) {
			e = ps_shift_da1(in, a, days, out, outlen);
			if (e)
				return e;
		}
		used = strlen(out);
		if (used + 2 > outlen)
			return DD_E_RANGE;
		out[used++] = '-';
		out[used] = 0;
		if (n - a - 1) {
			e = ps_shift_da1(dash + 1, n - a - 1, days, out + used,
					 outlen - used);
			if (e)
				return e;
		}
		return a || n - a - 1 ? DD_OK : DD_E_PARSE;
	}
}

dd_err dd_date_shift_dt(const char *in, int days, char *out, size_t outlen)
{
	size_t n = ps_trim(in), dlen = 0, rest;
	char date[16];
	dd_err e;

	while (dlen < n && dlen < 8 && isdigit((unsigned char)in[dlen]))
		dlen++;
	if (dlen != 4 && dlen != 6 && dlen != 8)
		return DD_E_PARSE;
	if (dlen < 8 && dlen < n && isdigit((unsigned char)in[dlen]))
		return DD_E_PARSE;
	/* the remainder must be time digits, '.', fraction, and an offset */
	for (size_t i = dlen; i < n; i++) {
		char c = in[i];

		if (!isdigit((unsigned char)c) && c != '.' && c != '+' && c != '-')
			return DD_E_PARSE;
	}
	e = ps_shift_da1(in, dlen, days, date, sizeof(date));
	if (e)
		return e;
	rest = n - dlen;
	if (strlen(date) + rest + 1 > outlen)
		return DD_E_RANGE;
	memcpy(out, date, strlen(date));
	memcpy(out + strlen(date), in + dlen, rest);
	out[strlen(date) + rest] = 0;
	return DD_OK;
}

dd_err dd_date_shift_fhir(const char *in, int days, char *out, size_t outlen)
{
	size_t n = strlen(in), dlen;
	unsigned y, m = 1, d = 1, om, od;
	int64_t oy;
	int prec, k;

	if (n >= 10 && in[4] == '-' && in[7] == '-')
		dlen = 10, prec = 3;
	else if (n >= 7 && in[4] == '-')
		dlen = 7, prec = 2;
	else
		dlen = 4, prec = 1;
	if (n < dlen || !ps_digits(in, 4) ||
	    (prec >= 2 && !ps_digits(in + 5, 2)) ||
	    (prec == 3 && !ps_digits(in + 8, 2)))
		return DD_E_PARSE;
	if (n > dlen && (prec != 3 || in[dlen] != 'T'))
		return DD_E_PARSE;
	y = ps_num(in, 4);
	if (prec >= 2)
		m = ps_num(in + 5, 2);
	if (prec == 3)
		d = ps_num(in + 8, 2);
	if (!ps_shift_ymd(y, m, d, prec, days, &oy, &om, &od))
		return DD_E_PARSE;
	if (oy >= 0 && oy <= 9999 && om <= 99 && od <= 99 &&
	    n + 1 <= outlen) {
		/* what the snprintf below writes, without its cost (once per
		 * date of every resource): the output is as long as @in */
		out[0] = (char)('0' + oy / 1000);
		out[1] = (char)('0' + oy / 100 % 10);
		out[2] = (char)('0' + oy / 10 % 10);
		out[3] = (char)('0' + oy % 10);
		if (prec >= 2) {
			out[4] = '-';
			out[5] = (char)('0' + om / 10);
			out[6] = (char)('0' + om % 10);
		}
		if (prec == 3) {
			out[7] = '-';
			out[8] = (char)('0' + od / 10);
			out[9] = (char)('0' + od % 10);
			memcpy(out + 10, in + 10, n - 10 + 1);
		} else {
			out[dlen] = 0;
		}
		return DD_OK;
	}
	if (prec == 3)
		k = snprintf(out, outlen, "%04d-%02u-%02u%s", (int)oy, om, od,
			     in + dlen);
	else if (prec == 2)
		k = snprintf(out, outlen, "%04d-%02u", (int)oy, om);
	else
		k = snprintf(out, outlen, "%04d", (int)oy);
	return k > 0 && (size_t)k < outlen ? DD_OK : DD_E_RANGE;
}
