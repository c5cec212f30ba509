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
 * Listings are kept on their directory inodes in an LRU under a byte
 * budget (fs->listing_budget): a listing is rebuilt from the source
 * directory when it is needed again, and entries are found by name, so
 * evicting one never changes a node id or a name the kernel holds.
 *
 * Lock order: fs->ino_lock, then fs->lst_lock (every inode's `listing`
 * pointer and the LRU), then an inode's lock (striped: fs_ilock()), then a
 * listing's lock.  No lock is held across a transform, a cache call or a
 * FUSE reply.
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
	unsigned listing_cache_kib; /* -o listing_cache=KIB: kept listings */
	int listing_cache_set;
	unsigned read_ahead_kb; /* -o read_ahead_kb=KIB: the mount's bdi */
	int read_ahead_set;
	unsigned prefill_kb;  /* -o prefill_kb=KIB: store at the first open */
	int prefill_set;
	/* tests only ($DEIDFS_TEST_PREFILL_DELAY_US): a pause between a
	 * spliced prefill and its identity check, for fs_change.sh to change
	 * the source in between */
	unsigned test_prefill_delay_us;
};

/* Counters, updated with relaxed atomics; read through the counters
 * xattr (see fs_counters_json). */
struct dd_fs_counters {
	uint64_t lookups, negative_lookups, opendirs, opens, open_errors;
	uint64_t readdirs;            /* READDIR(PLUS) requests answered */
	uint64_t dir_cache_kept;      /* OPENDIRs that kept the kernel's copy */
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
	uint64_t prefills;            /* files stored whole at their open */
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
 * turn out hidden by content: st.reason).  64 bytes plus the two names in
 * the listing's arena (fs_ent_view(), fs_ent_src()). */
struct fs_ent {
	struct fs_fstate st;   /* files; protected by the listing's lock */
	uint32_t name;         /* arena offset of the view name; the source
				* name follows its NUL */
	uint8_t view_len;      /* strlen of the view name (<= 255) */
	bool is_dir;
};

/* The listing of a directory, valid while the directory's identity holds
 * (mtime/ctime).  Shared by the directory inode and open directory
 * handles; refcounted. */
struct fs_listing {
	unsigned refs; /* atomic */
	/* fs->lst_lock: the inode keeping this listing (NULL: not kept) and
	 * the LRU of kept listings (head: most recently used) */
	struct fs_inode *owner;
	struct fs_listing *lru_prev, *lru_next;
	struct dd_ident dir_id;
	/* protects ents[].st, refreshed_ns, gen, served, filled_ns */
	pthread_mutex_t lock;
	int64_t refreshed_ns;    /* CLOCK_MONOTONIC of the last refresh */
	/* The kernel caches a directory's entries (FOPEN_CACHE_DIR) until an
	 * OPENDIR answered without keep_cache.  gen counts changes of what
	 * readdir would show (an entry shown or hidden, or its inode number);
	 * served is the gen the last OPENDIR handed out (0: none yet), and
	 * filled_ns when the kernel last read the listing from us. */
	uint64_t gen, served;
	int64_t filled_ns;
	size_t n;
	struct fs_ent *ents;     /* sorted by view name; one allocation ... */
	char *arena;             /* ... with the names after the entries */
	size_t bytes;
};

static inline const char *fs_ent_view(const struct fs_listing *l,
				      const struct fs_ent *e)
{
	return l->arena + e->name;
}

static inline const char *fs_ent_src(const struct fs_listing *l,
				     const struct fs_ent *e)
{
	return l->arena + e->name + e->view_len + 1;
}

/* One per name the kernel holds (a million of them is a normal load):
 * kept small, no per-inode mutex, the name in the same allocation. */
struct fs_inode {
	struct fs_inode *hnext;  /* hash chain; fs->ino_lock */
	uint64_t nlookup;        /* kernel references; fs->ino_lock */
	uint64_t irefs;          /* child inodes holding this; fs->ino_lock */
	struct fs_inode *parent; /* NULL for the root; holds an iref */
	char *src_name;          /* name in parent (PHI: never logged) */
	struct fs_listing *listing; /* directories: kept listing; lst_lock */
	int fd;                  /* directories: O_RDONLY|O_DIRECTORY fd */
	bool hashed;             /* in the table; fs->ino_lock */
	bool is_dir;
	/* files: a first open is storing the file in the kernel's page cache
	 * (atomic: set under fs_ilock, cleared under fs->pf_lock) */
	bool prefilling;
	/* fs_ilock(fs, in) protects the fields below */
	bool opened;
	struct fs_fstate st;     /* files: last known state */
	struct fs_mf *mf;        /* files: kept manifest (budgeted), or NULL */
	struct dd_ident open_id; /* files: identity at the last open */
};

#define FS_ILOCKS 64 /* stripes of the inode locks */

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
	pthread_mutex_t ilocks[FS_ILOCKS];
	uint64_t mf_bytes;       /* atomic: manifest bytes kept by inodes */
	uint64_t mf_budget;
	uint64_t listing_bytes;  /* atomic: every live listing */
	pthread_mutex_t lst_lock;
	struct fs_listing *lru_head, *lru_tail; /* kept listings; lst_lock */
	uint64_t kept_bytes;     /* listings kept on inodes; lst_lock */
	uint64_t listing_budget; /* for kept_bytes */
	uint64_t listing_evictions; /* atomic */
	/* housekeeping thread (fs_housekeeping_start) */
	pthread_t hk_thread;
	bool hk_running, hk_stop;
	pthread_mutex_t hk_lock;
	pthread_cond_t hk_cond;
	/* opens waiting for a first open's prefill (fs_prefill_done) */
	pthread_mutex_t pf_lock;
	pthread_cond_t pf_cond;
	int64_t attr_timeout_ns;
	/* the mount's device (0:N, its bdi in sysfs) and whether its
	 * read-ahead is still to be set (fs_set_read_ahead) */
	unsigned bdi_major, bdi_minor;
	bool ra_pending; /* atomic */
	struct dd_fs_counters ctr;
};

/* ---- fs_node.c ----------------------------------------------------------- */

int64_t fs_now_ns(void);

/* Set up the inode table and the root (SRC opened at @root_fd, taken). */
dd_err fs_init(struct dd_fs *fs, int root_fd);
/* Free every inode (after the session ended). */
void fs_destroy(struct dd_fs *fs);

/* The lock of inode @in's state fields (a stripe shared with others). */
static inline pthread_mutex_t *fs_ilock(struct dd_fs *fs,
					const struct fs_inode *in)
{
	uintptr_t p = (uintptr_t)in;

	return &fs->ilocks[((p >> 4) ^ (p >> 12)) % FS_ILOCKS];
}

/* Sets the cache's trim rate (dd_cache_set_trim: FS_TRIM_EVERY) and
 * starts a thread that, once a second, unmaps the pages of the cache's
 * map this process touched when idle (dd_cache_trim: they stay in the page
 * cache) and gives freed heap back to the system after inodes or listings
 * were dropped.  Start after daemonising; stop before closing the
 * cache.  Between two trims, each record read maps about three fault-
 * around windows of 64 KiB (its path in "manifests" and the writer's stamp
 * in "lru"), so the map's resident size is about FS_TRIM_EVERY x 300 KiB:
 * 64 let it reach 15-28 MiB at a million files; 32 halves that, for a
 * warm lookup's cost between the ~20 us at 64 and ~30 us at 16
 * (docs/internals/fs.md). */
#define FS_TRIM_EVERY 32
dd_err fs_housekeeping_start(struct dd_fs *fs);
void fs_housekeeping_stop(struct dd_fs *fs);

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
/* For an OPENDIR handing out @l: may the kernel keep the entries it
 * cached from this directory?  Only if they came from @l as it is now,
 * less than half of attr_timeout ago. */
bool fs_listing_serve(struct dd_fs *fs, struct fs_listing *l);

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
 * size or content changed since the kernel last saw attributes.
 * *prefill says the caller is to store the file (at most @prefill_max
 * bytes, not empty) in the kernel's page cache before answering, then
 * call fs_prefill_done(): this is the first open of @in, so the kernel
 * holds no page of it (node ids are our inodes, which outlive the
 * kernel's), and other opens of @in wait until the store is done, so no
 * reader holds a page lock the store would wait for. */
dd_err fs_open(struct dd_fs *fs, struct fs_inode *in, uint64_t prefill_max,
	       struct fs_fh **out, bool *keep_cache, bool *changed,
	       bool *prefill);
void fs_prefill_done(struct dd_fs *fs, struct fs_inode *in);
void fs_release(struct dd_fs *fs, struct fs_fh *fh);
/* Is the source open at @fh still the file its manifest was made from?
 * DD_E_CHANGED (counted as changed_during_read) if not. */
dd_err fs_fh_check(struct dd_fs *fs, struct fs_fh *fh);
/* Read into @buf; DD_E_CHANGED if the source changed since the open. */
dd_err fs_read(struct dd_fs *fs, struct fs_fh *fh, void *buf, size_t n,
	       uint64_t off, size_t *got);

/* Default read-ahead of the mount (-o read_ahead_kb): with the kernel's
 * 128 KiB, a reader's first 128 KiB read(2) starts a 256 KiB window and
 * a 256 KiB DICOM file costs two READ requests; 4 MiB makes the first
 * window 512 KiB (four times the read), so such a file is one READ. */
#define FS_READ_AHEAD_KB 4096
/* Default -o prefill_kb: a view file up to this size is read whole at its
 * first open and stored in the kernel's page cache before the open is
 * answered, so its reader makes no READ request (a CT slice is ~513 KiB;
 * one READ carries at most 1 MiB). */
#define FS_PREFILL_KB 1024
/* Find the mount's device in /proc/self/mountinfo (after the mount, before
 * the session loop); sets fs->ra_pending when there is one to set. */
void fs_read_ahead_prepare(struct dd_fs *fs, const char *mountpoint);
/* Write the read-ahead to /sys/class/bdi/MAJ:MIN/read_ahead_kb.  Only after
 * the INIT reply (which lowers the bdi's read-ahead to the kernel's
 * offer): the first open calls it.  Needs root; otherwise logged once. */
void fs_set_read_ahead(struct dd_fs *fs);

/* The counters as JSON into @out. */
dd_err fs_counters_json(struct dd_fs *fs, struct dd_buf *out);

#endif /* DD_FS_I_H */
