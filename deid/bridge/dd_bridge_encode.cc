// dd_bridge_encode.cc: lossless re-encoding of redacted pixel data with
// dcmtk's encoders (RLE, JPEG process 14, JPEG-LS), and the encapsulated
// pixel value of the DICOM engine's output (the image module's part of the
// bridge; see "pixel encoders" in dd_bridge.h).
//
// The encoders run on a data set of their own that holds only the pixel
// module: dcmtk's encoders also edit the data set around the pixels
// (ImageType DERIVED, DerivationDescription, new UIDs for lossy), and the
// output's header is the DICOM engine's business, not theirs.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcrlerp.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/dcmjpls/djrparam.h"

#include <memory>
#include <mutex>
#include <new>
#include <stdio.h>
#include <string.h>

#include "dd_bridge.h"
#include "dd_bridge_i.h"

static std::once_flag encoders_once;

static void register_encoders()
{
	// Lossless only here.  JPEG: "true lossless" (the stored samples as
	// they are, no colour conversion), optimised Huffman tables, never a
	// new SOP Instance UID; one fragment per frame and a Basic Offset
	// Table for all three.  Registered for the life of the process.
	DJEncoderRegistration::registerCodecs(
		ECC_lossyYCbCr, EUC_never, OFTrue /* optimise Huffman */, 0, 0,
		0 /* fragment size: one per frame */, OFTrue /* offset table */,
		ESS_444, OFFalse, OFFalse, 0, 0, 0.0, 0.0, 0, 0, 0, 0, OFTrue,
		OFFalse, OFFalse, OFFalse, OFTrue /* true lossless */);
	// JPEG-LS "raw" (not "cooked"): the stored samples as they are; the
	// cooked path goes through dcmimage, which is not linked in here
	DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, OFFalse, 0, OFTrue,
						EJLSUC_never);
	DcmRLEEncoderRegistration::registerCodecs(OFFalse, 0, OFTrue);
}

static bool xfer_of(const char *uid, E_TransferSyntax *x)
{
	DcmXfer dx(uid);

	*x = dx.getXfer();
	switch (*x) {
	case EXS_RLELossless:
	case EXS_JPEGProcess14:
	case EXS_JPEGProcess14SV1:
	case EXS_JPEGLSLossless:
		return true;
	default:
		return false;
	}
}

extern "C" bool dd_bridge_pixels_can_encode(const char *xfer_uid)
{
	E_TransferSyntax x;

	if (dd_bridge_init()) /* a deferred set-up: at first use */
		return false;
	return xfer_uid && xfer_of(xfer_uid, &x);
}

static OFCondition put_geom(DcmDataset &ds, const struct dd_bpix_geom *g)
{
	OFCondition c = ds.putAndInsertUint16(DCM_Rows, (Uint16)g->rows);
	if (c.good())
		c = ds.putAndInsertUint16(DCM_Columns, (Uint16)g->cols);
	if (c.good())
		c = ds.putAndInsertUint16(DCM_SamplesPerPixel, g->spp);
	if (c.good())
		c = ds.putAndInsertString(DCM_PhotometricInterpretation,
					  g->photometric);
	if (c.good() && g->spp > 1)
		c = ds.putAndInsertUint16(DCM_PlanarConfiguration, g->planar);
	if (c.good())
		c = ds.putAndInsertUint16(DCM_BitsAllocated, g->bits_alloc);
	if (c.good())
		c = ds.putAndInsertUint16(DCM_BitsStored, g->bits_stored);
	if (c.good())
		c = ds.putAndInsertUint16(DCM_HighBit, g->high_bit);
	if (c.good())
		c = ds.putAndInsertUint16(DCM_PixelRepresentation, g->pixel_rep);
	if (c.good() && g->frames > 1) {
		char nf[16];
		snprintf(nf, sizeof(nf), "%u", g->frames);
		c = ds.putAndInsertString(DCM_NumberOfFrames, nf);
	}
	return c;
}

static dd_err pix_encode(const struct dd_bpix_geom *g, const uint8_t *px,
			 size_t n, const char *xfer_uid, struct dd_buf *out,
			 uint32_t *frag_len, char photometric[17])
{
	E_TransferSyntax x;

	if (!xfer_uid || !xfer_of(xfer_uid, &x))
		return DD_E_UNSUPPORTED;
	if (!g->rows || !g->cols || g->rows > 0xffff || g->cols > 0xffff ||
	    !g->frames || (g->bits_alloc != 8 && g->bits_alloc != 16) ||
	    (g->spp != 1 && g->spp != 3) || n > 0xfffffffeUL)
		return DD_E_UNSUPPORTED;
	uint64_t want = (uint64_t)g->rows * g->cols * g->spp *
			(g->bits_alloc / 8) * g->frames;
	if (n != want && n != want + (want & 1))
		return DD_E_INVAL;
	std::call_once(encoders_once, register_encoders);

	DcmDataset ds;
	OFCondition c = put_geom(ds, g);
	if (c.bad())
		return DD_E_INTERNAL;
	DcmPixelData *pd = new DcmPixelData(DCM_PixelData);
	if (g->bits_alloc > 8) {
		pd->setVR(EVR_OW);
		c = pd->putUint16Array(reinterpret_cast<const Uint16 *>(px),
				       (unsigned long)(n / 2));
	} else {
		pd->setVR(EVR_OB);
		c = pd->putUint8Array(px, (unsigned long)n);
	}
	if (c.good())
		c = ds.insert(pd, OFTrue);
	else
		delete pd;
	if (c.bad())
		return DD_E_INTERNAL;

	DJ_RPLossless jpeg_ll(1 /* predictor */, 0 /* point transform */);
	DJLSRepresentationParameter jls(0 /* NEAR */, OFTrue /* lossless */);
	DcmRLERepresentationParameter rle;
	const DcmRepresentationParameter *rp = &rle;
	if (x == EXS_JPEGProcess14 || x == EXS_JPEGProcess14SV1)
		rp = &jpeg_ll;
	else if (x == EXS_JPEGLSLossless)
		rp = &jls;
	c = ds.chooseRepresentation(x, rp);
	if (c.bad())
		return DD_E_UNSUPPORTED; // the encoder refused this geometry

	DcmPixelSequence *seq = NULL;
	if (pd->getEncapsulatedRepresentation(x, rp, seq).bad() || !seq)
		return DD_E_INTERNAL;
	// one fragment per frame after the offset table (fragment size 0)
	if (seq->card() != (unsigned long)g->frames + 1)
		return DD_E_UNSUPPORTED;
	for (uint32_t i = 0; i < g->frames; i++) {
		DcmPixelItem *it = NULL;
		Uint8 *d = NULL;
		if (seq->getItem(it, i + 1).bad() || !it)
			return DD_E_INTERNAL;
		Uint32 len = it->getLength();
		if ((len & 1) || !len || it->getUint8Array(d).bad() || !d)
			return DD_E_INTERNAL;
		dd_err err = dd_buf_add(out, d, len);
		if (err != DD_OK)
			return err;
		frag_len[i] = len;
	}
	const char *pi = NULL;
	if (ds.findAndGetString(DCM_PhotometricInterpretation, pi).bad() || !pi)
		return DD_E_INTERNAL;
	snprintf(photometric, 17, "%s", pi);
	return DD_OK;
}

extern "C" dd_err dd_bridge_pixels_encode(const struct dd_bpix_geom *g,
					  const uint8_t *px, size_t n,
					  const char *xfer_uid,
					  struct dd_buf *out,
					  uint32_t *frag_len,
					  char photometric[17])
{
	dd_err e = dd_bridge_init(); /* a deferred set-up: at first use */

	if (e)
		return e;
	DD_BRIDGE_TRY(return pix_encode(g, px, n, xfer_uid, out, frag_len,
					photometric);)
}

static dd_err pix_set_encap(struct dd_bfile *f, const char *xfer_uid,
			    const uint8_t *frags, const uint32_t *frag_len,
			    uint32_t frames, const char *photometric,
			    uint16_t planar)
{
	DcmXfer dx(xfer_uid);
	E_TransferSyntax x = dx.getXfer();

	if (x == EXS_Unknown || !dx.isEncapsulated() || !frames ||
	    frames > 0x3fffffffu)
		return DD_E_INVAL;
	DcmPixelData *pd = dd_bridge_pixel_data(f);
	if (!pd)
		return DD_E_INVAL;

	// PS3.5 A.4: a Basic Offset Table (the offset of each frame's first
	// fragment item from the first fragment item), then one fragment per
	// frame, every item of even length
	std::unique_ptr<DcmPixelSequence> seq(
		new DcmPixelSequence(DCM_PixelSequenceTag));
	std::unique_ptr<Uint8[]> bot(new Uint8[4 * (size_t)frames]);
	uint64_t off = 0, pos = 0;
	for (uint32_t i = 0; i < frames; i++) {
		if ((frag_len[i] & 1) || !frag_len[i] || off > 0xffffffffull)
			return DD_E_INVAL;
		for (int k = 0; k < 4; k++)
			bot[4 * i + k] = (Uint8)(off >> (8 * k));
		off += 8 + (uint64_t)frag_len[i];
	}
	DcmPixelItem *it = new DcmPixelItem(DCM_PixelItemTag);
	OFCondition c = it->putUint8Array(bot.get(), 4 * (unsigned long)frames);
	if (c.good())
		c = seq->insert(it);
	else
		delete it;
	for (uint32_t i = 0; c.good() && i < frames; i++) {
		it = new DcmPixelItem(DCM_PixelItemTag);
		c = it->putUint8Array(frags + pos, frag_len[i]);
		if (c.good())
			c = seq->insert(it);
		else
			delete it;
		pos += frag_len[i];
	}
	if (c.bad())
		return DD_E_INTERNAL;
	// the native value and the source's fragments go; the new sequence
	// is the only representation left
	pd->putOriginalRepresentation(x, NULL, seq.release());
	pd->setVR(EVR_OB);
	return dd_bridge_pixels_describe(f, photometric, planar, x);
}

extern "C" dd_err dd_bridge_pixels_set_encap(struct dd_bfile *f,
					     const char *xfer_uid,
					     const uint8_t *frags,
					     const uint32_t *frag_len,
					     uint32_t frames,
					     const char *photometric,
					     uint16_t planar)
{
	DD_BRIDGE_TRY(return pix_set_encap(f, xfer_uid, frags, frag_len,
					   frames, photometric, planar);)
}
