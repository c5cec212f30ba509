/* dd_image.c: plans and output of burnt-in text redaction (see dd_image.h).
 *
 * The order of work is fixed so that the result is deterministic: frames in
 * increasing order, regions in the pre-pass's sorted order, words in
 * tesseract's reading order; boxes are normalised (sorted, deduplicated)
 * before anyone sees them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dd_bridge.h"
#include "dd_image.h"
#include "dd_image_i.h"
#include "dd_infotype.h"
#include "dd_log.h"
#include "dd_ocr.h"
#include "dd_prepass.h"

struct dd_image {
	const struct dd_policy *pol;
	const struct dd_text *text;
	struct dd_policy_image cfg;  /* resolved image config */
	enum dd_redaction_mode mode;
	bool excluded[DD_IT_LAST];   /* excludeInfoTypes */
	struct dd_ocr *ocr;          /* NULL for REDACT_NO_TEXT */
};

/* ---- names and geometry ------------------------------------------------------- */

static const char *const photo_names[] = {
	[DD_PHOTO_UNKNOWN] = "",
	[DD_PHOTO_MONOCHROME1] = "MONOCHROME1",
	[DD_PHOTO_MONOCHROME2] = "MONOCHROME2",
	[DD_PHOTO_RGB] = "RGB",
	[DD_PHOTO_YBR_FULL] = "YBR_FULL",
	[DD_PHOTO_YBR_FULL_422] = "YBR_FULL_422",
	[DD_PHOTO_PALETTE] = "PALETTE COLOR",
};

enum dd_photometric dd_photometric_from_name(const char *s)
{
	size_t n, i;

	if (!s)
		return DD_PHOTO_UNKNOWN;
	n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	for (i = 1; i < sizeof(photo_names) / sizeof(photo_names[0]); i++) {
		if (strlen(photo_names[i]) == n &&
		    memcmp(photo_names[i], s, n) == 0)
			return (enum dd_photometric)i;
	}
	return DD_PHOTO_UNKNOWN;
}

const char *dd_photometric_name(enum dd_photometric p)
{
	if ((unsigned)p >= sizeof(photo_names) / sizeof(photo_names[0]))
		return "";
	return photo_names[p];
}

size_t dd_image_frame_bytes(const struct dd_image_geom *g)
{
	uint64_t n = (uint64_t)g->rows * g->cols;

	if (!g->rows || !g->cols ||
	    (g->bits_alloc != 8 && g->bits_alloc != 16 && g->bits_alloc != 32))
		return 0;
	if (g->photo == DD_PHOTO_YBR_FULL_422 && g->spp == 3)
		n *= 2; /* Y Y Cb Cr per two pixels */
	else
		n *= g->spp;
	n *= g->bits_alloc / 8;
	if (n > (1ull << 31))
		return 0;
	return (size_t)n;
}

static bool geom_supported(const struct dd_image_geom *g)
{
	if (!dd_image_frame_bytes(g))
		return false;
	if (g->spp == 1)
		return (g->photo == DD_PHOTO_MONOCHROME1 ||
			g->photo == DD_PHOTO_MONOCHROME2 ||
			g->photo == DD_PHOTO_PALETTE) &&
		       g->bits_stored >= 1 && g->bits_stored <= g->bits_alloc &&
		       g->high_bit < g->bits_alloc &&
		       g->high_bit + 1 >= g->bits_stored;
	/* 32-bit colour: RGB only (its fill pattern is 12 bytes of 0) */
	if (g->spp == 3)
		return g->bits_stored >= 1 && g->bits_stored <= g->bits_alloc &&
		       g->high_bit < g->bits_alloc &&
		       g->high_bit + 1 >= g->bits_stored &&
		       (g->photo == DD_PHOTO_RGB ||
			(g->photo == DD_PHOTO_YBR_FULL && g->bits_alloc <= 16) ||
			(g->photo == DD_PHOTO_YBR_FULL_422 && g->bits_alloc == 8 &&
			 g->cols % 2 == 0));
	return false;
}

/* ---- the engine ------------------------------------------------------------------ */

dd_err dd_image_new(const struct dd_policy *pol, int mode_override,
		    const struct dd_text *text, struct dd_image **out)
{
	struct dd_image *im;
	size_t i;
	dd_err err;

	*out = NULL;
	if (!pol)
		return DD_E_INVAL;
	im = calloc(1, sizeof(*im));
	if (!im)
		return DD_E_NOMEM;
	im->pol = pol;
	im->text = text;
	im->cfg = pol->dicom.clean_image_given ? pol->dicom.clean_image
					       : pol->image;
	im->mode = mode_override >= 0 ? (enum dd_redaction_mode)mode_override
				      : im->cfg.mode;
	for (i = 0; i < im->cfg.exclude_info_types.n; i++) {
		enum dd_info_type t;
		if (dd_info_type_from_name(im->cfg.exclude_info_types.v[i], &t))
			im->excluded[t] = true;
	}
	if ((im->mode == DD_REDACT_SENSITIVE_TEXT ||
	     im->mode == DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS) &&
	    !text) {
		free(im);
		return DD_E_INVAL;
	}
	if (im->mode != DD_REDACT_NO_TEXT) {
		unsigned w = pol->deidfs.ocr_workers ? pol->deidfs.ocr_workers : 1;
		err = dd_ocr_new(w, &im->ocr);
		if (err != DD_OK) {
			free(im);
			return err;
		}
	}
	*out = im;
	return DD_OK;
}

bool dd_image_policy_base(const struct dd_policy *pol,
			  enum dd_redaction_mode *mode)
{
	*mode = pol->dicom.clean_image.mode;
	return pol->dicom.clean_image.present || pol->image.present ||
	       pol->deidfs.n_ocr_regions;
}

dd_err dd_image_check_ocr(const struct dd_policy *pol, char *msg, size_t n)
{
	const struct dd_policy_dicom *pd = &pol->dicom;
	enum dd_redaction_mode mode;
	bool ocr;
	dd_err err;

	/* the modes dd_dicom.c's img_choose can make engines for */
	ocr = dd_image_policy_base(pol, &mode) && mode != DD_REDACT_NO_TEXT;
	for (size_t i = 0; i < pd->n_actions && !ocr; i++)
		ocr = pd->actions[i].kind == DD_DACT_CLEAN_IMAGE &&
		      pd->actions[i].image.mode != DD_REDACT_NO_TEXT;
	if (!ocr)
		return DD_OK;
	err = dd_ocr_check();
	if (err)
		dd_ocr_check_message(err, msg, n);
	return err;
}

void dd_image_free(struct dd_image *im)
{
	if (!im)
		return;
	dd_ocr_free(im->ocr);
	free(im);
}

void dd_image_plan_init(struct dd_image_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void dd_image_plan_free(struct dd_image_plan *p)
{
	dd_boxes_free(&p->boxes);
	dd_boxes_free(&p->candidates);
	free(p->cand_text_h);
	free(p->ocr_frames);
	memset(p, 0, sizeof(*p));
}

/* ---- decoding -------------------------------------------------------------------- */

struct img_src {
	struct dd_bpix *bp;
	struct dd_bpix_info info;
	struct dd_buf raw;            /* J2K fragments scratch */
};

static void src_close(struct img_src *s)
{
	dd_bridge_pixels_close(s->bp);
	dd_buf_free(&s->raw);
	s->bp = NULL;
}

static dd_err src_open(int fd, struct img_src *s, struct dd_image_plan *plan)
{
	struct dd_bpix_info *in = &s->info;
	dd_err err;

	memset(s, 0, sizeof(*s));
	dd_buf_init(&s->raw, 1u << 30);
	err = dd_bridge_pixels_open(fd, &s->bp, in);
	if (err != DD_OK)
		return err;
	if (!in->has_pixels)
		return DD_E_PARSE;
	if (in->codec == DD_BPIX_OTHER)
		return DD_E_UNSUPPORTED;
	plan->src.rows = in->rows;
	plan->src.cols = in->cols;
	plan->src.spp = in->spp;
	plan->src.bits_alloc = in->bits_alloc;
	plan->src.bits_stored = in->bits_stored;
	plan->src.high_bit = in->high_bit;
	plan->src.is_signed = in->pixel_rep == 1;
	plan->src.planar = in->planar == 1;
	plan->src.photo = dd_photometric_from_name(in->photometric);
	plan->frames = in->frames;
	plan->compressed = in->codec != DD_BPIX_NATIVE;
	plan->big_endian = in->big_endian;
	snprintf(plan->xfer_uid, sizeof(plan->xfer_uid), "%s", in->xfer_uid);
	plan->out = plan->src;
	if (plan->compressed) {
		/* decoded frames are colour by pixel in dcmtk's JPEG and our
		 * J2K path; the photometric is fixed after the first decode */
		if (!strcmp(in->photometric, "YBR_ICT") ||
		    !strcmp(in->photometric, "YBR_RCT") ||
		    (in->codec != DD_BPIX_J2K &&
		     plan->src.photo == DD_PHOTO_YBR_FULL_422))
			plan->out.photo = DD_PHOTO_RGB;
		if (in->codec == DD_BPIX_J2K && plan->src.spp == 3)
			plan->src.photo = plan->out.photo;
	}
	if (plan->out.photo == DD_PHOTO_UNKNOWN && !plan->compressed)
		return DD_E_UNSUPPORTED;
	/* dcmtk swaps a big-endian OW value by 16-bit words: a 32-bit
	 * sample would come out half swapped */
	if (plan->big_endian && plan->src.bits_alloc > 16)
		return DD_E_UNSUPPORTED;
	if (plan->compressed && plan->out.photo == DD_PHOTO_UNKNOWN &&
	    in->codec != DD_BPIX_J2K)
		plan->out.photo = DD_PHOTO_RGB; /* set by the first decode */
	return DD_OK;
}

/* Decode frame @i into @buf (plan->out geometry). */
static dd_err src_frame(struct img_src *s, struct dd_image_plan *plan,
			uint32_t i, uint8_t *buf, size_t len)
{
	char photo[17];
	uint16_t planar = 0;
	dd_err err;

	if (s->info.codec == DD_BPIX_J2K) {
		bool mct;
		dd_buf_reset(&s->raw);
		err = dd_bridge_pixels_frame_raw(s->bp, i, &s->raw);
		if (err != DD_OK)
			return err;
		struct dd_image_geom g = plan->out;
		g.planar = false;
		return dd_image_j2k_decode(s->raw.data, s->raw.len, &g, buf,
					   len, &mct);
	}
	err = dd_bridge_pixels_frame(s->bp, i, buf, len, photo, &planar);
	if (err != DD_OK)
		return err;
	if (plan->compressed) {
		enum dd_photometric p = dd_photometric_from_name(photo);
		if (p == DD_PHOTO_UNKNOWN || p == DD_PHOTO_YBR_FULL_422)
			return DD_E_UNSUPPORTED;
		if (i == 0) {
			plan->out.photo = p;
			plan->out.planar = planar == 1;
		} else if (p != plan->out.photo || plan->out.planar != (planar == 1)) {
			return DD_E_PARSE; /* frames disagree */
		}
	}
	return DD_OK;
}

/* ---- fill values and runs --------------------------------------------------------- */

static int64_t sample_value(const struct dd_image_geom *g, uint32_t raw)
{
	unsigned bs = g->bits_stored, lo = g->high_bit + 1u - bs;
	uint32_t v = (raw >> lo) & ((bs >= 32) ? 0xffffffffu : ((1u << bs) - 1u));

	if (g->is_signed && (v & (1u << (bs - 1))))
		return (int64_t)v - ((int64_t)1 << bs);
	return v;
}

/* The background of frame 0 (see dd_image.h), as raw samples. */
static void fill_values(const struct dd_image_geom *g, const uint8_t *f,
			uint32_t fill[3])
{
	size_t n = (size_t)g->rows * g->cols, i;

	fill[0] = fill[1] = fill[2] = 0;
	if (g->spp == 3) {
		if (g->photo == DD_PHOTO_YBR_FULL ||
		    g->photo == DD_PHOTO_YBR_FULL_422)
			fill[1] = fill[2] = 1u << (g->bits_stored - 1);
		return;
	}
	bool want_max = g->photo == DD_PHOTO_MONOCHROME1;
	int64_t best = 0;
	uint32_t best_raw = 0;
	for (i = 0; i < n; i++) {
		uint32_t raw;
		if (g->bits_alloc == 8)
			raw = f[i];
		else if (g->bits_alloc == 16)
			raw = (uint32_t)(f[2 * i] | f[2 * i + 1] << 8);
		else
			raw = (uint32_t)f[4 * i] | (uint32_t)f[4 * i + 1] << 8 |
			      (uint32_t)f[4 * i + 2] << 16 |
			      (uint32_t)f[4 * i + 3] << 24;
		int64_t v = sample_value(g, raw);
		if (i == 0 || (want_max ? v > best : v < best)) {
			best = v;
			best_raw = raw;
		}
	}
	fill[0] = best_raw;
}

/* Sorted, merged column intervals of the boxes covering row @y. */
static size_t row_spans(const struct dd_boxes *b, uint32_t y, uint32_t cols,
			uint32_t *x0, uint32_t *x1)
{
	size_t n = 0, i, j;

	for (i = 0; i < b->n; i++) {
		const struct dd_box *bx = &b->v[i];
		if (y < bx->y || y >= bx->y + bx->h || bx->x >= cols)
			continue;
		uint32_t a = bx->x, e = bx->x + bx->w > cols ? cols : bx->x + bx->w;
		/* insertion, keeping order by start */
		for (j = n; j > 0 && x0[j - 1] > a; j--) {
			x0[j] = x0[j - 1];
			x1[j] = x1[j - 1];
		}
		x0[j] = a;
		x1[j] = e;
		n++;
	}
	/* merge */
	size_t k = 0;
	for (i = 0; i < n; i++) {
		if (k && x0[i] <= x1[k - 1]) {
			if (x1[i] > x1[k - 1])
				x1[k - 1] = x1[i];
			continue;
		}
		x0[k] = x0[i];
		x1[k] = x1[i];
		k++;
	}
	return k;
}

struct run_sink {
	struct dd_image_run *v;
	size_t n, cap;
	uint8_t *frame;     /* apply directly instead of collecting */
	uint64_t frame_off; /* value offset of @frame */
};

static dd_err sink_put(struct run_sink *s, uint64_t off, uint32_t len,
		       const uint8_t *pat, uint8_t pat_len)
{
	if (s->frame) {
		uint8_t *p = s->frame + (off - s->frame_off);
		uint32_t i;
		for (i = 0; i < len; i++)
			p[i] = pat[i % pat_len];
		return DD_OK;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *v = realloc(s->v, nc * sizeof(*s->v));
		if (!v)
			return DD_E_NOMEM;
		s->v = v;
		s->cap = nc;
	}
	struct dd_image_run *r = &s->v[s->n++];
	r->off = off;
	r->len = len;
	memcpy(r->pat, pat, pat_len);
	r->pat_len = pat_len;
	return DD_OK;
}

static void put_sample(uint8_t *p, uint32_t v, unsigned bytes, bool be)
{
	unsigned k;

	for (k = 0; k < bytes; k++)
		p[be ? bytes - 1 - k : k] = (uint8_t)(v >> (8 * k));
}

/* Runs of one frame whose value starts at @base. */
static dd_err frame_runs(const struct dd_image_geom *g, uint64_t base,
			 const struct dd_boxes *b, const uint32_t fill[3],
			 bool be, struct run_sink *s)
{
	unsigned bps = g->bits_alloc / 8;
	uint32_t *x0 = NULL, *x1 = NULL, y;
	uint64_t plane = (uint64_t)g->rows * g->cols * bps;
	dd_err err = DD_OK;
	uint8_t pat[DD_IMAGE_PAT_MAX];
	size_t k, n;
	unsigned c;

	if (!b->n)
		return DD_OK;
	x0 = malloc((b->n + 1) * sizeof(*x0));
	x1 = malloc((b->n + 1) * sizeof(*x1));
	if (!x0 || !x1) {
		err = DD_E_NOMEM;
		goto out;
	}
	if (g->spp == 3 && g->planar) {
		for (c = 0; c < 3 && err == DD_OK; c++) {
			put_sample(pat, fill[c], bps, be);
			for (y = 0; y < g->rows && err == DD_OK; y++) {
				n = row_spans(b, y, g->cols, x0, x1);
				for (k = 0; k < n && err == DD_OK; k++)
					err = sink_put(s, base + plane * c +
						       ((uint64_t)y * g->cols + x0[k]) * bps,
						       (x1[k] - x0[k]) * bps, pat, (uint8_t)bps);
			}
		}
		goto out;
	}
	for (y = 0; y < g->rows && err == DD_OK; y++) {
		n = row_spans(b, y, g->cols, x0, x1);
		for (k = 0; k < n && err == DD_OK; k++) {
			uint32_t a = x0[k], e = x1[k];
			if (g->photo == DD_PHOTO_YBR_FULL_422 && g->spp == 3) {
				a &= ~1u;
				e = (e + 1) & ~1u;
				if (e > g->cols)
					e = g->cols;
				pat[0] = pat[1] = (uint8_t)fill[0];
				pat[2] = (uint8_t)fill[1];
				pat[3] = (uint8_t)fill[2];
				err = sink_put(s, base + ((uint64_t)y * g->cols + a) * 2,
					       (e - a) * 2, pat, 4);
				continue;
			}
			for (c = 0; c < g->spp; c++)
				put_sample(pat + c * bps, fill[c], bps, be);
			err = sink_put(s, base + ((uint64_t)y * g->cols + a) * g->spp * bps,
				       (e - a) * g->spp * bps, pat,
				       (uint8_t)(g->spp * bps));
		}
	}
out:
	free(x0);
	free(x1);
	return err;
}

void dd_image_frame_fill(const struct dd_image_geom *g, uint8_t *frame,
			 const struct dd_boxes *boxes, const uint32_t fill[3])
{
	struct run_sink s = {.frame = frame, .frame_off = 0};
	(void)frame_runs(g, 0, boxes, fill, false, &s);
}

dd_err dd_image_native_runs(const struct dd_image_plan *plan,
			    const struct dd_boxes *boxes,
			    struct dd_image_run **runs, size_t *n_runs)
{
	struct run_sink s;
	size_t fb = dd_image_frame_bytes(&plan->src);
	uint32_t f;
	dd_err err = DD_OK;

	*runs = NULL;
	*n_runs = 0;
	if (plan->out_kind != DD_IMAGE_OUT_NATIVE_PATCH || !fb)
		return DD_E_INVAL;
	memset(&s, 0, sizeof(s));
	for (f = 0; f < plan->frames && err == DD_OK; f++) {
		err = frame_runs(&plan->src, (uint64_t)f * fb, boxes, plan->fill,
				 plan->big_endian, &s);
		if (s.n > DD_IMAGE_MAX_RUNS)
			err = DD_E_LIMIT;
	}
	if (err != DD_OK) {
		free(s.v);
		return err;
	}
	*runs = s.v;
	*n_runs = s.n;
	return DD_OK;
}

void dd_image_runs_apply(const struct dd_image_run *runs, size_t n_runs,
			 uint64_t off, uint8_t *p, size_t n)
{
	size_t i;
	uint64_t end = off + n;

	for (i = 0; i < n_runs; i++) {
		const struct dd_image_run *r = &runs[i];
		uint64_t a = r->off > off ? r->off : off;
		uint64_t e = r->off + r->len < end ? r->off + r->len : end;
		uint64_t k;
		if (a >= e)
			continue;
		for (k = a; k < e; k++)
			p[k - off] = r->pat[(k - r->off) % r->pat_len];
	}
}

/* ---- which images, which frames ---------------------------------------------------- */

static bool str_eq_trim(const char *a, const char *b)
{
	size_t n;

	if (!a || !b)
		return false;
	n = strlen(a);
	while (n && a[n - 1] == ' ')
		n--;
	return strlen(b) == n && memcmp(a, b, n) == 0;
}

static bool is_marked_modality(const struct dd_image_facts *f)
{
	static const char *const mods[] = {"US", "SC", "OT", "XA", "ES", "IVUS",
					   "XC", "GM", "SM", NULL};
	static const char *const sc_prefix = "1.2.840.10008.5.1.4.1.1.7";
	size_t i;

	for (i = 0; f->modality && mods[i]; i++)
		if (str_eq_trim(f->modality, mods[i]))
			return true;
	if (f->sop_class_uid &&
	    strncmp(f->sop_class_uid, sc_prefix, strlen(sc_prefix)) == 0)
		return true; /* secondary capture, incl. multi-frame */
	return false;
}

bool dd_image_facts_marked(const struct dd_image_facts *f)
{
	return f->burned_in_yes || f->has_overlays || is_marked_modality(f);
}

static bool region_matches(const struct dd_ocr_region *r,
			   const struct dd_image_facts *f,
			   const struct dd_image_geom *g)
{
	if (r->manufacturer && !str_eq_trim(f->manufacturer, r->manufacturer))
		return false;
	if (r->model && !str_eq_trim(f->model, r->model))
		return false;
	if (r->rows && r->rows != g->rows)
		return false;
	if (r->columns && r->columns != g->cols)
		return false;
	return true;
}

static dd_err add_u32(uint32_t **v, size_t *n, uint32_t x)
{
	void *p = realloc(*v, (*n + 1) * sizeof(**v));
	if (!p)
		return DD_E_NOMEM;
	*v = p;
	(*v)[(*n)++] = x;
	return DD_OK;
}

/* The text height of each candidate: the tallest line of the pre-pass
 * regions whose corner lies in it (0 when unknown). */
static dd_err cand_heights(struct dd_image_plan *plan,
			   const struct dd_boxes *heights)
{
	size_t i, k;

	free(plan->cand_text_h);
	plan->cand_text_h = calloc(plan->candidates.n + 1,
				   sizeof(*plan->cand_text_h));
	if (!plan->cand_text_h)
		return DD_E_NOMEM;
	for (i = 0; i < plan->candidates.n; i++) {
		const struct dd_box *c = &plan->candidates.v[i];

		for (k = 0; k < heights->n; k++) {
			const struct dd_box *h = &heights->v[k];

			if (h->x >= c->x && h->x < c->x + c->w && h->y >= c->y &&
			    h->y < c->y + c->h && h->h > plan->cand_text_h[i])
				plan->cand_text_h[i] = (uint16_t)h->h;
		}
	}
	return DD_OK;
}

dd_err dd_image_size_plan(const struct dd_image *im, int fd,
			  const struct dd_image_facts *facts,
			  struct dd_image_plan *plan)
{
	const struct dd_policy_deidfs *d = &im->pol->deidfs;
	struct img_src src;
	uint8_t *frame = NULL;
	uint64_t *sigs = NULL;
	struct dd_boxes heights; /* every region, h := its text height */
	struct dd_prepass_result pr;
	struct dd_prepass_opts po;
	size_t fb, i;
	uint32_t f, stride;
	dd_err err;
	bool fixed = false, need_prepass;

	dd_image_plan_free(plan);
	dd_prepass_result_init(&pr);
	dd_boxes_init(&heights);
	err = src_open(fd, &src, plan);
	if (err != DD_OK)
		goto out;
	fb = dd_image_frame_bytes(&plan->out);
	if (!fb || !geom_supported(&plan->src) ||
	    (!plan->compressed && !geom_supported(&plan->out))) {
		err = DD_E_UNSUPPORTED;
		goto out;
	}
	for (i = 0; i < d->n_ocr_regions; i++)
		fixed |= region_matches(&d->ocr_regions[i], facts, &plan->src);
	if (fixed)
		plan->why |= DD_IMAGE_FIXED_REGION;
	if (facts->burned_in_yes)
		plan->why |= DD_IMAGE_MARKED_BURNED_IN;
	if (is_marked_modality(facts))
		plan->why |= DD_IMAGE_MARKED_MODALITY;
	if (facts->has_overlays)
		plan->why |= DD_IMAGE_MARKED_OVERLAY;
	need_prepass = im->mode != DD_REDACT_NO_TEXT;
	if (!need_prepass && !fixed) {
		plan->out_kind = DD_IMAGE_OUT_KEEP;
		goto out;
	}
	if ((uint64_t)plan->src.rows * plan->src.cols * plan->frames >
	    d->ocr_max_pixels) {
		err = DD_E_LIMIT;
		goto out;
	}
	frame = malloc(fb);
	sigs = calloc(plan->frames, sizeof(*sigs));
	if (!frame || !sigs) {
		err = DD_E_NOMEM;
		goto out;
	}
	po.anywhere = (plan->why & DD_IMAGE_MARKED_MODALITY) != 0;
	for (f = 0; f < plan->frames; f++) {
		err = src_frame(&src, plan, f, frame, fb);
		if (err == DD_OK && f == 0) {
			if (!geom_supported(&plan->out) ||
			    dd_image_frame_bytes(&plan->out) != fb)
				err = DD_E_UNSUPPORTED;
			else
				fill_values(&plan->out, frame, plan->fill);
		}
		if (err != DD_OK)
			goto out;
		if (!need_prepass)
			break;
		err = dd_prepass_frame(&plan->out, frame, &po, &pr);
		if (err != DD_OK)
			goto out;
		sigs[f] = pr.sig;
		for (i = 0; i < pr.n && err == DD_OK; i++) {
			struct dd_box hb = pr.v[i].box;

			hb.h = pr.v[i].text_h ? pr.v[i].text_h : 1;
			err = dd_boxes_add(&plan->candidates, pr.v[i].box);
			if (err == DD_OK)
				(void)dd_boxes_add(&heights, hb); /* full: a guess */
		}
		if (err == DD_E_LIMIT)
			err = DD_OK; /* enough candidates: OCR sees the rest whole */
		if (err != DD_OK)
			goto out;
	}
	/* regions that differ between frames all count: union of them */
	dd_boxes_normalize(&plan->candidates, plan->out.cols, plan->out.rows);
	if (plan->candidates.n)
		plan->why |= DD_IMAGE_FLAGGED_PREPASS;
	err = cand_heights(plan, &heights);
	if (err != DD_OK)
		goto out;
	/* the frame subset: first, last, every Nth, changed pre-pass masks */
	stride = d->ocr_frame_stride ? d->ocr_frame_stride : 10;
	for (f = 0; f < plan->frames && err == DD_OK && need_prepass; f++) {
		if (f == 0 || f + 1 == plan->frames || f % stride == 0 ||
		    sigs[f] != sigs[f - 1])
			err = add_u32(&plan->ocr_frames, &plan->n_ocr_frames, f);
	}
	if (err != DD_OK)
		goto out;
	if (!(plan->why & (DD_IMAGE_MARKED_BURNED_IN | DD_IMAGE_MARKED_MODALITY |
			   DD_IMAGE_MARKED_OVERLAY | DD_IMAGE_FLAGGED_PREPASS |
			   DD_IMAGE_FIXED_REGION)) ||
	    (im->mode == DD_REDACT_NO_TEXT && !fixed)) {
		plan->out_kind = DD_IMAGE_OUT_KEEP;
		goto out;
	}
	if (!plan->compressed) {
		plan->out_kind = DD_IMAGE_OUT_NATIVE_PATCH;
		plan->out_pixel_len = (uint64_t)fb * plan->frames;
	} else {
		/* redactedEncoding "same": re-encoded when an encoder here
		 * takes the source's family and the decoded geometry (else
		 * Explicit VR Little Endian); out_pixel_len is then the native
		 * value's length, the encoded one is known after encoding */
		plan->out_kind = DD_IMAGE_OUT_EXPLICIT_LE;
		if (d->redacted_encoding == DD_ENC_SAME &&
		    dd_image_same_xfer(plan->xfer_uid, &plan->out))
			plan->out_kind = DD_IMAGE_OUT_SAME_CODEC;
		plan->out_pixel_len = (uint64_t)fb * plan->frames;
	}
	plan->out_pixel_len += plan->out_pixel_len & 1;
out:
	dd_boxes_free(&heights);
	dd_prepass_result_free(&pr);
	free(sigs);
	free(frame);
	src_close(&src);
	return err;
}

/* ---- OCR ---------------------------------------------------------------------------- */

/* An 8-bit grey crop for tesseract: windowed to the crop's range, dark
 * text on a light background, scaled by @scale, with a white margin. */
struct grey {
	uint8_t *px;
	uint32_t w, h, margin, scale;
	struct dd_box crop;
};

#define GREY_MARGIN 12
#define INK_CUT 176u /* of 255: darker is ink after the polarity flip */

static dd_err grey_make(const struct dd_image_geom *g, const uint8_t *frame,
			struct dd_box crop, uint32_t scale, struct grey *out)
{
	uint16_t *lum = NULL;
	uint32_t x, y, mn = 65535, mx = 0;
	uint64_t sum = 0;
	size_t np = (size_t)crop.w * crop.h, i;
	uint8_t *small = NULL;

	memset(out, 0, sizeof(*out));
	lum = malloc(np * sizeof(*lum));
	small = malloc(np);
	if (!lum || !small) {
		free(lum);
		free(small);
		return DD_E_NOMEM;
	}
	for (y = 0; y < crop.h; y++)
		dd_prepass_row_luma(g, frame, crop.y + y, crop.x, crop.w,
				    lum + (size_t)y * crop.w);
	for (i = 0; i < np; i++) {
		mn = lum[i] < mn ? lum[i] : mn;
		mx = lum[i] > mx ? lum[i] : mx;
	}
	for (i = 0; i < np; i++) {
		uint32_t v = mx > mn ? (uint32_t)((lum[i] - mn) * 255u / (mx - mn)) : 255;
		if (g->photo == DD_PHOTO_MONOCHROME1)
			v = 255 - v;
		small[i] = (uint8_t)v;
		sum += v;
	}
	free(lum);
	/* the majority (background) light: invert when the crop is dark */
	if (sum < (uint64_t)np * 128)
		for (i = 0; i < np; i++)
			small[i] = (uint8_t)(255 - small[i]);
	/* burnt-in text is the extreme of the crop's range; mid-tones
	 * (anatomy, speckle) go to the background, or tesseract's own
	 * threshold joins them to the glyphs next to them */
	for (i = 0; i < np; i++)
		small[i] = small[i] >= INK_CUT ? 255
					       : (uint8_t)(small[i] * 255u / INK_CUT);
	out->scale = scale;
	out->margin = GREY_MARGIN;
	out->crop = crop;
	out->w = crop.w * scale + 2 * GREY_MARGIN;
	out->h = crop.h * scale + 2 * GREY_MARGIN;
	out->px = malloc((size_t)out->w * out->h);
	if (!out->px) {
		free(small);
		return DD_E_NOMEM;
	}
	memset(out->px, 255, (size_t)out->w * out->h);
	for (y = 0; y < crop.h * scale; y++) {
		uint8_t *dst = out->px + (size_t)(y + GREY_MARGIN) * out->w + GREY_MARGIN;
		/* bilinear, in fixed point */
		uint32_t fy = (y * 256 + 128) / scale, sy = fy >> 8, wy;
		sy = fy >= 128 ? (fy - 128) >> 8 : 0;
		wy = fy >= 128 ? (fy - 128) & 255 : 0;
		uint32_t sy1 = sy + 1 < crop.h ? sy + 1 : sy;
		for (x = 0; x < crop.w * scale; x++) {
			uint32_t fx = (x * 256 + 128) / scale, sx, wx;
			sx = fx >= 128 ? (fx - 128) >> 8 : 0;
			wx = fx >= 128 ? (fx - 128) & 255 : 0;
			uint32_t sx1 = sx + 1 < crop.w ? sx + 1 : sx;
			uint32_t a = small[(size_t)sy * crop.w + sx];
			uint32_t b = small[(size_t)sy * crop.w + sx1];
			uint32_t c = small[(size_t)sy1 * crop.w + sx];
			uint32_t d = small[(size_t)sy1 * crop.w + sx1];
			uint32_t top = a * (256 - wx) + b * wx;
			uint32_t bot = c * (256 - wx) + d * wx;
			dst[x] = (uint8_t)((top * (256 - wy) + bot * wy + 32768) >> 16);
		}
	}
	free(small);
	return DD_OK;
}

static struct dd_box word_to_frame(const struct grey *gr, struct dd_box b,
				   const struct dd_image_geom *g)
{
	int64_t x0 = ((int64_t)b.x - gr->margin) / gr->scale + gr->crop.x;
	int64_t y0 = ((int64_t)b.y - gr->margin) / gr->scale + gr->crop.y;
	int64_t x1 = ((int64_t)b.x + b.w - gr->margin + gr->scale - 1) / gr->scale + gr->crop.x;
	int64_t y1 = ((int64_t)b.y + b.h - gr->margin + gr->scale - 1) / gr->scale + gr->crop.y;
	int64_t pad = (y1 - y0) / 3 + 3;
	struct dd_box r;

	x0 -= pad;
	y0 -= pad;
	x1 += pad;
	y1 += pad;
	if (x0 < 0)
		x0 = 0;
	if (y0 < 0)
		y0 = 0;
	if (x1 > g->cols)
		x1 = g->cols;
	if (y1 > g->rows)
		y1 = g->rows;
	r.x = (uint32_t)x0;
	r.y = (uint32_t)y0;
	r.w = x1 > x0 ? (uint32_t)(x1 - x0) : 0;
	r.h = y1 > y0 ? (uint32_t)(y1 - y0) : 0;
	return r;
}

static size_t alnum_count(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += isalnum((unsigned char)*s) != 0;
	return n;
}

/* Burnt-in text is set in one case per word; a reading that goes from
 * lower to upper case twice or more ("WrLsoN") is a misread. */
static bool garbled_case(const char *s)
{
	size_t flips = 0;

	for (; s[0] && s[1]; s++)
		flips += islower((unsigned char)s[0]) && isupper((unsigned char)s[1]);
	return flips >= 2;
}

/* Confidence under which a reading of 4+ letters or digits is redacted
 * whatever it says (a misread name is still a name: recall first). */
#define UNSURE_CONF 60.0f

/* Which words of @res are redacted (marks @red[i]). */
static dd_err judge_words(const struct dd_image *im,
			  const struct dd_text_ctx *ctx,
			  const struct dd_ocr_result *res, bool *red)
{
	struct dd_buf line;
	size_t i = 0, j, *start = NULL;
	dd_err err = DD_OK;

	if (im->mode == DD_REDACT_ALL_TEXT) {
		for (i = 0; i < res->n; i++) {
			const char *t = (const char *)res->text.data + res->v[i].text_off;
			red[i] = alnum_count(t) > 0;
		}
		return DD_OK;
	}
	start = malloc((res->n + 1) * sizeof(*start));
	if (!start)
		return DD_E_NOMEM;
	dd_buf_init(&line, 1u << 20);
	while (i < res->n && err == DD_OK) {
		size_t e = i;
		while (e < res->n && res->v[e].line == res->v[i].line)
			e++;
		dd_buf_reset(&line);
		for (j = i; j < e && err == DD_OK; j++) {
			if (j > i)
				err = dd_buf_addc(&line, ' ');
			start[j] = line.len;
			if (err == DD_OK)
				err = dd_buf_adds(&line, (const char *)res->text.data +
							 res->v[j].text_off);
		}
		struct dd_text_span *sp = NULL;
		size_t nsp = 0, k;
		if (err == DD_OK)
			err = dd_text_find(im->text, ctx, (const char *)line.data,
					   line.len, &sp, &nsp);
		for (j = i; j < e && err == DD_OK; j++) {
			size_t a = start[j], b = a + res->v[j].text_len;
			const char *t = (const char *)res->text.data + res->v[j].text_off;
			red[j] = false;
			for (k = 0; k < nsp; k++) {
				if (sp[k].end <= a || sp[k].start >= b)
					continue;
				if (sp[k].type < DD_IT_LAST && im->excluded[sp[k].type])
					continue;
				if (sp[k].type == DD_IT_CONTEXT &&
				    im->mode != DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS)
					continue;
				red[j] = true;
			}
			/* an unsure reading of a longer token could be a
			 * misread name or number: recall first */
			if (!red[j] && alnum_count(t) >= 4 &&
			    (res->v[j].conf < UNSURE_CONF || garbled_case(t)))
				red[j] = true;
		}
		free(sp);
		i = e;
	}
	dd_buf_free(&line);
	free(start);
	return err;
}

static dd_err ocr_crop(const struct dd_image *im, const struct dd_image_geom *g,
		       const uint8_t *frame, struct dd_box crop, uint32_t scale,
		       uint64_t deadline, const struct dd_text_ctx *ctx,
		       struct dd_image_plan *plan)
{
	struct grey gr;
	struct dd_ocr_result res;
	struct dd_ocr_image oi;
	bool *red = NULL;
	size_t i;
	dd_err err;

	err = grey_make(g, frame, crop, scale, &gr);
	if (err != DD_OK)
		return err;
	dd_ocr_result_init(&res);
	oi.px = gr.px;
	oi.w = gr.w;
	oi.h = gr.h;
	oi.stride = gr.w;
	err = dd_ocr_run(im->ocr, &oi, deadline, &res);
	plan->ocr_calls++;
	if (err == DD_OK && res.n) {
		red = calloc(res.n, sizeof(*red));
		err = red ? judge_words(im, ctx, &res, red) : DD_E_NOMEM;
	}
	for (i = 0; i < res.n && err == DD_OK; i++) {
		plan->words++;
		if (!red[i])
			continue;
		plan->words_redacted++;
		err = dd_boxes_add(&plan->boxes, word_to_frame(&gr, res.v[i].box, g));
	}
	free(red);
	dd_ocr_result_free(&res);
	free(gr.px);
	return err;
}

/* Scale for a crop whose text is about @text_h pixels high. */
static uint32_t region_scale(uint32_t text_h)
{
	if (text_h >= 24)
		return 1;
	if (text_h >= 12)
		return 2;
	return 3;
}

dd_err dd_image_redact_plan(const struct dd_image *im, int fd,
			    const struct dd_image_facts *facts,
			    const struct dd_text_ctx *ctx,
			    struct dd_image_plan *plan)
{
	const struct dd_policy_deidfs *d = &im->pol->deidfs;
	uint64_t t0 = dd_ocr_now_ms();
	uint64_t deadline = t0 + (uint64_t)(d->ocr_timeout_s ? d->ocr_timeout_s : 120) * 1000u;
	struct img_src src;
	uint8_t *frame = NULL;
	size_t fb, i, k;
	dd_err err;

	err = dd_image_size_plan(im, fd, facts, plan);
	if (err != DD_OK || plan->out_kind == DD_IMAGE_OUT_KEEP)
		return err;
	for (i = 0; i < d->n_ocr_regions && err == DD_OK; i++) {
		const struct dd_ocr_region *r = &d->ocr_regions[i];
		struct dd_box b = {r->x, r->y, r->width, r->height};
		if (region_matches(r, facts, &plan->src))
			err = dd_boxes_add(&plan->boxes, b);
	}
	if (err != DD_OK || im->mode == DD_REDACT_NO_TEXT)
		goto done;
	memset(&src, 0, sizeof(src));
	err = src_open(fd, &src, plan);
	fb = dd_image_frame_bytes(&plan->out);
	frame = fb ? malloc(fb) : NULL;
	if (err == DD_OK && !frame)
		err = DD_E_NOMEM;
	bool whole = plan->why & (DD_IMAGE_MARKED_BURNED_IN |
				  DD_IMAGE_MARKED_MODALITY | DD_IMAGE_MARKED_OVERLAY);
	/* a frame OCR'd whole at scale S already read the candidates that a
	 * crop would read at scale <= S: only those with smaller text (a
	 * larger scale) are OCR'd again (the same words twice cost twice the
	 * LSTM time; recall is the same on the image sets) */
	uint32_t whole_sc = !whole ? 0
			    : plan->out.cols <= 1024 && plan->out.rows <= 1024 ? 2 : 1;
	for (k = 0; k < plan->n_ocr_frames && err == DD_OK; k++) {
		err = src_frame(&src, plan, plan->ocr_frames[k], frame, fb);
		if (err != DD_OK)
			break;
		plan->frames_ocr++;
		if (whole) {
			struct dd_box all = {0, 0, plan->out.cols, plan->out.rows};
			err = ocr_crop(im, &plan->out, frame, all, whole_sc,
				       deadline, ctx, plan);
		}
		for (i = 0; i < plan->candidates.n && err == DD_OK; i++) {
			struct dd_box c = plan->candidates.v[i];
			uint32_t th = plan->cand_text_h ? plan->cand_text_h[i] : 0;
			uint32_t sc = region_scale(th ? th : c.h / 2);
			if (sc <= whole_sc)
				continue;
			/* widen: a line may run on past what the pre-pass saw */
			uint32_t px = c.h > 32 ? c.h : 32, py = c.h / 4;
			uint32_t x1 = c.x + c.w + px, y1 = c.y + c.h + py;
			c.x = c.x > px ? c.x - px : 0;
			c.y = c.y > py ? c.y - py : 0;
			c.w = (x1 < plan->out.cols ? x1 : plan->out.cols) - c.x;
			c.h = (y1 < plan->out.rows ? y1 : plan->out.rows) - c.y;
			err = ocr_crop(im, &plan->out, frame, c, sc,
				       deadline, ctx, plan);
		}
	}
	free(frame);
	src_close(&src);
done:
	if (err == DD_OK && dd_ocr_now_ms() >= deadline)
		err = DD_E_TIMEOUT;
	if (err == DD_OK)
		dd_boxes_normalize(&plan->boxes, plan->out.cols, plan->out.rows);
	else
		plan->boxes.n = 0;
	return err;
}

/* ---- output ------------------------------------------------------------------------- */

/* Does the source just opened (@now, before its first frame) still have
 * the pixel data @plan was made for?  (The photometric and planar
 * configuration of a decoded frame are checked per frame.) */
static bool same_source_geom(const struct dd_image_plan *now,
			     const struct dd_image_plan *plan)
{
	const struct dd_image_geom *a = &now->out, *b = &plan->out;

	return a->rows == b->rows && a->cols == b->cols && a->spp == b->spp &&
	       a->bits_alloc == b->bits_alloc &&
	       a->bits_stored == b->bits_stored && a->high_bit == b->high_bit &&
	       a->is_signed == b->is_signed && now->frames == plan->frames &&
	       now->compressed == plan->compressed &&
	       strcmp(now->xfer_uid, plan->xfer_uid) == 0;
}

dd_err dd_image_pixels(const struct dd_image *im, int fd,
		       const struct dd_image_plan *plan,
		       const struct dd_boxes *boxes, struct dd_buf *out)
{
	struct dd_image_plan tmp = *plan; /* src_open writes geometry */
	struct img_src src;
	size_t fb = dd_image_frame_bytes(&plan->out);
	uint8_t *frame;
	uint32_t f;
	dd_err err;

	(void)im;
	if (!fb)
		return DD_E_INVAL;
	tmp.boxes.v = NULL;
	tmp.candidates.v = NULL;
	tmp.cand_text_h = NULL;
	tmp.ocr_frames = NULL;
	err = src_open(fd, &src, &tmp);
	if (err == DD_OK && !same_source_geom(&tmp, plan))
		err = DD_E_CHANGED;
	if (err == DD_OK)
		err = dd_buf_reserve(out, fb * plan->frames + 1);
	frame = malloc(fb);
	if (err == DD_OK && !frame)
		err = DD_E_NOMEM;
	for (f = 0; f < plan->frames && err == DD_OK; f++) {
		err = src_frame(&src, &tmp, f, frame, fb);
		if (err == DD_OK && (tmp.out.photo != plan->out.photo ||
				     tmp.out.planar != plan->out.planar))
			err = DD_E_CHANGED;
		if (err != DD_OK)
			break;
		dd_image_frame_fill(&plan->out, frame, boxes, plan->fill);
		err = dd_buf_add(out, frame, fb);
	}
	if (err == DD_OK && (fb * plan->frames) & 1)
		err = dd_buf_addc(out, 0);
	free(frame);
	src_close(&src);
	return err;
}
