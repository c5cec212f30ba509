/* dd_text_loc.c: street addresses, places (cities, states, ZIP codes) and
 * organisations (hospitals, clinics, universities...).
 *
 * Addresses: a house number, up to four capitalised words and a street
 * suffix ("123 Main St", "4 North Elm Avenue"), then an optional unit
 * ("Apt 4B", "Suite 200"); a unit alone; PO boxes.  Places: "City, ST
 * 12345"; US state names; cities of the word table (a city that is also an
 * ordinary word needs ", ST" or a cue such as "lives in"); capitalised
 * words after "lives in", "resident of", "moved to", "born in".
 * Organisations: capitalised words ending in a head word ("Hospital",
 * "Clinic", "Medical Center", "University") or "University of X". */
#include <string.h>

#include "dd_text_i.h"

static const char *const state_abbr[] = { "AL", "AK", "AZ", "AR", "CA", "CO",
	"CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
	"LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
	"NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
	"TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", NULL };

static bool is_cap(const struct dd_scan *sc, size_t i)
{
	return i < sc->ntk && sc->tk[i].kind == DD_TK_WORD &&
	       (sc->tk[i].flags & DD_TF_CAP);
}

static bool is_state_abbr(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t;

	if (i >= sc->ntk)
		return false;
	t = &sc->tk[i];
	if (t->kind != DD_TK_WORD || t->e - t->s != 2 || !(t->flags & DD_TF_ALLCAPS))
		return false;
	for (int k = 0; state_abbr[k]; k++)
		if (memcmp(sc->s + t->s, state_abbr[k], 2) == 0)
			return true;
	return false;
}

/* A multi-word key from the table starting at token @i (cities, states):
 * returns the number of tokens (1..3) and the flags, or 0. */
static size_t multi_lookup(const struct dd_scan *sc, size_t i, unsigned want,
			   unsigned *flags)
{
	char key[96];
	size_t kl = 0, best = 0;

	for (size_t k = 0; k < 3 && i + k < sc->ntk; k++) {
		const struct dd_tok *t = &sc->tk[i + k];
		const char *fw;
		size_t l;
		unsigned f;

		if (t->kind != DD_TK_WORD || !(t->flags & DD_TF_CAP))
			break;
		if (k && !dd_tok_adjacent(sc, i + k - 1, i + k))
			break;
		if (k)
			key[kl++] = ' ';
		fw = dd_tok_fold(sc, i + k, sizeof(key) - kl - 1, &l);
		if (!fw)
			break;
		if (k == 0 && l <= 63) {
			/* the tokeniser looked the word up already (a
			 * one-letter key is in no list: 0) */
			f = t->wf;
		} else {
			memcpy(key + kl, fw, l);
			f = dd_tw_lookup(key, kl + l);
		}
		kl += l;
		if (f & want) {
			best = k + 1;
			*flags = f;
		}
		if (!(f & DD_TW_PREFIX) && k == 0 && !(f & want))
			break;
	}
	return best;
}

/* ZIP: 5 digits or 5-4 at token @i; returns the end token or 0. */
static size_t zip_at(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t;

	if (i >= sc->ntk)
		return 0;
	t = &sc->tk[i];
	if (t->kind != DD_TK_NUM || t->e - t->s != 5)
		return 0;
	if (i + 2 < sc->ntk && dd_tok_punct(sc, i + 1, '-') &&
	    sc->tk[i + 2].kind == DD_TK_NUM && sc->tk[i + 2].e - sc->tk[i + 2].s == 4 &&
	    sc->tk[i + 1].s == t->e)
		return i + 3;
	return i + 1;
}

/* "City, ST 12345" / "City, State" ending at @i (the comma); adds it. */
static size_t city_state(struct dd_scan *sc, size_t i)
{
	size_t b = i, j, e;
	unsigned fl;
	size_t nst;

	if (!dd_tok_punct(sc, i, ','))
		return 0;
	j = i + 1;
	if (is_state_abbr(sc, j)) {
		/* "MD" and "PA" are credentials too: only with a ZIP */
		if ((dd_tok_kw(sc, j, DD_KW_md) || dd_tok_kw(sc, j, DD_KW_pa)) && !zip_at(sc, j + 1))
			return 0;
		nst = 1;
	} else if ((nst = multi_lookup(sc, j, DD_TW_STATE, &fl)) == 0) {
		return 0;
	}
	/* the city: up to three capitalised words before the comma */
	while (b > 0 && is_cap(sc, b - 1) && i - (b - 1) <= 3 &&
	       (b == i || dd_tok_adjacent(sc, b - 1, b)) &&
	       !(sc->tk[b - 1].flags & DD_TF_NL_BEFORE && b - 1 != i - 1))
		b--;
	if (b == i)
		return 0;
	e = j + nst;
	if (zip_at(sc, e))
		e = zip_at(sc, e);
	dd_scan_add(sc, sc->tk[b].s, sc->tk[e - 1].e, DD_IT_LOCATION, false);
	return e;
}

static bool street_suffix(const struct dd_scan *sc, size_t i)
{
	return is_cap(sc, i) && dd_tok_in(sc, i, DD_KL_STREET);
}

/* Unit after an address or alone: "Apt 4B", "Suite 200", "#12". */
static size_t unit_at(const struct dd_scan *sc, size_t i)
{
	size_t j = i;

	if (dd_tok_punct(sc, j, ','))
		j++;
	if (dd_tok_punct(sc, j, '#')) {
		j++;
	} else {
		if (!dd_tok_in(sc, j, DD_KL_UNIT) || !(sc->tk[j].flags & (DD_TF_CAP | DD_TF_ALLCAPS)))
			return 0;
		j++;
		if (dd_tok_punct(sc, j, '.'))
			j++;
		if (dd_tok_punct(sc, j, '#'))
			j++;
	}
	if (j < sc->ntk && (sc->tk[j].kind == DD_TK_NUM || sc->tk[j].kind == DD_TK_ALNUM ||
			    (sc->tk[j].kind == DD_TK_WORD && sc->tk[j].e - sc->tk[j].s == 1 &&
			     (sc->tk[j].flags & DD_TF_CAP))))
		return j + 1;
	return 0;
}

/* Address starting at the house number @i; returns the end token or 0. */
static size_t street_at(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t = &sc->tk[i];
	size_t j = i + 1, words = 0;

	if (t->kind != DD_TK_NUM && t->kind != DD_TK_ALNUM)
		return 0;
	if (t->e - t->s > 6)
		return 0;
	if (dd_tok_in(sc, j, DD_KL_DIR) && (sc->tk[j].flags & DD_TF_CAP)) {
		j++;
		if (dd_tok_punct(sc, j, '.'))
			j++;
	}
	while (j < sc->ntk && words < 4) {
		const struct dd_tok *w = &sc->tk[j];

		if (street_suffix(sc, j) && words > 0) {
			j++;
			if (dd_tok_punct(sc, j, '.'))
				j++;
			if (dd_tok_in(sc, j, DD_KL_DIR) && (sc->tk[j].flags & DD_TF_CAP))
				j++;
			return j;
		}
		if ((w->kind == DD_TK_WORD && (w->flags & DD_TF_CAP)) ||
		    (w->kind == DD_TK_ALNUM && words == 0)) {
			words++;
			j++;
			continue;
		}
		break;
	}
	return 0;
}

static void scan_addresses(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];
		size_t e, u;

		/* an address starts at a number, "PO" or a unit word */
		if (t->kind == DD_TK_PUNCT ||
		    (t->kind == DD_TK_WORD && !(dd_kw_lists[t->kw] & DD_KL_UNIT) &&
		     t->kw != DD_KW_po && t->kw != DD_KW_p))
			continue;
		/* PO Box */
		if ((dd_tok_kw(sc, i, DD_KW_po) || dd_tok_kw(sc, i, DD_KW_p)) && i + 1 < sc->ntk) {
			size_t j = i + 1;

			while (j < sc->ntk && j < i + 4 && (dd_tok_punct(sc, j, '.') || dd_tok_kw(sc, j, DD_KW_o)))
				j++;
			if (dd_tok_kw(sc, j, DD_KW_box) && j + 1 < sc->ntk &&
			    sc->tk[j + 1].kind == DD_TK_NUM) {
				dd_scan_add(sc, sc->tk[i].s, sc->tk[j + 1].e, DD_IT_STREET_ADDRESS, false);
				i = j + 1;
				continue;
			}
		}
		if ((e = street_at(sc, i))) {
			if ((u = unit_at(sc, e)))
				e = u;
			dd_scan_add(sc, sc->tk[i].s, sc->tk[e - 1].e, DD_IT_STREET_ADDRESS, false);
			i = e - 1;
			continue;
		}
		if ((e = unit_at(sc, i)) && !dd_tok_punct(sc, i, ',') &&
		    !(dd_tok_punct(sc, i, '#'))) {
			dd_scan_add(sc, sc->tk[i].s, sc->tk[e - 1].e, DD_IT_STREET_ADDRESS, false);
			i = e - 1;
		}
	}
}

/* ---- places ------------------------------------------------------------------- */

static const uint16_t place_cues[][2] = { { DD_KW_lives, DD_KW_in },
	{ DD_KW_living, DD_KW_in }, { DD_KW_resident, DD_KW_of },
	{ DD_KW_resides, DD_KW_in }, { DD_KW_moved, DD_KW_to },
	{ DD_KW_born, DD_KW_in }, { DD_KW_native, DD_KW_of },
	{ DD_KW_travel, DD_KW_to }, { DD_KW_traveled, DD_KW_to },
	{ DD_KW_travelled, DD_KW_to }, { DD_KW_returned, DD_KW_from },
	{ DD_KW_located, DD_KW_in }, { DD_KW_lived, DD_KW_in },
	{ DD_KW_visiting, DD_KW_from }, { DD_KW_relocated, DD_KW_to },
	{ DD_KW_home, DD_KW_in }, { DD_KW_grew, DD_KW_up } };

static size_t place_cue(const struct dd_scan *sc, size_t i)
{
	if (!dd_tok_in(sc, i, DD_KL_PLACECUE))
		return 0;
	for (size_t k = 0; k < sizeof(place_cues) / sizeof(place_cues[0]); k++)
		if (dd_tok_kw(sc, i, place_cues[k][0]) && dd_tok_kw(sc, i + 1, place_cues[k][1])) {
			size_t j = i + 2;

			if (k == sizeof(place_cues) / sizeof(place_cues[0]) - 1 &&
			    dd_tok_kw(sc, j, DD_KW_in))
				j++;
			return j;
		}
	return 0;
}

static void scan_places(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		const struct dd_tok *t = &sc->tk[i];
		unsigned fl = 0;
		size_t n, j, e;

		if (t->kind == DD_TK_PUNCT) {
			if ((e = city_state(sc, i)))
				i = e - 1;
			continue;
		}
		if ((j = place_cue(sc, i))) {
			e = j;
			while (e < sc->ntk && e < j + 3 && is_cap(sc, e) &&
			       (e == j || dd_tok_adjacent(sc, e - 1, e)))
				e++;
			if (e > j) {
				dd_scan_add(sc, sc->tk[j].s, sc->tk[e - 1].e, DD_IT_LOCATION, false);
				i = e - 1;
			}
			continue;
		}
		/* ZIP after a cue */
		if ((dd_tok_kw(sc, i, DD_KW_zip) || dd_tok_kw(sc, i, DD_KW_postal))) {
			j = i + 1;
			while (j < sc->ntk && j < i + 4 && !zip_at(sc, j))
				j++;
			if ((e = zip_at(sc, j)))
				dd_scan_add(sc, sc->tk[j].s, sc->tk[e - 1].e, DD_IT_LOCATION, false);
			continue;
		}
		if (t->kind != DD_TK_WORD || !(t->flags & DD_TF_CAP))
			continue;
		n = multi_lookup(sc, i, DD_TW_CITY | DD_TW_STATE, &fl);
		if (!n)
			continue;
		/* a one-word place that is also a word or a name needs help */
		if (n == 1 && (fl & (DD_TW_WORD | DD_TW_MED | DD_TW_EPONYM)))
			continue;
		if (n == 1 && (fl & (DD_TW_GIVEN | DD_TW_PART)) && !(fl & DD_TW_STATE))
			continue; /* left to the name detector */
		dd_scan_add(sc, t->s, sc->tk[i + n - 1].e, DD_IT_LOCATION, false);
		i += n - 1;
	}
}

/* ---- organisations ---------------------------------------------------------------- */

/* Heads that need a qualifier before them ("Health System", "Nursing
 * Home", "Medical Group"). */
static bool org_head_ok(const struct dd_scan *sc, size_t i)
{
	if (dd_tok_kw(sc, i, DD_KW_system) || dd_tok_kw(sc, i, DD_KW_services) ||
	    dd_tok_kw(sc, i, DD_KW_network) || dd_tok_kw(sc, i, DD_KW_group))
		return i && (dd_tok_kw(sc, i - 1, DD_KW_health) || dd_tok_kw(sc, i - 1, DD_KW_medical) ||
			     dd_tok_kw(sc, i - 1, DD_KW_healthcare) || dd_tok_kw(sc, i - 1, DD_KW_physicians));
	if (dd_tok_kw(sc, i, DD_KW_home))
		return i && (dd_tok_kw(sc, i - 1, DD_KW_nursing) || dd_tok_kw(sc, i - 1, DD_KW_care) ||
			     dd_tok_kw(sc, i - 1, DD_KW_funeral));
	return true;
}

/* Words that may stand inside an organisation's name in lower case. */
static bool org_link(const struct dd_scan *sc, size_t i)
{
	return dd_tok_kw(sc, i, DD_KW_of) || dd_tok_kw(sc, i, DD_KW_the) ||
	       dd_tok_kw(sc, i, DD_KW_and) || dd_tok_punct(sc, i, '&') ||
	       dd_tok_kw(sc, i, DD_KW_for);
}

static bool org_word(const struct dd_scan *sc, size_t i)
{
	const struct dd_tok *t = &sc->tk[i];

	return (t->kind == DD_TK_WORD && (t->flags & (DD_TF_CAP | DD_TF_ALLCAPS))) ||
	       (dd_tok_punct(sc, i, '.') && i && dd_tok_kw(sc, i - 1, DD_KW_st));
}

static void scan_orgs(struct dd_scan *sc)
{
	for (size_t i = 0; i < sc->ntk && !sc->err; i++) {
		size_t b = i, e = i + 1, caps = 0;

		if (!is_cap(sc, i) || !dd_tok_in(sc, i, DD_KL_ORGHEAD) || !org_head_ok(sc, i))
			continue;
		/* backwards over capitalised words, "St.", "of", "&" */
		while (b > 0 && i - b < 6) {
			size_t p = b - 1;

			if (sc->tk[b].flags & DD_TF_NL_BEFORE)
				break;
			if (org_word(sc, p)) {
				if (sc->tk[p].kind == DD_TK_WORD && !dd_tok_in(sc, p, DD_KL_ORGHEAD))
					caps++;
				b = p;
				continue;
			}
			if (org_link(sc, p) && p > 0 && org_word(sc, p - 1) && !dd_tok_kw(sc, p, DD_KW_the)) {
				b = p;
				continue;
			}
			break;
		}
		/* a sentence-initial verb is not part of the name: "Admitted
		 * Mercy Hospital" is rare, "Hospital course" is common */
		while (b < i && (sc->tk[b].flags & DD_TF_SENT) && sc->tk[b].kind == DD_TK_WORD &&
		       (sc->tk[b].wf & DD_TW_WORD) && !(sc->tk[b].wf & (DD_TW_GIVEN | DD_TW_PART | DD_TW_CITY)) &&
		       (dd_tok_kw(sc, b, DD_KW_the) || dd_tok_kw(sc, b, DD_KW_at) || dd_tok_kw(sc, b, DD_KW_to) ||
			dd_tok_kw(sc, b, DD_KW_from) || dd_tok_kw(sc, b, DD_KW_patient)))
			b++, caps--;
		/* forwards: "University of Chicago", "Hospital of the University
		 * of Pennsylvania" */
		while (e + 1 < sc->ntk && org_link(sc, e) && !dd_tok_punct(sc, e, '&')) {
			size_t f = e + 1;

			if (dd_tok_kw(sc, f, DD_KW_the))
				f++;
			if (!is_cap(sc, f))
				break;
			while (f < sc->ntk && is_cap(sc, f) && dd_tok_adjacent(sc, f - 1, f))
				f++;
			caps++;
			e = f;
		}
		if (caps == 0)
			continue;
		dd_scan_add(sc, sc->tk[b].s, sc->tk[e - 1].e, DD_IT_ORGANIZATION_NAME, false);
		i = e - 1;
	}
}

void dd_text_scan_places(struct dd_scan *sc)
{
	scan_addresses(sc);
	if (!sc->err)
		scan_places(sc);
	if (!sc->err)
		scan_orgs(sc);
}
