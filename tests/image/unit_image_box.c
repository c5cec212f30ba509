/* unit_image_box: box lists, their cache codec, native runs and frame fill,
 * and the pre-pass on a synthetic frame (pure functions, no OCR). */
#include <stdlib.h>
#include <string.h>

#include "../unit/dd_test.h"
#include "dd_image.h"
#include "dd_prepass.h"

static void test_codec(void)
{
	struct dd_boxes b, c;
	struct dd_buf buf;
	struct dd_box x = {10, 20, 30, 40}, y = {0, 0, 5, 5}, in = {12, 22, 3, 3};

	dd_boxes_init(&b);
	dd_boxes_init(&c);
	dd_buf_init(&buf, 1 << 20);
	EXPECT_EQ_INT(dd_boxes_add(&b, x), DD_OK);
	EXPECT_EQ_INT(dd_boxes_add(&b, y), DD_OK);
	EXPECT_EQ_INT(dd_boxes_add(&b, in), DD_OK);
	EXPECT_EQ_INT(dd_boxes_add(&b, x), DD_OK);
	dd_boxes_normalize(&b, 100, 100);
	EXPECT_EQ_INT(b.n, 2);
	EXPECT_EQ_INT(b.v[0].x, 0);
	EXPECT_EQ_INT(b.v[1].x, 10);
	EXPECT_EQ_INT(dd_boxes_encode(&b, &buf), DD_OK);
	EXPECT_EQ_INT(buf.len, 16 + 2 * 16);
	EXPECT_EQ_INT(dd_boxes_decode(buf.data, buf.len, &c), DD_OK);
	EXPECT_EQ_INT(c.n, 2);
	EXPECT(memcmp(c.v, b.v, 2 * sizeof(*b.v)) == 0);
	/* every single-byte corruption is caught */
	for (size_t i = 0; i < buf.len; i++) {
		buf.data[i] ^= 0x40;
		EXPECT_EQ_INT(dd_boxes_decode(buf.data, buf.len, &c), DD_E_CORRUPT);
		EXPECT_EQ_INT(c.n, 0);
		buf.data[i] ^= 0x40;
	}
	EXPECT_EQ_INT(dd_boxes_decode(buf.data, buf.len - 1, &c), DD_E_CORRUPT);
	/* clipping */
	struct dd_box big = {90, 90, 50, 50};
	dd_boxes_add(&b, big);
	dd_boxes_normalize(&b, 100, 100);
	EXPECT_EQ_INT(b.v[b.n - 1].w, 10);
	dd_buf_free(&buf);
	dd_boxes_free(&b);
	dd_boxes_free(&c);
}

static void test_fill(void)
{
	struct dd_image_geom g = {.rows = 4, .cols = 6, .spp = 1, .bits_alloc = 16,
				  .bits_stored = 12, .high_bit = 11,
				  .photo = DD_PHOTO_MONOCHROME2};
	uint8_t f[4 * 6 * 2];
	uint32_t fill[3] = {0x0123, 0, 0};
	struct dd_boxes b;
	struct dd_box x = {1, 1, 2, 2};
	size_t i;

	memset(f, 0xff, sizeof(f));
	dd_boxes_init(&b);
	dd_boxes_add(&b, x);
	dd_image_frame_fill(&g, f, &b, fill);
	for (i = 0; i < 24; i++) {
		unsigned y = i / 6, xx = i % 6;
		unsigned v = f[2 * i] | f[2 * i + 1] << 8;
		bool in = y >= 1 && y < 3 && xx >= 1 && xx < 3;
		EXPECT_EQ_INT(v, in ? 0x0123 : 0xffff);
	}
	/* the same boxes as runs of a 2-frame native value */
	struct dd_image_plan p;
	struct dd_image_run *runs;
	size_t n;
	dd_image_plan_init(&p);
	p.src = p.out = g;
	p.frames = 2;
	p.out_kind = DD_IMAGE_OUT_NATIVE_PATCH;
	p.fill[0] = 0x0123;
	p.big_endian = true;
	EXPECT_EQ_INT(dd_image_native_runs(&p, &b, &runs, &n), DD_OK);
	EXPECT_EQ_INT(n, 4);
	EXPECT_EQ_INT(runs[0].off, (6 + 1) * 2);
	EXPECT_EQ_INT(runs[0].len, 4);
	EXPECT_EQ_INT(runs[0].pat[0], 0x01); /* big endian */
	EXPECT_EQ_INT(runs[2].off, 48 + (6 + 1) * 2);
	free(runs);
	dd_boxes_free(&b);
}

/* A frame with a row of block "characters" in a corner, and a smooth
 * gradient elsewhere: one region, around the characters. */
static void test_prepass(void)
{
	struct dd_image_geom g = {.rows = 256, .cols = 256, .spp = 1, .bits_alloc = 8,
				  .bits_stored = 8, .high_bit = 7,
				  .photo = DD_PHOTO_MONOCHROME2};
	uint8_t *f = malloc(256 * 256);
	struct dd_prepass_result r;
	struct dd_prepass_opts o = {false};
	unsigned x, y, k;

	for (y = 0; y < 256; y++)
		for (x = 0; x < 256; x++)
			f[y * 256 + x] = (uint8_t)((x + y) / 8);
	for (k = 0; k < 6; k++) /* 6 glyphs 8x12, hollow */
		for (y = 10; y < 22; y++)
			for (x = 10 + k * 11; x < 18 + k * 11; x++)
				if (y < 12 || y > 19 || x < 12 + k * 11 || x > 15 + k * 11)
					f[y * 256 + x] = 250;
	dd_prepass_result_init(&r);
	EXPECT_EQ_INT(dd_prepass_frame(&g, f, &o, &r), DD_OK);
	EXPECT_EQ_INT(r.n, 1);
	if (r.n) {
		EXPECT(r.v[0].box.x <= 10 && r.v[0].box.y <= 10);
		EXPECT(r.v[0].box.x + r.v[0].box.w >= 73);
		EXPECT(r.v[0].box.y + r.v[0].box.h >= 22);
	}
	/* no text: nothing */
	for (y = 0; y < 256; y++)
		for (x = 0; x < 256; x++)
			f[y * 256 + x] = (uint8_t)((x * y) / 256);
	EXPECT_EQ_INT(dd_prepass_frame(&g, f, &o, &r), DD_OK);
	EXPECT_EQ_INT(r.n, 0);
	dd_prepass_result_free(&r);
	free(f);
}

/* YBR_FULL_422 (Y1 Y2 Cb Cr per pixel pair): a box from odd x to odd end
 * covers whole pairs, Y := fill, Cb Cr := 128, nothing else changes; the
 * runs of a native value are the same bytes; the grey is Y. */
static void test_ybr422(void)
{
	struct dd_image_geom g = {.rows = 3, .cols = 8, .spp = 3, .bits_alloc = 8,
				  .bits_stored = 8, .high_bit = 7,
				  .photo = DD_PHOTO_YBR_FULL_422};
	uint8_t f[3 * 8 * 2], ref[sizeof(f)];
	uint32_t fill[3] = {0, 128, 128};
	struct dd_boxes b;
	struct dd_box x = {1, 1, 4, 1}; /* pixels 1..4: pairs 0, 1, 2 */
	uint16_t lum[8];
	size_t i;

	EXPECT_EQ_INT(dd_image_frame_bytes(&g), sizeof(f));
	for (i = 0; i < sizeof(f); i++)
		f[i] = (uint8_t)(i * 7 + 3);
	memcpy(ref, f, sizeof(f));
	dd_prepass_row_luma(&g, f, 1, 0, 8, lum);
	for (i = 0; i < 8; i++) /* row 1 starts at byte 16 */
		EXPECT_EQ_INT(lum[i], f[16 + (i & ~1u) * 2 + (i & 1u)]);
	dd_prepass_row_luma(&g, f, 2, 3, 2, lum); /* x 3, 4: mid-pair start */
	EXPECT_EQ_INT(lum[0], f[32 + 2 * 2 + 1]);
	EXPECT_EQ_INT(lum[1], f[32 + 4 * 2]);
	dd_boxes_init(&b);
	dd_boxes_add(&b, x);
	dd_image_frame_fill(&g, f, &b, fill);
	for (i = 0; i < sizeof(f); i++) {
		bool in = i >= 16 && i < 16 + 12; /* row 1, pairs 0..2 */
		uint8_t want = !in ? ref[i] : (i % 4 < 2 ? 0 : 128);
		EXPECT_EQ_INT(f[i], want);
	}
	struct dd_image_plan p;
	struct dd_image_run *runs;
	size_t n;
	dd_image_plan_init(&p);
	p.src = p.out = g;
	p.frames = 2;
	p.out_kind = DD_IMAGE_OUT_NATIVE_PATCH;
	memcpy(p.fill, fill, sizeof(fill));
	EXPECT_EQ_INT(dd_image_native_runs(&p, &b, &runs, &n), DD_OK);
	EXPECT_EQ_INT(n, 2);
	EXPECT_EQ_INT(runs[0].off, 16);
	EXPECT_EQ_INT(runs[0].len, 12);
	EXPECT_EQ_INT(runs[0].pat_len, 4);
	EXPECT_EQ_INT(runs[1].off, sizeof(f) + 16);
	uint8_t two[2 * sizeof(f)];
	memcpy(two, ref, sizeof(f));
	memcpy(two + sizeof(f), ref, sizeof(f));
	dd_image_runs_apply(runs, n, 0, two, sizeof(two));
	EXPECT(memcmp(two, f, sizeof(f)) == 0);
	EXPECT(memcmp(two + sizeof(f), f, sizeof(f)) == 0);
	free(runs);
	/* odd columns: not a valid 422 layout for the pre-pass */
	g.cols = 7;
	struct dd_prepass_result r;
	struct dd_prepass_opts o = {false};
	dd_prepass_result_init(&r);
	EXPECT_EQ_INT(dd_prepass_frame(&g, f, &o, &r), DD_E_UNSUPPORTED);
	dd_prepass_result_free(&r);
	dd_boxes_free(&b);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* 32-bit samples: grey from the top stored bits, 12-byte RGB fill. */
static void test_32bit(void)
{
	struct dd_image_geom g = {.rows = 2, .cols = 4, .spp = 3, .bits_alloc = 32,
				  .bits_stored = 32, .high_bit = 31,
				  .photo = DD_PHOTO_RGB};
	uint8_t f[2 * 4 * 3 * 4];
	uint32_t fill[3] = {0, 0, 0};
	uint16_t lum[4];
	struct dd_boxes b;
	struct dd_box x = {1, 0, 2, 1};
	size_t i;

	EXPECT_EQ_INT(dd_image_frame_bytes(&g), sizeof(f));
	for (i = 0; i < 24; i++)
		put32(f + 4 * i, (uint32_t)i * 0x0b000000u + 0x00fedcbau);
	dd_prepass_row_luma(&g, f, 1, 0, 4, lum);
	for (i = 0; i < 4; i++) {
		uint32_t k = (uint32_t)(12 + 3 * i), r = k * 11, gg = (k + 1) * 11,
			 bl = (k + 2) * 11;
		EXPECT_EQ_INT(lum[i], (77 * r + 150 * gg + 29 * bl) >> 8);
	}
	dd_boxes_init(&b);
	dd_boxes_add(&b, x);
	dd_image_frame_fill(&g, f, &b, fill);
	for (i = 0; i < 24; i++) {
		uint32_t v = (uint32_t)f[4 * i] | (uint32_t)f[4 * i + 1] << 8 |
			     (uint32_t)f[4 * i + 2] << 16 | (uint32_t)f[4 * i + 3] << 24;
		bool in = i / 3 >= 1 && i / 3 < 3; /* row 0, x 1..2 */
		EXPECT_EQ_INT(v, in ? 0u : (uint32_t)i * 0x0b000000u + 0x00fedcbau);
	}
	struct dd_image_plan p;
	struct dd_image_run *runs;
	size_t n;
	dd_image_plan_init(&p);
	p.src = p.out = g;
	p.frames = 1;
	p.out_kind = DD_IMAGE_OUT_NATIVE_PATCH;
	EXPECT_EQ_INT(dd_image_native_runs(&p, &b, &runs, &n), DD_OK);
	EXPECT_EQ_INT(n, 1);
	EXPECT_EQ_INT(runs[0].off, 12);
	EXPECT_EQ_INT(runs[0].len, 24);
	EXPECT_EQ_INT(runs[0].pat_len, 12);
	free(runs);
	/* signed 32-bit monochrome: two's complement to unsigned order */
	struct dd_image_geom m = {.rows = 1, .cols = 3, .spp = 1, .bits_alloc = 32,
				  .bits_stored = 32, .high_bit = 31, .is_signed = true,
				  .photo = DD_PHOTO_MONOCHROME2};
	uint8_t mf[12];
	put32(mf, 0x80000000u);   /* most negative */
	put32(mf + 4, 0);         /* zero: the middle */
	put32(mf + 8, 0x7fffffffu); /* most positive */
	dd_prepass_row_luma(&m, mf, 0, 0, 3, lum);
	EXPECT_EQ_INT(lum[0], 0);
	EXPECT_EQ_INT(lum[1], 0x8000);
	EXPECT_EQ_INT(lum[2], 0xffff);
	/* 32-bit YBR_FULL is not handled: unsupported, not misread */
	g.photo = DD_PHOTO_YBR_FULL;
	struct dd_prepass_result r;
	struct dd_prepass_opts o = {false};
	dd_prepass_result_init(&r);
	EXPECT_EQ_INT(dd_prepass_frame(&g, f, &o, &r), DD_E_UNSUPPORTED);
	dd_prepass_result_free(&r);
	dd_boxes_free(&b);
}

int main(void)
{
	test_codec();
	test_fill();
	test_ybr422();
	test_32bit();
	test_prepass();
	return dd_test_done("unit_image_box");
}
