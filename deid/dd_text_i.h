/* dd_text_i.h: internals of the text detector (deid/dd_text*.c).
 *
 * A scan tokenises the input once (struct dd_tok), then each detector
 * walks the tokens or the bytes and proposes candidate spans
 * (dd_scan_add()).  Overlapping candidates are merged into one span whose
 * type is the one of its highest-priority member (recall first: a merge
 * never loses a character).  All memory of a scan is per call; the word
 * table is generated at build time (deid/gen_wordlists.py) and read-only.
 */
#ifndef DD_TEXT_I_H
#define DD_TEXT_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_text.h"

/* ---- the generated word table ------------------------------------------ */

enum {
	DD_TW_GIVEN = 1,     /* given names */
	DD_TW_PART = 2,      /* surnames and other name parts */
	DD_TW_WORD = 4,      /* ordinary English word (lower case in the list) */
	DD_TW_MED = 8,       /* medical word */
	DD_TW_EPONYM = 16,   /* eponym (disease, sign, device) */
	DD_TW_CITY = 32,     /* city (key may hold spaces) */
	DD_TW_STATE = 64,    /* US state name (key may hold spaces) */
	DD_TW_PREFIX = 128,  /* first word of a multi-word city/state key */
};

struct dd_tw_entry {
	uint32_t off;   /* into dd_tw_blob */
	uint16_t flags; /* DD_TW_* */
};

extern const char *const dd_tw_fold_tab[0x180 - 0xC0];
extern const char dd_tw_blob[];
extern const struct dd_tw_entry dd_tw_entries[];
extern const uint32_t dd_tw_nslots;
extern const uint32_t dd_tw_slots[];

/* Flags of a folded key (0 if absent). */
unsigned dd_tw_lookup(const char *key, size_t n);

/* Fold @n bytes of UTF-8 into @out (lower-case ASCII, diacritics off,
 * apostrophes dropped).  Returns the length written (at most @cap - 1,
 * NUL-terminated), or 0 when a character cannot be folded. */
size_t dd_text_fold(const char *s, size_t n, char *out, size_t cap);

/* ---- tokens -------------------------------------------------------------- */

enum dd_tok_kind { DD_TK_WORD, DD_TK_NUM, DD_TK_ALNUM, DD_TK_PUNCT };

enum {
	DD_TF_CAP = 1,       /* first letter upper case */
	DD_TF_ALLCAPS = 2,   /* every letter upper case (and more than one) */
	DD_TF_POSS = 4,      /* followed by 's or ’s (not part of the token) */
	DD_TF_INITIAL = 8,   /* one upper-case letter followed by '.' */
	DD_TF_NONASCII = 16, /* holds non-ASCII bytes */
	DD_TF_SENT = 32,     /* first token of a sentence or line */
	DD_TF_NL_BEFORE = 64,/* a newline between this token and the previous */
};

struct dd_tok {
	uint32_t s, e;      /* bytes [s, e) */
	uint8_t kind;       /* enum dd_tok_kind */
	uint8_t flags;      /* DD_TF_* */
	uint16_t wf;        /* DD_TW_* of the folded word (words only) */
};

/* ---- candidates ------------------------------------------------------------ */

struct dd_cand {
	size_t start, end;
	uint8_t type;       /* enum dd_info_type */
	uint8_t prio;       /* higher wins the type of a merged span */
	bool ctx;
};

struct dd_ctx_name;
struct dd_text_ctx;

struct dd_scan {
	const struct dd_text *t;
	const struct dd_text_ctx *c;
	const char *s;
	size_t n;
	struct dd_tok *tk;
	size_t ntk, captk;
	struct dd_cand *cand;
	size_t ncand, capcand;
	/* name words found, for propagation: an open-addressing set of
	 * 64-bit hashes of the folded words (0 = empty) */
	uint64_t *seen;
	size_t nseen, capseen;
	dd_err err;
	bool parse_only; /* dd_text_date_parse(): the span is known to be a date */
};

void dd_scan_add(struct dd_scan *sc, size_t start, size_t end,
		 enum dd_info_type type, bool ctx);
/* Priority of a type when merging (higher wins). */
unsigned dd_text_type_prio(enum dd_info_type type);

/* Token helpers */
static inline bool dd_tok_is(const struct dd_scan *sc, size_t i,
			     const char *lit)
{
	size_t k, l;
	const char *p;

	if (i >= sc->ntk)
		return false;
	p = sc->s + sc->tk[i].s;
	l = sc->tk[i].e - sc->tk[i].s;
	for (k = 0; lit[k]; k++) {
		char a;

		if (k >= l)
			return false;
		a = p[k];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != lit[k])
			return false;
	}
	return k == l;
}
static inline bool dd_tok_punct(const struct dd_scan *sc, size_t i, char ch)
{
	return i < sc->ntk && sc->tk[i].kind == DD_TK_PUNCT &&
	       sc->s[sc->tk[i].s] == ch;
}
/* True when tokens i and j are separated only by spaces/tabs (no newline) */
bool dd_tok_adjacent(const struct dd_scan *sc, size_t i, size_t j);

/* ---- detectors (each file's entry point) ------------------------------------ */

void dd_text_tokenize(struct dd_scan *sc);
void dd_text_scan_patterns(struct dd_scan *sc);  /* dd_text_pat.c */
void dd_text_scan_dates(struct dd_scan *sc);     /* dd_text_date.c */
void dd_text_scan_ids(struct dd_scan *sc);       /* dd_text_pat.c: cue ids */
void dd_text_scan_ages(struct dd_scan *sc);      /* dd_text_pat.c */
void dd_text_scan_places(struct dd_scan *sc);    /* dd_text_loc.c */
void dd_text_scan_names(struct dd_scan *sc);     /* dd_text_names.c */
void dd_text_scan_ctx(struct dd_scan *sc);       /* dd_text_ctx.c */

/* ---- dates (dd_text_date.c) ---------------------------------------------------- */

/* A date found in text: its value and where its fields are, so that a
 * shift writes it back in its own format (everything that is not a field,
 * separators, commas, "of", is copied as it was). */
enum { DD_DF_Y4, DD_DF_Y2, DD_DF_MNUM, DD_DF_MNAME, DD_DF_DAY };

struct dd_date_fmt {
	int y;          /* -1 when absent ("March 4") */
	int m;          /* 1..12 */
	int d;          /* 0 when absent ("March 2019") */
	unsigned nf;
	struct {
		uint32_t s, e;  /* bytes, relative to the date's start */
		uint8_t kind;   /* DD_DF_* */
	} f[3];
};

/* Parse @n bytes as exactly one date; true on success. */
bool dd_text_date_parse(const char *s, size_t n, struct dd_date_fmt *f);
/* Shift the date @s (@n bytes, parsed into @f) by @days and write it in the
 * same format into @out (NUL-terminated).  False if it does not fit. */
bool dd_text_date_shift(const struct dd_date_fmt *f, const char *s, size_t n,
			int days, char *out, size_t cap);

/* ---- context (dd_text_ctx.c) ----------------------------------------------------- */

/* True when the parsed date equals a contextual date. */
bool dd_text_ctx_has_date(const struct dd_text_ctx *c, int y, int m, int d);
int dd_text_ctx_shift(const struct dd_text_ctx *c, bool *set);

#endif /* DD_TEXT_I_H */
