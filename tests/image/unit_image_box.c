/* unit_image_box: box lists, their cache codec, native runs and frame fill,
 * the pre-pass on a synthetic frame, and the REGEN descriptor of a
 * redacted value (pure functions, no OCR). */
#include <stdio.h>
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

/* ---- the REGEN descriptor (dd_image_desc_encode/decode) ---------------- */

static uint32_t t_fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static void t_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute the box record's and the descriptor's checksums, so that a
 * changed field must be refused by the field checks themselves. */
static void t_desc_refix(uint8_t *p, size_t n)
{
	size_t at = 81 + p[80], blen = 0;

	if (at + 4 <= n)
		blen = (size_t)p[at] | (size_t)p[at + 1] << 8;
	if (blen >= 16 && at + 4 + blen <= n) /* else: nothing to fix */
		t_put32(p + at + 4 + blen - 4, t_fnv(p + at + 4, blen - 4));
	t_put32(p + n - 4, t_fnv(p, n - 4));
}

static void t_desc_plan(struct dd_image_plan *p)
{
	struct dd_box a = {1, 2, 10, 5}, b = {50, 20, 14, 12};

	dd_image_plan_init(p);
	p->out.rows = 32;
	p->out.cols = 64;
	p->out.spp = 1;
	p->out.bits_alloc = 16;
	p->out.bits_stored = 12;
	p->out.high_bit = 11;
	p->out.is_signed = true;
	p->out.photo = DD_PHOTO_MONOCHROME2;
	p->src = p->out;
	p->frames = 3;
	p->compressed = true;
	p->fill[0] = 0x0800;
	snprintf(p->xfer_uid, sizeof(p->xfer_uid), "1.2.840.10008.1.2.4.70");
	p->out_kind = DD_IMAGE_OUT_EXPLICIT_LE;
	p->out_pixel_len = 64 * 32 * 2 * 3;
	(void)dd_boxes_add(&p->boxes, a);
	(void)dd_boxes_add(&p->boxes, b);
}

/* Change the byte at @off to @v, re-checksum: must be refused. */
static void t_desc_refused(const struct dd_buf *good, size_t off, uint8_t v)
{
	struct dd_image_plan q;
	struct dd_image_src_mark mk;
	uint8_t *c = malloc(good->len);

	if (!c)
		abort();
	memcpy(c, good->data, good->len);
	c[off] = v;
	t_desc_refix(c, good->len);
	dd_image_plan_init(&q);
	if (dd_image_desc_decode(c, good->len, &q, &mk) != DD_E_CORRUPT)
		fprintf(stderr, "desc: byte %zu = 0x%02x accepted\n", off, v);
	EXPECT_EQ_INT(dd_image_desc_decode(c, good->len, &q, &mk), DD_E_CORRUPT);
	EXPECT_EQ_INT(q.boxes.n, 0);
	EXPECT_EQ_INT(q.frames, 0);
	dd_image_plan_free(&q);
	free(c);
}

static void test_desc(void)
{
	struct dd_image_plan p, q;
	struct dd_image_src_mark mk = {1234, 5678, {0}}, mq;
	struct dd_buf buf;
	size_t ulen = strlen("1.2.840.10008.1.2.4.70"), at;

	for (int i = 0; i < 16; i++)
		mk.digest[i] = (uint8_t)(0xa0 + i);
	t_desc_plan(&p);
	dd_image_plan_init(&q);
	dd_buf_init(&buf, 1 << 20);
	EXPECT_EQ_INT(dd_image_desc_encode(&p, &mk, &buf), DD_OK);
	EXPECT_EQ_INT(buf.len, 105 + ulen + 2 * 16);
	EXPECT_EQ_INT(dd_image_desc_decode(buf.data, buf.len, &q, &mq), DD_OK);
	EXPECT(memcmp(&q.out, &p.out, sizeof(p.out)) == 0);
	EXPECT(memcmp(&q.src, &p.out, sizeof(p.out)) == 0);
	EXPECT_EQ_INT(q.frames, 3);
	EXPECT_EQ_INT(q.fill[0], 0x0800);
	EXPECT_EQ_INT(q.out_kind, DD_IMAGE_OUT_EXPLICIT_LE);
	EXPECT_EQ_INT(q.out_pixel_len, p.out_pixel_len);
	EXPECT(q.compressed);
	EXPECT_EQ_STR(q.xfer_uid, p.xfer_uid);
	EXPECT_EQ_INT(q.boxes.n, 2);
	EXPECT(memcmp(q.boxes.v, p.boxes.v, 2 * sizeof(*p.boxes.v)) == 0);
	EXPECT(mq.off == 1234 && mq.len == 5678);
	EXPECT(memcmp(mq.digest, mk.digest, 16) == 0);

	/* damage: every byte flipped, every length cut, a byte more */
	for (size_t i = 0; i < buf.len; i++) {
		buf.data[i] ^= 0x21;
		EXPECT_EQ_INT(dd_image_desc_decode(buf.data, buf.len, &q, &mq),
			      DD_E_CORRUPT);
		EXPECT_EQ_INT(q.boxes.n, 0);
		buf.data[i] ^= 0x21;
	}
	for (size_t n = 0; n < buf.len; n++)
		EXPECT_EQ_INT(dd_image_desc_decode(buf.data, n, &q, &mq),
			      DD_E_CORRUPT);
	EXPECT_EQ_INT(dd_buf_addc(&buf, 0), DD_OK);
	EXPECT_EQ_INT(dd_image_desc_decode(buf.data, buf.len, &q, &mq),
		      DD_E_CORRUPT);
	buf.len--;

	/* well checksummed, but a field the decoder cannot produce */
	t_desc_refused(&buf, 4, 2);     /* version */
	t_desc_refused(&buf, 5, DD_IMAGE_OUT_NATIVE_PATCH);
	t_desc_refused(&buf, 6, 0);     /* photometric unknown */
	t_desc_refused(&buf, 6, 7);
	t_desc_refused(&buf, 6, DD_PHOTO_RGB); /* with one sample */
	t_desc_refused(&buf, 7, 4);     /* unknown flag */
	t_desc_refused(&buf, 8, 0);     /* rows 0 */
	t_desc_refused(&buf, 12, 63);   /* cols: the value length differs */
	t_desc_refused(&buf, 16, 2);    /* samples */
	t_desc_refused(&buf, 18, 12);   /* bits allocated */
	t_desc_refused(&buf, 20, 0);    /* bits stored */
	t_desc_refused(&buf, 20, 17);
	t_desc_refused(&buf, 22, 16);   /* high bit */
	t_desc_refused(&buf, 22, 3);    /* high bit below bits stored */
	t_desc_refused(&buf, 24, 0);    /* frames */
	t_desc_refused(&buf, 24, 4);    /* frames: the value length differs */
	t_desc_refused(&buf, 30, 1);    /* fill over 16 bits */
	t_desc_refused(&buf, 40, 2);    /* value length */
	t_desc_refused(&buf, 47, 1);
	t_desc_refused(&buf, 63, 0x80); /* the marked range: past any file */
	t_desc_refused(&buf, 55, 0x80);
	t_desc_refused(&buf, 81, 'a');  /* the UID's characters */
	t_desc_refused(&buf, 80, (uint8_t)(ulen - 1)); /* UID length */
	at = 81 + ulen + 4;             /* the box record */
	t_desc_refused(&buf, at + 12, 60); /* a box past the columns */
	t_desc_refused(&buf, at + 16, 30); /* a box past the rows */
	t_desc_refused(&buf, at + 20, 0);  /* an empty box */
	t_desc_refused(&buf, at - 4, 0);   /* the record's length */

	/* "same": the re-encoded value's length, any even one */
	dd_buf_reset(&buf);
	p.out_kind = DD_IMAGE_OUT_SAME_CODEC;
	p.out_pixel_len = 777778;
	EXPECT_EQ_INT(dd_image_desc_encode(&p, &mk, &buf), DD_OK);
	EXPECT_EQ_INT(dd_image_desc_decode(buf.data, buf.len, &q, &mq), DD_OK);
	EXPECT_EQ_INT(q.out_kind, DD_IMAGE_OUT_SAME_CODEC);
	EXPECT(q.out_pixel_len == 777778);
	t_desc_refused(&buf, 40, 0x33); /* odd */
	t_desc_refused(&buf, 43, 0x40); /* over 1 GiB */
	t_desc_refused(&buf, 12, 0);    /* no geometry under it */
	p.out_pixel_len = 777777;
	dd_buf_reset(&buf);
	EXPECT_EQ_INT(dd_image_desc_encode(&p, &mk, &buf), DD_E_INVAL);
	p.out_kind = DD_IMAGE_OUT_EXPLICIT_LE;
	p.out_pixel_len = 64 * 32 * 2 * 3;

	/* what encode refuses */
	dd_buf_reset(&buf);
	p.out_pixel_len += 2;
	EXPECT_EQ_INT(dd_image_desc_encode(&p, &mk, &buf), DD_E_INVAL);
	p.out_pixel_len -= 2;
	p.out_kind = DD_IMAGE_OUT_NATIVE_PATCH;
	EXPECT_EQ_INT(dd_image_desc_encode(&p, &mk, &buf), DD_E_INVAL);
	EXPECT_EQ_INT(buf.len, 0);
	/* an odd value is padded: 3 x 3 x 8 bit = 9 -> 10 */
	p.out_kind = DD_IMAGE_OUT_EXPLICIT_LE;
	p.out.rows = p.out.cols = 3;
	p.out.bits_alloc = 8;
	p.out.bits_stored = 8;
	p.out.high_bit = 7;
	p.fill[0] = 0;
	p.frames = 1;
	p.boxes.n = 0;
	p.out_pixel_len = 10;
	EXPECT_EQ_INT(dd_image_desc_encode(&p, &mk, &buf), DD_OK);
	EXPECT_EQ_INT(dd_image_desc_decode(buf.data, buf.len, &q, &mq), DD_OK);
	EXPECT_EQ_INT(q.out_pixel_len, 10);
	EXPECT_EQ_INT(q.boxes.n, 0);
	dd_buf_free(&buf);
	dd_image_plan_free(&p);
	dd_image_plan_free(&q);
}

int main(void)
{
	test_codec();
	test_fill();
	test_ybr422();
	test_32bit();
	test_prepass();
	test_desc();
	return dd_test_done("unit_image_box");
}
