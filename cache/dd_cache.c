/* dd_cache.c: the LMDB environment, the reader pool and the writer.
 *
 * Locks, outermost first:
 *   swap_lock (rwlock)  readers hold it shared around every use of env;
 *                       only the writer thread takes it exclusive, to
 *                       replace the environment (rebuild, remap).
 *   pool_lock           the pool of reset read transactions.
 *   q_lock              the put queue, the hit and bad-record notes, the
 *                       flush counters and the writer's flags.
 * The writer thread is the only one that begins write transactions after
 * dd_cache_open() returns, and the only one that changes env.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "dd_cache_i.h"
#include "dd_log.h"

#define POOL_MAX 64        /* idle read transactions kept per handle */
#define MAX_READERS 1022   /* reader slots of an environment */
#define NOTES_MAX 8192     /* noted hits kept between batches */
#define BAD_MAX 1024       /* noted bad records kept between batches */
/* Bounds of one write transaction.  LMDB copies every page a write
 * transaction dirties into a malloc'd page and, after the commit, keeps
 * those pages on its environment's free list (me_dpages) for reuse until
 * the environment is closed: the largest transaction sets the writer's
 * heap for good.  The keys are hashes, so in a large cache every stamp
 * or put dirties leaf and branch pages of its own (about 2 pages a stamp,
 * 6 a put, counted in the daemon's heap at 300k records): 8192 hits in
 * one transaction over a million records kept ~17 MiB, 1024 puts ~10 MiB
 * (bench_cache N hits); at these bounds it is about 4 MiB.  Smaller
 * transactions cost more commits (an fsync each) and more page copies,
 * in the writer thread only. */
#define BATCH_MAX_ITEMS 128
#define HITS_PER_TXN 512
#define FORMAT_VERSION 1   /* of the environment (sub-databases, meta) */

enum item_kind { ITEM_PUT, ITEM_META_PUT, ITEM_META_DEL };

struct dd_cache;
struct evict;
static void map_touched(struct dd_cache *c);

/* One queued write.  rec holds the encoded record (not for META_DEL). */
struct item {
	struct item *next;
	enum item_kind kind;
	uint8_t key[DD_CACHE_KEY_LEN];
	char name[DD_CACHE_META_NAME_MAX + 1];
	dd_err *result; /* synchronous items: the writer stores here ... */
	bool *done;     /* ... and sets this (both under q_lock) */
	size_t len;
	uint8_t rec[];
};

struct bad_note {
	bool meta;
	uint8_t key[DD_CACHE_KEY_LEN];
	char name[DD_CACHE_META_NAME_MAX + 1];
};

struct counters {
	uint64_t hits, misses, corrupt, evictions, puts, puts_failed, commits,
		rebuilds, stale_readers;
	uint64_t evict_txn_max; /* written by the writer only */
	uint64_t evict_batches; /* batches committed during an eviction */
};

struct dd_cache {
	char *dir;
	unsigned flags;
	uint64_t cap, hi_mark, lo_mark;
	dev_t dir_dev;
	ino_t dir_ino;
	struct dd_cache *reg_next; /* protected by reg_lock */

	/* The environment: changed only by the writer holding swap_lock
	 * exclusive (or by open/close). */
	pthread_rwlock_t swap_lock;
	MDB_env *env;
	MDB_dbi dbi_main, dbi_man, dbi_lru, dbi_meta;
	uint64_t gen;
	int holders_fd;
	unsigned psize;
	bool broken;             /* no usable environment: all gets miss */
	/* where env's map is (dd_cache_trim); map_lock, inside swap_lock
	 * shared; reset (map_env = NULL) with swap_lock exclusive */
	pthread_mutex_t map_lock;
	MDB_env *map_env;
	uintptr_t map_lo, map_len;
	/* dd_cache_set_trim (atomics): trim after every map_every records
	 * touched; map_ops counts them */
	uint64_t map_every, map_ops;
	char data_path[PATH_MAX];

	pthread_mutex_t pool_lock;
	MDB_txn *pool[POOL_MAX]; /* protected by pool_lock */
	unsigned pool_n;         /* protected by pool_lock */
	MDB_txn *held_reader;    /* test hook; protected by pool_lock */

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;     /* the writer waits here */
	pthread_cond_t space_cond; /* putters wait for room */
	pthread_cond_t done_cond;  /* flushers and synchronous items */
	/* All fields below are protected by q_lock. */
	struct item *q_head, *q_tail;
	size_t q_count, q_bytes;
	uint64_t q_first_ms;       /* when the oldest pending work came */
	uint64_t flush_req, flush_done;
	uint8_t (*hits)[DD_CACHE_KEY_LEN];
	size_t hits_n;
	struct bad_note *bad;
	size_t bad_n;
	bool stop, rebuild_req, resize_req;
	bool writer_running;
	pthread_t writer;
	/* the eviction in progress (writer thread only; see evict_start) */
	struct evict *ev;

	struct counters cnt;       /* atomics (__atomic builtins) */
	struct counters persisted; /* writer only: what "dd.stats" has */
};

#define CNT_ADD(c, field, n) \
	__atomic_fetch_add(&(c)->cnt.field, (n), __ATOMIC_RELAXED)
#define CNT_GET(c, field) __atomic_load_n(&(c)->cnt.field, __ATOMIC_RELAXED)

/* One handle per directory per process (see dd_cache.h). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dd_cache *reg_head;


static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* LMDB codes that mean the environment itself is damaged. */
static bool mdb_is_damage(int rc)
{
	return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ||
	       rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
	       rc == MDB_PANIC;
}

static dd_err mdb_to_dd(int rc)
{
	if (rc == MDB_SUCCESS)
		return DD_OK;
	if (rc == MDB_NOTFOUND)
		return DD_E_NOTFOUND;
	if (mdb_is_damage(rc))
		return DD_E_CORRUPT;
	if (rc == ENOMEM)
		return DD_E_NOMEM;
	if (rc == MDB_MAP_FULL)
		return DD_E_LIMIT;
	return DD_E_IO;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- meta records inside a transaction -------------------------------- */

/* Read meta @name into a decoded record (payload borrowed from @txn). */
static int meta_read(struct dd_cache *c, MDB_txn *txn, const char *name,
		     struct dd_cache_record *rec, dd_err *derr)
{
	uint8_t key[DD_CACHE_KEY_LEN];
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc;

	*derr = DD_OK;
	rc = mdb_get(txn, c->dbi_meta, &k, &v);
	if (rc)
		return rc;
	dd_cache_meta_key(name, key);
	*derr = dd_cache_record_decode(key, v.mv_data, v.mv_size, rec, NULL);
	return MDB_SUCCESS;
}

static int meta_write(struct dd_cache *c, MDB_txn *txn, const char *name,
		      const void *payload, uint32_t len)
{
	uint8_t key[DD_CACHE_KEY_LEN];
	MDB_val k = {strlen(name), (void *)name};
	MDB_val v = {DD_CACHE_RECORD_HDR + (size_t)len, NULL};
	int rc;

	rc = mdb_put(txn, c->dbi_meta, &k, &v, MDB_RESERVE);
	if (rc)
		return rc;
	dd_cache_meta_key(name, key);
	dd_cache_record_encode(key, payload, len, v.mv_data);
	return MDB_SUCCESS;
}

/* A u64 meta value; @dflt if absent or bad. */
static uint64_t meta_read_u64(struct dd_cache *c, MDB_txn *txn,
			      const char *name, uint64_t dflt)
{
	struct dd_cache_record rec;
	dd_err derr;

	if (meta_read(c, txn, name, &rec, &derr) || derr || rec.paylen != 8)
		return dflt;
	return get_le64(rec.payload);
}

static int meta_write_u64(struct dd_cache *c, MDB_txn *txn, const char *name,
			  uint64_t val)
{
	uint8_t b[8];

	put_le64(b, val);
	return meta_write(c, txn, name, b, 8);
}

/* ---- the environment --------------------------------------------------- */

static uint64_t map_size_for(uint64_t cap)
{
	uint64_t m = cap + cap / 4;

	return (m + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
}

/* Abort every pooled read transaction (swap_lock exclusive, or close). */
static void pool_drain(struct dd_cache *c)
{
	pthread_mutex_lock(&c->pool_lock);
	while (c->pool_n)
		mdb_txn_abort(c->pool[--c->pool_n]);
	if (c->held_reader) {
		mdb_txn_abort(c->held_reader);
		c->held_reader = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
}

/* Close the environment and let go of its generation. */
static void env_detach(struct dd_cache *c)
{
	pool_drain(c);
	c->map_env = NULL;
	if (c->env) {
		mdb_env_close(c->env);
		c->env = NULL;
	}
	if (c->holders_fd >= 0) {
		close(c->holders_fd);
		c->holders_fd = -1;
	}
	c->gen = 0;
}

/* Open the sub-databases and check or write the format (in @txn). */
static dd_err env_init_dbs(struct dd_cache *c, MDB_txn *txn, bool fresh,
			   char *err, size_t errlen)
{
	unsigned dflags = (c->flags & DD_CACHE_RDONLY) ? 0 : MDB_CREATE;
	uint64_t format;
	int rc;

	if ((rc = mdb_dbi_open(txn, NULL, 0, &c->dbi_main)) ||
	    (rc = mdb_dbi_open(txn, "manifests", dflags, &c->dbi_man)) ||
	    (rc = mdb_dbi_open(txn, "lru", dflags, &c->dbi_lru)) ||
	    (rc = mdb_dbi_open(txn, "meta", dflags, &c->dbi_meta))) {
		dd_cache_set_err(err, errlen, "cache: env.%" PRIu64 ": %s", c->gen,
			mdb_strerror(rc));
		return rc == MDB_NOTFOUND ? DD_E_CORRUPT : mdb_to_dd(rc);
	}
	format = meta_read_u64(c, txn, "dd.format", 0);
	if (format == 0 && fresh && !(c->flags & DD_CACHE_RDONLY)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		if ((rc = meta_write_u64(c, txn, "dd.format", FORMAT_VERSION)) ||
		    (rc = meta_write_u64(c, txn, "dd.created",
					 (uint64_t)ts.tv_sec))) {
			dd_cache_set_err(err, errlen, "cache: cannot initialise: %s",
				mdb_strerror(rc));
			return mdb_to_dd(rc);
		}
		format = FORMAT_VERSION;
	}
	if (format != FORMAT_VERSION) {
		dd_cache_set_err(err, errlen,
			"cache: env.%" PRIu64 " has format %" PRIu64
			", not %d (damaged or from another version)",
			c->gen, format, FORMAT_VERSION);
		return DD_E_CORRUPT;
	}
	if (c->flags & DD_CACHE_RDONLY) {
		c->cap = meta_read_u64(c, txn, "dd.cap", 0);
		return DD_OK;
	}
	rc = meta_write_u64(c, txn, "dd.cap", c->cap);
	return rc ? mdb_to_dd(rc) : DD_OK;
}

/* Is the data file at least as long as the environment says?  A shorter
 * file would SIGBUS the first reader of a missing page. */
static dd_err env_check_size(struct dd_cache *c, char *err, size_t errlen)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	uint64_t need;

	if (mdb_env_info(c->env, &info) || mdb_env_stat(c->env, &st) ||
	    stat(c->data_path, &fst) < 0) {
		dd_cache_set_err(err, errlen, "cache: cannot stat %s", c->data_path);
		return DD_E_IO;
	}
	c->psize = st.ms_psize;
	need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if ((uint64_t)fst.st_size < need) {
		dd_cache_set_err(err, errlen,
			"cache: %s is %jd bytes but its last page ends at %"
			PRIu64 " (truncated)", c->data_path,
			(intmax_t)fst.st_size, need);
		return DD_E_CORRUPT;
	}
	return DD_OK;
}

/* Open generation @gen (its files exist, or @fresh: about to be created).
 * On failure everything is released again. */
static dd_err env_attach(struct dd_cache *c, uint64_t gen, bool fresh,
			 char *err, size_t errlen)
{
	bool rdonly = c->flags & DD_CACHE_RDONLY;
	unsigned eflags = MDB_NOTLS | MDB_NORDAHEAD;
	char path[PATH_MAX];
	struct stat fst;
	MDB_txn *txn;
	dd_err derr;
	int rc, dead = 0;

	if (!dd_cache_gen_path(path, sizeof(path), c->dir, gen, NULL) ||
	    !dd_cache_gen_path(c->data_path, sizeof(c->data_path), c->dir,
			       gen, "data.mdb")) {
		dd_cache_set_err(err, errlen, "cache: directory name too long");
		return DD_E_INVAL;
	}
	derr = dd_cache_gen_hold(c->dir, gen, &c->holders_fd);
	if (derr) {
		dd_cache_set_err(err, errlen, "cache: cannot lock %s/holders", path);
		return derr;
	}
	c->gen = gen;
	/* LMDB writes both meta pages when it creates a file, so a live
	 * generation always has at least two pages. */
	if (!fresh && (stat(c->data_path, &fst) < 0 ||
		       fst.st_size < 2 * sysconf(_SC_PAGESIZE))) {
		dd_cache_set_err(err, errlen, "cache: %s is missing or truncated",
			c->data_path);
		derr = DD_E_CORRUPT;
		goto out_detach;
	}
	if (rdonly)
		eflags |= MDB_RDONLY;
	if (c->flags & DD_CACHE_NOSYNC)
		eflags |= MDB_NOSYNC;
	if ((rc = mdb_env_create(&c->env)) ||
	    (rc = mdb_env_set_maxreaders(c->env, MAX_READERS)) ||
	    (rc = mdb_env_set_maxdbs(c->env, 8)) ||
	    (!rdonly && (rc = mdb_env_set_mapsize(c->env,
						  map_size_for(c->cap)))) ||
	    (rc = mdb_env_open(c->env, path, eflags, 0600))) {
		dd_cache_set_err(err, errlen, "cache: cannot open %s: %s", path,
			mdb_strerror(rc));
		derr = mdb_to_dd(rc);
		goto out_detach;
	}
	if ((rc = mdb_reader_check(c->env, &dead)) == MDB_SUCCESS && dead) {
		CNT_ADD(c, stale_readers, (uint64_t)dead);
		dd_log(DD_LOG_INFO, "cache: cleared %d stale reader slot(s)",
		       dead);
	}
	derr = env_check_size(c, err, errlen);
	if (derr)
		goto out_detach;
	rc = mdb_txn_begin(c->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc) {
		dd_cache_set_err(err, errlen, "cache: %s: %s", path, mdb_strerror(rc));
		derr = mdb_to_dd(rc);
		goto out_detach;
	}
	derr = env_init_dbs(c, txn, fresh, err, errlen);
	if (derr) {
		mdb_txn_abort(txn);
		goto out_detach;
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		dd_cache_set_err(err, errlen, "cache: %s: %s", path, mdb_strerror(rc));
		derr = mdb_to_dd(rc);
		goto out_detach;
	}
	return DD_OK;
out_detach:
	env_detach(c);
	return derr;
}

/* With the directory lock held: attach @c to the current generation, or
 * create a new one when there is none, or when the current one is
 * @bad_gen or turns out damaged (a "rebuild"). */
static dd_err cache_attach(struct dd_cache *c, uint64_t bad_gen, char *err,
			   size_t errlen)
{
	bool rdonly = c->flags & DD_CACHE_RDONLY;
	bool rebuilding = bad_gen != 0;
	uint64_t gen = 0;
	dd_err derr;

	derr = dd_cache_gen_current(c->dir, &gen);
	if (derr == DD_OK && gen != bad_gen) {
		derr = env_attach(c, gen, false, err, errlen);
		if (derr != DD_E_CORRUPT || rdonly)
			return derr;
		dd_log(DD_LOG_WARN, "%s; starting a new generation",
		       err && *err ? err : "cache: damaged environment");
		rebuilding = true;
	} else if (derr == DD_E_NOTFOUND && rdonly) {
		dd_cache_set_err(err, errlen, "cache: no cache in %s", c->dir);
		return DD_E_NOTFOUND;
	} else if (derr != DD_OK && derr != DD_E_NOTFOUND &&
		   derr != DD_E_CORRUPT) {
		dd_cache_set_err(err, errlen, "cache: cannot read %s/current", c->dir);
		return derr;
	} else if (rdonly) {
		dd_cache_set_err(err, errlen, "cache: %s/current is damaged", c->dir);
		return DD_E_CORRUPT;
	}
	if (derr == DD_E_CORRUPT)
		rebuilding = true; /* a garbled `current` */
	if (rebuilding)
		CNT_ADD(c, rebuilds, 1);
	derr = dd_cache_gen_create(c->dir, &gen);
	if (derr) {
		dd_cache_set_err(err, errlen, "cache: cannot create a generation in %s",
			c->dir);
		return derr;
	}
	derr = env_attach(c, gen, true, err, errlen);
	if (derr)
		return derr;
	derr = dd_cache_gen_set_current(c->dir, gen);
	if (derr) {
		dd_cache_set_err(err, errlen, "cache: cannot update %s/current", c->dir);
		env_detach(c);
	}
	return derr;
}

/* ---- read transactions ------------------------------------------------- */

/* A read transaction for one lookup (swap_lock held shared). */
static int reader_begin(struct dd_cache *c, MDB_txn **txn)
{
	int rc;

	*txn = NULL;
	pthread_mutex_lock(&c->pool_lock);
	if (c->pool_n)
		*txn = c->pool[--c->pool_n];
	pthread_mutex_unlock(&c->pool_lock);
	if (*txn) {
		rc = mdb_txn_renew(*txn);
		if (rc == MDB_SUCCESS)
			return rc;
		mdb_txn_abort(*txn);
		*txn = NULL;
		return rc;
	}
	return mdb_txn_begin(c->env, NULL, MDB_RDONLY, txn);
}

/* Give the transaction back: reset (no snapshot kept) and pooled. */
static void reader_end(struct dd_cache *c, MDB_txn *txn)
{
	mdb_txn_reset(txn);
	pthread_mutex_lock(&c->pool_lock);
	if (c->pool_n < POOL_MAX) {
		c->pool[c->pool_n++] = txn;
		txn = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (txn)
		mdb_txn_abort(txn);
}

/* Ask the writer for a rebuild or a remap after a reader saw @rc. */
static void reader_trouble(struct dd_cache *c, int rc)
{
	if (rc != MDB_MAP_RESIZED && !mdb_is_damage(rc))
		return;
	pthread_mutex_lock(&c->q_lock);
	if (rc == MDB_MAP_RESIZED)
		c->resize_req = true;
	else
		c->rebuild_req = true;
	pthread_cond_signal(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
}

static void note_work(struct dd_cache *c)
{
	if (!c->q_count && !c->hits_n && !c->bad_n)
		c->q_first_ms = now_ms();
}

static void note_hit(struct dd_cache *c, const uint8_t *key)
{
	if (c->flags & DD_CACHE_RDONLY)
		return;
	pthread_mutex_lock(&c->q_lock);
	if (c->hits_n < NOTES_MAX) {
		if (!c->hits_n)
			pthread_cond_signal(&c->q_cond);
		note_work(c);
		memcpy(c->hits[c->hits_n++], key, DD_CACHE_KEY_LEN);
	}
	pthread_mutex_unlock(&c->q_lock);
}

static void note_bad(struct dd_cache *c, const uint8_t *key, const char *name)
{
	CNT_ADD(c, corrupt, 1);
	if (c->flags & DD_CACHE_RDONLY)
		return;
	pthread_mutex_lock(&c->q_lock);
	if (c->bad_n < BAD_MAX) {
		struct bad_note *b = &c->bad[c->bad_n];
		note_work(c);
		memset(b, 0, sizeof(*b));
		b->meta = name != NULL;
		if (name)
			snprintf(b->name, sizeof(b->name), "%s", name);
		else
			memcpy(b->key, key, DD_CACHE_KEY_LEN);
		c->bad_n++;
		pthread_cond_signal(&c->q_cond);
	}
	pthread_mutex_unlock(&c->q_lock);
}

/* Look @key up in @dbi; copy the verified payload out.  For meta, @name
 * is the name and @key its checksum key. */
static dd_err cache_lookup(struct dd_cache *c, MDB_dbi *dbi,
			   const uint8_t *key, const char *name,
			   uint8_t **bytes, size_t *len)
{
	struct dd_cache_record rec;
	MDB_val k, v;
	MDB_txn *txn;
	dd_err derr;
	int rc;

	*bytes = NULL;
	*len = 0;
	if (name) {
		k.mv_size = strlen(name);
		k.mv_data = (void *)name;
	} else {
		k.mv_size = DD_CACHE_KEY_LEN;
		k.mv_data = (void *)key;
	}
	pthread_rwlock_rdlock(&c->swap_lock);
	if (c->broken || !c->env) {
		derr = DD_E_IO;
		goto out_unlock_swap;
	}
	rc = reader_begin(c, &txn);
	if (rc) {
		dd_log(DD_LOG_WARN, "cache: read transaction: %s",
		       mdb_strerror(rc));
		reader_trouble(c, rc);
		derr = DD_E_IO;
		goto out_unlock_swap;
	}
	rc = mdb_get(txn, *dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		derr = DD_E_NOTFOUND;
	} else if (rc) {
		dd_log(DD_LOG_WARN, "cache: read: %s", mdb_strerror(rc));
		reader_trouble(c, rc);
		derr = DD_E_IO;
	} else if (dd_cache_record_decode(key, v.mv_data, v.mv_size, &rec,
					  NULL)) {
		derr = DD_E_CORRUPT;
	} else {
		*bytes = malloc(rec.paylen ? rec.paylen : 1);
		if (*bytes) {
			memcpy(*bytes, rec.payload, rec.paylen);
			*len = rec.paylen;
			derr = DD_OK;
		} else {
			derr = DD_E_NOMEM;
		}
	}
	reader_end(c, txn);
	map_touched(c);
out_unlock_swap:
	pthread_rwlock_unlock(&c->swap_lock);
	if (derr == DD_E_CORRUPT)
		note_bad(c, key, name);
	return derr;
}

dd_err dd_cache_get(struct dd_cache *c, const uint8_t *key, uint8_t **bytes,
		    size_t *len)
{
	dd_err derr;

	if (!bytes || !len)
		return DD_E_INVAL;
	*bytes = NULL;
	*len = 0;
	if (!c || !key)
		return DD_E_INVAL;
	derr = cache_lookup(c, &c->dbi_man, key, NULL, bytes, len);
	if (derr == DD_OK) {
		CNT_ADD(c, hits, 1);
		note_hit(c, key);
	} else {
		CNT_ADD(c, misses, 1);
	}
	return derr;
}

dd_err dd_cache_meta_get(struct dd_cache *c, const char *name,
			 uint8_t **bytes, size_t *len)
{
	uint8_t key[DD_CACHE_KEY_LEN];

	if (!bytes || !len)
		return DD_E_INVAL;
	*bytes = NULL;
	*len = 0;
	if (!c || !dd_cache_meta_name_ok(name))
		return DD_E_INVAL;
	dd_cache_meta_key(name, key);
	return cache_lookup(c, &c->dbi_meta, key, name, bytes, len);
}

/* ---- the queue ---------------------------------------------------------- */

/* Append @it; blocks while the queue is full.  Takes q_lock. */
static void queue_push(struct dd_cache *c, struct item *it)
{
	pthread_mutex_lock(&c->q_lock);
	while (c->q_count && (c->q_count >= DD_CACHE_QUEUE_MAX ||
			      c->q_bytes + it->len > DD_CACHE_QUEUE_BYTES))
		pthread_cond_wait(&c->space_cond, &c->q_lock);
	note_work(c);
	it->next = NULL;
	if (c->q_tail)
		c->q_tail->next = it;
	else
		c->q_head = it;
	c->q_tail = it;
	c->q_count++;
	c->q_bytes += it->len;
	pthread_cond_signal(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
}

static struct item *item_new(enum item_kind kind, size_t reclen)
{
	struct item *it = calloc(1, sizeof(*it) + reclen);

	if (it) {
		it->kind = kind;
		it->len = reclen;
	}
	return it;
}

static dd_err check_put(struct dd_cache *c, size_t len)
{
	if (c->flags & DD_CACHE_RDONLY)
		return DD_E_INVAL;
	if (len > DD_CACHE_VALUE_MAX || len > c->cap / 4)
		return DD_E_LIMIT;
	return DD_OK;
}

dd_err dd_cache_put(struct dd_cache *c, const uint8_t *key, const void *bytes,
		    size_t len)
{
	struct item *it;
	dd_err derr;

	if (!c || !key || (!bytes && len))
		return DD_E_INVAL;
	derr = check_put(c, len);
	if (derr)
		return derr;
	it = item_new(ITEM_PUT, DD_CACHE_RECORD_HDR + len);
	if (!it)
		return DD_E_NOMEM;
	memcpy(it->key, key, DD_CACHE_KEY_LEN);
	dd_cache_record_encode(key, bytes, (uint32_t)len, it->rec);
	CNT_ADD(c, puts, 1);
	queue_push(c, it);
	return DD_OK;
}

dd_err dd_cache_test_put_raw(struct dd_cache *c, const uint8_t *key,
			     const void *raw, size_t len)
{
	struct item *it;

	if (!c || !key || (c->flags & DD_CACHE_RDONLY))
		return DD_E_INVAL;
	it = item_new(ITEM_PUT, len);
	if (!it)
		return DD_E_NOMEM;
	memcpy(it->key, key, DD_CACHE_KEY_LEN);
	if (len)
		memcpy(it->rec, raw, len);
	queue_push(c, it);
	return DD_OK;
}

/* Queue @it and wait until the writer has handled it. */
static dd_err queue_sync(struct dd_cache *c, struct item *it)
{
	dd_err result = DD_E_IO;
	bool done = false;

	it->result = &result;
	it->done = &done;
	queue_push(c, it);
	pthread_mutex_lock(&c->q_lock);
	while (!done)
		pthread_cond_wait(&c->done_cond, &c->q_lock);
	pthread_mutex_unlock(&c->q_lock);
	return result;
}

dd_err dd_cache_meta_put(struct dd_cache *c, const char *name,
			 const void *bytes, size_t len)
{
	uint8_t key[DD_CACHE_KEY_LEN];
	struct item *it;
	dd_err derr;

	if (!c || !dd_cache_meta_name_ok(name) || !strncmp(name, "dd.", 3) ||
	    (!bytes && len))
		return DD_E_INVAL;
	derr = check_put(c, len);
	if (derr)
		return derr;
	it = item_new(ITEM_META_PUT, DD_CACHE_RECORD_HDR + len);
	if (!it)
		return DD_E_NOMEM;
	snprintf(it->name, sizeof(it->name), "%s", name);
	dd_cache_meta_key(name, key);
	dd_cache_record_encode(key, bytes, (uint32_t)len, it->rec);
	return queue_sync(c, it);
}

dd_err dd_cache_meta_del(struct dd_cache *c, const char *name)
{
	struct item *it;

	if (!c || !dd_cache_meta_name_ok(name) || !strncmp(name, "dd.", 3) ||
	    (c->flags & DD_CACHE_RDONLY))
		return DD_E_INVAL;
	it = item_new(ITEM_META_DEL, 0);
	if (!it)
		return DD_E_NOMEM;
	snprintf(it->name, sizeof(it->name), "%s", name);
	return queue_sync(c, it);
}

dd_err dd_cache_flush(struct dd_cache *c)
{
	uint64_t mine;
	dd_err derr;

	if (!c)
		return DD_E_INVAL;
	if (c->flags & DD_CACHE_RDONLY)
		return DD_OK;
	pthread_mutex_lock(&c->q_lock);
	mine = ++c->flush_req;
	pthread_cond_signal(&c->q_cond);
	while (c->flush_done < mine && c->writer_running)
		pthread_cond_wait(&c->done_cond, &c->q_lock);
	pthread_mutex_unlock(&c->q_lock);
	pthread_rwlock_rdlock(&c->swap_lock);
	derr = c->broken ? DD_E_IO : DD_OK;
	pthread_rwlock_unlock(&c->swap_lock);
	return derr;
}

/* Find env's map in /proc/self/maps by the data file's device and inode:
 * LMDB does not tell where it mapped the file (mdb_env_info's me_mapaddr
 * is only set with MDB_FIXEDMAP).  LMDB maps the file once, whole.
 * With map_lock held; map_env is published last (release), so a thread
 * that reads it equal to env (acquire) sees map_lo and map_len. */
static bool map_locate(struct dd_cache *c)
{
	struct stat st;
	char line[512];
	FILE *maps;
	bool found = false;
	int fd;

	if (mdb_env_get_fd(c->env, &fd) != MDB_SUCCESS || fstat(fd, &st) < 0 ||
	    !(maps = fopen("/proc/self/maps", "re")))
		return false;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi, off, ino;
		unsigned maj, mnr;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms,
			   &off, &maj, &mnr, &ino) != 7 ||
		    ino != (unsigned long)st.st_ino ||
		    makedev(maj, mnr) != st.st_dev || hi <= lo || off != 0)
			continue;
		c->map_lo = lo;
		c->map_len = hi - lo;
		__atomic_store_n(&c->map_env, c->env, __ATOMIC_RELEASE);
		found = true;
		break;
	}
	fclose(maps);
	return found;
}

/* dd_cache_trim with swap_lock held shared, or by the writer (the only
 * thread that changes env).  Every caller advises the map itself, with
 * no lock held: trims used to be skipped while another thread held the
 * lock, and on a busy machine a trimming thread preempted there let the
 * other threads map tens of MiB before anyone trimmed again.  Concurrent
 * MADV_DONTNEED calls on the same range are harmless. */
static uint64_t map_trim(struct dd_cache *c)
{
	if (!c->env)
		return 0;
	if (__atomic_load_n(&c->map_env, __ATOMIC_ACQUIRE) != c->env) {
		bool found;

		pthread_mutex_lock(&c->map_lock);
		found = __atomic_load_n(&c->map_env, __ATOMIC_ACQUIRE) ==
				c->env || map_locate(c);
		pthread_mutex_unlock(&c->map_lock);
		if (!found)
			return 0;
	}
	if (madvise((void *)c->map_lo, c->map_len, MADV_DONTNEED) != 0)
		return 0;
	return c->map_len;
}

/* Called for every record read or written (swap_lock held shared, or by
 * the writer): every map_every of them (dd_cache_set_trim), trim. */
static void map_touched(struct dd_cache *c)
{
	uint64_t every = __atomic_load_n(&c->map_every, __ATOMIC_RELAXED);

	if (every &&
	    __atomic_add_fetch(&c->map_ops, 1, __ATOMIC_RELAXED) % every == 0)
		map_trim(c);
}

void dd_cache_set_trim(struct dd_cache *c, unsigned every)
{
	if (c)
		__atomic_store_n(&c->map_every, every, __ATOMIC_RELAXED);
}

uint64_t dd_cache_trim(struct dd_cache *c)
{
	uint64_t advised;

	if (!c)
		return 0;
	/* shared: the environment cannot be replaced, remapped or closed
	 * meanwhile */
	pthread_rwlock_rdlock(&c->swap_lock);
	advised = map_trim(c);
	pthread_rwlock_unlock(&c->swap_lock);
	return advised;
}

/* ---- the writer --------------------------------------------------------- */

/* Pages used by every sub-database, in bytes, as @txn sees them. */
static uint64_t used_bytes(struct dd_cache *c, MDB_txn *txn)
{
	const MDB_dbi dbis[] = {c->dbi_main, c->dbi_man, c->dbi_lru,
				c->dbi_meta};
	uint64_t pages = 2; /* the two meta pages */
	MDB_stat st;

	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++)
		if (mdb_stat(txn, dbis[i], &st) == MDB_SUCCESS)
			pages += st.ms_branch_pages + st.ms_leaf_pages +
				 st.ms_overflow_pages;
	return pages * c->psize;
}

struct batch {
	struct item *items;
	uint8_t (*hits)[DD_CACHE_KEY_LEN];
	size_t hits_n;
	size_t hits_off, hits_end; /* the part stamped by this transaction */
	struct bad_note *bad;
	size_t bad_n;
};

/* Delete a record noted bad, if it still does not verify (a later put may
 * have replaced it). */
static int drop_bad(struct dd_cache *c, MDB_txn *txn, const struct bad_note *b)
{
	struct dd_cache_record rec;
	uint8_t key[DD_CACHE_KEY_LEN];
	MDB_val k, v;
	MDB_dbi dbi = b->meta ? c->dbi_meta : c->dbi_man;
	int rc;

	if (b->meta) {
		k.mv_size = strlen(b->name);
		k.mv_data = (void *)b->name;
		dd_cache_meta_key(b->name, key);
	} else {
		k.mv_size = DD_CACHE_KEY_LEN;
		k.mv_data = (void *)b->key;
		memcpy(key, b->key, DD_CACHE_KEY_LEN);
	}
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
	if (dd_cache_record_decode(key, v.mv_data, v.mv_size, &rec, NULL) ==
	    DD_OK)
		return MDB_SUCCESS;
	rc = mdb_del(txn, dbi, &k, NULL);
	if (!rc && !b->meta) {
		rc = mdb_del(txn, c->dbi_lru, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = MDB_SUCCESS;
	}
	return rc;
}

static int write_stamp(struct dd_cache *c, MDB_txn *txn, const uint8_t *key,
		       uint64_t *clock)
{
	uint8_t b[8];
	MDB_val k = {DD_CACHE_KEY_LEN, (void *)key}, v = {8, b};

	put_le64(b, ++*clock);
	return mdb_put(txn, c->dbi_lru, &k, &v, 0);
}

/* Stamp a hit on @key, unless the record went meanwhile (evicted or
 * dropped).  Every record has a stamp from its put on, and both go
 * together, so the stamp alone says whether it is still there; only a
 * record without one (lost to damage) is looked up in "manifests".  That
 * tree is the bulk of the map, and every page a lookup faults in stays
 * mapped until the next trim: looking every hit up there again doubled
 * the writer's faults (a third of the daemon's in a warm find). */
static int stamp_hit(struct dd_cache *c, MDB_txn *txn, const uint8_t *key,
		     uint64_t *clock)
{
	MDB_val k = {DD_CACHE_KEY_LEN, (void *)key}, v;
	int rc;

	rc = mdb_get(txn, c->dbi_lru, &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = mdb_get(txn, c->dbi_man, &k, &v);
	if (rc == MDB_NOTFOUND)
		return MDB_SUCCESS;
	if (rc)
		return rc;
	return write_stamp(c, txn, key, clock);
}

/* Fold this handle's counters into "dd.stats" (hits, misses, corrupt,
 * evictions; u64 each).  @snap receives what was written. */
static int write_stats(struct dd_cache *c, MDB_txn *txn, uint64_t evicted,
		       struct counters *snap)
{
	struct dd_cache_record rec;
	uint64_t tot[4] = {0, 0, 0, 0};
	uint8_t b[32];
	dd_err derr;

	if (meta_read(c, txn, "dd.stats", &rec, &derr) == MDB_SUCCESS &&
	    !derr && rec.paylen == 32)
		for (int i = 0; i < 4; i++)
			tot[i] = get_le64(rec.payload + 8 * i);
	snap->hits = CNT_GET(c, hits);
	snap->misses = CNT_GET(c, misses);
	snap->corrupt = CNT_GET(c, corrupt);
	snap->evictions = CNT_GET(c, evictions) + evicted;
	tot[0] += snap->hits - c->persisted.hits;
	tot[1] += snap->misses - c->persisted.misses;
	tot[2] += snap->corrupt - c->persisted.corrupt;
	tot[3] += snap->evictions - c->persisted.evictions;
	for (int i = 0; i < 4; i++)
		put_le64(b + 8 * i, tot[i]);
	return meta_write(c, txn, "dd.stats", b, sizeof(b));
}

/* ---- eviction ------------------------------------------------------------ */

/* Eviction frees the oldest-stamped records until the used pages are at
 * most a goal, in memory and write transactions whose size does not
 * depend on the number of records:
 *
 *  1. one pass over "lru" (in a write transaction that is aborted: see
 *     evict_scan) counts the stamps in a histogram of EVICT_BUCKETS
 *     buckets (the newest stamp is dd.clock; the buckets widen, by
 *     doubling, until they reach the oldest);
 *  2. from it, a cutoff stamp T such that the records stamped at or
 *     before T are about as many as the bytes to free take (at the
 *     average bytes a record has in "manifests" and "lru");
 *  3. a walk of "lru" in key order, over write transactions of at most
 *     DD_CACHE_EVICT_PER_TXN deletions each (every transaction resumes
 *     after the last key the one before saw), deletes each record
 *     stamped at or before T with its stamp; the used pages are checked
 *     after every transaction, and the eviction stops as soon as they
 *     are at most the goal;
 *  4. a walk that ends above the goal is followed by another with a
 *     later cutoff from the same histogram, as many records further as
 *     the bytes the last walk freed per record say (at most twice the
 *     last step).
 *
 * Why: the old way (every stamp read into one array, sorted, the oldest
 * deleted in order in the batch's transaction) took 40 bytes a record
 * while it ran (40 MiB at a million) and deleted a sixth of the cache in
 * one transaction, and LMDB keeps the pages a write transaction dirtied
 * malloc'd until the environment is closed.  The order here is exact to
 * within one bucket (the range of stamps / EVICT_BUCKETS at worst twice
 * that) and one step of the last walk: a walk that reaches the goal half
 * way keeps the rest of its step, which is later in key order, not in
 * age.  Small records share leaf pages, and LMDB frees a leaf only when
 * it falls below a quarter full (merging it), so the pages freed are not
 * proportional to the records deleted: hence the measured rate of step 4.
 * A record hit after the histogram was made has a newer stamp than any
 * cutoff, so it stays.  Each walk reads all of "lru" (about 70 bytes a
 * record in its leaves), a fraction of what it deletes; it counts as
 * touching the map every EVICT_TOUCH records, so the trim
 * (dd_cache_set_trim) bounds what a walk leaves mapped. */
#define EVICT_BUCKETS 4096
#define EVICT_WALKS 64         /* walks of one eviction, at most */
#define EVICT_WALK_TXN 65536   /* records one transaction walks, at most */
#define EVICT_TOUCH 32         /* records walked per map_touched() */
/* eviction transactions between two batches (writer_main) */
#define EVICT_TXNS_PER_TURN 8

struct evict_hist {
	uint64_t top;   /* the newest stamp (dd.clock when counted) */
	uint64_t width; /* stamps per bucket, a power of two */
	uint64_t n;     /* stamps counted */
	/* [i]: stamps s with i * width <= top - s < (i + 1) * width */
	uint64_t count[EVICT_BUCKETS];
};

static void hist_add(struct evict_hist *h, uint64_t s)
{
	uint64_t age = s < h->top ? h->top - s : 0;

	while (age / h->width >= EVICT_BUCKETS) {
		for (size_t i = 0; i < EVICT_BUCKETS / 2; i++)
			h->count[i] = h->count[2 * i] + h->count[2 * i + 1];
		memset(h->count + EVICT_BUCKETS / 2, 0,
		       sizeof(h->count) / 2);
		h->width *= 2;
	}
	h->count[age / h->width]++;
	h->n++;
}

/* The latest cutoff that leaves out at least @want of the oldest stamps;
 * *@covered: how many stamps it covers. */
static uint64_t hist_cutoff(const struct evict_hist *h, uint64_t want,
			    uint64_t *covered)
{
	uint64_t sum = 0, age;
	size_t i = EVICT_BUCKETS;

	while (i > 0) {
		sum += h->count[--i];
		if (sum >= want)
			break;
	}
	*covered = sum;
	age = (uint64_t)i * h->width;
	return age < h->top ? h->top - age : 0;
}

/* Step 1.  *@used: the used bytes; *@rec_bytes: the bytes of "manifests"
 * and "lru".  Stops early (h->n == 0) when *@used is at most @goal.
 * In a write transaction that writes nothing (aborted): a read
 * transaction would keep its snapshot for the whole pass, and LMDB
 * cannot reuse a page freed after the oldest snapshot still read, so
 * another process's writer (its batches dirty pages by the hundred) would
 * take new pages meanwhile and could fill the map (seen with two
 * processes at an 8 MiB cap).  Holding the write lock instead only makes
 * it wait for the pass. */
static int evict_scan(struct dd_cache *c, struct evict_hist *h,
		      uint64_t goal, uint64_t *used, uint64_t *rec_bytes)
{
	const MDB_dbi dbis[] = {c->dbi_man, c->dbi_lru};
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	MDB_stat st;
	uint64_t walked = 0;
	int rc;

	memset(h, 0, sizeof(*h));
	h->width = 1;
	*rec_bytes = 0;
	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		return rc;
	*used = used_bytes(c, txn);
	if (*used <= goal)
		goto out;
	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++)
		if (mdb_stat(txn, dbis[i], &st) == MDB_SUCCESS)
			*rec_bytes += (st.ms_branch_pages + st.ms_leaf_pages +
				       st.ms_overflow_pages) * c->psize;
	h->top = meta_read_u64(c, txn, "dd.clock", 0);
	rc = mdb_cursor_open(txn, c->dbi_lru, &cur);
	if (rc)
		goto out;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) ==
	       MDB_SUCCESS) {
		if (++walked % EVICT_TOUCH == 0)
			map_touched(c);
		/* a stamp that is not 8 bytes counts as the oldest (and is
		 * deleted first); a key of another size was never ours */
		if (k.mv_size == DD_CACHE_KEY_LEN)
			hist_add(h, v.mv_size == 8 ? get_le64(v.mv_data) : 0);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = MDB_SUCCESS;
out:
	mdb_txn_abort(txn);
	return rc;
}

/* One walk of step 3. */
struct evict_walk {
	uint64_t cutoff;
	uint8_t resume[DD_CACHE_KEY_LEN]; /* the last key seen */
	bool started, ended;
	uint64_t deleted; /* records (and stamps) deleted by this walk */
	uint64_t used;    /* used bytes after the last transaction */
};

static void note_evict_txn(struct dd_cache *c, uint64_t n)
{
	if (n > CNT_GET(c, evict_txn_max))
		__atomic_store_n(&c->cnt.evict_txn_max, n, __ATOMIC_RELAXED);
}

/* One transaction of a walk: delete up to DD_CACHE_EVICT_PER_TXN records
 * stamped at or before w->cutoff, from after w->resume on. */
static int evict_txn(struct dd_cache *c, struct evict_walk *w, uint64_t goal)
{
	uint8_t keys[DD_CACHE_EVICT_PER_TXN][DD_CACHE_KEY_LEN];
	struct counters snap;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t evicted = 0, walked = 0;
	size_t n = 0;
	int rc;

	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		return rc;
	/* another process may have evicted meanwhile */
	w->used = used_bytes(c, txn);
	if (w->used <= goal)
		goto out_abort;
	rc = mdb_cursor_open(txn, c->dbi_lru, &cur);
	if (rc)
		goto out_abort;
	if (w->started) {
		k.mv_size = DD_CACHE_KEY_LEN;
		k.mv_data = w->resume;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_SUCCESS && k.mv_size == DD_CACHE_KEY_LEN &&
		    !memcmp(k.mv_data, w->resume, DD_CACHE_KEY_LEN))
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		w->started = true;
	}
	/* Collect first, delete after: no cursor position to keep across
	 * deletions (and the rebalancing they do). */
	for (; rc == MDB_SUCCESS && n < DD_CACHE_EVICT_PER_TXN &&
	       walked < EVICT_WALK_TXN;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (++walked % EVICT_TOUCH == 0)
			map_touched(c);
		if (k.mv_size != DD_CACHE_KEY_LEN)
			continue;
		memcpy(w->resume, k.mv_data, DD_CACHE_KEY_LEN);
		if ((v.mv_size == 8 ? get_le64(v.mv_data) : 0) <= w->cutoff)
			memcpy(keys[n++], k.mv_data, DD_CACHE_KEY_LEN);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		w->ended = true;
	else if (rc)
		goto out_abort;
	rc = MDB_SUCCESS;
	if (!n)
		goto out_abort; /* nothing to commit */
	for (size_t i = 0; i < n && !rc; i++) {
		k.mv_size = DD_CACHE_KEY_LEN;
		k.mv_data = keys[i];
		map_touched(c);
		rc = mdb_del(txn, c->dbi_man, &k, NULL);
		if (rc == MDB_SUCCESS)
			evicted++;
		if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND)
			rc = mdb_del(txn, c->dbi_lru, &k, NULL);
	}
	if (!rc) {
		w->used = used_bytes(c, txn);
		rc = write_stats(c, txn, evicted, &snap);
	}
	if (rc)
		goto out_abort;
	rc = mdb_txn_commit(txn);
	if (rc)
		return rc;
	c->persisted = snap;
	CNT_ADD(c, evictions, evicted);
	CNT_ADD(c, commits, 1);
	note_evict_txn(c, n);
	w->deleted += n;
	return MDB_SUCCESS;
out_abort:
	mdb_txn_abort(txn);
	return rc;
}

/* An eviction in progress: the histogram, the walk, and the steps. */
struct evict {
	uint64_t goal;
	uint64_t start;       /* used bytes when it began */
	uint64_t walk_used;   /* used bytes when the current walk began */
	uint64_t covered;     /* stamps up to the current cutoff */
	uint64_t step, min_step;
	uint64_t commits0, evicted0;
	unsigned walks;
	bool done;            /* the goal is reached, or nothing is left */
	struct evict_walk w;
	struct evict_hist h;
};

/* Free the eviction in progress (@why: NULL when it is complete, else
 * logged at @level). */
static void evict_end(struct dd_cache *c, int level, const char *why)
{
	struct evict *e = c->ev;

	if (!e)
		return;
	if (why)
		dd_log(level, "cache: eviction %s at %" PRIu64
		       " bytes used (goal %" PRIu64 ")", why, e->w.used,
		       e->goal);
	dd_log(DD_LOG_INFO, "cache: evicted %" PRIu64 " records in %" PRIu64
	       " transactions, %u walks: %" PRIu64 " -> %" PRIu64
	       " bytes used", CNT_GET(c, evictions) - e->evicted0,
	       CNT_GET(c, commits) - e->commits0, e->walks, e->start,
	       e->w.used);
	free(e);
	c->ev = NULL;
}

/* Begin an eviction down to @goal bytes if the used pages are above it
 * (step 1 and the first step's size), or lower the goal of the one in
 * progress.  Its transactions are run by evict_steps(). */
static int evict_start(struct dd_cache *c, uint64_t goal)
{
	struct evict *e = c->ev;
	uint64_t used, rec_bytes;
	int rc;

	if (e) {
		if (goal < e->goal)
			e->goal = goal;
		return MDB_SUCCESS;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return ENOMEM;
	rc = evict_scan(c, &e->h, goal, &used, &rec_bytes);
	if (rc || used <= goal || !e->h.n) {
		free(e);
		return rc;
	}
	e->goal = goal;
	e->start = e->walk_used = used;
	e->covered = 0;
	/* The first step at the average bytes of a record (the most a
	 * deletion frees, on average); no step under 1/256 of the records,
	 * so that a walk (a pass over all of them) always pays. */
	e->step = (used - goal) / (rec_bytes / e->h.n + 1) + 1;
	e->min_step = e->h.n / 256 + 1;
	e->commits0 = CNT_GET(c, commits);
	e->evicted0 = CNT_GET(c, evictions);
	e->walks = 0;
	e->done = false;
	memset(&e->w, 0, sizeof(e->w));
	e->w.used = used;
	e->w.ended = true; /* no walk yet */
	c->ev = e;
	return MDB_SUCCESS;
}

/* Begin the next walk (step 4), or say that there is none. */
static bool evict_next_walk(struct dd_cache *c, struct evict *e)
{
	uint64_t used = e->w.used;

	if (e->walks) {
		uint64_t freed = e->walk_used > used ? e->walk_used - used : 0;
		double est = freed ? (double)(used - e->goal) *
			     (double)e->w.deleted / (double)freed + 1 :
			     (double)e->step * 2;

		dd_log(DD_LOG_DEBUG, "cache: eviction walk %u: cutoff %"
		       PRIu64 " (%" PRIu64 " of %" PRIu64 " stamps), %"
		       PRIu64 " deleted, %" PRIu64 " bytes used", e->walks,
		       e->w.cutoff, e->covered, e->h.n, e->w.deleted, used);
		e->step = est < (double)e->step * 2 ? (uint64_t)est :
			  e->step * 2;
	}
	if (e->walks == EVICT_WALKS || e->covered >= e->h.n)
		return false;
	e->walks++;
	if (e->step < e->min_step)
		e->step = e->min_step;
	e->walk_used = used;
	memset(&e->w, 0, sizeof(e->w));
	e->w.used = used;
	e->w.cutoff = hist_cutoff(&e->h, e->covered + e->step, &e->covered);
	return true;
}

/* Run at most @txns transactions of the eviction in progress (step 3);
 * end it when its goal is reached, when it can do no more, or on an
 * error (returned). */
static int evict_steps(struct dd_cache *c, unsigned txns)
{
	struct evict *e = c->ev;
	int rc = MDB_SUCCESS;

	if (!e)
		return MDB_SUCCESS;
	while (txns && e->w.used > e->goal) {
		if (e->w.ended && !evict_next_walk(c, e)) {
			evict_end(c, DD_LOG_WARN, "stopped above its goal");
			return MDB_SUCCESS;
		}
		rc = evict_txn(c, &e->w, e->goal);
		if (rc) {
			evict_end(c, DD_LOG_WARN, "failed");
			return rc;
		}
		txns--;
	}
	if (e->w.used <= e->goal)
		evict_end(c, DD_LOG_INFO, NULL);
	return MDB_SUCCESS;
}

/* Evict down to @goal now (with the eviction in progress, if any). */
static int evict_run(struct dd_cache *c, uint64_t goal)
{
	int rc = evict_start(c, goal);

	return rc ? rc : evict_steps(c, UINT_MAX);
}

/* The room a batch needs: its records and two pages each (at most the
 * low mark). */
static uint64_t batch_bytes(struct dd_cache *c, const struct batch *b)
{
	uint64_t bytes = 0;

	for (struct item *it = b->items; it; it = it->next)
		bytes += it->len + 2 * c->psize;
	return bytes > c->lo_mark ? c->lo_mark : bytes;
}

/* Write one batch in one transaction.  When the used pages are above
 * @room (the cap less the batch), nothing is written and the return is
 * MDB_MAP_FULL: the caller evicts first, so that the map never has to
 * hold the batch on top of a full cache.  *@over: the used pages were
 * above @trigger (the high mark less the batch) or passed the high mark:
 * an eviction is due. */
static int batch_txn(struct dd_cache *c, struct batch *b, uint64_t room,
		     uint64_t trigger, bool *over)
{
	struct counters snap;
	MDB_txn *txn;
	uint64_t clock, used;
	int rc;

	*over = false;
	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		return rc;
	used = used_bytes(c, txn);
	if (used > room) {
		mdb_txn_abort(txn);
		return MDB_MAP_FULL;
	}
	*over = used > trigger;
	clock = meta_read_u64(c, txn, "dd.clock", 0);
	for (size_t i = 0; i < b->bad_n && !rc; i++)
		rc = drop_bad(c, txn, &b->bad[i]);
	for (struct item *it = b->items; it && !rc; it = it->next) {
		MDB_val k, v = {it->len, it->rec};

		map_touched(c);
		if (it->kind == ITEM_PUT) {
			k.mv_size = DD_CACHE_KEY_LEN;
			k.mv_data = it->key;
			rc = mdb_put(txn, c->dbi_man, &k, &v, 0);
			if (!rc)
				rc = write_stamp(c, txn, it->key, &clock);
			continue;
		}
		k.mv_size = strlen(it->name);
		k.mv_data = it->name;
		if (it->kind == ITEM_META_PUT) {
			rc = mdb_put(txn, c->dbi_meta, &k, &v, 0);
		} else {
			rc = mdb_del(txn, c->dbi_meta, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = MDB_SUCCESS;
		}
	}
	for (size_t i = b->hits_off; i < b->hits_end && !rc; i++) {
		map_touched(c);
		rc = stamp_hit(c, txn, b->hits[i], &clock);
	}
	if (!rc) {
		*over = *over || used_bytes(c, txn) > c->hi_mark;
		rc = meta_write_u64(c, txn, "dd.clock", clock);
	}
	if (!rc)
		rc = write_stats(c, txn, 0, &snap);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	if (!rc) {
		c->persisted = snap;
		CNT_ADD(c, commits, 1);
		if (c->ev)
			CNT_ADD(c, evict_batches, 1);
	} else {
		*over = false;
	}
	return rc;
}

/* Replace a damaged environment by a new generation (writer thread). */
static void writer_rebuild(struct dd_cache *c)
{
	char err[DD_CACHE_ERRLEN] = "";
	uint64_t old;
	dd_err derr;
	int lockfd;

	evict_end(c, DD_LOG_WARN, "abandoned with its environment");
	pthread_rwlock_wrlock(&c->swap_lock);
	old = c->gen;
	env_detach(c);
	lockfd = dd_cache_dir_lock(c->dir);
	if (lockfd < 0) {
		derr = DD_E_IO;
		snprintf(err, sizeof(err), "cache: cannot lock %s", c->dir);
	} else {
		derr = cache_attach(c, old, err, sizeof(err));
		if (!derr)
			dd_cache_gen_gc(c->dir, c->gen);
		dd_cache_dir_unlock(lockfd);
	}
	c->broken = derr != DD_OK;
	if (derr)
		dd_log(DD_LOG_ERR, "%s; the cache is disabled until restart",
		       err);
	else
		dd_log(DD_LOG_WARN, "cache: env.%" PRIu64
		       " was damaged; now using env.%" PRIu64, old, c->gen);
	pthread_rwlock_unlock(&c->swap_lock);
}

/* Adopt a map size grown by another process (writer thread). */
static void writer_remap(struct dd_cache *c)
{
	pthread_rwlock_wrlock(&c->swap_lock);
	pool_drain(c);
	c->map_env = NULL; /* the map moves */
	if (c->env && mdb_env_set_mapsize(c->env, 0) != MDB_SUCCESS)
		dd_log(DD_LOG_WARN, "cache: cannot adopt the new map size");
	pthread_rwlock_unlock(&c->swap_lock);
}

/* Run some transactions of the eviction in progress, between batches
 * (writer_main).  A damaged or resized environment is handled now
 * rather than at the next batch. */
static void writer_evict_some(struct dd_cache *c)
{
	int rc = evict_steps(c, EVICT_TXNS_PER_TURN);

	if (rc == MDB_SUCCESS)
		return;
	dd_log(DD_LOG_WARN, "cache: eviction: %s", mdb_strerror(rc));
	if (rc == MDB_MAP_RESIZED)
		writer_remap(c);
	else if (mdb_is_damage(rc))
		writer_rebuild(c);
}

/* Commit one part of @b, handling a full map, a remap and a damaged
 * environment. */
static dd_err writer_commit_part(struct dd_cache *c, struct batch *b)
{
	uint64_t bytes = batch_bytes(c, b);
	/* Past the high mark (less the batch) an eviction begins, and runs
	 * between the batches (writer_main); the batches go on meanwhile,
	 * up to the cap itself (the map is 1.25 x the cap).  A batch that
	 * would pass the cap waits for the eviction. */
	uint64_t room = c->cap - bytes, trigger = c->hi_mark - bytes;
	bool over;
	int rc = MDB_SUCCESS;

	for (int attempt = 0; attempt < 3; attempt++) {
		if (c->broken)
			return DD_E_IO;
		rc = batch_txn(c, b, room, trigger, &over);
		if (rc == MDB_SUCCESS) {
			if (over && (rc = evict_start(c, c->lo_mark)))
				dd_log(DD_LOG_WARN, "cache: eviction: %s",
				       mdb_strerror(rc));
			return DD_OK;
		}
		if (rc == MDB_MAP_FULL) {
			/* The batch does not fit (batch_txn's check, or
			 * LMDB's): make room now, then store it whatever the
			 * used pages are. */
			room = UINT64_MAX;
			rc = evict_run(c, c->lo_mark - bytes);
			if (rc == MDB_SUCCESS)
				continue;
		}
		if (rc == MDB_MAP_RESIZED) {
			writer_remap(c);
			continue;
		}
		if (mdb_is_damage(rc)) {
			dd_log(DD_LOG_ERR, "cache: commit: %s",
			       mdb_strerror(rc));
			writer_rebuild(c);
			/* Notes name records of the old environment. */
			b->hits_n = b->hits_end = 0;
			b->bad_n = 0;
			continue;
		}
		break;
	}
	dd_log(DD_LOG_WARN, "cache: a batch was not stored: %s",
	       mdb_strerror(rc));
	return mdb_to_dd(rc);
}

/* Commit @b: its items, bad notes and first HITS_PER_TXN hits in one
 * transaction, then the other hits HITS_PER_TXN at a time.  The result is
 * that of the first transaction (the items'); a stamp that is not stored
 * only makes the LRU order a little less exact. */
static dd_err writer_commit(struct dd_cache *c, struct batch *b)
{
	struct item *items = b->items;
	dd_err derr;

	b->hits_off = 0;
	b->hits_end = b->hits_n < HITS_PER_TXN ? b->hits_n : HITS_PER_TXN;
	derr = writer_commit_part(c, b);
	b->items = NULL;
	b->bad_n = 0;
	while (!derr && b->hits_end < b->hits_n) {
		b->hits_off = b->hits_end;
		b->hits_end = b->hits_n - b->hits_off > HITS_PER_TXN ?
			      b->hits_off + HITS_PER_TXN : b->hits_n;
		if (writer_commit_part(c, b))
			break;
	}
	b->items = items;
	return derr;
}

/* Is there work the writer must do now (rather than after the delay)? */
static bool writer_urgent(struct dd_cache *c)
{
	return c->stop || c->flush_req != c->flush_done || c->rebuild_req ||
	       c->resize_req || c->q_count >= DD_CACHE_BATCH_PUTS ||
	       c->q_bytes >= DD_CACHE_QUEUE_BYTES / 2;
}

/* Take the next batch off the queue (q_lock held). */
static void writer_take(struct dd_cache *c, struct batch *b)
{
	struct item **tail = &b->items;
	size_t n = 0, bytes = 0;

	b->items = NULL;
	size_t max_bytes = DD_CACHE_QUEUE_BYTES / 2;

	/* A batch is at most an eighth of the cap, so that it fits in the
	 * map's headroom above the high mark (see batch_txn). */
	if (max_bytes > c->cap / 8)
		max_bytes = c->cap / 8;
	while (c->q_head && n < BATCH_MAX_ITEMS &&
	       (n == 0 || bytes + c->q_head->len <= max_bytes)) {
		struct item *it = c->q_head;
		c->q_head = it->next;
		it->next = NULL;
		*tail = it;
		tail = &it->next;
		c->q_count--;
		c->q_bytes -= it->len;
		bytes += it->len;
		n++;
	}
	if (!c->q_head)
		c->q_tail = NULL;
	/* Swap the note arrays with the batch's (spare) ones. */
	void *h = c->hits;
	c->hits = b->hits;
	b->hits = h;
	b->hits_n = c->hits_n;
	c->hits_n = 0;
	void *bd = c->bad;
	c->bad = b->bad;
	b->bad = bd;
	b->bad_n = c->bad_n;
	c->bad_n = 0;
	if (c->q_count)
		c->q_first_ms = now_ms();
}

static void *writer_main(void *arg)
{
	struct dd_cache *c = arg;
	struct batch b;

	memset(&b, 0, sizeof(b));
	b.hits = calloc(NOTES_MAX, DD_CACHE_KEY_LEN);
	b.bad = calloc(BAD_MAX, sizeof(*b.bad));
	pthread_mutex_lock(&c->q_lock);
	for (;;) {
		bool pending = c->q_count || c->hits_n || c->bad_n;
		uint64_t flush_target;
		bool rebuild, resize, drained;
		dd_err derr;

		/* An eviction in progress is left at close (the next
		 * writer starts again when it finds the cache full). */
		if (c->stop && !pending && !c->rebuild_req) {
			c->flush_done = c->flush_req;
			break;
		}
		if (!writer_urgent(c) && !c->ev) {
			struct timespec ts;
			uint64_t due = c->q_first_ms + DD_CACHE_BATCH_MS;
			uint64_t now = now_ms();

			if (!pending) {
				pthread_cond_wait(&c->q_cond, &c->q_lock);
				continue;
			}
			if (now < due) {
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += (time_t)((due - now) / 1000);
				ts.tv_nsec += (long)((due - now) % 1000) *
					      1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&c->q_cond, &c->q_lock,
						       &ts);
				continue;
			}
		}
		if (!b.hits || !b.bad) { /* out of memory at start: drop notes */
			c->hits_n = 0;
			c->bad_n = 0;
		}
		flush_target = c->flush_req;
		rebuild = c->rebuild_req;
		resize = c->resize_req;
		c->rebuild_req = c->resize_req = false;
		if (b.hits && b.bad)
			writer_take(c, &b);
		drained = !c->q_head;
		pthread_mutex_unlock(&c->q_lock);

		if (rebuild)
			writer_rebuild(c);
		if (resize)
			writer_remap(c);
		derr = DD_OK;
		if (b.items || b.hits_n || b.bad_n)
			derr = writer_commit(c, &b);
		/* Eviction goes on between batches, a few transactions at a
		 * time, so that puts are not held up for all of it. */
		if (c->ev)
			writer_evict_some(c);

		pthread_mutex_lock(&c->q_lock);
		while (b.items) {
			struct item *it = b.items;
			b.items = it->next;
			if (derr && it->kind == ITEM_PUT)
				CNT_ADD(c, puts_failed, 1);
			if (it->done) {
				*it->result = derr;
				*it->done = true;
			}
			free(it);
		}
		/* a flush also waits for the eviction in progress */
		if (drained && !c->ev && flush_target > c->flush_done)
			c->flush_done = flush_target;
		pthread_cond_broadcast(&c->done_cond);
		pthread_cond_broadcast(&c->space_cond);
	}
	c->writer_running = false;
	pthread_cond_broadcast(&c->done_cond);
	pthread_mutex_unlock(&c->q_lock);
	evict_end(c, DD_LOG_INFO, "left at close");
	free(b.hits);
	free(b.bad);
	return NULL;
}

/* ---- open, close, stats ------------------------------------------------- */

static bool registry_add(struct dd_cache *c)
{
	bool ok = true;

	pthread_mutex_lock(&reg_lock);
	for (struct dd_cache *r = reg_head; r; r = r->reg_next)
		if (r->dir_dev == c->dir_dev && r->dir_ino == c->dir_ino)
			ok = false;
	if (ok) {
		c->reg_next = reg_head;
		reg_head = c;
	}
	pthread_mutex_unlock(&reg_lock);
	return ok;
}

static void registry_remove(struct dd_cache *c)
{
	pthread_mutex_lock(&reg_lock);
	for (struct dd_cache **p = &reg_head; *p; p = &(*p)->reg_next) {
		if (*p == c) {
			*p = c->reg_next;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
}

static void cache_free(struct dd_cache *c)
{
	env_detach(c);
	pthread_rwlock_destroy(&c->swap_lock);
	pthread_mutex_destroy(&c->pool_lock);
	pthread_mutex_destroy(&c->map_lock);
	pthread_mutex_destroy(&c->q_lock);
	pthread_cond_destroy(&c->q_cond);
	pthread_cond_destroy(&c->space_cond);
	pthread_cond_destroy(&c->done_cond);
	free(c->hits);
	free(c->bad);
	free(c->dir);
	free(c);
}

static struct dd_cache *cache_alloc(const char *dir, uint64_t cap,
				    unsigned flags)
{
	struct dd_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->holders_fd = -1;
	c->flags = flags;
	if (!cap)
		cap = DD_CACHE_DEFAULT_CAP;
	if (cap < DD_CACHE_MIN_CAP)
		cap = DD_CACHE_MIN_CAP;
	c->cap = cap;
	c->hi_mark = cap / 10 * 9;
	c->lo_mark = cap / 4 * 3;
	/* Writer-preferring: under a constant stream of gets the writer must
	 * still get in to rebuild or remap.  (No path takes it recursively.) */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->swap_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&c->pool_lock, NULL);
	pthread_mutex_init(&c->map_lock, NULL);
	pthread_mutex_init(&c->q_lock, NULL);
	pthread_cond_init(&c->q_cond, NULL);
	pthread_cond_init(&c->space_cond, NULL);
	pthread_cond_init(&c->done_cond, NULL);
	c->dir = strdup(dir);
	c->hits = calloc(NOTES_MAX, DD_CACHE_KEY_LEN);
	c->bad = calloc(BAD_MAX, sizeof(*c->bad));
	if (!c->dir || !c->hits || !c->bad) {
		cache_free(c);
		return NULL;
	}
	return c;
}

dd_err dd_cache_open_i(const char *dir, uint64_t size_cap, unsigned flags,
		       bool registry, struct dd_cache **cache, char *err,
		       size_t errlen)
{
	struct dd_cache *c;
	struct stat st;
	dd_err derr;
	int lockfd;

	if (err && errlen)
		err[0] = '\0';
	if (!cache)
		return DD_E_INVAL;
	*cache = NULL;
	derr = dd_cache_dir_check(dir, !(flags & DD_CACHE_RDONLY), err, errlen);
	if (derr)
		return derr;
	if (stat(dir, &st) < 0) {
		dd_cache_set_err(err, errlen, "cache: cannot stat %s", dir);
		return DD_E_IO;
	}
	c = cache_alloc(dir, size_cap, flags);
	if (!c)
		return DD_E_NOMEM;
	c->dir_dev = st.st_dev;
	c->dir_ino = st.st_ino;
	if (registry && !registry_add(c)) {
		dd_cache_set_err(err, errlen,
			"cache: %s is already open in this process", dir);
		cache_free(c);
		return DD_E_EXISTS;
	}
	lockfd = dd_cache_dir_lock(dir);
	if (lockfd < 0) {
		dd_cache_set_err(err, errlen, "cache: cannot lock %s/lock: %s", dir,
			strerror(errno));
		derr = DD_E_IO;
		goto out_free;
	}
	derr = cache_attach(c, 0, err, errlen);
	if (!derr && !(flags & DD_CACHE_RDONLY))
		dd_cache_gen_gc(dir, c->gen);
	dd_cache_dir_unlock(lockfd);
	if (derr)
		goto out_free;
	if (!(flags & DD_CACHE_RDONLY)) {
		c->writer_running = true;
		if (pthread_create(&c->writer, NULL, writer_main, c) != 0) {
			c->writer_running = false;
			dd_cache_set_err(err, errlen, "cache: cannot start the writer");
			derr = DD_E_IO;
			goto out_free;
		}
	}
	*cache = c;
	return DD_OK;
out_free:
	if (registry)
		registry_remove(c);
	cache_free(c);
	return derr;
}

dd_err dd_cache_open(const char *dir, uint64_t size_cap, unsigned flags,
		     struct dd_cache **cache, char *errbuf, size_t errlen)
{
	return dd_cache_open_i(dir, size_cap, flags, true, cache, errbuf,
			       errlen);
}

void dd_cache_close(struct dd_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->q_lock);
	c->stop = true;
	pthread_cond_signal(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
	if (!(c->flags & DD_CACHE_RDONLY))
		pthread_join(c->writer, NULL);
	registry_remove(c);
	cache_free(c);
}

dd_err dd_cache_stats(struct dd_cache *c, struct dd_cache_stats *s)
{
	struct dd_cache_record rec;
	MDB_envinfo info;
	struct stat fst;
	MDB_stat st;
	MDB_txn *txn;
	dd_err derr = DD_OK;
	int rc;

	if (!c || !s)
		return DD_E_INVAL;
	memset(s, 0, sizeof(*s));
	s->size_cap = c->cap;
	s->hits = CNT_GET(c, hits);
	s->misses = CNT_GET(c, misses);
	s->corrupt = CNT_GET(c, corrupt);
	s->evictions = CNT_GET(c, evictions);
	s->puts = CNT_GET(c, puts);
	s->puts_failed = CNT_GET(c, puts_failed);
	s->commits = CNT_GET(c, commits);
	s->rebuilds = CNT_GET(c, rebuilds);
	s->stale_readers = CNT_GET(c, stale_readers);
	s->evict_txn_max = CNT_GET(c, evict_txn_max);
	pthread_rwlock_rdlock(&c->swap_lock);
	if (c->broken || !c->env) {
		derr = DD_E_IO;
		goto out_unlock_swap;
	}
	s->generation = c->gen;
	s->page_size = c->psize;
	if (stat(c->data_path, &fst) == 0)
		s->file_bytes = (uint64_t)fst.st_size;
	if (mdb_env_info(c->env, &info) == MDB_SUCCESS) {
		s->map_bytes = info.me_mapsize;
		s->readers = info.me_numreaders;
		s->max_readers = info.me_maxreaders;
	}
	rc = reader_begin(c, &txn);
	if (rc) {
		reader_trouble(c, rc);
		derr = DD_E_IO;
		goto out_unlock_swap;
	}
	if (mdb_stat(txn, c->dbi_man, &st) == MDB_SUCCESS)
		s->entries = st.ms_entries;
	s->used_bytes = used_bytes(c, txn);
	if (meta_read(c, txn, "dd.stats", &rec, &derr) == MDB_SUCCESS &&
	    !derr && rec.paylen == 32) {
		s->total_hits = get_le64(rec.payload);
		s->total_misses = get_le64(rec.payload + 8);
		s->total_corrupt = get_le64(rec.payload + 16);
		s->total_evictions = get_le64(rec.payload + 24);
	}
	derr = DD_OK;
	reader_end(c, txn);
out_unlock_swap:
	pthread_rwlock_unlock(&c->swap_lock);
	return derr;
}

/* ---- walking (verify, dump) and test hooks ----------------------------- */

dd_err dd_cache_walk(struct dd_cache *c, dd_cache_walk_fn fn, void *arg)
{
	const struct {
		enum dd_cache_db db;
		MDB_dbi dbi;
	} order[] = {
		{DD_CACHE_DB_META, c->dbi_meta},
		{DD_CACHE_DB_LRU, c->dbi_lru},
		{DD_CACHE_DB_MANIFESTS, c->dbi_man},
	};
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	dd_err derr = DD_OK;
	int rc;

	pthread_rwlock_rdlock(&c->swap_lock);
	if (c->broken || !c->env) {
		derr = DD_E_IO;
		goto out_unlock_swap;
	}
	rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		derr = mdb_to_dd(rc);
		goto out_unlock_swap;
	}
	for (size_t i = 0; i < 3 && !derr; i++) {
		rc = mdb_cursor_open(txn, order[i].dbi, &cur);
		if (rc) {
			derr = mdb_to_dd(rc);
			break;
		}
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) ==
		       MDB_SUCCESS) {
			if (fn(arg, order[i].db, k.mv_data, k.mv_size,
			       v.mv_data, v.mv_size)) {
				derr = DD_E_INTERNAL;
				break;
			}
		}
		if (rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
			derr = mdb_to_dd(rc);
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
out_unlock_swap:
	pthread_rwlock_unlock(&c->swap_lock);
	return derr;
}

uint64_t dd_cache_generation(struct dd_cache *c)
{
	return c->gen;
}

uint64_t dd_cache_needed_bytes(struct dd_cache *c)
{
	MDB_envinfo info;
	uint64_t need = 0;

	pthread_rwlock_rdlock(&c->swap_lock);
	if (c->env && mdb_env_info(c->env, &info) == MDB_SUCCESS)
		need = ((uint64_t)info.me_last_pgno + 1) * c->psize;
	pthread_rwlock_unlock(&c->swap_lock);
	return need;
}

dd_err dd_cache_test_hold_reader(struct dd_cache *c)
{
	int rc;

	pthread_mutex_lock(&c->pool_lock);
	rc = c->held_reader ? MDB_SUCCESS :
	     mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->held_reader);
	pthread_mutex_unlock(&c->pool_lock);
	return mdb_to_dd(rc);
}

void dd_cache_test_request_rebuild(struct dd_cache *c)
{
	pthread_mutex_lock(&c->q_lock);
	c->rebuild_req = true;
	pthread_cond_signal(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
}

uint64_t dd_cache_test_evict_batches(struct dd_cache *c)
{
	return CNT_GET(c, evict_batches);
}

const char *dd_cache_test_data_path(struct dd_cache *c)
{
	return c->data_path;
}
