// dd_bridge_elem.cc: walking and changing elements, character sets.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcspchrs.h"
#include "dcmtk/dcmdata/dcvr.h"
#include "dcmtk/dcmdata/dcvrobow.h"

#include <new>
#include <string.h>

#include "dd_bridge.h"
#include "dd_bridge_i.h"

static DcmTagKey key_of(uint32_t tag)
{
	return DcmTagKey((Uint16)(tag >> 16), (Uint16)(tag & 0xffff));
}

extern "C" struct dd_belem *dd_bridge_item_next(struct dd_bitem *it,
						struct dd_belem *prev)
{
	try {
		DcmObject *o = dd_item(it)->nextInContainer(
			prev ? dd_elem(prev) : NULL);
		return o ? dd_celem(OFstatic_cast(DcmElement *, o)) : NULL;
	} catch (...) {
		return NULL;
	}
}

extern "C" struct dd_belem *dd_bridge_item_find(struct dd_bitem *it,
						uint32_t tag)
{
	try {
		DcmElement *e = NULL;
		if (dd_item(it)->findAndGetElement(key_of(tag), e, OFFalse)
			    .bad())
			return NULL;
		return dd_celem(e);
	} catch (...) {
		return NULL;
	}
}

extern "C" void dd_bridge_elem_info(struct dd_belem *be,
				    struct dd_belem_info *info)
{
	DcmElement *e = dd_elem(be);
	const DcmTag &t = e->getTag();

	memset(info, 0, sizeof(*info));
	info->tag = ((uint32_t)t.getGTag() << 16) | t.getETag();
	try {
		const char *vr = DcmVR(t.getEVR()).getValidVRName();
		if (vr && strlen(vr) == 2)
			memcpy(info->vr, vr, 3);
		else
			memcpy(info->vr, "UN", 3);
	} catch (...) {
		memcpy(info->vr, "UN", 3);
	}
	info->length = e->getLengthField();
	if (e->ident() == EVR_SQ) {
		info->is_sq = true;
		memcpy(info->vr, "SQ", 3);
		info->n_items = OFstatic_cast(DcmSequenceOfItems *, e)->card();
	}
	info->creator = t.getPrivateCreator();
}

extern "C" struct dd_bitem *dd_bridge_elem_item(struct dd_belem *be, size_t i)
{
	DcmElement *e = dd_elem(be);

	if (e->ident() != EVR_SQ)
		return NULL;
	try {
		DcmItem *it = OFstatic_cast(DcmSequenceOfItems *, e)->getItem(
			(unsigned long)i);
		return it ? dd_citem(it) : NULL;
	} catch (...) {
		return NULL;
	}
}

static bool is_string(DcmElement *e)
{
	return DcmVR(e->getTag().getEVR()).isaString() && e->ident() != EVR_SQ;
}

extern "C" dd_err dd_bridge_elem_get(struct dd_belem *be, struct dd_buf *out)
{
	DD_BRIDGE_TRY({
		DcmElement *e = dd_elem(be);
		OFString s;

		if (!is_string(e))
			return DD_E_UNSUPPORTED;
		if (e->getOFStringArray(s, OFFalse).bad())
			return e->getLength() == 0 ? DD_OK : DD_E_PARSE;
		return dd_buf_add(out, s.data(), s.size());
	})
}

extern "C" dd_err dd_bridge_elem_set(struct dd_belem *be, const char *s,
				     size_t n)
{
	DD_BRIDGE_TRY({
		DcmElement *e = dd_elem(be);

		if (!is_string(e))
			return DD_E_UNSUPPORTED;
		if (e->putString(s, (Uint32)n).bad())
			return DD_E_INTERNAL;
		return DD_OK;
	})
}

extern "C" dd_err dd_bridge_elem_set_bytes(struct dd_belem *be,
					   const uint8_t *p, size_t n)
{
	DD_BRIDGE_TRY({
		DcmElement *e = dd_elem(be);
		OFCondition c;

		switch (e->ident()) {
		case EVR_OB:
		case EVR_UN:
		case EVR_ox:
		case EVR_OW:
		case EVR_PixelData:
		case EVR_OverlayData:
			if (e->getTag().getEVR() == EVR_OW && (n & 1) == 0)
				c = e->putUint16Array(
					reinterpret_cast<const Uint16 *>(p),
					(unsigned long)(n / 2));
			else
				c = e->putUint8Array(p, (unsigned long)n);
			break;
		default:
			// numbers: the dummy is zero, set through the parser
			c = e->putString("0");
			break;
		}
		return c.good() ? DD_OK : DD_E_INTERNAL;
	})
}

extern "C" dd_err dd_bridge_elem_clear(struct dd_belem *be)
{
	DD_BRIDGE_TRY({
		OFCondition c = dd_elem(be)->clear();
		return c.good() ? DD_OK : DD_E_INTERNAL;
	})
}

extern "C" dd_err dd_bridge_item_delete(struct dd_bitem *it,
					struct dd_belem *be)
{
	DD_BRIDGE_TRY({
		DcmElement *e = dd_item(it)->remove(dd_elem(be));
		if (!e)
			return DD_E_INTERNAL;
		delete e;
		return DD_OK;
	})
}

extern "C" dd_err dd_bridge_item_put(struct dd_bitem *it, uint32_t tag,
				     const char *s)
{
	DD_BRIDGE_TRY({
		OFCondition c = dd_item(it)->putAndInsertString(
			DcmTag(key_of(tag)), s, OFTrue);
		return c.good() ? DD_OK : DD_E_INTERNAL;
	})
}

extern "C" dd_err dd_bridge_item_put_seq(struct dd_bitem *it, uint32_t tag,
					 struct dd_belem **seq)
{
	DD_BRIDGE_TRY({
		DcmSequenceOfItems *sq =
			new DcmSequenceOfItems(DcmTag(key_of(tag)));
		OFCondition c = dd_item(it)->insert(sq, OFTrue);
		if (c.bad()) {
			delete sq;
			return DD_E_INTERNAL;
		}
		*seq = dd_celem(sq);
		return DD_OK;
	})
}

extern "C" dd_err dd_bridge_seq_append(struct dd_belem *seq,
				       struct dd_bitem **item)
{
	DD_BRIDGE_TRY({
		DcmElement *e = dd_elem(seq);
		if (e->ident() != EVR_SQ)
			return DD_E_INVAL;
		DcmItem *i = new DcmItem();
		OFCondition c = OFstatic_cast(DcmSequenceOfItems *, e)->append(i);
		if (c.bad()) {
			delete i;
			return DD_E_INTERNAL;
		}
		*item = dd_citem(i);
		return DD_OK;
	})
}

extern "C" dd_err dd_bridge_to_utf8(const char *charset, const char *s,
				    size_t n, bool pn, struct dd_buf *out)
{
	DD_BRIDGE_TRY({
		DcmSpecificCharacterSet cs;
		OFString to;

		if (cs.selectCharacterSet(charset ? charset : "").bad())
			return DD_E_UNSUPPORTED;
		if (cs.convertString(s, n, to, pn ? "\\^=" : "\\").bad())
			return DD_E_UNSUPPORTED;
		return dd_buf_add(out, to.data(), to.size());
	})
}
