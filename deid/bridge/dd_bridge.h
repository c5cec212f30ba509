/* dd_bridge.h: the C interface to dcmtk.  This header compiles as C and as
 * C++; C sees only incomplete types.  Every function is extern "C" and
 * catches every C++ exception, returning a dd_err (DD_E_NOMEM for
 * std::bad_alloc, DD_E_INTERNAL for anything else).
 *
 * Threads: after dd_bridge_init() (called once, before any other thread
 * uses dcmtk), any number of threads may each work on their own struct
 * dd_bfile.  A struct dd_bfile and everything borrowed from it belong to
 * one thread at a time.
 */
#ifndef DD_BRIDGE_H
#define DD_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_buf.h"
#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dcmtk's version string ("3.6.7"). */
const char *dd_bridge_dcmtk_version(void);

/* ==== DICOM engine section (deid/dd_dicom*.c) ============================ */

/* One-time set-up: silences dcmtk's logger (OFLog: nothing reaches stderr)
 * and checks that dcmtk's data dictionary is loaded (about 0.04 s of CPU).
 * Idempotent and thread-safe (std::call_once).  DD_E_INTERNAL without a
 * dictionary.  The functions that bring dcmtk objects into being
 * (dd_bridge_file_load_fd, dd_bridge_pixels_open, dd_bridge_pixels_encode,
 * dd_bridge_pixels_can_encode, dd_bridge_gen_new) call it first, so a
 * program that runs one thread may leave it to the first DICOM file
 * (dd_dicom_new_deferred); one that runs several calls it before they
 * start. */
dd_err dd_bridge_init(void);

struct dd_bfile; /* a loaded file: DcmFileFormat + what we learnt loading it */
struct dd_bitem; /* a DcmItem: the data set, or an item of a sequence */
struct dd_belem; /* a DcmElement inside an item */

struct dd_bfile_info {
	char xfer_uid[65];   /* the source transfer syntax UID */
	bool explicit_vr;
	bool big_endian;
	bool encapsulated;   /* pixel data in fragments (JPEG, RLE, ...) */
	bool deflated;       /* the data set was inflated: no source ranges */
	bool had_meta;       /* the source had a file meta information group */
};

/* Load the file open at @fd (read-only; never re-opened by name): dcmtk
 * reads a dup of @fd with pread (so the fd's O_NOATIME holds), and
 * fstat(@fd)'s (device, inode, size, mtime) is compared before and after
 * loading.  Values longer than 4096 bytes are not read (dcmtk keeps their
 * offsets, and reads them later through a dup of the fd).  DD_E_PARSE
 * if dcmtk cannot parse the whole file, DD_E_CHANGED if the identity check
 * fails.  The file must stay unchanged until dd_bridge_file_free(): values
 * are read from it lazily.  Free with dd_bridge_file_free(). */
dd_err dd_bridge_file_load_fd(int fd, struct dd_bfile **out,
			      struct dd_bfile_info *info);
void dd_bridge_file_free(struct dd_bfile *f);

/* The data set of @f (borrowed, lives as long as @f). */
struct dd_bitem *dd_bridge_file_dataset(struct dd_bfile *f);
/* The file meta information group as read (borrowed; empty without one).
 * Read it only: it is rebuilt when the output is written. */
struct dd_bitem *dd_bridge_file_meta(struct dd_bfile *f);

/* ---- elements ---------------------------------------------------------- */

struct dd_belem_info {
	uint32_t tag;
	char vr[3];          /* dcmtk's VR name ("PN", "SQ", "UN", "OB"...) */
	uint32_t length;     /* value length as read (0xffffffff: undefined) */
	bool is_sq;          /* a sequence (has items) */
	size_t n_items;      /* items of a sequence, else 0 */
	const char *creator; /* private creator of a private element, or NULL;
				borrowed until the element changes */
};

/* The element after @prev in @it (@prev NULL: the first); NULL at the
 * end.  Borrowed; valid until it is deleted or @it changes shape. */
struct dd_belem *dd_bridge_item_next(struct dd_bitem *it,
				     struct dd_belem *prev);
/* The element with @tag directly in @it, or NULL. */
struct dd_belem *dd_bridge_item_find(struct dd_bitem *it, uint32_t tag);
void dd_bridge_elem_info(struct dd_belem *e, struct dd_belem_info *info);
/* Item @i of a sequence element (borrowed), or NULL. */
struct dd_bitem *dd_bridge_elem_item(struct dd_belem *e, size_t i);

/* The value of a string-VR element as raw bytes (the data set's character
 * set, every value with its backslashes), appended to @out.  Trailing
 * padding is kept as dcmtk reports it.  DD_E_UNSUPPORTED for non-string
 * VRs. */
dd_err dd_bridge_elem_get(struct dd_belem *e, struct dd_buf *out);
/* Replace the value of a string-VR element with @n bytes at @s. */
dd_err dd_bridge_elem_set(struct dd_belem *e, const char *s, size_t n);
/* Replace the value of a binary element (OB/OW/UN/US/UL/...) with @n raw
 * bytes (little-endian for numbers, as dcmtk's in-memory form). */
dd_err dd_bridge_elem_set_bytes(struct dd_belem *e, const uint8_t *p,
				size_t n);
/* Zero-length value (a sequence: every item removed). */
dd_err dd_bridge_elem_clear(struct dd_belem *e);
/* Remove @e from @it and free it; @e is invalid afterwards. */
dd_err dd_bridge_item_delete(struct dd_bitem *it, struct dd_belem *e);

/* Insert or replace a string element @tag (VR from the dictionary) in @it
 * with value @s. */
dd_err dd_bridge_item_put(struct dd_bitem *it, uint32_t tag, const char *s);
/* Replace @tag in @it by an empty sequence and return it (borrowed). */
dd_err dd_bridge_item_put_seq(struct dd_bitem *it, uint32_t tag,
			      struct dd_belem **seq);
/* Append a new empty item to sequence @seq; returns it (borrowed). */
dd_err dd_bridge_seq_append(struct dd_belem *seq, struct dd_bitem **item);

/* ---- character sets ----------------------------------------------------- */

/* Convert @n bytes of @s, in the DICOM character set @charset (the value of
 * SpecificCharacterSet, e.g. "ISO_IR 100" or "\ISO 2022 IR 87"), to UTF-8,
 * appended to @out.  @pn: the value is a PN (component delimiters reset
 * ISO 2022 state).  DD_E_UNSUPPORTED if dcmtk cannot convert it. */
dd_err dd_bridge_to_utf8(const char *charset, const char *s, size_t n,
			 bool pn, struct dd_buf *out);

/* ---- output ------------------------------------------------------------- */

/* The encapsulated pixel range the C walker found (dd_dicom_walk.c), for
 * the bridge to cross-check with dcmtk's fragments. */
struct dd_bencap {
	bool found;
	uint64_t off;            /* first byte after the PixelData header */
	uint64_t len;            /* items and the sequence delimiter */
	const uint32_t *item_len; /* lengths of the items, offset table first */
	size_t n_items;
};

/* The output in manifest form: @head (literal), then @src_len bytes of the
 * source at @src_off (if @src_len), then @pad zero bytes, then @tail. */
struct dd_bout {
	struct dd_buf head;
	uint64_t src_off;
	uint64_t src_len;
	uint32_t pad;
	struct dd_buf tail;
	bool full;           /* the pixel value was written by dcmtk */
	/* With @full: where the top-level pixel VALUE dcmtk wrote sits in
	 * @head (a native one; an encapsulated one: its items and sequence
	 * delimiter), so that a caller can serve those bytes another way
	 * (val_len 0: not found). */
	uint64_t val_off, val_len;
};

/* Serialise the (modified) file as dcmtk's saveFile() would (same transfer
 * syntax, undefined-length sequences, recalculated group lengths, a new
 * meta header), except that the top-level pixel value, when it is still
 * the source's bytes, becomes a source range.  The meta header gets our
 * ImplementationClassUID/VersionName and the preamble is zeroed.
 * @encap: the walker's range (may be NULL).  @max_literal caps head+tail
 * (DD_E_LIMIT).  @out's buffers must be initialised by the caller. */
dd_err dd_bridge_write_manifest(struct dd_bfile *f,
				const struct dd_bencap *encap,
				size_t max_literal, struct dd_bout *out);

/* The same output as one buffer, written entirely by dcmtk (the pixel
 * value loaded and written through dcmtk): the reference the manifest is
 * tested against, and the path for deflated files.  DD_E_LIMIT over @max. */
dd_err dd_bridge_write_full(struct dd_bfile *f, size_t max,
			    struct dd_buf *out);

/* Our ImplementationClassUID (2.25 + the first 128 bits of
 * SHA-256("deidfs implementation class uid") as a decimal) and
 * ImplementationVersionName. */
#define DD_BRIDGE_IMPL_UID "2.25.338526636298650356559965337329665314211"
#define DD_BRIDGE_IMPL_VERSION "DEIDFS_0_1"

/* ==== end of DICOM engine section ======================================== */

/* ---- sample writer (dd_bridge_gen.cc) ---- */
/* Builds DICOM files from C for the generator (tools/gen, `deid-gen`) and
 * tests: never used on source data.  One struct dd_bgen is one data set
 * under construction (plus its file meta group); one thread at a time.
 *
 * Elements are named by dcmtk dictionary keyword ("PatientName") or as
 * "gggg,eeee" (hex; needed for private tags).  @vr NULL takes the
 * dictionary's VR; give it for private and unknown tags.  Putting an
 * element that is already in the current item replaces it.  Strings are
 * raw bytes in whatever SpecificCharacterSet the caller also puts; several
 * values are separated by backslashes.  DD_E_INVAL for an unknown name
 * or VR, or a value the VR cannot take. */
struct dd_bgen;

enum dd_bgen_xfer {
	DD_BGEN_EXPLICIT_LE = 0, /* 1.2.840.10008.1.2.1 */
	DD_BGEN_IMPLICIT_LE,     /* 1.2.840.10008.1.2 */
	DD_BGEN_EXPLICIT_BE,     /* 1.2.840.10008.1.2.2 (retired) */
	DD_BGEN_DEFLATED_LE,     /* 1.2.840.10008.1.2.1.99 */
};

/* dd_bridge_gen_save() flags */
#define DD_BGEN_NO_META 0x1   /* the bare data set: no preamble, no meta */
#define DD_BGEN_KEEP_META 0x2 /* write the meta group as put with
				 dd_bridge_gen_meta_str() (only
				 TransferSyntaxUID is filled in) */

/* A new, empty data set.  Free with dd_bridge_gen_free(). */
dd_err dd_bridge_gen_new(struct dd_bgen **out);
void dd_bridge_gen_free(struct dd_bgen *g);

/* Put a string-valued element (any VR dcmtk can set from a string,
 * numbers included: "DS", "IS", "US", "UL", "FD", "AT"...).  A sequence
 * (SQ) takes only an empty @value and is put with no items. */
dd_err dd_bridge_gen_str(struct dd_bgen *g, const char *name, const char *vr,
			 const char *value);
/* Put an element with @n 16-bit words (VR "US", "SS", "OW"; @vr NULL:
 * the dictionary's, for PixelData "OW"). */
dd_err dd_bridge_gen_u16(struct dd_bgen *g, const char *name, const char *vr,
			 const uint16_t *v, size_t n);
/* Put an element with @n raw bytes (VR "OB", "UN", or "OW" for an even
 * @n). */
dd_err dd_bridge_gen_bytes(struct dd_bgen *g, const char *name,
			   const char *vr, const uint8_t *p, size_t n);
/* Append a new item to sequence @name in the current item (creating the
 * sequence) and make that item current.  Nesting depth is capped at 16. */
dd_err dd_bridge_gen_seq_push(struct dd_bgen *g, const char *name);
/* Return to the item that holds the current sequence.  DD_E_INVAL at
 * the top level. */
dd_err dd_bridge_gen_seq_pop(struct dd_bgen *g);
/* Put a string element into the file meta group (group 0002). */
dd_err dd_bridge_gen_meta_str(struct dd_bgen *g, const char *name,
			      const char *value);
/* Write the file to @path (created or truncated) in @xfer, with explicit
 * lengths and a new meta group built from SOPClassUID/SOPInstanceUID
 * (see the flags).  Leaves the data set as it was: it can be changed
 * and saved again.  DD_E_IO when dcmtk cannot write. */
dd_err dd_bridge_gen_save(struct dd_bgen *g, const char *path,
			  enum dd_bgen_xfer xfer, unsigned flags);
/* ---- end sample writer ---- */

/* ---- pixel codecs (dd_bridge_pixels.cc) ---- */
/* Owned by the image module (deid/dd_image*.c).  Decoding pixel data frame
 * by frame with dcmtk's codecs (JPEG baseline/extended/lossless, JPEG-LS,
 * RLE; registered once, on first use), and the raw fragments of a frame
 * for the codecs dcmtk 3.6.7 lacks (JPEG 2000: OpenJPEG, in C, in
 * dd_image_j2k.c).  A struct dd_bpix is a file loaded for its pixels only
 * and belongs to one thread at a time. */

struct dd_bpix;

enum dd_bpix_codec {
	DD_BPIX_NATIVE = 0,  /* uncompressed (incl. deflated data sets) */
	DD_BPIX_JPEG,        /* JPEG processes 1, 2/4 (lossy) */
	DD_BPIX_JPEG_LL,     /* JPEG process 14 (lossless) */
	DD_BPIX_JPEGLS,      /* JPEG-LS lossless or near-lossless */
	DD_BPIX_RLE,
	DD_BPIX_J2K,         /* JPEG 2000 (any of the four syntaxes) */
	DD_BPIX_OTHER,       /* MPEG, HTJ2K, ...: not decodable here */
};

struct dd_bpix_info {
	uint32_t rows, cols, frames;   /* frames: NumberOfFrames or 1 */
	uint16_t spp, bits_alloc, bits_stored, high_bit, pixel_rep, planar;
	char photometric[17];          /* as stored, trailing spaces cut */
	enum dd_bpix_codec codec;
	bool lossless;                 /* the transfer syntax is lossless */
	bool big_endian;               /* native Explicit VR Big Endian */
	bool deflated;
	bool has_pixels;               /* top-level PixelData present */
	uint32_t n_fragments;          /* encapsulated: items incl. the BOT */
	char xfer_uid[65];
	/* header facts (for tools and tests; the DICOM engine has its own) */
	char modality[17];
	char manufacturer[65];
	char model[65];
	char sop_class_uid[65];
	char image_type[65];
	bool burned_in_yes;
	bool has_overlays;
};

/* Load the file open at @fd (as dd_bridge_file_load_fd(): through
 * /proc/self/fd, identity checked) and read its pixel geometry.  The fd
 * must stay open until dd_bridge_pixels_close().  DD_E_PARSE for a file
 * dcmtk cannot parse or a missing/incoherent geometry. */
dd_err dd_bridge_pixels_open(int fd, struct dd_bpix **out,
			     struct dd_bpix_info *info);
void dd_bridge_pixels_close(struct dd_bpix *p);

/* Decode frame @i (0-based) into @buf of @len bytes (exactly the native
 * frame size of the decoded geometry; host byte order).  @photometric
 * receives the decoded colour model (dcmtk converts JPEG YBR to RGB) and
 * @planar the decoded planar configuration.  DD_E_UNSUPPORTED for
 * DD_BPIX_J2K/DD_BPIX_OTHER (use dd_bridge_pixels_frame_raw()),
 * DD_E_PARSE when the codec fails, DD_E_RANGE for a bad @i. */
dd_err dd_bridge_pixels_frame(struct dd_bpix *p, uint32_t i, uint8_t *buf,
			      size_t len, char photometric[17],
			      uint16_t *planar);

/* The compressed bytes of frame @i (its fragments, concatenated), appended
 * to @out.  DD_E_INVAL for native pixel data. */
dd_err dd_bridge_pixels_frame_raw(struct dd_bpix *p, uint32_t i,
				  struct dd_buf *out);

/* Replace the top-level PixelData of the DICOM engine's @f with @n bytes of
 * native pixel data (host order; OW for 16-bit, OB for 8-bit), set
 * PhotometricInterpretation to @photometric and PlanarConfiguration to
 * @planar (when SamplesPerPixel > 1), and make the output transfer syntax
 * Explicit VR Little Endian. */
dd_err dd_bridge_pixels_set_native(struct dd_bfile *f, const uint8_t *p,
				   size_t n, uint16_t bits_alloc,
				   const char *photometric, uint16_t planar);

/* ---- pixel encoders (dd_bridge_encode.cc) ---- */
/* Owned by the image module (deid/dd_image_encode.c): the lossless
 * re-encoding of redacted frames (deidfs.redactedEncoding "same") with
 * dcmtk's encoders (RLE, JPEG process 14, JPEG-LS; registered once, on
 * first use), and the encapsulated value of the DICOM engine's output.
 * JPEG 2000 is encoded with OpenJPEG, in C.  Deterministic: the same
 * samples give the same bytes. */

/* The native frames handed to an encoder: DICOM native layout, host
 * order, frame after frame. */
struct dd_bpix_geom {
	uint32_t rows, cols, frames;
	uint16_t spp, bits_alloc, bits_stored, high_bit, pixel_rep, planar;
	const char *photometric;
};

/* True when dd_bridge_pixels_encode() takes @xfer_uid: RLE Lossless
 * (1.2.840.10008.1.2.5), JPEG Lossless (.4.57, .4.70), JPEG-LS Lossless
 * (.4.80). */
bool dd_bridge_pixels_can_encode(const char *xfer_uid);

/* Encode the @n bytes at @px (the frames of @g; @n may have the pad byte
 * of an odd total) with dcmtk's lossless encoder for @xfer_uid, on a data
 * set of its own (the encoders' edits to the header stay there): one
 * fragment per frame, appended to @out, their (even) lengths in
 * @frag_len[0..g->frames).  @photometric receives the encoded colour
 * model.  DD_E_UNSUPPORTED for another transfer syntax, 8/16-bit only, or
 * a geometry the encoder refuses. */
dd_err dd_bridge_pixels_encode(const struct dd_bpix_geom *g,
			       const uint8_t *px, size_t n,
			       const char *xfer_uid, struct dd_buf *out,
			       uint32_t *frag_len, char photometric[17]);

/* Replace the top-level PixelData of the DICOM engine's @f by an
 * encapsulated value in @xfer_uid (PS3.5 A.4): a Basic Offset Table,
 * then @frames fragments, fragment i being frag_len[i] (even) bytes of
 * @frags; set PhotometricInterpretation to @photometric and
 * PlanarConfiguration to @planar (when SamplesPerPixel > 1), and make
 * @xfer_uid the output transfer syntax. */
dd_err dd_bridge_pixels_set_encap(struct dd_bfile *f, const char *xfer_uid,
				  const uint8_t *frags,
				  const uint32_t *frag_len, uint32_t frames,
				  const char *photometric, uint16_t planar);

/* ---- end pixel codecs ---- */

#ifdef __cplusplus
}
#endif
#endif /* DD_BRIDGE_H */
