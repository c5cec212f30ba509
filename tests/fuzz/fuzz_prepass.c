/* fuzz_prepass: the image module's parsers of outside bytes: the cached
 * box list (dd_boxes_decode) and the pre-pass over arbitrary pixels and
 * geometry (dd_prepass_frame), then the fill of the decoded boxes.
 *
 * Input: byte 0 even: the rest is a box record; odd: bytes 1..8 give the
 * geometry (cols, rows <= 255; spp; bits allocated: byte 4 bit 1 set 32,
 * else bit 0 set 16, else 8; bits stored; signed and photometric;
 * planar, and in bits 1..7 how far HighBit sits above BitsStored - 1;
 * anywhere) and the rest is pixel data (zero-padded to a frame).
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "dd_image.h"
#include "dd_prepass.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dd_boxes b;
	struct dd_buf enc;

	if (size < 1)
		return 0;
	dd_boxes_init(&b);
	if (!(data[0] & 1)) {
		if (dd_boxes_decode(data + 1, size - 1, &b) == DD_OK) {
			/* decode(encode(x)) == x */
			dd_buf_init(&enc, 1 << 20);
			if (dd_boxes_encode(&b, &enc) == DD_OK &&
			    (enc.len != size - 1 || memcmp(enc.data, data + 1, enc.len)))
				abort();
			dd_buf_free(&enc);
			dd_boxes_normalize(&b, 65535, 65535);
		}
		dd_boxes_free(&b);
		return 0;
	}
	if (size < 9)
		return 0;
	static const enum dd_photometric photos[] = {
		DD_PHOTO_MONOCHROME1, DD_PHOTO_MONOCHROME2, DD_PHOTO_RGB,
		DD_PHOTO_YBR_FULL, DD_PHOTO_YBR_FULL_422, DD_PHOTO_PALETTE};
	struct dd_image_geom g;
	memset(&g, 0, sizeof(g));
	g.cols = data[1];
	g.rows = data[2];
	g.spp = (data[3] & 1) ? 3 : 1;
	/* 32-bit: monochrome and RGB decode (other 32-bit colour is
	 * DD_E_UNSUPPORTED, which is checked too) */
	g.bits_alloc = (data[4] & 2) ? 32 : (data[4] & 1) ? 16 : 8;
	g.bits_stored = (uint16_t)(1 + data[5] % g.bits_alloc);
	g.high_bit = (uint16_t)(g.bits_stored - 1 +
				(data[7] >> 1) % (g.bits_alloc - g.bits_stored + 1));
	g.is_signed = data[6] & 1;
	g.photo = photos[(data[6] >> 1) % 6];
	g.planar = data[7] & 1;
	struct dd_prepass_opts o = {(data[8] & 1) != 0};
	size_t fb = dd_image_frame_bytes(&g);
	if (!fb)
		return 0;
	uint8_t *frame = calloc(1, fb);
	if (!frame)
		return 0;
	memcpy(frame, data + 9, size - 9 < fb ? size - 9 : fb);
	struct dd_prepass_result r;
	dd_prepass_result_init(&r);
	if (dd_prepass_frame(&g, frame, &o, &r) == DD_OK) {
		uint32_t fill[3] = {1, 2, 3};
		for (size_t i = 0; i < r.n; i++) {
			const struct dd_box *x = &r.v[i].box;
			if ((uint64_t)x->x + x->w > g.cols ||
			    (uint64_t)x->y + x->h > g.rows)
				abort(); /* regions stay inside the frame */
			dd_boxes_add(&b, *x);
		}
		dd_image_frame_fill(&g, frame, &b, fill);
	}
	dd_prepass_result_free(&r);
	dd_boxes_free(&b);
	free(frame);
	return 0;
}


