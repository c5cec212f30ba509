// dd_bridge_gen.cc: the sample writer (dd_bridge_gen_* in dd_bridge.h).
// Builds DICOM files for the generator (tools/gen) and tests; it never
// touches source data, so it trusts its caller more than the loader does.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcvr.h"
#include "dcmtk/dcmdata/dcxfer.h"

#include <new>
#include <vector>

#include "dd_bridge.h"
#include "dd_bridge_i.h"

enum { GEN_MAX_DEPTH = 16 };

struct dd_bgen {
	DcmFileFormat ff;
	std::vector<DcmItem *> stack; // current item last; [0] is the data set
};

// The tag for @name (keyword or "gggg,eeee") with @vr (NULL: the
// dictionary's); false if either is unknown.
static bool gen_tag(const char *name, const char *vr, DcmTag &tag)
{
	if (!name || DcmTag::findTagFromName(name, tag).bad())
		return false;
	if (vr) {
		DcmVR v(vr);
		if (v.getEVR() == EVR_UNKNOWN || v.getEVR() == EVR_UNKNOWN2B)
			return false;
		tag.setVR(v);
	} else if (tag.getEVR() == EVR_UNKNOWN ||
		   tag.getEVR() == EVR_UNKNOWN2B) {
		return false;
	}
	return true;
}

// A new element for @name in the current item; the caller fills it and
// gen_insert()s it.
static dd_err gen_elem(const char *name, const char *vr, DcmElement *&el)
{
	DcmTag tag;

	el = NULL;
	if (!gen_tag(name, vr, tag))
		return DD_E_INVAL;
	if (DcmItem::newDicomElementWithVR(el, tag).bad() || !el)
		return DD_E_INVAL;
	return DD_OK;
}

// Insert @el into the current item (replacing), or free it on failure.
static dd_err gen_insert(struct dd_bgen *g, DcmElement *el, OFCondition put)
{
	if (put.bad() || g->stack.back()->insert(el, OFTrue).bad()) {
		delete el;
		return DD_E_INVAL;
	}
	return DD_OK;
}

extern "C" dd_err dd_bridge_gen_new(struct dd_bgen **out)
{
	dd_err e = dd_bridge_init(); /* a deferred set-up: at first use */

	*out = NULL;
	if (e)
		return e;
	DD_BRIDGE_TRY({
		struct dd_bgen *g = new dd_bgen;
		g->stack.push_back(g->ff.getDataset());
		*out = g;
		return DD_OK;
	})
}

extern "C" void dd_bridge_gen_free(struct dd_bgen *g)
{
	try {
		delete g;
	} catch (...) {
	}
}

extern "C" dd_err dd_bridge_gen_str(struct dd_bgen *g, const char *name,
				    const char *vr, const char *value)
{
	DD_BRIDGE_TRY({
		DcmElement *el;
		dd_err e = gen_elem(name, vr, el);
		if (e)
			return e;
		if (el->ident() == EVR_SQ) { // only an empty one
			if (value && *value) {
				delete el;
				return DD_E_INVAL;
			}
			return gen_insert(g, el, EC_Normal);
		}
		return gen_insert(g, el, el->putString(value ? value : ""));
	})
}

extern "C" dd_err dd_bridge_gen_u16(struct dd_bgen *g, const char *name,
				    const char *vr, const uint16_t *v,
				    size_t n)
{
	DD_BRIDGE_TRY({
		DcmElement *el;
		dd_err e = gen_elem(name, vr, el);
		if (e)
			return e;
		return gen_insert(g, el,
				  el->putUint16Array(v, (unsigned long)n));
	})
}

extern "C" dd_err dd_bridge_gen_bytes(struct dd_bgen *g, const char *name,
				      const char *vr, const uint8_t *p,
				      size_t n)
{
	DD_BRIDGE_TRY({
		DcmElement *el;
		dd_err e = gen_elem(name, vr, el);
		if (e)
			return e;
		if (el->getTag().getEVR() == EVR_OW) {
			// dcmtk wants words for OW: the bytes are little endian
			if (n & 1) {
				delete el;
				return DD_E_INVAL;
			}
			std::vector<Uint16> w(n / 2);
			for (size_t i = 0; i < n / 2; i++)
				w[i] = (Uint16)(p[2 * i] | (p[2 * i + 1] << 8));
			return gen_insert(g, el,
					  el->putUint16Array(w.data(),
							     (unsigned long)w.size()));
		}
		return gen_insert(g, el,
				  el->putUint8Array(p, (unsigned long)n));
	})
}

extern "C" dd_err dd_bridge_gen_seq_push(struct dd_bgen *g, const char *name)
{
	DD_BRIDGE_TRY({
		DcmTag tag;
		DcmItem *cur = g->stack.back();
		DcmElement *el = NULL;
		DcmSequenceOfItems *sq;

		if (g->stack.size() > GEN_MAX_DEPTH)
			return DD_E_LIMIT;
		if (!gen_tag(name, "SQ", tag))
			return DD_E_INVAL;
		if (cur->findAndGetElement(tag, el, OFFalse).good() && el &&
		    el->ident() == EVR_SQ) {
			sq = OFstatic_cast(DcmSequenceOfItems *, el);
		} else {
			sq = new DcmSequenceOfItems(tag);
			if (cur->insert(sq, OFTrue).bad()) {
				delete sq;
				return DD_E_INVAL;
			}
		}
		DcmItem *it = new DcmItem();
		if (sq->append(it).bad()) {
			delete it;
			return DD_E_INVAL;
		}
		g->stack.push_back(it);
		return DD_OK;
	})
}

extern "C" dd_err dd_bridge_gen_seq_pop(struct dd_bgen *g)
{
	if (g->stack.size() < 2)
		return DD_E_INVAL;
	g->stack.pop_back();
	return DD_OK;
}

extern "C" dd_err dd_bridge_gen_meta_str(struct dd_bgen *g, const char *name,
					 const char *value)
{
	DD_BRIDGE_TRY({
		DcmElement *el;
		dd_err e = gen_elem(name, NULL, el);
		if (e)
			return e;
		if (el->getGTag() != 0x0002) {
			delete el;
			return DD_E_INVAL;
		}
		if (el->putString(value ? value : "").bad() ||
		    g->ff.getMetaInfo()->insert(el, OFTrue).bad()) {
			delete el;
			return DD_E_INVAL;
		}
		return DD_OK;
	})
}

static E_TransferSyntax gen_xfer(enum dd_bgen_xfer x)
{
	switch (x) {
	case DD_BGEN_IMPLICIT_LE: return EXS_LittleEndianImplicit;
	case DD_BGEN_EXPLICIT_BE: return EXS_BigEndianExplicit;
	case DD_BGEN_DEFLATED_LE: return EXS_DeflatedLittleEndianExplicit;
	case DD_BGEN_EXPLICIT_LE: break;
	}
	return EXS_LittleEndianExplicit;
}

extern "C" dd_err dd_bridge_gen_save(struct dd_bgen *g, const char *path,
				     enum dd_bgen_xfer xfer, unsigned flags)
{
	DD_BRIDGE_TRY({
		E_TransferSyntax xs = gen_xfer(xfer);
		OFCondition c;

		if (flags & DD_BGEN_NO_META) {
			c = g->ff.getDataset()->saveFile(path, xs,
							 EET_ExplicitLength,
							 EGL_recalcGL,
							 EPD_noChange, 0, 0);
		} else {
			E_FileWriteMode m = (flags & DD_BGEN_KEEP_META)
						    ? EWM_updateMeta
						    : EWM_createNewMeta;
			if (flags & DD_BGEN_KEEP_META) {
				// only the transfer syntax is ours to fill in
				DcmXfer dx(xs);
				g->ff.getMetaInfo()->putAndInsertString(
					DCM_TransferSyntaxUID,
					dx.getXferID());
			}
			c = g->ff.saveFile(path, xs, EET_ExplicitLength,
					   EGL_recalcGL, EPD_noChange, 0, 0,
					   m);
		}
		return c.good() ? DD_OK : DD_E_IO;
	})
}
