/* dd_image.h: burnt-in text redaction of DICOM pixel data.
 *
 * What it does, in the order a caller uses it:
 *
 *   1. dd_image_size_plan(): decode what is needed (frame 0 and the
 *      frames the pre-pass looks at), run the text pre-pass (dd_prepass.h)
 *      and decide, WITHOUT OCR, whether the pixel data will be rewritten
 *      and how (enum dd_image_out).  The output size of the pixel value is
 *      known from this step: st_size never waits for OCR.
 *   2. dd_image_redact_plan(): step 1 plus OCR (dd_ocr.h) on the flagged
 *      regions and, for images the header marks, on whole frames; words are
 *      judged by the policy's mode (dd_text for the sensitive modes) and
 *      become redaction boxes (struct dd_boxes), padded, plus the policy's
 *      fixed per-device regions.  The boxes are what the cache stores
 *      (dd_boxes_encode/decode).
 *   3. Output, from the plan and its boxes (no OCR again):
 *      - DD_IMAGE_OUT_NATIVE_PATCH (uncompressed source): the pixel value
 *        keeps its size and layout; dd_image_native_runs() lists the byte
 *        runs to overwrite (offset in the pixel VALUE, length, fill
 *        pattern), to turn into manifest segments: source ranges between
 *        runs, literal fill bytes for runs;
 *      - DD_IMAGE_OUT_EXPLICIT_LE (compressed source, the default): every
 *        frame decoded, boxes applied, written as native pixel data
 *        (dd_image_pixels()); the file becomes Explicit VR Little Endian
 *        with the plan's out_photometric / out_planar (the engine must set
 *        PhotometricInterpretation, PlanarConfiguration, and keep
 *        LossyImageCompression as it was: a lossy source stays "01");
 *        dd_bridge_pixels_set_native() puts the value into the engine's
 *        struct dd_bfile and switches its transfer syntax;
 *      - DD_IMAGE_OUT_SAME_CODEC (deidfs.redactedEncoding "same", and
 *        dd_image_same_xfer() has an encoder for the source's family
 *        and geometry, else EXPLICIT_LE): as EXPLICIT_LE, then
 *        re-encoded losslessly (dd_image_encode_same()) and put back
 *        with dd_bridge_pixels_set_encap(); only then is the size known
 *        (so a size needs OCR: the DICOM engine's size-only transform
 *        runs the full one for these).  A frame the codec could not
 *        give back (dd_image_encode() DD_E_UNSUPPORTED) makes the
 *        engine write Explicit VR Little Endian after all.
 *      - DD_IMAGE_OUT_KEEP: nothing to change (no boxes possible or mode
 *        REDACT_NO_TEXT with no fixed regions).
 *
 * Boxes are in pixel coordinates of the frame (x right, y down), the same
 * for every frame: the union found on the OCR'd frames is applied to ALL
 * frames.  Every box is filled with the image's background value:
 *   MONOCHROME2: the smallest stored value of frame 0 (black);
 *   MONOCHROME1: the largest stored value of frame 0 (black on display);
 *   RGB: 0,0,0; YBR_FULL / YBR_FULL_422: Y 0, Cb Cr 128 (black; a 422 box
 *   is widened to even x so that chroma pairs are whole);
 *   PALETTE COLOR: the smallest index of frame 0 (usually, not surely,
 *   the darkest entry: the palette is not read).
 *
 * Determinism: for the same file bytes and the same policy, the boxes,
 * and so the output bytes, are the same in every run and with 1 or 2 OCR
 * workers.  Work limits are counts (deidfs.ocrMaxPixels, the frame subset);
 * the only wall-clock limit (deidfs.ocrTimeoutS) makes the call fail with
 * DD_E_TIMEOUT, and the caller hides the file: there is no other output.
 *
 * Not done here: overlays (60xx) are the DICOM engine's to remove; icon
 * images are not looked at; pixel data with BitsAllocated other than 8,
 * 16 or 32 (32: monochrome and RGB; the pre-pass and OCR see the top bits
 * of each sample), 1-bit data and float pixel data give DD_E_UNSUPPORTED
 * (the engine hides a marked file).
 * Nothing of the OCR'd text is logged, ever.
 *
 * Threads: a struct dd_image is immutable after dd_image_new() (its OCR
 * pool has its own lock): any number of threads may call the functions
 * below at once, each with its own plan.
 */
#ifndef DD_IMAGE_H
#define DD_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_buf.h"
#include "dd_err.h"
#include "dd_policy.h"
#include "dd_text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- geometry and frames --------------------------------------------------- */

enum dd_photometric {
	DD_PHOTO_UNKNOWN = 0,
	DD_PHOTO_MONOCHROME1,
	DD_PHOTO_MONOCHROME2,
	DD_PHOTO_RGB,
	DD_PHOTO_YBR_FULL,
	DD_PHOTO_YBR_FULL_422,
	DD_PHOTO_PALETTE,
};

/* "MONOCHROME2" -> DD_PHOTO_MONOCHROME2 (trailing spaces ignored). */
enum dd_photometric dd_photometric_from_name(const char *s);
/* The DICOM name ("YBR_FULL_422"); "" for DD_PHOTO_UNKNOWN. */
const char *dd_photometric_name(enum dd_photometric p);

/* The layout of one decoded frame: native DICOM layout in host (little-
 * endian) order, samples interleaved unless @planar. */
struct dd_image_geom {
	uint32_t rows, cols;
	uint16_t spp;         /* samples per pixel: 1 or 3 */
	uint16_t bits_alloc;  /* 8, 16 or 32 (32: MONOCHROME* and RGB only) */
	uint16_t bits_stored;
	uint16_t high_bit;
	bool is_signed;       /* PixelRepresentation 1 */
	bool planar;          /* PlanarConfiguration 1 (colour by plane) */
	enum dd_photometric photo;
};

/* Bytes of one frame of @g (0 if the geometry is invalid or too large). */
size_t dd_image_frame_bytes(const struct dd_image_geom *g);

/* ---- boxes ------------------------------------------------------------------ */

struct dd_box {
	uint32_t x, y, w, h; /* w, h > 0 */
};

/* A growable list of boxes (caller-allocated; zero-initialised or
 * dd_boxes_init()).  Capped at DD_BOXES_MAX entries (DD_E_LIMIT). */
struct dd_boxes {
	struct dd_box *v; /* owned */
	size_t n, cap;
};
#define DD_BOXES_MAX 4096

void dd_boxes_init(struct dd_boxes *b);
void dd_boxes_free(struct dd_boxes *b);
dd_err dd_boxes_add(struct dd_boxes *b, struct dd_box box);
/* Clip every box to cols x rows (dropping empty ones), sort them (y, x, h,
 * w), and merge exact duplicates and boxes contained in another.  The
 * result is canonical: the same set gives the same list. */
void dd_boxes_normalize(struct dd_boxes *b, uint32_t cols, uint32_t rows);

/* Cache form: "DDBX", version 1, count (u32 le), then x, y, w, h (u32 le)
 * per box, then a 32-bit FNV-1a of everything before it.  Appended to @out. */
dd_err dd_boxes_encode(const struct dd_boxes *b, struct dd_buf *out);
/* Parse bytes from outside (a cache record): every field is checked (magic,
 * version, count <= DD_BOXES_MAX, exact length, w/h > 0, x+w and y+h <=
 * 65535, checksum).  DD_E_CORRUPT on any mismatch; @out is reset first
 * and left empty on error. */
dd_err dd_boxes_decode(const uint8_t *p, size_t n, struct dd_boxes *out);

/* ---- the engine --------------------------------------------------------------- */

struct dd_image;

/* Build it: the image config (mode, infoTypes) and the deidfs OCR settings
 * are taken from @pol (the image config is options.cleanImage, else the
 * top-level "image"; @mode_override >= 0 replaces the mode, e.g. for a
 * cleanImageTag action).  Makes a pool of deidfs.ocrWorkers OCR threads
 * when the mode is not REDACT_NO_TEXT, started (and tesseract's model
 * loaded) at the first image OCR'd, not here (needs OMP_THREAD_LIMIT=1 in
 * the environment, see dd_ocr_ensure_env(); DD_E_INVAL otherwise).  @text
 * (may be NULL unless the mode is a sensitive one) and @pol must outlive
 * the result. */
dd_err dd_image_new(const struct dd_policy *pol, int mode_override,
		    const struct dd_text *text, struct dd_image **out);
void dd_image_free(struct dd_image *im);

/* The image config the DICOM engine applies to pixel data that no
 * cleanImageTag action names: options.cleanImage (the policy loader copies
 * a top-level "image" into it), or fixed OCR regions alone (then
 * REDACT_NO_TEXT).  False when there is none; else *@mode is its mode. */
bool dd_image_policy_base(const struct dd_policy *pol,
			  enum dd_redaction_mode *mode);

/* The start-up check of a program about to serve or write images: DD_OK
 * when no image engine of @pol runs OCR (the base config and every
 * cleanImageTag action are REDACT_NO_TEXT) or when OCR can run here
 * (dd_ocr_check(): a model load, ~0.1 s); else that error, with what it
 * means for the user in @msg (one line, no program name). */
dd_err dd_image_check_ocr(const struct dd_policy *pol, char *msg, size_t n);

/* What the DICOM engine knows from the header (strings as stored, trailing
 * spaces allowed; NULL: absent). */
struct dd_image_facts {
	const char *modality;      /* (0008,0060) */
	const char *sop_class_uid; /* (0008,0016) */
	const char *manufacturer;  /* (0008,0070) */
	const char *model;         /* (0008,1090) ManufacturerModelName */
	const char *image_type;    /* (0008,0008) */
	bool burned_in_yes;        /* BurnedInAnnotation (0028,0301) "YES" */
	bool has_overlays;         /* any (60xx,3000) or (60xx,0010) */
};

/* True when the header marks the image as likely to carry burnt-in text
 * (BurnedInAnnotation YES, overlays, US/SC/OT/XA/ES/IVUS/XC/GM/SM or a
 * secondary-capture SOP class): such images are OCR'd whole, and one that
 * cannot be decoded must be hidden. */
bool dd_image_facts_marked(const struct dd_image_facts *f);

enum dd_image_out {
	DD_IMAGE_OUT_KEEP = 0,      /* pixel data unchanged */
	DD_IMAGE_OUT_NATIVE_PATCH,  /* uncompressed: same size, runs overwritten */
	DD_IMAGE_OUT_EXPLICIT_LE,   /* compressed source written as native */
	DD_IMAGE_OUT_SAME_CODEC,    /* re-encoded losslessly in the source codec */
};

/* Why OCR looks at a whole frame / the flagged regions. */
enum {
	DD_IMAGE_MARKED_BURNED_IN = 1u << 0, /* BurnedInAnnotation YES */
	DD_IMAGE_MARKED_MODALITY = 1u << 1,  /* US, SC, OT, XA, ES, sec. capture */
	DD_IMAGE_MARKED_OVERLAY = 1u << 2,   /* overlays present */
	DD_IMAGE_FLAGGED_PREPASS = 1u << 3,  /* the pre-pass found candidates */
	DD_IMAGE_FIXED_REGION = 1u << 4,     /* a policy region matched */
};

struct dd_image_plan {
	struct dd_image_geom src;    /* the source's geometry (native layout) */
	struct dd_image_geom out;    /* the decoded / output geometry */
	uint32_t frames;
	char xfer_uid[65];           /* the source transfer syntax */
	bool compressed;             /* encapsulated source */
	bool big_endian;             /* native Explicit VR Big Endian source */
	unsigned why;                /* DD_IMAGE_* bits */
	enum dd_image_out out_kind;
	/* Size of the output pixel VALUE in bytes (even), valid for KEEP
	 * (source length unknown here: 0), NATIVE_PATCH (= source), and
	 * EXPLICIT_LE; for SAME_CODEC the native value's (the frames
	 * dd_image_pixels() gives, before encoding: the encoded size is
	 * known only after OCR and encoding). */
	uint64_t out_pixel_len;
	struct dd_boxes boxes;       /* owned; empty after size_plan */
	uint32_t fill[3];            /* background, raw stored sample values */
	/* pre-pass result (for tests and reports) */
	struct dd_boxes candidates;  /* owned: pre-pass candidate regions */
	uint16_t *cand_text_h;       /* owned: text height per candidate (the
					tallest pre-pass line in it; 0: unknown) */
	uint32_t *ocr_frames;        /* owned: the frame subset OCR looks at */
	size_t n_ocr_frames;
	uint32_t frames_ocr;         /* frames OCR'd (after redact_plan) */
	uint32_t ocr_calls;          /* tesseract calls (after redact_plan) */
	uint32_t words;              /* words OCR found */
	uint32_t words_redacted;
};

void dd_image_plan_init(struct dd_image_plan *p);
void dd_image_plan_free(struct dd_image_plan *p);

/* Step 1 (see the top): geometry, pre-pass, output kind and size; no OCR.
 * @fd: the DICOM file (read-only; may be shared with the engine, it is
 * only read with pread/dcmtk through /proc/self/fd).  Errors:
 * DD_E_PARSE (not readable DICOM / pixel data), DD_E_UNSUPPORTED (pixel
 * format we do not handle), DD_E_LIMIT (over deidfs.ocrMaxPixels decoded
 * pixels), DD_E_NOMEM. */
dd_err dd_image_size_plan(const struct dd_image *im, int fd,
			  const struct dd_image_facts *facts,
			  struct dd_image_plan *plan);

/* Step 2: step 1, then OCR; @plan->boxes is the result.  @ctx: the
 * header's values (dd_text_ctx_add()), used by the sensitive modes (may be
 * NULL).  DD_E_TIMEOUT when deidfs.ocrTimeoutS passed (hide the file),
 * DD_E_UNSUPPORTED from dd_text (fail closed), and step 1's errors.  The
 * out_kind/out_pixel_len of step 1 are not changed by OCR. */
dd_err dd_image_redact_plan(const struct dd_image *im, int fd,
			    const struct dd_image_facts *facts,
			    const struct dd_text_ctx *ctx,
			    struct dd_image_plan *plan);

/* ---- output ------------------------------------------------------------------- */

/* One run of a native patch: bytes [off, off+len) of the pixel VALUE
 * become @len bytes of the repeated fill pattern pat[0..pat_len) (the
 * pattern starts at the run's first byte; pat_len is 1, 2, 3, 4, 6 or 12:
 * samples x bytes, or 4 (Y Y Cb Cr) for YBR_FULL_422). */
#define DD_IMAGE_PAT_MAX 12
struct dd_image_run {
	uint64_t off;
	uint32_t len;
	uint8_t pat[DD_IMAGE_PAT_MAX];
	uint8_t pat_len;
};

/* The runs for DD_IMAGE_OUT_NATIVE_PATCH and @boxes (e.g. decoded from the
 * cache), sorted by offset, non-overlapping, covering every frame, in the
 * source's byte order.  *runs is malloc'd (free()); at most
 * DD_IMAGE_MAX_RUNS (DD_E_LIMIT).  DD_E_INVAL for another out_kind. */
#define DD_IMAGE_MAX_RUNS (1u << 24)
dd_err dd_image_native_runs(const struct dd_image_plan *plan,
			    const struct dd_boxes *boxes,
			    struct dd_image_run **runs, size_t *n_runs);

/* Apply @runs to @n bytes of the pixel value that start at value offset
 * @off (for a reader that copies source bytes and patches them). */
void dd_image_runs_apply(const struct dd_image_run *runs, size_t n_runs,
			 uint64_t off, uint8_t *p, size_t n);

/* The whole output pixel value (native, host order, out geometry, padded
 * to even length) with @boxes applied to every frame: for EXPLICIT_LE,
 * and for NATIVE_PATCH as a reference (tests).  Appended to @out (its cap
 * must allow out_pixel_len).  Decodes every frame again.  Only the plan's
 * out geometry, frames, xfer_uid, compressed and fill are read (a plan
 * rebuilt by dd_image_desc_decode() is enough); a source whose pixel data
 * no longer has them gives DD_E_CHANGED.  @im is not used (may be NULL). */
dd_err dd_image_pixels(const struct dd_image *im, int fd,
		       const struct dd_image_plan *plan,
		       const struct dd_boxes *boxes, struct dd_buf *out);

/* Fill @boxes in one decoded frame @frame (out geometry) with @fill. */
void dd_image_frame_fill(const struct dd_image_geom *g, uint8_t *frame,
			 const struct dd_boxes *boxes, const uint32_t fill[3]);

/* ---- re-encoding (dd_image_encode.c) ----------------------------------------- */

/* Frames re-encoded for DD_IMAGE_OUT_SAME_CODEC: one fragment per frame. */
struct dd_image_enc {
	char xfer_uid[65];     /* the output transfer syntax */
	char photometric[17];  /* the output PhotometricInterpretation */
	uint16_t planar;       /* the output PlanarConfiguration (always 0) */
	uint32_t frames;
	uint32_t *frag_len;    /* owned: frame i's fragment length (even) */
	struct dd_buf frags;   /* the fragments, frame after frame */
};

void dd_image_enc_init(struct dd_image_enc *e);
void dd_image_enc_free(struct dd_image_enc *e);

/* The transfer syntax a compressed source in @src_xfer is re-encoded in
 * for redactedEncoding "same", its frames decoded to geometry @g: a
 * lossless syntax is kept (RLE, JPEG .57/.70, JPEG-LS .80, J2K .90/.92);
 * a lossy one gets the lossless process of its family (JPEG .50/.51 ->
 * .70, JPEG-LS .81 -> .80, J2K .91 -> .90, .93 -> .92).  NULL when no
 * encoder here takes it (another syntax; 32-bit samples, HighBit not
 * BitsStored - 1, signed colour, a colour model the codec would change):
 * the image is written as Explicit VR Little Endian then. */
const char *dd_image_same_xfer(const char *src_xfer,
			       const struct dd_image_geom *g);

/* Encode the @n bytes of native frames at @px (@frames frames of @g, as
 * dd_image_pixels() gives them, pad byte allowed) losslessly in @xfer_uid
 * (a lossless syntax dd_image_same_xfer() gives): RLE, JPEG lossless and
 * JPEG-LS with dcmtk's encoders, JPEG 2000 with OpenJPEG (reversible 5/3,
 * RGB with the reversible colour transform: photometric YBR_RCT).
 * Colour by plane is interleaved first.  Deterministic.  @out is reset
 * first.  DD_E_UNSUPPORTED when a sample has bits the codec would not give
 * back (JPEG, JPEG-LS: any above BitsStored; JPEG 2000: any but a signed
 * sample's sign extension; RLE keeps all) or the encoder refuses the
 * geometry: the caller writes Explicit VR Little Endian. */
dd_err dd_image_encode(const struct dd_image_geom *g, uint32_t frames,
		       const char *xfer_uid, const uint8_t *px, size_t n,
		       struct dd_image_enc *out);

/* The encapsulated pixel VALUE of @e as the output holds it after the
 * PixelData element header (OB, undefined length), appended to @out: the
 * Basic Offset Table item, one item per frame, the sequence delimitation
 * item (PS3.5 A.4, little endian); the bytes dcmtk writes after
 * dd_bridge_pixels_set_encap(), for a reader that rebuilds the value
 * without dcmtk (unit_image_encode checks they are). */
dd_err dd_image_enc_value(const struct dd_image_enc *e, struct dd_buf *out);

/* dd_image_encode() of @plan's output pixel value (dd_image_pixels()) in
 * dd_image_same_xfer(plan->xfer_uid, &plan->out). */
dd_err dd_image_encode_same(const struct dd_image_plan *plan,
			    const uint8_t *px, size_t n,
			    struct dd_image_enc *out);

/* ---- regeneration descriptor ------------------------------------------------ *
 *
 * A DD_IMAGE_OUT_EXPLICIT_LE or DD_IMAGE_OUT_SAME_CODEC value is not
 * kept in the cache: the manifest holds a DD_SEG_REGEN segment whose
 * engine bytes are this descriptor, and a read rebuilds the value with
 * dd_image_pixels() (then dd_image_encode_same() and dd_image_enc_value()
 * for SAME_CODEC) from the source alone.  The descriptor carries what
 * they need from a plan (output geometry, frames, the source's transfer
 * syntax, fill values, the value's length: the geometry's for
 * EXPLICIT_LE, the encoded one's for SAME_CODEC),
 * the boxes, and a mark of the source bytes the value was made from
 * (the encapsulated pixel data, or the whole file): a regenerator that
 * finds other bytes there refuses (DD_E_CHANGED) instead of decoding them.
 * Small: 105 bytes + the UID + 16 per box (4096 boxes at most). */

/* The source bytes a value comes from: [off, off+len) and the first 16
 * bytes of their SHA-256. */
struct dd_image_src_mark {
	uint64_t off, len;
	uint8_t digest[16];
};

/* The largest value a descriptor may describe (1 GiB: the DICOM engine's
 * cap on a rewritten pixel value). */
#define DD_IMAGE_DESC_MAX_VALUE (1ull << 30)

/* Append the descriptor of @plan (out_kind EXPLICIT_LE or SAME_CODEC,
 * out_pixel_len the REGEN segment's length; its boxes are plan->boxes)
 * and @mark to @out (versioned, checksummed; see dd_image_box.c for the
 * layout).  DD_E_INVAL for another out_kind or an inconsistent plan; @out
 * is left as it was on error.  A SAME_CODEC plan whose value the encoder
 * refused (written native) is described as EXPLICIT_LE. */
dd_err dd_image_desc_encode(const struct dd_image_plan *plan,
			    const struct dd_image_src_mark *mark,
			    struct dd_buf *out);
/* Parse @n bytes from outside (a cache record) into @plan (freed and
 * refilled: out/src geometry, frames, xfer_uid, compressed, out_kind,
 * out_pixel_len, fill, boxes) and @mark.  Every field is checked (magic,
 * version, kind, flags, geometry the decoder can produce, value length =
 * the geometry's (EXPLICIT_LE) or even and within the cap (SAME_CODEC),
 * fill values within the sample size, the UID's
 * characters, boxes inside the frame, exact lengths, checksum):
 * DD_E_CORRUPT on any mismatch, DD_E_NOMEM; @plan is then empty. */
dd_err dd_image_desc_decode(const uint8_t *p, size_t n,
			    struct dd_image_plan *plan,
			    struct dd_image_src_mark *mark);

#ifdef __cplusplus
}
#endif
#endif /* DD_IMAGE_H */
