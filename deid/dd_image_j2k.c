/* dd_image_j2k.c: JPEG 2000 frames with OpenJPEG (dcmtk 3.6.7 has no J2K
 * codec).  The codestream comes from the frame's fragments; a JP2 file
 * wrapper (some writers add one) is recognised by its signature box. */
#include <string.h>

#include <openjpeg.h>

#include "dd_image_i.h"

struct j2k_mem {
	const uint8_t *p;
	size_t n, off;
};

static OPJ_SIZE_T j2k_read(void *buf, OPJ_SIZE_T n, void *user)
{
	struct j2k_mem *m = user;
	size_t left = m->n - m->off;

	if (left == 0)
		return (OPJ_SIZE_T)-1;
	if (n > left)
		n = left;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return n;
}

static OPJ_OFF_T j2k_skip(OPJ_OFF_T n, void *user)
{
	struct j2k_mem *m = user;

	if (n < 0 || (size_t)n > m->n - m->off)
		return -1;
	m->off += (size_t)n;
	return n;
}

static OPJ_BOOL j2k_seek(OPJ_OFF_T n, void *user)
{
	struct j2k_mem *m = user;

	if (n < 0 || (size_t)n > m->n)
		return OPJ_FALSE;
	m->off = (size_t)n;
	return OPJ_TRUE;
}

static void j2k_quiet(const char *msg, void *data)
{
	(void)msg;
	(void)data;
}

dd_err dd_image_j2k_decode(const uint8_t *p, size_t n,
			   const struct dd_image_geom *g, uint8_t *out,
			   size_t len, bool *mct)
{
	struct j2k_mem m = {p, n, 0};
	opj_dparameters_t par;
	opj_codec_t *codec = NULL;
	opj_stream_t *st = NULL;
	opj_image_t *img = NULL;
	dd_err err = DD_E_PARSE;
	uint32_t c, x, y;
	bool jp2 = n >= 12 && memcmp(p + 4, "jP  ", 4) == 0;

	*mct = false;
	if (n < 4 || len != dd_image_frame_bytes(g))
		return DD_E_PARSE;
	codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
	if (!codec)
		return DD_E_NOMEM;
	opj_set_info_handler(codec, j2k_quiet, NULL);
	opj_set_warning_handler(codec, j2k_quiet, NULL);
	opj_set_error_handler(codec, j2k_quiet, NULL);
	opj_set_default_decoder_parameters(&par);
	if (!opj_setup_decoder(codec, &par))
		goto out;
	st = opj_stream_default_create(OPJ_TRUE);
	if (!st) {
		err = DD_E_NOMEM;
		goto out;
	}
	opj_stream_set_user_data(st, &m, NULL);
	opj_stream_set_user_data_length(st, n);
	opj_stream_set_read_function(st, j2k_read);
	opj_stream_set_skip_function(st, j2k_skip);
	opj_stream_set_seek_function(st, j2k_seek);
	if (!opj_read_header(st, codec, &img) || !img)
		goto out;
	if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st))
		goto out;
	if (img->numcomps < g->spp)
		goto out;
	for (c = 0; c < g->spp; c++) {
		const opj_image_comp_t *cp = &img->comps[c];
		if (cp->w != g->cols || cp->h != g->rows || !cp->data ||
		    cp->dx != 1 || cp->dy != 1)
			goto out;
	}
	*mct = g->spp == 3 && img->color_space != OPJ_CLRSPC_SYCC;
	/* samples as the DICOM native layout, colour by pixel */
	for (y = 0; y < g->rows; y++) {
		for (x = 0; x < g->cols; x++) {
			size_t px = (size_t)y * g->cols + x;
			for (c = 0; c < g->spp; c++) {
				int32_t v = img->comps[c].data[px];
				size_t k = px * g->spp + c;
				if (g->bits_alloc == 8) {
					out[k] = (uint8_t)v;
				} else if (g->bits_alloc == 32) {
					uint32_t u = (uint32_t)v;
					out[4 * k] = (uint8_t)u;
					out[4 * k + 1] = (uint8_t)(u >> 8);
					out[4 * k + 2] = (uint8_t)(u >> 16);
					out[4 * k + 3] = (uint8_t)(u >> 24);
				} else {
					uint16_t u = (uint16_t)v;
					out[2 * k] = (uint8_t)u;
					out[2 * k + 1] = (uint8_t)(u >> 8);
				}
			}
		}
	}
	err = DD_OK;
out:
	if (img)
		opj_image_destroy(img);
	if (st)
		opj_stream_destroy(st);
	opj_destroy_codec(codec);
	return err;
}
