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

struct dd_tw_slot {
	uint64_t k8;      /* the key's first 8 bytes, byte i in bits 8i.. */
	uint32_t off_len; /* offset into dd_tw_blob << 8 | length; 0: empty */
	uint16_t flags;   /* DD_TW_* */
	uint16_t kw;      /* enum dd_kw, DD_KW_NONE if not a keyword */
};

extern const char *const dd_tw_fold_tab[0x180 - 0xC0];
extern const char dd_tw_blob[];   /* the keys, NUL-terminated */
extern const uint32_t dd_tw_nslots;
extern const struct dd_tw_slot dd_tw_slots[];

/* Flags of a folded key (0 if absent). */
unsigned dd_tw_lookup(const char *key, size_t n);
/* The slot of a folded key, NULL if absent. */
const struct dd_tw_slot *dd_tw_find(const char *key, size_t n);

/* ---- keywords -------------------------------------------------------------
 *
 * The cue words of the detectors (titles, role cues, street suffixes,
 * month names...) are keys of the word table too: the tokeniser looks a
 * word up once and keeps its keyword id (struct dd_tok.kw), so a detector
 * asks "is token i the word 'number'" or "is it a title" with one compare
 * instead of string compares per token and per list word.
 *
 * Each DD_KWL_<LIST>(X) below is one list, X(word) per word, lower-case
 * ASCII letters only.  deid/gen_wordlists.py reads these blocks and
 * generates dd_text_kw.h (enum dd_kw: DD_KW_<word>, and DD_KL_<LIST> bits)
 * and the ids and list bits in the table (dd_kw_lists[]).  A token has a
 * keyword id only when its bytes, ASCII-lower-cased, are the word: no
 * apostrophe, no other letters, so "o'brien" is not "obrien" here. */

#define DD_KWL_TITLE(X) X(dr) X(mr) X(mrs) X(ms) X(miss) X(mx) X(prof) \
	X(doctor) X(professor) X(sister) X(rev) X(father) X(nurse) X(mister) \
	X(madam) X(sr) X(sra) X(herr) X(frau) X(mme) X(mlle) X(dame) X(sir) \
	X(lady) X(lord)
/* a ':' after them makes the cue strong */
#define DD_KWL_ROLE(X) X(patient) X(pt) X(name) X(by) X(attending) \
	X(resident) X(fellow) X(intern) X(surgeon) X(radiologist) \
	X(pathologist) X(physician) X(provider) X(pcp) X(cc) X(husband) \
	X(wife) X(son) X(daughter) X(mother) X(father) X(brother) X(sister) \
	X(spouse) X(partner) X(friend) X(guardian) X(contact) X(caregiver) \
	X(nurse) X(rn) X(np) X(pa) X(md) X(technologist) X(tech) X(dictated) \
	X(signed) X(transcribed) X(referring) X(referred) X(ordering) X(to) \
	X(from) X(dear) X(mrs) X(mr) X(ms) X(aunt) X(uncle) X(grandson) \
	X(granddaughter) X(niece) X(nephew) X(neighbor) X(neighbour) \
	X(boyfriend) X(girlfriend) X(fiance) X(fiancee) X(interpreter) \
	X(chaplain) X(therapist) X(coordinator) X(manager) X(worker) \
	X(sincerely) X(regards) X(thanks) X(consultant) X(anesthesiologist) \
	X(cardiologist) X(oncologist)
/* credentials after a name */
#define DD_KWL_CRED(X) X(md) X(do) X(rn) X(np) X(pa) X(phd) X(mbbs) X(frcp) \
	X(dds) X(dmd) X(pharmd) X(lpn) X(cnm) X(crna) X(facs) X(facp) X(facc) \
	X(lcsw) X(msw) X(pt) X(ot) X(mph) X(ms) X(bsn) X(msn) X(aprn) X(fnp) \
	X(dnp) X(jr) X(sr) X(ii) X(iii) X(iv)
/* words after an eponym that make it a disease, sign or device */
#define DD_KWL_EPONEXT(X) X(disease) X(diseases) X(syndrome) X(sign) \
	X(signs) X(palsy) X(test) X(tests) X(fracture) X(lymphoma) X(sarcoma) \
	X(tumor) X(tumour) X(catheter) X(maneuver) X(manoeuvre) X(reflex) \
	X(phenomenon) X(procedure) X(operation) X(classification) X(score) \
	X(scale) X(criteria) X(drain) X(tube) X(traction) X(cell) X(cells) \
	X(bodies) X(body) X(node) X(nodes) X(triad) X(law) X(space) X(duct) \
	X(ulcer) X(ulcers) X(esophagus) X(encephalopathy) X(thyroiditis) \
	X(dementia) X(chorea) X(contracture) X(position) X(stage) X(staging) \
	X(grade) X(index) X(effusion) X(nodule) X(cyst) X(hernia) X(neuroma) \
	X(neuralgia) X(anomaly) X(malformation) X(diverticulum) X(ligament) \
	X(tendon) X(gland) X(glands) X(canal) X(area) X(aphasia) X(coma) \
	X(respiration) X(breathing) X(type) X(stain) X(agar) X(solution) \
	X(lamp) X(splint) X(repair) X(block) X(incision) X(deformity) \
	X(lesion) X(lesions) X(formula) X(equation) X(effect) X(murmur) \
	X(ratio) X(paralysis) X(arteritis) X(mole) X(nevus) X(pouch) X(loop)
#define DD_KWL_PARTICLE(X) X(van) X(von) X(de) X(del) X(della) X(der) \
	X(den) X(di) X(da) X(du) X(le) X(la) X(st) X(ter) X(ten) X(bin) X(ibn) \
	X(al) X(el) X(dos) X(das) X(mac)
/* capitalised words that are never name words */
#define DD_KWL_STOPCAP(X) X(monday) X(tuesday) X(wednesday) X(thursday) \
	X(friday) X(saturday) X(sunday) X(january) X(february) X(march) \
	X(april) X(may) X(june) X(july) X(august) X(september) X(october) \
	X(november) X(december) X(jan) X(feb) X(mar) X(apr) X(jun) X(jul) \
	X(aug) X(sep) X(sept) X(oct) X(nov) X(dec) X(i) X(ii) X(iii) X(iv) \
	X(md) X(rn) X(np) X(pa) X(do) X(phd) X(hospital) X(clinic) X(center) \
	X(university) X(street) X(avenue) X(road) X(ct) X(mri) X(pet) X(ed) \
	X(er) X(icu) X(or)
#define DD_KWL_STREET(X) X(street) X(st) X(avenue) X(ave) X(av) X(road) \
	X(rd) X(boulevard) X(blvd) X(lane) X(ln) X(drive) X(dr) X(court) X(ct) \
	X(way) X(place) X(pl) X(terrace) X(ter) X(circle) X(cir) X(parkway) \
	X(pkwy) X(highway) X(hwy) X(square) X(sq) X(trail) X(trl) X(alley) \
	X(row) X(loop) X(path) X(pike) X(plaza) X(crescent) X(close) \
	X(broadway) X(turnpike) X(tpke) X(expressway) X(route) X(rte)
#define DD_KWL_DIR(X) X(n) X(s) X(e) X(w) X(ne) X(nw) X(se) X(sw) X(north) \
	X(south) X(east) X(west) X(northeast) X(northwest) X(southeast) \
	X(southwest)
#define DD_KWL_UNIT(X) X(apt) X(apartment) X(suite) X(ste) X(unit) X(bldg) \
	X(building) X(fl) X(floor) X(lot)
#define DD_KWL_ORGHEAD(X) X(hospital) X(hospitals) X(clinic) X(clinics) \
	X(infirmary) X(hospice) X(sanatorium) X(university) X(college) \
	X(institute) X(foundation) X(pharmacy) X(laboratories) X(laboratory) \
	X(labs) X(associates) X(partners) X(practice) X(inc) X(llc) \
	X(corporation) X(corp) X(center) X(centre) X(healthcare) X(school) \
	X(academy) X(church) X(system) X(services) X(network) X(group) X(home)
/* first words of the identifier cues (dd_text_pat.c, id_cues[]) */
#define DD_KWL_IDCUE(X) X(mrn) X(mr) X(medical) X(med) X(record) X(chart) \
	X(hospital) X(unit) X(npi) X(dea) X(driver) X(drivers) X(dl) \
	X(license) X(licence) X(passport) X(ssn) X(social) X(vin) X(accession) \
	X(acc) X(account) X(acct) X(id) X(identifier) X(encounter) X(visit) \
	X(case) X(specimen) X(order) X(requisition) X(claim) X(member) \
	X(policy) X(subscriber) X(group) X(reference) X(ref) X(study) X(exam) \
	X(fin) X(csn) X(empi) X(medicare) X(medicaid) X(insurance) X(serial) \
	X(device) X(certificate) X(badge) X(employee) X(plan)
/* filler between an identifier cue and its value */
#define DD_KWL_FILLER(X) X(number) X(no) X(num) X(nbr) X(id) X(code) X(of)
/* words before "3/4" that make it a date */
#define DD_KWL_DATECUE(X) X(on) X(dated) X(dob) X(date) X(since) X(from) \
	X(until) X(of) X(born) X(admitted) X(discharged)
/* first words of the place cues ("lives in", "born in"...: dd_text_loc.c) */
#define DD_KWL_PLACECUE(X) X(lives) X(living) X(resident) X(resides) X(moved) \
	X(born) X(native) X(travel) X(traveled) X(travelled) X(returned) \
	X(located) X(lived) X(visiting) X(relocated) X(home) X(grew)
/* any other word a detector compares a token with */
#define DD_KWL_OTHER(X) X(a) X(admitted) X(age) X(aged) X(ages) X(and) \
	X(at) X(box) X(care) X(code) X(d) X(discharged) X(for) X(from) \
	X(funeral) X(health) X(in) X(is) X(m) X(nursing) X(o) X(old) X(p) \
	X(physicians) X(po) X(postal) X(seen) X(the) X(was) X(y) X(year) \
	X(years) X(yo) X(yr) X(yrs) X(zip) X(rec) X(security) X(ninety) \
	X(hundred) X(lives) X(living) X(resides) X(moved) X(native) X(travel) \
	X(traveled) X(travelled) X(returned) X(located) X(lived) X(visiting) \
	X(relocated) X(grew) X(up)

#include "dd_text_kw.h" /* generated: enum dd_kw, DD_KL_* */

/* DD_KL_* bits of each keyword (index: enum dd_kw) */
extern const uint32_t dd_kw_lists[DD_KW_LAST];

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
	uint16_t kw;        /* enum dd_kw (words only), DD_KW_NONE if none */
	uint8_t fl;         /* length of the folded token, 0 if it cannot be
			     * folded (or is longer than DD_FOLD_MAX) */
	uint32_t fo;        /* the folded token: sc->fold + fo (no NUL) */
};

/* Tokens other than punctuation are folded once (dd_text_fold) into the
 * scan's fold buffer, at most this many bytes. */
#define DD_FOLD_MAX 127

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
	char *fold;      /* folded tokens (struct dd_tok fo, fl) */
	size_t nfold;
	dd_err err;
	bool parse_only; /* dd_text_date_parse(): the span is known to be a date */
};

void dd_scan_add(struct dd_scan *sc, size_t start, size_t end,
		 enum dd_info_type type, bool ctx);
/* Priority of a type when merging (higher wins). */
unsigned dd_text_type_prio(enum dd_info_type type);

/* Token helpers */
/* Is token @i the keyword @kw (ASCII case-insensitive, whole token)? */
static inline bool dd_tok_kw(const struct dd_scan *sc, size_t i, unsigned kw)
{
	return i < sc->ntk && sc->tk[i].kw == kw;
}
/* Is token @i a word of the keyword list(s) @lists (DD_KL_* bits)? */
static inline bool dd_tok_in(const struct dd_scan *sc, size_t i, uint32_t lists)
{
	return i < sc->ntk && (dd_kw_lists[sc->tk[i].kw] & lists) != 0;
}
static inline bool dd_tok_punct(const struct dd_scan *sc, size_t i, char ch)
{
	return i < sc->ntk && sc->tk[i].kind == DD_TK_PUNCT &&
	       sc->s[sc->tk[i].s] == ch;
}
/* The folded token @i (dd_text_fold() of its bytes, not NUL-terminated)
 * and its length in *len, or NULL when it cannot be folded, is
 * punctuation, or is longer than @max bytes (the output size a caller of
 * dd_text_fold() would have passed, less one). */
static inline const char *dd_tok_fold(const struct dd_scan *sc, size_t i,
				      size_t max, size_t *len)
{
	const struct dd_tok *t = &sc->tk[i];

	if (!t->fl || t->fl > max)
		return NULL;
	*len = t->fl;
	return sc->fold + t->fo;
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
