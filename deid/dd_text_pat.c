/* dd_text_pat.c: fixed-format detectors (e-mail, URL, IP and MAC
 * addresses, phone and fax numbers, SSN, credit cards, IBAN, VIN, DEA,
 * long numbers) and identifiers announced by cue words (MRN, NPI,
 * accession, account...), plus ages of 90 and over.
 *
 * Hand-written scanners: one pass over the bytes for the fixed formats,
 * one pass over the tokens for cue words.  Check digits are verified where
 * the format has one (Luhn, IBAN mod 97, VIN, DEA); a cue word makes a
 * number an identifier without one. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "dd_text_i.h"

/* byte classes: one load instead of range tests in the byte pass */
enum { PC_D = 1, PC_A = 2, PC_X = 4 };
static const uint8_t pat_cls[256] = {
	['0' ... '9'] = PC_D | PC_X,
	['a' ... 'f'] = PC_A | PC_X, ['A' ... 'F'] = PC_A | PC_X,
	['g' ... 'z'] = PC_A, ['G' ... 'Z'] = PC_A,
};

static bool is_d(unsigned char c) { return pat_cls[c] & PC_D; }
static bool is_a(unsigned char c) { return pat_cls[c] & PC_A; }
static bool is_an(unsigned char c) { return pat_cls[c] & (PC_D | PC_A); }
static bool is_x(unsigned char c) { return pat_cls[c] & PC_X; }
static unsigned char lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Case-insensitive: does @s[i..] start with @lit? */
static bool at_ci(const char *s, size_t n, size_t i, const char *lit)
{
	for (size_t k = 0; lit[k]; k++)
		if (i + k >= n || lc((unsigned char)s[i + k]) != (unsigned char)lit[k])
			return false;
	return true;
}

/* Case-insensitive search for @lit in the @win bytes before @pos. */
static bool cue_before(const char *s, size_t pos, size_t win, const char *lit)
{
	size_t l = strlen(lit), from = pos > win ? pos - win : 0;

	for (size_t i = from; i + l <= pos; i++)
		if (at_ci(s, pos, i, lit) && (i == 0 || !is_a((unsigned char)s[i - 1])))
			return true;
	return false;
}

/* ---- e-mail, URL ------------------------------------------------------------ */

static bool email_local(unsigned char c)
{
	return is_an(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static void scan_emails(struct dd_scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n;
	const char *p = s;

	while ((p = memchr(p, '@', n - (size_t)(p - s))) != NULL) {
		size_t at = (size_t)(p - s), b = at, e = at + 1, lastdot = 0;

		while (b > 0 && email_local((unsigned char)s[b - 1]))
			b--;
		while (e < n && (is_an((unsigned char)s[e]) || s[e] == '-' ||
				 (s[e] == '.' && e + 1 < n && is_an((unsigned char)s[e + 1])))) {
			if (s[e] == '.')
				lastdot = e;
			e++;
		}
		if (b < at && lastdot && e - lastdot > 2 && is_a((unsigned char)s[e - 1]))
			dd_scan_add(sc, b, e, DD_IT_EMAIL_ADDRESS, false);
		p++;
	}
}

static bool url_char(unsigned char c)
{
	return c > ' ' && c != '<' && c != '>' && c != '"' && c != '`' && c < 0x7f;
}

/* The first position from @from where "http://", "https://", "ftp://" or
 * "www." starts (any case), or n.  Each prefix has one anchor byte, ':' 3
 * to 5 bytes in or '.' 3 bytes in, so the scan jumps between those bytes
 * with memchr; *colon and *dot keep the next ones found (start at 0).  A
 * prefix holds only letters before its anchor, so anchors in order give
 * starts in order, and one anchor starts at most one prefix. */
static size_t url_next(const char *s, size_t n, size_t from, size_t *colon,
		       size_t *dot)
{
	size_t q0 = from + 3, q;

	for (;;) {
		if (q0 >= n)
			return n;
		if (*colon < q0) {
			const char *x = memchr(s + q0, ':', n - q0);

			*colon = x ? (size_t)(x - s) : n;
		}
		if (*dot < q0) {
			const char *x = memchr(s + q0, '.', n - q0);

			*dot = x ? (size_t)(x - s) : n;
		}
		q = *colon < *dot ? *colon : *dot;
		if (q >= n)
			return n;
		if (s[q] == ':') {
			if (q >= from + 5 && at_ci(s, n, q - 5, "https://"))
				return q - 5;
			if (q >= from + 4 && at_ci(s, n, q - 4, "http://"))
				return q - 4;
			if (at_ci(s, n, q - 3, "ftp://"))
				return q - 3;
		} else if (at_ci(s, n, q - 3, "www.")) {
			return q - 3;
		}
		q0 = q + 1;
	}
}

static void scan_urls(struct dd_scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n, colon = 0, dot = 0;

	for (size_t i = url_next(s, n, 0, &colon, &dot); i < n;
	     i = url_next(s, n, i + 1, &colon, &dot)) {
		size_t e;

		if (i && is_an((unsigned char)s[i - 1]))
			continue;
		for (e = i; e < n && url_char((unsigned char)s[e]); e++)
			;
		while (e > i && strchr(".,;:!?)]'", s[e - 1]))
			e--;
		if (e - i > 6) {
			dd_scan_add(sc, i, e, DD_IT_URL, false);
			i = e;
		}
	}
}

/* ---- IP and MAC addresses ------------------------------------------------------ */

static size_t ipv4_at(const char *s, size_t n, size_t i)
{
	size_t p = i;

	for (int g = 0; g < 4; g++) {
		unsigned v = 0, nd = 0;

		while (p < n && is_d((unsigned char)s[p]) && nd < 4) {
			v = v * 10 + (unsigned)(s[p] - '0');
			nd++;
			p++;
		}
		if (nd == 0 || nd > 3 || v > 255)
			return 0;
		if (g < 3) {
			if (p >= n || s[p] != '.')
				return 0;
			p++;
		}
	}
	if (p < n && (is_an((unsigned char)s[p]) ||
		      (s[p] == '.' && p + 1 < n && is_d((unsigned char)s[p + 1]))))
		return 0;
	return p - i;
}

static size_t ipv6_at(const char *s, size_t n, size_t i)
{
	size_t p = i, colons = 0, groups = 0;
	bool dbl = false, hexletter = false;

	while (p < n) {
		size_t nd = 0;

		while (p < n && is_x((unsigned char)s[p]) && nd < 5) {
			if (!is_d((unsigned char)s[p]))
				hexletter = true;
			nd++;
			p++;
		}
		if (nd > 4)
			return 0;
		if (nd)
			groups++;
		if (p < n && s[p] == ':') {
			if (p + 1 < n && s[p + 1] == ':') {
				if (dbl)
					break;
				dbl = true;
				colons += 2;
				p += 2;
				continue;
			}
			if (!nd)
				break;
			colons++;
			p++;
			continue;
		}
		break;
	}
	while (p > i && s[p - 1] == ':' && !(p >= 2 && s[p - 2] == ':'))
		p--;
	if (p < n && is_an((unsigned char)s[p]))
		return 0;
	if ((colons == 7 && groups == 8) || (dbl && groups >= 2 && hexletter))
		return p - i;
	return 0;
}

static size_t mac_at(const char *s, size_t n, size_t i)
{
	size_t p = i;
	char sep = 0;

	for (int g = 0; g < 6; g++) {
		if (p + 2 > n || !is_x((unsigned char)s[p]) || !is_x((unsigned char)s[p + 1]))
			return 0;
		p += 2;
		if (g < 5) {
			if (p >= n || (s[p] != ':' && s[p] != '-'))
				return 0;
			if (sep && s[p] != sep)
				return 0;
			sep = s[p++];
		}
	}
	if (p < n && is_an((unsigned char)s[p]))
		return 0;
	return p - i;
}

/* ---- numbers in groups ----------------------------------------------------------- */

struct dgroups {
	size_t start, end;  /* bytes */
	unsigned n;         /* groups */
	unsigned len[12];   /* digits per group */
	char sep[12];       /* separator after group k */
	char digits[40];
	unsigned nd;
	bool paren;         /* "(617) 555-..." */
	bool plus;          /* "+1 ..." */
};

static bool dsep(char c) { return c == '-' || c == '.' || c == ' ' || c == '/'; }

/* Read digit groups from @i (a digit, '(' or '+'). */
static bool dgroups_read(const char *s, size_t n, size_t i, struct dgroups *g)
{
	size_t p = i;

	memset(g, 0, sizeof(*g));
	g->start = i;
	if (s[p] == '+') {
		g->plus = true;
		p++;
	}
	while (p < n && g->n < 12) {
		unsigned l = 0;
		bool par = false;

		if (s[p] == '(' && g->n <= 1) {
			par = true;
			p++;
		}
		while (p < n && is_d((unsigned char)s[p])) {
			if (g->nd < sizeof(g->digits) - 1)
				g->digits[g->nd++] = s[p];
			l++;
			p++;
		}
		if (!l)
			return false;
		if (par) {
			if (p >= n || s[p] != ')')
				return false;
			g->paren = true;
			p++;
			if (p < n && s[p] == ' ')
				p++;
			g->len[g->n] = l;
			g->sep[g->n++] = ')';
			continue;
		}
		g->len[g->n] = l;
		if (p + 1 < n && dsep(s[p]) && (is_d((unsigned char)s[p + 1]) ||
			(s[p] == ' ' && s[p + 1] == '(' && g->n == 0))) {
			g->sep[g->n++] = s[p];
			p++;
			continue;
		}
		g->n++;
		break;
	}
	g->end = p;
	g->digits[g->nd] = 0;
	return g->n > 0;
}

/* Drop trailing groups so that the groups are [0, k). */
static void dgroups_cut(const char *s, struct dgroups *g, unsigned k)
{
	size_t p = g->start + (g->plus ? 1 : 0);
	unsigned nd = 0;

	for (unsigned j = 0; j < k; j++) {
		if (g->sep[j] == ')')
			p++; /* its '(' */
		p += g->len[j];
		nd += g->len[j];
		if (g->sep[j] == ')') {
			p++;
			if (j + 1 < k && s[p] == ' ')
				p++;
		} else if (j + 1 < k) {
			p++;
		}
	}
	g->n = k;
	g->end = p;
	/* only the first sizeof(digits) - 1 digits were kept */
	if (nd > g->nd)
		nd = g->nd;
	g->nd = nd;
	g->digits[nd] = 0;
}

static bool luhn(const char *d, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(d[n - 1 - i] - '0');

		if (i & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

static bool ssn_valid(const char *d)
{
	unsigned area = (unsigned)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));

	if (area == 0 || area == 666 || area >= 900)
		return false;
	if (d[3] == '0' && d[4] == '0')
		return false;
	return !(d[5] == '0' && d[6] == '0' && d[7] == '0' && d[8] == '0');
}

static bool same_seps(const struct dgroups *g, unsigned from, unsigned to)
{
	for (unsigned j = from + 1; j < to; j++)
		if (g->sep[j] != g->sep[from])
			return false;
	return true;
}

/* Extension after a phone number: " x1234", " ext. 1234", " ext 12". */
static size_t phone_ext(const char *s, size_t n, size_t p)
{
	size_t q = p;

	while (q < n && s[q] == ' ')
		q++;
	if (at_ci(s, n, q, "ext"))
		q += 3;
	else if (q < n && lc((unsigned char)s[q]) == 'x')
		q += 1;
	else
		return p;
	if (q < n && s[q] == '.')
		q++;
	while (q < n && s[q] == ' ')
		q++;
	if (q >= n || !is_d((unsigned char)s[q]))
		return p;
	while (q < n && is_d((unsigned char)s[q]))
		q++;
	return q;
}

static void add_phone(struct dd_scan *sc, size_t b, size_t e)
{
	bool fax = cue_before(sc->s, b, 24, "fax") || cue_before(sc->s, b, 5, "f:");

	e = phone_ext(sc->s, sc->n, e);
	dd_scan_add(sc, b, e, fax ? DD_IT_FAX_NUMBER : DD_IT_PHONE_NUMBER, false);
}

static bool phone_cue(const char *s, size_t b)
{
	static const char *const cues[] = { "phone", "tel", "cell", "mobile",
		"fax", "pager", "call", "contact", "ph", "home", "work", NULL };

	for (int i = 0; cues[i]; i++)
		if (cue_before(s, b, 24, cues[i]))
			return true;
	return false;
}

/* Try the number formats on the groups; true if one matched. */
static bool dgroups_classify(struct dd_scan *sc, struct dgroups *g)
{
	const char *s = sc->s;
	unsigned k0 = 0;

	/* +CC international: 8..15 digits in groups of spaces or dashes */
	if (g->plus && g->nd >= 8 && g->nd <= 15 && g->n >= 2) {
		add_phone(sc, g->start, g->end);
		return true;
	}
	/* leading "1-" / "1 " country code */
	if (g->n >= 4 && g->len[0] == 1 && s[g->start + (g->plus ? 1 : 0)] == '1')
		k0 = 1;
	if (g->n >= k0 + 3 && g->len[k0] == 3 && g->len[k0 + 1] == 3 &&
	    g->len[k0 + 2] == 4 && (g->paren || g->sep[k0] == g->sep[k0 + 1]) &&
	    g->sep[k0 + 1] != '/') {
		dgroups_cut(s, g, k0 + 3);
		add_phone(sc, g->start, g->end);
		return true;
	}
	/* SSN 123-45-6789 (also with spaces) */
	if (g->n >= 3 && g->len[0] == 3 && g->len[1] == 2 && g->len[2] == 4 &&
	    g->sep[0] == g->sep[1] && (g->sep[0] == '-' || g->sep[0] == ' ') &&
	    ssn_valid(g->digits)) {
		dgroups_cut(s, g, 3);
		dd_scan_add(sc, g->start, g->end, DD_IT_US_SOCIAL_SECURITY_NUMBER, false);
		return true;
	}
	/* card numbers: 13..19 digits, groups of 4 (or 4-6-5), Luhn */
	if (g->nd >= 13 && g->nd <= 19 && same_seps(g, 0, g->n) &&
	    (g->n == 1 || g->len[0] == 4) && strchr("3456", g->digits[0]) &&
	    luhn(g->digits, g->nd)) {
		dd_scan_add(sc, g->start, g->end, DD_IT_CREDIT_CARD_NUMBER, false);
		return true;
	}
	/* 555-1234 or 10 digits with a phone cue */
	if ((g->n >= 2 && g->len[0] == 3 && g->len[1] == 4 && g->sep[0] == '-' &&
	     phone_cue(s, g->start)) ||
	    (g->n == 1 && (g->nd == 10 || g->nd == 11) && phone_cue(s, g->start))) {
		dgroups_cut(s, g, g->n == 1 ? 1 : 2);
		add_phone(sc, g->start, g->end);
		return true;
	}
	/* 9 digits after an SSN cue */
	if (g->n == 1 && g->nd == 9 &&
	    (cue_before(s, g->start, 24, "ssn") || cue_before(s, g->start, 30, "social security"))) {
		dd_scan_add(sc, g->start, g->end, DD_IT_US_SOCIAL_SECURITY_NUMBER, false);
		return true;
	}
	/* long numbers: 7+ digits in one group, or hyphenated with 7+ digits
	 * (not a decimal, not a date: the date scanner has those) */
	for (unsigned j = 0; j < g->n; j++) {
		if (g->len[j] >= 7) {
			dgroups_cut(s, g, g->n);
			dd_scan_add(sc, g->start, g->end, DD_IT_GENERIC_ID, false);
			return true;
		}
	}
	if (g->n >= 2 && g->nd >= 7 && same_seps(g, 0, g->n) && g->sep[0] == '-' &&
	    !(g->n == 3 && g->len[0] == 4 && g->len[1] <= 2 && g->len[2] <= 2) &&
	    !(g->n == 3 && g->len[2] == 4 && g->len[0] <= 2 && g->len[1] <= 2)) {
		dd_scan_add(sc, g->start, g->end, DD_IT_GENERIC_ID, false);
		return true;
	}
	return false;
}

/* ---- IBAN, VIN, DEA (alphanumeric with check digits) -------------------------------- */

static bool iban_check(const char *v, size_t n)
{
	unsigned rem = 0;

	if (n < 15 || n > 34)
		return false;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v[(k + 4) % n];

		if (is_d(c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else if (c >= 'A' && c <= 'Z')
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

static size_t iban_at(const char *s, size_t n, size_t i)
{
	char v[40];
	size_t nv = 0, p = i, last = i;

	if (i + 4 > n || !(s[i] >= 'A' && s[i] <= 'Z') || !(s[i + 1] >= 'A' && s[i + 1] <= 'Z') ||
	    !is_d((unsigned char)s[i + 2]) || !is_d((unsigned char)s[i + 3]))
		return 0;
	while (p < n && nv < 34) {
		unsigned char c = (unsigned char)s[p];

		if (is_d(c) || (c >= 'A' && c <= 'Z')) {
			v[nv++] = (char)c;
			p++;
			last = p;
		} else if (c == ' ' && p + 1 < n && is_an((unsigned char)s[p + 1]) && nv % 4 == 0) {
			p++;
		} else {
			break;
		}
	}
	if (last < n && is_an((unsigned char)s[last]))
		return 0;
	return iban_check(v, nv) ? last - i : 0;
}

static int vin_val(unsigned char c)
{
	static const char map[] = "12345678.12345.7.923456789";

	if (is_d(c))
		return c - '0';
	if (c >= 'A' && c <= 'Z' && map[c - 'A'] != '.')
		return map[c - 'A'] - '0';
	return -1;
}

static bool vin_at(const char *s, size_t n, size_t i)
{
	static const int w[17] = { 8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2 };
	int sum = 0, nd = 0;

	if (i + 17 > n || (i + 17 < n && is_an((unsigned char)s[i + 17])))
		return false;
	for (int k = 0; k < 17; k++) {
		int v = vin_val((unsigned char)s[i + k]);

		if (v < 0)
			return false;
		nd += is_d((unsigned char)s[i + k]);
		sum += v * w[k];
	}
	if (nd < 5 || nd == 17)
		return false;
	sum %= 11;
	return s[i + 8] == (sum == 10 ? 'X' : '0' + sum);
}

static bool dea_at(const char *s, size_t n, size_t i)
{
	const char *d = s + i + 2;
	int sum;

	if (i + 9 > n || (i + 9 < n && is_an((unsigned char)s[i + 9])))
		return false;
	if (!(s[i + 1] >= 'A' && s[i + 1] <= 'Z') || !strchr("ABCDEFGHJKLMPRSTUX", s[i]))
		return false;
	for (int k = 0; k < 7; k++)
		if (!is_d((unsigned char)d[k]))
			return false;
	sum = (d[0] - '0') + (d[2] - '0') + (d[4] - '0') +
	      2 * ((d[1] - '0') + (d[3] - '0') + (d[5] - '0'));
	return sum % 10 == d[6] - '0';
}

/* ---- the byte pass ---------------------------------------------------------------------- */

void dd_text_scan_patterns(struct dd_scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n;

	scan_emails(sc);
	scan_urls(sc);
	for (size_t i = 0; i < n && !sc->err; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned char pc = i ? (unsigned char)s[i - 1] : ' ';
		struct dgroups g;
		size_t l;

		if (is_an(pc) || pc == '.' || pc == '_' || pc == '@')
			continue;
		/* a lower-case letter after g starts nothing here: none of
		 * the formats below (MAC, IPv6, upper-case IBAN/VIN/DEA,
		 * digits); neither does any position inside its word (the
		 * test above), so the whole word is passed over */
		if (c >= 'g' && c <= 'z')
			goto next_word;
		if (is_x(c) && (l = mac_at(s, n, i))) {
			dd_scan_add(sc, i, i + l, DD_IT_MAC_ADDRESS, false);
			i += l - 1;
			continue;
		}
		if ((is_x(c) || c == ':') && (l = ipv6_at(s, n, i))) {
			dd_scan_add(sc, i, i + l, DD_IT_IP_ADDRESS, false);
			i += l - 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			if ((l = iban_at(s, n, i))) {
				dd_scan_add(sc, i, i + l, DD_IT_IBAN_CODE, false);
				i += l - 1;
			} else if (vin_at(s, n, i)) {
				dd_scan_add(sc, i, i + 17, DD_IT_VEHICLE_IDENTIFICATION_NUMBER, false);
				i += 16;
			} else if (dea_at(s, n, i)) {
				dd_scan_add(sc, i, i + 9, DD_IT_US_DEA_NUMBER, false);
				i += 8;
			} else {
				goto next_word;
			}
			continue;
		}
		if (is_d(c) && (l = ipv4_at(s, n, i))) {
			dd_scan_add(sc, i, i + l, DD_IT_IP_ADDRESS, false);
			i += l - 1;
			continue;
		}
		if (!is_d(c) && !((c == '(' || c == '+') && i + 1 < n && is_d((unsigned char)s[i + 1])))
			goto next_word;
		if (!dgroups_read(s, n, i, &g))
			continue;
		/* a decimal or a version ("1.5", "2.0.1") is not an identifier */
		if (g.end < n && (s[g.end] == '.' || s[g.end] == ',') && g.end + 1 < n &&
		    is_d((unsigned char)s[g.end + 1]))
			goto skip;
		if (g.end < n && is_a((unsigned char)s[g.end]) &&
		    !(g.end + 1 < n && !is_a((unsigned char)s[g.end + 1]) && 0))
			goto skip;
		if (dgroups_classify(sc, &g)) {
			i = g.end - 1;
			continue;
		}
skip:
		while (i + 1 < n && is_d((unsigned char)s[i + 1]))
			i++;
		continue;
next_word:
		/* nothing starts at @i, nor inside its word (the previous
		 * byte would be a letter or digit there) */
		if (is_an(c))
			while (i + 1 < n && is_an((unsigned char)s[i + 1]))
				i++;
	}
}

/* ---- identifiers after cue words --------------------------------------------------------- */

struct id_cue {
	uint16_t w1, w2;  /* one or two words (enum dd_kw; w2 may be DD_KW_NONE) */
	enum dd_info_type type;
};

static const struct id_cue id_cues[] = {
	{ DD_KW_mrn, DD_KW_NONE, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_mr, DD_KW_NONE, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_medical, DD_KW_record, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_med, DD_KW_rec, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_record, DD_KW_NONE, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_chart, DD_KW_NONE, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_hospital, DD_KW_number, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_unit, DD_KW_number, DD_IT_MEDICAL_RECORD_NUMBER },
	{ DD_KW_npi, DD_KW_NONE, DD_IT_US_HEALTHCARE_NPI },
	{ DD_KW_dea, DD_KW_NONE, DD_IT_US_DEA_NUMBER },
	{ DD_KW_driver, DD_KW_license, DD_IT_US_DRIVERS_LICENSE_NUMBER },
	{ DD_KW_drivers, DD_KW_license, DD_IT_US_DRIVERS_LICENSE_NUMBER },
	{ DD_KW_driver, DD_KW_licence, DD_IT_US_DRIVERS_LICENSE_NUMBER },
	{ DD_KW_dl, DD_KW_NONE, DD_IT_US_DRIVERS_LICENSE_NUMBER },
	{ DD_KW_license, DD_KW_NONE, DD_IT_US_DRIVERS_LICENSE_NUMBER },
	{ DD_KW_licence, DD_KW_NONE, DD_IT_US_DRIVERS_LICENSE_NUMBER },
	{ DD_KW_passport, DD_KW_NONE, DD_IT_PASSPORT },
	{ DD_KW_ssn, DD_KW_NONE, DD_IT_US_SOCIAL_SECURITY_NUMBER },
	{ DD_KW_social, DD_KW_security, DD_IT_US_SOCIAL_SECURITY_NUMBER },
	{ DD_KW_vin, DD_KW_NONE, DD_IT_VEHICLE_IDENTIFICATION_NUMBER },
	{ DD_KW_accession, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_acc, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_account, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_acct, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_id, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_identifier, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_encounter, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_visit, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_case, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_specimen, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_order, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_requisition, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_claim, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_member, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_policy, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_subscriber, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_group, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_reference, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_ref, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_study, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_exam, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_fin, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_csn, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_empi, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_medicare, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_medicaid, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_insurance, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_serial, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_device, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_certificate, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_badge, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_employee, DD_KW_NONE, DD_IT_GENERIC_ID },
	{ DD_KW_plan, DD_KW_NONE, DD_IT_GENERIC_ID },
};

/* Filler between the cue and the value: "number", "no.", "#", ":" ... */
static size_t skip_filler(const struct dd_scan *sc, size_t j)
{
	for (int k = 0; k < 4 && j < sc->ntk; k++) {
		const struct dd_tok *t = &sc->tk[j];

		if (t->kind == DD_TK_PUNCT && strchr("#:.-=(", sc->s[t->s]) &&
		    t->e - t->s == 1) {
			j++;
			continue;
		}
		if (dd_tok_in(sc, j, DD_KL_FILLER)) {
			j++;
			continue;
		}
		break;
	}
	return j;
}

/* The value after a cue: tokens joined by '-', '/', '.' or single spaces
 * between digit groups; it must hold a digit.  Returns the end token. */
static size_t id_value(const struct dd_scan *sc, size_t j, bool *digit)
{
	size_t k = j;

	*digit = false;
	while (k < sc->ntk) {
		const struct dd_tok *t = &sc->tk[k];

		if (t->kind == DD_TK_NUM || t->kind == DD_TK_ALNUM) {
			*digit = true;
		} else if (t->kind == DD_TK_WORD) {
			if (!(t->flags & (DD_TF_ALLCAPS)) && t->e - t->s > 1)
				break;
			if (k > j && !(sc->tk[k - 1].kind == DD_TK_PUNCT))
				break;
		} else {
			break;
		}
		k++;
		/* joiners */
		if (k + 1 < sc->ntk && sc->tk[k].kind == DD_TK_PUNCT &&
		    strchr("-/.", sc->s[sc->tk[k].s]) && sc->tk[k].s == sc->tk[k - 1].e &&
		    sc->tk[k + 1].s == sc->tk[k].e && sc->tk[k + 1].kind != DD_TK_PUNCT) {
			k++;
			continue;
		}
		if (k < sc->ntk && sc->tk[k].kind == DD_TK_NUM &&
		    sc->tk[k - 1].kind == DD_TK_NUM && dd_tok_adjacent(sc, k - 1, k) &&
		    sc->tk[k].s == sc->tk[k - 1].e + 1)
			continue;
		break;
	}
	return k;
}

static bool cue_match(const struct dd_scan *sc, size_t i, const struct id_cue *c,
		      size_t *next)
{
	if (!dd_tok_kw(sc, i, c->w1))
		return false;
	if (!c->w2) {
		*next = i + 1;
		return true;
	}
	/* "driver's license": the possessive is not a token */
	if (dd_tok_kw(sc, i + 1, c->w2)) {
		*next = i + 2;
		return true;
	}
	return false;
}

void dd_text_scan_ids(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];

		if (t->kind != DD_TK_WORD || !(dd_kw_lists[t->kw] & DD_KL_IDCUE))
			continue;
		for (size_t c = 0; c < sizeof(id_cues) / sizeof(id_cues[0]); c++) {
			size_t j, k, j0;
			bool digit;

			if (!cue_match(sc, i, &id_cues[c], &j))
				continue;
			j0 = j;
			j = skip_filler(sc, j);
			/* "Patient ID", "Case Number": a second cue word */
			if (j < sc->ntk && sc->tk[j].kind == DD_TK_WORD &&
			    (dd_tok_kw(sc, j, DD_KW_id) || dd_tok_kw(sc, j, DD_KW_number)))
				j = skip_filler(sc, j + 1);
			if (j >= sc->ntk)
				break;
			/* the value must follow on the same line */
			if (sc->tk[j].flags & DD_TF_NL_BEFORE)
				break;
			k = id_value(sc, j, &digit);
			if (k > j && digit && sc->tk[k - 1].e - sc->tk[j].s >= 3) {
				/* "group 3", "exam 2": without "#", ":" or
				 * "number" between, a short number is not an
				 * identifier */
				size_t len = sc->tk[k - 1].e - sc->tk[j].s;

				if (len < 6 && j == j0 &&
				    id_cues[c].type == DD_IT_GENERIC_ID)
					break;
				dd_scan_add(sc, sc->tk[j].s, sc->tk[k - 1].e,
					    id_cues[c].type, false);
			}
			break;
		}
	}
}

/* ---- ages of 90 and over ------------------------------------------------------------ */

static const uint16_t age_words[] = { DD_KW_ninety, DD_KW_hundred };

static bool age_after(const struct dd_scan *sc, size_t j)
{
	/* "-year-old", " year old", " years old", " yo", " y/o", " y.o.",
	 * " yr old", " years of age", "yo" */
	if (dd_tok_punct(sc, j, '-'))
		j++;
	if (dd_tok_kw(sc, j, DD_KW_year) || dd_tok_kw(sc, j, DD_KW_years) ||
	    dd_tok_kw(sc, j, DD_KW_yr) || dd_tok_kw(sc, j, DD_KW_yrs)) {
		if (dd_tok_punct(sc, j + 1, '-'))
			j++;
		return dd_tok_kw(sc, j + 1, DD_KW_old) || (dd_tok_kw(sc, j + 1, DD_KW_of) &&
						     dd_tok_kw(sc, j + 2, DD_KW_age));
	}
	/* (the "yoM" and "yoF" this once listed were compared in upper case
	 * and never matched; adding them would change the spans found) */
	if (dd_tok_kw(sc, j, DD_KW_yo))
		return true;
	if (dd_tok_kw(sc, j, DD_KW_y) && (dd_tok_punct(sc, j + 1, '/') || dd_tok_punct(sc, j + 1, '.')) &&
	    dd_tok_kw(sc, j + 2, DD_KW_o))
		return true;
	return false;
}

static bool age_before(const struct dd_scan *sc, size_t i)
{
	size_t j = i;

	if (j && dd_tok_punct(sc, j - 1, ':'))
		j--;
	if (!j)
		return false;
	return dd_tok_kw(sc, j - 1, DD_KW_age) || dd_tok_kw(sc, j - 1, DD_KW_aged) ||
	       dd_tok_kw(sc, j - 1, DD_KW_ages);
}

void dd_text_scan_ages(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];
		const char *s = sc->s + t->s;
		size_t l = t->e - t->s;
		unsigned v = 0;

		if (t->kind == DD_TK_WORD) {
			/* "ninety-two-year-old" */
			for (size_t k = 0; k < sizeof(age_words) / sizeof(age_words[0]); k++) {
				size_t e = i;

				if (!dd_tok_kw(sc, i, age_words[k]))
					continue;
				while (e + 2 < sc->ntk && dd_tok_punct(sc, e + 1, '-') &&
				       sc->tk[e + 2].kind == DD_TK_WORD &&
				       !dd_tok_kw(sc, e + 2, DD_KW_year) && !dd_tok_kw(sc, e + 2, DD_KW_years))
					e += 2;
				if (age_after(sc, e + 1) || age_before(sc, i))
					dd_scan_add(sc, t->s, sc->tk[e].e, DD_IT_AGE, false);
			}
			continue;
		}
		if (t->kind == DD_TK_ALNUM && l >= 3 && l <= 5) {
			/* "92yo", "92M", "92F" */
			size_t d = 0;

			while (d < l && s[d] >= '0' && s[d] <= '9')
				v = v * 10 + (unsigned)(s[d++] - '0');
			if (d >= 2 && d <= 3 && v >= 90 && v < 130 &&
			    ((l - d == 2 && !strncasecmp(s + d, "yo", 2)) || ((l - d == 1) &&
			     (s[d] == 'M' || s[d] == 'F'))))
				dd_scan_add(sc, t->s, t->s + d, DD_IT_AGE, false);
			continue;
		}
		if (t->kind != DD_TK_NUM || l < 2 || l > 3)
			continue;
		for (size_t k = 0; k < l; k++)
			v = v * 10 + (unsigned)(s[k] - '0');
		if (v < 90 || v >= 130)
			continue;
		if (i && dd_tok_punct(sc, i - 1, '.'))
			continue;
		if (age_after(sc, i + 1) || age_before(sc, i))
			dd_scan_add(sc, t->s, t->e, DD_IT_AGE, false);
	}
}
