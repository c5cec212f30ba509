/* dd_text_date.c: dates in every common spelling, and their shift in the
 * same spelling.
 *
 * Numeric: 2019-03-04, 2019/03/04, 03/04/2019, 3/4/19, 04.03.2019 (a dot
 * means day first), 03/2019, 2019-03, and 20190304 (eight digits that make
 * a valid date between 1900 and 2099).  With a month name: March 4, 2019;
 * Mar. 4th 2019; 4 March 2019; 4th of March, 2019; 04-Mar-2019; March
 * 2019; March 4; 4 Mar.  "3/4" without a year counts only after a date
 * cue ("on", "dated", "DOB", "date").  "May" counts only with a day or a
 * year next to it.  Times and bare years are not dates here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dd_text_i.h"

static const char *const months[12] = { "january", "february", "march",
	"april", "may", "june", "july", "august", "september", "october",
	"november", "december" };

/* Month of the word token @i (1..12), 0 if none: a month name or its
 * first three letters, or "sept". */
static int tok_month(const struct dd_scan *sc, size_t i)
{
	if (i >= sc->ntk)
		return 0;
	switch (sc->tk[i].kw) {
	case DD_KW_january: case DD_KW_jan: return 1;
	case DD_KW_february: case DD_KW_feb: return 2;
	case DD_KW_march: case DD_KW_mar: return 3;
	case DD_KW_april: case DD_KW_apr: return 4;
	case DD_KW_may: return 5;
	case DD_KW_june: case DD_KW_jun: return 6;
	case DD_KW_july: case DD_KW_jul: return 7;
	case DD_KW_august: case DD_KW_aug: return 8;
	case DD_KW_september: case DD_KW_sep: case DD_KW_sept: return 9;
	case DD_KW_october: case DD_KW_oct: return 10;
	case DD_KW_november: case DD_KW_nov: return 11;
	case DD_KW_december: case DD_KW_dec: return 12;
	default: return 0;
	}
}

/* Numeric value of a NUM token of 1..4 digits; -1 otherwise. */
static int tok_num(const struct dd_scan *sc, size_t i, size_t *len)
{
	const struct dd_tok *t;
	int v = 0;

	if (i >= sc->ntk)
		return -1;
	t = &sc->tk[i];
	if (t->kind != DD_TK_NUM || t->e - t->s > 4)
		return -1;
	for (size_t k = t->s; k < t->e; k++)
		v = v * 10 + (sc->s[k] - '0');
	*len = t->e - t->s;
	return v;
}

/* A day: "4", "04", "4th", "1st"; value or -1. */
static int tok_day(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t;
	size_t l, k;
	int v = 0;

	if (i >= sc->ntk)
		return -1;
	t = &sc->tk[i];
	l = t->e - t->s;
	if (t->kind == DD_TK_NUM) {
		if (l > 2)
			return -1;
	} else if (t->kind == DD_TK_ALNUM) {
		const char *s = sc->s + t->s;

		if (l < 3 || l > 4)
			return -1;
		k = l - 2;
		if (!(strncasecmp(s + k, "st", 2) == 0 || strncasecmp(s + k, "nd", 2) == 0 ||
		      strncasecmp(s + k, "rd", 2) == 0 || strncasecmp(s + k, "th", 2) == 0))
			return -1;
		l = k;
	} else {
		return -1;
	}
	for (k = 0; k < l; k++) {
		char c = sc->s[t->s + k];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	return v >= 1 && v <= 31 ? v : -1;
}

static bool valid_ymd(int y, int m, int d)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12 || d < 0 || d > mdays[m - 1])
		return false;
	if (y >= 0 && m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

static void fld(struct dd_date_fmt *f, const struct dd_scan *sc, size_t i,
		uint8_t kind, size_t base)
{
	if (f->nf >= 3)
		return;
	f->f[f->nf].s = (uint32_t)(sc->tk[i].s - base);
	f->f[f->nf].e = (uint32_t)(sc->tk[i].e - base);
	f->f[f->nf].kind = kind;
	f->nf++;
}

/* Are tokens i..j joined by the one-byte punctuation @sep, no spaces? */
static bool glued(const struct dd_scan *sc, size_t i, char *sep)
{
	const struct dd_tok *a, *p, *b;

	if (i + 2 >= sc->ntk)
		return false;
	a = &sc->tk[i];
	p = &sc->tk[i + 1];
	b = &sc->tk[i + 2];
	if (p->kind != DD_TK_PUNCT || p->s != a->e || b->s != p->e || p->e - p->s != 1)
		return false;
	if (*sep)
		return sc->s[p->s] == *sep;
	if (!strchr("/-.", sc->s[p->s]))
		return false;
	*sep = sc->s[p->s];
	return true;
}

static int year4(int v, size_t len)
{
	if (len == 4 && v >= 1800 && v <= 2199)
		return v;
	return -1;
}

static int year2(int v)
{
	return v <= 40 ? 2000 + v : 1900 + v;
}

static bool date_cue(const struct dd_scan *sc, size_t i)
{
	if (sc->parse_only)
		return true;

	for (size_t k = 1; k <= 3 && k <= i; k++) {
		if (sc->tk[i - k].kind == DD_TK_PUNCT)
			continue;
		if (dd_tok_in(sc, i - k, DD_KL_DATECUE))
			return true;
		break;
	}
	return false;
}

/* Numeric date at token @i; returns the end token (exclusive) or 0. */
static size_t num_date(const struct dd_scan *sc, size_t i, struct dd_date_fmt *f,
		       size_t base)
{
	size_t l1 = 0, l2, l3;
	int a = tok_num(sc, i, &l1), b, c;
	char sep = 0;

	if (i < sc->ntk && sc->tk[i].kind == DD_TK_NUM && sc->tk[i].e - sc->tk[i].s == 8) {
		const char *s = sc->s + sc->tk[i].s;
		int y = atoi((char[5]){ s[0], s[1], s[2], s[3], 0 });
		int m = (s[4] - '0') * 10 + (s[5] - '0'), d = (s[6] - '0') * 10 + (s[7] - '0');

		if (y >= 1900 && y <= 2099 && d >= 1 && valid_ymd(y, m, d)) {
			f->y = y, f->m = m, f->d = d;
			/* one token holding three fields: split it */
			f->f[0].s = (uint32_t)(sc->tk[i].s - base);
			f->f[0].e = f->f[0].s + 4;
			f->f[0].kind = DD_DF_Y4;
			f->f[1].s = f->f[0].e, f->f[1].e = f->f[0].e + 2;
			f->f[1].kind = DD_DF_MNUM;
			f->f[2].s = f->f[1].e, f->f[2].e = f->f[1].e + 2;
			f->f[2].kind = DD_DF_DAY;
			f->nf = 3;
			return i + 1;
		}
		return 0;
	}
	if (a < 0 || !glued(sc, i, &sep))
		return 0;
	b = tok_num(sc, i + 2, &l2);
	if (b < 0)
		return 0;
	if (glued(sc, i + 2, &sep) && (c = tok_num(sc, i + 4, &l3)) >= 0) {
		/* three fields; the token after must not continue the chain */
		if (i + 5 < sc->ntk && sc->tk[i + 5].s == sc->tk[i + 4].e &&
		    sc->tk[i + 5].kind == DD_TK_PUNCT && strchr("/-.", sc->s[sc->tk[i + 5].s]) &&
		    i + 6 < sc->ntk && sc->tk[i + 6].s == sc->tk[i + 5].e &&
		    sc->tk[i + 6].kind == DD_TK_NUM)
			return 0;
		if (l1 == 4 && l2 <= 2 && l3 <= 2 && year4(a, l1) > 0 && valid_ymd(a, b, c) && c) {
			f->y = a, f->m = b, f->d = c;
			fld(f, sc, i, DD_DF_Y4, base);
			fld(f, sc, i + 2, DD_DF_MNUM, base);
			fld(f, sc, i + 4, DD_DF_DAY, base);
			return i + 5;
		}
		if (l1 <= 2 && l2 <= 2 && (l3 == 4 || (l3 == 2 && sep == '/'))) {
			int y = l3 == 4 ? year4(c, l3) : year2(c);
			bool dmy = sep == '.' || (a > 12 && b <= 12);
			int m = dmy ? b : a, d = dmy ? a : b;

			if (y < 0 || !d || !valid_ymd(y, m, d))
				return 0;
			f->y = y, f->m = m, f->d = d;
			fld(f, sc, i, dmy ? DD_DF_DAY : DD_DF_MNUM, base);
			fld(f, sc, i + 2, dmy ? DD_DF_MNUM : DD_DF_DAY, base);
			fld(f, sc, i + 4, l3 == 4 ? DD_DF_Y4 : DD_DF_Y2, base);
			return i + 5;
		}
		return 0;
	}
	/* two fields: MM/YYYY, YYYY-MM, M/D after a cue; not a chain */
	if (i + 4 < sc->ntk && sc->tk[i + 3].s == sc->tk[i + 2].e &&
	    sc->tk[i + 3].kind == DD_TK_PUNCT && strchr("/-.", sc->s[sc->tk[i + 3].s]) &&
	    sc->tk[i + 4].s == sc->tk[i + 3].e && sc->tk[i + 4].kind != DD_TK_PUNCT)
		return 0;
	if (l1 <= 2 && l2 == 4 && sep == '/' && a >= 1 && a <= 12 && year4(b, l2) > 0) {
		f->y = b, f->m = a, f->d = 0;
		fld(f, sc, i, DD_DF_MNUM, base);
		fld(f, sc, i + 2, DD_DF_Y4, base);
		return i + 3;
	}
	if (l1 == 4 && l2 == 2 && sep == '-' && year4(a, l1) > 0 && b >= 1 && b <= 12) {
		f->y = a, f->m = b, f->d = 0;
		fld(f, sc, i, DD_DF_Y4, base);
		fld(f, sc, i + 2, DD_DF_MNUM, base);
		return i + 3;
	}
	if (l1 <= 2 && l2 <= 2 && sep == '/' && b >= 1 && valid_ymd(-1, a, b) &&
	    date_cue(sc, i)) {
		f->y = -1, f->m = a, f->d = b;
		fld(f, sc, i, DD_DF_MNUM, base);
		fld(f, sc, i + 2, DD_DF_DAY, base);
		return i + 3;
	}
	return 0;
}

/* Skip "." after an abbreviated month and "," ; return the next token. */
static size_t skip_p(const struct dd_scan *sc, size_t j, char c)
{
	return dd_tok_punct(sc, j, c) ? j + 1 : j;
}

static bool month_ok(const struct dd_scan *sc, size_t i, int m)
{
	/* "may" the verb, "mar" the word: month words must be capitalised */
	const struct dd_tok *t = &sc->tk[i];

	if (!(t->flags & DD_TF_CAP))
		return false;
	(void)m;
	return true;
}

/* Month-name dates at token @i. */
static size_t name_date(const struct dd_scan *sc, size_t i, struct dd_date_fmt *f,
			size_t base)
{
	int m = tok_month(sc, i), d, y;
	size_t j, l, jm;

	if (m && month_ok(sc, i, m)) {
		j = skip_p(sc, i + 1, '.');
		/* 4-digit year right after: "March 2019", "March, 2019" */
		y = tok_num(sc, skip_p(sc, j, ','), &l);
		if (y >= 0 && year4(y, l) > 0) {
			f->y = y, f->m = m, f->d = 0;
			fld(f, sc, i, DD_DF_MNAME, base);
			fld(f, sc, skip_p(sc, j, ','), DD_DF_Y4, base);
			return skip_p(sc, j, ',') + 1;
		}
		d = tok_day(sc, j);
		if (d > 0 && !(dd_tok_punct(sc, j + 1, ':')) && valid_ymd(-1, m, d)) {
			size_t k = skip_p(sc, j + 1, ',');

			f->m = m, f->d = d, f->y = -1;
			fld(f, sc, i, DD_DF_MNAME, base);
			fld(f, sc, j, DD_DF_DAY, base);
			y = tok_num(sc, k, &l);
			if (y >= 0 && year4(y, l) > 0 && valid_ymd(y, m, d)) {
				f->y = y;
				fld(f, sc, k, DD_DF_Y4, base);
				return k + 1;
			}
			return j + 1;
		}
		return 0;
	}
	/* day first: "4 March 2019", "4th of March", "04-Mar-2019" */
	d = tok_day(sc, i);
	if (d <= 0)
		return 0;
	j = i + 1;
	if (dd_tok_punct(sc, j, '-') && sc->tk[j].s == sc->tk[i].e) {
		char sep = '-';

		if (!glued(sc, i, &sep) || !(m = tok_month(sc, i + 2)))
			return 0;
		f->m = m, f->d = d, f->y = -1;
		fld(f, sc, i, DD_DF_DAY, base);
		fld(f, sc, i + 2, DD_DF_MNAME, base);
		if (glued(sc, i + 2, &sep) && (y = tok_num(sc, i + 4, &l)) >= 0 &&
		    (l == 4 || l == 2)) {
			f->y = l == 4 ? year4(y, l) : year2(y);
			if (f->y < 0 || !valid_ymd(f->y, m, d))
				return 0;
			fld(f, sc, i + 4, l == 4 ? DD_DF_Y4 : DD_DF_Y2, base);
			return i + 5;
		}
		return valid_ymd(-1, m, d) ? i + 3 : 0;
	}
	if (dd_tok_kw(sc, j, DD_KW_of))
		j++;
	m = tok_month(sc, j);
	if (!m || !month_ok(sc, j, m) || !valid_ymd(-1, m, d))
		return 0;
	f->m = m, f->d = d, f->y = -1;
	fld(f, sc, i, DD_DF_DAY, base);
	fld(f, sc, j, DD_DF_MNAME, base);
	jm = j;
	j = skip_p(sc, j + 1, '.');
	{
		size_t k = skip_p(sc, j, ',');

		y = tok_num(sc, k, &l);
		if (y >= 0 && year4(y, l) > 0 && valid_ymd(y, m, d)) {
			f->y = y;
			fld(f, sc, k, DD_DF_Y4, base);
			return k + 1;
		}
	}
	/* "4 May" needs more than a number and "may" */
	if (m == 5 && !(sc->tk[i].kind == DD_TK_ALNUM))
		return 0;
	return jm + 1;
}

static size_t date_at(const struct dd_scan *sc, size_t i, struct dd_date_fmt *f,
		      size_t base)
{
	size_t e;

	memset(f, 0, sizeof(*f));
	e = num_date(sc, i, f, base);
	if (e)
		return e;
	memset(f, 0, sizeof(*f));
	e = name_date(sc, i, f, base);
	if (e)
		return e;
	return 0;
}

void dd_text_scan_dates(struct dd_scan *sc)
{
	struct dd_date_fmt f;

	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];
		size_t e;

		if (t->kind == DD_TK_PUNCT)
			continue;
		/* a date starts at a number, a day ("4th") or a month name */
		if (t->kind == DD_TK_WORD && !tok_month(sc, i))
			continue;
		/* not inside a longer number chain ("1.2.3", "10-12-2019-5") */
		if (i && sc->tk[i - 1].e == t->s && sc->tk[i - 1].kind == DD_TK_PUNCT &&
		    strchr("/-.", sc->s[sc->tk[i - 1].s]) && i >= 2 &&
		    sc->tk[i - 2].e == sc->tk[i - 1].s && sc->tk[i - 2].kind != DD_TK_PUNCT)
			continue;
		e = date_at(sc, i, &f, 0);
		if (!e)
			continue;
		dd_scan_add(sc, t->s, sc->tk[e - 1].e, DD_IT_DATE,
			    sc->c && dd_text_ctx_has_date(sc->c, f.y, f.m, f.d));
		i = e - 1;
	}
}

bool dd_text_date_parse(const char *s, size_t n, struct dd_date_fmt *f)
{
	struct dd_scan sc = { .s = s, .n = n, .parse_only = true };
	size_t e;
	bool ok;

	dd_text_tokenize(&sc);
	ok = !sc.err && sc.ntk && (e = date_at(&sc, 0, f, 0)) == sc.ntk;
	free(sc.tk);
	free(sc.fold);
	return ok;
}

static void put_month(char *o, size_t cap, const char *orig, size_t ol, int m)
{
	const char *name = months[m - 1];
	size_t l = ol <= 4 ? 3 : strlen(name);
	bool upper = ol > 1 && orig[1] >= 'A' && orig[1] <= 'Z';
	bool lower = orig[0] >= 'a' && orig[0] <= 'z';

	if (ol == 4 && (orig[3] | 0x20) == 't' && m == 9)
		l = 4; /* "Sept" */
	if (l + 1 > cap)
		return;
	for (size_t k = 0; k < l; k++) {
		char c = name[k];

		if (upper || (k == 0 && !lower))
			c = (char)(c & ~0x20);
		o[k] = c;
	}
	o[l] = 0;
}

static const char *ord_suffix(int d)
{
	if (d % 100 >= 11 && d % 100 <= 13)
		return "th";
	switch (d % 10) {
	case 1: return "st";
	case 2: return "nd";
	case 3: return "rd";
	default: return "th";
	}
}

bool dd_text_date_shift(const struct dd_date_fmt *f, const char *s, size_t n,
			int days, char *out, size_t cap)
{
	/* no year: shift within a common (non-leap) year */
	int64_t y = f->y >= 0 ? f->y : 2001, z;
	unsigned m, d;
	size_t o = 0, pos = 0;

	z = dd_days_from_civil(y, (unsigned)f->m, f->d ? (unsigned)f->d : 1) + days;
	dd_civil_from_days(z, &y, &m, &d);
	if (f->y >= 0 && (y < 0 || y > 9999))
		return false;
	for (unsigned k = 0; k <= f->nf; k++) {
		size_t until = k < f->nf ? f->f[k].s : n;
		char tmp[16] = "";
		const char *src = s + (k < f->nf ? f->f[k].s : 0);
		size_t sl = k < f->nf ? f->f[k].e - f->f[k].s : 0;

		if (until < pos || until > n || until - pos + o + 1 > cap)
			return false;
		memcpy(out + o, s + pos, until - pos);
		o += until - pos;
		if (k == f->nf)
			break;
		switch (f->f[k].kind) {
		case DD_DF_Y4:
			snprintf(tmp, sizeof(tmp), "%04d", (int)y);
			break;
		case DD_DF_Y2:
			snprintf(tmp, sizeof(tmp), "%02d", (int)(y % 100));
			break;
		case DD_DF_MNUM:
			snprintf(tmp, sizeof(tmp), sl == 2 ? "%02u" : "%u", m);
			break;
		case DD_DF_MNAME:
			put_month(tmp, sizeof(tmp), src, sl, (int)m);
			break;
		case DD_DF_DAY: {
			size_t nd = 0;
			bool up;

			while (nd < sl && src[nd] >= '0' && src[nd] <= '9')
				nd++;
			snprintf(tmp, sizeof(tmp), nd == 2 && src[0] == '0' ? "%02u" : "%u", d);
			if (nd < sl) {
				up = src[nd] >= 'A' && src[nd] <= 'Z';
				strcat(tmp, ord_suffix((int)d));
				if (up)
					for (char *q = tmp; *q; q++)
						if (*q >= 'a' && *q <= 'z')
							*q = (char)(*q & ~0x20);
			}
			break;
		}
		}
		if (o + strlen(tmp) + 1 > cap)
			return false;
		memcpy(out + o, tmp, strlen(tmp));
		o += strlen(tmp);
		pos = f->f[k].e;
	}
	out[o] = 0;
	return true;
}
