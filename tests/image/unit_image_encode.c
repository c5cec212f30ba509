/* unit_image_encode: the "same" re-encoding (dd_image_encode.c and the
 * bridge's encoders) round trip: frames -> fragments -> a DICOM file
 * written by the engine's writer (dd_bridge_pixels_set_encap) -> decoded
 * by the decoders the engine reads sources with -> the same samples.
 * Also: the transfer syntax map, the Basic Offset Table, one fragment per
 * frame, even fragments, the same bytes twice, and samples the codecs
 * cannot keep refused. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_bridge.h"
#include "dd_image.h"
#include "dd_image_i.h"

#define RLE "1.2.840.10008.1.2.5"
#define JPEG_BASE "1.2.840.10008.1.2.4.50"
#define JPEG_EXT "1.2.840.10008.1.2.4.51"
#define JPEG_P14 "1.2.840.10008.1.2.4.57"
#define JPEG_SV1 "1.2.840.10008.1.2.4.70"
#define JLS "1.2.840.10008.1.2.4.80"
#define JLS_NEAR "1.2.840.10008.1.2.4.81"
#define J2K_LL "1.2.840.10008.1.2.4.90"
#define J2K "1.2.840.10008.1.2.4.91"

static char tmpdir[] = "/tmp/unit_image_encode.XXXXXX";

struct tcase {
	const char *name;
	uint32_t rows, cols, frames;
	uint16_t spp, ba, bs;
	bool sgn, planar;
	enum dd_photometric photo;
	const char *src_xfer, *want_xfer, *want_photo;
};

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* A gradient with noise, a flat "box" and full-range extremes: samples
 * in BitsStored, signed ones sign-extended. */
static void make_frames(const struct tcase *c, uint8_t *p, size_t fb)
{
	uint32_t s = 7 + c->rows * 31 + c->cols, f, y, x, k;
	unsigned bps = c->ba / 8;
	int32_t lo = c->sgn ? -(1 << (c->bs - 1)) : 0;
	int32_t hi = c->sgn ? (1 << (c->bs - 1)) - 1 : (1 << c->bs) - 1;

	for (f = 0; f < c->frames; f++) {
		for (y = 0; y < c->rows; y++) {
			for (x = 0; x < c->cols; x++) {
				for (k = 0; k < c->spp; k++) {
					int32_t v = lo + (int32_t)(((uint64_t)(x + y + 13 * k + 5 * f) *
								    (uint64_t)(hi - lo)) /
								   (c->rows + c->cols + 40));
					v += (int32_t)(lcg(&s) % 9) - 4;
					if (y > c->rows / 3 && y < c->rows / 2 && x > 2 && x < c->cols / 2)
						v = lo; /* a redaction box */
					if (x == 0 && y == 0)
						v = hi;
					if (v < lo)
						v = lo;
					if (v > hi)
						v = hi;
					size_t i;
					if (c->spp == 3 && c->planar)
						i = (size_t)k * c->rows * c->cols + (size_t)y * c->cols + x;
					else
						i = ((size_t)y * c->cols + x) * c->spp + k;
					uint32_t u = (uint32_t)v & (bps == 1 ? 0xffu : 0xffffu);
					uint8_t *q = p + f * fb + i * bps;
					q[0] = (uint8_t)u;
					if (bps == 2)
						q[1] = (uint8_t)(u >> 8);
				}
			}
		}
	}
}

static struct dd_image_geom geom_of(const struct tcase *c)
{
	struct dd_image_geom g = {
		.rows = c->rows, .cols = c->cols, .spp = c->spp,
		.bits_alloc = c->ba, .bits_stored = c->bs,
		.high_bit = (uint16_t)(c->bs - 1), .is_signed = c->sgn,
		.planar = c->planar, .photo = c->photo,
	};
	return g;
}

/* A small native file for the engine's writer to start from. */
static int native_file(const struct tcase *c, const char *path)
{
	struct dd_bgen *g = NULL;
	char v[32];
	uint8_t px[4] = {0, 0, 0, 0};
	int ok = dd_bridge_gen_new(&g) == DD_OK;

	ok = ok && dd_bridge_gen_str(g, "SOPClassUID", NULL,
				     "1.2.840.10008.5.1.4.1.1.7") == DD_OK;
	ok = ok && dd_bridge_gen_str(g, "SOPInstanceUID", NULL, "1.2.3.4") == DD_OK;
	ok = ok && dd_bridge_gen_str(g, "Modality", NULL, "OT") == DD_OK;
	snprintf(v, sizeof(v), "%u", c->rows);
	ok = ok && dd_bridge_gen_str(g, "Rows", NULL, v) == DD_OK;
	snprintf(v, sizeof(v), "%u", c->cols);
	ok = ok && dd_bridge_gen_str(g, "Columns", NULL, v) == DD_OK;
	snprintf(v, sizeof(v), "%u", c->spp);
	ok = ok && dd_bridge_gen_str(g, "SamplesPerPixel", NULL, v) == DD_OK;
	ok = ok && dd_bridge_gen_str(g, "PhotometricInterpretation", NULL,
				     dd_photometric_name(c->photo)) == DD_OK;
	if (c->spp == 3)
		ok = ok && dd_bridge_gen_str(g, "PlanarConfiguration", NULL,
					     c->planar ? "1" : "0") == DD_OK;
	snprintf(v, sizeof(v), "%u", c->ba);
	ok = ok && dd_bridge_gen_str(g, "BitsAllocated", NULL, v) == DD_OK;
	snprintf(v, sizeof(v), "%u", c->bs);
	ok = ok && dd_bridge_gen_str(g, "BitsStored", NULL, v) == DD_OK;
	snprintf(v, sizeof(v), "%u", c->bs - 1);
	ok = ok && dd_bridge_gen_str(g, "HighBit", NULL, v) == DD_OK;
	ok = ok && dd_bridge_gen_str(g, "PixelRepresentation", NULL,
				     c->sgn ? "1" : "0") == DD_OK;
	if (c->frames > 1) {
		snprintf(v, sizeof(v), "%u", c->frames);
		ok = ok && dd_bridge_gen_str(g, "NumberOfFrames", NULL, v) == DD_OK;
	}
	/* a placeholder value: set_encap replaces it */
	ok = ok && dd_bridge_gen_bytes(g, "PixelData", "OB", px, 4) == DD_OK;
	ok = ok && dd_bridge_gen_save(g, path, DD_BGEN_EXPLICIT_LE, 0) == DD_OK;
	dd_bridge_gen_free(g);
	return ok;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* PS3.5 A.4 in the written file: PixelData OB of undefined length, a
 * Basic Offset Table whose offsets point at each frame's item, one item
 * per frame of the fragment's length, the sequence delimiter. */
static void check_layout(const struct tcase *c, const struct dd_buf *file,
			 const struct dd_image_enc *e)
{
	static const uint8_t pd[] = {0xe0, 0x7f, 0x10, 0x00, 'O', 'B', 0, 0,
				     0xff, 0xff, 0xff, 0xff};
	static const uint8_t item[] = {0xfe, 0xff, 0x00, 0xe0};
	static const uint8_t delim[] = {0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0};
	const uint8_t *p = NULL, *bot, *first;
	size_t i, pos;

	for (i = 0; i + sizeof(pd) <= file->len; i++)
		if (!memcmp(file->data + i, pd, sizeof(pd)))
			p = file->data + i + sizeof(pd);
	EXPECT(p != NULL);
	if (!p)
		return;
	EXPECT(!memcmp(p, item, 4));
	EXPECT_EQ_INT(le32(p + 4), 4 * c->frames);
	bot = p + 8;
	first = bot + 4 * c->frames;
	pos = 0;
	for (i = 0; i < c->frames; i++) {
		EXPECT_EQ_INT(le32(bot + 4 * i), pos);
		EXPECT(!memcmp(first + pos, item, 4));
		EXPECT_EQ_INT(le32(first + pos + 4), e->frag_len[i]);
		EXPECT_EQ_INT(e->frag_len[i] & 1, 0);
		pos += 8 + e->frag_len[i];
	}
	EXPECT(!memcmp(first + pos, delim, sizeof(delim)));
	EXPECT_EQ_INT((size_t)(first + pos + sizeof(delim) - file->data),
		      file->len);
	/* dd_image_enc_value() makes exactly the value dcmtk wrote */
	struct dd_buf v;
	dd_buf_init(&v, 1u << 28);
	EXPECT_EQ_INT(dd_image_enc_value(e, &v), DD_OK);
	EXPECT_EQ_INT(v.len, (size_t)(first + pos + sizeof(delim) - p));
	EXPECT(v.len && !memcmp(v.data, p, v.len));
	dd_buf_free(&v);
}

static void round_trip(const struct tcase *c)
{
	struct dd_image_geom g = geom_of(c);
	size_t fb = dd_image_frame_bytes(&g), n = fb * c->frames;
	uint8_t *px = calloc(1, n + 1), *il = malloc(n + 1), *dec = malloc(fb);
	struct dd_image_enc e, e2;
	struct dd_bfile *bf = NULL;
	struct dd_bfile_info bi;
	struct dd_bpix *bp = NULL;
	struct dd_bpix_info pi;
	struct dd_buf file, raw;
	char path[256], out[256], photo[17];
	const char *to;
	uint16_t planar;
	int fd;
	uint32_t f;

	fprintf(stderr, "case %s\n", c->name);
	dd_image_enc_init(&e);
	dd_image_enc_init(&e2);
	dd_buf_init(&file, 1u << 28);
	dd_buf_init(&raw, 1u << 28);
	make_frames(c, px, fb);
	/* the frames colour by pixel, as every decoder here returns them */
	struct tcase ci = *c;
	ci.planar = false;
	make_frames(&ci, il, fb);

	to = dd_image_same_xfer(c->src_xfer, &g);
	if (!c->want_xfer) {
		EXPECT(to == NULL);
		goto out;
	}
	EXPECT_EQ_STR(to, c->want_xfer);
	if (!to)
		goto out;
	EXPECT_EQ_INT(dd_image_encode(&g, c->frames, to, px, n + (n & 1), &e),
		      DD_OK);
	EXPECT_EQ_INT(e.frames, c->frames);
	EXPECT_EQ_STR(e.photometric, c->want_photo);
	EXPECT_EQ_INT(e.planar, 0);
	/* the same bytes again */
	EXPECT_EQ_INT(dd_image_encode(&g, c->frames, to, px, n, &e2), DD_OK);
	EXPECT(e.frags.len == e2.frags.len &&
	       !memcmp(e.frags.data, e2.frags.data, e.frags.len));
	EXPECT(!memcmp(e.frag_len, e2.frag_len, c->frames * sizeof(uint32_t)));

	snprintf(path, sizeof(path), "%s/%s.native.dcm", tmpdir, c->name);
	snprintf(out, sizeof(out), "%s/%s.dcm", tmpdir, c->name);
	EXPECT(native_file(c, path));
	fd = open(path, O_RDONLY);
	EXPECT(fd >= 0);
	EXPECT_EQ_INT(dd_bridge_file_load_fd(fd, &bf, &bi), DD_OK);
	EXPECT_EQ_INT(dd_bridge_pixels_set_encap(bf, e.xfer_uid, e.frags.data,
						 e.frag_len, e.frames,
						 e.photometric, e.planar),
		      DD_OK);
	EXPECT_EQ_INT(dd_bridge_write_full(bf, 1u << 28, &file), DD_OK);
	dd_bridge_file_free(bf);
	close(fd);
	check_layout(c, &file, &e);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	EXPECT(fd >= 0 && write(fd, file.data, file.len) == (ssize_t)file.len);
	close(fd);

	/* decoded by the engine's own decoders: the same samples */
	fd = open(out, O_RDONLY);
	EXPECT_EQ_INT(dd_bridge_pixels_open(fd, &bp, &pi), DD_OK);
	if (!bp) {
		close(fd);
		goto out;
	}
	EXPECT_EQ_STR(pi.xfer_uid, c->want_xfer);
	EXPECT_EQ_STR(pi.photometric, c->want_photo);
	EXPECT_EQ_INT(pi.n_fragments, c->frames + 1);
	EXPECT_EQ_INT(pi.frames, c->frames);
	for (f = 0; f < c->frames; f++) {
		struct dd_image_geom dg = g;
		bool mct;

		dg.planar = false;
		memset(dec, 0xa5, fb);
		if (pi.codec == DD_BPIX_J2K) {
			dd_buf_reset(&raw);
			EXPECT_EQ_INT(dd_bridge_pixels_frame_raw(bp, f, &raw), DD_OK);
			EXPECT_EQ_INT(dd_image_j2k_decode(raw.data, raw.len, &dg,
							  dec, fb, &mct), DD_OK);
		} else {
			EXPECT_EQ_INT(dd_bridge_pixels_frame(bp, f, dec, fb, photo,
							     &planar), DD_OK);
			EXPECT_EQ_INT(planar, 0);
		}
		if (memcmp(dec, il + f * fb, fb)) {
			size_t k = 0;
			while (k < fb && dec[k] == il[f * fb + k])
				k++;
			fprintf(stderr, "  frame %u differs at byte %zu\n", f, k);
		}
		EXPECT(!memcmp(dec, il + f * fb, fb));
	}
	dd_bridge_pixels_close(bp);
	close(fd);
out:
	dd_image_enc_free(&e);
	dd_image_enc_free(&e2);
	dd_buf_free(&file);
	dd_buf_free(&raw);
	free(px);
	free(il);
	free(dec);
}

static const struct tcase cases[] = {
	/* name, rows, cols, frames, spp, ba, bs, signed, planar, photo,
	 * source syntax, output syntax, output photometric */
	{"rle_mono8_odd", 37, 51, 3, 1, 8, 8, false, false,
	 DD_PHOTO_MONOCHROME2, RLE, RLE, "MONOCHROME2"},
	{"rle_rgb_planar", 40, 30, 2, 3, 8, 8, false, true, DD_PHOTO_RGB,
	 RLE, RLE, "RGB"},
	{"rle_mono16_signed", 33, 20, 1, 1, 16, 12, true, false,
	 DD_PHOTO_MONOCHROME2, RLE, RLE, "MONOCHROME2"},
	{"jpegll_mono12", 64, 48, 2, 1, 16, 12, false, false,
	 DD_PHOTO_MONOCHROME2, JPEG_SV1, JPEG_SV1, "MONOCHROME2"},
	{"jpegp14_mono16", 31, 17, 1, 1, 16, 16, false, false,
	 DD_PHOTO_MONOCHROME1, JPEG_P14, JPEG_P14, "MONOCHROME1"},
	{"jpeg_base_rgb", 48, 64, 1, 3, 8, 8, false, false, DD_PHOTO_RGB,
	 JPEG_BASE, JPEG_SV1, "RGB"},
	{"jpeg_ext_mono12", 30, 40, 1, 1, 16, 12, false, false,
	 DD_PHOTO_MONOCHROME2, JPEG_EXT, JPEG_SV1, "MONOCHROME2"},
	{"jls_mono16_signed", 50, 41, 2, 1, 16, 16, true, false,
	 DD_PHOTO_MONOCHROME2, JLS, JLS, "MONOCHROME2"},
	{"jls_near_rgb", 32, 32, 1, 3, 8, 8, false, true, DD_PHOTO_RGB,
	 JLS_NEAR, JLS, "RGB"},
	{"j2k_mono16_signed", 45, 70, 2, 1, 16, 16, true, false,
	 DD_PHOTO_MONOCHROME2, J2K_LL, J2K_LL, "MONOCHROME2"},
	{"j2k_lossy_rgb", 60, 50, 1, 3, 8, 8, false, false, DD_PHOTO_RGB, J2K,
	 J2K_LL, "YBR_RCT"},
	{"j2k_tiny_mono12", 5, 7, 1, 1, 16, 12, false, false,
	 DD_PHOTO_MONOCHROME2, J2K, J2K_LL, "MONOCHROME2"},
	{"j2k_ybr_full", 16, 24, 1, 3, 8, 8, false, false, DD_PHOTO_YBR_FULL,
	 J2K_LL, J2K_LL, "YBR_FULL"},
	/* edges: one pixel, one row, one column, 2 stored bits, 9 of 16,
	 * 16-bit colour */
	{"rle_1x1", 1, 1, 1, 1, 8, 8, false, false, DD_PHOTO_MONOCHROME2, RLE,
	 RLE, "MONOCHROME2"},
	{"jpegll_1x1", 1, 1, 1, 1, 16, 12, false, false, DD_PHOTO_MONOCHROME2,
	 JPEG_SV1, JPEG_SV1, "MONOCHROME2"},
	{"jls_1x1", 1, 1, 1, 1, 8, 8, false, false, DD_PHOTO_MONOCHROME2, JLS,
	 JLS, "MONOCHROME2"},
	{"j2k_1x1", 1, 1, 1, 1, 8, 8, false, false, DD_PHOTO_MONOCHROME2,
	 J2K_LL, J2K_LL, "MONOCHROME2"},
	{"jpegll_row", 1, 77, 2, 3, 8, 8, false, false, DD_PHOTO_RGB, JPEG_SV1,
	 JPEG_SV1, "RGB"},
	{"jls_col", 77, 1, 1, 1, 16, 9, false, false, DD_PHOTO_MONOCHROME2,
	 JLS, JLS, "MONOCHROME2"},
	{"j2k_row_rgb", 1, 66, 1, 3, 8, 8, false, false, DD_PHOTO_RGB, J2K_LL,
	 J2K_LL, "YBR_RCT"},
	{"rle_col_bits2", 65, 1, 1, 1, 8, 2, false, false,
	 DD_PHOTO_MONOCHROME2, RLE, RLE, "MONOCHROME2"},
	{"jpegll_bits2", 9, 13, 1, 1, 8, 2, false, false,
	 DD_PHOTO_MONOCHROME2, JPEG_SV1, JPEG_SV1, "MONOCHROME2"},
	{"jls_bits2", 9, 13, 1, 1, 8, 2, false, false, DD_PHOTO_MONOCHROME2,
	 JLS, JLS, "MONOCHROME2"},
	{"j2k_bits2", 9, 13, 1, 1, 8, 2, false, false, DD_PHOTO_MONOCHROME2,
	 J2K_LL, J2K_LL, "MONOCHROME2"},
	{"jpegll_rgb16", 20, 24, 1, 3, 16, 16, false, false, DD_PHOTO_RGB,
	 JPEG_SV1, JPEG_SV1, "RGB"},
	{"jls_rgb16", 20, 24, 1, 3, 16, 12, false, false, DD_PHOTO_RGB, JLS,
	 JLS, "RGB"},
	{"rle_rgb16_planar", 20, 24, 2, 3, 16, 16, false, true, DD_PHOTO_RGB,
	 RLE, RLE, "RGB"},
	{"j2k_rgb16", 20, 24, 1, 3, 16, 16, false, false, DD_PHOTO_RGB, J2K_LL,
	 J2K_LL, "YBR_RCT"},
	/* no encoder: Explicit VR Little Endian */
	{"mpeg2", 16, 16, 1, 1, 8, 8, false, false, DD_PHOTO_MONOCHROME2,
	 "1.2.840.10008.1.2.4.100", NULL, NULL},
	{"htj2k", 16, 16, 1, 1, 8, 8, false, false, DD_PHOTO_MONOCHROME2,
	 "1.2.840.10008.1.2.4.201", NULL, NULL},
	{"jpeg_ybr_full", 16, 16, 1, 3, 8, 8, false, false, DD_PHOTO_YBR_FULL,
	 JPEG_BASE, NULL, NULL},
};

/* Samples the codecs cannot keep are refused (the engine then writes
 * Explicit VR Little Endian); 32-bit has no encoder here. */
static void test_refused(void)
{
	struct dd_image_geom g = {
		.rows = 4, .cols = 4, .spp = 1, .bits_alloc = 16,
		.bits_stored = 12, .high_bit = 11,
		.photo = DD_PHOTO_MONOCHROME2,
	};
	uint8_t px[32];
	struct dd_image_enc e;

	dd_image_enc_init(&e);
	memset(px, 0, sizeof(px));
	px[5] = 0x10; /* bit 12 of sample 2 */
	EXPECT_EQ_INT(dd_image_encode(&g, 1, JPEG_SV1, px, sizeof(px), &e),
		      DD_E_UNSUPPORTED);
	EXPECT_EQ_INT(dd_image_encode(&g, 1, J2K_LL, px, sizeof(px), &e),
		      DD_E_UNSUPPORTED);
	/* signed: the sign extension is fine, other high bits are not */
	g.is_signed = true;
	px[4] = 0x00;
	px[5] = 0xf8; /* -2048 */
	EXPECT_EQ_INT(dd_image_encode(&g, 1, J2K_LL, px, sizeof(px), &e), DD_OK);
	px[5] = 0x08; /* bit 11 set, no extension */
	EXPECT_EQ_INT(dd_image_encode(&g, 1, J2K_LL, px, sizeof(px), &e),
		      DD_E_UNSUPPORTED);
	/* JPEG-LS takes the stored bits only: a sign extension is refused
	 * (CharLS would assert), the bare 12 bits are fine */
	px[5] = 0xf8;
	EXPECT_EQ_INT(dd_image_encode(&g, 1, JLS, px, sizeof(px), &e),
		      DD_E_UNSUPPORTED);
	EXPECT_EQ_INT(dd_image_encode(&g, 1, JPEG_SV1, px, sizeof(px), &e),
		      DD_E_UNSUPPORTED);
	px[5] = 0x08;
	EXPECT_EQ_INT(dd_image_encode(&g, 1, JLS, px, sizeof(px), &e), DD_OK);
	/* RLE keeps every bit */
	px[5] = 0x58;
	EXPECT_EQ_INT(dd_image_encode(&g, 1, RLE, px, sizeof(px), &e), DD_OK);
	/* a lossy syntax is not an output */
	EXPECT_EQ_INT(dd_image_encode(&g, 1, JPEG_BASE, px, sizeof(px), &e),
		      DD_E_UNSUPPORTED);
	/* 32-bit, HighBit not at the top of the stored bits */
	g.is_signed = false;
	g.bits_alloc = 32;
	g.bits_stored = 32;
	g.high_bit = 31;
	EXPECT(dd_image_same_xfer(RLE, &g) == NULL);
	g.bits_alloc = 16;
	g.bits_stored = 12;
	g.high_bit = 15;
	EXPECT(dd_image_same_xfer(RLE, &g) == NULL);
	dd_image_enc_free(&e);
}

/* Random geometries through every encoder (a fixed seed): the same
 * samples back, never an abort (CharLS asserts on bad input). */
static void test_random(void)
{
	static const char *const xf[] = {RLE, JPEG_SV1, JPEG_P14, JLS, J2K_LL};
	uint32_t seed = 12345, i;
	char name[64];

	for (i = 0; i < 60; i++) {
		struct tcase c;

		memset(&c, 0, sizeof(c));
		c.rows = 1 + lcg(&seed) % 40;
		c.cols = 1 + lcg(&seed) % 40;
		c.frames = 1 + lcg(&seed) % 3;
		c.spp = lcg(&seed) % 3 ? 1 : 3;
		c.ba = lcg(&seed) % 2 ? 16 : 8;
		c.bs = (uint16_t)(2 + lcg(&seed) % (c.ba - 1));
		c.src_xfer = c.want_xfer = xf[lcg(&seed) % 5];
		/* JPEG and JPEG-LS refuse sign-extended samples (test_refused) */
		c.sgn = c.spp == 1 && lcg(&seed) % 2 &&
			(c.bs == c.ba || !strcmp(c.src_xfer, RLE) ||
			 !strcmp(c.src_xfer, J2K_LL));
		c.planar = c.spp == 3 && lcg(&seed) % 2;
		c.photo = c.spp == 3 ? DD_PHOTO_RGB
			  : lcg(&seed) % 2 ? DD_PHOTO_MONOCHROME1
					   : DD_PHOTO_MONOCHROME2;
		c.want_photo = c.spp == 3 && !strcmp(c.src_xfer, J2K_LL)
				       ? "YBR_RCT"
				       : dd_photometric_name(c.photo);
		snprintf(name, sizeof(name), "random%u", i);
		c.name = name;
		round_trip(&c);
	}
}

int main(void)
{
	size_t i;

	if (!mkdtemp(tmpdir) || dd_bridge_init() != DD_OK) {
		fprintf(stderr, "unit_image_encode: set-up failed\n");
		return 1;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		round_trip(&cases[i]);
	test_refused();
	test_random();
	int rc = dd_test_done("unit_image_encode");
	if (!rc) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return rc;
}
