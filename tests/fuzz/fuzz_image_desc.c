/* fuzz_image_desc: the REGEN descriptor of a redacted pixel value, read
 * back from a cache record (dd_image_desc_decode).  A descriptor that
 * decodes must encode to the same bytes, and its boxes must fill a frame
 * of its geometry (when the frame is small enough to allocate here)
 * without writing outside it.  Driven by fuzz_main.c or libFuzzer. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dd_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dd_image_plan plan;
	struct dd_image_src_mark mark;
	struct dd_buf enc;
	size_t fb;

	dd_image_plan_init(&plan);
	if (dd_image_desc_decode(data, size, &plan, &mark) != DD_OK) {
		if (plan.boxes.n || plan.frames)
			abort(); /* refused: nothing is left */
		dd_image_plan_free(&plan);
		return 0;
	}
	/* decode(encode(x)) == x */
	dd_buf_init(&enc, 1 << 20);
	if (dd_image_desc_encode(&plan, &mark, &enc) != DD_OK ||
	    enc.len != size || memcmp(enc.data, data, size) != 0)
		abort();
	dd_buf_free(&enc);
	fb = dd_image_frame_bytes(&plan.out);
	if (fb && fb <= (1u << 20)) {
		/* a guard byte after the frame must survive the fill */
		uint8_t *frame = calloc(1, fb + 1);

		if (frame) {
			frame[fb] = 0xa5;
			dd_image_frame_fill(&plan.out, frame, &plan.boxes,
					    plan.fill);
			if (frame[fb] != 0xa5)
				abort();
			free(frame);
		}
	}
	dd_image_plan_free(&plan);
	return 0;
}
