// dd_bridge_pixels.cc: pixel data frame by frame through dcmtk's codecs
// (the image module's part of the bridge; see "pixel codecs" in
// dd_bridge.h).
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfcache.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"

#include <memory>
#include <mutex>
#include <new>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <vector>

#include "dd_bridge.h"
#include "dd_bridge_i.h"

struct dd_bpix {
	DcmFileFormat ff;
	DcmPixelData *pd = nullptr;
	DcmFileCache cache;
	E_TransferSyntax xfer = EXS_Unknown;
	uint32_t frames = 1;
	uint32_t next_frame = 0; // frame whose start fragment is next_start
	Uint32 next_start = 0;
};

static std::once_flag codecs_once;

static void register_codecs()
{
	// Decoders only; colour models as dcmtk decides by default (JPEG YBR
	// becomes RGB).  Registered for the life of the process.
	DJDecoderRegistration::registerCodecs();
	DJLSDecoderRegistration::registerCodecs();
	DcmRLEDecoderRegistration::registerCodecs();
}

static void copy_str(DcmItem *ds, const DcmTagKey &t, char *dst, size_t n)
{
	const char *v = NULL;
	dst[0] = 0;
	if (ds->findAndGetString(t, v).good() && v) {
		snprintf(dst, n, "%s", v);
		size_t l = strlen(dst);
		while (l && dst[l - 1] == ' ')
			dst[--l] = 0;
	}
}

static enum dd_bpix_codec codec_of(E_TransferSyntax x)
{
	switch (x) {
	case EXS_JPEGProcess1:
	case EXS_JPEGProcess2_4:
		return DD_BPIX_JPEG;
	case EXS_JPEGProcess14:
	case EXS_JPEGProcess14SV1:
		return DD_BPIX_JPEG_LL;
	case EXS_JPEGLSLossless:
	case EXS_JPEGLSLossy:
		return DD_BPIX_JPEGLS;
	case EXS_RLELossless:
		return DD_BPIX_RLE;
	case EXS_JPEG2000LosslessOnly:
	case EXS_JPEG2000:
	case EXS_JPEG2000MulticomponentLosslessOnly:
	case EXS_JPEG2000Multicomponent:
		return DD_BPIX_J2K;
	default:
		return DcmXfer(x).isEncapsulated() ? DD_BPIX_OTHER
						   : DD_BPIX_NATIVE;
	}
}

static bool has_overlays(DcmDataset *ds)
{
	for (unsigned g = 0x6000; g <= 0x601e; g += 2) {
		if (ds->tagExists(DcmTagKey((Uint16)g, 0x3000)) ||
		    ds->tagExists(DcmTagKey((Uint16)g, 0x0010)))
			return true;
	}
	return false;
}

static dd_err pix_open(int fd, struct dd_bpix **out, struct dd_bpix_info *in)
{
	struct stat st;

	*out = NULL;
	memset(in, 0, sizeof(*in));
	if (fd < 0 || fstat(fd, &st) != 0)
		return DD_E_IO;
	std::call_once(codecs_once, register_codecs);

	/* read through the view's fd (O_NOATIME, never reopened by name) */
	dd_bpix *p = new dd_bpix();
	OFCondition c = dd_bridge_read_fd(p->ff, fd, 4096);
	if (c.bad()) {
		delete p;
		return DD_E_PARSE;
	}
	DcmDataset *ds = p->ff.getDataset();
	p->xfer = ds->getOriginalXfer();
	DcmXfer x(p->xfer);
	snprintf(in->xfer_uid, sizeof(in->xfer_uid), "%s",
		 x.getXferID() ? x.getXferID() : "");
	in->codec = codec_of(p->xfer);
	in->lossless = !x.isEncapsulated() || x.isLossless();
	in->big_endian = !x.isEncapsulated() && x.isBigEndian();
	in->deflated = x.getStreamCompression() != ESC_none;

	copy_str(ds, DCM_Modality, in->modality, sizeof(in->modality));
	copy_str(ds, DCM_Manufacturer, in->manufacturer,
		 sizeof(in->manufacturer));
	copy_str(ds, DCM_ManufacturerModelName, in->model, sizeof(in->model));
	copy_str(ds, DCM_SOPClassUID, in->sop_class_uid,
		 sizeof(in->sop_class_uid));
	OFString it;
	if (ds->findAndGetOFStringArray(DCM_ImageType, it).good())
		snprintf(in->image_type, sizeof(in->image_type), "%s",
			 it.c_str());
	char bia[17];
	copy_str(ds, DCM_BurnedInAnnotation, bia, sizeof(bia));
	in->burned_in_yes = strcmp(bia, "YES") == 0;
	in->has_overlays = has_overlays(ds);

	Uint16 v = 0;
	bool ok = true;
	ok &= ds->findAndGetUint16(DCM_Rows, v).good();
	in->rows = v;
	ok &= ds->findAndGetUint16(DCM_Columns, v).good();
	in->cols = v;
	ok &= ds->findAndGetUint16(DCM_BitsAllocated, v).good();
	in->bits_alloc = v;
	if (ds->findAndGetUint16(DCM_SamplesPerPixel, v).bad())
		v = 1;
	in->spp = v;
	if (ds->findAndGetUint16(DCM_BitsStored, v).bad())
		v = in->bits_alloc;
	in->bits_stored = v;
	if (ds->findAndGetUint16(DCM_HighBit, v).bad())
		v = (Uint16)(in->bits_stored ? in->bits_stored - 1 : 0);
	in->high_bit = v;
	if (ds->findAndGetUint16(DCM_PixelRepresentation, v).bad())
		v = 0;
	in->pixel_rep = v;
	if (ds->findAndGetUint16(DCM_PlanarConfiguration, v).bad())
		v = 0;
	in->planar = v;
	copy_str(ds, DCM_PhotometricInterpretation, in->photometric,
		 sizeof(in->photometric));
	Sint32 nf = 1;
	if (ds->findAndGetSint32(DCM_NumberOfFrames, nf).bad() || nf < 1)
		nf = 1;
	in->frames = (uint32_t)nf;
	p->frames = in->frames;

	DcmElement *e = NULL;
	if (ds->findAndGetElement(DCM_PixelData, e).good() && e) {
		in->has_pixels = true;
		p->pd = OFstatic_cast(DcmPixelData *, e);
		DcmPixelSequence *seq = NULL;
		if (x.isEncapsulated() &&
		    p->pd->getEncapsulatedRepresentation(p->xfer, NULL, seq)
			    .good() &&
		    seq)
			in->n_fragments = (uint32_t)seq->card();
	}
	if (!ok || !in->rows || !in->cols || !in->bits_alloc) {
		in->has_pixels = false;
		p->pd = nullptr;
	}
	*out = p;
	return DD_OK;
}

extern "C" dd_err dd_bridge_pixels_open(int fd, struct dd_bpix **out,
					struct dd_bpix_info *info)
{
	dd_err e = dd_bridge_init(); /* a deferred set-up: at first use */

	*out = NULL;
	if (e) {
		memset(info, 0, sizeof(*info));
		return e;
	}
	DD_BRIDGE_TRY(return pix_open(fd, out, info);)
}

extern "C" void dd_bridge_pixels_close(struct dd_bpix *p)
{
	try {
		delete p;
	} catch (...) {
	}
}

// Native YBR_FULL_422 stores Y1 Y2 Cb Cr per pixel pair: two samples per
// pixel, not three.  dcmtk 3.6.7's getUncompressedFrameSize() counts three
// (rows x cols x 3), so its getUncompressedFrame() asks for bytes past the
// value and fails: read such frames here, at i x (rows x cols x 2 x bytes).
static bool is_native_422(DcmDataset *ds)
{
	char pi[17];
	Uint16 spp = 0;

	copy_str(ds, DCM_PhotometricInterpretation, pi, sizeof(pi));
	return strcmp(pi, "YBR_FULL_422") == 0 &&
	       ds->findAndGetUint16(DCM_SamplesPerPixel, spp).good() && spp == 3;
}

static dd_err pix_frame_422(struct dd_bpix *p, DcmDataset *ds, uint32_t i,
			    uint8_t *buf, size_t len, char photometric[17],
			    uint16_t *planar)
{
	Uint16 rows = 0, cols = 0, ba = 0;

	if (ds->findAndGetUint16(DCM_Rows, rows).bad() ||
	    ds->findAndGetUint16(DCM_Columns, cols).bad() ||
	    ds->findAndGetUint16(DCM_BitsAllocated, ba).bad() || ba % 8)
		return DD_E_PARSE;
	uint64_t fsize = (uint64_t)rows * cols * 2 * (ba / 8);
	uint64_t off = fsize * i;
	if (fsize != len || !len || off + fsize > p->pd->getLength() ||
	    off + fsize > 0xffffffffull)
		return DD_E_PARSE;
	OFCondition c = p->pd->getPartialValue(buf, (Uint32)off, (Uint32)len,
						&p->cache);
	if (c.bad())
		return DD_E_PARSE;
	snprintf(photometric, 17, "%s", "YBR_FULL_422");
	*planar = 0; // 422 is always colour by pixel (pairs)
	return DD_OK;
}

static dd_err pix_frame(struct dd_bpix *p, uint32_t i, uint8_t *buf,
			size_t len, char photometric[17], uint16_t *planar)
{
	if (!p->pd)
		return DD_E_PARSE;
	if (i >= p->frames)
		return DD_E_RANGE;
	enum dd_bpix_codec codec = codec_of(p->xfer);
	if (codec == DD_BPIX_J2K || codec == DD_BPIX_OTHER)
		return DD_E_UNSUPPORTED;
	DcmDataset *ds = p->ff.getDataset();
	if (codec == DD_BPIX_NATIVE && is_native_422(ds))
		return pix_frame_422(p, ds, i, buf, len, photometric, planar);
	Uint32 fsize = 0;
	if (p->pd->getUncompressedFrameSize(ds, fsize).bad() || fsize != len)
		return DD_E_PARSE;
	Uint32 start = (i == p->next_frame) ? p->next_start : 0;
	OFString cm;
	// the buffer must hold the pad byte of an odd frame size
	std::unique_ptr<uint8_t[]> tmp;
	uint8_t *dst = buf;
	Uint32 bsz = (Uint32)len;
	if (len & 1) {
		tmp.reset(new uint8_t[len + 1]);
		dst = tmp.get();
		bsz = (Uint32)len + 1;
	}
	OFCondition c = p->pd->getUncompressedFrame(ds, i, start, dst, bsz, cm,
						   &p->cache);
	if (c.bad())
		return DD_E_PARSE;
	if (dst != buf)
		memcpy(buf, dst, len);
	p->next_frame = i + 1;
	p->next_start = start;
	snprintf(photometric, 17, "%s", cm.c_str());
	Uint16 pc = 0;
	if (ds->findAndGetUint16(DCM_PlanarConfiguration, pc).bad())
		pc = 0;
	// dcmtk's JPEG decoders return colour by pixel; RLE and JPEG-LS
	// restore the data set's planar configuration.
	*planar = (codec == DD_BPIX_JPEG || codec == DD_BPIX_JPEG_LL) ? 0 : pc;
	return DD_OK;
}

extern "C" dd_err dd_bridge_pixels_frame(struct dd_bpix *p, uint32_t i,
					 uint8_t *buf, size_t len,
					 char photometric[17], uint16_t *planar)
{
	DD_BRIDGE_TRY(return pix_frame(p, i, buf, len, photometric, planar);)
}

// Fragments of frame @i: all of them for one frame, one fragment per frame
// when the counts match, else (JPEG 2000) a new frame starts at each
// fragment that begins with a codestream's SOC+SIZ markers.
static dd_err pix_frame_raw(struct dd_bpix *p, uint32_t i, struct dd_buf *out)
{
	if (!p->pd || codec_of(p->xfer) == DD_BPIX_NATIVE)
		return DD_E_INVAL;
	if (i >= p->frames)
		return DD_E_RANGE;
	DcmPixelSequence *seq = NULL;
	if (p->pd->getEncapsulatedRepresentation(p->xfer, NULL, seq).bad() ||
	    !seq)
		return DD_E_PARSE;
	unsigned long nfrag = seq->card();
	if (nfrag < 2)
		return DD_E_PARSE;
	std::vector<unsigned long> starts;
	bool j2k = codec_of(p->xfer) == DD_BPIX_J2K;
	if (p->frames == 1) {
		starts.push_back(1);
	} else if (nfrag - 1 == p->frames) {
		for (unsigned long k = 1; k < nfrag; k++)
			starts.push_back(k);
	} else if (j2k) {
		for (unsigned long k = 1; k < nfrag; k++) {
			DcmPixelItem *it = NULL;
			Uint8 *d = NULL;
			if (seq->getItem(it, k).bad() || !it)
				return DD_E_PARSE;
			if (it->getLength() >= 4 && it->getUint8Array(d).good() &&
			    d && d[0] == 0xff && d[1] == 0x4f && d[2] == 0xff &&
			    d[3] == 0x51)
				starts.push_back(k);
		}
	} else {
		return DD_E_UNSUPPORTED; // several fragments per frame, not J2K
	}
	if (i >= starts.size())
		return DD_E_PARSE;
	unsigned long a = starts[i];
	unsigned long b = (i + 1 < starts.size()) ? starts[i + 1] : nfrag;
	if (p->frames == 1)
		b = nfrag;
	for (unsigned long k = a; k < b; k++) {
		DcmPixelItem *it = NULL;
		Uint8 *d = NULL;
		if (seq->getItem(it, k).bad() || !it)
			return DD_E_PARSE;
		if (it->getLength() && (it->getUint8Array(d).bad() || !d))
			return DD_E_PARSE;
		dd_err err = dd_buf_add(out, d, it->getLength());
		if (err != DD_OK)
			return err;
	}
	return DD_OK;
}

extern "C" dd_err dd_bridge_pixels_frame_raw(struct dd_bpix *p, uint32_t i,
					     struct dd_buf *out)
{
	DD_BRIDGE_TRY(return pix_frame_raw(p, i, out);)
}

DcmPixelData *dd_bridge_pixel_data(struct dd_bfile *f)
{
	DcmElement *e = NULL;

	if (f->ff.getDataset()->findAndGetElement(DCM_PixelData, e).bad() ||
	    !e)
		return NULL;
	return OFstatic_cast(DcmPixelData *, e);
}

static dd_err pix_set_native(struct dd_bfile *f, const uint8_t *px, size_t n,
			     uint16_t bits_alloc, const char *photometric,
			     uint16_t planar)
{
	if (n > 0xfffffffeUL || (n & 1))
		return DD_E_INVAL;
	DcmPixelData *pd = dd_bridge_pixel_data(f);
	if (!pd)
		return DD_E_INVAL;
	OFCondition c;
	if (bits_alloc > 8) {
		c = pd->putUint16Array(reinterpret_cast<const Uint16 *>(px),
				       (unsigned long)(n / 2));
		if (c.good())
			pd->setVR(EVR_OW);
	} else {
		c = pd->putUint8Array(px, (unsigned long)n);
		if (c.good())
			pd->setVR(EVR_OB);
	}
	if (c.bad())
		return DD_E_INTERNAL;
	return dd_bridge_pixels_describe(f, photometric, planar,
					 EXS_LittleEndianExplicit);
}

dd_err dd_bridge_pixels_describe(struct dd_bfile *f, const char *photometric,
				 uint16_t planar, E_TransferSyntax x)
{
	DcmDataset *ds = f->ff.getDataset();
	OFCondition c =
		ds->putAndInsertString(DCM_PhotometricInterpretation, photometric);
	Uint16 spp = 1;

	if (c.good() && ds->findAndGetUint16(DCM_SamplesPerPixel, spp).good() &&
	    spp > 1)
		c = ds->putAndInsertUint16(DCM_PlanarConfiguration, planar);
	if (c.bad())
		return DD_E_INTERNAL;
	f->xfer = x;
	return DD_OK;
}

extern "C" dd_err dd_bridge_pixels_set_native(struct dd_bfile *f,
					      const uint8_t *p, size_t n,
					      uint16_t bits_alloc,
					      const char *photometric,
					      uint16_t planar)
{
	DD_BRIDGE_TRY(
		return pix_set_native(f, p, n, bits_alloc, photometric, planar);)
}
