/* dd_text.c: the detector's driver (tokens, candidates, merging) and the
 * TextConfig transformations.  The detectors live in dd_text_pat.c (fixed
 * formats and cue-word identifiers), dd_text_date.c, dd_text_loc.c
 * (addresses, places, organisations), dd_text_names.c and dd_text_ctx.c
 * (values of the record itself).  docs/internals/text.md has the rules. */
#include <stdlib.h>
#include <string.h>

#include "dd_text.h"
#include "dd_text_i.h"

/* What happens to findings of one infoType. */
struct dd_text_action {
	bool on;                 /* false: left as it is */
	enum dd_text_tx_kind kind;
	char mask[8];            /* DD_TX_CHARACTER_MASK, UTF-8, NUL-terminated */
	bool own_key;            /* DD_TX_CRYPTO_HASH with the transform's key */
	struct dd_pseudo key;
};

struct dd_text {
	struct dd_text_action act[DD_IT_LAST];
	struct dd_pseudo pseudo;
	bool have_pseudo;
};

/* ---- folding and the word table ------------------------------------------- */

size_t dd_text_fold(const char *s, size_t n, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;

	if (!cap)
		return 0;
	while (i < n) {
		unsigned c = p[i];
		const char *rep = NULL;
		char one[2] = { 0, 0 };

		if (c < 0x80) {
			if (c >= 'A' && c <= 'Z')
				one[0] = (char)(c - 'A' + 'a');
			else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				 c == ' ')
				one[0] = (char)c;
			else if (c == '\'') {
				i++;
				continue;
			} else
				return 0;
			rep = one;
			i++;
		} else if ((c & 0xE0) == 0xC0 && i + 1 < n) {
			unsigned cp = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);

			if (cp < 0xC0 || cp >= 0x180 || !dd_tw_fold_tab[cp - 0xC0])
				return 0;
			rep = dd_tw_fold_tab[cp - 0xC0];
			i += 2;
		} else if (c == 0xE2 && i + 2 < n && p[i + 1] == 0x80 &&
			   p[i + 2] == 0x99) {
			i += 3; /* ’ */
			continue;
		} else {
			return 0;
		}
		while (*rep) {
			if (o + 1 >= cap)
				return 0;
			out[o++] = *rep++;
		}
	}
	out[o] = 0;
	return o;
}

#define TW_FNV_BASIS 2166136261u
#define TW_FNV_PRIME 16777619u

static uint32_t tw_hash(const char *k, size_t n)
{
	uint32_t h = TW_FNV_BASIS;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= TW_FNV_PRIME;
	}
	return h;
}

/* The slot of @key (@n bytes, hash @h), NULL if absent.  The probe
 * compares the first 8 bytes and the length held in the slot, and reads
 * the blob only for the rest of a longer key. */
static const struct dd_tw_slot *tw_find_h(const char *key, size_t n, uint32_t h)
{
	uint32_t mask = dd_tw_nslots - 1;
	uint64_t k8 = 0;

	if (!n || n > 255)
		return NULL;
	for (size_t i = 0; i < n && i < 8; i++)
		k8 |= (uint64_t)(unsigned char)key[i] << (8 * i);
	for (h &= mask;; h = (h + 1) & mask) {
		const struct dd_tw_slot *sl = &dd_tw_slots[h];

		if (!sl->off_len)
			return NULL;
		if (sl->k8 == k8 && (sl->off_len & 0xFF) == n &&
		    (n <= 8 || memcmp(dd_tw_blob + (sl->off_len >> 8) + 8, key + 8, n - 8) == 0))
			return sl;
	}
}

const struct dd_tw_slot *dd_tw_find(const char *key, size_t n)
{
	return tw_find_h(key, n, tw_hash(key, n));
}

unsigned dd_tw_lookup(const char *key, size_t n)
{
	const struct dd_tw_slot *e = dd_tw_find(key, n);

	return e ? e->flags : 0;
}

/* ---- tokens ------------------------------------------------------------------ */

enum {
	CL_UP = 1,     /* A-Z (the tokeniser's loop counts on 1 and 2) */
	CL_LO = 2,     /* a-z */
	CL_DIG = 4,    /* 0-9 */
	CL_LEAD = 8,   /* lead byte of a letter: C3..DF, E3..F4 */
	CL_CONT = 16,  /* continuation byte 80..BF */
	CL_SPACE = 32, /* space, \t \r \n \f \v NUL */
};

/* Latin-1 letters and up (U+00C0...); U+0080..U+00BF are symbols (NBSP,
 * degree, micro) and E2 xx xx is general punctuation. */
static const uint8_t cls[256] = {
	[0] = CL_SPACE, [' '] = CL_SPACE, ['\t'] = CL_SPACE, ['\r'] = CL_SPACE,
	['\n'] = CL_SPACE, ['\f'] = CL_SPACE, ['\v'] = CL_SPACE,
	['A' ... 'Z'] = CL_UP, ['a' ... 'z'] = CL_LO, ['0' ... '9'] = CL_DIG,
	[0x80 ... 0xBF] = CL_CONT, [0xC3 ... 0xDF] = CL_LEAD,
	[0xE3 ... 0xF4] = CL_LEAD,
};

static bool is_letter_lead(unsigned c)
{
	return cls[c] & CL_LEAD;
}

static size_t utf8_len(unsigned c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

static bool is_alpha(unsigned c)
{
	return cls[c] & (CL_UP | CL_LO);
}

static bool is_digit(unsigned c)
{
	return cls[c] & CL_DIG;
}

/* Apostrophe at @i: ' or ’ ; returns its length or 0. */
static size_t apos_at(const unsigned char *p, size_t i, size_t n)
{
	if (p[i] == '\'')
		return 1;
	if (p[i] == 0xE2 && i + 2 < n && p[i + 1] == 0x80 && p[i + 2] == 0x99)
		return 3;
	return 0;
}

static bool tok_grow(struct dd_scan *sc)
{
	size_t nc = sc->captk ? sc->captk * 2 : 256;
	struct dd_tok *v = realloc(sc->tk, nc * sizeof(*v));

	if (!v) {
		sc->err = DD_E_NOMEM;
		return false;
	}
	sc->tk = v;
	sc->captk = nc;
	return true;
}

struct tok_plain {
	unsigned upper, lower; /* counts of A-Z and a-z */
	uint32_t h;            /* tw_hash() of the lower-cased bytes */
};

static void tok_word_flags(struct dd_scan *sc, struct dd_tok *t,
			   const struct tok_plain *pl)
{
	const unsigned char *p = (const unsigned char *)sc->s;
	unsigned upper = 0, lower = 0;
	char *key = sc->fold + sc->nfold;
	size_t kl, len = t->e - t->s;
	uint32_t h;

	if (pl && len <= DD_FOLD_MAX) {
		/* the tokeniser's loop lower-cased the token into key */
		upper = pl->upper;
		lower = pl->lower;
		h = pl->h;
		kl = len;
	} else {
		for (size_t i = t->s; i < t->e; i++) {
			if (p[i] >= 'A' && p[i] <= 'Z')
				upper++;
			else if (p[i] >= 'a' && p[i] <= 'z')
				lower++;
			else if (p[i] >= 0x80)
				t->flags |= DD_TF_NONASCII;
		}
		kl = dd_text_fold(sc->s + t->s, len, key, DD_FOLD_MAX + 1);
		h = tw_hash(key, kl);
	}
	if (p[t->s] >= 'A' && p[t->s] <= 'Z')
		t->flags |= DD_TF_CAP;
	else if (p[t->s] == 0xC3 && t->s + 1 < t->e && p[t->s + 1] >= 0x80 &&
		 p[t->s + 1] <= 0x9E)
		t->flags |= DD_TF_CAP; /* À..Þ */
	if (upper >= 2 && lower == 0)
		t->flags |= DD_TF_ALLCAPS;
	t->fo = (uint32_t)sc->nfold;
	t->fl = (uint8_t)kl;
	sc->nfold += kl;
	/* (the word table is looked up for keys of up to 63 bytes) */
	if (t->kind != DD_TK_WORD || !kl || kl > 63)
		return;
	{
		const struct dd_tw_slot *e = tw_find_h(key, kl, h);

		if (e && kl >= 2)
			t->wf = e->flags;
		/* a keyword only when the bytes are the word: ASCII, no
		 * apostrophe */
		if (e && kl == len && !(t->flags & DD_TF_NONASCII))
			t->kw = e->kw;
	}
}

/* A number: its fold is itself (unless a stray byte is in it). */
static void tok_num_fold(struct dd_scan *sc, struct dd_tok *t, bool plain)
{
	size_t len = t->e - t->s, kl;
	char *key = sc->fold + sc->nfold;

	if (plain && len <= DD_FOLD_MAX) {
		kl = len; /* the tokeniser's loop copied it into key */
	} else {
		kl = dd_text_fold(sc->s + t->s, len, key, DD_FOLD_MAX + 1);
	}
	t->fo = (uint32_t)sc->nfold;
	t->fl = (uint8_t)kl;
	sc->nfold += kl;
}

void dd_text_tokenize(struct dd_scan *sc)
{
	const unsigned char *p = (const unsigned char *)sc->s;
	size_t i = 0, n = sc->n;
	bool nl = true, sent = true;

	/* a fold is never longer than its token; DD_FOLD_MAX + 1 of slack
	 * for dd_text_fold()'s NUL and its writes before it gives up */
	sc->fold = malloc(n + DD_FOLD_MAX + 2);
	sc->nfold = 0;
	if (!sc->fold) {
		sc->err = DD_E_NOMEM;
		return;
	}
	while (i < n && !sc->err) {
		unsigned c = p[i];
		struct dd_tok *t;

		if (cls[c] & CL_SPACE) {
			if (c == '\n') {
				nl = true;
				sent = true;
			}
			i++;
			continue;
		}
		if (c == 0xC2 && i + 1 < n && p[i + 1] == 0xA0) { /* NBSP */
			i += 2;
			continue;
		}
		/* the token is built in place: a copy of a token written
		 * field by field stalls on store forwarding */
		if (sc->ntk == sc->captk && !tok_grow(sc))
			break;
		t = &sc->tk[sc->ntk];
		memset(t, 0, sizeof(*t));
		t->s = (uint32_t)i;
		if (cls[c] & (CL_UP | CL_LO | CL_DIG | CL_LEAD)) {
			bool letters = false, digits = false;
			size_t plain_end;
			struct tok_plain pl;
			char *key = sc->fold + sc->nfold;
			unsigned up = 0, lo = 0;
			uint32_t h = TW_FNV_BASIS;

			/* ASCII letters and digits, the common case: lower-cased
			 * into the fold buffer, hashed and case-counted as
			 * they are read (used when the token is only these) */
			for (; i < n; i++) {
				unsigned ch = p[i], k = cls[ch];

				if (!(k & (CL_UP | CL_LO | CL_DIG)))
					break;
				up += k & CL_UP;          /* CL_UP is 1 */
				lo += (k >> 1) & 1;       /* CL_LO is 2 */
				ch |= (k & CL_UP) << 5;   /* to lower case */
				*key++ = (char)ch;
				h = (h ^ ch) * TW_FNV_PRIME;
			}
			pl.upper = up;
			pl.lower = lo;
			pl.h = h;
			digits = up + lo < i - t->s;
			letters = up + lo > 0;
			plain_end = i;
			while (i < n) {
				size_t a;

				c = p[i];
				if (is_alpha(c) || is_letter_lead(c)) {
					letters = true;
					i += utf8_len(c);
				} else if (is_digit(c)) {
					digits = true;
					i++;
				} else if (c >= 0x80 && c < 0xC0) {
					i++; /* stray continuation byte */
				} else if ((a = apos_at(p, i, n)) && i + a < n &&
					   (is_alpha(p[i + a]) ||
					    is_letter_lead(p[i + a])) && letters) {
					/* "'s" at the end is a possessive */
					if ((p[i + a] | 0x20) == 's' &&
					    (i + a + 1 >= n ||
					     !(is_alpha(p[i + a + 1]) ||
					       is_letter_lead(p[i + a + 1])))) {
						t->flags |= DD_TF_POSS;
						break;
					}
					i += a;
				} else {
					break;
				}
			}
			if (i > n)
				i = n;
			t->e = (uint32_t)i;
			t->kind = letters ? (digits ? DD_TK_ALNUM : DD_TK_WORD)
					 : DD_TK_NUM;
			if (letters)
				tok_word_flags(sc, t, i == plain_end ? &pl : NULL);
			else
				tok_num_fold(sc, t, i == plain_end);
			if (t->kind == DD_TK_WORD && t->e - t->s == 1 &&
			    (t->flags & DD_TF_CAP) && i < n && p[i] == '.')
				t->flags |= DD_TF_INITIAL;
			if (t->flags & DD_TF_POSS)
				i += apos_at(p, i, n) + 1;
		} else {
			i += utf8_len(c);
			if (i > n)
				i = n;
			t->e = (uint32_t)i;
			t->kind = DD_TK_PUNCT;
		}
		if (nl)
			t->flags |= DD_TF_NL_BEFORE;
		if (sent)
			t->flags |= DD_TF_SENT;
		nl = false;
		sent = t->kind == DD_TK_PUNCT &&
		       (c == '.' || c == '!' || c == '?') &&
		       !(sc->ntk && (sc->tk[sc->ntk - 1].flags & DD_TF_INITIAL));
		if (t->kind == DD_TK_PUNCT && c == '.' && sc->ntk) {
			/* "Dr." "Mr." "St." do not end a sentence */
			const struct dd_tok *pv = &sc->tk[sc->ntk - 1];
			size_t l = pv->e - pv->s;

			if (pv->kind == DD_TK_WORD && l <= 4 &&
			    (pv->flags & DD_TF_CAP) && !(pv->wf & DD_TW_WORD))
				sent = false;
		}
		sc->ntk++;
	}
}

bool dd_tok_adjacent(const struct dd_scan *sc, size_t i, size_t j)
{
	if (i >= sc->ntk || j >= sc->ntk)
		return false;
	for (size_t k = sc->tk[i].e; k < sc->tk[j].s; k++)
		if (sc->s[k] != ' ' && sc->s[k] != '\t')
			return false;
	return sc->tk[j].s - sc->tk[i].e <= 3;
}

/* ---- candidates ------------------------------------------------------------------ */

unsigned dd_text_type_prio(enum dd_info_type type)
{
	switch (type) {
	case DD_IT_EMAIL_ADDRESS:
	case DD_IT_URL:
		return 90;
	case DD_IT_US_SOCIAL_SECURITY_NUMBER:
	case DD_IT_CREDIT_CARD_NUMBER:
	case DD_IT_IBAN_CODE:
	case DD_IT_IP_ADDRESS:
	case DD_IT_MAC_ADDRESS:
		return 85;
	case DD_IT_MEDICAL_RECORD_NUMBER:
	case DD_IT_US_HEALTHCARE_NPI:
	case DD_IT_US_DEA_NUMBER:
	case DD_IT_US_DRIVERS_LICENSE_NUMBER:
	case DD_IT_US_PASSPORT:
	case DD_IT_PASSPORT:
	case DD_IT_VEHICLE_IDENTIFICATION_NUMBER:
		return 80;
	case DD_IT_PHONE_NUMBER:
	case DD_IT_FAX_NUMBER:
		return 75;
	case DD_IT_DATE:
	case DD_IT_DATE_OF_BIRTH:
		return 70;
	case DD_IT_GENERIC_ID:
		return 65;
	case DD_IT_AGE:
		return 60;
	case DD_IT_STREET_ADDRESS:
		return 55;
	case DD_IT_ORGANIZATION_NAME:
		return 50;
	case DD_IT_LOCATION:
	case DD_IT_US_ZIP:
		return 45;
	default:
		return 40;
	}
}

void dd_scan_add(struct dd_scan *sc, size_t start, size_t end,
		 enum dd_info_type type, bool ctx)
{
	struct dd_cand *c;

	if (sc->err || end <= start || end > sc->n)
		return;
	if (sc->ncand == sc->capcand) {
		size_t nc = sc->capcand ? sc->capcand * 2 : 64;
		struct dd_cand *v = realloc(sc->cand, nc * sizeof(*v));

		if (!v) {
			sc->err = DD_E_NOMEM;
			return;
		}
		sc->cand = v;
		sc->capcand = nc;
	}
	c = &sc->cand[sc->ncand++];
	c->start = start;
	c->end = end;
	c->type = (uint8_t)type;
	c->prio = (uint8_t)(dd_text_type_prio(type) + (ctx ? 10 : 0));
	c->ctx = ctx;
}

/* Order of candidates: by start, the longest first, the highest priority
 * first. */
static bool cand_before(const struct dd_cand *x, const struct dd_cand *y)
{
	if (x->start != y->start)
		return x->start < y->start;
	if (x->end != y->end)
		return x->end > y->end;
	return x->prio > y->prio;
}

/* Stable sort of the candidates (equal ones keep the order in which the
 * detectors added them, which decides the type of a merged span between
 * equal priorities).  Each detector adds in order, so the array is a few
 * sorted runs: a bottom-up merge of the natural runs. */
static bool cand_sort(struct dd_cand *v, size_t n)
{
	struct dd_cand *tmp, *src = v, *dst;
	size_t nruns;

	if (n < 2)
		return true;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return false;
	dst = tmp;
	do {
		size_t i = 0;

		nruns = 0;
		while (i < n) {
			size_t a = i, m, b;

			/* two natural runs [a, m) and [m, b) */
			for (m = a + 1; m < n && !cand_before(&src[m], &src[m - 1]); m++)
				;
			for (b = m; b < n && (b == m || !cand_before(&src[b], &src[b - 1])); b++)
				;
			{
				size_t x = a, y = m, o = a;

				while (x < m && y < b)
					dst[o++] = cand_before(&src[y], &src[x]) ? src[y++] : src[x++];
				while (x < m)
					dst[o++] = src[x++];
				while (y < b)
					dst[o++] = src[y++];
			}
			nruns++;
			i = b;
		}
		{
			struct dd_cand *t = src;

			src = dst;
			dst = t;
		}
	} while (nruns > 1);
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	return true;
}

/* Merge overlapping candidates (whose type is wanted) into spans. */
static dd_err cand_merge(struct dd_scan *sc, const bool *want,
			 struct dd_text_span **spans, size_t *n_spans)
{
	struct dd_text_span *v = NULL;
	size_t nv = 0;
	unsigned best = 0;

	*spans = NULL;
	*n_spans = 0;
	if (!sc->ncand)
		return DD_OK;
	if (!cand_sort(sc->cand, sc->ncand))
		return DD_E_NOMEM;
	v = malloc(sc->ncand * sizeof(*v));
	if (!v)
		return DD_E_NOMEM;
	for (size_t i = 0; i < sc->ncand; i++) {
		const struct dd_cand *c = &sc->cand[i];

		if (want && !want[c->type])
			continue;
		if (nv && c->start < v[nv - 1].end) {
			struct dd_text_span *l = &v[nv - 1];

			if (c->end > l->end)
				l->end = c->end;
			if (c->prio > best) {
				best = c->prio;
				l->type = (enum dd_info_type)c->type;
			}
			l->contextual |= c->ctx;
			continue;
		}
		v[nv].start = c->start;
		v[nv].end = c->end;
		v[nv].type = (enum dd_info_type)c->type;
		v[nv].contextual = c->ctx;
		best = c->prio;
		nv++;
	}
	if (!nv) {
		free(v);
		return DD_OK;
	}
	*spans = v;
	*n_spans = nv;
	return DD_OK;
}

static void scan_free(struct dd_scan *sc)
{
	free(sc->fold);
	free(sc->tk);
	free(sc->cand);
	free(sc->seen);
}

static dd_err text_find(const struct dd_text *t, const struct dd_text_ctx *c,
			const char *s, size_t n, const bool *want,
			struct dd_text_span **spans, size_t *n_spans)
{
	struct dd_scan sc = { .t = t, .c = c, .s = s, .n = n };
	dd_err err;

	*spans = NULL;
	*n_spans = 0;
	if (!s || !n)
		return DD_OK;
	if (n > UINT32_MAX)
		return DD_E_LIMIT;
	dd_text_tokenize(&sc);
	if (!sc.err)
		dd_text_scan_patterns(&sc);
	if (!sc.err)
		dd_text_scan_dates(&sc);
	if (!sc.err)
		dd_text_scan_ids(&sc);
	if (!sc.err)
		dd_text_scan_ages(&sc);
	if (!sc.err)
		dd_text_scan_places(&sc);
	if (!sc.err)
		dd_text_scan_ctx(&sc);
	if (!sc.err)
		dd_text_scan_names(&sc);
	err = sc.err;
	if (!err)
		err = cand_merge(&sc, want, spans, n_spans);
	scan_free(&sc);
	return err;
}

dd_err dd_text_find(const struct dd_text *t, const struct dd_text_ctx *c,
		    const char *s, size_t n, struct dd_text_span **spans,
		    size_t *n_spans)
{
	if (!t || !spans || !n_spans)
		return DD_E_INVAL;
	return text_find(t, c, s, n, NULL, spans, n_spans);
}

/* ---- configuration ------------------------------------------------------------- */

static bool strv_has(const struct dd_strv *v, enum dd_info_type type)
{
	const char *name = dd_info_type_name(type);

	for (size_t i = 0; v && i < v->n; i++)
		if (v->v[i] && strcmp(v->v[i], name) == 0)
			return true;
	return false;
}

static void action_from(struct dd_text_action *a,
			const struct dd_text_transform *tx)
{
	a->on = true;
	a->kind = tx->kind;
	if (tx->kind == DD_TX_CHARACTER_MASK) {
		size_t l = strnlen(tx->mask_char, sizeof(tx->mask_char) - 1);

		if (l == 0)
			strcpy(a->mask, "*");
		else {
			memcpy(a->mask, tx->mask_char, l);
			a->mask[l] = 0;
		}
	}
	if (tx->kind == DD_TX_CRYPTO_HASH && tx->key.present &&
	    dd_pseudo_init(&a->key, tx->key.bytes, tx->key.len) == DD_OK)
		a->own_key = true;
}

/* A specific entry beats the default (empty infoTypes) entry; the first
 * entry naming a type wins; excludeInfoTypes beats both; the profile is
 * the fallback (docs/internals/text.md, "Which transformation"). */
static void config_resolve(struct dd_text *t, const struct dd_policy_text *cfg)
{
	enum dd_text_profile profile = cfg ? cfg->profile : DD_TEXT_PROFILE_BASIC;

	for (unsigned ty = 0; ty < DD_IT_LAST; ty++) {
		struct dd_text_action *a = &t->act[ty];
		const struct dd_text_transform *spec = NULL, *def = NULL;

		if (ty == DD_IT_CONTEXT)
			continue;
		if (cfg && strv_has(&cfg->exclude_info_types, ty))
			continue;
		for (size_t i = 0; cfg && i < cfg->n_transforms; i++) {
			const struct dd_text_transform *tx = &cfg->transforms[i];

			if (tx->info_types.n == 0) {
				if (!def)
					def = tx;
			} else if (!spec && strv_has(&tx->info_types, ty)) {
				spec = tx;
			}
		}
		if (spec || def) {
			action_from(a, spec ? spec : def);
		} else if (profile == DD_TEXT_PROFILE_BASIC) {
			a->on = true;
			a->kind = (ty == DD_IT_DATE || ty == DD_IT_DATE_OF_BIRTH)
					  ? DD_TX_DATE_SHIFT
					  : DD_TX_REPLACE_WITH_INFO_TYPE;
		}
	}
}

dd_err dd_text_new(const struct dd_policy_text *cfg,
		   const struct dd_pseudo *pseudo, struct dd_text **out)
{
	struct dd_text *t;

	if (!out)
		return DD_E_INVAL;
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return DD_E_NOMEM;
	if (pseudo) {
		t->pseudo = *pseudo;
		t->have_pseudo = true;
	}
	config_resolve(t, cfg);
	*out = t;
	return DD_OK;
}

void dd_text_free(struct dd_text *t)
{
	if (!t)
		return;
	dd_pseudo_clear(&t->pseudo);
	for (unsigned i = 0; i < DD_IT_LAST; i++)
		if (t->act[i].own_key)
			dd_pseudo_clear(&t->act[i].key);
	free(t);
}

bool dd_text_type_transformed(const struct dd_text *t, enum dd_info_type type)
{
	return t && (unsigned)type < DD_IT_LAST && t->act[type].on;
}

/* ---- transformations --------------------------------------------------------------- */

static dd_err put_mask(struct dd_buf *out, const char *s, size_t n,
		       const char *mask)
{
	const unsigned char *p = (const unsigned char *)s;
	dd_err err = DD_OK;

	for (size_t i = 0; i < n && !err;) {
		size_t l = utf8_len(p[i]);

		/* skip continuation bytes: one mask per code point */
		i += l;
		err = dd_buf_adds(out, mask);
	}
	return err;
}

static dd_err put_type(struct dd_buf *out, enum dd_info_type type)
{
	const char *name = dd_info_type_name(type);

	return dd_buf_addf(out, "[%s]", name ? name : "REDACTED");
}

static dd_err put_date_shift(const struct dd_text_ctx *c, struct dd_buf *out,
			     const char *s, size_t n)
{
	struct dd_date_fmt f;
	char tmp[160];
	bool set = false;
	int days = c ? dd_text_ctx_shift(c, &set) : 0;

	/* No patient shift known: the date is removed (docs: "dateShift
	 * without a shift"). */
	if (!set)
		return DD_OK;
	if (!dd_text_date_parse(s, n, &f) ||
	    !dd_text_date_shift(&f, s, n, days, tmp, sizeof(tmp)))
		return dd_buf_adds(out, "[DATE]");
	return dd_buf_adds(out, tmp);
}

static dd_err put_span(const struct dd_text *t, const struct dd_text_ctx *c,
		       const struct dd_text_span *sp, const char *s,
		       unsigned flags, struct dd_buf *out)
{
	const struct dd_text_action *a = &t->act[sp->type];
	const char *v = s + sp->start;
	size_t n = sp->end - sp->start;
	char h[45];

	if ((flags & DD_TEXT_CTX_TOKEN) && sp->contextual)
		return dd_buf_adds(out, "[CTX]");
	if (!a->on)
		return dd_buf_add(out, v, n);
	switch (a->kind) {
	case DD_TX_REPLACE_WITH_INFO_TYPE:
		return put_type(out, sp->type);
	case DD_TX_REDACT:
		return DD_OK;
	case DD_TX_CHARACTER_MASK:
		return put_mask(out, v, n, a->mask);
	case DD_TX_CRYPTO_HASH:
		if (a->own_key)
			dd_pseudo_hash_b64(&a->key, v, n, h);
		else if (t->have_pseudo)
			dd_pseudo_hash_b64(&t->pseudo, v, n, h);
		else
			return put_type(out, sp->type); /* no key: fail closed */
		return dd_buf_adds(out, h);
	case DD_TX_DATE_SHIFT:
		if (sp->type != DD_IT_DATE && sp->type != DD_IT_DATE_OF_BIRTH)
			return put_type(out, sp->type);
		return put_date_shift(c, out, v, n);
	}
	return put_type(out, sp->type);
}

dd_err dd_text_clean(const struct dd_text *t, const struct dd_text_ctx *c,
		     const char *s, size_t n, unsigned flags,
		     struct dd_buf *out)
{
	struct dd_text_span *spans = NULL;
	size_t ns = 0, pos = 0;
	bool want[DD_IT_LAST];
	dd_err err;

	if (!t || !out || (!s && n))
		return DD_E_INVAL;
	for (unsigned i = 0; i < DD_IT_LAST; i++)
		want[i] = t->act[i].on;
	/* Under the [CTX] token every contextual finding goes, whatever its
	 * type's own transformation says. */
	err = text_find(t, c, s, n, (flags & DD_TEXT_CTX_TOKEN) ? NULL : want,
			&spans, &ns);
	if (err)
		return err;
	for (size_t i = 0; i < ns && !err; i++) {
		const struct dd_text_span *sp = &spans[i];

		if ((flags & DD_TEXT_CTX_TOKEN) && !sp->contextual &&
		    !t->act[sp->type].on)
			continue; /* not transformed: the bytes stay below */
		err = dd_buf_add(out, s + pos, sp->start - pos);
		if (!err)
			err = put_span(t, c, sp, s, flags, out);
		pos = sp->end;
	}
	if (!err)
		err = dd_buf_add(out, s + pos, n - pos);
	free(spans);
	return err;
}
