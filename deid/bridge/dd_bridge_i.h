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

// dd_bridge_fdstream.cc: read the file open at @fd (through a dup, with
// pread; never by name, so the fd's O_NOATIME holds) into @ff, exactly as
// DcmFileFormat::loadFile(name, EXS_Unknown, EGL_noChange, @max_read,
// ERM_autoDetect) does.  Values longer than @max_read are read later
// through the same fd; their factories are DcmInputFileStreamFactory
// (getOffset() is the value's offset in the file).
OFCondition dd_bridge_read_fd(DcmFileFormat &ff, int fd,
			      Uint32 max_read = DCM_MaxReadLength);
// A stream over (a dup of) @fd from offset 0; NULL if dup fails.
class DcmInputStream;
DcmInputStream *dd_bridge_fd_stream_new(int fd);

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

// The top-level PixelData element of @f's data set, NULL if none.
class DcmPixelData;
DcmPixelData *dd_bridge_pixel_data(struct dd_bfile *f);

// The pixel value was just replaced (native or encapsulated): set the data
// set's PhotometricInterpretation and, for colour, PlanarConfiguration,
// then the file's transfer syntax to @x.  Both setters end with it.
dd_err dd_bridge_pixels_describe(struct dd_bfile *f, const char *photometric,
				 uint16_t planar, E_TransferSyntax x);

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
