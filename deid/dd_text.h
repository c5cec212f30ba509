/* dd_text.h: the free-text PHI detector and Google's TextConfig
 * transformations.
 *
 * dd_text_find() returns PHI spans with an infoType, found by patterns,
 * dictionaries, cue words and contextual identifiers (values of the record
 * itself, in all their spellings, added with dd_text_ctx_add()).
 * dd_text_clean() applies the policy's TextConfig (replaceWithInfoType,
 * redact, characterMask, cryptoHash, dateShift, excludeInfoTypes,
 * profile) to every span.
 *
 * Threads: a struct dd_text is immutable after dd_text_new(): share it.
 * A struct dd_text_ctx belongs to one transform (one thread).
 */
#ifndef DD_TEXT_H
#define DD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "dd_buf.h"
#include "dd_err.h"
#include "dd_infotype.h"
#include "dd_policy.h"
#include "dd_pseudo.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_text;
struct dd_text_ctx;

struct dd_text_span {
	size_t start, end;         /* byte offsets, end exclusive */
	enum dd_info_type type;
	bool contextual;           /* found as a value of the record itself */
};

/* Build the detector for @cfg (may be NULL: BASIC profile).  @pseudo gives
 * the key for cryptoHash (unless a transformation has its own key). */
dd_err dd_text_new(const struct dd_policy_text *cfg,
		   const struct dd_pseudo *pseudo, struct dd_text **out);
void dd_text_free(struct dd_text *t);

dd_err dd_text_ctx_new(struct dd_text_ctx **out);
void dd_text_ctx_free(struct dd_text_ctx *c);
/* Add a contextual value of type @type (a DICOM PN value "FAMILY^GIVEN", an
 * ID, a date "YYYYMMDD", an address line...).  Every spelling is derived
 * here.  Values shorter than 2 characters are ignored. */
dd_err dd_text_ctx_add(struct dd_text_ctx *c, enum dd_info_type type,
		       const char *value, size_t len);
/* The patient's date shift in days, for DATE findings under dateShift. */
void dd_text_ctx_set_shift(struct dd_text_ctx *c, int days);

/* All PHI spans in @s (UTF-8, @n bytes), sorted, non-overlapping.  *spans
 * is malloc'd (free()), NULL when none.  @c may be NULL. */
dd_err dd_text_find(const struct dd_text *t, const struct dd_text_ctx *c,
		    const char *s, size_t n, struct dd_text_span **spans,
		    size_t *n_spans);

enum {
	/* contextual findings become "[CTX]" (PS3.15 Clean Descriptors and
	 * Google's cleanDescriptors / contextualDeid) */
	DD_TEXT_CTX_TOKEN = 1u << 0,
};

/* True if findings of @type are transformed under this configuration
 * (false when excluded, or when no transformation and no profile covers
 * the type). */
bool dd_text_type_transformed(const struct dd_text *t, enum dd_info_type type);

/* Inspect @s and transform each finding as the TextConfig says; the result
 * is appended to @out. */
dd_err dd_text_clean(const struct dd_text *t, const struct dd_text_ctx *c,
		     const char *s, size_t n, unsigned flags,
		     struct dd_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* DD_TEXT_H */
