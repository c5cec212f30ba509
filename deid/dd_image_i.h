/* dd_image_i.h: internals shared by the image module's files. */
#ifndef DD_IMAGE_I_H
#define DD_IMAGE_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_image.h"

/* Decode one JPEG 2000 frame (@n bytes of codestream or JP2 at @p) into
 * @out (@len = dd_image_frame_bytes(@g)), colour by pixel, host order.
 * *@mct: the decoder applied an inverse colour transform. */
dd_err dd_image_j2k_decode(const uint8_t *p, size_t n,
			   const struct dd_image_geom *g, uint8_t *out,
			   size_t len, bool *mct);

#endif /* DD_IMAGE_I_H */
