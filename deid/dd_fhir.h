/* dd_fhir.h: the FHIR R4 de-identification engine.
 *
 * dd_fhir turns one FHIR source file into the manifest of its
 * de-identified view: a single resource (.json), a Bundle of any type
 * (document, message, transaction, transaction-response, batch,
 * batch-response, history, searchset, collection), or NDJSON (one resource
 * per line, streamed).  The rules are Google's FhirConfig (v1
 * fieldMetadataList with TRANSFORM / INSPECT_AND_TRANSFORM /
 * DO_NOT_TRANSFORM) and FhirFieldConfig (v1beta1 profiles KEEP_ALL / BASIC
 * / CLEAN_ALL and per-path actions), with field and type paths resolved by
 * the R4 element-type table (data/fhir/fhir-r4-element-types.tsv).
 * docs/fhir.md has the BASIC field list and every decision Google leaves
 * open.  Always, whatever the profile:
 *
 *  - resource ids, `reference`s (`Type/id`, absolute URLs, `urn:uuid:`),
 *    `fullUrl`, searchset `link.url` and transaction `request.url` /
 *    `response.location` are rewritten with one keyed mapping
 *    (dd_pseudo_fhir_id), so every reference that resolved still
 *    resolves, within a Bundle and across files; `#contained` references
 *    and contained ids are kept;
 *  - extensions are removed unless keepExtensions / defaultKeepExtensions
 *    is set or their URL is in deidfs.extensionAllowlist;
 *  - dates of one patient shift by that patient's days, the patient being
 *    found through subject / patient / beneficiary and the patient index
 *    (dd_index.h), with the same patient key as DICOM (dd_patient_key).
 *
 * Output: valid JSON (json-c, JSON_C_TO_STRING_PLAIN, keys in input order,
 * no whitespace), resourceType kept; NDJSON stays NDJSON (one line per
 * resource, "\n" after each).  Fail closed: a malformed file, a malformed
 * NDJSON line, a nesting deeper than deidfs.jsonMaxDepth, invalid UTF-8 or
 * an unknown resourceType hides the file (DD_REASON_FHIR_PARSE /
 * DD_REASON_FHIR_UNSUPPORTED).  Element names unknown to R4 are removed.
 * A free-text field whose inspection fails is removed (a narrative's text
 * becomes "[REDACTED]"), never kept.
 *
 * Large outputs (over 1 MiB) keep no output bytes in the manifest: the
 * manifest holds DD_SEG_REGEN segments, each re-transforming a source
 * range of whole NDJSON lines or Bundle entries (about 1 MiB of output,
 * at most 4 MiB of source) when read; literal segments hold the Bundle's
 * other members.  A struct dd_fhir registers its regenerator with
 * dd_manifest under a tag digesting (policy hash, patient-index digest),
 * so manifests taken from the cache are readable through dd_manifest_read.
 *
 * Memory: at most one NDJSON line, one Bundle entry or one non-Bundle
 * resource is parsed at a time; a source is read in 1 MiB blocks.
 *
 * Threads: after dd_fhir_new() the engine is read-only; any number of
 * threads may transform at once.  It borrows @pol, @pseudo, @text and
 * @index, which must outlive it.
 */
#ifndef DD_FHIR_H
#define DD_FHIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_buf.h"
#include "dd_err.h"
#include "dd_manifest.h"
#include "dd_policy.h"
#include "dd_pseudo.h"
#include "dd_text.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_fhir;
struct dd_index;

/* Build the engine.  @index may be NULL (no patient index: resources reach
 * their patient only through the file itself, see docs/fhir.md).
 * @policy_hash is the view's policy hash (64 hex); it and the index digest
 * make the regeneration tag.  DD_E_NOMEM, DD_E_LIMIT (regenerator registry
 * full). */
dd_err dd_fhir_new(const struct dd_policy *pol, const struct dd_pseudo *pseudo,
		   const struct dd_text *text, const struct dd_index *index,
		   const char *policy_hash, struct dd_fhir **out);
void dd_fhir_free(struct dd_fhir *f);

/* Transform the source open at @fd (@size bytes; DD_KIND_FHIR_JSON or
 * DD_KIND_FHIR_NDJSON) into @out (initialised, empty).  Returns DD_OK with
 * a served or a hidden manifest; other codes only for memory or I/O
 * failures (DD_E_NOMEM, DD_E_IO).  @log_name (pseudonymised path, may be
 * NULL) is used in log lines. */
dd_err dd_fhir_transform(const struct dd_fhir *f, int fd, uint64_t size,
			 enum dd_kind kind, const char *log_name,
			 struct dd_manifest *out);

/* dd_fhir_transform for writers of the whole output (`deid materialize`):
 * the same transform and the same manifest, and every output byte is also
 * written to @out_fd (write(2) from its current offset, in order, about
 * 1 MiB at a time) while it is produced, so a large file is transformed
 * once instead of once for the manifest and again for its REGEN chunks.
 * When it returns DD_OK with a served manifest, @out_fd received exactly
 * the output: the bytes dd_manifest_write_fd(@out) would write (the
 * manifest path and this one share every line of the transform; the
 * fhir_bulk_hashes test compares both).  With a hidden manifest or an
 * error, @out_fd holds an unspecified prefix of it: the caller discards
 * it (write to a temporary file).  DD_E_IO when a write to @out_fd fails,
 * DD_E_INVAL when @out_fd < 0; otherwise as dd_fhir_transform. */
dd_err dd_fhir_transform_to_fd(const struct dd_fhir *f, int fd, uint64_t size,
			       enum dd_kind kind, const char *log_name,
			       int out_fd, struct dd_manifest *out);

/* The same on @n bytes in memory, the whole output appended to @out
 * (tests, fuzzing).  *reason is DD_REASON_NONE when served. */
dd_err dd_fhir_transform_buffer(const struct dd_fhir *f, const void *in,
				size_t n, enum dd_kind kind, struct dd_buf *out,
				enum dd_reason *reason);

/* Output bytes per REGEN chunk (default 1 MiB) and the output size under
 * which a file is one literal segment (default 1 MiB).  For tests only;
 * call before any transform. */
void dd_fhir_set_chunking(struct dd_fhir *f, size_t chunk_out,
			  size_t literal_max);

#ifdef __cplusplus
}
#endif
#endif /* DD_FHIR_H */
