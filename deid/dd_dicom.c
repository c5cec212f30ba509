/* dd_dicom.c: the DICOM engine: classify, walk the data set applying
 * dd_dicom_decide(), write the manifest.  docs/internals/dicom.md explains
 * the choices (dummy values, markers, fail-closed rules). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dd_bridge.h"
#include "dd_dicom.h"
#include "dd_dicom_i.h"
#include "dd_dicom_rules.h"
#include "dd_image.h"
#include "dd_log.h"
#include "dd_ocr.h"

/* Caps: literal bytes of a manifest (header + tail; pixel values small
 * enough to be loaded count too) and a full rewrite (deflated files). */
#define DD_DICOM_MAX_LITERAL (64u << 20)
#define DD_DICOM_MAX_FULL (256u << 20)
#define DD_DICOM_MAX_DEPTH 64

#define T_SPECIFIC_CHARSET DD_TAG(0x0008, 0x0005)
#define T_SOP_CLASS DD_TAG(0x0008, 0x0016)
#define T_SOP_INSTANCE DD_TAG(0x0008, 0x0018)
#define T_MS_SOP_CLASS DD_TAG(0x0002, 0x0002)
#define T_PATIENT_ID DD_TAG(0x0010, 0x0020)
#define T_ISSUER DD_TAG(0x0010, 0x0021)
#define T_STUDY_UID DD_TAG(0x0020, 0x000d)
#define T_BURNED_IN DD_TAG(0x0028, 0x0301)
#define T_RECOGNIZABLE DD_TAG(0x0028, 0x0302)
#define T_MIME DD_TAG(0x0042, 0x0012)
#define T_DOC_LENGTH DD_TAG(0x0042, 0x0015)
#define T_CONTENT_SEQ DD_TAG(0x0040, 0xa730)
#define T_GRAPHIC_SEQ DD_TAG(0x0070, 0x0001)
#define T_PIXEL_DATA DD_TAG(0x7fe0, 0x0010)
#define T_ICON_SEQ DD_TAG(0x0088, 0x0200)
#define T_MODALITY DD_TAG(0x0008, 0x0060)
#define T_MANUFACTURER DD_TAG(0x0008, 0x0070)
#define T_MODEL DD_TAG(0x0008, 0x1090)
#define T_IMAGE_TYPE DD_TAG(0x0008, 0x0008)

/* Redaction modes (enum dd_redaction_mode), for the per-mode images. */
#define DD_DICOM_N_MODES 4
/* The largest pixel value written as a literal (a compressed image
 * rewritten as Explicit VR Little Endian). */
#define DD_DICOM_MAX_PIXELS_LITERAL (1ull << 30)

struct dd_dicom {
	const struct dd_policy *pol;
	const struct dd_pseudo *pseudo;
	const struct dd_text *text;
	unsigned opts;      /* effective PS3.15 option bits */
	bool need_ctx;      /* text cleaning may happen: collect context */
	unsigned text_flags; /* DD_TEXT_CTX_TOKEN when cleaning descriptors */
	bool markers;       /* add PatientIdentityRemoved & co */
	bool image_base;    /* options.cleanImage, image or ocrRegions given */
	enum dd_redaction_mode image_base_mode;
	/* The image engines, one per redaction mode, created at first use
	 * (tesseract's model loads at the first OCR run, in dd_ocr; a
	 * program without OMP_THREAD_LIMIT=1 fails there, hiding the image,
	 * not at start).
	 * Protected by image_lock; immutable once set. */
	pthread_mutex_t image_lock;
	struct dd_image *image[DD_DICOM_N_MODES];
	dd_err image_err[DD_DICOM_N_MODES];
	/* The tag of this engine's pixel regenerator (DD_SEG_REGEN: redacted
	 * values rebuilt at read time, see img_regen) */
	uint8_t regen_tag[16];
	bool registered;
};

/* One transform's state (one thread). */
struct tx {
	const struct dd_dicom *d;
	struct dd_text_ctx *ctx;
	char patient_id[17];
	int shift;
	struct dd_buf val;  /* scratch: a value */
	struct dd_buf utf8; /* scratch: a value in UTF-8 */
	struct dd_buf out;  /* scratch: a new value */
	unsigned n_fail_closed;
};

/* ---- engine --------------------------------------------------------------- */

/* Does the policy look at pixel data at all (any image config, a
 * cleanImageTag action or fixed regions)? */
static bool policy_images(const struct dd_policy *pol)
{
	size_t i;

	if (pol->dicom.clean_image.present || pol->image.present ||
	    pol->deidfs.n_ocr_regions)
		return true;
	for (i = 0; i < pol->dicom.n_actions; i++)
		if (pol->dicom.actions[i].kind == DD_DACT_CLEAN_IMAGE)
			return true;
	return false;
}

/* The image engine for @mode, created on first use. */
static dd_err image_get(const struct dd_dicom *dc, enum dd_redaction_mode mode,
			struct dd_image **out)
{
	struct dd_dicom *d = (struct dd_dicom *)dc; /* only the lazy slots */
	dd_err err;

	*out = NULL;
	if ((unsigned)mode >= DD_DICOM_N_MODES)
		return DD_E_INVAL;
	pthread_mutex_lock(&d->image_lock);
	if (!d->image[mode] && !d->image_err[mode]) {
		d->image_err[mode] = dd_image_new(d->pol, (int)mode, d->text,
						  &d->image[mode]);
		if (d->image_err[mode])
			dd_log(DD_LOG_ERR, "dicom: image engine: %s",
			       dd_err_name(d->image_err[mode]));
	}
	*out = d->image[mode];
	err = d->image_err[mode];
	pthread_mutex_unlock(&d->image_lock);
	return err;
}

static dd_err img_regen(void *ctx, int src_fd, const struct dd_manifest *m,
			const uint8_t *desc, size_t desc_len,
			struct dd_buf *out);

static dd_err dicom_new(const struct dd_policy *pol,
			const struct dd_pseudo *pseudo,
			const struct dd_text *text, const char *policy_hash,
			bool deferred, struct dd_dicom **out)
{
	struct dd_dicom *d;
	const struct dd_policy_dicom *pd;
	size_t i;
	dd_err err;

	*out = NULL;
	if (!pol || !pseudo)
		return DD_E_INVAL;
	pd = &pol->dicom;
	if (!deferred && (err = dd_bridge_init()))
		return err;
	d = calloc(1, sizeof(*d));
	if (!d)
		return DD_E_NOMEM;
	d->pol = pol;
	d->pseudo = pseudo;
	d->text = text;
	d->opts = dd_dicom_options(pol);
	d->need_ctx = pd->profile == DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS ||
		      pd->profile == DD_DICOM_PROFILE_BASIC;
	for (i = 0; i < pd->n_actions; i++)
		if (pd->actions[i].kind == DD_DACT_CLEAN_TEXT)
			d->need_ctx = true;
	if (pd->profile == DD_DICOM_PROFILE_BASIC || pd->clean_descriptors)
		d->text_flags = DD_TEXT_CTX_TOKEN;
	d->markers = pd->tag_config || pd->filter != DD_DICOM_FILTER_REMOVE_LIST;
	if (!pd->tag_config && pd->filter == DD_DICOM_FILTER_PROFILE &&
	    pd->profile == DD_DICOM_PROFILE_KEEP_ALL)
		d->markers = false;
	if (pd->tag_config && pd->profile == DD_DICOM_PROFILE_KEEP_ALL)
		d->markers = false;
	d->image_base = dd_image_policy_base(pol, &d->image_base_mode);
	if (policy_images(pol))
		d->need_ctx = true; /* OCR'd words are judged with the header */
	pthread_mutex_init(&d->image_lock, NULL);
	/* everything a rebuilt pixel value depends on besides its descriptor
	 * and the source: the policy hash covers the policy, the key's
	 * fingerprint and DD_ENGINE_VERSION, so a new decoder never serves an
	 * old manifest's value */
	err = dd_manifest_regen_tag(d->regen_tag, "dd-dicom-pixels-1", "|",
				    policy_hash ? policy_hash : "", NULL);
	if (!err)
		err = dd_manifest_regen_register(d->regen_tag, img_regen, d);
	if (err) {
		dd_dicom_free(d);
		return err;
	}
	d->registered = true;
	*out = d;
	return DD_OK;
}

dd_err dd_dicom_new(const struct dd_policy *pol, const struct dd_pseudo *pseudo,
		    const struct dd_text *text, const char *policy_hash,
		    struct dd_dicom **out)
{
	return dicom_new(pol, pseudo, text, policy_hash, false, out);
}

dd_err dd_dicom_new_deferred(const struct dd_policy *pol,
			     const struct dd_pseudo *pseudo,
			     const struct dd_text *text,
			     const char *policy_hash, struct dd_dicom **out)
{
	return dicom_new(pol, pseudo, text, policy_hash, true, out);
}

void dd_dicom_free(struct dd_dicom *d)
{
	size_t i;

	if (!d)
		return;
	if (d->registered)
		dd_manifest_regen_unregister(d->regen_tag, d);
	for (i = 0; i < DD_DICOM_N_MODES; i++)
		dd_image_free(d->image[i]);
	pthread_mutex_destroy(&d->image_lock);
	free(d);
}

bool dd_dicom_sniff(const uint8_t *head, size_t n)
{
	return n >= 132 && memcmp(head + 128, "DICM", 4) == 0;
}

/* ---- small helpers ------------------------------------------------------- */

/* The trimmed string value of @tag in @it into @b (reset first); false if
 * absent or not a string. */
static bool item_string(struct dd_bitem *it, uint32_t tag, struct dd_buf *b)
{
	struct dd_belem *e = dd_bridge_item_find(it, tag);
	size_t s = 0;

	dd_buf_reset(b);
	if (!e || dd_bridge_elem_get(e, b) != DD_OK)
		return false;
	while (b->len > 0 && (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == 0))
		b->len--;
	while (s < b->len && b->data[s] == ' ')
		s++;
	if (s > 0) {
		memmove(b->data, b->data + s, b->len - s);
		b->len -= s;
	}
	if (b->data)
		b->data[b->len] = 0;
	return true;
}

static const char *buf_str(const struct dd_buf *b)
{
	return b->data ? (const char *)b->data : "";
}

static bool vr_is(const char *vr, const char *want)
{
	return vr[0] == want[0] && vr[1] == want[1];
}

/* Set @e to @s; if dcmtk refuses, empty it; if that fails, report. */
static dd_err set_or_empty(struct tx *t, struct dd_belem *e, const char *s,
			   size_t n)
{
	if (dd_bridge_elem_set(e, s, n) == DD_OK)
		return DD_OK;
	t->n_fail_closed++;
	return dd_bridge_elem_clear(e);
}

/* ---- context for the text detector --------------------------------------- */

static enum dd_info_type ctx_type(const struct dd_ps315_row *row,
				  uint32_t tag, const char *vr)
{
	const char *kw = row->keyword;

	if (vr_is(vr, "PN"))
		return DD_IT_PERSON_NAME;
	if (tag == DD_TAG(0x0010, 0x0030))
		return DD_IT_DATE_OF_BIRTH;
	if (vr_is(vr, "DA") || vr_is(vr, "DT"))
		return DD_IT_DATE;
	if (tag == T_PATIENT_ID)
		return DD_IT_MEDICAL_RECORD_NUMBER;
	if (strstr(kw, "Address"))
		return DD_IT_STREET_ADDRESS;
	if (strstr(kw, "Telephone"))
		return DD_IT_PHONE_NUMBER;
	if (strstr(kw, "Institution"))
		return DD_IT_ORGANIZATION_NAME;
	if (strstr(kw, "ID") || strstr(kw, "Number"))
		return DD_IT_GENERIC_ID;
	return DD_IT_CONTEXT;
}

/* The value of @e in UTF-8 into t->utf8; false if it cannot be decoded. */
static bool value_utf8(struct tx *t, struct dd_belem *e, const char *vr,
		       const char *charset)
{
	dd_buf_reset(&t->val);
	dd_buf_reset(&t->utf8);
	if (dd_bridge_elem_get(e, &t->val) != DD_OK)
		return false;
	if (dd_dicom_is_ascii((const char *)t->val.data, t->val.len))
		return dd_buf_add(&t->utf8, t->val.data, t->val.len) == DD_OK;
	if (!charset || !*charset)
		return false;
	return dd_bridge_to_utf8(charset, (const char *)t->val.data, t->val.len,
				 vr_is(vr, "PN"), &t->utf8) == DD_OK;
}

/* Each value of t->utf8 (and each '='-separated component group of a PN
 * value: alphabetic, ideographic, phonetic) as one context value. */
static void ctx_add_values(struct tx *t, enum dd_info_type type)
{
	const char *s = buf_str(&t->utf8);
	size_t n = t->utf8.len, i = 0, j;
	char sep = type == DD_IT_PERSON_NAME ? '=' : '\\';

	while (i < n) {
		for (j = i; j < n && s[j] != '\\' && s[j] != sep; j++)
			;
		if (j > i)
			(void)dd_text_ctx_add(t->ctx, type, s + i, j - i);
		i = j + 1;
	}
}

static void ctx_collect(struct tx *t, struct dd_bitem *it, const char *charset,
			unsigned depth)
{
	struct dd_belem *e;
	struct dd_belem_info in;

	if (depth > DD_DICOM_MAX_DEPTH)
		return;
	for (e = dd_bridge_item_next(it, NULL); e; e = dd_bridge_item_next(it, e)) {
		const struct dd_ps315_row *row;

		dd_bridge_elem_info(e, &in);
		if (in.is_sq) {
			size_t i;

			for (i = 0; i < in.n_items; i++)
				ctx_collect(t, dd_bridge_elem_item(e, i), charset,
					    depth + 1);
			continue;
		}
		if (DD_TAG_GROUP(in.tag) & 1)
			continue;
		row = dd_ps315_find(in.tag);
		if (!row || row->code == DD_P_K || row->code == DD_P_C ||
		    row->opts[DD_COL_CLEAN_DESC] == 'C')
			continue;
		if (!vr_is(in.vr, "PN") && !vr_is(in.vr, "LO") &&
		    !vr_is(in.vr, "SH") && !vr_is(in.vr, "DA") &&
		    !vr_is(in.vr, "DT") && !vr_is(in.vr, "ST") &&
		    !vr_is(in.vr, "UC") && !vr_is(in.vr, "AE"))
			continue;
		if (value_utf8(t, e, in.vr, charset))
			ctx_add_values(t, ctx_type(row, in.tag, in.vr));
	}
}

/* ---- value actions --------------------------------------------------------- */

static dd_err act_uid(struct tx *t, struct dd_belem *e, uint32_t tag)
{
	const char *s;
	size_t n, i = 0, j;
	dd_err err;

	if (dd_dicom_uid_tag_never_mapped(tag))
		return DD_OK;
	dd_buf_reset(&t->val);
	dd_buf_reset(&t->out);
	err = dd_bridge_elem_get(e, &t->val);
	if (err)
		return err == DD_E_NOMEM ? err : dd_bridge_elem_clear(e);
	s = buf_str(&t->val);
	n = t->val.len;
	while (n > 0 && (s[n - 1] == 0 || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return DD_OK;
	while (i <= n) {
		char uid[65];
		size_t a, b;

		for (j = i; j < n && s[j] != '\\'; j++)
			;
		for (a = i; a < j && s[a] == ' '; a++)
			;
		for (b = j; b > a && (s[b - 1] == ' ' || s[b - 1] == 0); b--)
			;
		if (i > 0)
			err = dd_buf_addc(&t->out, '\\');
		if (!err && b > a) {
			if (b - a > 14 && memcmp(s + a, "1.2.840.10008.", 14) == 0) {
				err = dd_buf_add(&t->out, s + a, b - a);
			} else {
				dd_pseudo_uid(t->d->pseudo, s + a, b - a, uid);
				err = dd_buf_adds(&t->out, uid);
			}
		}
		if (err)
			return err;
		i = j + 1;
	}
	return set_or_empty(t, e, buf_str(&t->out), t->out.len);
}

/* One DA/DT value as deidfs.dates says: the patient's shift, cut to the
 * year ("YYYY0101", valid for DA and DT), or kept. */
static dd_err shift_one(struct tx *t, const char *vr, const char *in,
			char *o, size_t olen)
{
	dd_err err;

	switch (t->d->pol->deidfs.dates) {
	case DD_DATES_KEEP:
		snprintf(o, olen, "%s", in);
		return DD_OK;
	case DD_DATES_YEAR:
		/* validate first: never keep a value that is not a date */
		err = vr_is(vr, "DA") ? dd_date_shift_da(in, 0, o, olen)
				      : dd_date_shift_dt(in, 0, o, olen);
		if (err)
			return err;
		if (strlen(o) < 4 || strchr(o, '-'))
			return DD_E_PARSE;
		snprintf(o + 4, olen - 4, "0101");
		return DD_OK;
	case DD_DATES_SHIFT:
	default:
		return vr_is(vr, "DA") ? dd_date_shift_da(in, t->shift, o, olen)
				       : dd_date_shift_dt(in, t->shift, o, olen);
	}
}

static dd_err act_shift(struct tx *t, struct dd_belem *e, const char *vr)
{
	const char *s;
	size_t n, i = 0, j;
	dd_err err = DD_OK;

	if (!vr_is(vr, "DA") && !vr_is(vr, "DT"))
		return DD_OK; /* TM and others are kept */
	dd_buf_reset(&t->val);
	dd_buf_reset(&t->out);
	if (dd_bridge_elem_get(e, &t->val) != DD_OK)
		return dd_bridge_elem_clear(e);
	s = buf_str(&t->val);
	n = t->val.len;
	while (n > 0 && (s[n - 1] == 0 || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return DD_OK;
	while (i <= n && !err) {
		char in[64], o[64];

		for (j = i; j < n && s[j] != '\\'; j++)
			;
		if (i > 0)
			err = dd_buf_addc(&t->out, '\\');
		if (!err && j > i) {
			dd_err e2;

			if (j - i >= sizeof(in))
				goto fail_closed;
			memcpy(in, s + i, j - i);
			in[j - i] = 0;
			e2 = shift_one(t, vr, in, o, sizeof(o));
			if (e2)
				goto fail_closed;
			err = dd_buf_adds(&t->out, o);
		}
		i = j + 1;
	}
	if (err)
		return err;
	return set_or_empty(t, e, buf_str(&t->out), t->out.len);
fail_closed:
	/* not a date we can shift: never keep it */
	t->n_fail_closed++;
	return dd_bridge_elem_clear(e);
}

static dd_err act_dummy(struct tx *t, struct dd_belem *e, const char *vr)
{
	static const uint8_t zeros[8];
	const char *s = dd_dicom_dummy(vr);

	if (vr_is(vr, "UI"))
		return act_uid(t, e, 0);
	if (s)
		return set_or_empty(t, e, s, strlen(s));
	if (dd_bridge_elem_set_bytes(e, zeros, sizeof(zeros)) == DD_OK)
		return DD_OK;
	t->n_fail_closed++;
	return dd_bridge_elem_clear(e);
}

static dd_err act_ident(struct tx *t, struct dd_belem *e, uint32_t tag)
{
	char id[17];
	size_t n;

	dd_buf_reset(&t->val);
	if (dd_bridge_elem_get(e, &t->val) != DD_OK)
		return dd_bridge_elem_clear(e);
	n = t->val.len;
	while (n > 0 && (t->val.data[n - 1] == ' ' || t->val.data[n - 1] == 0))
		n--;
	if (n == 0)
		return DD_OK; /* empty stays empty */
	dd_pseudo_ident(t->d->pseudo,
			tag == DD_TAG(0x0008, 0x0050) ? DD_DOM_ACCESSION : DD_DOM_IDENT,
			(const char *)t->val.data, n, 16, id);
	return set_or_empty(t, e, id, 16);
}

static dd_err act_age(struct tx *t, struct dd_belem *e)
{
	char age[5];

	dd_buf_reset(&t->val);
	if (dd_bridge_elem_get(e, &t->val) != DD_OK || t->val.len == 0)
		return DD_OK;
	if (dd_dicom_age_cap((const char *)t->val.data, t->val.len,
			     t->d->pol->deidfs.max_age, age) != DD_OK) {
		t->n_fail_closed++;
		return dd_bridge_elem_clear(e);
	}
	return set_or_empty(t, e, age, 4);
}

static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static dd_err act_clean(struct tx *t, struct dd_belem *e, const char *vr,
			const char *charset)
{
	size_t max, n;
	dd_err err;
	struct dd_buf enc;

	if (!value_utf8(t, e, vr, charset))
		goto fail_closed;
	if (t->utf8.len == 0)
		return DD_OK;
	dd_buf_reset(&t->out);
	err = dd_text_clean(t->d->text, t->ctx, buf_str(&t->utf8), t->utf8.len,
			    t->d->text_flags, &t->out);
	if (err == DD_E_NOMEM)
		return err;
	if (err)
		goto fail_closed;
	if (t->out.len == t->utf8.len &&
	    memcmp(t->out.data, t->utf8.data, t->out.len) == 0)
		return DD_OK; /* nothing found: the original bytes stay */
	max = dd_dicom_vr_max_len(vr);
	n = max ? utf8_cut(buf_str(&t->out), t->out.len, max) : t->out.len;
	dd_buf_init(&enc, DD_DICOM_MAX_LITERAL);
	err = dd_dicom_encode_charset(charset, buf_str(&t->out), n, &enc);
	if (err == DD_OK) {
		err = set_or_empty(t, e, buf_str(&enc), enc.len);
		dd_buf_free(&enc);
		return err;
	}
	dd_buf_free(&enc);
	if (err == DD_E_NOMEM)
		return err;
fail_closed:
	/* the whole value goes; the VR's dummy keeps Type 1 attributes valid */
	t->n_fail_closed++;
	if (dd_dicom_dummy(vr) &&
	    dd_bridge_elem_set(e, dd_dicom_dummy(vr),
			       strlen(dd_dicom_dummy(vr))) == DD_OK)
		return DD_OK;
	return dd_bridge_elem_clear(e);
}

static dd_err act_document(struct tx *t, struct dd_bitem *it,
			   struct dd_belem *e)
{
	const uint8_t *doc;
	size_t len;
	struct dd_belem *l;
	char num[24];

	item_string(it, T_MIME, &t->val);
	doc = dd_dicom_dummy_document(t->val.len ? buf_str(&t->val) : NULL, &len);
	if (dd_bridge_elem_set_bytes(e, doc, len) != DD_OK) {
		t->n_fail_closed++;
		return dd_bridge_elem_clear(e);
	}
	l = dd_bridge_item_find(it, T_DOC_LENGTH);
	if (l) {
		snprintf(num, sizeof(num), "%zu", len);
		if (dd_bridge_item_put(it, T_DOC_LENGTH, num) != DD_OK) {
			t->n_fail_closed++;
			return dd_bridge_elem_clear(l);
		}
	}
	return DD_OK;
}

/* ---- the walk -------------------------------------------------------------- */

static dd_err walk_item(struct tx *t, struct dd_bitem *it, const char *charset,
			unsigned depth, unsigned ctx);

/* The context bits of the items of the sequence @in (dd_dicom_seq_ctx). */
static unsigned ctx_of(const struct tx *t, const struct dd_belem_info *in,
		       unsigned depth, unsigned ctx)
{
	struct dd_dicom_elem de;

	memset(&de, 0, sizeof(de));
	de.tag = in->tag;
	memcpy(de.vr, in->vr, 3);
	de.creator = in->creator;
	de.depth = depth;
	de.ctx = ctx;
	return dd_dicom_seq_ctx(t->d->pol, &de);
}

static dd_err apply(struct tx *t, struct dd_bitem *it, struct dd_belem *e,
		    const struct dd_belem_info *in, enum dd_dicom_act a,
		    const char *charset, unsigned depth, unsigned ctx)
{
	size_t i;
	dd_err err;

	switch (a) {
	case DD_ACT_KEEP:
		return DD_OK;
	case DD_ACT_RECURSE:
		if (!in->is_sq)
			return DD_OK;
		for (i = 0; i < in->n_items; i++) {
			err = walk_item(t, dd_bridge_elem_item(e, i), charset,
					depth + 1,
					ctx | ctx_of(t, in, depth, ctx));
			if (err)
				return err;
		}
		return DD_OK;
	case DD_ACT_DELETE:
		return dd_bridge_item_delete(it, e);
	case DD_ACT_EMPTY:
		return dd_bridge_elem_clear(e);
	case DD_ACT_DUMMY:
		return act_dummy(t, e, in->vr);
	case DD_ACT_UID:
		return act_uid(t, e, in->tag);
	case DD_ACT_CLEAN:
		return act_clean(t, e, in->vr, charset);
	case DD_ACT_SHIFT:
		return act_shift(t, e, in->vr);
	case DD_ACT_PATIENT_ID:
		return set_or_empty(t, e, t->patient_id, strlen(t->patient_id));
	case DD_ACT_IDENT:
		return act_ident(t, e, in->tag);
	case DD_ACT_AGE:
		return act_age(t, e);
	case DD_ACT_DOCUMENT:
		return act_document(t, it, e);
	case DD_ACT_LAST:
		break;
	}
	return dd_bridge_item_delete(it, e);
}

static dd_err walk_item(struct tx *t, struct dd_bitem *it, const char *charset,
			unsigned depth, unsigned ctx)
{
	struct dd_belem *e, *next;
	struct dd_belem_info in;
	char cs[128];
	char creator[80];
	dd_err err;

	if (!it)
		return DD_OK;
	if (depth > DD_DICOM_MAX_DEPTH)
		return DD_E_LIMIT;
	/* an item may carry its own character set */
	if (item_string(it, T_SPECIFIC_CHARSET, &t->val) && t->val.len < sizeof(cs)) {
		memcpy(cs, buf_str(&t->val), t->val.len + 1);
		charset = cs;
	}
	for (e = dd_bridge_item_next(it, NULL); e; e = next) {
		struct dd_dicom_elem de;
		enum dd_dicom_act a;

		next = dd_bridge_item_next(it, e);
		dd_bridge_elem_info(e, &in);
		de.tag = in.tag;
		memcpy(de.vr, in.vr, 3);
		de.creator = in.creator;
		de.depth = depth;
		de.ctx = ctx;
		if ((DD_TAG_GROUP(in.tag) & 1) && DD_TAG_ELEM(in.tag) >= 0x10 &&
		    DD_TAG_ELEM(in.tag) <= 0xff) {
			/* a private creator: its own value names the block */
			dd_buf_reset(&t->val);
			creator[0] = 0;
			if (dd_bridge_elem_get(e, &t->val) == DD_OK &&
			    t->val.len < sizeof(creator)) {
				memcpy(creator, buf_str(&t->val), t->val.len + 1);
			}
			de.creator = creator;
		}
		a = dd_dicom_decide(t->d->pol, &de);
		err = apply(t, it, e, &in, a, charset, depth, ctx);
		if (err)
			return err;
	}
	return DD_OK;
}

/* ---- markers ---------------------------------------------------------------- */

/* A method_code bit that is not a PS3.15 option column: pixels cleaned. */
#define DD_DICOM_OPT_PIXELS (1u << 31)

struct method_code {
	unsigned opt; /* DD_PS315_* bit, 0: the profile itself */
	const char *value;
	const char *meaning;
};

static const struct method_code method_codes[] = {
	{0, "113100", "Basic Application Confidentiality Profile"},
	{DD_DICOM_OPT_PIXELS, "113101", "Clean Pixel Data Option"},
	{DD_PS315_RETAIN_SAFE_PRIVATE, "113111", "Retain Safe Private Option"},
	{DD_PS315_RETAIN_UIDS, "113110", "Retain UIDs Option"},
	{DD_PS315_RETAIN_DEVICE_ID, "113109", "Retain Device Identity Option"},
	{DD_PS315_RETAIN_INSTITUTION_ID, "113112",
	 "Retain Institution Identity Option"},
	{DD_PS315_RETAIN_PATIENT_CHARS, "113108",
	 "Retain Patient Characteristics Option"},
	{DD_PS315_RETAIN_LONG_FULL_DATES, "113106",
	 "Retain Longitudinal Temporal Information Full Dates Option"},
	{DD_PS315_RETAIN_LONG_MODIFIED_DATES, "113107",
	 "Retain Longitudinal Temporal Information Modified Dates Option"},
	{DD_PS315_CLEAN_DESC, "113105", "Clean Descriptors Option"},
	{DD_PS315_CLEAN_STRUCT_CONT, "113104", "Clean Structured Content Option"},
	{DD_PS315_CLEAN_GRAPH, "113103", "Clean Graphics Option"},
};

static const char *profile_name(const struct dd_policy_dicom *pd)
{
	if (!pd->tag_config && pd->filter == DD_DICOM_FILTER_KEEP_LIST)
		return "keepList";
	switch (pd->profile) {
	case DD_DICOM_PROFILE_BASIC:
		return "PS3.15 Basic Profile";
	case DD_DICOM_PROFILE_MINIMAL_KEEP_LIST:
		return "MINIMAL_KEEP_LIST_PROFILE";
	case DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS:
		return "DEIDENTIFY_TAG_CONTENTS";
	default:
		return "KEEP_ALL_PROFILE";
	}
}

static dd_err add_markers(struct tx *t, struct dd_bitem *ds, bool pixels)
{
	const struct dd_policy_dicom *pd = &t->d->pol->dicom;
	bool basic = pd->profile == DD_DICOM_PROFILE_BASIC &&
		     (pd->tag_config || pd->filter == DD_DICOM_FILTER_PROFILE);
	const char *ltim = "REMOVED";
	char method[65];
	struct dd_belem *seq;
	size_t i;
	dd_err err;

	if (pd->profile == DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS)
		ltim = "MODIFIED";
	if (basic && (t->d->opts & DD_PS315_RETAIN_LONG_MODIFIED_DATES))
		ltim = "MODIFIED";
	if (basic && (t->d->opts & DD_PS315_RETAIN_LONG_FULL_DATES))
		ltim = "UNMODIFIED";
	snprintf(method, sizeof(method), "deidfs %s %s", DD_VERSION,
		 profile_name(pd));
	err = dd_bridge_item_put(ds, DD_TAG(0x0012, 0x0062), "YES");
	if (!err)
		err = dd_bridge_item_put(ds, DD_TAG(0x0012, 0x0063), method);
	if (!err)
		err = dd_bridge_item_put(ds, DD_TAG(0x0028, 0x0303), ltim);
	if (err || (!basic && !pixels))
		return err;
	/* other profiles: the sequence says only that pixels were cleaned */
	err = dd_bridge_item_put_seq(ds, DD_TAG(0x0012, 0x0064), &seq);
	for (i = 0; !err && i < sizeof(method_codes) / sizeof(method_codes[0]); i++) {
		const struct method_code *c = &method_codes[i];
		struct dd_bitem *item;

		if (c->opt == DD_DICOM_OPT_PIXELS ? !pixels
		    : !basic || (c->opt && !(t->d->opts & c->opt)))
			continue;
		err = dd_bridge_seq_append(seq, &item);
		if (!err)
			err = dd_bridge_item_put(item, DD_TAG(0x0008, 0x0100), c->value);
		if (!err)
			err = dd_bridge_item_put(item, DD_TAG(0x0008, 0x0102), "DCM");
		if (!err)
			err = dd_bridge_item_put(item, DD_TAG(0x0008, 0x0104), c->meaning);
	}
	return err;
}

/* ---- classification ------------------------------------------------------- */

static bool placeholder_id(const struct dd_policy *pol, const char *id)
{
	size_t i;

	if (!*id)
		return true;
	for (i = 0; i < pol->deidfs.placeholder_patient_ids.n; i++)
		if (strcasecmp(id, pol->deidfs.placeholder_patient_ids.v[i]) == 0)
			return true;
	return false;
}

/* Decide from the header whether the file is served; DD_REASON_NONE if so.
 * Also computes the patient pseudonym and the date shift. */
static enum dd_reason classify(struct tx *t, struct dd_bfile *f,
			       bool preamble)
{
	const struct dd_policy *pol = t->d->pol;
	struct dd_bitem *ds = dd_bridge_file_dataset(f);
	struct dd_bitem *meta = dd_bridge_file_meta(f);
	char key[320];
	size_t klen;

	if (item_string(meta, T_MS_SOP_CLASS, &t->val) &&
	    strcmp(buf_str(&t->val), "1.2.840.10008.1.3.10") == 0)
		return DD_REASON_DICOMDIR;
	if (dd_bridge_item_find(ds, DD_TAG(0x0004, 0x1220)))
		return DD_REASON_DICOMDIR; /* a DirectoryRecordSequence */
	if (!item_string(ds, T_SOP_INSTANCE, &t->val) || t->val.len == 0)
		return DD_REASON_DICOM_UNSUPPORTED;
	if (!item_string(ds, T_SOP_CLASS, &t->val) || t->val.len == 0) {
		if (!preamble)
			return DD_REASON_DICOM_UNSUPPORTED;
	} else if (pol->deidfs.hide_photographic &&
		   dd_dicom_sop_is_photographic(buf_str(&t->val))) {
		return DD_REASON_POLICY_EXCLUDED;
	}
	if (pol->deidfs.hide_recognizable_visual_features &&
	    item_string(ds, T_RECOGNIZABLE, &t->val) &&
	    strcasecmp(buf_str(&t->val), "YES") == 0)
		return DD_REASON_POLICY_EXCLUDED;

	/* the patient: (issuer, PatientID), or the study for placeholders */
	item_string(ds, T_PATIENT_ID, &t->val);
	if (placeholder_id(pol, buf_str(&t->val))) {
		item_string(ds, T_STUDY_UID, &t->val);
		klen = dd_patient_key_study(buf_str(&t->val), key, sizeof(key));
	} else {
		struct dd_buf issuer;

		dd_buf_init(&issuer, 1024);
		item_string(ds, T_ISSUER, &issuer);
		klen = dd_patient_key(buf_str(&issuer), buf_str(&t->val), key,
				      sizeof(key));
		dd_buf_free(&issuer);
	}
	dd_pseudo_patient_id(t->d->pseudo, key, t->patient_id);
	if (dd_pseudo_shift_days(t->d->pseudo, key, klen,
				 pol->deidfs.date_shift_min,
				 pol->deidfs.date_shift_max, &t->shift) != DD_OK)
		return DD_REASON_INTERNAL;
	return DD_REASON_NONE;
}

/* ---- burnt-in text (the image module) -------------------------------------- */

/* One file's image work: what the header says, the plan and its boxes. */
struct img_job {
	struct dd_image *im;          /* NULL: pixel data not looked at */
	struct dd_image_facts facts;
	char modality[17], sop[65], manufacturer[65], model[65], image_type[65];
	struct dd_image_plan plan;
	bool planned;
	uint64_t ocr_ms;
	const uint8_t *regen_tag;     /* the engine's (REGEN segments) */
};

static void copy_str(struct tx *t, struct dd_bitem *ds, uint32_t tag,
		     char *dst, size_t n, const char **fact)
{
	*fact = NULL;
	dst[0] = 0;
	if (!item_string(ds, tag, &t->val))
		return;
	snprintf(dst, n, "%s", buf_str(&t->val));
	*fact = dst;
}

static bool is_overlay_group(uint32_t tag)
{
	uint16_t g = DD_TAG_GROUP(tag);

	return g >= 0x6000 && g <= 0x601e && !(g & 1);
}

static bool is_curve_group(uint32_t tag)
{
	uint16_t g = DD_TAG_GROUP(tag);

	return g >= 0x5000 && g <= 0x501e && !(g & 1);
}

/* The header facts, read before the rules change anything. */
static void img_facts(struct tx *t, struct dd_bitem *ds, struct img_job *j)
{
	struct dd_image_facts *f = &j->facts;
	struct dd_belem *e;
	struct dd_belem_info in;

	copy_str(t, ds, T_MODALITY, j->modality, sizeof(j->modality), &f->modality);
	copy_str(t, ds, T_SOP_CLASS, j->sop, sizeof(j->sop), &f->sop_class_uid);
	copy_str(t, ds, T_MANUFACTURER, j->manufacturer, sizeof(j->manufacturer),
		 &f->manufacturer);
	copy_str(t, ds, T_MODEL, j->model, sizeof(j->model), &f->model);
	copy_str(t, ds, T_IMAGE_TYPE, j->image_type, sizeof(j->image_type),
		 &f->image_type);
	f->burned_in_yes = item_string(ds, T_BURNED_IN, &t->val) &&
			   strcasecmp(buf_str(&t->val), "YES") == 0;
	for (e = dd_bridge_item_next(ds, NULL); e; e = dd_bridge_item_next(ds, e)) {
		dd_bridge_elem_info(e, &in);
		if (is_overlay_group(in.tag) && (DD_TAG_ELEM(in.tag) == 0x3000 ||
						 DD_TAG_ELEM(in.tag) == 0x0010))
			f->has_overlays = true;
	}
}

/* Which image engine (mode) handles the top-level PixelData: a
 * cleanImageTag action that decides it, else the policy's image config;
 * another action deciding PixelData (keepTag, removeTag...) wins and the
 * pixels are not looked at.  DD_OK with j->im NULL when none. */
static dd_err img_choose(struct tx *t, struct dd_bitem *ds, struct img_job *j)
{
	const struct dd_dicom *d = t->d;
	const struct dd_dicom_action *a;
	struct dd_dicom_elem de;
	struct dd_belem_info in;
	struct dd_belem *e = dd_bridge_item_find(ds, T_PIXEL_DATA);
	enum dd_redaction_mode mode;

	j->im = NULL;
	if (!e)
		return DD_OK;
	dd_bridge_elem_info(e, &in);
	memset(&de, 0, sizeof(de));
	de.tag = in.tag;
	memcpy(de.vr, in.vr, 3);
	a = dd_dicom_action_for(d->pol, &de);
	if (a && a->kind != DD_DACT_CLEAN_IMAGE)
		return DD_OK;
	if (a)
		mode = a->image.mode;
	else if (d->image_base)
		mode = d->image_base_mode;
	else
		return DD_OK;
	return image_get(d, mode, &j->im);
}

static enum dd_reason img_reason(dd_err err)
{
	switch (err) {
	case DD_E_TIMEOUT:
		return DD_REASON_TIMEOUT;
	case DD_E_LIMIT:
		return DD_REASON_LIMIT;
	case DD_E_IO:
	case DD_E_CHANGED:
		return DD_REASON_UNREADABLE;
	case DD_E_INVAL:
	case DD_E_INTERNAL:
		return DD_REASON_INTERNAL;
	default:
		return DD_REASON_DICOM_UNSUPPORTED;
	}
}

/* Plan the pixel work: the size plan only with DD_DICOM_SIZE_ONLY, else
 * with OCR.  A value re-encoded in the source's codec (redactedEncoding
 * "same") has no size before OCR and encoding: for it DD_DICOM_SIZE_ONLY
 * is dropped from *@flags and the whole transform runs (OCR at stat time;
 * docs/images.md).  DD_OK with *reason set when the file must be
 * hidden. */
static dd_err img_plan(struct tx *t, struct dd_bitem *ds, int fd,
		       unsigned *flags, const char *log_name,
		       struct img_job *j, enum dd_reason *reason)
{
	uint64_t t0;
	dd_err err;

	*reason = DD_REASON_NONE;
	j->regen_tag = t->d->regen_tag;
	img_facts(t, ds, j);
	err = img_choose(t, ds, j);
	if (err == DD_OK && !j->im)
		return DD_OK;
	if (err) {
		/* no image engine: whatever the error, it says nothing about
		 * these pixels, so the exception below for pixels that cannot
		 * be decoded must not apply (an unmarked capture would pass
		 * with its burnt-in text) */
		if (err == DD_E_NOMEM)
			return err;
		*reason = err == DD_E_UNSUPPORTED ? DD_REASON_INTERNAL
						  : img_reason(err);
		dd_log(DD_LOG_INFO, "dicom: %s: image engine: %s", log_name,
		       dd_err_name(err));
		return DD_OK;
	}
	t0 = dd_ocr_now_ms();
	if (*flags & DD_DICOM_SIZE_ONLY) {
		err = dd_image_size_plan(j->im, fd, &j->facts, &j->plan);
		if (err == DD_OK &&
		    j->plan.out_kind == DD_IMAGE_OUT_SAME_CODEC) {
			*flags &= ~(unsigned)DD_DICOM_SIZE_ONLY;
			err = dd_image_redact_plan(j->im, fd, &j->facts, t->ctx,
						   &j->plan);
		}
	} else {
		err = dd_image_redact_plan(j->im, fd, &j->facts, t->ctx, &j->plan);
	}
	j->ocr_ms = dd_ocr_now_ms() - t0;
	if (err == DD_E_NOMEM)
		return err;
	if ((err == DD_E_UNSUPPORTED || err == DD_E_PARSE) &&
	    !dd_image_facts_marked(&j->facts)) {
		/* pixels we cannot decode (1-bit, float, 32-bit YBR, a broken
		 * codec stream) in an image nothing marks as a capture: the
		 * pre-pass cannot look, the pixels are kept (documented) */
		dd_log(DD_LOG_DEBUG, "dicom: %s: image not inspected: %s",
		       log_name, dd_err_name(err));
		return DD_OK;
	}
	if (err) {
		*reason = img_reason(err);
		dd_log(DD_LOG_INFO, "dicom: %s: image: %s", log_name,
		       dd_err_name(err));
		return DD_OK;
	}
	j->planned = true;
	if (j->plan.out_kind != DD_IMAGE_OUT_KEEP)
		dd_log(DD_LOG_DEBUG,
		       "dicom: %s: image: why 0x%x, %u frames OCR'd, %u calls, "
		       "%u/%u words redacted, %zu boxes, %llu ms",
		       log_name, j->plan.why, j->plan.frames_ocr,
		       j->plan.ocr_calls, j->plan.words_redacted, j->plan.words,
		       j->plan.boxes.n, (unsigned long long)j->ocr_ms);
	return DD_OK;
}

/* True when the pixel value will be rewritten (decided before OCR). */
static bool img_rewrites(const struct img_job *j)
{
	return j->planned && j->plan.out_kind != DD_IMAGE_OUT_KEEP;
}

/* Overlays (60xx), curves (50xx) and icon images go whenever the pixels
 * are looked at: their text cannot be cleaned. */
static dd_err img_strip(struct dd_bitem *it, unsigned depth)
{
	struct dd_belem *e, *next;
	struct dd_belem_info in;
	dd_err err = DD_OK;
	size_t i;

	if (!it || depth > DD_DICOM_MAX_DEPTH)
		return depth > DD_DICOM_MAX_DEPTH ? DD_E_LIMIT : DD_OK;
	for (e = dd_bridge_item_next(it, NULL); e && !err; e = next) {
		next = dd_bridge_item_next(it, e);
		dd_bridge_elem_info(e, &in);
		if (in.tag == T_ICON_SEQ ||
		    (depth == 0 && (is_overlay_group(in.tag) ||
				    is_curve_group(in.tag)))) {
			err = dd_bridge_item_delete(it, e);
			continue;
		}
		for (i = 0; in.is_sq && i < in.n_items && !err; i++)
			err = img_strip(dd_bridge_elem_item(e, i), depth + 1);
	}
	return err;
}

/* The output pixel value of @plan with @boxes, from the source at @fd:
 * the one function that makes a rewritten value, for the transform and
 * for the regenerator of REGEN segments (img_regen), which must produce
 * the same bytes.  The decoded frames with the boxes filled, appended to
 * @px; for SAME_CODEC also re-encoded into @enc (initialised), or, when
 * the encoder cannot give the samples back (decided by the pixels alone,
 * so every run decides the same), @enc->frames 0: the value stays native
 * (Explicit VR Little Endian). */
static dd_err img_output_value(const struct dd_image_plan *plan,
			       const struct dd_boxes *boxes, int fd,
			       struct dd_buf *px, struct dd_image_enc *enc)
{
	dd_err err;

	if (plan->out_kind != DD_IMAGE_OUT_NATIVE_PATCH &&
	    plan->out_kind != DD_IMAGE_OUT_EXPLICIT_LE &&
	    plan->out_kind != DD_IMAGE_OUT_SAME_CODEC)
		return DD_E_INVAL;
	err = dd_image_pixels(NULL, fd, plan, boxes, px);
	if (err || plan->out_kind != DD_IMAGE_OUT_SAME_CODEC)
		return err;
	err = dd_image_encode_same(plan, px->data, px->len, enc);
	if (err == DD_E_UNSUPPORTED) {
		dd_image_enc_free(enc);
		dd_image_enc_init(enc);
		err = DD_OK;
	}
	return err;
}

/* The whole new pixel value (boxes applied), or, with @zeros, zeros of
 * the same length (a size-only transform; a value the manifest leaves to
 * a REGEN segment). */
static dd_err img_value(const struct img_job *j, int fd, bool zeros,
			struct dd_buf *out, struct dd_image_enc *enc)
{
	uint64_t n = j->plan.out_pixel_len;

	if (n > DD_DICOM_MAX_PIXELS_LITERAL)
		return DD_E_LIMIT;
	if (zeros && j->plan.out_kind == DD_IMAGE_OUT_SAME_CODEC)
		return DD_E_INTERNAL; /* img_plan drops SIZE_ONLY for these */
	if (zeros) {
		dd_err err = dd_buf_reserve(out, (size_t)n);

		if (!err) {
			memset(out->data, 0, (size_t)n);
			out->len = (size_t)n;
		}
		return err;
	}
	return img_output_value(&j->plan, &j->plan.boxes, fd, out, enc);
}

/* Before the output is written: a compressed source gets its new native
 * value (Explicit VR Little Endian) or, with redactedEncoding "same", the
 * value re-encoded; an uncompressed one written by dcmtk (@whole:
 * deflated, full rewrite) gets its patched value.  @zeros: see
 * img_value().  *@encoded (may be NULL): the value put in is re-encoded
 * (encapsulated). */
static dd_err img_set_value(struct dd_bfile *f, const struct img_job *j,
			    int fd, bool zeros, bool whole, bool *encoded)
{
	struct dd_image_enc enc;
	struct dd_buf v;
	struct dd_belem *e;
	dd_err err;

	if (encoded)
		*encoded = false;
	if (!img_rewrites(j))
		return DD_OK;
	if (j->plan.out_kind == DD_IMAGE_OUT_NATIVE_PATCH && !whole)
		return DD_OK; /* source ranges and patches (emit) */
	dd_buf_init(&v, (size_t)j->plan.out_pixel_len + 1);
	dd_image_enc_init(&enc);
	err = img_value(j, fd, zeros, &v, &enc);
	if (!err && j->plan.out_kind == DD_IMAGE_OUT_NATIVE_PATCH) {
		e = dd_bridge_item_find(dd_bridge_file_dataset(f), T_PIXEL_DATA);
		err = e ? dd_bridge_elem_set_bytes(e, v.data, v.len)
			: DD_E_INTERNAL;
	} else if (!err && enc.frames) {
		err = dd_bridge_pixels_set_encap(f, enc.xfer_uid, enc.frags.data,
						 enc.frag_len, enc.frames,
						 enc.photometric, enc.planar);
		if (!err && encoded)
			*encoded = true;
	} else if (!err) {
		/* EXPLICIT_LE, or "same" that the codec cannot take */
		err = dd_bridge_pixels_set_native(
			f, v.data, v.len, j->plan.out.bits_alloc,
			dd_photometric_name(j->plan.out.photo),
			j->plan.out.planar ? 1 : 0);
	}
	dd_image_enc_free(&enc);
	dd_buf_free(&v);
	return err;
}

/* ---- REGEN segments: redacted values rebuilt at read time ----------------- */

/* SHA-256 of the source's bytes [off, off+len), first 16 bytes. */
static dd_err img_src_digest(int fd, uint64_t off, uint64_t len,
			     uint8_t digest[16])
{
	static __thread uint8_t blk[1 << 16];
	uint8_t h[32];
	unsigned int hl = sizeof(h);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	dd_err err = DD_OK;

	if (!md)
		return DD_E_NOMEM;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (len && !err) {
		size_t want = len < sizeof(blk) ? (size_t)len : sizeof(blk);
		ssize_t k = pread(fd, blk, want, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			err = k < 0 ? DD_E_IO : DD_E_CHANGED; /* shrank */
			break;
		}
		EVP_DigestUpdate(md, blk, (size_t)k);
		off += (uint64_t)k;
		len -= (uint64_t)k;
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	memcpy(digest, h, 16);
	return err;
}

/* The regenerator (dd_manifest_regen_fn) of a redacted value: the
 * descriptor (dd_image_desc_decode) gives the plan and the boxes; the
 * source must still hold the bytes the value was made from. */
static dd_err img_regen(void *ctx, int src_fd, const struct dd_manifest *m,
			const uint8_t *desc, size_t desc_len,
			struct dd_buf *out)
{
	struct dd_image_plan plan;
	struct dd_image_src_mark mark;
	struct dd_image_enc enc;
	struct dd_buf px;
	uint8_t now[16];
	bool same;
	dd_err err;

	(void)ctx;
	(void)m;
	if (desc_len < 20)
		return DD_E_CORRUPT;
	dd_image_plan_init(&plan);
	dd_image_enc_init(&enc);
	dd_buf_init(&px, 0);
	err = dd_image_desc_decode(desc + 20, desc_len - 20, &plan, &mark);
	same = plan.out_kind == DD_IMAGE_OUT_SAME_CODEC;
	if (!err)
		err = img_src_digest(src_fd, mark.off, mark.len, now);
	if (!err && memcmp(now, mark.digest, sizeof(now)) != 0)
		err = DD_E_CHANGED;
	if (!err && same) {
		/* decoded, boxed, re-encoded: the fragments as dcmtk wrote
		 * them (dd_image_enc_value) */
		dd_buf_init(&px, (size_t)dd_image_frame_bytes(&plan.out) *
					 plan.frames + 2);
		err = img_output_value(&plan, &plan.boxes, src_fd, &px, &enc);
		if (!err && !enc.frames)
			err = DD_E_CHANGED; /* the encoder took it before */
		if (!err)
			err = dd_image_enc_value(&enc, out);
	} else if (!err) {
		err = img_output_value(&plan, &plan.boxes, src_fd, out, &enc);
	}
	if (err == DD_E_PARSE || err == DD_E_UNSUPPORTED)
		err = DD_E_CHANGED; /* it decoded when the manifest was made */
	dd_buf_free(&px);
	dd_image_enc_free(&enc);
	dd_image_plan_free(&plan);
	return err;
}

/* The manifest of the value dcmtk wrote at @val_off in @head (@val_len
 * bytes, with nothing after it but more of @head): literal, a REGEN
 * segment whose descriptor rebuilds the value, literal.  @encoded: the
 * value is "same"'s re-encoded one (its length is @val_len), else the
 * native one (zeros in @head for EXPLICIT_LE).  The descriptor marks the
 * whole source file: any change to it refuses the rebuild. */
static dd_err img_add_regen(struct dd_manifest *m, const struct img_job *j,
			    int fd, uint64_t size, bool encoded,
			    const struct dd_buf *head, uint64_t val_off,
			    uint64_t val_len)
{
	struct dd_image_plan dp = j->plan; /* shallow: read only */
	struct dd_image_src_mark mark;
	struct dd_buf desc;
	dd_err err;

	if (val_off > head->len || val_len > head->len - val_off)
		return DD_E_INTERNAL;
	dp.out_kind = encoded ? DD_IMAGE_OUT_SAME_CODEC
			      : DD_IMAGE_OUT_EXPLICIT_LE;
	dp.out_pixel_len = val_len;
	mark.off = 0;
	mark.len = size;
	err = img_src_digest(fd, mark.off, mark.len, mark.digest);
	if (err)
		return err;
	dd_buf_init(&desc, 1u << 20);
	err = dd_image_desc_encode(&dp, &mark, &desc);
	if (!err)
		err = dd_manifest_add_literal(m, head->data, (size_t)val_off);
	if (!err)
		err = dd_manifest_add_regen(m, val_len, j->regen_tag, desc.data,
					    desc.len);
	if (!err)
		err = dd_manifest_add_literal(m, head->data + val_off + val_len,
					      head->len - val_off - val_len);
	dd_buf_free(&desc);
	return err;
}

/* The source range of an uncompressed pixel value, with the plan's boxes:
 * source ranges between the redacted runs, literal fill bytes over them
 * (zeros throughout for a size-only transform). */
static dd_err img_add_patched(struct dd_manifest *m, const struct img_job *j,
			      unsigned flags, uint64_t src_off, uint64_t len)
{
	struct dd_image_run *runs = NULL;
	size_t n = 0, i;
	uint64_t pos = 0;
	uint8_t fill[4096];
	dd_err err;

	if (flags & DD_DICOM_SIZE_ONLY)
		return dd_manifest_add_zero(m, len);
	err = dd_image_native_runs(&j->plan, &j->plan.boxes, &runs, &n);
	for (i = 0; i < n && !err; i++) {
		const struct dd_image_run *r = &runs[i];
		uint32_t done = 0, k;

		if (r->off < pos || r->off + r->len > len) {
			err = DD_E_PARSE; /* the value is not what the plan saw */
			break;
		}
		if (r->off > pos)
			err = dd_manifest_add_source(m, src_off + pos, r->off - pos);
		while (!err && done < r->len) {
			/* a multiple of every pattern length (1, 2, 3, 4, 6) */
			uint32_t c = r->len - done < 4092 ? r->len - done : 4092;

			for (k = 0; k < c; k++)
				fill[k] = r->pat[(done + k) % r->pat_len];
			err = dd_manifest_add_literal(m, fill, c);
			done += c;
		}
		pos = r->off + r->len;
	}
	if (!err && pos < len)
		err = dd_manifest_add_source(m, src_off + pos, len - pos);
	free(runs);
	return err;
}

/* ---- output --------------------------------------------------------------- */

static dd_err emit(struct dd_bfile *f, int fd, uint64_t size,
		   const struct dd_bfile_info *info, unsigned flags,
		   const struct img_job *j, struct dd_manifest *m,
		   enum dd_reason *reason)
{
	struct dd_dicom_encap enc;
	struct dd_bencap be;
	struct dd_bout out;
	size_t max_lit = DD_DICOM_MAX_LITERAL, max_full = DD_DICOM_MAX_FULL;
	bool whole = info->deflated || (flags & DD_DICOM_FULL_REWRITE);
	bool patch = img_rewrites(j) &&
		     j->plan.out_kind == DD_IMAGE_OUT_NATIVE_PATCH;
	/* a redacted compressed image: the value is rebuilt at read time
	 * from the boxes (a REGEN segment), never kept as pixels; dcmtk
	 * writes zeros in its place (Explicit VR Little Endian: the length
	 * is known) or the re-encoded value ("same": its length is not) */
	bool regen = img_rewrites(j) && !whole &&
		     !(flags & DD_DICOM_SIZE_ONLY) &&
		     !(flags & DD_DICOM_LITERAL_PIXELS) &&
		     (j->plan.out_kind == DD_IMAGE_OUT_EXPLICIT_LE ||
		      j->plan.out_kind == DD_IMAGE_OUT_SAME_CODEC);
	bool zeros = (flags & DD_DICOM_SIZE_ONLY) ||
		     (regen && j->plan.out_kind == DD_IMAGE_OUT_EXPLICIT_LE);
	bool encoded = false;
	dd_err err;

	*reason = DD_REASON_NONE;
	if (img_rewrites(j) && j->plan.out_pixel_len <= DD_DICOM_MAX_PIXELS_LITERAL) {
		/* a pixel value written by dcmtk is literal (re-encoded: it
		 * may come out larger than the native one, noise does) */
		size_t n = (size_t)j->plan.out_pixel_len;

		if (j->plan.out_kind == DD_IMAGE_OUT_SAME_CODEC)
			n = n * 2 + (1u << 20);
		max_lit += n;
		max_full += n;
	}
	err = img_set_value(f, j, fd, zeros, whole, &encoded);
	if (err)
		goto out_map;
	if (whole) {
		struct dd_buf full;

		dd_buf_init(&full, max_full + 1);
		err = dd_bridge_write_full(f, max_full, &full);
		if (!err)
			err = dd_manifest_add_literal(m, full.data, full.len);
		dd_buf_free(&full);
		goto out_map;
	}
	memset(&enc, 0, sizeof(enc));
	memset(&be, 0, sizeof(be));
	/* the source's fragments as a source range: only when they are the
	 * output's (a re-encoded value is never matched against them) */
	if (info->encapsulated && !img_rewrites(j) &&
	    dd_dicom_walk_encap(fd, size, info->explicit_vr, info->big_endian,
				&enc) == DD_OK) {
		be.found = true;
		be.off = enc.off;
		be.len = enc.len;
		be.item_len = enc.item_len;
		be.n_items = enc.n_items;
	}
	dd_buf_init(&out.head, max_lit + 1);
	dd_buf_init(&out.tail, max_lit + 1);
	err = dd_bridge_write_manifest(f, &be, max_lit, &out);
	if (!err && patch && out.full) {
		/* the value was loaded (small): dcmtk writes the patched one */
		err = img_set_value(f, j, fd, flags & DD_DICOM_SIZE_ONLY, true,
				    NULL);
		dd_buf_reset(&out.head);
		dd_buf_reset(&out.tail);
		if (!err)
			err = dd_bridge_write_manifest(f, &be, max_lit, &out);
		patch = false;
	}
	if (!err && regen &&
	    (!out.full || !out.val_len ||
	     (!encoded && out.val_len != j->plan.out_pixel_len))) {
		/* the value is not where it should be: keep it literal,
		 * written with its real bytes (not expected; the output
		 * is the same) */
		if (zeros) {
			err = img_set_value(f, j, fd, false, true, NULL);
			dd_buf_reset(&out.head);
			dd_buf_reset(&out.tail);
			if (!err)
				err = dd_bridge_write_manifest(f, &be, max_lit,
							       &out);
		}
		regen = false;
	}
	if (!err && regen)
		err = img_add_regen(m, j, fd, size, encoded, &out.head,
				    out.val_off, out.val_len);
	free(enc.item_len);
	if (!err && out.src_len > 0 && out.src_off + out.src_len > size)
		err = DD_E_CHANGED;
	if (!err && !regen)
		err = dd_manifest_add_literal(m, out.head.data, out.head.len);
	if (!err && out.src_len > 0 && patch)
		err = img_add_patched(m, j, flags, out.src_off, out.src_len);
	else if (!err && out.src_len > 0)
		err = dd_manifest_add_source(m, out.src_off, out.src_len);
	if (!err && out.pad)
		err = dd_manifest_add_zero(m, out.pad);
	if (!err && out.tail.len)
		err = dd_manifest_add_literal(m, out.tail.data, out.tail.len);
	dd_buf_free(&out.head);
	dd_buf_free(&out.tail);
out_map:
	if (err)
		dd_log(DD_LOG_DEBUG, "dicom: output failed: %s", dd_err_name(err));
	switch (err) {
	case DD_OK:
	case DD_E_NOMEM:
		return err;
	case DD_E_LIMIT:
		*reason = DD_REASON_LIMIT;
		return DD_OK;
	case DD_E_CHANGED:
	case DD_E_IO:
		*reason = DD_REASON_UNREADABLE;
		return DD_OK;
	default:
		*reason = DD_REASON_DICOM_UNSUPPORTED;
		return DD_OK;
	}
}

/* ---- transform ------------------------------------------------------------ */

static enum dd_reason load_reason(dd_err err)
{
	switch (err) {
	case DD_E_PARSE:
		return DD_REASON_DICOM_PARSE;
	case DD_E_IO:
	case DD_E_CHANGED:
		return DD_REASON_UNREADABLE;
	default:
		return DD_REASON_INTERNAL;
	}
}

/* dd_dicom_transform_ex(); *@placeholder: @m has zeros where a redacted
 * pixel value goes (DD_DICOM_SIZE_ONLY; the bytes need OCR): its size is
 * the output's, its bytes are not. */
static dd_err transform(const struct dd_dicom *d, int fd, const char *log_name,
			unsigned flags, struct dd_manifest *m,
			bool *placeholder)
{
	struct stat st;
	uint8_t head[132];
	bool preamble;
	struct dd_bfile *f = NULL;
	struct dd_bfile_info info;
	struct tx t;
	struct img_job img;
	enum dd_reason reason = DD_REASON_NONE;
	char charset[128] = "";
	ssize_t n;
	dd_err err;

	if (!d || !m || fd < 0)
		return DD_E_INVAL;
	if (!log_name)
		log_name = "-";
	if (fstat(fd, &st) != 0) {
		dd_manifest_hide(m, DD_KIND_DICOM, DD_REASON_UNREADABLE);
		return DD_OK;
	}
	n = pread(fd, head, sizeof(head), 0);
	preamble = n == (ssize_t)sizeof(head) && dd_dicom_sniff(head, sizeof(head));

	err = dd_bridge_file_load_fd(fd, &f, &info);
	if (err == DD_E_NOMEM)
		return err;
	if (err) {
		dd_log(DD_LOG_INFO, "dicom: %s: hidden (%s)", log_name,
		       dd_reason_name(load_reason(err)));
		dd_manifest_hide(m, DD_KIND_DICOM, load_reason(err));
		return DD_OK;
	}

	memset(&t, 0, sizeof(t));
	memset(&img, 0, sizeof(img));
	dd_image_plan_init(&img.plan);
	t.d = d;
	dd_buf_init(&t.val, DD_DICOM_MAX_LITERAL);
	dd_buf_init(&t.utf8, DD_DICOM_MAX_LITERAL);
	dd_buf_init(&t.out, DD_DICOM_MAX_LITERAL);

	reason = classify(&t, f, preamble);
	if (reason != DD_REASON_NONE)
		goto out_hide;

	if (item_string(dd_bridge_file_dataset(f), T_SPECIFIC_CHARSET, &t.val) &&
	    t.val.len < sizeof(charset))
		memcpy(charset, buf_str(&t.val), t.val.len + 1);
	if (d->need_ctx) {
		err = dd_text_ctx_new(&t.ctx);
		if (err)
			goto out_free;
		dd_text_ctx_set_shift(t.ctx, t.shift);
		ctx_collect(&t, dd_bridge_file_dataset(f), charset, 0);
	}
	err = img_plan(&t, dd_bridge_file_dataset(f), fd, &flags, log_name, &img,
		       &reason);
	if (err)
		goto out_free;
	if (reason != DD_REASON_NONE)
		goto out_hide;
	err = walk_item(&t, dd_bridge_file_dataset(f), charset, 0, 0);
	if (!err && img.im)
		err = img_strip(dd_bridge_file_dataset(f), 0);
	if (!err && img_rewrites(&img) &&
	    !dd_bridge_item_find(dd_bridge_file_dataset(f), T_PIXEL_DATA))
		img.planned = false; /* the rules removed the pixels */
	if (!err && d->markers)
		err = add_markers(&t, dd_bridge_file_dataset(f),
				  img_rewrites(&img));
	if (err == DD_E_NOMEM)
		goto out_free;
	if (err) {
		dd_log(DD_LOG_DEBUG, "dicom: %s: rules failed: %s", log_name,
		       dd_err_name(err));
		reason = err == DD_E_LIMIT ? DD_REASON_LIMIT
					   : DD_REASON_DICOM_UNSUPPORTED;
		err = DD_OK;
		goto out_hide;
	}
	err = emit(f, fd, (uint64_t)st.st_size, &info, flags, &img, m, &reason);
	if (err)
		goto out_free;
	if (reason != DD_REASON_NONE)
		goto out_hide;
	m->kind = DD_KIND_DICOM;
	m->reason = DD_REASON_NONE;
	*placeholder = img_rewrites(&img) && (flags & DD_DICOM_SIZE_ONLY);
	if (t.n_fail_closed)
		dd_log(DD_LOG_DEBUG, "dicom: %s: %u values emptied (fail closed)",
		       log_name, t.n_fail_closed);
	goto out_free;

out_hide:
	dd_log(DD_LOG_INFO, "dicom: %s: hidden (%s)", log_name,
	       dd_reason_name(reason));
	dd_manifest_hide(m, reason == DD_REASON_DICOMDIR ? DD_KIND_DICOMDIR
							 : DD_KIND_DICOM,
			 reason);
out_free:
	dd_image_plan_free(&img.plan);
	if (t.ctx)
		dd_text_ctx_free(t.ctx);
	dd_buf_free(&t.val);
	dd_buf_free(&t.utf8);
	dd_buf_free(&t.out);
	dd_bridge_file_free(f);
	return err;
}

dd_err dd_dicom_transform_ex(const struct dd_dicom *d, int fd,
			     const char *log_name, unsigned flags,
			     struct dd_manifest *m)
{
	bool placeholder = false;

	return transform(d, fd, log_name, flags, m, &placeholder);
}

dd_err dd_dicom_transform_size(const struct dd_dicom *d, int fd,
			       const char *log_name, struct dd_manifest *m,
			       bool *complete)
{
	bool placeholder = false;
	dd_err err;

	*complete = false;
	err = transform(d, fd, log_name, DD_DICOM_SIZE_ONLY, m, &placeholder);
	/* without zeros for a redacted pixel value the size-only output is
	 * the output: nothing redacted, a hidden file (OCR is not what hid
	 * it), or a value re-encoded in the source's codec (its size needs
	 * the whole transform, which ran) */
	if (!err)
		*complete = !placeholder;
	return err;
}

dd_err dd_dicom_transform(const struct dd_dicom *d, int fd,
			  const char *log_name, struct dd_manifest *m)
{
	return dd_dicom_transform_ex(d, fd, log_name, 0, m);
}
