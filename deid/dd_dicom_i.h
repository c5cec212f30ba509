/* dd_dicom_i.h: internals of the DICOM engine shared by deid/dd_dicom*.c
 * and its unit tests.  Not a public interface. */
#ifndef DD_DICOM_I_H
#define DD_DICOM_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_buf.h"
#include "dd_dict.h"
#include "dd_err.h"

/* ---- dd_dicom_walk.c ---------------------------------------------------- */

/* The encapsulated pixel value found by the top-level walker. */
struct dd_dicom_encap {
	bool found;
	uint64_t off;      /* first byte after the PixelData element header */
	uint64_t len;      /* through the end of the sequence delimiter */
	uint32_t *item_len; /* malloc'd; free() */
	size_t n_items;
	size_t cap_items;
};

/* Walk the top level of the file at @fd (@size bytes; transfer syntax
 * given by @explicit_vr/@big_endian) to PixelData.  DD_OK with @out->found
 * for encapsulated pixel data; DD_E_NOTFOUND when PixelData is native or
 * absent; DD_E_PARSE/DD_E_LIMIT/DD_E_IO when the walk is in doubt.
 * @out->item_len must be freed by the caller in every case. */
dd_err dd_dicom_walk_encap(int fd, uint64_t size, bool explicit_vr,
			   bool big_endian, struct dd_dicom_encap *out);

/* ---- dd_dicom_value.c: value rules (pure) -------------------------------- */

/* The dummy value (PS3.15 D) for a string VR, or NULL for VRs whose dummy
 * is not a string (binary, numbers, UI, SQ).  Documented in
 * docs/internals/dicom.md; pinned by golden tests. */
const char *dd_dicom_dummy(const char *vr);

/* Retain Patient Characteristics on an AS value: ages over @max_age years
 * (deidfs.maxAge, default 89) become one category, @max_age + 1 years
 * ("090Y"); other valid ages are kept.  DD_E_PARSE if @in is not an AS value
 * ("nnnD", "nnnW", "nnnM", "nnnY").  @out holds 5 bytes. */
dd_err dd_dicom_age_cap(const char *in, size_t n, int max_age, char out[5]);

/* The maximum length in characters of a string VR (0: no limit we
 * enforce). */
size_t dd_dicom_vr_max_len(const char *vr);

/* Encode the UTF-8 text @s for a data set whose SpecificCharacterSet is
 * @charset (NULL/empty: the default repertoire).  Appended to @out.
 * ASCII text is valid in every character set; other text is converted for
 * UTF-8 (ISO_IR 192), the single-byte ISO 8859 sets, TIS 620, GB18030 and
 * GBK.  DD_E_UNSUPPORTED otherwise (ISO 2022 code extensions): the caller
 * fails closed. */
dd_err dd_dicom_encode_charset(const char *charset, const char *s, size_t n,
			       struct dd_buf *out);

/* True if all @n bytes are 7-bit. */
bool dd_dicom_is_ascii(const char *s, size_t n);

/* The dummy encapsulated document for @mime (NULL: PDF).  Static bytes. */
const uint8_t *dd_dicom_dummy_document(const char *mime, size_t *len);

/* True for SOP classes of photographs (VL Photographic, Video
 * Photographic, ophthalmic photography, dermoscopy) hidden by
 * deidfs.hidePhotographic. */
bool dd_dicom_sop_is_photographic(const char *sop_class_uid);

#endif /* DD_DICOM_I_H */
