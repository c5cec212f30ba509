// dd_bridge_fdstream.cc: dcmtk input streams over an open fd (pread).
//
// dcmtk reads files by name (DcmInputFileStream opens its own file, and
// every value it defers is re-read through a DcmInputFileStreamFactory
// that opens the name again).  A source must only ever be read through
// the fd the view opened (beneath the source root, O_NOATIME where
// permitted), so these classes read a dup of that fd with pread: no file
// offset is shared, and the open file description, O_NOATIME included,
// is the view's.
//
// The factory is a DcmInputFileStreamFactory (ident() is
// DFT_DcmInputFileStreamFactory and getOffset() the value's offset in the
// file: dd_bridge_write.cc finds native pixel data that way) whose
// create() and clone() never open anything by name.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcerror.h"
#include "dcmtk/dcmdata/dcistrmf.h"

#include <errno.h>
#include <fcntl.h>
#include <memory>
#include <new>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dd_bridge_i.h"

namespace {

// A dup of the source fd, closed when the last stream or factory goes.
struct fd_ref {
	int fd;
	explicit fd_ref(int f) : fd(f) {}
	~fd_ref()
	{
		if (fd >= 0)
			close(fd);
	}
	fd_ref(const fd_ref &) = delete;
	fd_ref &operator=(const fd_ref &) = delete;
};

typedef std::shared_ptr<fd_ref> fd_ptr;

OFCondition io_error(int err)
{
	return makeOFCondition(OFM_dcmdata, 18, OF_error, strerror(err));
}

// As DcmFileProducer, reading with pread at its own position.
class fd_producer : public DcmProducer {
public:
	fd_producer(const fd_ptr &fd, offile_off_t offset)
		: fd_(fd), status_(EC_Normal), open_(false), size_(0),
		  pos_(offset)
	{
		struct stat st;

		if (!fd_ || fd_->fd < 0) {
			status_ = io_error(EBADF);
		} else if (fstat(fd_->fd, &st) != 0) {
			status_ = io_error(errno);
		} else {
			open_ = true;
			size_ = (offile_off_t)st.st_size;
		}
	}
	~fd_producer() override {}

	OFBool good() const override { return status_.good(); }
	OFCondition status() const override { return status_; }
	OFBool eos() override { return !open_ || pos_ >= size_; }
	offile_off_t avail() override { return open_ ? size_ - pos_ : 0; }

	offile_off_t read(void *buf, offile_off_t buflen) override
	{
		offile_off_t done = 0;

		if (!status_.good() || !open_ || !buf || buflen <= 0)
			return 0;
		while (done < buflen) {
			ssize_t r = pread(fd_->fd, (char *)buf + done,
					  (size_t)(buflen - done),
					  (off_t)(pos_ + done));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				status_ = io_error(errno);
				break;
			}
			if (r == 0)
				break;
			done += r;
		}
		pos_ += done;
		return done;
	}

	offile_off_t skip(offile_off_t skiplen) override
	{
		offile_off_t result = 0;

		if (status_.good() && open_ && skiplen > 0) {
			result = size_ - pos_ < skiplen ? size_ - pos_ : skiplen;
			if (result < 0)
				result = 0;
			pos_ += result;
		}
		return result;
	}

	void putback(offile_off_t num) override
	{
		if (status_.good() && open_ && num) {
			if (num <= pos_)
				pos_ -= num;
			else
				status_ = EC_PutbackFailed;
		}
	}

private:
	fd_producer(const fd_producer &) = delete;
	fd_producer &operator=(const fd_producer &) = delete;

	fd_ptr fd_;
	OFCondition status_;
	bool open_;	    // fstat succeeded
	offile_off_t size_; // as dcmtk: the size when the stream was made
	offile_off_t pos_;  // absolute position in the file
};

class fd_stream;

// Deferred values: a new stream over the same fd at the value's offset.
class fd_factory : public DcmInputFileStreamFactory {
public:
	fd_factory(const fd_ptr &fd, offile_off_t offset)
		: DcmInputFileStreamFactory(OFFilename("deid:fd"), offset),
		  fd_(fd)
	{
	}
	fd_factory(const fd_factory &o)
		: DcmInputFileStreamFactory(o), fd_(o.fd_)
	{
	}
	~fd_factory() override {}

	DcmInputStream *create() const override;
	DcmInputStreamFactory *clone() const override
	{
		return new fd_factory(*this);
	}

private:
	fd_factory &operator=(const fd_factory &) = delete;

	fd_ptr fd_;
};

class fd_stream : public DcmInputStream {
public:
	fd_stream(const fd_ptr &fd, offile_off_t offset)
		: DcmInputStream(&producer_), // only the pointer is stored
		  producer_(fd, offset), fd_(fd), base_(offset)
	{
	}
	~fd_stream() override {}

	DcmInputStreamFactory *newFactory() const override
	{
		// as DcmInputFileStream: none once a filter (inflate) is on
		if (currentProducer() != &producer_)
			return NULL;
		return new fd_factory(fd_, base_ + tell());
	}

private:
	fd_stream(const fd_stream &) = delete;
	fd_stream &operator=(const fd_stream &) = delete;

	fd_producer producer_;
	fd_ptr fd_;
	offile_off_t base_;
};

DcmInputStream *fd_factory::create() const
{
	return new fd_stream(fd_, getOffset());
}

} // namespace

DcmInputStream *dd_bridge_fd_stream_new(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (d < 0)
		return NULL;
	fd_ptr ref;
	try {
		ref = std::make_shared<fd_ref>(d);
	} catch (...) {
		close(d);
		throw;
	}
	return new fd_stream(ref, 0);
}

OFCondition dd_bridge_read_fd(DcmFileFormat &ff, int fd, Uint32 max_read)
{
	std::unique_ptr<DcmInputStream> in(dd_bridge_fd_stream_new(fd));

	if (!in)
		return makeOFCondition(OFM_dcmdata, 18, OF_error,
				       "cannot duplicate the source fd");
	// What DcmFileFormat::loadFile(name, EXS_Unknown, EGL_noChange,
	// max_read, ERM_autoDetect) does after opening the name.
	OFCondition c = in->status();
	if (c.bad())
		return c;
	c = ff.clear();
	if (c.bad())
		return c;
	const E_FileReadMode old = ff.getReadMode();
	ff.setReadMode(ERM_autoDetect);
	ff.transferInit();
	c = ff.read(*in, EXS_Unknown, EGL_noChange, max_read);
	ff.transferEnd();
	ff.setReadMode(old);
	return c;
}
