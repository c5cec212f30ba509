/* fs_i.h: internals of the deidfs daemon (fs/ only).
 *
 * The daemon is three files:
 *   deidfs.c   main: mount options, policy, cache, session, signals.
 *   fs_node.c  the state behind the handlers: inodes, directory listings,
 *              file classification (cache lookup or transform), counters.
 *   fs_ops.c   the FUSE handlers: each one a worker (returns a dd_err,
 *              fills a struct) and a replier (exactly one fuse_reply_*).
 * Only fs_ops.c and deidfs.c include the FUSE header.
 *
 * Inodes are keyed by (parent inode, source name): a view inode is "the
 * file at this path".  A source file replaced under the same name keeps its
 * view inode and gets a new state (identity, size); an open pins the
 * identity it opened.  A name whose type changes (file <-> directory) gets
 * a new inode and the old one is detached from the table.  Memory follows
 * the kernel's references: an inode lives while the kernel holds lookups on
 * it (nlookup) or a child inode holds it (irefs).
 *
 * Lock order: fs->ino_lock, then an inode's lock, then a listing's lock.
 * No lock is held across a transform, a cache call or a FUSE reply.
 */
#ifndef DD_FS_I_H
#define DD_FS_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "dd_cache.h"
#include "dd_err.h"
#include "dd_manifest.h"
#include "dd_policy.h"
#include "dd_view.h"

/* Mount options (deidfs.c parses them with a struct fuse_opt table). */
struct dd_fs_config {
	char *source;         /* SRC, absolute */
	char *policy_file;    /* -o policy=FILE */
	char *preset;         /* -o preset=NAME */
	char *key_file;       /* -o key=KEYFILE */
	char *cache_dir;      /* -o cache=DIR ("none": no cache) */
	char *notify_pipe;    /* -o notify_pipe=FIFO */
	unsigned uid, gid, umask;
	int uid_set, gid_set;
	double attr_timeout;  /* seconds, default 1.0 */
	int allow_other;
	int verbose;
	unsigned workers;     /* classification threads per listing */
};

/* Counters, updated with relaxed atomics; read through the counters
 * xattr (see fs_counters_json). */
struct dd_fs_counters {
	uint64_t lookups, negative_lookups, opendirs, opens, open_errors;
	uint64_t reads, bytes_served;
	uint64_t served_files;        /* successful opens of view files */
	uint64_t transforms, transform_errors, changed_during_transform;
	uint64_t cache_hits, cache_misses, cache_corrupt, cache_puts,
		cache_put_errors;
	uint64_t changed_during_read; /* reads answered EIO: source changed */
	uint64_t read_errors;         /* other EIO reads */
	uint64_t hidden_names;        /* dot files, DICOMDIR (listing builds) */
	uint64_t name_collisions;     /* entries hidden by collisions */
	uint64_t hidden[DD_REASON_LAST]; /* hidden classifications, by reason */
	uint64_t visible;             /* visible classifications */
	uint64_t inodes, listings;    /* live now */
	uint64_t write_attempts;      /* EROFS replies */
	uint64_t size_only_transforms; /* stats answered without OCR */
};

#define FS_CTR_ADD(fs, field, n) \
	__atomic_add_fetch(&(fs)->ctr.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define FS_CTR_INC(fs, field) FS_CTR_ADD(fs, field, 1)

/* What the daemon knows about one source file. */
struct fs_fstate {
	struct dd_ident id;   /* identity the state was computed for */
	uint64_t size;        /* view size (manifest size) */
	uint8_t kind;         /* enum dd_kind */
	uint8_t reason;       /* enum dd_reason: NONE = visible */
	bool valid;
};

/* A manifest shared by an inode and open handles (refcounted). */
struct fs_mf {
	unsigned refs; /* atomic */
	struct dd_ident id;
	size_t bytes;  /* memory held (for the inode budget) */
	struct dd_manifest m;
};

/* One entry of a listed directory (visible names only; files may still
 * turn out hidden by content: st.reason). */
struct fs_ent {
	const char *view_name; /* into the listing's arena */
	const char *src_name;  /* into the listing's arena */
	bool is_dir;
	struct fs_fstate st;   /* files; protected by the listing's lock */
};

/* The listing of a directory, valid while the directory's identity holds
 * (mtime/ctime).  Shared by the directory inode and open directory
 * handles; refcounted. */
struct fs_listing {
	unsigned refs; /* atomic */
	struct dd_ident dir_id;
	pthread_mutex_t lock;    /* protects ents[].st, refreshed_ns */
	int64_t refreshed_ns;    /* CLOCK_MONOTONIC of the last refresh */
	size_t n;
	struct fs_ent *ents;     /* sorted by view name */
	char *arena;
	size_t bytes;
};

struct fs_inode {
	struct fs_inode *hnext;  /* hash chain; fs->ino_lock */
	uint64_t nlookup;        /* kernel references; fs->ino_lock */
	uint64_t irefs;          /* child inodes holding this; fs->ino_lock */
	bool hashed;             /* in the table; fs->ino_lock */
	struct fs_inode *parent; /* NULL for the root; holds an iref */
	char *src_name;          /* name in parent (PHI: never logged) */
	bool is_dir;
	int fd;                  /* directories: O_RDONLY|O_DIRECTORY fd */
	pthread_mutex_t lock;    /* protects the fields below */
	struct fs_fstate st;     /* files: last known state */
	struct fs_mf *mf;        /* files: kept manifest (budgeted), or NULL */
	struct dd_ident open_id; /* files: identity at the last open */
	bool opened;
	struct fs_listing *listing; /* directories: cached listing */
};

/* An open file: the pinned source and manifest. */
struct fs_fh {
	int fd;
	struct fs_mf *mf;
	int64_t checked_ns; /* last identity check (CLOCK_MONOTONIC) */
};

struct dd_fs {
	struct dd_fs_config cfg;
	struct dd_policy *pol;
	struct dd_view *view;
	struct dd_cache *cache;  /* NULL: no cache */
	void *se;                /* struct fuse_session * (fs_ops.c) */
	struct fs_inode root;
	uint64_t root_dev;
	pthread_mutex_t ino_lock;
	struct fs_inode **tab;   /* hash table; fs->ino_lock */
	size_t tab_size, n_inodes;
	uint64_t mf_bytes;       /* atomic: manifest bytes kept by inodes */
	uint64_t mf_budget;
	uint64_t listing_bytes;  /* atomic */
	uint64_t listing_budget;
	int64_t attr_timeout_ns;
	struct dd_fs_counters ctr;
};

/* ---- fs_node.c ----------------------------------------------------------- */

int64_t fs_now_ns(void);

/* Set up the inode table and the root (SRC opened at @root_fd, taken). */
dd_err fs_init(struct dd_fs *fs, int root_fd);
/* Free every inode (after the session ended). */
void fs_destroy(struct dd_fs *fs);

/* The inode of a node id the kernel gave us. */
struct fs_inode *fs_inode_get(struct dd_fs *fs, uint64_t nodeid);
uint64_t fs_inode_nodeid(struct dd_fs *fs, struct fs_inode *in);
/* Drop @n kernel references (forget). */
void fs_inode_forget(struct dd_fs *fs, struct fs_inode *in, uint64_t n);

/* Attributes of an inode for @st (mode, owner, times, size). */
void fs_attr_file(struct dd_fs *fs, const struct fs_fstate *st,
		  struct stat *out);
void fs_attr_dir(struct dd_fs *fs, const struct stat *src, struct stat *out);

/* The listing of directory @dir, rebuilt if the directory changed.  With
 * @refresh, every file entry's identity is re-checked and changed or
 * unknown entries are classified (in parallel) so each state is valid.
 * The caller owns one reference: fs_listing_put(). */
dd_err fs_listing_get(struct dd_fs *fs, struct fs_inode *dir, bool refresh,
		      struct fs_listing **out);
void fs_listing_put(struct dd_fs *fs, struct fs_listing *l);

/* Result of a lookup or a readdirplus entry. */
struct fs_entry {
	struct fs_inode *in; /* with one kernel reference taken */
	struct stat attr;
};

/* Look up @view_name in @dir: ENOENT-class errors (DD_E_NOTFOUND) for
 * names not in the view or hidden files.  On success one kernel reference
 * on out->in is taken. */
dd_err fs_lookup(struct dd_fs *fs, struct fs_inode *dir, const char *view_name,
		 struct fs_entry *out);
/* The same for entry @i of @l (readdirplus); DD_E_NOTFOUND if hidden. */
dd_err fs_lookup_ent(struct dd_fs *fs, struct fs_inode *dir,
		     struct fs_listing *l, size_t i, struct fs_entry *out);

/* Current attributes of @in (re-checks the source identity). */
dd_err fs_getattr(struct dd_fs *fs, struct fs_inode *in, struct stat *out);

/* Open @in: pins the source fd and the manifest.  *keep_cache says the
 * content is the same as at the previous open.  *changed says the view
 * size or content changed since the kernel last saw attributes. */
dd_err fs_open(struct dd_fs *fs, struct fs_inode *in, struct fs_fh **out,
	       bool *keep_cache, bool *changed);
void fs_release(struct dd_fs *fs, struct fs_fh *fh);
/* Read into @buf; DD_E_CHANGED if the source changed since the open. */
dd_err fs_read(struct dd_fs *fs, struct fs_fh *fh, void *buf, size_t n,
	       uint64_t off, size_t *got);

/* The counters as JSON into @out. */
dd_err fs_counters_json(struct dd_fs *fs, struct dd_buf *out);

#endif /* DD_FS_I_H */
