// dd_bridge_i.h: C++-only internals shared by the bridge's .cc files.
#ifndef DD_BRIDGE_I_H
#define DD_BRIDGE_I_H

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"

#include "dd_bridge.h"

struct dd_bfile {
	DcmFileFormat ff;
	E_TransferSyntax xfer = EXS_Unknown; // the source's (and output's)
	int fd = -1;
};

// The C handles are the dcmtk objects themselves.
static inline DcmItem *dd_item(struct dd_bitem *it)
{
	return reinterpret_cast<DcmItem *>(it);
}

static inline DcmElement *dd_elem(struct dd_belem *e)
{
	return reinterpret_cast<DcmElement *>(e);
}

static inline struct dd_bitem *dd_citem(DcmItem *it)
{
	return reinterpret_cast<struct dd_bitem *>(it);
}

static inline struct dd_belem *dd_celem(DcmElement *e)
{
	return reinterpret_cast<struct dd_belem *>(e);
}

// Run @body, turning every C++ exception into a dd_err.
#define DD_BRIDGE_TRY(body)                                                   \
	try {                                                                 \
		body                                                          \
	} catch (const std::bad_alloc &) {                                    \
		return DD_E_NOMEM;                                            \
	} catch (...) {                                                       \
		return DD_E_INTERNAL;                                         \
	}

#endif // DD_BRIDGE_I_H
