/* fs_ops.c: the FUSE low-level handlers of deidfs.
 *
 * Each handler finds its state, calls a worker in fs_node.c (which returns
 * a dd_err), converts the error with dd_err_to_errno() and replies exactly
 * once.  Write operations reply EROFS; so does an open with write flags.
 * Names handed to the kernel are view names only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "dd_log.h"
#include "dd_tls.h"
#include "fs_ops.h"

static struct dd_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_inode *fs_in(fuse_req_t req, fuse_ino_t ino)
{
	return fs_inode_get(fs_of(req), ino);
}

static void fs_reply_dd_err(fuse_req_t req, dd_err e)
{
	fuse_reply_err(req, dd_err_to_errno(e));
}

static void fs_fill_entry(struct dd_fs *fs, const struct fs_entry *en,
			  struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = fs_inode_nodeid(fs, en->in);
	e->attr = en->attr;
	e->attr_timeout = fs->cfg.attr_timeout;
	e->entry_timeout = fs->cfg.attr_timeout;
}

/* ---- per-thread read buffers ------------------------------------------- */

struct fs_tbuf {
	void *p;
	size_t cap;
};

static void fs_tbuf_free(void *arg)
{
	struct fs_tbuf *b = arg;

	free(b->p);
	free(b);
}

static struct dd_tls fs_tbuf_tls =
	DD_TLS_INIT(sizeof(struct fs_tbuf), NULL, fs_tbuf_free);

/* A buffer of at least @n bytes owned by the calling thread. */
static void *fs_tbuf_get(size_t n)
{
	struct fs_tbuf *b = dd_tls_get(&fs_tbuf_tls);

	if (!b)
		return NULL;
	if (b->cap < n) {
		void *p = realloc(b->p, n);

		if (!p)
			return NULL;
		b->p = p;
		b->cap = n;
	}
	return b->p;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void dd_fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* read-only: nothing is ever written back */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* prefill splices source pages into the kernel's page cache (only
	 * fuse_lowlevel_notify_store with fd buffers uses it) */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
}

/* ---- names ------------------------------------------------------------------ */

static void dd_fs_op_lookup(fuse_req_t req, fuse_ino_t parent,
			    const char *name)
{
	struct dd_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fs_entry en;
	dd_err err;

	err = fs_lookup(fs, fs_in(req, parent), name, &en);
	if (err == DD_E_NOTFOUND) {
		/* negative entry, cached by the kernel for entry_timeout */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->cfg.attr_timeout;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fs_reply_dd_err(req, err);
	} else {
		fs_fill_entry(fs, &en, &e);
		fuse_reply_entry(req, &e);
	}
}

static void dd_fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_inode_forget(fs_of(req), fs_in(req, ino), nlookup);
	fuse_reply_none(req);
}

static void dd_fs_op_forget_multi(fuse_req_t req, size_t count,
				  struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_inode_forget(fs_of(req), fs_in(req, forgets[i].ino),
				forgets[i].nlookup);
	fuse_reply_none(req);
}

static void dd_fs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct stat st;
	dd_err err;

	(void)fi;
	err = fs_getattr(fs_of(req), fs_in(req, ino), &st);
	if (err)
		fs_reply_dd_err(req, err);
	else
		fuse_reply_attr(req, &st, fs_of(req)->cfg.attr_timeout);
}

static void dd_fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	(void)ino;
	fuse_reply_err(req, (mask & W_OK) ? EROFS : 0);
}

/* ---- directories ------------------------------------------------------------ */

static void dd_fs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct dd_fs *fs = fs_of(req);
	struct fs_listing *l;
	dd_err err;

	FS_CTR_INC(fs, opendirs);
	err = fs_listing_get(fs, fs_in(req, ino), true, &l);
	if (err) {
		fs_reply_dd_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	/* The kernel keeps the entries it reads (FOPEN_CACHE_DIR) and a
	 * later listing is answered from that copy with no READDIR: a warm
	 * `find` is then as fast as on the source.  The copy is kept only
	 * while it is the listing as it is now, for half of attr_timeout at
	 * most (fs_listing_serve); the kernel also drops it when the
	 * directory's mtime changes. */
	fi->cache_readdir = 1;
	fi->keep_cache = fs_listing_serve(fs, l);
	if (fi->keep_cache)
		FS_CTR_INC(fs, dir_cache_kept);
	if (fuse_reply_open(req, fi) != 0)
		fs_listing_put(fs, l);
}

static void dd_fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
				struct fuse_file_info *fi)
{
	(void)ino;
	fs_listing_put(fs_of(req), (struct fs_listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Is entry @i of @l shown?  Directories always; files once classified as
 * served. */
static bool fs_ent_visible(struct fs_listing *l, size_t i)
{
	bool vis;

	if (l->ents[i].is_dir)
		return true;
	pthread_mutex_lock(&l->lock);
	vis = l->ents[i].st.valid && l->ents[i].st.reason == DD_REASON_NONE;
	pthread_mutex_unlock(&l->lock);
	return vis;
}

/* Add one plain entry; returns its size (> rem: it did not fit). */
static size_t fs_add_plain(fuse_req_t req, struct fs_inode *dir,
			   struct fs_listing *l, size_t i, char *p, size_t rem,
			   off_t next)
{
	struct fs_ent *ent = &l->ents[i];
	struct stat st, sb;

	memset(&st, 0, sizeof(st));
	if (ent->is_dir) {
		st.st_mode = S_IFDIR;
		if (fstatat(dir->fd, fs_ent_src(l, ent), &sb,
			    AT_SYMLINK_NOFOLLOW) == 0)
			st.st_ino = sb.st_ino;
	} else {
		st.st_mode = S_IFREG;
		pthread_mutex_lock(&l->lock);
		st.st_ino = (ino_t)ent->st.id.ino;
		pthread_mutex_unlock(&l->lock);
	}
	return fuse_add_direntry(req, p, rem, fs_ent_view(l, ent), &st,
				 next);
}

/* Worker of readdir(plus): fill @buf from offset @off.  Offsets: 1 and 2
 * are "." and "..", k + 3 follows entry k of the listing. */
static dd_err fs_do_readdir(fuse_req_t req, struct fs_inode *dir,
			    struct fs_listing *l, char *buf, size_t size,
			    off_t off, bool plus, size_t *len)
{
	struct dd_fs *fs = fs_of(req);
	size_t pos = 0;

	for (off_t k = off; (size_t)k < l->n + 2; k++) {
		struct fuse_entry_param e;
		struct fs_entry en;
		size_t sz, i = (size_t)k - 2;
		dd_err err;

		memset(&e, 0, sizeof(e));
		if (k < 2) {
			e.attr.st_mode = S_IFDIR;
			e.attr.st_ino = k == 0 ? 1 : 0;
			sz = plus ? fuse_add_direntry_plus(req, buf + pos,
							   size - pos,
							   k ? ".." : ".", &e,
							   k + 1)
				  : fuse_add_direntry(req, buf + pos,
						      size - pos,
						      k ? ".." : ".", &e.attr,
						      k + 1);
		} else if (!fs_ent_visible(l, i)) {
			continue;
		} else if (!plus) {
			sz = fs_add_plain(req, dir, l, i, buf + pos, size - pos,
					  k + 1);
		} else {
			err = fs_lookup_ent(fs, dir, l, i, &en);
			if (err == DD_E_NOTFOUND)
				continue;
			if (err) {
				if (pos == 0)
					return err;
				break;
			}
			fs_fill_entry(fs, &en, &e);
			sz = fuse_add_direntry_plus(req, buf + pos, size - pos,
						    fs_ent_view(l, &l->ents[i]),
						    &e, k + 1);
			if (sz > size - pos)
				fs_inode_forget(fs, en.in, 1);
		}
		if (sz > size - pos)
			break;
		pos += sz;
	}
	*len = pos;
	return DD_OK;
}

static void fs_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs_listing *l = (struct fs_listing *)(uintptr_t)fi->fh;
	char *buf = calloc(1, size ? size : 1);
	size_t len = 0;
	dd_err err;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	FS_CTR_INC(fs_of(req), readdirs);
	err = fs_do_readdir(req, fs_in(req, ino), l, buf, size, off, plus,
			    &len);
	if (err)
		fs_reply_dd_err(req, err);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void dd_fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	fs_readdir_common(req, ino, size, off, fi, false);
}

static void dd_fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
				 off_t off, struct fuse_file_info *fi)
{
	fs_readdir_common(req, ino, size, off, fi, true);
}

/* ---- files ------------------------------------------------------------------ */

/* The view of @fh as a buffer vector for a splice: source ranges as
 * (fd, offset) buffers, literal bytes as memory.  NULL when a segment is
 * of another kind (zeros, regenerated bytes) or there are many small
 * ones (each takes a pipe slot): then the bytes are copied. */
#define FS_SPLICE_SEGS 64
static struct fuse_bufvec *fs_prefill_bufv(const struct fs_fh *fh)
{
	const struct dd_manifest *m = &fh->mf->m;
	struct fuse_bufvec *bv;

	if (m->n_segs == 0 || m->n_segs > FS_SPLICE_SEGS)
		return NULL;
	for (uint32_t i = 0; i < m->n_segs; i++)
		if (m->segs[i].kind != DD_SEG_LITERAL &&
		    m->segs[i].kind != DD_SEG_SOURCE)
			return NULL;
	bv = calloc(1, sizeof(*bv) + m->n_segs * sizeof(bv->buf[0]));
	if (!bv)
		return NULL;
	bv->count = m->n_segs;
	for (uint32_t i = 0; i < m->n_segs; i++) {
		const struct dd_seg *sg = &m->segs[i];
		struct fuse_buf *b = &bv->buf[i];

		b->size = (size_t)sg->len;
		if (sg->kind == DD_SEG_LITERAL) {
			b->mem = m->data.data + sg->offset;
		} else {
			b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			b->fd = fh->fd;
			b->pos = (off_t)sg->offset;
		}
	}
	return bv;
}

/* Store the whole view of the file open at @fh in the kernel's page
 * cache, before the open is answered.  Only at the first open of an
 * inode (fs_open() says when): the kernel holds no page of it, and other
 * opens of it wait until this returns, so no reader can see a stored page
 * before the open is answered.  That allows one copy: source pages are
 * spliced into a pipe and copied by the kernel into the page cache, and
 * the identity check comes after the copy (a write in place updates mtime
 * before its bytes, so a copy that took new bytes is followed by a check
 * that sees the change); on a change the stored pages are dropped before
 * anyone can read them.  (A READ reply cannot do this: its pages are
 * readable as soon as it is written.)  Manifests with other segments are
 * read with fs_read() and copied.  The reader then finds every page cached
 * and makes no READ request.  Returns true when stored: the open must then
 * keep the cache (keep_cache = 0 would drop it). */
static bool fs_prefill(struct dd_fs *fs, fuse_ino_t ino, struct fs_fh *fh)
{
	struct fuse_bufvec one = FUSE_BUFVEC_INIT(0), *bv = fs_prefill_bufv(fh);
	size_t size = (size_t)fh->mf->m.size, got = 0;
	void *buf;
	int rc;

	if (bv) {
		FS_CTR_INC(fs, reads);
		rc = fuse_lowlevel_notify_store(fs->se, ino, 0, bv, 0);
		free(bv);
		if (fs->cfg.test_prefill_delay_us)
			usleep(fs->cfg.test_prefill_delay_us);
		if (fs_fh_check(fs, fh) != DD_OK) {
			/* perhaps mixed: unread, dropped */
			fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
			return false;
		}
		if (rc != 0)
			return false;
		FS_CTR_ADD(fs, bytes_served, size);
		FS_CTR_INC(fs, prefills);
		return true;
	}
	buf = fs_tbuf_get(size);
	if (!buf || fs_read(fs, fh, buf, size, 0, &got) != DD_OK ||
	    got != size)
		return false;
	one.buf[0].mem = buf;
	one.buf[0].size = got;
	if (fuse_lowlevel_notify_store(fs->se, ino, 0, &one, 0) != 0)
		return false;
	FS_CTR_INC(fs, prefills);
	return true;
}

static void dd_fs_op_open(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dd_fs *fs = fs_of(req);
	bool keep = false, changed = false, prefill = false;
	struct fs_inode *in = fs_in(req, ino);
	uint64_t prefill_max;
	struct fs_fh *fh;
	dd_err err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & (O_TRUNC | O_CREAT))) {
		FS_CTR_INC(fs, write_attempts);
		fuse_reply_err(req, EROFS);
		return;
	}
	if (__atomic_load_n(&fs->ra_pending, __ATOMIC_RELAXED))
		fs_set_read_ahead(fs); /* once; INIT is answered by now */
	/* O_DIRECT reads do not use the page cache */
	prefill_max = (fi->flags & O_DIRECT) ? 0 :
		      (uint64_t)fs->cfg.prefill_kb << 10;
	err = fs_open(fs, in, prefill_max, &fh, &keep, &changed, &prefill);
	if (err) {
		fs_reply_dd_err(req, err);
		return;
	}
	/* The kernel's cached size is stale when the source changed since
	 * it last saw our attributes: drop the attributes (not the pages:
	 * keep_cache = 0 does that) before the reader can use them.  Only
	 * attributes, so no page lock is taken: safe inside open. */
	if (changed)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	if (prefill) {
		if (fs_prefill(fs, ino, fh))
			keep = true;
		fs_prefill_done(fs, in);
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = keep;
	/* close(2) needs no answer from a read-only view: without FLUSH a
	 * reader's close makes no round trip (RELEASE is asynchronous).
	 * There is no flush op either: a kernel that ignores this flag gets
	 * ENOSYS once and stops sending FLUSH. */
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0) /* the open was interrupted */
		fs_release(fs, fh);
}

static void dd_fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct fs_fh *fh = (struct fs_fh *)(uintptr_t)fi->fh;
	void *buf = fs_tbuf_get(size ? size : 1);
	size_t got = 0;
	dd_err err;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	err = fs_read(fs_of(req), fh, buf, size, (uint64_t)off, &got);
	if (err)
		fs_reply_dd_err(req, err);
	else
		fuse_reply_buf(req, buf, got);
}

static void dd_fs_op_release(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	(void)ino;
	fs_release(fs_of(req), (struct fs_fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void dd_fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			   struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void dd_fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

/* ---- xattrs: only the counters, on the root, unlisted ------------------------ */

/* Slack added to the size answer: the counters may grow between a size
 * query and the fetch. */
#define FS_XATTR_SLACK 1024

static void dd_fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			      size_t size)
{
	struct dd_fs *fs = fs_of(req);
	struct dd_buf b;
	dd_err err;

	if (fs_in(req, ino) != &fs->root ||
	    strcmp(name, DD_FS_COUNTERS_XATTR) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	dd_buf_init(&b, 1 << 20);
	err = fs_counters_json(fs, &b);
	if (err)
		fs_reply_dd_err(req, err);
	else if (size == 0)
		fuse_reply_xattr(req, b.len + FS_XATTR_SLACK);
	else if (size < b.len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)b.data, b.len);
	dd_buf_free(&b);
}

static void dd_fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

/* ---- everything that writes: EROFS ------------------------------------------- */

static void fs_erofs(fuse_req_t req)
{
	FS_CTR_INC(fs_of(req), write_attempts);
	fuse_reply_err(req, EROFS);
}

static void dd_fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			     int to_set, struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	fs_erofs(req);
}

static void dd_fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fs_erofs(req);
}

static void dd_fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fs_erofs(req);
}

static void dd_fs_op_unlink(fuse_req_t req, fuse_ino_t parent,
			    const char *name)
{
	(void)parent, (void)name;
	fs_erofs(req);
}

static void dd_fs_op_symlink(fuse_req_t req, const char *link,
			     fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	fs_erofs(req);
}

static void dd_fs_op_rename(fuse_req_t req, fuse_ino_t parent,
			    const char *name, fuse_ino_t newparent,
			    const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fs_erofs(req);
}

static void dd_fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			  const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fs_erofs(req);
}

static void dd_fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			   size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino, (void)buf, (void)size, (void)off, (void)fi;
	fs_erofs(req);
}

static void dd_fs_op_create(fuse_req_t req, fuse_ino_t parent,
			    const char *name, mode_t mode,
			    struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fs_erofs(req);
}

static void dd_fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			      const char *value, size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fs_erofs(req);
}

static void dd_fs_op_removexattr(fuse_req_t req, fuse_ino_t ino,
				 const char *name)
{
	(void)ino, (void)name;
	fs_erofs(req);
}

static void dd_fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			       off_t offset, off_t length,
			       struct fuse_file_info *fi)
{
	(void)ino, (void)mode, (void)offset, (void)length, (void)fi;
	fs_erofs(req);
}

const struct fuse_lowlevel_ops dd_fs_ops = {
	.init = dd_fs_op_init,
	.lookup = dd_fs_op_lookup,
	.forget = dd_fs_op_forget,
	.forget_multi = dd_fs_op_forget_multi,
	.getattr = dd_fs_op_getattr,
	.access = dd_fs_op_access,
	.opendir = dd_fs_op_opendir,
	.readdir = dd_fs_op_readdir,
	.readdirplus = dd_fs_op_readdirplus,
	.releasedir = dd_fs_op_releasedir,
	.open = dd_fs_op_open,
	.read = dd_fs_op_read,
	.release = dd_fs_op_release,
	.fsync = dd_fs_op_fsync,
	.statfs = dd_fs_op_statfs,
	.getxattr = dd_fs_op_getxattr,
	.listxattr = dd_fs_op_listxattr,
	.setattr = dd_fs_op_setattr,
	.mknod = dd_fs_op_mknod,
	.mkdir = dd_fs_op_mkdir,
	.unlink = dd_fs_op_unlink,
	.rmdir = dd_fs_op_unlink,
	.symlink = dd_fs_op_symlink,
	.rename = dd_fs_op_rename,
	.link = dd_fs_op_link,
	.write = dd_fs_op_write,
	.create = dd_fs_op_create,
	.setxattr = dd_fs_op_setxattr,
	.removexattr = dd_fs_op_removexattr,
	.fallocate = dd_fs_op_fallocate,
};
