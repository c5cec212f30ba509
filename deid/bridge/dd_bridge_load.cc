// dd_bridge_load.cc: one-time set-up and loading a file through its fd.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/oflog/oflog.h"

#include <mutex>
#include <new>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dd_bridge.h"
#include "dd_bridge_i.h"

static std::once_flag init_once;
static dd_err init_err = DD_E_INTERNAL;

static void init_run()
{
	// Nothing of dcmtk's reaches stderr: its messages may quote values.
	OFLog::configure(OFLogger::OFF_LOG_LEVEL);
	dcmtk::log4cplus::Logger::getRoot().setLogLevel(OFLogger::OFF_LOG_LEVEL);
	if (!dcmDataDict.isDictionaryLoaded())
		return;
	// touch the dictionary once so its lazy set-up is not raced
	const DcmDataDictionary &dict = dcmDataDict.rdlock();
	(void)dict.findEntry(DcmTagKey(0x0010, 0x0010), NULL);
	dcmDataDict.rdunlock();
	init_err = DD_OK;
}

extern "C" dd_err dd_bridge_init(void)
{
	try {
		std::call_once(init_once, init_run);
		return init_err;
	} catch (const std::bad_alloc &) {
		return DD_E_NOMEM;
	} catch (...) {
		return DD_E_INTERNAL;
	}
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static dd_err load(int fd, struct dd_bfile **out, struct dd_bfile_info *info)
{
	struct stat st, st_after;

	*out = NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
		return DD_E_IO;

	dd_bfile *f = new dd_bfile();
	f->fd = fd;
	// Read through the fd itself (a dup, pread): the source is never
	// reopened, so the view's O_NOATIME holds, for deferred values too.
	OFCondition c = dd_bridge_read_fd(f->ff, fd);
	if (c.bad()) {
		delete f;
		return DD_E_PARSE;
	}
	if (fstat(fd, &st_after) != 0 || !same_file(&st, &st_after)) {
		delete f;
		return DD_E_CHANGED;
	}
	DcmDataset *ds = f->ff.getDataset();
	E_TransferSyntax xs = ds->getOriginalXfer();
	DcmXfer x(xs);
	memset(info, 0, sizeof(*info));
	snprintf(info->xfer_uid, sizeof(info->xfer_uid), "%s",
		 x.getXferID() ? x.getXferID() : "");
	info->explicit_vr = x.isExplicitVR();
	info->big_endian = x.isBigEndian();
	info->encapsulated = x.isEncapsulated();
	info->deflated = x.getStreamCompression() != ESC_none;
	info->had_meta = f->ff.getMetaInfo() && f->ff.getMetaInfo()->card() > 0;
	f->xfer = xs;
	if (xs == EXS_Unknown || xs == EXS_BigEndianImplicit) {
		delete f;
		return DD_E_PARSE;
	}
	*out = f;
	return DD_OK;
}

extern "C" dd_err dd_bridge_file_load_fd(int fd, struct dd_bfile **out,
					 struct dd_bfile_info *info)
{
	dd_err e = dd_bridge_init(); /* a deferred set-up: at first use */

	*out = NULL;
	if (e)
		return e;
	try {
		return load(fd, out, info);
	} catch (const std::bad_alloc &) {
		return DD_E_NOMEM;
	} catch (...) {
		return DD_E_INTERNAL;
	}
}

extern "C" void dd_bridge_file_free(struct dd_bfile *f)
{
	try {
		delete f;
	} catch (...) {
	}
}

extern "C" struct dd_bitem *dd_bridge_file_dataset(struct dd_bfile *f)
{
	return reinterpret_cast<dd_bitem *>(
		static_cast<DcmItem *>(f->ff.getDataset()));
}

extern "C" struct dd_bitem *dd_bridge_file_meta(struct dd_bfile *f)
{
	return reinterpret_cast<dd_bitem *>(
		static_cast<DcmItem *>(f->ff.getMetaInfo()));
}
