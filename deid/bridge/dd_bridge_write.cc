// dd_bridge_write.cc: serialising a modified file, whole or as a manifest
// (header bytes + the source range of the unchanged pixel value).
//
// The manifest path does what DcmFileFormat::write() does, element by
// element (see docs/internals/dicom.md): validate the meta header, write
// it, compute group lengths, write every top-level element, except that
// the PixelData element header is written here and its value is left to
// the source range.  The output is byte-identical to dd_bridge_write_full()
// (tests/dicom/unit_dicom_equal.c checks it).
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmf.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcwcache.h"
#include "dcmtk/dcmdata/dcxfer.h"

#include <new>
#include <string.h>

#include "dd_bridge.h"
#include "dd_bridge_i.h"

namespace {

// A consumer appending to a dd_buf (capped: a full buffer is an error).
class BufConsumer : public DcmConsumer {
public:
	explicit BufConsumer(struct dd_buf *b) : buf_(b), err_(DD_OK) {}
	OFBool good() const override { return err_ == DD_OK; }
	OFCondition status() const override
	{
		return err_ == DD_OK ? EC_Normal : EC_MemoryExhausted;
	}
	OFBool isFlushed() const override { return OFTrue; }
	offile_off_t avail() const override { return 0x40000000; }
	offile_off_t write(const void *p, offile_off_t n) override
	{
		if (err_ != DD_OK)
			return 0;
		err_ = dd_buf_add(buf_, p, (size_t)n);
		return err_ == DD_OK ? n : 0;
	}
	void flush() override {}
	dd_err err() const { return err_; }

private:
	struct dd_buf *buf_;
	dd_err err_;
};

class BufStream : public DcmOutputStream {
public:
	explicit BufStream(BufConsumer *c) : DcmOutputStream(c) {}
};

// The meta header as saveFile() builds it (EWM_createNewMeta), with our
// implementation class UID and version name.
OFCondition prepare_meta(DcmFileFormat &ff, E_TransferSyntax xfer)
{
	DcmMetaInfo *mi = ff.getMetaInfo();
	OFCondition c = ff.validateMetaInfo(xfer, EWM_createNewMeta);
	if (c.bad())
		return c;
	c = mi->putAndInsertString(DCM_ImplementationClassUID,
				   DD_BRIDGE_IMPL_UID);
	if (c.good())
		c = mi->putAndInsertString(DCM_ImplementationVersionName,
					   DD_BRIDGE_IMPL_VERSION);
	if (c.good())
		c = mi->computeGroupLengthAndPadding(
			EGL_withGL, EPD_noChange,
			META_HEADER_DEFAULT_TRANSFERSYNTAX, EET_UndefinedLength);
	return c;
}

void zero_preamble(struct dd_buf *b)
{
	if (b->len >= 132 && memcmp(b->data + 128, "DICM", 4) == 0)
		memset(b->data, 0, 128);
}

void put16(uint8_t *p, uint16_t v, bool big)
{
	if (big) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	} else {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

void put32(uint8_t *p, uint32_t v, bool big)
{
	if (big) {
		put16(p, (uint16_t)(v >> 16), true);
		put16(p + 2, (uint16_t)v, true);
	} else {
		put16(p, (uint16_t)v, false);
		put16(p + 2, (uint16_t)(v >> 16), false);
	}
}

// The PixelData element header: tag, (VR, reserved,) 4-byte length.
size_t pixel_header(uint8_t *h, const DcmXfer &x, const char *vr,
		    uint32_t len)
{
	bool big = x.isBigEndian();
	put16(h, 0x7fe0, big);
	put16(h + 2, 0x0010, big);
	if (!x.isExplicitVR()) {
		put32(h + 4, len, big);
		return 8;
	}
	h[4] = (uint8_t)vr[0];
	h[5] = (uint8_t)vr[1];
	h[6] = h[7] = 0;
	put32(h + 8, len, big);
	return 12;
}

// Decide whether the top-level pixel element @e can be a source range,
// and if so fill @out's range and return the header to write.
bool pixel_range(DcmElement *e, const DcmXfer &x, E_TransferSyntax xs,
		 const struct dd_bencap *encap, struct dd_bout *out,
		 uint8_t *hdr, size_t *hdr_len)
{
	if (e->ident() != EVR_PixelData)
		return false;
	DcmPixelData *pd = OFstatic_cast(DcmPixelData *, e);
	if (!x.isEncapsulated()) {
		DcmEVR vr = e->getTag().getEVR();
		uint32_t len = e->getLengthField();
		if (e->valueLoaded() || len == 0 || len == 0xffffffffu)
			return false;
		if (vr != EVR_OB && vr != EVR_OW)
			return false;
		if ((len & 1) && vr != EVR_OB)
			return false;
		const DcmInputStreamFactory *f = e->getInputStream();
		if (!f || f->ident() != DFT_DcmInputFileStreamFactory)
			return false;
		offile_off_t off = OFstatic_cast(const DcmInputFileStreamFactory *,
						 f)->getOffset();
		if (off < 0)
			return false;
		out->src_off = (uint64_t)off;
		out->src_len = len;
		out->pad = len & 1;
		*hdr_len = pixel_header(hdr, x, vr == EVR_OB ? "OB" : "OW",
					len + (len & 1));
		return true;
	}
	// encapsulated: the walker's range, cross-checked with dcmtk
	if (!encap || !encap->found)
		return false;
	DcmPixelSequence *seq = NULL;
	if (pd->getEncapsulatedRepresentation(xs, NULL, seq).bad() || !seq)
		return false;
	if (seq->card() != encap->n_items)
		return false;
	for (unsigned long i = 0; i < seq->card(); i++) {
		DcmPixelItem *it = NULL;
		if (seq->getItem(it, i).bad() || !it)
			return false;
		uint32_t l = it->getLengthField();
		if (l != encap->item_len[i] || (l & 1))
			return false;
	}
	out->src_off = encap->off;
	out->src_len = encap->len;
	out->pad = 0;
	*hdr_len = pixel_header(hdr, x, "OB", 0xffffffffu);
	return true;
}

// The pixel element dcmtk just wrote into @out->head from @before: its
// value is the last getLengthField() bytes, after a 12-byte (explicit VR,
// OB/OW) or 8-byte (implicit VR) header; an encapsulated one (OB,
// undefined length) is everything after its 12-byte header: the items and
// the sequence delimiter.  Anything else: not recorded.
void pixel_value_at(DcmElement *e, const DcmXfer &x, size_t before,
		    struct dd_bout *out)
{
	uint32_t len = e->getLengthField();
	size_t hdr = x.isExplicitVR() ? 12 : 8;
	size_t wrote = out->head.len - before;
	const uint8_t *h = out->head.data + before;

	if (x.isEncapsulated()) {
		if (!x.isExplicitVR() || x.isBigEndian() || wrote <= 12 + 8 ||
		    memcmp(h + 4, "OB\0\0\xff\xff\xff\xff", 8) != 0)
			return;
		len = (uint32_t)(wrote - 12);
		if (wrote - 12 != len)
			return;
	} else if (len == 0 || len == 0xffffffffu || wrote != hdr + len) {
		return;
	}
	out->val_off = before + hdr;
	out->val_len = len;
}

dd_err write_manifest(struct dd_bfile *f, const struct dd_bencap *encap,
		      size_t max_literal, struct dd_bout *out)
{
	DcmFileFormat &ff = f->ff;
	DcmDataset *ds = ff.getDataset();
	DcmMetaInfo *mi = ff.getMetaInfo();
	E_TransferSyntax xs = f->xfer;
	DcmXfer x(xs);

	out->src_off = out->src_len = 0;
	out->pad = 0;
	out->full = true;
	out->val_off = out->val_len = 0;
	if (x.getStreamCompression() != ESC_none)
		return DD_E_UNSUPPORTED;
	if (prepare_meta(ff, xs).bad())
		return DD_E_INTERNAL;

	BufConsumer hc(&out->head), tc(&out->tail);
	BufStream hs(&hc), ts(&tc);
	DcmOutputStream *os = &hs;
	DcmWriteCache wcache;
	OFCondition c;

	ff.transferInit();
	c = mi->write(hs, xs, EET_UndefinedLength, &wcache);
	if (c.good())
		c = ds->computeGroupLengthAndPadding(EGL_recalcGL, EPD_noChange,
						     xs, EET_UndefinedLength,
						     0, 0, 0);
	for (DcmObject *o = ds->nextInContainer(NULL); c.good() && o;
	     o = ds->nextInContainer(o)) {
		DcmElement *e = OFstatic_cast(DcmElement *, o);
		uint8_t hdr[12];
		size_t hdr_len = 0;

		if (os == &hs && e->getTag() == DCM_PixelData &&
		    pixel_range(e, x, xs, encap, out, hdr, &hdr_len)) {
			if (dd_buf_add(&out->head, hdr, hdr_len) != DD_OK)
				break;
			out->full = false;
			os = &ts;
			continue;
		}
		size_t before = out->head.len;
		c = e->write(*os, xs, EET_UndefinedLength, &wcache);
		if (c.good() && os == &hs && e->getTag() == DCM_PixelData)
			pixel_value_at(e, x, before, out);
	}
	ff.transferEnd();
	if (hc.err() != DD_OK)
		return hc.err();
	if (tc.err() != DD_OK)
		return tc.err();
	if (out->head.len + out->tail.len > max_literal)
		return DD_E_LIMIT;
	if (c.bad())
		return DD_E_UNSUPPORTED;
	zero_preamble(&out->head);
	return DD_OK;
}

dd_err write_full(struct dd_bfile *f, size_t max, struct dd_buf *out)
{
	DcmFileFormat &ff = f->ff;
	E_TransferSyntax xs = f->xfer;

	if (prepare_meta(ff, xs).bad())
		return DD_E_INTERNAL;
	BufConsumer bc(out);
	BufStream bs(&bc);
	DcmWriteCache wcache;
	ff.transferInit();
	OFCondition c = ff.write(bs, xs, EET_UndefinedLength, &wcache,
				 EGL_recalcGL, EPD_noChange, 0, 0, 0,
				 EWM_dontUpdateMeta);
	// a deflate filter holds the data set's tail until flushed
	for (int i = 0; c.good() && !bs.isFlushed() && i < 1000; i++)
		bs.flush();
	if (c.good() && !bs.isFlushed())
		c = EC_IllegalCall;
	ff.transferEnd();
	if (bc.err() != DD_OK)
		return bc.err();
	if (out->len > max)
		return DD_E_LIMIT;
	if (c.bad())
		return DD_E_UNSUPPORTED;
	zero_preamble(out);
	return DD_OK;
}

} // namespace

extern "C" dd_err dd_bridge_write_manifest(struct dd_bfile *f,
					   const struct dd_bencap *encap,
					   size_t max_literal,
					   struct dd_bout *out)
{
	DD_BRIDGE_TRY({ return write_manifest(f, encap, max_literal, out); })
}

extern "C" dd_err dd_bridge_write_full(struct dd_bfile *f, size_t max,
				       struct dd_buf *out)
{
	DD_BRIDGE_TRY({ return write_full(f, max, out); })
}
