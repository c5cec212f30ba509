/* fs_node.c: the state behind the deidfs handlers: inodes, directory
 * listings, classification of source files (cache or transform), open
 * handles and counters.  No FUSE header here: the handlers in fs_ops.c
 * call these workers and reply.
 *
 * Classification is what decides whether a name appears at all: a file is
 * listed or found by lookup only once its manifest (from the cache, or a
 * transform) says it is served.  The warm case costs one fstatat and one
 * cache get per entry; the result is kept in the directory's listing while
 * the source identity holds, so a second listing costs fstatat only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dd_log.h"
#include "dd_ocr.h"
#include "dd_path.h"
#include "fs_i.h"

#define FS_ROOT_NODEID 1
#define FS_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FS_TRANSFORM_TRIES 3

int64_t fs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- manifests ------------------------------------------------------------ */

static struct fs_mf *fs_mf_new(void)
{
	struct fs_mf *mf = calloc(1, sizeof(*mf));

	if (!mf)
		return NULL;
	mf->refs = 1;
	dd_manifest_init(&mf->m);
	return mf;
}

static struct fs_mf *fs_mf_ref(struct fs_mf *mf)
{
	__atomic_add_fetch(&mf->refs, 1, __ATOMIC_RELAXED);
	return mf;
}

static void fs_mf_put(struct fs_mf *mf)
{
	if (!mf || __atomic_sub_fetch(&mf->refs, 1, __ATOMIC_ACQ_REL))
		return;
	dd_manifest_free(&mf->m);
	free(mf);
}

static void fs_mf_finish(struct fs_mf *mf, const struct dd_ident *id)
{
	mf->id = *id;
	mf->bytes = sizeof(*mf) + mf->m.n_segs * sizeof(struct dd_seg) +
		    mf->m.data.len;
}

static void fs_state_from_mf(struct fs_fstate *st, const struct fs_mf *mf)
{
	st->id = mf->id;
	st->size = mf->m.reason == DD_REASON_NONE ? mf->m.size : 0;
	st->kind = (uint8_t)mf->m.kind;
	st->reason = (uint8_t)mf->m.reason;
	st->valid = true;
}

/* Keep @mf in @in for the next open, within the memory budget.  Takes
 * over the caller's reference.  Called with fs_ilock(fs, in) held. */
static void fs_inode_keep_mf(struct dd_fs *fs, struct fs_inode *in,
			     struct fs_mf *mf)
{
	struct fs_mf *old = in->mf;

	in->mf = NULL;
	if (old) {
		__atomic_sub_fetch(&fs->mf_bytes, old->bytes, __ATOMIC_RELAXED);
		fs_mf_put(old);
	}
	if (!mf)
		return;
	if (__atomic_load_n(&fs->mf_bytes, __ATOMIC_RELAXED) + mf->bytes >
	    fs->mf_budget) {
		fs_mf_put(mf);
		return;
	}
	__atomic_add_fetch(&fs->mf_bytes, mf->bytes, __ATOMIC_RELAXED);
	in->mf = mf;
}

/* ---- classification ------------------------------------------------------ */

static void fs_count_state(struct dd_fs *fs, const struct fs_fstate *st)
{
	if (st->reason == DD_REASON_NONE)
		FS_CTR_INC(fs, visible);
	else if (st->reason < DD_REASON_LAST)
		FS_CTR_INC(fs, hidden[st->reason]);
}

static void fs_cache_put(struct dd_fs *fs, const uint8_t key[32],
			 const struct dd_manifest *m)
{
	struct dd_buf b;

	dd_buf_init(&b, DD_CACHE_VALUE_MAX);
	if (dd_manifest_encode(m, &b) == DD_OK &&
	    dd_cache_put(fs->cache, key, b.data, b.len) == DD_OK)
		FS_CTR_INC(fs, cache_puts);
	else
		FS_CTR_INC(fs, cache_put_errors);
	dd_buf_free(&b);
}

/* The manifest of @id from the cache, or NULL. */
static struct fs_mf *fs_cache_lookup(struct dd_fs *fs, const uint8_t key[32],
				     const struct dd_ident *id)
{
	struct fs_mf *mf;
	uint8_t *bytes = NULL;
	size_t len = 0;
	dd_err e;

	if (!fs->cache)
		return NULL;
	e = dd_cache_get(fs->cache, key, &bytes, &len);
	if (e) {
		FS_CTR_INC(fs, cache_misses);
		if (e == DD_E_CORRUPT)
			FS_CTR_INC(fs, cache_corrupt);
		return NULL;
	}
	mf = fs_mf_new();
	if (mf && dd_manifest_decode(bytes, len, &mf->m) == DD_OK) {
		free(bytes);
		fs_mf_finish(mf, id);
		FS_CTR_INC(fs, cache_hits);
		return mf;
	}
	/* a record that verifies but does not decode: a miss, and the put
	 * after the transform replaces it */
	free(bytes);
	fs_mf_put(mf);
	FS_CTR_INC(fs, cache_corrupt);
	FS_CTR_INC(fs, cache_misses);
	return NULL;
}

/* Transform the source open at @fd; retries while it changes under us.
 * Without @full, the transform for a stat (dd_view_manifest_size: no
 * OCR, except for an image re-encoded in its codec under
 * redactedEncoding "same", whose size needs the whole transform: that
 * manifest comes back complete): *@complete false then means only the
 * size, kind and reason of *@out are valid (never served, never
 * cached). */
static dd_err fs_transform(struct dd_fs *fs, int fd, const char *src_name,
			   const char *log_name, bool full, bool *complete,
			   struct fs_mf **out)
{
	struct fs_mf *mf = fs_mf_new();
	struct dd_ident id;
	struct stat sb;
	dd_err e = DD_E_CHANGED;

	if (!mf)
		return DD_E_NOMEM;
	for (int t = 0; t < FS_TRANSFORM_TRIES && e == DD_E_CHANGED; t++) {
		if (fstat(fd, &sb) < 0) {
			e = DD_E_IO;
			break;
		}
		dd_ident_from_stat(&sb, &id);
		FS_CTR_INC(fs, transforms);
		*complete = true;
		if (full)
			e = dd_view_manifest(fs->view, fd, &id, src_name,
					     log_name, &mf->m);
		else
			e = dd_view_manifest_size(fs->view, fd, &id, src_name,
						  log_name, &mf->m, complete);
		if (e == DD_E_CHANGED)
			FS_CTR_INC(fs, changed_during_transform);
	}
	if (e) {
		FS_CTR_INC(fs, transform_errors);
		dd_log(DD_LOG_WARN, "%s: transform failed: %s",
		       log_name ? log_name : "?", dd_strerror(e));
		fs_mf_put(mf);
		return e;
	}
	if (!*complete)
		FS_CTR_INC(fs, size_only_transforms);
	fs_mf_finish(mf, &id);
	*out = mf;
	return DD_OK;
}

/* Classify the source @src_name in @dirfd, stat'ed as @sb: its state, and
 * (if @mf_out) its manifest.  @fd is the source open read-only, or -1
 * (opened here when needed).  Hidden files get a valid hidden state.
 * Without @full (lookup, getattr, listings) a file whose manifest needs
 * OCR gets its state from the size-only transform and no manifest: the
 * open that follows classifies it with @full, and OCR runs then.  A
 * complete manifest (nothing to OCR, or an image re-encoded under
 * redactedEncoding "same", transformed whole) is cached here, so its
 * open reads the cache. */
static dd_err fs_classify(struct dd_fs *fs, int dirfd, const char *src_name,
			  const char *log_name, const struct stat *sb, int fd,
			  bool full, struct fs_fstate *out,
			  struct fs_mf **mf_out)
{
	struct fs_mf *mf = NULL;
	uint8_t key[32];
	int own_fd = -1;
	bool complete = true;
	dd_err e;

	memset(out, 0, sizeof(*out));
	if (mf_out)
		*mf_out = NULL;
	dd_ident_from_stat(sb, &out->id);
	if (!S_ISREG(sb->st_mode)) {
		out->reason = DD_REASON_SPECIAL_FILE;
		out->valid = true;
		fs_count_state(fs, out);
		return DD_OK;
	}
	dd_view_cache_key(fs->view, &out->id, key);
	mf = fs_cache_lookup(fs, key, &out->id);
	if (!mf) {
		if (fd < 0) {
			e = dd_view_open_beneath(dirfd, src_name, O_NOFOLLOW,
						 &own_fd);
			if (e)
				return e == DD_E_NOTFOUND ? e : DD_E_IO;
			fd = own_fd;
		}
		e = fs_transform(fs, fd, src_name, log_name, full, &complete,
				 &mf);
		if (own_fd >= 0)
			close(own_fd);
		if (e)
			return e;
		if (!complete) {
			/* a stat's size only: no OCR yet */
			fs_state_from_mf(out, mf);
			fs_count_state(fs, out);
			fs_mf_put(mf);
			return DD_OK;
		}
		/* a transient hide stays in memory (this inode, this
		 * listing) but not in the cache: the next mount retries */
		if (fs->cache && !dd_reason_is_transient(mf->m.reason)) {
			dd_view_cache_key(fs->view, &mf->id, key);
			fs_cache_put(fs, key, &mf->m);
		}
	}
	fs_state_from_mf(out, mf);
	fs_count_state(fs, out);
	if (mf_out)
		*mf_out = mf;
	else
		fs_mf_put(mf);
	return DD_OK;
}

/* The view name of @src for log lines (never the source name). */
static void fs_log_name(struct dd_fs *fs, const char *src, bool is_dir,
			char out[DD_PATH_NAME_MAX + 1])
{
	if (dd_view_name(fs->view, src, is_dir, out) != DD_OK)
		snprintf(out, DD_PATH_NAME_MAX + 1, "(hidden name)");
}

/* ---- inodes ---------------------------------------------------------------- */

static uint64_t fs_hash(const struct fs_inode *parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)parent;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h ^ (h >> 29);
}

dd_err fs_init(struct dd_fs *fs, int root_fd)
{
	struct stat sb;

	if (fstat(root_fd, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return DD_E_INVAL;
	pthread_mutex_init(&fs->ino_lock, NULL);
	pthread_mutex_init(&fs->lst_lock, NULL);
	pthread_mutex_init(&fs->pf_lock, NULL);
	pthread_cond_init(&fs->pf_cond, NULL);
	for (int i = 0; i < FS_ILOCKS; i++)
		pthread_mutex_init(&fs->ilocks[i], NULL);
	fs->tab_size = 1024;
	fs->tab = calloc(fs->tab_size, sizeof(*fs->tab));
	if (!fs->tab)
		return DD_E_NOMEM;
	memset(&fs->root, 0, sizeof(fs->root));
	fs->root.fd = root_fd;
	fs->root.is_dir = true;
	fs->root.nlookup = 1; /* never forgotten */
	dd_ident_from_stat(&sb, &fs->root.st.id);
	fs->root_dev = (uint64_t)sb.st_dev;
	fs->attr_timeout_ns = (int64_t)(fs->cfg.attr_timeout * 1e9);
	/* Within the daemon's memory target (100 MB at a million files):
	 * manifests are kept only for the open that follows a lookup, and a
	 * listing costs about 93 bytes an entry with its names, so 12 MiB
	 * keeps the ~135 most recently used directories of 1,000 entries
	 * (a tree of 100,000 files whole; at a million, 16 MiB put the warm
	 * find at the target's edge: docs/internals/fs.md). */
	if (!fs->mf_budget)
		fs->mf_budget = 16ULL << 20;
	if (!fs->listing_budget)
		fs->listing_budget = 12ULL << 20;
	return DD_OK;
}

static void fs_listing_free(struct dd_fs *fs, struct fs_listing *l)
{
	__atomic_sub_fetch(&fs->listing_bytes, l->bytes, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&fs->ctr.listings, 1, __ATOMIC_RELAXED);
	pthread_mutex_destroy(&l->lock);
	free(l->ents); /* the arena too */
	free(l);
}

void fs_listing_put(struct dd_fs *fs, struct fs_listing *l)
{
	if (l && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0)
		fs_listing_free(fs, l);
}

/* ---- the LRU of kept listings (fs->lst_lock held) ---------------------------- */

static void fs_lru_unlink(struct dd_fs *fs, struct fs_listing *l)
{
	if (l->lru_prev)
		l->lru_prev->lru_next = l->lru_next;
	else
		fs->lru_head = l->lru_next;
	if (l->lru_next)
		l->lru_next->lru_prev = l->lru_prev;
	else
		fs->lru_tail = l->lru_prev;
	l->lru_prev = l->lru_next = NULL;
}

static void fs_lru_push(struct dd_fs *fs, struct fs_listing *l)
{
	l->lru_prev = NULL;
	l->lru_next = fs->lru_head;
	if (fs->lru_head)
		fs->lru_head->lru_prev = l;
	else
		fs->lru_tail = l;
	fs->lru_head = l;
}

/* Take the listing kept on @in off it and out of the LRU; returns it with
 * the reference the inode held (or NULL). */
static struct fs_listing *fs_lru_take(struct dd_fs *fs, struct fs_inode *in)
{
	struct fs_listing *l = in->listing;

	if (!l)
		return NULL;
	fs_lru_unlink(fs, l);
	l->owner = NULL;
	in->listing = NULL;
	fs->kept_bytes -= l->bytes;
	return l;
}

static void fs_inode_free(struct dd_fs *fs, struct fs_inode *in)
{
	struct fs_listing *l;

	if (in->fd >= 0)
		close(in->fd);
	fs_inode_keep_mf(fs, in, NULL);
	/* the LRU must never point to a freed inode */
	pthread_mutex_lock(&fs->lst_lock);
	l = fs_lru_take(fs, in);
	pthread_mutex_unlock(&fs->lst_lock);
	fs_listing_put(fs, l);
	free(in); /* the name too */
	__atomic_sub_fetch(&fs->ctr.inodes, 1, __ATOMIC_RELAXED);
}

/* Remove @in from the table.  fs->ino_lock held. */
static void fs_unhash(struct dd_fs *fs, struct fs_inode *in)
{
	struct fs_inode **pp;

	if (!in->hashed)
		return;
	pp = &fs->tab[fs_hash(in->parent, in->src_name) & (fs->tab_size - 1)];
	while (*pp && *pp != in)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = in->hnext;
	in->hashed = false;
	in->hnext = NULL;
	fs->n_inodes--;
}

static void fs_grow(struct dd_fs *fs)
{
	size_t nsize = fs->tab_size * 2;
	struct fs_inode **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return; /* chains just get longer */
	for (size_t i = 0; i < fs->tab_size; i++) {
		struct fs_inode *in = fs->tab[i], *next;

		for (; in; in = next) {
			size_t b = fs_hash(in->parent, in->src_name) &
				   (nsize - 1);

			next = in->hnext;
			in->hnext = nt[b];
			nt[b] = in;
		}
	}
	free(fs->tab);
	fs->tab = nt;
	fs->tab_size = nsize;
}

struct fs_inode *fs_inode_get(struct dd_fs *fs, uint64_t nodeid)
{
	if (nodeid == FS_ROOT_NODEID)
		return &fs->root;
	return (struct fs_inode *)(uintptr_t)nodeid;
}

uint64_t fs_inode_nodeid(struct dd_fs *fs, struct fs_inode *in)
{
	return in == &fs->root ? FS_ROOT_NODEID : (uint64_t)(uintptr_t)in;
}

void fs_inode_forget(struct dd_fs *fs, struct fs_inode *in, uint64_t n)
{
	struct fs_inode *dead = NULL;

	pthread_mutex_lock(&fs->ino_lock);
	in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
	while (in && in != &fs->root && in->nlookup == 0 && in->irefs == 0) {
		struct fs_inode *parent = in->parent;

		fs_unhash(fs, in);
		in->hnext = dead;
		dead = in;
		if (parent)
			parent->irefs--;
		in = parent;
	}
	pthread_mutex_unlock(&fs->ino_lock);
	while (dead) {
		struct fs_inode *next = dead->hnext;

		fs_inode_free(fs, dead);
		dead = next;
	}
}

/* Find or create the inode of (@dir, @src) with one kernel reference.
 * Directories: @fd is the directory's fd (taken over) and @sb its stat; an
 * existing inode for another directory under that name is detached. */
static dd_err fs_inode_ref(struct dd_fs *fs, struct fs_inode *dir,
			   const char *src, bool is_dir, int fd,
			   const struct stat *sb, struct fs_inode **out)
{
	struct fs_inode *in, *fresh;
	size_t b, len = strlen(src) + 1;

	/* one allocation: the inode, then its name */
	fresh = calloc(1, sizeof(*fresh) + len);
	if (!fresh) {
		if (fd >= 0)
			close(fd);
		return DD_E_NOMEM;
	}
	fresh->src_name = (char *)(fresh + 1);
	memcpy(fresh->src_name, src, len);
	pthread_mutex_lock(&fs->ino_lock);
	b = fs_hash(dir, src) & (fs->tab_size - 1);
	for (in = fs->tab[b]; in; in = in->hnext) {
		if (in->parent != dir || strcmp(in->src_name, src) != 0)
			continue;
		if (in->is_dir == is_dir &&
		    (!is_dir || (in->st.id.dev == (uint64_t)sb->st_dev &&
				 in->st.id.ino == (uint64_t)sb->st_ino)))
			break;
		fs_unhash(fs, in); /* replaced by another type/directory */
		break;
	}
	if (in && in->hashed) {
		in->nlookup++;
		pthread_mutex_unlock(&fs->ino_lock);
		free(fresh);
		if (fd >= 0)
			close(fd);
		*out = in;
		return DD_OK;
	}
	in = fresh;
	in->parent = dir;
	dir->irefs++;
	in->is_dir = is_dir;
	in->fd = fd;
	in->nlookup = 1;
	if (is_dir)
		dd_ident_from_stat(sb, &in->st.id);
	in->hashed = true;
	in->hnext = fs->tab[b];
	fs->tab[b] = in;
	if (++fs->n_inodes > fs->tab_size)
		fs_grow(fs);
	pthread_mutex_unlock(&fs->ino_lock);
	__atomic_add_fetch(&fs->ctr.inodes, 1, __ATOMIC_RELAXED);
	*out = in;
	return DD_OK;
}

void fs_destroy(struct dd_fs *fs)
{
	struct fs_listing *l;

	if (!fs->tab)
		return;
	/* children before parents does not matter: nothing is shared but
	 * the parent pointer, which is not followed here */
	for (size_t i = 0; i < fs->tab_size; i++) {
		struct fs_inode *in = fs->tab[i], *next;

		for (; in; in = next) {
			next = in->hnext;
			fs_inode_free(fs, in);
		}
	}
	free(fs->tab);
	fs->tab = NULL;
	pthread_mutex_lock(&fs->lst_lock);
	l = fs_lru_take(fs, &fs->root);
	pthread_mutex_unlock(&fs->lst_lock);
	fs_listing_put(fs, l);
	if (fs->root.fd >= 0)
		close(fs->root.fd);
	fs->root.fd = -1;
	for (int i = 0; i < FS_ILOCKS; i++)
		pthread_mutex_destroy(&fs->ilocks[i]);
	pthread_mutex_destroy(&fs->lst_lock);
	pthread_cond_destroy(&fs->pf_cond);
	pthread_mutex_destroy(&fs->pf_lock);
	pthread_mutex_destroy(&fs->ino_lock);
}

/* ---- attributes ------------------------------------------------------------ */

/* st_ino: the source inode number on SRC's device, a mixed value (top bit
 * set) for inodes on other devices mounted below SRC. */
static uint64_t fs_view_ino(struct dd_fs *fs, uint64_t dev, uint64_t ino)
{
	uint64_t h;

	if (dev == fs->root_dev)
		return ino;
	h = (dev * 0x9E3779B97F4A7C15ULL) ^ ino;
	h ^= h >> 31;
	return h | (1ULL << 63);
}

static void fs_attr_common(struct dd_fs *fs, const struct dd_ident *id,
			   struct stat *out)
{
	struct timespec ts = dd_view_timestamp(fs->view, id);

	out->st_ino = (ino_t)fs_view_ino(fs, id->dev, id->ino);
	out->st_uid = fs->cfg.uid;
	out->st_gid = fs->cfg.gid;
	out->st_atim = ts;
	out->st_mtim = ts;
	out->st_ctim = ts;
	out->st_blksize = 4096;
}

void fs_attr_file(struct dd_fs *fs, const struct fs_fstate *st,
		  struct stat *out)
{
	memset(out, 0, sizeof(*out));
	fs_attr_common(fs, &st->id, out);
	out->st_mode = S_IFREG | (0444 & ~fs->cfg.umask);
	out->st_nlink = 1;
	out->st_size = (off_t)st->size;
	out->st_blocks = (blkcnt_t)((st->size + 511) / 512);
}

void fs_attr_dir(struct dd_fs *fs, const struct stat *src, struct stat *out)
{
	struct dd_ident id;

	dd_ident_from_stat(src, &id);
	memset(out, 0, sizeof(*out));
	fs_attr_common(fs, &id, out);
	out->st_mode = S_IFDIR | (0555 & ~fs->cfg.umask);
	out->st_nlink = 2;
	out->st_size = 4096;
	out->st_blocks = 8;
}

/* ---- listings -------------------------------------------------------------- */

static dd_err fs_listing_build(struct dd_fs *fs, int dirfd,
			       const struct dd_ident *dir_id,
			       struct fs_listing **out)
{
	struct dd_view_dir d;
	struct fs_listing *l;
	size_t arena = 0, pos = 0;
	dd_err e;

	e = dd_view_list_dir(fs->view, dirfd, &d);
	if (e)
		return e;
	FS_CTR_ADD(fs, hidden_names, d.n_hidden_names);
	FS_CTR_ADD(fs, name_collisions, d.n_collisions);
	for (size_t i = 0; i < d.n; i++)
		arena += strlen(d.v[i].view_name) + strlen(d.v[i].src_name) + 2;
	l = arena < UINT32_MAX ? calloc(1, sizeof(*l)) : NULL;
	if (l)
		l->ents = calloc(1, d.n * sizeof(*l->ents) + arena + 1);
	if (!l || !l->ents) {
		free(l);
		dd_view_dir_free(&d);
		return DD_E_NOMEM;
	}
	l->arena = (char *)(l->ents + d.n);
	for (size_t i = 0; i < d.n; i++) {
		struct fs_ent *ent = &l->ents[i];
		size_t vn = strlen(d.v[i].view_name);
		size_t sn = strlen(d.v[i].src_name) + 1;

		if (vn > UINT8_MAX) { /* view names are at most 255 bytes */
			free(l->ents);
			free(l);
			dd_view_dir_free(&d);
			return DD_E_INVAL;
		}
		ent->name = (uint32_t)pos;
		ent->view_len = (uint8_t)vn;
		memcpy(l->arena + pos, d.v[i].view_name, vn + 1);
		pos += vn + 1;
		memcpy(l->arena + pos, d.v[i].src_name, sn);
		pos += sn;
		ent->is_dir = d.v[i].d_type == DT_DIR;
	}
	l->n = d.n;
	l->refs = 1;
	l->gen = 1; /* served 0: the first OPENDIR drops the kernel's copy */
	l->dir_id = *dir_id;
	l->bytes = sizeof(*l) + d.n * sizeof(*l->ents) + arena;
	pthread_mutex_init(&l->lock, NULL);
	dd_view_dir_free(&d);
	__atomic_add_fetch(&fs->listing_bytes, l->bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fs->ctr.listings, 1, __ATOMIC_RELAXED);
	*out = l;
	return DD_OK;
}

/* Is an entry in state @st shown by readdir? */
static bool fs_st_shown(const struct fs_fstate *st)
{
	return st->valid && st->reason == DD_REASON_NONE;
}

/* Set @ent's state to @st (l->lock held), counting a change of what
 * readdir shows for it in l->gen: the kernel's cached copy of the
 * directory is then dropped at the next OPENDIR. */
static void fs_ent_set(struct fs_listing *l, struct fs_ent *ent,
		       const struct fs_fstate *st)
{
	bool was = fs_st_shown(&ent->st), now = fs_st_shown(st);

	if (was != now || (now && ent->st.id.ino != st->id.ino))
		l->gen++;
	ent->st = *st;
}

bool fs_listing_serve(struct dd_fs *fs, struct fs_listing *l)
{
	int64_t now = fs_now_ns();
	bool keep;

	/* The kernel's names and attributes of the entries were renewed by
	 * the READDIRPLUS that filled its copy, and last attr_timeout from
	 * then.  A listing answered from the copy renews nothing, so an
	 * open of an entry whose name has expired costs a LOOKUP each,
	 * where reading the listing again renews them all in a few
	 * requests: the copy is kept only in the first half of that time,
	 * so a pass that starts from it (find | xargs cat) finds its names
	 * still valid.  (A 2,000-file re-read starting 0.55 s after the fill
	 * with attr_timeout 1 s ran at 0.80-0.82 x native with the whole
	 * time, 0.85-0.90 with no copy.) */
	pthread_mutex_lock(&l->lock);
	keep = l->served == l->gen &&
	       now - l->filled_ns < fs->attr_timeout_ns / 2;
	l->served = l->gen;
	if (!keep)
		l->filled_ns = now;
	pthread_mutex_unlock(&l->lock);
	return keep;
}

/* Parallel classification of the entries of one listing. */
struct fs_job {
	struct dd_fs *fs;
	struct fs_inode *dir;
	struct fs_listing *l;
	size_t *idx;
	struct stat *sb;
	size_t n;
	size_t next; /* atomic */
};

static void fs_job_one(struct fs_job *j, size_t k)
{
	struct fs_ent *ent = &j->l->ents[j->idx[k]];
	char log_name[DD_PATH_NAME_MAX + 1];
	struct fs_fstate st;
	dd_err e;

	snprintf(log_name, sizeof(log_name), "%s", fs_ent_view(j->l, ent));
	e = fs_classify(j->fs, j->dir->fd, fs_ent_src(j->l, ent), log_name,
			&j->sb[k], -1, false, &st, NULL);
	if (e) {
		/* hidden for now, tried again at the next refresh */
		memset(&st, 0, sizeof(st));
		st.reason = DD_REASON_UNREADABLE;
	}
	pthread_mutex_lock(&j->l->lock);
	fs_ent_set(j->l, ent, &st);
	pthread_mutex_unlock(&j->l->lock);
}

static void *fs_job_run(void *arg)
{
	struct fs_job *j = arg;
	size_t k;

	while ((k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n)
		fs_job_one(j, k);
	return NULL;
}

static void fs_job_parallel(struct fs_job *j, unsigned workers)
{
	pthread_t tid[16];
	unsigned nt = 0;

	if (workers > 16)
		workers = 16;
	/* a helper thread is worth it only for a few entries each */
	while (nt + 1 < workers && (nt + 2) * 4 <= j->n &&
	       pthread_create(&tid[nt], NULL, fs_job_run, j) == 0)
		nt++;
	fs_job_run(j);
	for (unsigned i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
}

/* Make every file entry's state valid for its current identity. */
static dd_err fs_listing_refresh(struct dd_fs *fs, struct fs_inode *dir,
				 struct fs_listing *l)
{
	struct fs_job j = {.fs = fs, .dir = dir, .l = l};
	int64_t now = fs_now_ns();
	bool fresh;

	pthread_mutex_lock(&l->lock);
	fresh = l->refreshed_ns && now - l->refreshed_ns < fs->attr_timeout_ns;
	pthread_mutex_unlock(&l->lock);
	if (fresh || l->n == 0)
		return DD_OK;
	j.idx = malloc(l->n * sizeof(*j.idx));
	j.sb = malloc(l->n * sizeof(*j.sb));
	if (!j.idx || !j.sb) {
		free(j.idx);
		free(j.sb);
		return DD_E_NOMEM;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct fs_ent *ent = &l->ents[i];
		struct dd_ident id;
		bool need;

		if (ent->is_dir)
			continue;
		if (fstatat(dir->fd, fs_ent_src(l, ent), &j.sb[j.n],
			    AT_SYMLINK_NOFOLLOW) < 0) {
			/* gone since the listing: hidden until re-listed */
			struct fs_fstate gone = {.reason = DD_REASON_UNREADABLE};

			pthread_mutex_lock(&l->lock);
			fs_ent_set(l, ent, &gone);
			pthread_mutex_unlock(&l->lock);
			continue;
		}
		dd_ident_from_stat(&j.sb[j.n], &id);
		pthread_mutex_lock(&l->lock);
		need = !ent->st.valid || !dd_ident_equal(&ent->st.id, &id);
		pthread_mutex_unlock(&l->lock);
		if (need)
			j.idx[j.n++] = i;
	}
	if (j.n)
		fs_job_parallel(&j, fs->cfg.workers);
	free(j.idx);
	free(j.sb);
	pthread_mutex_lock(&l->lock);
	l->refreshed_ns = now;
	pthread_mutex_unlock(&l->lock);
	return DD_OK;
}

/* The listing kept on @dir if it is still the one of identity @id, with a
 * reference, made the most recently used; or NULL. */
static struct fs_listing *fs_listing_kept(struct dd_fs *fs,
					  struct fs_inode *dir,
					  const struct dd_ident *id)
{
	struct fs_listing *l;

	pthread_mutex_lock(&fs->lst_lock);
	l = dir->listing;
	if (l && dd_ident_equal(&l->dir_id, id)) {
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
		if (fs->lru_head != l) {
			fs_lru_unlink(fs, l);
			fs_lru_push(fs, l);
		}
	} else {
		l = NULL;
	}
	pthread_mutex_unlock(&fs->lst_lock);
	return l;
}

/* Keep the fresh listing *@lp (the caller's reference) on @dir, unless
 * another thread kept one of the same identity meanwhile (then *@lp
 * becomes that one).  Listings over the budget are evicted, least
 * recently used first: the kernel's names stay valid (inodes are keyed by
 * source name, not by listing), the next use lists the directory again. */
static void fs_listing_keep(struct dd_fs *fs, struct fs_inode *dir,
			    struct fs_listing **lp)
{
	struct fs_listing *l = *lp, *drop = NULL, *t;

	pthread_mutex_lock(&fs->lst_lock);
	if (dir->listing && dd_ident_equal(&dir->listing->dir_id, &l->dir_id)) {
		/* another thread was faster: use its listing */
		drop = l;
		drop->lru_next = NULL;
		l = dir->listing;
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
		*lp = l;
		pthread_mutex_unlock(&fs->lst_lock);
		fs_listing_put(fs, drop);
		return;
	}
	t = fs_lru_take(fs, dir); /* an older listing of this directory */
	if (t) {
		t->lru_next = drop;
		drop = t;
	}
	if (l->bytes <= fs->listing_budget) {
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
		dir->listing = l;
		l->owner = dir;
		fs_lru_push(fs, l);
		fs->kept_bytes += l->bytes;
		while (fs->kept_bytes > fs->listing_budget &&
		       fs->lru_tail != l) {
			t = fs_lru_take(fs, fs->lru_tail->owner);
			t->lru_next = drop;
			drop = t;
			__atomic_add_fetch(&fs->listing_evictions, 1,
					   __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&fs->lst_lock);
	while (drop) {
		t = drop->lru_next;
		drop->lru_next = NULL;
		fs_listing_put(fs, drop);
		drop = t;
	}
}

dd_err fs_listing_get(struct dd_fs *fs, struct fs_inode *dir, bool refresh,
		      struct fs_listing **out)
{
	struct fs_listing *l;
	struct dd_ident id;
	struct stat sb;
	dd_err e;

	*out = NULL;
	if (!dir->is_dir)
		return DD_E_INVAL;
	if (fstat(dir->fd, &sb) < 0)
		return DD_E_IO;
	dd_ident_from_stat(&sb, &id);
	l = fs_listing_kept(fs, dir, &id);
	if (!l) {
		e = fs_listing_build(fs, dir->fd, &id, &l);
		if (e)
			return e;
		fs_listing_keep(fs, dir, &l);
	}
	if (refresh) {
		e = fs_listing_refresh(fs, dir, l);
		if (e) {
			fs_listing_put(fs, l);
			return e;
		}
	}
	*out = l;
	return DD_OK;
}

/* ---- lookup ---------------------------------------------------------------- */

static dd_err fs_errno_to_dd(int err)
{
	return err == ENOENT || err == ENOTDIR ? DD_E_NOTFOUND : DD_E_IO;
}

static dd_err fs_lookup_dir(struct dd_fs *fs, struct fs_inode *dir,
			    const char *src, struct fs_entry *out)
{
	struct stat sb;
	int fd = -1;
	dd_err e;

	e = dd_view_open_beneath(dir->fd, src, O_DIRECTORY | O_NOFOLLOW, &fd);
	if (e)
		return e == DD_E_NOTFOUND ? e : fs_errno_to_dd(errno);
	if (fstat(fd, &sb) < 0) {
		e = fs_errno_to_dd(errno);
		close(fd);
		return e;
	}
	e = fs_inode_ref(fs, dir, src, true, fd, &sb, &out->in);
	if (e)
		return e;
	fs_attr_dir(fs, &sb, &out->attr);
	return DD_OK;
}

dd_err fs_lookup_ent(struct dd_fs *fs, struct fs_inode *dir,
		     struct fs_listing *l, size_t i, struct fs_entry *out)
{
	struct fs_ent *ent = &l->ents[i];
	const char *src = fs_ent_src(l, ent);
	struct fs_mf *mf = NULL;
	struct fs_fstate st;
	struct dd_ident id;
	struct stat sb;
	dd_err e;

	if (ent->is_dir)
		return fs_lookup_dir(fs, dir, src, out);
	if (fstatat(dir->fd, src, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return fs_errno_to_dd(errno);
	if (S_ISDIR(sb.st_mode))
		return DD_E_NOTFOUND; /* the listing is stale */
	dd_ident_from_stat(&sb, &id);
	pthread_mutex_lock(&l->lock);
	st = ent->st;
	pthread_mutex_unlock(&l->lock);
	if (!st.valid || !dd_ident_equal(&st.id, &id)) {
		e = fs_classify(fs, dir->fd, src, fs_ent_view(l, ent), &sb, -1,
				false, &st, &mf);
		if (e)
			return e;
		pthread_mutex_lock(&l->lock);
		fs_ent_set(l, ent, &st);
		pthread_mutex_unlock(&l->lock);
	}
	if (st.reason != DD_REASON_NONE) {
		fs_mf_put(mf);
		return DD_E_NOTFOUND;
	}
	e = fs_inode_ref(fs, dir, src, false, -1, NULL, &out->in);
	if (e) {
		fs_mf_put(mf);
		return e;
	}
	pthread_mutex_lock(fs_ilock(fs, out->in));
	out->in->st = st;
	if (mf)
		fs_inode_keep_mf(fs, out->in, mf);
	pthread_mutex_unlock(fs_ilock(fs, out->in));
	fs_attr_file(fs, &st, &out->attr);
	return DD_OK;
}

/* The index of @view_name in @l (sorted by view name), or -1. */
static ssize_t fs_listing_find(const struct fs_listing *l,
			       const char *view_name)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(view_name, fs_ent_view(l, &l->ents[mid]));

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

dd_err fs_lookup(struct dd_fs *fs, struct fs_inode *dir, const char *view_name,
		 struct fs_entry *out)
{
	struct fs_listing *l;
	ssize_t i;
	dd_err e;

	FS_CTR_INC(fs, lookups);
	e = fs_listing_get(fs, dir, false, &l);
	if (e)
		return e;
	i = fs_listing_find(l, view_name);
	e = i >= 0 ? fs_lookup_ent(fs, dir, l, (size_t)i, out) : DD_E_NOTFOUND;
	fs_listing_put(fs, l);
	if (e == DD_E_NOTFOUND)
		FS_CTR_INC(fs, negative_lookups);
	return e;
}

/* ---- getattr, open, read ------------------------------------------------------ */

/* The current state of file inode @in, re-checked against the source;
 * @fd (or -1) is the source open, @sb its stat; *mf_out (may be NULL)
 * gets a manifest reference when one is at hand. */
static dd_err fs_file_state(struct dd_fs *fs, struct fs_inode *in, int fd,
			    const struct stat *sb, struct fs_fstate *out,
			    struct fs_mf **mf_out)
{
	char log_name[DD_PATH_NAME_MAX + 1];
	struct fs_mf *mf = NULL;
	struct fs_fstate st;
	struct dd_ident id;
	dd_err e;

	dd_ident_from_stat(sb, &id);
	pthread_mutex_lock(fs_ilock(fs, in));
	st = in->st;
	if (in->mf && dd_ident_equal(&in->mf->id, &id))
		mf = fs_mf_ref(in->mf);
	pthread_mutex_unlock(fs_ilock(fs, in));
	if (st.valid && dd_ident_equal(&st.id, &id) && (mf || !mf_out)) {
		*out = st;
		if (mf_out)
			*mf_out = mf;
		else
			fs_mf_put(mf);
		return DD_OK;
	}
	fs_mf_put(mf);
	fs_log_name(fs, in->src_name, false, log_name);
	e = fs_classify(fs, in->parent->fd, in->src_name, log_name, sb, fd,
			mf_out != NULL, &st, &mf);
	if (e)
		return e;
	pthread_mutex_lock(fs_ilock(fs, in));
	in->st = st;
	fs_inode_keep_mf(fs, in, mf ? fs_mf_ref(mf) : NULL);
	pthread_mutex_unlock(fs_ilock(fs, in));
	*out = st;
	if (mf_out)
		*mf_out = mf;
	else
		fs_mf_put(mf);
	return DD_OK;
}

dd_err fs_getattr(struct dd_fs *fs, struct fs_inode *in, struct stat *out)
{
	struct fs_fstate st;
	struct stat sb;
	dd_err e;

	if (in->is_dir) {
		if (fstat(in->fd, &sb) < 0)
			return DD_E_IO;
		fs_attr_dir(fs, &sb, out);
		return DD_OK;
	}
	if (fstatat(in->parent->fd, in->src_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return fs_errno_to_dd(errno);
	if (!S_ISREG(sb.st_mode))
		return DD_E_NOTFOUND;
	e = fs_file_state(fs, in, -1, &sb, &st, NULL);
	if (e)
		return e;
	if (st.reason != DD_REASON_NONE)
		return DD_E_NOTFOUND;
	fs_attr_file(fs, &st, out);
	return DD_OK;
}

dd_err fs_open(struct dd_fs *fs, struct fs_inode *in, uint64_t prefill_max,
	       struct fs_fh **out, bool *keep_cache, bool *changed,
	       bool *prefill)
{
	struct fs_fstate prev, st;
	struct fs_mf *mf = NULL;
	struct fs_fh *fh;
	struct stat sb;
	bool wait;
	int fd = -1;
	dd_err e;

	*out = NULL;
	FS_CTR_INC(fs, opens);
	e = dd_view_open_beneath(in->parent->fd, in->src_name, O_NOFOLLOW, &fd);
	if (e) {
		e = e == DD_E_NOTFOUND ? e : fs_errno_to_dd(errno);
		goto out_err;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		e = DD_E_NOTFOUND;
		goto out_close;
	}
	pthread_mutex_lock(fs_ilock(fs, in));
	prev = in->st;
	pthread_mutex_unlock(fs_ilock(fs, in));
	e = fs_file_state(fs, in, fd, &sb, &st, &mf);
	if (e)
		goto out_close;
	if (st.reason != DD_REASON_NONE || !mf) {
		e = DD_E_NOTFOUND;
		goto out_put;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh) {
		e = DD_E_NOMEM;
		goto out_put;
	}
	*changed = !prev.valid || !dd_ident_equal(&prev.id, &st.id) ||
		   prev.size != st.size;
	pthread_mutex_lock(fs_ilock(fs, in));
	*keep_cache = in->opened && dd_ident_equal(&in->open_id, &mf->id);
	*prefill = !in->opened && mf->m.size && mf->m.size <= prefill_max;
	wait = __atomic_load_n(&in->prefilling, __ATOMIC_ACQUIRE);
	if (*prefill)
		__atomic_store_n(&in->prefilling, true, __ATOMIC_RELEASE);
	in->open_id = mf->id;
	in->opened = true;
	pthread_mutex_unlock(fs_ilock(fs, in));
	if (wait) {
		pthread_mutex_lock(&fs->pf_lock);
		while (__atomic_load_n(&in->prefilling, __ATOMIC_ACQUIRE))
			pthread_cond_wait(&fs->pf_cond, &fs->pf_lock);
		pthread_mutex_unlock(&fs->pf_lock);
	}
	fh->fd = fd;
	fh->mf = mf;
	fh->checked_ns = fs_now_ns();
	*out = fh;
	FS_CTR_INC(fs, served_files);
	return DD_OK;

out_put:
	fs_mf_put(mf);
out_close:
	close(fd);
out_err:
	FS_CTR_INC(fs, open_errors);
	return e;
}

void fs_prefill_done(struct dd_fs *fs, struct fs_inode *in)
{
	pthread_mutex_lock(&fs->pf_lock);
	__atomic_store_n(&in->prefilling, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&fs->pf_cond);
	pthread_mutex_unlock(&fs->pf_lock);
}

void fs_release(struct dd_fs *fs, struct fs_fh *fh)
{
	(void)fs;
	if (!fh)
		return;
	close(fh->fd);
	fs_mf_put(fh->mf);
	free(fh);
}

/* Does a read of @m use the source's bytes?  Source ranges, and REGEN
 * segments (redacted pixels, large FHIR chunks: made from the source). */
static bool fs_mf_has_source(const struct dd_manifest *m)
{
	for (uint32_t i = 0; i < m->n_segs; i++)
		if (m->segs[i].kind == DD_SEG_SOURCE ||
		    m->segs[i].kind == DD_SEG_REGEN)
			return true;
	return false;
}

dd_err fs_fh_check(struct dd_fs *fs, struct fs_fh *fh)
{
	struct dd_ident now;
	struct stat sb;

	if (fstat(fh->fd, &sb) < 0)
		return DD_E_IO;
	dd_ident_from_stat(&sb, &now);
	fh->checked_ns = fs_now_ns();
	if (!dd_ident_equal(&now, &fh->mf->id)) {
		FS_CTR_INC(fs, changed_during_read);
		dd_log(DD_LOG_INFO, "read: source changed since open");
		return DD_E_CHANGED;
	}
	return DD_OK;
}

dd_err fs_read(struct dd_fs *fs, struct fs_fh *fh, void *buf, size_t n,
	       uint64_t off, size_t *got)
{
	const struct dd_manifest *m = &fh->mf->m;
	dd_err e, c;

	FS_CTR_INC(fs, reads);
	e = dd_manifest_read(m, fh->fd, buf, n, off, got);
	/* Bytes from the source are served only if the source is still the
	 * file the manifest was made from.  A write in place updates mtime
	 * before it copies data, so a pread that saw new bytes is followed
	 * by an fstat that sees the change: never mixed bytes.  The fstat
	 * costs far less than the FUSE round trip, so it is done on every
	 * read that touched the source, not only every attr_timeout. */
	if (e == DD_E_IO || (e == DD_OK && *got && fs_mf_has_source(m))) {
		c = fs_fh_check(fs, fh);
		if (c) {
			*got = 0;
			return c;
		}
	}
	if (e) {
		FS_CTR_INC(fs, read_errors);
		*got = 0;
		return e;
	}
	FS_CTR_ADD(fs, bytes_served, *got);
	return DD_OK;
}

/* ---- read-ahead ---------------------------------------------------------------- */

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void fs_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

void fs_read_ahead_prepare(struct dd_fs *fs, const char *mountpoint)
{
	char *line = NULL, mnt[4096], type[256];
	unsigned maj, min;
	size_t cap = 0;
	FILE *f;

	if (!fs->cfg.read_ahead_kb || !mountpoint)
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE SOURCE
	 * SUPEROPTS"; the last fuse mount on @mountpoint is ours */
	while (getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min,
				   mnt) != 3 ||
		    sscanf(sep + 3, "%255s", type) != 1)
			continue;
		fs_unescape(mnt);
		if (strcmp(mnt, mountpoint) != 0 ||
		    (strcmp(type, "fuse") != 0 && strncmp(type, "fuse.", 5) != 0))
			continue;
		fs->bdi_major = maj;
		fs->bdi_minor = min;
		fs->ra_pending = true;
	}
	free(line);
	fclose(f);
	if (!fs->ra_pending)
		dd_log(DD_LOG_INFO, "read_ahead_kb: the mount is not in "
		       "mountinfo; the kernel's read-ahead applies");
}

void fs_set_read_ahead(struct dd_fs *fs)
{
	char path[64], val[16];
	int fd, n;

	if (!__atomic_exchange_n(&fs->ra_pending, false, __ATOMIC_RELAXED))
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 fs->bdi_major, fs->bdi_minor);
	n = snprintf(val, sizeof(val), "%u\n", fs->cfg.read_ahead_kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, (size_t)n) != n)
		dd_log(fs->cfg.read_ahead_set ? DD_LOG_WARN : DD_LOG_INFO,
		       "read_ahead_kb: cannot set it (%s; it needs root); "
		       "the kernel's read-ahead applies", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* ---- housekeeping ------------------------------------------------------------ */

/* File-backed resident bytes of this process (statm's "shared": mapped
 * file pages, the cache's map among them), or 0. */
static uint64_t fs_rss_file(void)
{
	unsigned long size, res, shared = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu %lu", &size, &res, &shared) != 3)
		shared = 0;
	fclose(f);
	return (uint64_t)shared * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Once a second: when the file-backed RSS grew by 4 MiB since the last
 * trim (the records touched since the cache's last own trim), the pages of the
 * cache's map this process touched are unmapped (they stay in the page
 * cache; the next lookup refaults the few it needs); rebuilt REGEN
 * segments (redacted image values) not read for 10 s are freed; after
 * inodes, listings or such segments were dropped, freed heap is returned
 * to the system (malloc_trim). */
static void *fs_hk_run(void *arg)
{
	struct dd_fs *fs = arg;
	uint64_t base_file = fs_rss_file(), last_mem = 0;
	struct timespec tick;

	pthread_mutex_lock(&fs->hk_lock);
	while (!fs->hk_stop) {
		uint64_t mem;

		clock_gettime(CLOCK_MONOTONIC, &tick);
		tick.tv_sec += 1;
		while (!fs->hk_stop &&
		       pthread_cond_timedwait(&fs->hk_cond, &fs->hk_lock,
					      &tick) == 0)
			;
		if (fs->hk_stop)
			break;
		pthread_mutex_unlock(&fs->hk_lock);
		if (fs->cache && fs_rss_file() > base_file + (4u << 20)) {
			dd_cache_trim(fs->cache);
			base_file = fs_rss_file();
		}
		mem = FS_LOAD(fs->ctr.inodes) * sizeof(struct fs_inode) +
		      FS_LOAD(fs->listing_bytes) + FS_LOAD(fs->mf_bytes);
		/* rebuilt image values nobody read for 10 s */
		if (mem + (1u << 20) < last_mem ||
		    dd_manifest_regen_trim(10) > (1u << 20))
			malloc_trim(0);
		last_mem = mem;
		pthread_mutex_lock(&fs->hk_lock);
	}
	pthread_mutex_unlock(&fs->hk_lock);
	return NULL;
}

dd_err fs_housekeeping_start(struct dd_fs *fs)
{
	pthread_condattr_t ca;

	if (fs->cache)
		dd_cache_set_trim(fs->cache, FS_TRIM_EVERY);
	pthread_mutex_init(&fs->hk_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->hk_cond, &ca);
	pthread_condattr_destroy(&ca);
	fs->hk_stop = false;
	if (pthread_create(&fs->hk_thread, NULL, fs_hk_run, fs) != 0) {
		pthread_cond_destroy(&fs->hk_cond);
		pthread_mutex_destroy(&fs->hk_lock);
		return DD_E_NOMEM;
	}
	fs->hk_running = true;
	return DD_OK;
}

void fs_housekeeping_stop(struct dd_fs *fs)
{
	if (!fs->hk_running)
		return;
	pthread_mutex_lock(&fs->hk_lock);
	fs->hk_stop = true;
	pthread_cond_signal(&fs->hk_cond);
	pthread_mutex_unlock(&fs->hk_lock);
	pthread_join(fs->hk_thread, NULL);
	pthread_cond_destroy(&fs->hk_cond);
	pthread_mutex_destroy(&fs->hk_lock);
	fs->hk_running = false;
}

/* ---- counters -------------------------------------------------------------- */

dd_err fs_counters_json(struct dd_fs *fs, struct dd_buf *b)
{
	const struct dd_fs_counters *c = &fs->ctr;
	struct dd_cache_stats cs;
	uint64_t hidden_total = 0, errors;
	dd_err e;

	errors = FS_LOAD(c->transform_errors) + FS_LOAD(c->read_errors) +
		 FS_LOAD(c->changed_during_read) + FS_LOAD(c->open_errors);
	for (int r = 1; r < DD_REASON_LAST; r++) {
		hidden_total += FS_LOAD(c->hidden[r]);
		if (dd_reason_is_error((enum dd_reason)r))
			errors += FS_LOAD(c->hidden[r]);
	}
	e = dd_buf_addf(b,
		"{\n  \"version\": \"%s\",\n  \"engine\": \"%s\",\n"
		"  \"policy_hash\": \"%.16s\",\n  \"key_fingerprint\": \"%s\",\n"
		"  \"served_files\": %lu,\n  \"visible\": %lu,\n"
		"  \"hidden_files\": %lu,\n"
		"  \"hidden\": {",
		DD_VERSION, DD_ENGINE_VERSION, dd_view_policy_hash(fs->view),
		dd_view_key(fs->view)->fingerprint,
		(unsigned long)FS_LOAD(c->served_files),
		(unsigned long)FS_LOAD(c->visible),
		(unsigned long)hidden_total);
	for (int r = 1; r < DD_REASON_LAST && !e; r++)
		e = dd_buf_addf(b, "%s\"%s\": %lu", r > 1 ? ", " : "",
				dd_reason_name((enum dd_reason)r),
				(unsigned long)FS_LOAD(c->hidden[r]));
	if (e)
		return e;
	e = dd_buf_addf(b,
		"},\n  \"hidden_names\": %lu,\n  \"name_collisions\": %lu,\n"
		"  \"errors\": %lu,\n  \"lookups\": %lu,\n"
		"  \"negative_lookups\": %lu,\n  \"opendirs\": %lu,\n"
		"  \"readdirs\": %lu,\n  \"dir_cache_kept\": %lu,\n"
		"  \"opens\": %lu,\n  \"open_errors\": %lu,\n  \"reads\": %lu,\n"
		"  \"bytes_served\": %lu,\n  \"read_errors\": %lu,\n"
		"  \"changed_during_read\": %lu,\n  \"transforms\": %lu,\n"
		"  \"transform_errors\": %lu,\n"
		"  \"changed_during_transform\": %lu,\n"
		"  \"cache\": %s,\n  \"cache_hits\": %lu,\n"
		"  \"cache_misses\": %lu,\n  \"cache_corrupt\": %lu,\n"
		"  \"cache_puts\": %lu,\n  \"cache_put_errors\": %lu,\n"
		"  \"write_attempts\": %lu,\n  \"inodes\": %lu,\n"
		"  \"listings\": %lu,\n  \"manifest_bytes\": %lu,\n"
		"  \"listing_bytes\": %lu,\n  \"listing_evictions\": %lu,\n"
		"  \"size_only_transforms\": %lu,\n  \"ocr_calls\": %lu,\n"
		"  \"prefills\": %lu",
		(unsigned long)FS_LOAD(c->hidden_names),
		(unsigned long)FS_LOAD(c->name_collisions),
		(unsigned long)errors, (unsigned long)FS_LOAD(c->lookups),
		(unsigned long)FS_LOAD(c->negative_lookups),
		(unsigned long)FS_LOAD(c->opendirs),
		(unsigned long)FS_LOAD(c->readdirs),
		(unsigned long)FS_LOAD(c->dir_cache_kept),
		(unsigned long)FS_LOAD(c->opens),
		(unsigned long)FS_LOAD(c->open_errors),
		(unsigned long)FS_LOAD(c->reads),
		(unsigned long)FS_LOAD(c->bytes_served),
		(unsigned long)FS_LOAD(c->read_errors),
		(unsigned long)FS_LOAD(c->changed_during_read),
		(unsigned long)FS_LOAD(c->transforms),
		(unsigned long)FS_LOAD(c->transform_errors),
		(unsigned long)FS_LOAD(c->changed_during_transform),
		fs->cache ? "true" : "false",
		(unsigned long)FS_LOAD(c->cache_hits),
		(unsigned long)FS_LOAD(c->cache_misses),
		(unsigned long)FS_LOAD(c->cache_corrupt),
		(unsigned long)FS_LOAD(c->cache_puts),
		(unsigned long)FS_LOAD(c->cache_put_errors),
		(unsigned long)FS_LOAD(c->write_attempts),
		(unsigned long)FS_LOAD(c->inodes),
		(unsigned long)FS_LOAD(c->listings),
		(unsigned long)FS_LOAD(fs->mf_bytes),
		(unsigned long)FS_LOAD(fs->listing_bytes),
		(unsigned long)FS_LOAD(fs->listing_evictions),
		(unsigned long)FS_LOAD(c->size_only_transforms),
		(unsigned long)dd_ocr_calls_total(),
		(unsigned long)FS_LOAD(c->prefills));
	if (e)
		return e;
	if (fs->cache && dd_cache_stats(fs->cache, &cs) == DD_OK)
		e = dd_buf_addf(b,
			",\n  \"cache_entries\": %lu,\n  \"cache_used_bytes\": %lu,\n"
			"  \"cache_generation\": %lu,\n  \"cache_rebuilds\": %lu",
			(unsigned long)cs.entries, (unsigned long)cs.used_bytes,
			(unsigned long)cs.generation,
			(unsigned long)cs.rebuilds);
	if (e)
		return e;
	return dd_buf_adds(b, "\n}\n");
}
