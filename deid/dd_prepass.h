/* dd_prepass.h: the text pre-pass: where in a frame might there be burnt-in
 * text?  Pure C, no OCR, no allocation beyond its own scratch; it runs on
 * every image, so it is built for speed (>= 1 GB/s of pixel data on one
 * core is the target; tests/bench/bench_ocr.sh measures it).
 *
 * Two stages:
 *   1. On every second row (text is >= 5 px high, so it spans >= 2 of
 *      them), count strong horizontal transitions (|p[x+1] - p[x]| >= T,
 *      T = a sixth of the frame's sampled range) per cell of 16 columns x
 *      8 rows.  A cell with >= 2 transitions on >= 2 of its sampled rows
 *      is "texty".  Only the border bands (the outer 22% on each side) are
 *      looked at, unless @anywhere (US, SC/OT, XA, ES, secondary capture).
 *   2. Only around clusters of texty cells: binarise at the local mid
 *      level (text = the minority side), label 8-connected components,
 *      keep character-sized ones (5..96 px high, not too wide, not too
 *      full or empty), chain them into rows (vertical overlap, small
 *      gaps).  A row of >= 2 components at least 1.5 x its height wide
 *      is a candidate line; lines are padded by half their height and
 *      merged into regions.
 *
 * A region is a hint for OCR, not a verdict: false positives cost OCR
 * time, misses cost recall for images that are not OCR'd whole.
 *
 * Deterministic: the result depends on the frame's bytes and the options
 * only.  Threads: reentrant; no globals.
 */
#ifndef DD_PREPASS_H
#define DD_PREPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"
#include "dd_image.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_prepass_opts {
	bool anywhere;        /* look at the whole frame, not only the borders */
};

struct dd_prepass_region {
	struct dd_box box;    /* padded; inside the frame */
	uint16_t text_h;      /* tallest candidate line in it, pixels */
	uint16_t n_lines;
};

/* Caller-allocated; zero-initialised (or dd_prepass_result_init()). */
struct dd_prepass_result {
	struct dd_prepass_region *v; /* owned */
	size_t n, cap;
	uint32_t texty_cells;        /* stage 1 count, for reports */
	uint64_t sig;                /* hash of the regions (frame subsets) */
};
#define DD_PREPASS_MAX_REGIONS 256

void dd_prepass_result_init(struct dd_prepass_result *r);
void dd_prepass_result_free(struct dd_prepass_result *r);

/* Run the pre-pass on one decoded frame @frame of geometry @g
 * (dd_image_frame_bytes(g) bytes).  @r is reset first.  DD_E_UNSUPPORTED
 * for a geometry it cannot read (bits_alloc not 8/16/32, spp not 1/3,
 * 32-bit colour other than RGB),
 * DD_E_NOMEM.  More than DD_PREPASS_MAX_REGIONS regions: the rest are
 * merged into the last one (never dropped). */
dd_err dd_prepass_frame(const struct dd_image_geom *g, const uint8_t *frame,
			const struct dd_prepass_opts *opts,
			struct dd_prepass_result *r);

/* The intensity (0..65535, larger = brighter as stored; MONOCHROME1 not
 * inverted) of row @y, columns [x0, x0+n), into @dst: the luma of colour
 * pixels, the Y of YBR, signed values shifted to unsigned order.  Shared
 * with the OCR preparation. */
void dd_prepass_row_luma(const struct dd_image_geom *g, const uint8_t *frame,
			 uint32_t y, uint32_t x0, uint32_t n, uint16_t *dst);

#ifdef __cplusplus
}
#endif
#endif /* DD_PREPASS_H */
