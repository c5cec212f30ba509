/* dd_text_names.c: person names.
 *
 * Evidence, strongest first:
 *  1. a title cue: "Dr.", "Mr.", "Mrs.", "Ms.", "Prof." + 1..4 capitalised
 *     words (any words: the cue is enough);
 *  2. a role cue ("seen by", "signed by", "cc:", "Patient:", "attending",
 *     "husband" ...) or a credential after ("John Smith, MD"): capitalised
 *     words that are not ordinary English words, or are known names;
 *  3. the word table: runs of 2..4 capitalised words in which one is a
 *     known name and none is an ordinary or medical word; "Family, Given";
 *     a lone known given name or surname that is not an ordinary word;
 *  4. two or three capitalised words none of which is known at all
 *     (names not in any list);
 *  5. "X Y is a 92-year-old", "X Y was admitted": the words before;
 *  6. propagation: a word found as part of a name by 1-5 is a name
 *     wherever else it appears capitalised in the same text.
 * Eponyms (Parkinson, Crohn...) and a surname followed by "disease",
 * "syndrome", "sign", "'s palsy"... are never names without a title cue.
 * Initials ("J.") count only inside a run with other evidence. */
#include <stdlib.h>
#include <string.h>

#include "dd_text_i.h"

/* The word lists (titles, role cues, credentials, words after an eponym,
 * particles, capitalised words that are never names) are the DD_KWL_
 * blocks of dd_text_i.h. */

static bool capword(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t;

	if (i >= sc->ntk)
		return false;
	t = &sc->tk[i];
	return t->kind == DD_TK_WORD && (t->flags & (DD_TF_CAP | DD_TF_ALLCAPS)) &&
	       !dd_tok_in(sc, i, DD_KL_STOPCAP);
}

static bool eponym_use(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t = &sc->tk[i];

	if (t->wf & DD_TW_EPONYM)
		return true;
	if (dd_tok_in(sc, i + 1, DD_KL_EPONEXT))
		return true;
	/* "Bell's palsy", "Wilson's disease" */
	return (t->flags & DD_TF_POSS) && dd_tok_in(sc, i + 1, DD_KL_EPONEXT);
}

/* Evidence of one capitalised token. */
enum { EV_NONE, EV_COMMON, EV_WEAK, EV_UNKNOWN, EV_STRONG, EV_INITIAL };

static int tok_ev(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t = &sc->tk[i];
	unsigned wf = t->wf;

	if (t->flags & DD_TF_INITIAL)
		return EV_INITIAL;
	if (!capword(sc, i))
		return EV_NONE;
	if (t->e - t->s < 2)
		return EV_NONE;
	if (eponym_use(sc, i))
		return EV_COMMON;
	if (wf & (DD_TW_GIVEN | DD_TW_PART)) {
		if (wf & (DD_TW_WORD | DD_TW_MED))
			return EV_WEAK;
		return EV_STRONG;
	}
	if (wf & (DD_TW_WORD | DD_TW_MED | DD_TW_CITY | DD_TW_STATE))
		return EV_COMMON;
	if ((t->flags & DD_TF_ALLCAPS) && t->e - t->s <= 4)
		return EV_COMMON; /* abbreviations: "CHF", "COPD" */
	return EV_UNKNOWN;
}

/* Extend a name unit at @i: "Smith-Jones", "O'Brien" is one token; "van
 * der Berg" takes its particles.  Returns the last token of the unit. */
static size_t unit_end(const struct dd_scan *sc, size_t i)
{
	while (i + 2 < sc->ntk && dd_tok_punct(sc, i + 1, '-') &&
	       sc->tk[i + 1].s == sc->tk[i].e && sc->tk[i + 2].s == sc->tk[i + 1].e &&
	       capword(sc, i + 2))
		i += 2;
	return i;
}

static uint64_t seen_hash(const char *k, size_t n, bool common)
{
	uint64_t h = common ? 1469598103934665603ull ^ 0x21 : 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

static bool seen_has(const struct dd_scan *sc, uint64_t h)
{
	size_t mask = sc->capseen - 1;

	if (!sc->capseen)
		return false;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		if (sc->seen[i] == h)
			return true;
		if (!sc->seen[i])
			return false;
	}
}

static void seen_put(struct dd_scan *sc, uint64_t h)
{
	if (seen_has(sc, h))
		return;
	if (2 * (sc->nseen + 1) > sc->capseen) {
		size_t nc = sc->capseen ? sc->capseen * 2 : 64;
		uint64_t *v = calloc(nc, sizeof(*v)), *old = sc->seen;
		size_t oc = sc->capseen;

		if (!v) {
			sc->err = DD_E_NOMEM;
			return;
		}
		sc->seen = v;
		sc->capseen = nc;
		sc->nseen = 0;
		for (size_t i = 0; i < oc; i++)
			if (old[i])
				seen_put(sc, old[i]);
		free(old);
	}
	for (size_t i = h & (sc->capseen - 1);; i = (i + 1) & (sc->capseen - 1))
		if (!sc->seen[i]) {
			sc->seen[i] = h;
			sc->nseen++;
			return;
		}
}

/* Remember a name word for propagation.  Ordinary words ("Cover") are
 * kept only from strong evidence (@common), and hashed apart, so that they
 * propagate only where capitalised mid-sentence. */
static void seen_add(struct dd_scan *sc, size_t i, bool common)
{
	const struct dd_tok *t = &sc->tk[i];
	const char *key;
	size_t l;
	bool word;

	if (t->kind != DD_TK_WORD || t->e - t->s < 3 || (t->wf & DD_TW_EPONYM))
		return;
	word = (t->wf & (DD_TW_WORD | DD_TW_MED)) != 0;
	if (word && !common)
		return;
	key = dd_tok_fold(sc, i, 63, &l);
	if (key)
		seen_put(sc, seen_hash(key, l, word));
}

static void add_name_ex(struct dd_scan *sc, size_t b, size_t e, bool strong)
{
	dd_scan_add(sc, sc->tk[b].s, sc->tk[e].e, DD_IT_PERSON_NAME, false);
	for (size_t k = b; k <= e; k++)
		seen_add(sc, k, strong && e > b);
}

static void add_name(struct dd_scan *sc, size_t b, size_t e)
{
	add_name_ex(sc, b, e, false);
}

/* After a title: up to four capitalised words or initials (particles
 * inside).  Returns the last token, or SIZE_MAX. */
static size_t run_after(const struct dd_scan *sc, size_t j, bool any, size_t max)
{
	size_t last = SIZE_MAX, n = 0;

	while (j < sc->ntk && n < max) {
		int ev;

		if (last != SIZE_MAX && !dd_tok_adjacent(sc, last, j) &&
		    !((sc->tk[last].flags & DD_TF_INITIAL) && j == last + 2 &&
		      dd_tok_adjacent(sc, last + 1, j)))
			break;
		if (dd_tok_in(sc, j, DD_KL_PARTICLE) && !(sc->tk[j].flags & DD_TF_CAP) &&
		    capword(sc, j + 1)) {
			j++;
			continue;
		}
		if (dd_tok_in(sc, j, DD_KL_TITLE) && (sc->tk[j].flags & DD_TF_CAP) && last == SIZE_MAX &&
		    dd_tok_punct(sc, j + 1, '.'))
			break; /* "by Dr. X": the title rule takes it */
		ev = tok_ev(sc, j);
		if (ev == EV_NONE)
			break;
		if (!any && (ev == EV_COMMON))
			break;
		/* after a strong cue any Title-case word is taken, but an
		 * abbreviation ("MRN", "DOB") ends a Title-case run */
		if (any && ev == EV_COMMON && n > 0 && (sc->tk[j].flags & DD_TF_ALLCAPS) &&
		    !(sc->tk[last].flags & DD_TF_ALLCAPS))
			break;
		j = unit_end(sc, j);
		last = j;
		n++;
		j++;
		if (sc->tk[last].flags & DD_TF_INITIAL)
			j++; /* its '.' */
		if (sc->tk[last].flags & DD_TF_POSS)
			break;
	}
	return last;
}

static bool title_at(const struct dd_scan *sc, size_t i, size_t *next)
{
	const struct dd_tok *t = &sc->tk[i];

	if (t->kind != DD_TK_WORD || !(t->flags & DD_TF_CAP) || !dd_tok_in(sc, i, DD_KL_TITLE))
		return false;
	/* "Doctor", "Father", "Sister", "Nurse" without a dot are also
	 * ordinary words: only before a capitalised word */
	*next = dd_tok_punct(sc, i + 1, '.') ? i + 2 : i + 1;
	return capword(sc, *next) || (*next < sc->ntk && (sc->tk[*next].flags & DD_TF_INITIAL));
}

static bool cred_after(const struct dd_scan *sc, size_t e)
{
	size_t j = e + 1;

	if (dd_tok_punct(sc, j, ','))
		j++;
	if (j >= sc->ntk || !(sc->tk[j].flags & (DD_TF_ALLCAPS | DD_TF_CAP)))
		return false;
	if (dd_tok_in(sc, j, DD_KL_CRED) && !dd_tok_kw(sc, j, DD_KW_jr) && !dd_tok_kw(sc, j, DD_KW_sr))
		return true;
	/* "M.D." */
	return dd_tok_kw(sc, j, DD_KW_m) && dd_tok_punct(sc, j + 1, '.') && dd_tok_kw(sc, j + 2, DD_KW_d);
}

/* "is a 92-year-old", ", a 45 year old", "was admitted", "presented" */
static bool verb_after(const struct dd_scan *sc, size_t e)
{
	size_t j = e + 1;

	if (dd_tok_punct(sc, j, ','))
		j++;
	if ((dd_tok_kw(sc, j, DD_KW_is) || dd_tok_kw(sc, j, DD_KW_was)) && dd_tok_kw(sc, j + 1, DD_KW_a) &&
	    j + 2 < sc->ntk && sc->tk[j + 2].kind == DD_TK_NUM)
		return true;
	if (dd_tok_kw(sc, j, DD_KW_a) && j + 1 < sc->ntk && sc->tk[j + 1].kind == DD_TK_NUM)
		return true;
	return dd_tok_kw(sc, j, DD_KW_was) && (dd_tok_kw(sc, j + 1, DD_KW_admitted) ||
					   dd_tok_kw(sc, j + 1, DD_KW_seen) ||
					   dd_tok_kw(sc, j + 1, DD_KW_discharged));
}

/* Rule 3/4/5 on a run of capitalised tokens [b, e]. */
static bool run_is_name(const struct dd_scan *sc, size_t b, size_t e)
{
	unsigned strong = 0, weak = 0, unknown = 0, common = 0, initial = 0, n = 0;

	for (size_t k = b; k <= e; k++) {
		switch (tok_ev(sc, k)) {
		case EV_STRONG: strong++; break;
		case EV_WEAK: weak++; break;
		case EV_UNKNOWN: unknown++; break;
		case EV_INITIAL: initial++; break;
		case EV_COMMON: common++; break;
		default: continue;
		}
		n++;
	}
	if (common)
		return false;
	if (n >= 2 && strong >= 1)
		return true;
	if (n >= 2 && unknown >= 2 - initial && unknown >= 1)
		return true;
	if (n >= 2 && unknown >= 1 && weak >= 1)
		return true;
	return false;
}

static void scan_cued(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		size_t j, last;
		bool strong;

		if (title_at(sc, i, &j)) {
			last = run_after(sc, j, true, 4);
			if (last != SIZE_MAX) {
				add_name_ex(sc, j, last, true);
				i = last;
			}
			continue;
		}
		if (!dd_tok_in(sc, i, DD_KL_ROLE) || sc->tk[i].kind != DD_TK_WORD)
			continue;
		j = i + 1;
		strong = false;
		if (dd_tok_punct(sc, j, ':') || dd_tok_punct(sc, j, ',')) {
			strong = dd_tok_punct(sc, j, ':');
			j++;
		}
		if (j >= sc->ntk)
			continue;
		/* "Name: SMITH, JOHN" / "Patient: Smith, John" */
		if (strong && capword(sc, j) && dd_tok_punct(sc, j + 1, ',') && capword(sc, j + 2) &&
		    !cred_after(sc, j)) {
			last = run_after(sc, j + 2, true, 2);
			if (last != SIZE_MAX) {
				add_name_ex(sc, j, last, true);
				i = last;
				continue;
			}
		}
		last = run_after(sc, j, strong && (sc->tk[j].flags & DD_TF_CAP), 4);
		if (last == SIZE_MAX && !strong) {
			/* "Pt Garnet Hirano": two Title-case words, one of them
			 * not an ordinary word */
			size_t l2 = run_after(sc, j, true, 3);
			bool other = false;

			for (size_t k = j; l2 != SIZE_MAX && k <= l2; k++)
				other |= tok_ev(sc, k) != EV_COMMON;
			if (l2 != SIZE_MAX && l2 > j && other && !(sc->tk[j].flags & DD_TF_ALLCAPS))
				last = l2;
		}
		if (last == SIZE_MAX)
			continue;
		if (last == j && !strong) {
			int ev = tok_ev(sc, j);

			if (ev != EV_STRONG && ev != EV_UNKNOWN)
				continue;
			if (ev == EV_UNKNOWN && (sc->tk[j].flags & DD_TF_ALLCAPS))
				continue;
		}
		add_name_ex(sc, j, last, strong);
		i = last;
	}
}

static void scan_runs(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		size_t b = i, e = i, n = 0;
		int ev = tok_ev(sc, i);

		if (ev == EV_NONE || ev == EV_COMMON)
			continue;
		/* collect the run */
		for (size_t j = i; j < sc->ntk && n < 4;) {
			int v = tok_ev(sc, j);

			if (v == EV_NONE || v == EV_COMMON)
				break;
			if (j > i && !dd_tok_adjacent(sc, e, j) &&
			    !((sc->tk[e].flags & DD_TF_INITIAL) && j == e + 2))
				break;
			j = unit_end(sc, j);
			e = j;
			n++;
			j++;
			if (sc->tk[e].flags & DD_TF_POSS)
				break;
		}
		/* "Smith, John": surname, comma, given name */
		if (n == 1 && ev >= EV_WEAK && ev != EV_INITIAL && dd_tok_punct(sc, e + 1, ',') &&
		    e + 2 < sc->ntk && (sc->tk[e + 2].wf & DD_TW_GIVEN) &&
		    tok_ev(sc, e + 2) == EV_STRONG && (ev == EV_STRONG || ev == EV_UNKNOWN)) {
			add_name(sc, b, e + 2);
			i = e + 2;
			continue;
		}
		if (n >= 2 && (run_is_name(sc, b, e) || cred_after(sc, e) || verb_after(sc, e))) {
			add_name(sc, b, e);
			i = e;
			continue;
		}
		if (n == 1 && ev == EV_STRONG && !(sc->tk[b].flags & DD_TF_ALLCAPS)) {
			add_name(sc, b, e);
			continue;
		}
		if (n == 1 && (ev == EV_UNKNOWN || ev == EV_WEAK) &&
		    (cred_after(sc, e) || verb_after(sc, e))) {
			add_name(sc, b, e);
			continue;
		}
		/* a lone initial or a run that failed: move on by one token */
	}
}

/* Title-case words (ordinary words too) right before a credential or a
 * "is a 92-year-old" at the start of a line or sentence. */
static void scan_frames(struct dd_scan *sc)
{
	for (size_t e = 0; e < sc->ntk && !sc->err; e++) {
		size_t b = e, n = 1;
		bool other;

		if (!capword(sc, e) || (sc->tk[e].flags & DD_TF_ALLCAPS) ||
		    !(cred_after(sc, e) || verb_after(sc, e)))
			continue;
		while (b > 0 && n < 3 && capword(sc, b - 1) && !(sc->tk[b - 1].flags & DD_TF_ALLCAPS) &&
		       dd_tok_adjacent(sc, b - 1, b) && !(sc->tk[b].flags & (DD_TF_SENT | DD_TF_NL_BEFORE)))
			b--, n++;
		if (!(sc->tk[b].flags & (DD_TF_SENT | DD_TF_NL_BEFORE)) && !dd_tok_in(sc, b - 1, DD_KL_ROLE) &&
		    !(b && dd_tok_punct(sc, b - 1, ':')))
			continue;
		other = false;
		for (size_t k = b; k <= e; k++)
			other |= tok_ev(sc, k) != EV_COMMON;
		if (!other && n < 2)
			continue;
		add_name_ex(sc, b, e, true);
	}
}

/* Rule 6: other occurrences of words already found in names. */
static void scan_propagate(struct dd_scan *sc)
{
	if (!sc->nseen)
		return;
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];
		const char *key;
		size_t l;

		if (t->kind != DD_TK_WORD || !(t->flags & (DD_TF_CAP | DD_TF_ALLCAPS)) ||
		    t->e - t->s < 3)
			continue;
		key = dd_tok_fold(sc, i, 63, &l);
		if (!key)
			continue;
		if (seen_has(sc, seen_hash(key, l, false)) ||
		    (!(t->flags & DD_TF_SENT) && seen_has(sc, seen_hash(key, l, true))))
			dd_scan_add(sc, t->s, t->e, DD_IT_PERSON_NAME, false);
	}
}

void dd_text_scan_names(struct dd_scan *sc)
{
	scan_cued(sc);
	if (!sc->err)
		scan_runs(sc);
	if (!sc->err)
		scan_frames(sc);
	if (!sc->err)
		scan_propagate(sc);
}
