/* dd_dicom.h: the DICOM de-identification engine.
 *
 * PS3.15 2026d Table E.1-1 (every option column) and Google's DICOM config
 * (dicom / dicomTagConfig), applied with dcmtk (through deid/bridge/), with
 * manifest output: the rewritten header as literal bytes and unchanged
 * pixel data as a byte range of the source.  Burnt-in text is redacted
 * with dd_image (docs/images.md): uncompressed pixel values keep their
 * size (source ranges plus literal fill runs), compressed ones that are
 * marked or flagged become Explicit VR Little Endian, or with
 * deidfs.redactedEncoding "same" are re-encoded losslessly in their
 * codec's family; the size is known before OCR (DD_DICOM_SIZE_ONLY)
 * except for a re-encoded value, the default transform runs OCR.
 *
 * A redacted compressed image's value (Explicit VR Little Endian, or
 * re-encoded under redactedEncoding "same") is not kept in the manifest:
 * it is a DD_SEG_REGEN segment whose descriptor holds the boxes and the
 * plan's facts (dd_image_desc_encode), rebuilt from the source when read
 * (except with DD_DICOM_LITERAL_PIXELS).
 * Each engine registers its regenerator with dd_manifest under a tag
 * digesting the policy hash, so dd_manifest_read/_write_fd serve such
 * manifests (from the cache too) while an engine of that policy exists in
 * the process; without one, reading them fails (DD_E_UNSUPPORTED).
 *
 * Threads: a struct dd_dicom is immutable after dd_dicom_new(); any number
 * of threads may call dd_dicom_transform() at once.
 */
#ifndef DD_DICOM_H
#define DD_DICOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"
#include "dd_manifest.h"
#include "dd_policy.h"
#include "dd_pseudo.h"
#include "dd_text.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_dicom;

/* Build the engine.  @pol, @pseudo and @text must outlive it.
 * @policy_hash: the view's policy hash (64 hex; NULL: ""), which names
 * the engine's regenerator of redacted pixel values in dd_manifest's
 * registry (see below).  DD_E_NOMEM, DD_E_LIMIT (registry full). */
dd_err dd_dicom_new(const struct dd_policy *pol, const struct dd_pseudo *pseudo,
		    const struct dd_text *text, const char *policy_hash,
		    struct dd_dicom **out);
/* dd_dicom_new without dcmtk's one-time set-up (dd_bridge_init: its data
 * dictionary, about 0.04 s of CPU), which the first DICOM file then does:
 * a run over FHIR files only never loads the dictionary.  Only for a
 * program that uses dcmtk from one thread (dd_bridge.h).  A dictionary
 * that cannot be loaded then hides each DICOM file (its load fails)
 * instead of failing here. */
dd_err dd_dicom_new_deferred(const struct dd_policy *pol,
			     const struct dd_pseudo *pseudo,
			     const struct dd_text *text,
			     const char *policy_hash, struct dd_dicom **out);
void dd_dicom_free(struct dd_dicom *d);

/* True if @head (the first @n bytes of a file) is a Part 10 file: 128-byte
 * preamble + "DICM". */
bool dd_dicom_sniff(const uint8_t *head, size_t n);

/* De-identify the DICOM file open at @fd into @m.  Returns DD_OK with @m
 * served or hidden (reason set: parse error, unsupported, excluded...);
 * another code only for DD_E_NOMEM/DD_E_INVAL.  @log_name is a
 * pseudonymised name for log lines. */
dd_err dd_dicom_transform(const struct dd_dicom *d, int fd,
			  const char *log_name, struct dd_manifest *m);

/* Flags of dd_dicom_transform_ex(). */
enum {
	/* Write the whole output with dcmtk (pixel value loaded and written
	 * through dcmtk) as one literal segment, instead of header literals
	 * plus a source range.  The output bytes are the same; tests compare
	 * the two, and deflated files always take this path.  Capped at
	 * 256 MiB (hidden with DD_REASON_LIMIT above). */
	DD_DICOM_FULL_REWRITE = 1u << 0,
	/* The size without OCR, for a stat: everything is done as for the
	 * real output (rules, markers, the image size plan with its
	 * decode and text pre-pass), but no OCR runs and every pixel value
	 * that would be redacted is ZEROS in @m.  @m->size and the hide
	 * decision are those of the real transform, except that OCR may
	 * still time out (the real transform then hides the file:
	 * DD_REASON_TIMEOUT).  Such a manifest must never be served or
	 * cached: its bytes are not the output.  A pixel value re-encoded
	 * in the source's codec (redactedEncoding "same") has no size
	 * before OCR: for such a file the whole transform runs, OCR
	 * included, and @m is the output. */
	DD_DICOM_SIZE_ONLY = 1u << 1,
	/* A redacted compressed value as literal bytes in @m, not a REGEN
	 * segment rebuilt at read time: for a caller that writes the output
	 * once and does not cache @m (deid materialize), so the
	 * value is not decoded (re-encoded) a second time.  The bytes are
	 * the same. */
	DD_DICOM_LITERAL_PIXELS = 1u << 2,
};

/* dd_dicom_transform() with @flags (DD_DICOM_*). */
dd_err dd_dicom_transform_ex(const struct dd_dicom *d, int fd,
			     const char *log_name, unsigned flags,
			     struct dd_manifest *m);

/* The transform for a stat: dd_dicom_transform_ex(DD_DICOM_SIZE_ONLY).
 * *@complete is true when @m is nevertheless the real output (no pixel
 * value is redacted, the file is hidden, or the value is re-encoded in
 * the source's codec and the whole transform ran): it may then be served and
 * cached like dd_dicom_transform()'s.  When false, only @m's size, kind
 * and reason are the output's; its pixel bytes are zeros. */
dd_err dd_dicom_transform_size(const struct dd_dicom *d, int fd,
			       const char *log_name, struct dd_manifest *m,
			       bool *complete);

#ifdef __cplusplus
}
#endif
#endif /* DD_DICOM_H */
