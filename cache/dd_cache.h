/* dd_cache.h: the persistent cache of deidfs (LMDB).
 *
 * The cache maps a 32-byte key (dd_view_cache_key(): source identity +
 * policy hash) to an opaque byte string (a manifest in its byte form, see
 * dd_manifest_encode()).  It also keeps a few small named blobs for other
 * modules ("meta"), such as the patient index.  The cache never interprets
 * the bytes it stores.
 *
 * On disk, one cache directory holds one LMDB environment at a time:
 *
 *     DIR/                  mode 0700, owned by the caller's uid, local disk
 *     DIR/lock              flock(2): held while generations change
 *     DIR/current           the number N of the live generation ("3\n")
 *     DIR/env.N/data.mdb    LMDB data file
 *     DIR/env.N/lock.mdb    LMDB lock file
 *     DIR/env.N/holders     flock(2) LOCK_SH by every process using env.N
 *
 * A damaged environment is never repaired in place: it is abandoned and a
 * new generation env.N+1 is created ("rebuild"), and `current` is replaced
 * with rename(2).  A generation is deleted only when nobody holds its
 * `holders` lock, so no file that another live process has mapped is ever
 * removed.  The cache directory and its contents are PHI (the patient
 * index lives here): keep it out of backups.
 *
 * Inside an environment there are three sub-databases:
 *
 *     "manifests"  key (32 bytes) -> record
 *     "lru"        key (32 bytes) -> access stamp (u64, little endian)
 *     "meta"       name (string)  -> record    (names "dd.*" are ours)
 *
 * Every value is a record: a 24-byte header (magic, format version, header
 * length, payload length, CRC32C, the first 8 bytes of the key) and the
 * payload.  LMDB has no page checksums, so a record that does not verify
 * is treated as a miss, counted, and deleted by the writer.
 *
 * Reads and writes:
 *  - Reads use read-only transactions from a small per-handle pool
 *    (MDB_NOTLS): a transaction is renewed for one lookup, the value is
 *    copied out, and the transaction is reset again.  No snapshot is held
 *    between calls.
 *  - Writes are asynchronous.  dd_cache_put() copies the bytes into a
 *    bounded queue; ONE writer thread per handle commits the queue in
 *    batches (every DD_CACHE_BATCH_PUTS puts or DD_CACHE_BATCH_MS ms,
 *    whichever comes first).  A put becomes visible to dd_cache_get() when
 *    its batch commits; dd_cache_flush() waits for that.
 *  - Size cap with approximate LRU: a hit is noted in memory, and the
 *    writer stamps the noted keys in its next batch.  When the used pages
 *    pass 90% of the cap, the writer evicts the oldest-stamped records
 *    until they are below 75%, in transactions of at most 128 deletions
 *    run between its batches, with memory that does not grow with the
 *    number of records; meanwhile batches are stored up to the cap
 *    itself, and one that would pass it waits for the eviction.  The
 *    LMDB map is 1.25 x the cap.
 *
 * Several processes (daemons and `deid` runs) may share one cache
 * directory; LMDB serialises their writers.
 *
 * Thread rules (the whole module):
 *  - dd_cache_get, dd_cache_put, dd_cache_flush, dd_cache_stats and the
 *    dd_cache_meta_* functions may be called from any number of threads at
 *    once on one handle.
 *  - dd_cache_open and dd_cache_close must not race with any other call on
 *    the same handle.
 *  - A handle is not fork-safe: a child process must not use its parent's
 *    handle; it opens its own (after fork, before any use).
 *  - One process may have at most one handle per cache directory (LMDB
 *    forbids opening one environment twice in a process: closing one would
 *    drop the other's locks).  A second dd_cache_open of the same
 *    directory fails with DD_E_EXISTS.
 *
 * Errors: functions return a dd_err; DD_OK (0) is success.  Functions that
 * take errbuf also write a one-line reason there (NUL-terminated,
 * truncated to errlen).  The reason never contains record contents.
 *
 * What this module does NOT do:
 *  - It does not encode, decode or validate manifests; it checks only its
 *    own record header and checksum.
 *  - It does not serve a put from the queue: until the writer commits, a
 *    get of that key is a miss.
 *  - It does not work on network or FUSE filesystems (NFS, SMB/CIFS, 9p,
 *    FUSE, ...): open refuses them, because LMDB's locks and mmap need a
 *    local disk.
 *  - It does not repair a damaged environment; it rebuilds an empty one.
 *  - It does not follow `current` while open: a handle keeps using the
 *    generation it opened (or rebuilt) until it is closed, even after
 *    dd_cache_clear() or another process's rebuild.
 *  - It does not load records from outside (there is no "load"): only the
 *    writer of a handle creates records.
 *  - It does not protect against a process that truncates or rewrites
 *    data.mdb while the environment is mapped (that can raise SIGBUS);
 *    the file size is checked at open only.
 *  - It never touches key files or anything else it did not create:
 *    dd_cache_clear() removes only the names listed above.
 */
#ifndef DD_CACHE_H
#define DD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An open cache.  Opaque. */
struct dd_cache;

/* The length of a cache key (dd_view_cache_key()). */
#define DD_CACHE_KEY_LEN 32

/* The default size cap (deidfs.cacheSize): 4 GiB. */
#define DD_CACHE_DEFAULT_CAP (4ULL << 30)
/* The smallest cap accepted (smaller caps are raised to it). */
#define DD_CACHE_MIN_CAP (1ULL << 20)
/* The largest payload of one record (manifest or meta blob).  A put of a
 * larger value, or of a value larger than a quarter of the cap, fails
 * with DD_E_LIMIT. */
#define DD_CACHE_VALUE_MAX (256U << 20)
/* The writer commits after this many queued puts ... */
#define DD_CACHE_BATCH_PUTS 256
/* ... or this many milliseconds after the first put of a batch. */
#define DD_CACHE_BATCH_MS 50
/* dd_cache_put() blocks while the queue holds this many puts ... */
#define DD_CACHE_QUEUE_MAX 4096
/* ... or this many bytes (a single larger put is still accepted when the
 * queue is empty). */
#define DD_CACHE_QUEUE_BYTES (64U << 20)
/* The longest meta name (see dd_cache_meta_put()). */
#define DD_CACHE_META_NAME_MAX 64
/* A size for errbuf that holds every message of this module. */
#define DD_CACHE_ERRLEN 512

/* Flags of dd_cache_open(). */
enum dd_cache_flags {
	/* Open an existing cache for reading only: no writer thread, no
	 * directory or generation is created, a damaged environment is
	 * reported (DD_E_CORRUPT) instead of rebuilt.  dd_cache_put() and
	 * dd_cache_meta_put() fail with DD_E_INVAL. */
	DD_CACHE_RDONLY = 1 << 0,
	/* Do not fsync at commit (MDB_NOSYNC).  A process crash loses
	 * nothing; a system crash may lose the last commits or damage the
	 * environment (detected at the next open: rebuild).  For tests and
	 * benchmarks. */
	DD_CACHE_NOSYNC = 1 << 1,
};

/* Counters of one handle, filled by dd_cache_stats().  The "this handle"
 * counters start at zero at dd_cache_open(); the "all processes" totals
 * are kept in the environment by the writers of every process (they lag
 * by up to one batch and restart at zero after a rebuild or clear). */
struct dd_cache_stats {
	/* the environment now */
	uint64_t entries;         /* records in "manifests" */
	uint64_t used_bytes;      /* pages used by all sub-databases x page size
				   * (the number the cap applies to) */
	uint64_t file_bytes;      /* the size of data.mdb (free pages included) */
	uint64_t map_bytes;       /* the LMDB map size */
	uint64_t size_cap;        /* the cap of this handle (for a DD_CACHE_RDONLY
				   * handle: the cap last stored by a writer) */
	uint64_t page_size;       /* LMDB page size */
	uint64_t generation;      /* N of DIR/env.N in use by this handle */
	uint64_t readers;         /* reader slots in use (all processes) */
	uint64_t max_readers;     /* reader slots available */
	/* this handle, since dd_cache_open() */
	uint64_t hits;            /* gets that returned a record */
	uint64_t misses;          /* gets that found nothing */
	uint64_t corrupt;         /* records that failed verification (dropped) */
	uint64_t evictions;       /* records evicted by this handle's writer */
	uint64_t puts;            /* puts accepted into the queue */
	uint64_t puts_failed;     /* queued puts the writer could not store */
	uint64_t commits;         /* write transactions committed */
	uint64_t rebuilds;        /* environments abandoned and recreated */
	uint64_t stale_readers;   /* reader slots of dead processes cleared by
				   * mdb_reader_check() at open */
	uint64_t evict_txn_max;   /* the most records one eviction transaction
				   * of this handle deleted (at most 128) */
	/* all processes, kept in "meta" */
	uint64_t total_hits;
	uint64_t total_misses;
	uint64_t total_corrupt;
	uint64_t total_evictions;
};

/* Report of dd_cache_verify(). */
struct dd_cache_verify_report {
	uint64_t generation;      /* the generation checked */
	uint64_t records;         /* manifest records walked */
	uint64_t records_ok;      /* ... that verified */
	uint64_t records_bad;     /* ... that did not (header or checksum) */
	uint64_t meta_ok;         /* meta records that verified */
	uint64_t meta_bad;        /* meta records that did not */
	uint64_t lru_bad;         /* "lru" values that are not 8 bytes */
	uint64_t lru_orphans;     /* "lru" stamps without a record (harmless) */
	uint64_t file_bytes;      /* size of data.mdb */
	uint64_t needed_bytes;    /* (last page + 1) x page size */
	int env_error;            /* a dd_err from LMDB while walking (DD_OK
				   * if none); DD_E_CORRUPT for a damaged tree */
	int child_signal;         /* the signal that killed the child, or 0 */
	bool corrupt;             /* anything above says "damaged" */
	char message[DD_CACHE_ERRLEN]; /* one line: what was found */
};

/* Open (creating if needed) the cache in directory @dir.
 *
 * @dir is created with mode 0700 (its missing parents too, also 0700).
 * An existing @dir must be a directory (not a symlink) owned by the
 * effective uid with no group or other permission bits, and on a local
 * filesystem; otherwise DD_E_INVAL, with the reason in @errbuf.
 *
 * @size_cap is the cap in bytes (0: DD_CACHE_DEFAULT_CAP; values below
 * DD_CACHE_MIN_CAP are raised to it).  Processes sharing a directory
 * should use one cap; each writer evicts by its own.
 *
 * At open: stale reader slots of dead processes are cleared
 * (mdb_reader_check), the data file is checked against the environment's
 * last page, and the format version is checked.  A damaged, truncated or
 * foreign-format environment is abandoned and a new generation created
 * (stats.rebuilds counts it), unless DD_CACHE_RDONLY, which fails with
 * DD_E_CORRUPT.  Generations nobody holds any more are deleted.
 *
 * On success *@cache is a new handle, owned by the caller, released with
 * dd_cache_close().  On failure *@cache is NULL.
 *
 * Errors: DD_E_INVAL (bad argument, unsafe directory, network
 * filesystem), DD_E_NOTFOUND (DD_CACHE_RDONLY and no cache there),
 * DD_E_EXISTS (this process already has @dir open), DD_E_CORRUPT
 * (DD_CACHE_RDONLY and the environment is damaged), DD_E_IO (a system or
 * LMDB call failed), DD_E_NOMEM.
 * @errbuf (may be NULL) receives the reason, at most @errlen bytes. */
dd_err dd_cache_open(const char *dir, uint64_t size_cap, unsigned flags,
		     struct dd_cache **cache, char *errbuf, size_t errlen);

/* Commit everything queued (as dd_cache_flush()), stop the writer thread,
 * close the environment and free @cache.  NULL is a no-op.  No other call
 * on @cache may run at the same time or after. */
void dd_cache_close(struct dd_cache *cache);

/* Look up @key (DD_CACHE_KEY_LEN bytes).
 *
 * On a hit: DD_OK, *@bytes is a malloc'd copy of the stored bytes (the
 * caller owns it and frees it with free(); a zero-length value still gets
 * a non-NULL allocation) and *@len its length.  The hit is noted for the
 * LRU.  Nothing returned points into the database.
 * Otherwise *@bytes is NULL, *@len is 0 and the return says why; every
 * non-DD_OK return is a miss for the caller:
 *   DD_E_NOTFOUND  no such record (committed).
 *   DD_E_CORRUPT   a record was there but did not verify: it was counted
 *                  and will be deleted by the writer.
 *   DD_E_IO        an LMDB call failed (logged); if the environment is
 *                  damaged the writer rebuilds it.
 *   DD_E_NOMEM     the copy could not be allocated.
 * Any thread.  Never blocks on the writer (LMDB readers do not wait). */
dd_err dd_cache_get(struct dd_cache *cache, const uint8_t *key,
		    uint8_t **bytes, size_t *len);

/* Queue @len bytes at @bytes under @key (both copied; the caller keeps
 * its buffers).  Replaces an existing record with the same key.
 * Returns once the copy is queued: the writer commits it later (see
 * dd_cache_flush()).  Blocks while the queue is full (DD_CACHE_QUEUE_MAX
 * puts or DD_CACHE_QUEUE_BYTES bytes).  A failure of the later commit is
 * not reported to this caller; it is counted (stats.puts_failed) and
 * logged.
 * Errors: DD_E_INVAL (DD_CACHE_RDONLY handle, NULL key), DD_E_LIMIT
 * (@len > DD_CACHE_VALUE_MAX or > cap / 4), DD_E_NOMEM.
 * Any thread. */
dd_err dd_cache_put(struct dd_cache *cache, const uint8_t *key,
		    const void *bytes, size_t len);

/* Wait until everything queued before this call (puts, LRU stamps,
 * deletions of records found corrupt) is committed, or failed, and the
 * eviction in progress (if any) is done.  Returns
 * DD_OK, or DD_E_IO if the environment became unusable.  A no-op on a
 * DD_CACHE_RDONLY handle.  Any thread; for tests, for clean shutdown, and
 * before reporting. */
dd_err dd_cache_flush(struct dd_cache *cache);

/* Drop this process's page-table mappings of the environment's data file
 * (madvise MADV_DONTNEED over the LMDB map).  The map is a read-only
 * shared file mapping, so the pages stay in the page cache and the next
 * access refaults them: nothing is lost and concurrent readers (and the
 * writer, which writes with pwrite) are unaffected.  Only the file-backed
 * resident set shrinks: without this a long-running process keeps every
 * page it ever touched mapped (a million-record cache maps hundreds of
 * MB).  Returns the bytes of the mappings advised (0: no environment, or
 * the mapping was not found in /proc/self/maps).  Any thread. */
uint64_t dd_cache_trim(struct dd_cache *cache);

/* Trim (as dd_cache_trim()) after every @every records this handle reads
 * or writes (gets, and the writer's puts and LRU stamps).  A page fault
 * maps far more than the page it reads (the kernel's fault-around: 64 KiB
 * windows; a lookup and its LRU stamp fault about 3 times), so a pass over
 * a large cache maps all of it within seconds; trimming every 64 records
 * kept that part of the RSS near 15 MB (every 16: 4 MB), for about 14 us
 * of daemon CPU a lookup in refaults (100k warm lookups: 0.9 s without,
 * 2.3 s with; measured at 64, the daemon now uses 32: FS_TRIM_EVERY).
 * The thread that counts the @every-th record trims, never skipping it.
 * 0 (the default): never.  Any thread. */
void dd_cache_set_trim(struct dd_cache *cache, unsigned every);

/* Fill @stats (caller-allocated) for @cache.  Reads the environment in a
 * short read transaction.  Any thread.  Errors: DD_E_IO. */
dd_err dd_cache_stats(struct dd_cache *cache, struct dd_cache_stats *stats);

/* Named blobs for other modules (e.g. "index.patient").
 *
 * @name: 1..DD_CACHE_META_NAME_MAX characters of [a-z0-9._-]; names
 * starting with "dd." belong to this module (format version, clock,
 * counters) and may be read but not written.  Meta blobs are never
 * evicted; they are lost with the environment on rebuild or clear, so
 * their owner must be able to recreate them.
 *
 * dd_cache_meta_get: like dd_cache_get (a malloc'd copy the caller frees
 * with free(); DD_E_NOTFOUND, DD_E_CORRUPT, DD_E_IO, DD_E_NOMEM); a
 * record that does not verify is deleted by the writer.
 *
 * dd_cache_meta_put: stores a copy of @bytes under @name and, unlike
 * dd_cache_put, waits until it is committed (it goes through the writer).
 * Errors: DD_E_INVAL (bad or reserved name, DD_CACHE_RDONLY), DD_E_LIMIT
 * (too large), DD_E_IO (the commit failed), DD_E_NOMEM.
 *
 * dd_cache_meta_del: deletes @name (synchronously); DD_OK if it was
 * absent.  Same errors as dd_cache_meta_put.
 *
 * Any thread. */
dd_err dd_cache_meta_get(struct dd_cache *cache, const char *name,
			 uint8_t **bytes, size_t *len);
dd_err dd_cache_meta_put(struct dd_cache *cache, const char *name,
			 const void *bytes, size_t len);
dd_err dd_cache_meta_del(struct dd_cache *cache, const char *name);

/* Check the current generation of the cache in @dir, in a child process.
 *
 * The child (fork(2)) opens the environment read-only, compares the data
 * file's size with its last page, walks every record of "manifests" and
 * "meta" checking header and checksum, checks "lru", and sends the counts
 * back through a pipe.  A child killed by a signal (SIGBUS or SIGSEGV on a
 * damaged map) means corruption, not a crash of the caller.  Nothing is
 * modified; concurrent users are not disturbed.
 *
 * @report (caller-allocated) is filled in every case where DD_OK is
 * returned; report->corrupt says whether damage was found.
 * A child that exits non-zero without a report (a sanitizer's fault
 * handler does that) is also the verdict "damaged".
 * Errors (no verdict): DD_E_NOTFOUND (no cache in @dir), DD_E_INVAL
 * (unsafe directory), DD_E_IO (fork/pipe failed, or the child could not
 * open the environment for a reason other than damage).
 * Any thread; the calling process may hold @dir open itself (the child
 * opens its own environment and never touches the caller's handle).
 * stdio buffers are flushed before the fork. */
dd_err dd_cache_verify(const char *dir, struct dd_cache_verify_report *report);

/* Remove the cache contents of @dir: `current` is removed, and every
 * generation nobody holds is deleted (its data.mdb, lock.mdb and holders,
 * then the env.N directory if it is empty).  A generation still held by a
 * live process stays until that process closes it (the next open or clear
 * deletes it).  The next dd_cache_open starts a new, empty generation.
 *
 * Only names this module creates are removed (see the layout above);
 * unknown files in @dir are left alone and so is @dir itself.  Nothing
 * outside @dir is touched: key files live elsewhere.
 * @removed (may be NULL) receives the number of generations deleted.
 * Errors: DD_E_NOTFOUND (@dir does not exist), DD_E_INVAL (unsafe
 * directory), DD_E_IO. */
dd_err dd_cache_clear(const char *dir, unsigned *removed);

/* Print the current generation of @dir in text to @out, like mdb_dump but
 * decoded: generation, page size, sub-database counts, every meta name
 * with its length and state, and one line per manifest record: key in
 * hex, format version, header length, payload length, stored CRC,
 * "ok"/"BAD", LRU stamp.  No payload bytes are printed (they may hold
 * PHI).  Read-only (DD_CACHE_RDONLY); runs in the calling process, so a
 * garbage tree can crash it (use dd_cache_verify first when in doubt).
 * Errors: as dd_cache_open with DD_CACHE_RDONLY (including DD_E_EXISTS
 * when this process has @dir open), and DD_E_IO if writing to @out
 * fails.  The reason for an open failure is printed to stderr. */
dd_err dd_cache_dump(const char *dir, FILE *out);

/* The default cache directory: $DEIDFS_CACHE_DIR if set and non-empty,
 * else $XDG_CACHE_HOME/deidfs, else $HOME/.cache/deidfs.  Returns a
 * malloc'd string the caller frees with free(), or NULL if none of the
 * variables is set (or memory ran out).  Does not create anything. */
char *dd_cache_default_dir(void);

#ifdef __cplusplus
}
#endif
#endif /* DD_CACHE_H */
