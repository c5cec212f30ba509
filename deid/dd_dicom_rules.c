/* dd_dicom_rules.c: the per-attribute decision (pure; see the header). */
#include <string.h>
#include <strings.h>

#include "dd_dict.h"
#include "dd_dicom_rules.h"

#define T_PATIENT_ID DD_TAG(0x0010, 0x0020)
#define T_PATIENT_AGE DD_TAG(0x0010, 0x1010)
#define T_PIXEL_DATA DD_TAG(0x7fe0, 0x0010)
#define T_TEXT_VALUE DD_TAG(0x0040, 0xa160)
#define T_ENCAP_DOC DD_TAG(0x0042, 0x0011)
#define T_DOC_TITLE DD_TAG(0x0042, 0x0010)
#define T_CONTENT_SEQ DD_TAG(0x0040, 0xa730)
#define T_GRAPHIC_SEQ DD_TAG(0x0070, 0x0001)
#define T_REF_STUDY_SEQ DD_TAG(0x0008, 0x1110)
#define T_CODING_SCHEME DD_TAG(0x0008, 0x0102)
#define T_CODING_SCHEME_VERSION DD_TAG(0x0008, 0x0103)

const struct dd_ps315_row *dd_ps315_find(uint32_t tag)
{
	unsigned lo = 0, hi = dd_ps315_n_exact, i;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (dd_ps315_rows[mid].tag < tag)
			lo = mid + 1;
		else if (dd_ps315_rows[mid].tag > tag)
			hi = mid;
		else
			return &dd_ps315_rows[mid];
	}
	for (i = dd_ps315_n_exact; i < dd_ps315_n_rows; i++) {
		const struct dd_ps315_row *r = &dd_ps315_rows[i];

		if (r->mask == 0) {
			if (DD_TAG_GROUP(tag) & 1)
				return r;
		} else if ((tag & r->mask) == r->tag &&
			   (DD_TAG_GROUP(tag) & 1) == 0) {
			return r;
		}
	}
	return NULL;
}

enum dd_ps315_code dd_ps315_resolve(enum dd_ps315_code c)
{
	switch (c) {
	case DD_P_XZ:
		return DD_P_Z;
	case DD_P_ZD:
	case DD_P_XD:
	case DD_P_XZD:
		return DD_P_D;
	case DD_P_XZU:
		return DD_P_U;
	default:
		return c;
	}
}

const char *dd_dicom_act_name(enum dd_dicom_act a)
{
	static const char *const names[DD_ACT_LAST] = {
		"keep", "recurse", "delete", "empty", "dummy", "uid",
		"clean", "shift", "patient_id", "ident", "age", "document",
	};
	return (unsigned)a < DD_ACT_LAST ? names[a] : "?";
}

bool dd_dicom_is_graphic_group(uint32_t tag)
{
	uint16_t g = DD_TAG_GROUP(tag);

	return ((g >= 0x5000 && g <= 0x501e) || (g >= 0x6000 && g <= 0x601e)) &&
	       !(g & 1);
}

bool dd_dicom_is_ref_instance_uid(uint32_t tag)
{
	return tag == DD_TAG(0x0008, 0x1155) || tag == DD_TAG(0x0004, 0x1511);
}

bool dd_dicom_is_primary_uid(uint32_t tag)
{
	return tag == DD_TAG(0x0020, 0x000d) || tag == DD_TAG(0x0020, 0x000e) ||
	       tag == DD_TAG(0x0008, 0x0018) || tag == DD_TAG(0x0002, 0x0003);
}

/* The minimal keep set: what a valid image object needs (the Image Pixel
 * module, the SOP and the four primary UIDs, the transfer syntax) plus the
 * character set and PatientID (pseudonymised).  Sorted. */
static const uint32_t keep_set[] = {
	DD_TAG(0x0002, 0x0002), DD_TAG(0x0002, 0x0003), DD_TAG(0x0002, 0x0010),
	DD_TAG(0x0008, 0x0005), DD_TAG(0x0008, 0x0016), DD_TAG(0x0008, 0x0018),
	DD_TAG(0x0010, 0x0020), DD_TAG(0x0020, 0x000d), DD_TAG(0x0020, 0x000e),
	DD_TAG(0x0028, 0x0002), DD_TAG(0x0028, 0x0004), DD_TAG(0x0028, 0x0006),
	DD_TAG(0x0028, 0x0008), DD_TAG(0x0028, 0x0010), DD_TAG(0x0028, 0x0011),
	DD_TAG(0x0028, 0x0034), DD_TAG(0x0028, 0x0100), DD_TAG(0x0028, 0x0101),
	DD_TAG(0x0028, 0x0102), DD_TAG(0x0028, 0x0103), DD_TAG(0x0028, 0x0106),
	DD_TAG(0x0028, 0x0107), DD_TAG(0x0028, 0x1101), DD_TAG(0x0028, 0x1102),
	DD_TAG(0x0028, 0x1103), DD_TAG(0x0028, 0x1201), DD_TAG(0x0028, 0x1202),
	DD_TAG(0x0028, 0x1203), DD_TAG(0x0028, 0x1221), DD_TAG(0x0028, 0x1222),
	DD_TAG(0x0028, 0x1223), DD_TAG(0x0028, 0x2000), DD_TAG(0x7fe0, 0x0008),
	DD_TAG(0x7fe0, 0x0009), DD_TAG(0x7fe0, 0x0010),
};

static bool tag_in(const uint32_t *v, size_t n, uint32_t tag)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < tag)
			lo = mid + 1;
		else if (v[mid] > tag)
			hi = mid;
		else
			return true;
	}
	return false;
}

bool dd_dicom_in_keep_set(uint32_t tag)
{
	return tag_in(keep_set, sizeof(keep_set) / sizeof(keep_set[0]), tag);
}

bool dd_dicom_uid_tag_never_mapped(uint32_t tag)
{
	const struct dd_dict_entry *e;
	size_t n;

	switch (tag) {
	case DD_TAG(0x0002, 0x0010): /* TransferSyntaxUID */
	case DD_TAG(0x0002, 0x0012): /* ImplementationClassUID */
	case DD_TAG(0x0008, 0x010c): /* CodingSchemeUID */
	case DD_TAG(0x0008, 0x010d): /* ContextGroupExtensionCreatorUID */
	case DD_TAG(0x0008, 0x0117): /* ContextUID */
	case DD_TAG(0x0040, 0xdb0c): /* TemplateExtensionOrganizationUID */
	case DD_TAG(0x0040, 0xdb0d): /* TemplateExtensionCreatorUID */
	case DD_TAG(0x0400, 0x0010): /* MACCalculationTransferSyntaxUID */
	case DD_TAG(0x0004, 0x1512): /* ReferencedTransferSyntaxUIDInFile */
	case DD_TAG(0x0008, 0x1150): /* ReferencedSOPClassUID */
	case DD_TAG(0x0004, 0x1510): /* ReferencedSOPClassUIDInFile */
		return true;
	default:
		break;
	}
	e = dd_dict_find_tag(tag);
	if (!e)
		return false;
	n = strlen(e->keyword);
	return n >= 8 && strcmp(e->keyword + n - 8, "ClassUID") == 0;
}

/* The built-in safe-private table (Retain Safe Private Option): a few
 * private attributes listed in PS3.15 Table E.3.10-1 that carry
 * acquisition physics only.  An element matches on (creator, group,
 * element low byte). */
struct safe_private {
	const char *creator;
	uint16_t group;
	uint8_t elem;
};

static const struct safe_private safe_private[] = {
	{"SIEMENS MR HEADER", 0x0019, 0x0c},  /* B_value */
	{"SIEMENS MR HEADER", 0x0019, 0x0d},  /* DiffusionDirectionality */
	{"SIEMENS MR HEADER", 0x0019, 0x0e},  /* DiffusionGradientDirection */
	{"SIEMENS MR HEADER", 0x0019, 0x27},  /* B_matrix */
	{"GEMS_ACQU_01", 0x0019, 0xbb},       /* user data (diffusion) */
	{"GEMS_ACQU_01", 0x0019, 0xbc},
	{"GEMS_ACQU_01", 0x0019, 0xbd},
	{"GEMS_PARM_01", 0x0043, 0x39},       /* slop_int_6..9 (b value) */
	{"Philips Imaging DD 001", 0x2001, 0x03}, /* diffusion b-factor */
	{"Philips MR Imaging DD 001", 0x2005, 0x0d}, /* scale intercept */
	{"Philips MR Imaging DD 001", 0x2005, 0x0e}, /* scale slope */
};

static bool creator_eq(const char *a, const char *b)
{
	size_t n = strlen(b);

	/* creators are compared without trailing spaces */
	if (strncmp(a, b, n) != 0)
		return false;
	while (a[n] == ' ')
		n++;
	return a[n] == 0;
}

bool dd_dicom_private_is_safe(const char *creator, uint32_t tag)
{
	size_t i;
	uint16_t el = DD_TAG_ELEM(tag);

	if (!creator)
		return false;
	for (i = 0; i < sizeof(safe_private) / sizeof(safe_private[0]); i++) {
		const struct safe_private *s = &safe_private[i];

		if (s->group != DD_TAG_GROUP(tag) || !creator_eq(creator, s->creator))
			continue;
		if (el >= 0x0010 && el <= 0x00ff)
			return true; /* the creator element of a safe block */
		if ((el & 0xff) == s->elem && el >= 0x1000)
			return true;
	}
	return false;
}

unsigned dd_dicom_options(const struct dd_policy *pol)
{
	unsigned o = pol->dicom.ps315_options;

	if (pol->dicom.clean_descriptors)
		o |= DD_PS315_CLEAN_DESC;
	return o;
}

bool dd_dicom_vr_is_text(const char *vr)
{
	static const char text[] = "AE LO LT PN SH ST UC UT DA DT AS";
	size_t i;

	for (i = 0; i + 1 < sizeof(text); i += 3)
		if (vr[0] == text[i] && vr[1] == text[i + 1])
			return true;
	return false;
}

static bool vr_is(const struct dd_dicom_elem *e, const char *vr)
{
	return e->vr[0] == vr[0] && e->vr[1] == vr[1];
}

static bool is_private(uint32_t tag)
{
	return DD_TAG_GROUP(tag) & 1;
}

/* Identifiers that become keyed pseudonyms (not emptied) when the profile
 * says Z or D: DESIGN.md "identifiers become pseudonyms". Sorted. */
static const uint32_t ident_tags[] = {
	DD_TAG(0x0008, 0x0050), /* AccessionNumber */
	DD_TAG(0x0020, 0x0010), /* StudyID */
	DD_TAG(0x0038, 0x0010), /* AdmissionID */
	DD_TAG(0x0040, 0x0009), /* ScheduledProcedureStepID */
	DD_TAG(0x0040, 0x0253), /* PerformedProcedureStepID */
	DD_TAG(0x0040, 0x1001), /* RequestedProcedureID */
	DD_TAG(0x0040, 0x2016), /* PlacerOrderNumberImagingServiceRequest */
	DD_TAG(0x0040, 0x2017), /* FillerOrderNumberImagingServiceRequest */
};

static enum dd_dicom_act seq_or(const struct dd_dicom_elem *e,
				enum dd_dicom_act a)
{
	return vr_is(e, "SQ") ? DD_ACT_RECURSE : a;
}

/* ---- v1beta1 actions ---------------------------------------------------- */

static bool query_matches(const struct dd_dicom_query *q,
			  const struct dd_dicom_elem *e)
{
	if (q->kind == DD_DQ_TAG)
		return q->tag == e->tag;
	return vr_is(e, q->vr);
}

/* The act for Google action @k on @e, or DD_ACT_LAST if @k does not apply
 * to the element's VR. */
static enum dd_dicom_act action_act(enum dd_dicom_action_kind k,
				    const struct dd_dicom_elem *e)
{
	switch (k) {
	case DD_DACT_KEEP:
		return DD_ACT_KEEP;
	case DD_DACT_REMOVE:
		return DD_ACT_EMPTY;
	case DD_DACT_DELETE:
		return DD_ACT_DELETE;
	case DD_DACT_RESET:
		if (e->tag == T_ENCAP_DOC)
			return DD_ACT_DOCUMENT;
		return vr_is(e, "SQ") ? DD_ACT_EMPTY : DD_ACT_DUMMY;
	case DD_DACT_REGEN_UID:
		return vr_is(e, "UI") ? DD_ACT_UID : DD_ACT_LAST;
	case DD_DACT_CLEAN_TEXT:
		if (!dd_dicom_vr_is_text(e->vr))
			return DD_ACT_LAST;
		if (vr_is(e, "DA") || vr_is(e, "DT"))
			return DD_ACT_SHIFT;
		return DD_ACT_CLEAN;
	case DD_DACT_CLEAN_IMAGE:
		/* nested pixel data reverts to keep (Google) */
		return e->tag == T_PIXEL_DATA ? DD_ACT_KEEP : DD_ACT_LAST;
	case DD_DACT_RECURSE:
		return vr_is(e, "SQ") ? DD_ACT_RECURSE : DD_ACT_LAST;
	}
	return DD_ACT_LAST;
}

static const struct dd_dicom_action *
find_action(const struct dd_policy_dicom *d, const struct dd_dicom_elem *e,
	    enum dd_dicom_act *act)
{
	size_t i, j;

	for (i = 0; i < d->n_actions; i++) {
		const struct dd_dicom_action *a = &d->actions[i];

		for (j = 0; j < a->n_queries; j++) {
			if (query_matches(&a->queries[j], e)) {
				enum dd_dicom_act r = action_act(a->kind, e);

				if (r != DD_ACT_LAST) {
					*act = r;
					return a;
				}
				break;
			}
		}
	}
	*act = DD_ACT_LAST;
	return NULL;
}

static enum dd_dicom_act decide_actions(const struct dd_policy_dicom *d,
					const struct dd_dicom_elem *e)
{
	enum dd_dicom_act r;

	(void)find_action(d, e, &r);
	return r;
}

const struct dd_dicom_action *dd_dicom_action_for(const struct dd_policy *pol,
						  const struct dd_dicom_elem *e)
{
	enum dd_dicom_act r;

	if (!pol->dicom.tag_config)
		return NULL;
	return find_action(&pol->dicom, e, &r);
}

/* ---- profiles ------------------------------------------------------------ */

static enum dd_dicom_act decide_private(unsigned opts,
					const struct dd_dicom_elem *e)
{
	if ((opts & DD_PS315_RETAIN_SAFE_PRIVATE) &&
	    dd_dicom_private_is_safe(e->creator, e->tag))
		return seq_or(e, DD_ACT_KEEP);
	return DD_ACT_DELETE;
}

/* Z on a sequence empties it (zero items: what PS3.15 means for the Type 2
 * sequences), except for the sequences no module defines as Type 2, whose
 * zero items dciodvfy rejects ("1-n Required"): they keep their items,
 * recursed with DD_DCTX_DUMMY, so their references (U) still resolve and
 * no text of theirs stays.  Without IOD tables the list is explicit. */
static bool z_keeps_items(const struct dd_dicom_elem *e)
{
	return vr_is(e, "SQ") && e->tag == T_REF_STUDY_SEQ;
}

/* The act for a resolved Basic Profile code. */
static enum dd_dicom_act basic_act(enum dd_ps315_code c,
				   const struct dd_dicom_elem *e)
{
	bool ident = tag_in(ident_tags, sizeof(ident_tags) / sizeof(ident_tags[0]),
			    e->tag);

	switch (c) {
	case DD_P_X:
		return DD_ACT_DELETE;
	case DD_P_Z:
		if (e->tag == T_PATIENT_ID)
			return DD_ACT_PATIENT_ID;
		if (z_keeps_items(e))
			return DD_ACT_RECURSE; /* items replaced (DUMMY) */
		return ident ? DD_ACT_IDENT : DD_ACT_EMPTY;
	case DD_P_D:
		if (e->tag == T_PATIENT_ID)
			return DD_ACT_PATIENT_ID;
		if (e->tag == T_ENCAP_DOC)
			return DD_ACT_DOCUMENT;
		if (vr_is(e, "SQ"))
			return DD_ACT_RECURSE;
		if (vr_is(e, "UI"))
			return DD_ACT_UID;
		return ident ? DD_ACT_IDENT : DD_ACT_DUMMY;
	case DD_P_U:
		return vr_is(e, "UI") ? DD_ACT_UID : seq_or(e, DD_ACT_DUMMY);
	case DD_P_K:
		return seq_or(e, DD_ACT_KEEP);
	case DD_P_C:
		return seq_or(e, DD_ACT_CLEAN);
	default:
		return DD_ACT_DELETE;
	}
}

/* An option column's letter @l applied to @e (column @col). */
static enum dd_dicom_act option_act(int col, char l,
				    const struct dd_ps315_row *row,
				    const struct dd_dicom_elem *e)
{
	if (l == 'K') {
		if (e->tag == T_PATIENT_AGE)
			return DD_ACT_AGE;
		return seq_or(e, DD_ACT_KEEP);
	}
	/* 'C' */
	if (vr_is(e, "SQ"))
		return DD_ACT_RECURSE;
	if (row->mask != 0xffffffffu && row->mask != 0)
		return DD_ACT_DELETE; /* curves and overlays: cannot clean yet */
	if (col == DD_COL_LONG_MODIFIED_DATES) {
		if (vr_is(e, "DA") || vr_is(e, "DT"))
			return DD_ACT_SHIFT;
		return DD_ACT_KEEP; /* TM (and anything else): kept */
	}
	if (vr_is(e, "DA") || vr_is(e, "DT"))
		return DD_ACT_SHIFT;
	return DD_ACT_CLEAN;
}

static enum dd_dicom_act decide_basic(unsigned opts,
				      const struct dd_dicom_elem *e)
{
	const struct dd_ps315_row *row;
	int col, kcol = -1, ccol = -1;

	if (is_private(e->tag))
		return decide_private(opts, e);
	row = dd_ps315_find(e->tag);
	if (!row) {
		if (DD_TAG_ELEM(e->tag) == 0x0000)
			return DD_ACT_KEEP; /* group length: recomputed */
		if (e->tag == T_TEXT_VALUE && (e->ctx & DD_DCTX_CONTENT))
			return (opts & DD_PS315_CLEAN_STRUCT_CONT) ? DD_ACT_CLEAN
								   : DD_ACT_DUMMY;
		if (e->tag == T_DOC_TITLE)
			return DD_ACT_CLEAN;
		if (!dd_dict_find_tag(e->tag))
			return DD_ACT_DELETE;
		return seq_or(e, DD_ACT_KEEP);
	}
	for (col = 0; col < DD_COL_LAST; col++) {
		if (!(opts & (1u << col)) || row->opts[col] == '-')
			continue;
		if (row->opts[col] == 'K' && kcol < 0)
			kcol = col;
		if (row->opts[col] == 'C' && ccol < 0)
			ccol = col;
	}
	/* an option that keeps beats one that cleans (documented) */
	if (kcol >= 0)
		return option_act(kcol, 'K', row, e);
	if (ccol >= 0)
		return option_act(ccol, 'C', row, e);
	return basic_act(dd_ps315_resolve(row->code), e);
}

static bool is_creator(uint32_t tag)
{
	return is_private(tag) && DD_TAG_ELEM(tag) >= 0x0010 &&
	       DD_TAG_ELEM(tag) <= 0x00ff;
}

static enum dd_dicom_act decide_contents(const struct dd_dicom_elem *e)
{
	/* creators are kept, not cleaned: a detector finding in a vendor name
	 * ("SIEMENS MR HEADER") would rename the block and orphan its
	 * elements (docs/internals/dicom.md) */
	if (is_creator(e->tag))
		return DD_ACT_KEEP;
	if (e->tag == T_PATIENT_ID)
		return DD_ACT_PATIENT_ID;
	if (vr_is(e, "SQ"))
		return DD_ACT_RECURSE;
	if (dd_dicom_vr_is_text(e->vr)) {
		if (vr_is(e, "DA") || vr_is(e, "DT"))
			return DD_ACT_SHIFT;
		return DD_ACT_CLEAN;
	}
	/* values that cannot be inspected: unknown or private non-text */
	if (is_private(e->tag))
		return DD_ACT_DELETE;
	if (DD_TAG_ELEM(e->tag) != 0 && !dd_dict_find_tag(e->tag))
		return DD_ACT_DELETE;
	return DD_ACT_KEEP;
}

/* VRs whose kept value is replaced by the dummy inside a replaced
 * sequence: text, names, dates and times. */
static bool dummy_vr(const struct dd_dicom_elem *e)
{
	static const char v[] = "AE AS DA DT LO LT PN SH ST TM UC UR UT";
	size_t i;

	for (i = 0; i + 1 < sizeof(v); i += 3)
		if (e->vr[0] == v[i] && e->vr[1] == v[i + 1])
			return true;
	return false;
}

/* The sequence @e under the Basic Profile is replaced (D, or a Z kept
 * with its items) with no option column entry for it. */
static bool basic_replaces_seq(unsigned opts, const struct dd_dicom_elem *e)
{
	const struct dd_ps315_row *row;
	enum dd_ps315_code c;
	int col;

	if (is_private(e->tag))
		return false;
	row = dd_ps315_find(e->tag);
	if (!row)
		return false;
	for (col = 0; col < DD_COL_LAST; col++)
		if ((opts & (1u << col)) && row->opts[col] != '-')
			return false;
	c = dd_ps315_resolve(row->code);
	return c == DD_P_D || (c == DD_P_Z && z_keeps_items(e));
}

unsigned dd_dicom_seq_ctx(const struct dd_policy *pol,
			  const struct dd_dicom_elem *e)
{
	const struct dd_policy_dicom *d = &pol->dicom;
	const struct dd_ps315_row *row;
	unsigned c = 0;

	if (e->tag == T_CONTENT_SEQ)
		c |= DD_DCTX_CONTENT;
	else if (e->tag == T_GRAPHIC_SEQ)
		c |= DD_DCTX_GRAPHIC;
	else if (!is_private(e->tag) && (row = dd_ps315_find(e->tag)) &&
		 row->opts[DD_COL_CLEAN_STRUCT_CONT] == 'C')
		c |= DD_DCTX_CONTENT; /* AcquisitionContextSequence & co */
	if (d->tag_config && decide_actions(d, e) != DD_ACT_LAST)
		return c; /* recurseTag: the rules inside, nothing more */
	if (d->profile == DD_DICOM_PROFILE_BASIC &&
	    (d->tag_config || d->filter == DD_DICOM_FILTER_PROFILE) &&
	    basic_replaces_seq(dd_dicom_options(pol), e))
		c |= DD_DCTX_DUMMY;
	return c;
}

static enum dd_dicom_act keep_set_act(const struct dd_dicom_elem *e)
{
	return e->tag == T_PATIENT_ID ? DD_ACT_PATIENT_ID : DD_ACT_KEEP;
}

static bool keeps_primary_uids(const struct dd_policy_dicom *d, unsigned opts)
{
	return d->primary_ids == DD_PRIMARY_IDS_KEEP ||
	       (d->profile == DD_DICOM_PROFILE_BASIC &&
		(opts & DD_PS315_RETAIN_UIDS));
}

/* KEEP_ALL chosen by the profile itself (not a keepList/removeList). */
static bool profile_keeps_all(const struct dd_policy_dicom *d)
{
	return d->profile == DD_DICOM_PROFILE_KEEP_ALL &&
	       (d->tag_config || d->filter == DD_DICOM_FILTER_PROFILE);
}

static enum dd_dicom_act decide_policy(const struct dd_policy *pol,
				       const struct dd_dicom_elem *e);

enum dd_dicom_act dd_dicom_decide(const struct dd_policy *pol,
				  const struct dd_dicom_elem *e)
{
	const struct dd_policy_dicom *d = &pol->dicom;
	enum dd_dicom_act a;

	if (d->tag_config) {
		a = decide_actions(d, e);
		if (a != DD_ACT_LAST)
			return a; /* an explicit action is never overridden */
	}
	a = decide_policy(pol, e);
	/* a reference to a SOP instance follows the primary UIDs */
	if (a == DD_ACT_KEEP && vr_is(e, "UI") &&
	    dd_dicom_is_ref_instance_uid(e->tag) &&
	    !keeps_primary_uids(d, dd_dicom_options(pol)))
		return DD_ACT_UID;
	/* inside a replaced sequence, nothing the rules keep stays as is
	 * except the code scheme names and values that are not text */
	if (a == DD_ACT_KEEP && (e->ctx & DD_DCTX_DUMMY)) {
		if (vr_is(e, "UI"))
			return DD_ACT_UID; /* class UIDs are never mapped */
		if (dummy_vr(e) && e->tag != T_CODING_SCHEME &&
		    e->tag != T_CODING_SCHEME_VERSION)
			return DD_ACT_DUMMY;
	}
	return a;
}

static enum dd_dicom_act decide_policy(const struct dd_policy *pol,
				       const struct dd_dicom_elem *e)
{
	const struct dd_policy_dicom *d = &pol->dicom;
	unsigned opts = dd_dicom_options(pol);

	if (dd_dicom_is_primary_uid(e->tag) && vr_is(e, "UI"))
		return keeps_primary_uids(d, opts) ? DD_ACT_KEEP : DD_ACT_UID;
	/* overlays and curves: the whole repeating group, so no overlay is
	 * left without its OverlayData and no OverlayDescription stays;
	 * KEEP_ALL keeps them, a keepList keeps what it lists */
	if (dd_dicom_is_graphic_group(e->tag) && !profile_keeps_all(d) &&
	    !(!d->tag_config && d->filter == DD_DICOM_FILTER_KEEP_LIST &&
	      tag_in(d->list_tags, d->n_list_tags, e->tag)))
		return DD_ACT_DELETE;
	if (!d->tag_config && d->filter == DD_DICOM_FILTER_KEEP_LIST) {
		if (dd_dicom_in_keep_set(e->tag))
			return keep_set_act(e);
		if (tag_in(d->list_tags, d->n_list_tags, e->tag))
			return DD_ACT_KEEP;
		return DD_ACT_DELETE;
	}
	if (!d->tag_config && d->filter == DD_DICOM_FILTER_REMOVE_LIST) {
		if (dd_dicom_in_keep_set(e->tag))
			return DD_ACT_KEEP; /* the keep set cannot be removed */
		if ((e->tag & 0xff00ffffu) == DD_TAG(0x6000, 0x3000) &&
		    !is_private(e->tag))
			return DD_ACT_DELETE; /* OverlayData, always */
		if (tag_in(d->list_tags, d->n_list_tags, e->tag))
			return DD_ACT_EMPTY;
		if (!is_private(e->tag) && DD_TAG_ELEM(e->tag) != 0 &&
		    !dd_dict_find_tag(e->tag))
			return DD_ACT_DELETE;
		return seq_or(e, DD_ACT_KEEP);
	}
	switch (d->profile) {
	case DD_DICOM_PROFILE_KEEP_ALL:
		/* recurse so nested primary UIDs follow the top-level ones */
		return seq_or(e, DD_ACT_KEEP);
	case DD_DICOM_PROFILE_MINIMAL_KEEP_LIST:
		return dd_dicom_in_keep_set(e->tag) ? keep_set_act(e)
						    : DD_ACT_DELETE;
	case DD_DICOM_PROFILE_BASIC:
		return decide_basic(opts, e);
	case DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS:
		return decide_contents(e);
	}
	return DD_ACT_DELETE;
}
