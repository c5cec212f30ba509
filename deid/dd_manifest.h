/* dd_manifest.h: the output of a transform, as a list of segments.
 *
 * A manifest describes a view file's bytes: literal bytes (a rewritten DICOM
 * header, a rewritten JSON document) held in the manifest, and byte ranges
 * of the source file (unchanged pixel data) that are read from the source
 * at serve time.  Segments are contiguous and in output order; the output
 * size is the sum of their lengths.
 *
 * A manifest also carries the outcome of the transform: a kind (what the
 * file is) and, for a hidden file, the reason.  A hidden manifest has no
 * segments: nothing of a hidden file is ever served.
 *
 * Ownership: dd_manifest_init() on a caller-allocated struct; the struct
 * owns its arrays until dd_manifest_free().  Not thread-safe while being
 * built; a finished manifest may be read by many threads.
 *
 * Encoding: dd_manifest_encode()/dd_manifest_decode() give a versioned,
 * little-endian byte form for the cache.  decode() treats its input as
 * hostile (it is a cache record): every length and offset is checked.
 */
#ifndef DD_MANIFEST_H
#define DD_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_buf.h"
#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a source file is, by content. */
enum dd_kind {
	DD_KIND_UNKNOWN = 0, /* not classified / other file */
	DD_KIND_DICOM,
	DD_KIND_DICOMDIR,
	DD_KIND_FHIR_JSON,
	DD_KIND_FHIR_NDJSON,
	DD_KIND_DIR,
	DD_KIND_LAST
};

/* Why a file is hidden from the view (DD_REASON_NONE: it is served).
 * Stable names (dd_reason_name) appear in reports and counters. */
enum dd_reason {
	DD_REASON_NONE = 0,
	DD_REASON_OTHER_FILE,     /* no engine claims it (junk, unknown type) */
	DD_REASON_DICOMDIR,       /* DICOMDIR files are always hidden */
	DD_REASON_DICOM_PARSE,    /* DICOM that dcmtk cannot parse */
	DD_REASON_DICOM_UNSUPPORTED, /* parsed, but cannot be transformed safely */
	DD_REASON_FHIR_PARSE,     /* malformed JSON or NDJSON line */
	DD_REASON_FHIR_UNSUPPORTED, /* JSON that is not a FHIR resource */
	DD_REASON_POLICY_EXCLUDED, /* e.g. RecognizableVisualFeatures YES */
	DD_REASON_TOO_LARGE,      /* over deidfs.maxFileSize */
	DD_REASON_LIMIT,          /* a count-based work limit */
	DD_REASON_TIMEOUT,        /* wall-clock limit (OCR) */
	DD_REASON_NAME_COLLISION, /* two names scrub to one view name */
	DD_REASON_UNREADABLE,     /* the source could not be opened or read */
	DD_REASON_SPECIAL_FILE,   /* fifo, socket, device, symlink out of tree */
	DD_REASON_INTERNAL,       /* engine error */
	DD_REASON_LAST
};

const char *dd_kind_name(enum dd_kind k);
/* "other_file", "dicomdir", "dicom_parse", ... */
const char *dd_reason_name(enum dd_reason r);
/* True for reasons that count as errors (a materialise run exits 1):
 * parse/unsupported/limit/timeout/unreadable/internal; not other_file,
 * dicomdir, policy_excluded, name_collision. */
bool dd_reason_is_error(enum dd_reason r);
/* A hide that tells about the machine at the time (a wall-clock timeout,
 * a source that could not be read, an engine that could not start), not
 * about the file's bytes: such a result is never cached, so a later
 * mount tries the file again. */
bool dd_reason_is_transient(enum dd_reason r);

enum dd_seg_kind {
	DD_SEG_LITERAL = 1, /* bytes held in the manifest */
	DD_SEG_SOURCE = 2,  /* bytes of the source file */
	DD_SEG_ZERO = 3,    /* zero bytes (padding) */
	/* Output produced at read time by re-transforming a source range
	 * (large FHIR files: no output bytes are kept).  offset is the
	 * offset in data of a descriptor: u32 desc_len (>= 20, little
	 * endian), u8 tag[16] naming the engine instance that can
	 * regenerate it (see dd_manifest_regen_register), then engine
	 * bytes.  The descriptor is not output: no LITERAL segment covers
	 * it. */
	DD_SEG_REGEN = 4,
};

struct dd_seg {
	uint8_t kind;    /* enum dd_seg_kind */
	uint64_t len;    /* bytes of output */
	uint64_t offset; /* LITERAL: offset into data; SOURCE: source offset */
};

struct dd_manifest {
	enum dd_kind kind;
	enum dd_reason reason;
	uint64_t size;        /* output size (sum of segment lengths) */
	struct dd_seg *segs;
	uint32_t n_segs;
	uint32_t cap_segs;
	struct dd_buf data;   /* literal bytes */
};

void dd_manifest_init(struct dd_manifest *m);
void dd_manifest_free(struct dd_manifest *m);
/* Drop segments and data, keep nothing; kind/reason reset to unknown. */
void dd_manifest_reset(struct dd_manifest *m);
/* Make @m a hidden file's manifest: segments dropped, reason set. */
void dd_manifest_hide(struct dd_manifest *m, enum dd_kind kind,
		      enum dd_reason reason);

/* Append @n literal bytes (copied).  Adjacent literals merge. */
dd_err dd_manifest_add_literal(struct dd_manifest *m, const void *p, size_t n);
/* Append @len bytes of the source starting at @src_off.  Adjacent,
 * contiguous source ranges merge. */
dd_err dd_manifest_add_source(struct dd_manifest *m, uint64_t src_off,
			      uint64_t len);
/* Append @len zero bytes. */
dd_err dd_manifest_add_zero(struct dd_manifest *m, uint64_t len);

/* ---- regenerated segments (DD_SEG_REGEN) --------------------------------
 *
 * An engine that keeps no output bytes in a manifest (the FHIR engine for
 * large files) registers a regenerator under a 16-byte tag that is a digest
 * of everything its output depends on (policy hash, key fingerprint,
 * engine version, patient index).  A REGEN segment's descriptor names the
 * tag; reads look the tag up in a process-wide registry, so the existing
 * dd_manifest_read/_materialize/_write_fd work on such manifests unchanged.
 * No regenerator under the tag: DD_E_UNSUPPORTED (never wrong bytes).
 *
 * The regenerator must write exactly the segment's len bytes to @out (an
 * empty buffer capped at the segment length plus slack); anything else is
 * treated as DD_E_CHANGED.  It is called from any reader thread at once.
 * The last 8 regenerated segments, up to 256 MiB of them (more only while
 * a reader copies from them), are shared by all threads, keyed by the
 * source's fstat identity and the descriptor bytes (up to 1 MiB of them):
 * readers of a segment being regenerated wait for it instead of
 * regenerating it too (the kernel reads ahead on several threads), and
 * sequential small reads re-transform it once.  A failed regeneration is
 * not kept.  A segment that cannot be shared (larger than the cap, every
 * slot in use) goes to the thread's own memo of its last segment, which
 * stays in memory until the thread's next regeneration (up to 1 GiB for a
 * redacted image value); dd_manifest_write_fd() drops that one.
 * The DICOM engine's regenerator rebuilds redacted pixel values; the
 * FHIR engine's re-transforms chunks of large files. */
typedef dd_err (*dd_manifest_regen_fn)(void *ctx, int src_fd,
				       const struct dd_manifest *m,
				       const uint8_t *desc, size_t desc_len,
				       struct dd_buf *out);

/* Register @fn with @ctx under @tag.  Registrations nest (a count per
 * (tag, fn, ctx)); DD_E_LIMIT past 64 distinct entries. */
dd_err dd_manifest_regen_register(const uint8_t tag[16],
				  dd_manifest_regen_fn fn, void *ctx);
/* Undo one registration of (@tag, @ctx). */
void dd_manifest_regen_unregister(const uint8_t tag[16], void *ctx);

/* Count one more idle period for every shared regenerated segment not in
 * use, and free those that have not been read for @idle periods (@idle 0:
 * all of them now).  Returns the bytes freed.  For a daemon's
 * housekeeping (a redacted image value can be hundreds of MiB); any
 * thread. */
size_t dd_manifest_regen_trim(unsigned idle);

/* A regenerator's tag: the first 16 bytes of SHA-256 over the strings
 * given (NULL-terminated list; each without its NUL), e.g. a domain and
 * the policy hash.  DD_E_NOMEM when the digest cannot be set up: an engine
 * must not register under an unset tag. */
dd_err dd_manifest_regen_tag(uint8_t tag[16], const char *first, ...);

/* Append a REGEN segment of @len output bytes whose descriptor is @tag
 * followed by @priv (@priv_len bytes, copied into data). */
dd_err dd_manifest_add_regen(struct dd_manifest *m, uint64_t len,
			     const uint8_t tag[16], const void *priv,
			     size_t priv_len);

/* Copy output bytes [off, off+n) into @buf, reading source segments from
 * @src_fd with pread(2).  *got is the count copied (short only at end of
 * output).  DD_E_IO if a source read fails or comes up short (the source
 * shrank: the caller should treat it as DD_E_CHANGED after a re-check). */
dd_err dd_manifest_read(const struct dd_manifest *m, int src_fd, void *buf,
			size_t n, uint64_t off, size_t *got);

/* As dd_manifest_read, with an explicit regenerator for REGEN segments
 * (@fn NULL: the registry). */
dd_err dd_manifest_read_ex(const struct dd_manifest *m, int src_fd, void *buf,
			   size_t n, uint64_t off, size_t *got,
			   dd_manifest_regen_fn fn, void *ctx);

/* The whole output into @out (for small files and tests). */
dd_err dd_manifest_materialize(const struct dd_manifest *m, int src_fd,
			       struct dd_buf *out);

/* Write the whole output to @out_fd, using copy_file_range(2) for source
 * segments where the kernel allows it. */
dd_err dd_manifest_write_fd(const struct dd_manifest *m, int src_fd,
			    int out_fd);

/* Byte form for the cache: appended to @out. */
dd_err dd_manifest_encode(const struct dd_manifest *m, struct dd_buf *out);
/* Parse @n bytes into an initialised @m.  DD_E_CORRUPT on any
 * inconsistency (lengths, offsets, counts, kinds); @m is then reset. */
dd_err dd_manifest_decode(const void *p, size_t n, struct dd_manifest *m);

#ifdef __cplusplus
}
#endif
#endif /* DD_MANIFEST_H */
