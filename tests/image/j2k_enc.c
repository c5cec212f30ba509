/* j2k_enc: raw samples -> a lossless JPEG 2000 codestream (OpenJPEG), for
 * the image test generator (Debian's opj_compress is in another package).
 *   j2k_enc W H SPP BITS_ALLOC BITS_STORED SIGNED IN.raw OUT.j2k
 * IN.raw: W*H*SPP samples, little-endian for 16 bits, colour by pixel.
 * Colour images use the reversible colour transform (YBR_RCT). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

int main(int argc, char **argv)
{
	opj_cparameters_t par;
	opj_image_cmptparm_t cp[3];
	opj_image_t *img;
	opj_codec_t *codec;
	opj_stream_t *st;
	int w, h, spp, ba, bs, sg, c;
	size_t n, i;
	FILE *f;
	unsigned char *raw;

	if (argc != 9)
		return fprintf(stderr, "usage: j2k_enc W H SPP BA BS SIGNED IN OUT\n"), 1;
	w = atoi(argv[1]);
	h = atoi(argv[2]);
	spp = atoi(argv[3]);
	ba = atoi(argv[4]);
	bs = atoi(argv[5]);
	sg = atoi(argv[6]);
	if (w <= 0 || h <= 0 || (spp != 1 && spp != 3) || (ba != 8 && ba != 16))
		return 1;
	n = (size_t)w * h * spp * (ba / 8);
	raw = malloc(n);
	f = fopen(argv[7], "rb");
	if (!raw || !f || fread(raw, 1, n, f) != n)
		return 1;
	fclose(f);
	memset(cp, 0, sizeof(cp));
	for (c = 0; c < spp; c++) {
		cp[c].dx = cp[c].dy = 1;
		cp[c].w = (OPJ_UINT32)w;
		cp[c].h = (OPJ_UINT32)h;
		cp[c].prec = (OPJ_UINT32)bs;
		cp[c].sgnd = (OPJ_UINT32)sg;
	}
	img = opj_image_create((OPJ_UINT32)spp, cp,
			       spp == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
	if (!img)
		return 1;
	img->x1 = (OPJ_UINT32)w;
	img->y1 = (OPJ_UINT32)h;
	for (i = 0; i < (size_t)w * h; i++) {
		for (c = 0; c < spp; c++) {
			size_t k = i * spp + c;
			int v;
			if (ba == 8)
				v = sg ? (signed char)raw[k] : raw[k];
			else {
				unsigned u = raw[2 * k] | raw[2 * k + 1] << 8;
				v = sg ? (short)u : (int)u;
			}
			img->comps[c].data[i] = v;
		}
	}
	opj_set_default_encoder_parameters(&par);
	par.tcp_numlayers = 1;
	par.tcp_rates[0] = 0; /* lossless */
	par.cp_disto_alloc = 1;
	par.irreversible = 0;
	par.tcp_mct = spp == 3 ? 1 : 0;
	codec = opj_create_compress(OPJ_CODEC_J2K);
	if (!codec || !opj_setup_encoder(codec, &par, img))
		return 1;
	st = opj_stream_create_default_file_stream(argv[8], OPJ_FALSE);
	if (!st || !opj_start_compress(codec, img, st) ||
	    !opj_encode(codec, st) || !opj_end_compress(codec, st))
		return 1;
	opj_stream_destroy(st);
	opj_destroy_codec(codec);
	opj_image_destroy(img);
	free(raw);
	return 0;
}
