/* dd_text_ctx.c: contextual identifiers, the values of the record itself,
 * searched for in every spelling.
 *
 * A name ("FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX", or "Given Family" or
 * "Family, Given") becomes its words, folded (case, diacritics: Müller =
 * MULLER, and also ü -> ue: MUELLER; ß -> ss), without apostrophes
 * (O'Brien = OBrien = "O Brien") and split at hyphens (Smith-Jones: Smith,
 * Jones and SmithJones).  Each word is found alone, in any order, with
 * adjacent initials of the name ("J. Smith", "Smith J.").  A word that is
 * also an ordinary English word ("Brown", "Rose") matches only when
 * capitalised.  Lone initials ("JD") are not matched: too many
 * abbreviations look like them.
 * Identifiers, phone numbers: their letters and digits, matched with any
 * of "-", ".", "/", " " between characters (12345678 = 1234-5678 =
 * 12 345 678), case-insensitively.
 * Dates ("YYYYMMDD"): any date the date detector finds with the same day.
 * Addresses, places, organisations: the sequence of words, with common
 * street abbreviations equal to their long forms ("St" = "Street"). */
#include <stdlib.h>
#include <string.h>

#include "dd_text_i.h"

/* CV_RAW: a name part in a script written without spaces (CJK, kana,
 * hangul: "山田太郎"), found as a raw UTF-8 substring anywhere. */
enum cv_kind { CV_WORD, CV_ALNUM, CV_SEQ, CV_RAW };

struct ctx_val {
	enum dd_info_type type;
	enum cv_kind kind;
	bool common;     /* CV_WORD: also an ordinary word */
	char *key;       /* folded; CV_SEQ: words separated by one space */
	size_t len;
	uint16_t next;   /* the next value with the same first byte and class */
};

struct ctx_date {
	int y, m, d;
};

#define CTX_MAX_VALUES 4096
_Static_assert(CTX_MAX_VALUES < 65536, "value chains are 16-bit");

struct dd_text_ctx {
	struct ctx_val *v;
	size_t n, cap;
	struct ctx_date *dates;
	size_t nd, capd;
	/* The values by the first byte of their key, in the order they were
	 * added: head[0] for CV_ALNUM, head[1] for the others; 1-based
	 * indices into v, chained by ctx_val.next (0 ends).  A token is
	 * tried only against the values that start with its first byte. */
	uint16_t head[2][256], tail[2][256]; /* (CTX_MAX_VALUES fits) */
	char initials[32];  /* upper-case initials of the names */
	size_t ninitials;
	int shift;
	bool shift_set;
};

dd_err dd_text_ctx_new(struct dd_text_ctx **out)
{
	if (!out)
		return DD_E_INVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? DD_OK : DD_E_NOMEM;
}

void dd_text_ctx_free(struct dd_text_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].key);
	free(c->v);
	free(c->dates);
	free(c);
}

void dd_text_ctx_set_shift(struct dd_text_ctx *c, int days)
{
	if (!c)
		return;
	c->shift = days;
	c->shift_set = true;
}

int dd_text_ctx_shift(const struct dd_text_ctx *c, bool *set)
{
	*set = c && c->shift_set;
	return c ? c->shift : 0;
}

bool dd_text_ctx_has_date(const struct dd_text_ctx *c, int y, int m, int d)
{
	for (size_t i = 0; c && i < c->nd; i++)
		if (c->dates[i].m == m && (c->dates[i].d == d || !d) &&
		    (y < 0 || c->dates[i].y == y))
			return true;
	return false;
}

static dd_err val_push(struct dd_text_ctx *c, enum dd_info_type type,
		       enum cv_kind kind, const char *key, size_t len)
{
	struct ctx_val *v;

	if (len < 2)
		return DD_OK;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].kind == kind && c->v[i].len == len &&
		    memcmp(c->v[i].key, key, len) == 0)
			return DD_OK;
	if (c->n >= CTX_MAX_VALUES)
		return DD_E_LIMIT;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		struct ctx_val *nv = realloc(c->v, nc * sizeof(*nv));

		if (!nv)
			return DD_E_NOMEM;
		c->v = nv;
		c->cap = nc;
	}
	v = &c->v[c->n];
	v->key = malloc(len + 1);
	if (!v->key)
		return DD_E_NOMEM;
	memcpy(v->key, key, len);
	v->key[len] = 0;
	v->len = len;
	v->type = type;
	v->kind = kind;
	v->next = 0;
	if (kind != CV_RAW) {
		unsigned cl = kind == CV_ALNUM ? 0 : 1, f0 = (unsigned char)key[0];

		if (c->tail[cl][f0])
			c->v[c->tail[cl][f0] - 1].next = (uint16_t)(c->n + 1);
		else
			c->head[cl][f0] = (uint16_t)(c->n + 1);
		c->tail[cl][f0] = (uint16_t)(c->n + 1);
	}
	v->common = kind == CV_WORD &&
		    (dd_tw_lookup(key, len) & (DD_TW_WORD | DD_TW_MED)) != 0;
	c->n++;
	return DD_OK;
}

/* ü -> ue, ö -> oe, ä -> ae: the German transliteration of a word. */
static size_t translit(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	bool changed = false;

	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)s + i;

		if (p[0] == 0xC3 && i + 1 < n &&
		    (p[1] == 0xBC || p[1] == 0x9C || p[1] == 0xB6 || p[1] == 0x96 ||
		     p[1] == 0xA4 || p[1] == 0x84)) {
			char v = (p[1] == 0xBC || p[1] == 0x9C) ? 'u' :
				 (p[1] == 0xB6 || p[1] == 0x96) ? 'o' : 'a';

			if (o + 2 >= cap)
				return 0;
			out[o++] = v;
			out[o++] = 'e';
			i++;
			changed = true;
			continue;
		}
		if (o + 1 >= cap)
			return 0;
		out[o++] = s[i];
	}
	out[o] = 0;
	return changed ? o : 0;
}

static dd_err add_name_word(struct dd_text_ctx *c, enum dd_info_type type,
			    const char *w, size_t n)
{
	char key[128], tl[128];
	size_t kl, tn;
	dd_err err;

	kl = dd_text_fold(w, n, key, sizeof(key));
	if (kl < 2)
		return DD_OK;
	err = val_push(c, type, CV_WORD, key, kl);
	if (!err && (tn = translit(w, n, tl, sizeof(tl))) &&
	    (kl = dd_text_fold(tl, tn, key, sizeof(key))) >= 2)
		err = val_push(c, type, CV_WORD, key, kl);
	if (!err && c->ninitials < sizeof(c->initials)) {
		char i0 = w[0];

		if (i0 >= 'a' && i0 <= 'z')
			i0 = (char)(i0 - 32);
		if (i0 >= 'A' && i0 <= 'Z')
			c->initials[c->ninitials++] = i0;
	}
	return err;
}

/* Code points in @n bytes of UTF-8. */
static size_t cps(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

/* True if @s holds a character of a script written without spaces
 * (3- and 4-byte UTF-8: CJK, kana, hangul, ...). */
static bool has_wide(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0xE0)
			return true;
	return false;
}

/* A PN group in such a script: each part of at least two characters, and
 * family+given glued both ways ("山田太郎", "太郎山田"), as raw values. */
static dd_err add_raw_name(struct dd_text_ctx *c, enum dd_info_type type,
			   const char *s, size_t n)
{
	const char *part[2] = {NULL, NULL};
	size_t plen[2] = {0, 0}, np = 0, i = 0;
	dd_err err = DD_OK;

	while (i < n && !err) {
		size_t j = i;

		while (j < n && s[j] != '^' && s[j] != ' ')
			j++;
		if (j > i && cps(s + i, j - i) >= 2)
			err = val_push(c, type, CV_RAW, s + i, j - i);
		if (j > i && np < 2) {
			part[np] = s + i;
			plen[np++] = j - i;
		}
		i = j + 1;
	}
	if (!err && np == 2 && plen[0] + plen[1] < 128) {
		char glued[128];

		memcpy(glued, part[0], plen[0]);
		memcpy(glued + plen[0], part[1], plen[1]);
		err = val_push(c, type, CV_RAW, glued, plen[0] + plen[1]);
		if (!err) {
			memcpy(glued, part[1], plen[1]);
			memcpy(glued + plen[1], part[0], plen[0]);
			err = val_push(c, type, CV_RAW, glued, plen[0] + plen[1]);
		}
	}
	return err;
}

/* A name value: components split at '^', then words at spaces, commas,
 * hyphens and dots; hyphenated and spaced parts also joined. */
static dd_err add_name(struct dd_text_ctx *c, enum dd_info_type type,
		       const char *s, size_t n)
{
	size_t comp = 0, i = 0;
	dd_err err = DD_OK;

	while (i < n && !err) {
		size_t j = i, w;
		char joined[128];
		size_t jl = 0, nw = 0;

		while (j < n && s[j] != '^' && s[j] != '=')
			j++;
		if (comp == 0 && has_wide(s, n)) {
			size_t g = 0;

			while (g < n && s[g] != '=')
				g++;
			err = add_raw_name(c, type, s, g);
		}
		/* prefix and suffix (components 3 and 4) are titles */
		if (comp < 3) {
			w = i;
			while (w < j && !err) {
				size_t e = w;

				while (e < j && s[e] != ' ' && s[e] != ',' && s[e] != '-' &&
				       s[e] != '.')
					e++;
				if (e > w) {
					err = add_name_word(c, type, s + w, e - w);
					if (jl + (e - w) < sizeof(joined)) {
						memcpy(joined + jl, s + w, e - w);
						jl += e - w;
					}
					nw++;
				}
				w = e + 1;
			}
			if (!err && nw > 1 && nw <= 3)
				err = add_name_word(c, type, joined, jl);
		}
		if (j < n && s[j] == '=')
			break; /* ideographic/phonetic groups: the same person */
		comp++;
		i = j + 1;
	}
	return err;
}

static dd_err add_alnum(struct dd_text_ctx *c, enum dd_info_type type,
			const char *s, size_t n)
{
	char key[128];
	size_t kl = 0;

	for (size_t i = 0; i < n && kl + 1 < sizeof(key); i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch | 0x20);
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			key[kl++] = ch;
	}
	/* short identifiers ("12") would match everywhere */
	if (kl < 3)
		return DD_OK;
	return val_push(c, type, CV_ALNUM, key, kl);
}

static const char *const abbrev[][2] = { { "street", "st" }, { "avenue", "ave" },
	{ "road", "rd" }, { "drive", "dr" }, { "boulevard", "blvd" },
	{ "lane", "ln" }, { "court", "ct" }, { "place", "pl" }, { "north", "n" },
	{ "south", "s" }, { "east", "e" }, { "west", "w" }, { "apartment", "apt" },
	{ "suite", "ste" }, { "saint", "st" }, { "mount", "mt" }, { "fort", "ft" },
	{ "highway", "hwy" }, { "parkway", "pkwy" }, { "terrace", "ter" },
	{ "circle", "cir" } };

/* Shorten a folded word (@out, @l bytes, NUL-terminated) to its
 * abbreviation. */
static size_t seq_abbrev(char *out, size_t l, size_t cap)
{
	if (l < 4 || l > 9)
		return l; /* no long form is shorter or longer */
	for (size_t k = 0; k < sizeof(abbrev) / sizeof(abbrev[0]); k++)
		if (out[0] == abbrev[k][0][0] && strcmp(out, abbrev[k][0]) == 0 &&
		    strlen(abbrev[k][1]) < cap) {
			strcpy(out, abbrev[k][1]);
			return strlen(out);
		}
	return l;
}

/* Fold one word and shorten it to its abbreviation. */
static size_t seq_word(const char *w, size_t n, char *out, size_t cap)
{
	return seq_abbrev(out, dd_text_fold(w, n, out, cap), cap);
}

static bool word_byte(unsigned char ch)
{
	return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z' ? true :
	       (ch >= '0' && ch <= '9') || ch >= 0x80 || ch == '\'';
}

static dd_err add_seq(struct dd_text_ctx *c, enum dd_info_type type,
		      const char *s, size_t n)
{
	char key[256], w[64];
	size_t kl = 0, i = 0, nw = 0;

	while (i < n) {
		size_t e, l;

		while (i < n && !word_byte((unsigned char)s[i]))
			i++;
		e = i;
		while (e < n && word_byte((unsigned char)s[e]))
			e++;
		if (e == i)
			break;
		l = seq_word(s + i, e - i, w, sizeof(w));
		if (l && kl + l + 2 < sizeof(key)) {
			if (kl)
				key[kl++] = ' ';
			memcpy(key + kl, w, l);
			kl += l;
			nw++;
		}
		i = e;
	}
	if (!kl)
		return DD_OK;
	/* one short word ("MA", "12") is not worth a match */
	if (nw == 1 && kl < 4)
		return DD_OK;
	key[kl] = 0;
	return val_push(c, type, CV_SEQ, key, kl);
}

static dd_err add_date(struct dd_text_ctx *c, const char *s, size_t n)
{
	char d[9];
	size_t k = 0;
	int y, m, dd;

	for (size_t i = 0; i < n && k < 8; i++)
		if (s[i] >= '0' && s[i] <= '9')
			d[k++] = s[i];
		else if (s[i] != '-' && s[i] != '.' && s[i] != '/')
			break;
	if (k < 8)
		return DD_OK;
	d[8] = 0;
	y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
	m = (d[4] - '0') * 10 + (d[5] - '0');
	dd = (d[6] - '0') * 10 + (d[7] - '0');
	if (m < 1 || m > 12 || dd < 1 || dd > 31)
		return DD_OK;
	if (c->nd == c->capd) {
		size_t nc = c->capd ? c->capd * 2 : 8;
		struct ctx_date *v;

		if (c->nd >= CTX_MAX_VALUES)
			return DD_E_LIMIT;
		v = realloc(c->dates, nc * sizeof(*v));
		if (!v)
			return DD_E_NOMEM;
		c->dates = v;
		c->capd = nc;
	}
	c->dates[c->nd++] = (struct ctx_date){ y, m, dd };
	return DD_OK;
}

dd_err dd_text_ctx_add(struct dd_text_ctx *c, enum dd_info_type type,
		       const char *value, size_t len)
{
	size_t digits = 0, letters = 0;

	if (!c || (!value && len) || (unsigned)type >= DD_IT_LAST)
		return DD_E_INVAL;
	while (len && (value[0] == ' ' || value[0] == '\0'))
		value++, len--;
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\0'))
		len--;
	if (len < 2)
		return DD_OK;
	for (size_t i = 0; i < len; i++) {
		if (value[i] >= '0' && value[i] <= '9')
			digits++;
		else if (((unsigned char)value[i] | 0x20) >= 'a' &&
			 ((unsigned char)value[i] | 0x20) <= 'z')
			letters++;
	}
	switch (type) {
	case DD_IT_PERSON_NAME:
	case DD_IT_FIRST_NAME:
	case DD_IT_LAST_NAME:
		return add_name(c, DD_IT_PERSON_NAME, value, len);
	case DD_IT_DATE:
	case DD_IT_DATE_OF_BIRTH:
		return add_date(c, value, len);
	case DD_IT_STREET_ADDRESS:
	case DD_IT_LOCATION:
	case DD_IT_US_ZIP:
	case DD_IT_ORGANIZATION_NAME:
		if (digits && !letters)
			return add_alnum(c, type, value, len);
		return add_seq(c, type, value, len);
	default:
		if (digits)
			return add_alnum(c, type, value, len);
		return add_seq(c, type, value, len);
	}
}

/* ---- matching ------------------------------------------------------------------ */

/* Match CV_ALNUM @v at byte @i; returns the end or 0. */
static size_t match_alnum(const char *s, size_t n, size_t i, const struct ctx_val *v)
{
	size_t k = 0, p = i;

	while (p < n && k < v->len) {
		char ch = s[p];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch | 0x20);
		if (ch == v->key[k]) {
			k++;
			p++;
			continue;
		}
		/* one separator between two characters */
		if (k > 0 && (ch == '-' || ch == '.' || ch == '/' || ch == ' ') && p + 1 < n) {
			char nx = s[p + 1];

			if (nx >= 'A' && nx <= 'Z')
				nx = (char)(nx | 0x20);
			if (nx == v->key[k]) {
				p++;
				continue;
			}
		}
		return 0;
	}
	if (k < v->len)
		return 0;
	if (p < n && ((((unsigned char)s[p] | 0x20) >= 'a' && ((unsigned char)s[p] | 0x20) <= 'z') ||
		      (s[p] >= '0' && s[p] <= '9')))
		return 0;
	return p;
}

/* Match CV_SEQ @v at word token @i; returns the last token + 1, or 0. */
static size_t match_seq(const struct dd_scan *sc, size_t i, const struct ctx_val *v)
{
	size_t k = 0, j = i;
	char w[64];

	while (j < sc->ntk && k < v->len) {
		const struct dd_tok *t = &sc->tk[j];
		const char *fw;
		size_t l;

		if (t->kind == DD_TK_PUNCT) {
			if (j == i)
				return 0;
			j++;
			continue;
		}
		/* seq_word() of the token, from its fold */
		fw = dd_tok_fold(sc, j, sizeof(w) - 1, &l);
		if (!fw)
			return 0;
		memcpy(w, fw, l);
		w[l] = 0;
		l = seq_abbrev(w, l, sizeof(w));
		if (!l || k + l > v->len || memcmp(v->key + k, w, l) != 0)
			return 0;
		k += l;
		j++;
		if (k == v->len)
			return j;
		if (v->key[k] != ' ')
			return 0;
		k++;
	}
	return 0;
}

static bool word_match(const struct dd_scan *sc, size_t i, const struct ctx_val *v,
		       size_t *end)
{
	size_t l, l2;
	const char *key = dd_tok_fold(sc, i, 127, &l), *k2;

	if (!key)
		return false;
	if (l == v->len && memcmp(key, v->key, l) == 0) {
		*end = i;
		return true;
	}
	/* "O Brien", "Mc Donald": two tokens folded together */
	if (l < v->len && memcmp(key, v->key, l) == 0 && i + 1 < sc->ntk &&
	    sc->tk[i + 1].kind == DD_TK_WORD && dd_tok_adjacent(sc, i, i + 1)) {
		k2 = dd_tok_fold(sc, i + 1, 127 - l, &l2);
		if (k2 && l + l2 == v->len && memcmp(k2, v->key + l, l2) == 0) {
			*end = i + 1;
			return true;
		}
	}
	return false;
}

static bool is_ctx_initial(const struct dd_scan *sc, size_t i)
{
	const struct dd_text_ctx *c = sc->c;
	char ch;

	if (i >= sc->ntk || !(sc->tk[i].flags & DD_TF_INITIAL))
		return false;
	ch = sc->s[sc->tk[i].s];
	return memchr(c->initials, ch, c->ninitials) != NULL;
}

/* Does word token @i match any contextual name word? */
static bool ctx_word_any(const struct dd_scan *sc, size_t i)
{
	size_t e;

	if (sc->tk[i].kind != DD_TK_WORD)
		return false;
	for (size_t k = 0; k < sc->c->n; k++)
		if (sc->c->v[k].kind == CV_WORD && word_match(sc, i, &sc->c->v[k], &e) && e == i)
			return true;
	return false;
}

/* CV_RAW values: raw substrings (UTF-8 keeps them on character
 * boundaries). */
static void scan_raw(struct dd_scan *sc, const struct dd_text_ctx *c)
{
	for (size_t k = 0; k < c->n && !sc->err; k++) {
		const struct ctx_val *v = &c->v[k];
		const char *p = sc->s, *end = sc->s + sc->n, *hit;

		if (v->kind != CV_RAW)
			continue;
		while (p < end && (hit = memmem(p, (size_t)(end - p), v->key, v->len))) {
			dd_scan_add(sc, (size_t)(hit - sc->s),
				    (size_t)(hit - sc->s) + v->len, v->type, true);
			p = hit + v->len;
		}
	}
}

void dd_text_scan_ctx(struct dd_scan *sc)
{
	const struct dd_text_ctx *c = sc->c;

	if (!c || !c->n)
		return;
	scan_raw(sc, c);
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];
		/* a value can only match where its key's first byte is: the
		 * first byte, lower-cased, for CV_ALNUM (match_alnum); the
		 * first byte of the folded token for the others */
		unsigned char fa = (unsigned char)sc->s[t->s];
		unsigned ka, kw;

		if (t->kind == DD_TK_PUNCT)
			continue; /* no value matches at punctuation */
		if (fa >= 'A' && fa <= 'Z')
			fa |= 0x20;
		ka = c->head[0][fa];
		kw = t->fl ? c->head[1][(unsigned char)sc->fold[t->fo]] : 0;
		/* the two chains merged: the values in the order they were
		 * added, the first that matches wins */
		while (ka || kw) {
			const struct ctx_val *v;
			size_t e, b = i;

			if (ka && (!kw || ka < kw)) {
				v = &c->v[ka - 1];
				ka = v->next;
			} else {
				v = &c->v[kw - 1];
				kw = v->next;
			}
			if (v->kind == CV_ALNUM) {
				if (t->kind == DD_TK_PUNCT)
					continue;
				e = match_alnum(sc->s, sc->n, t->s, v);
				if (e) {
					dd_scan_add(sc, t->s, e, v->type, true);
					break;
				}
				continue;
			}
			if (v->kind == CV_SEQ) {
				if ((e = match_seq(sc, i, v))) {
					dd_scan_add(sc, t->s, sc->tk[e - 1].e, v->type, true);
					break;
				}
				continue;
			}
			if (t->kind != DD_TK_WORD || !word_match(sc, i, v, &e))
				continue;
			if (v->common && !(t->flags & (DD_TF_CAP | DD_TF_ALLCAPS)))
				continue;
			/* "Smith-Jones": the other half glued by a hyphen */
			while (e + 2 < sc->ntk && dd_tok_punct(sc, e + 1, '-') &&
			       sc->tk[e + 1].s == sc->tk[e].e && sc->tk[e + 2].s == sc->tk[e + 1].e &&
			       ctx_word_any(sc, e + 2))
				e += 2;
			/* adjacent initials: "J. Smith", "Smith J.", "Smith, J." */
			if (b >= 2 && dd_tok_punct(sc, b - 1, '.') && is_ctx_initial(sc, b - 2))
				b -= 2;
			if (e + 2 < sc->ntk && is_ctx_initial(sc, e + 1))
				e += 2;
			else if (e + 3 < sc->ntk && dd_tok_punct(sc, e + 1, ',') &&
				 is_ctx_initial(sc, e + 2))
				e += 3;
			dd_scan_add(sc, sc->tk[b].s, sc->tk[e].e, v->type, true);
			break;
		}
	}
}
