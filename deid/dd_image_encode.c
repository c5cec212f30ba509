/* dd_image_encode.c: redacted frames re-encoded losslessly in the source's
 * codec family (deidfs.redactedEncoding "same"; see dd_image.h).  RLE,
 * JPEG lossless and JPEG-LS go through dcmtk's encoders (the bridge),
 * JPEG 2000 through OpenJPEG here (reversible 5/3 wavelet, one quality
 * layer, the reversible colour transform for RGB).
 *
 * Deterministic: the bytes depend on the samples only.  OpenJPEG writes
 * its version into a COM marker unless given a comment, so it gets a fixed
 * one, and runs in the calling thread (its output does not depend on
 * threads, but nothing here relies on that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

#include "dd_bridge.h"
#include "dd_image.h"
#include "dd_image_i.h"

#define UID_RLE "1.2.840.10008.1.2.5"
#define UID_JPEG_BASE "1.2.840.10008.1.2.4.50"
#define UID_JPEG_EXT "1.2.840.10008.1.2.4.51"
#define UID_JPEG_P14 "1.2.840.10008.1.2.4.57"
#define UID_JPEG_SV1 "1.2.840.10008.1.2.4.70"
#define UID_JLS_LL "1.2.840.10008.1.2.4.80"
#define UID_JLS_NEAR "1.2.840.10008.1.2.4.81"
#define UID_J2K_LL "1.2.840.10008.1.2.4.90"
#define UID_J2K "1.2.840.10008.1.2.4.91"
#define UID_J2K_MC_LL "1.2.840.10008.1.2.4.92"
#define UID_J2K_MC "1.2.840.10008.1.2.4.93"

/* The encoded value may be larger than the native one (noise): a cap. */
#define ENC_MAX(native) ((native) * 2 + (1u << 20))

void dd_image_enc_init(struct dd_image_enc *e)
{
	memset(e, 0, sizeof(*e));
	dd_buf_init(&e->frags, 0);
}

void dd_image_enc_free(struct dd_image_enc *e)
{
	dd_buf_free(&e->frags);
	free(e->frag_len);
	memset(e, 0, sizeof(*e));
}

static bool is_j2k(const char *uid)
{
	return !strcmp(uid, UID_J2K_LL) || !strcmp(uid, UID_J2K_MC_LL);
}

const char *dd_image_same_xfer(const char *src, const struct dd_image_geom *g)
{
	static const char *const map[][2] = {
		{UID_RLE, UID_RLE},
		{UID_JPEG_BASE, UID_JPEG_SV1},
		{UID_JPEG_EXT, UID_JPEG_SV1},
		{UID_JPEG_P14, UID_JPEG_P14},
		{UID_JPEG_SV1, UID_JPEG_SV1},
		{UID_JLS_LL, UID_JLS_LL},
		{UID_JLS_NEAR, UID_JLS_LL},
		{UID_J2K_LL, UID_J2K_LL},
		{UID_J2K, UID_J2K_LL},
		{UID_J2K_MC_LL, UID_J2K_MC_LL},
		{UID_J2K_MC, UID_J2K_MC_LL},
	};
	const char *to = NULL;
	size_t i;

	if (!src)
		return NULL;
	for (i = 0; i < sizeof(map) / sizeof(map[0]) && !to; i++)
		if (!strcmp(src, map[i][0]))
			to = map[i][1];
	/* what every encoder here takes: 8 or 16 bits, the stored bits at
	 * the bottom, 1 or 3 samples of a colour model the codec keeps */
	if (!to || (g->bits_alloc != 8 && g->bits_alloc != 16) ||
	    g->bits_stored < 2 || g->bits_stored > g->bits_alloc ||
	    g->high_bit + 1 != g->bits_stored || !dd_image_frame_bytes(g))
		return NULL;
	if (g->spp == 1)
		return (g->photo == DD_PHOTO_MONOCHROME1 ||
			g->photo == DD_PHOTO_MONOCHROME2 ||
			g->photo == DD_PHOTO_PALETTE) ? to : NULL;
	if (g->spp != 3 || g->is_signed)
		return NULL;
	if (g->photo == DD_PHOTO_RGB)
		return to;
	/* YBR_FULL: kept by RLE and JPEG 2000 (no colour transform); the
	 * JPEG decoders return RGB, so a JPEG family source never gets here */
	if (g->photo == DD_PHOTO_YBR_FULL &&
	    (!strcmp(to, UID_RLE) || is_j2k(to)))
		return to;
	return NULL;
}

static uint32_t sample_at(const struct dd_image_geom *g, const uint8_t *p,
			  size_t k)
{
	if (g->bits_alloc == 8)
		return p[k];
	return (uint32_t)(p[2 * k] | p[2 * k + 1] << 8);
}

/* What the codec keeps of a sample: RLE every bit; JPEG and JPEG-LS
 * BitsStored bits, as an unsigned number (dcmtk passes the stored bits
 * through and CharLS asserts on a larger value: a signed sample must come
 * without its sign extension, as their decoders give it); JPEG 2000 the
 * number (ours decodes a signed one sign-extended).  A frame with a
 * sample the codec would not give back is refused. */
static bool samples_fit(const struct dd_image_geom *g, const char *xfer,
			const uint8_t *p, size_t count)
{
	unsigned bs = g->bits_stored, ba = g->bits_alloc;
	uint32_t all = ba == 16 ? 0xffffu : 0xffu;
	uint32_t mask = (1u << bs) - 1u, sign = 1u << (bs - 1);
	bool extend = g->is_signed && is_j2k(xfer);
	size_t k;

	if (bs == ba || !strcmp(xfer, UID_RLE))
		return true;
	for (k = 0; k < count; k++) {
		uint32_t v = sample_at(g, p, k);
		uint32_t want = v & mask;

		if (extend && (want & sign))
			want |= all & ~mask;
		if (v != want)
			return false;
	}
	return true;
}

/* Colour by plane -> colour by pixel (every encoder gets, and every
 * output says, PlanarConfiguration 0). */
static void interleave(const struct dd_image_geom *g, const uint8_t *in,
		       uint8_t *out)
{
	size_t np = (size_t)g->rows * g->cols, i;
	unsigned bps = g->bits_alloc / 8, c, b;

	for (i = 0; i < np; i++)
		for (c = 0; c < 3; c++)
			for (b = 0; b < bps; b++)
				out[(i * 3 + c) * bps + b] =
					in[(c * np + i) * bps + b];
}

/* ---- JPEG 2000 (OpenJPEG) ------------------------------------------------ */

struct j2k_out {
	struct dd_buf *b;
	size_t base; /* where this codestream starts in b */
	size_t pos;  /* write position, relative to base */
	bool failed;
};

static OPJ_SIZE_T j2k_write(void *buf, OPJ_SIZE_T n, void *user)
{
	struct j2k_out *o = user;
	size_t end = o->base + o->pos + n;

	if (o->failed)
		return (OPJ_SIZE_T)-1;
	if (end > o->b->len) {
		if (dd_buf_reserve(o->b, end - o->b->len) != DD_OK) {
			o->failed = true;
			return (OPJ_SIZE_T)-1;
		}
		memset(o->b->data + o->b->len, 0, end - o->b->len);
		o->b->len = end;
	}
	memcpy(o->b->data + o->base + o->pos, buf, n);
	o->pos += n;
	return n;
}

static OPJ_OFF_T j2k_skip(OPJ_OFF_T n, void *user)
{
	struct j2k_out *o = user;

	if (n < 0 || (size_t)n > o->b->len - o->base - o->pos)
		return -1;
	o->pos += (size_t)n;
	return n;
}

static OPJ_BOOL j2k_seek(OPJ_OFF_T n, void *user)
{
	struct j2k_out *o = user;

	if (n < 0 || (size_t)n > o->b->len - o->base)
		return OPJ_FALSE;
	o->pos = (size_t)n;
	return OPJ_TRUE;
}

static void j2k_quiet(const char *msg, void *data)
{
	(void)msg;
	(void)data;
}

/* One frame (colour by pixel) as a J2K codestream appended to @out, padded
 * to even length; *@len its length. */
static dd_err j2k_encode_frame(const struct dd_image_geom *g, bool mct,
			       const uint8_t *px, struct dd_buf *out,
			       uint32_t *len)
{
	opj_cparameters_t par;
	opj_image_cmptparm_t cp[3];
	opj_image_t *img = NULL;
	opj_codec_t *codec = NULL;
	opj_stream_t *st = NULL;
	struct j2k_out o = {out, out->len, 0, false};
	char comment[] = "deidfs";
	size_t np = (size_t)g->rows * g->cols, i;
	unsigned c, mind = g->rows < g->cols ? g->rows : g->cols;
	dd_err err = DD_E_INTERNAL;

	memset(cp, 0, sizeof(cp));
	for (c = 0; c < g->spp; c++) {
		cp[c].dx = cp[c].dy = 1;
		cp[c].w = g->cols;
		cp[c].h = g->rows;
		cp[c].prec = g->bits_stored;
		cp[c].sgnd = g->is_signed;
	}
	img = opj_image_create(g->spp, cp,
			       g->spp == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
	if (!img)
		return DD_E_NOMEM;
	img->x1 = g->cols;
	img->y1 = g->rows;
	for (i = 0; i < np; i++) {
		for (c = 0; c < g->spp; c++) {
			uint32_t v = sample_at(g, px, i * g->spp + c);
			int32_t s = (int32_t)(v & ((1u << g->bits_stored) - 1u));

			if (g->is_signed && (s & (1 << (g->bits_stored - 1))))
				s -= 1 << g->bits_stored;
			img->comps[c].data[i] = s;
		}
	}
	opj_set_default_encoder_parameters(&par);
	par.tcp_numlayers = 1;
	par.tcp_rates[0] = 0; /* lossless */
	par.cp_disto_alloc = 1;
	par.irreversible = 0;
	par.tcp_mct = mct ? 1 : 0;
	par.cp_comment = comment;
	/* at most log2(smallest side) + 1 resolutions */
	while (par.numresolution > 1 &&
	       (1u << (par.numresolution - 1)) > mind)
		par.numresolution--;
	codec = opj_create_compress(OPJ_CODEC_J2K);
	if (!codec)
		goto out;
	opj_set_info_handler(codec, j2k_quiet, NULL);
	opj_set_warning_handler(codec, j2k_quiet, NULL);
	opj_set_error_handler(codec, j2k_quiet, NULL);
	if (!opj_setup_encoder(codec, &par, img))
		goto out;
	/* 0: no worker threads, whatever OPJ_NUM_THREADS says */
	(void)opj_codec_set_threads(codec, 0);
	st = opj_stream_create(1u << 16, OPJ_FALSE);
	if (!st) {
		err = DD_E_NOMEM;
		goto out;
	}
	opj_stream_set_user_data(st, &o, NULL);
	opj_stream_set_write_function(st, j2k_write);
	opj_stream_set_skip_function(st, j2k_skip);
	opj_stream_set_seek_function(st, j2k_seek);
	if (!opj_start_compress(codec, img, st) || !opj_encode(codec, st) ||
	    !opj_end_compress(codec, st) || o.failed) {
		err = o.failed ? DD_E_LIMIT : DD_E_INTERNAL;
		goto out;
	}
	/* the codestream ends at the last byte written (a seek back to fill
	 * in a length leaves pos short of it) */
	o.pos = out->len - o.base;
	if (o.pos & 1) {
		err = dd_buf_addc(out, 0); /* PS3.5 A.4: even fragments */
		if (err != DD_OK)
			goto out;
		o.pos++;
	}
	if (o.pos > 0xfffffffeu) {
		err = DD_E_LIMIT;
		goto out;
	}
	*len = (uint32_t)o.pos;
	err = DD_OK;
out:
	if (st)
		opj_stream_destroy(st);
	if (codec)
		opj_destroy_codec(codec);
	opj_image_destroy(img);
	if (err != DD_OK && out->len > o.base)
		out->len = o.base;
	return err;
}

/* ---- the entry point ------------------------------------------------------ */

dd_err dd_image_encode(const struct dd_image_geom *g, uint32_t frames,
		       const char *xfer_uid, const uint8_t *px, size_t n,
		       struct dd_image_enc *out)
{
	struct dd_image_geom ig = *g; /* colour by pixel */
	size_t fb = dd_image_frame_bytes(g);
	uint8_t *tmp = NULL;
	uint32_t f;
	dd_err err = DD_OK;

	dd_image_enc_free(out);
	dd_image_enc_init(out);
	/* a lossless syntax is its own "same": anything else is not ours */
	const char *to = xfer_uid ? dd_image_same_xfer(xfer_uid, g) : NULL;
	if (!to || strcmp(to, xfer_uid) || !fb || !frames)
		return DD_E_UNSUPPORTED;
	if (n < fb * frames || n > fb * frames + 1)
		return DD_E_INVAL;
	if (!samples_fit(g, xfer_uid, px, fb * frames / (g->bits_alloc / 8)))
		return DD_E_UNSUPPORTED;
	dd_buf_init(&out->frags, ENC_MAX(fb * frames));
	out->frag_len = calloc(frames, sizeof(*out->frag_len));
	if (!out->frag_len)
		return DD_E_NOMEM;
	out->frames = frames;
	snprintf(out->xfer_uid, sizeof(out->xfer_uid), "%s", xfer_uid);
	ig.planar = false;
	if (g->spp == 3 && g->planar) {
		tmp = malloc(fb * frames);
		if (!tmp)
			return DD_E_NOMEM;
		for (f = 0; f < frames; f++)
			interleave(g, px + f * fb, tmp + f * fb);
		px = tmp;
	}
	if (is_j2k(xfer_uid)) {
		/* RGB with the reversible colour transform, said so by the
		 * photometric; YBR_FULL and grey as they are */
		bool mct = g->spp == 3 && g->photo == DD_PHOTO_RGB;

		snprintf(out->photometric, sizeof(out->photometric), "%s",
			 mct ? "YBR_RCT" : dd_photometric_name(g->photo));
		for (f = 0; f < frames && err == DD_OK; f++)
			err = j2k_encode_frame(&ig, mct, px + f * fb,
					       &out->frags, &out->frag_len[f]);
	} else {
		struct dd_bpix_geom bg = {
			.rows = g->rows, .cols = g->cols, .frames = frames,
			.spp = g->spp, .bits_alloc = g->bits_alloc,
			.bits_stored = g->bits_stored, .high_bit = g->high_bit,
			.pixel_rep = g->is_signed ? 1 : 0, .planar = 0,
			.photometric = dd_photometric_name(g->photo),
		};
		err = dd_bridge_pixels_encode(&bg, px, fb * frames, xfer_uid,
					      &out->frags, out->frag_len,
					      out->photometric);
	}
	free(tmp);
	if (err != DD_OK) {
		dd_image_enc_free(out);
		dd_image_enc_init(out);
	}
	return err;
}

dd_err dd_image_encode_same(const struct dd_image_plan *plan,
			    const uint8_t *px, size_t n,
			    struct dd_image_enc *out)
{
	const char *to = dd_image_same_xfer(plan->xfer_uid, &plan->out);

	if (!to)
		return DD_E_UNSUPPORTED;
	return dd_image_encode(&plan->out, plan->frames, to, px, n, out);
}

static dd_err put_item(struct dd_buf *out, uint16_t elem, uint32_t len)
{
	uint8_t h[8] = {0xfe, 0xff, (uint8_t)elem, (uint8_t)(elem >> 8),
			(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			(uint8_t)(len >> 24)};

	return dd_buf_add(out, h, sizeof(h));
}

dd_err dd_image_enc_value(const struct dd_image_enc *e, struct dd_buf *out)
{
	uint64_t off = 0, pos = 0;
	uint32_t f;
	dd_err err;

	if (!e->frames || !e->frag_len || e->frames > 0x3fffffffu)
		return DD_E_INVAL;
	err = put_item(out, 0xe000, 4 * e->frames);
	for (f = 0; f < e->frames && !err; f++) {
		uint8_t b[4] = {(uint8_t)off, (uint8_t)(off >> 8),
				(uint8_t)(off >> 16), (uint8_t)(off >> 24)};

		if (off > 0xffffffffull)
			return DD_E_LIMIT;
		err = dd_buf_add(out, b, 4);
		off += 8 + (uint64_t)e->frag_len[f];
	}
	for (f = 0; f < e->frames && !err; f++) {
		if (pos + e->frag_len[f] > e->frags.len)
			return DD_E_INVAL;
		err = put_item(out, 0xe000, e->frag_len[f]);
		if (!err)
			err = dd_buf_add(out, e->frags.data + pos, e->frag_len[f]);
		pos += e->frag_len[f];
	}
	if (!err)
		err = put_item(out, 0xe0dd, 0);
	return err;
}
