/* dd_cache_i.h: internals of the cache module, shared by its .c files,
 * its tests and its fuzz target.  Not part of the contract. */
#ifndef DD_CACHE_I_H
#define DD_CACHE_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_cache.h"
#include "dd_err.h"

/* ---- records (dd_cache_record.c): pure functions, no I/O ------------- */

/* Record layout, all integers little endian:
 *   0  magic    "DDcr"
 *   4  version  u16  DD_CACHE_RECORD_VERSION
 *   6  hdrlen   u16  DD_CACHE_RECORD_HDR (bytes before the payload)
 *   8  paylen   u32  payload bytes; hdrlen + paylen == record length
 *  12  crc      u32  CRC32C over key(32) || header with crc = 0 || payload
 *  16  echo     8    the first 8 bytes of the key
 *  24  payload
 */
#define DD_CACHE_RECORD_VERSION 1
#define DD_CACHE_RECORD_HDR 24
#define DD_CACHE_RECORD_MAGIC "DDcr"

/* The decoded header of a record.  payload points into the decoded
 * buffer (borrowed: valid as long as that buffer). */
struct dd_cache_record {
	uint16_t version;
	uint16_t hdrlen;
	uint32_t paylen;
	uint32_t crc;
	uint8_t echo[8];
	const uint8_t *payload;
};

/* CRC32C (Castagnoli), continuing from @crc (0 to start). */
uint32_t dd_cache_crc32c(uint32_t crc, const void *p, size_t n);
/* The same, always in software (for the tests). */
uint32_t dd_cache_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* Write the record of @payload (@paylen bytes) under @key to @out, which
 * holds DD_CACHE_RECORD_HDR + @paylen bytes. */
void dd_cache_record_encode(const uint8_t key[DD_CACHE_KEY_LEN],
			    const void *payload, uint32_t paylen,
			    uint8_t *out);

/* Decode and verify @raw (@rawlen bytes, hostile) stored under @key.
 * DD_OK: @rec is filled, rec->payload points into @raw.
 * DD_E_PARSE: too short, bad magic, bad lengths (*@err_off: the offset
 * of the offending field).  DD_E_UNSUPPORTED: another version or header
 * length.  DD_E_CORRUPT: key echo or checksum mismatch.  @err_off may be
 * NULL. */
dd_err dd_cache_record_decode(const uint8_t key[DD_CACHE_KEY_LEN],
			      const uint8_t *raw, size_t rawlen,
			      struct dd_cache_record *rec, size_t *err_off);

/* The 32-byte key under which meta @name is checksummed (SHA-256 of
 * "dd-cache-meta:" || name). */
void dd_cache_meta_key(const char *name, uint8_t key[DD_CACHE_KEY_LEN]);

/* Is @name a valid meta name?  (Reserved "dd." names are valid here.) */
bool dd_cache_meta_name_ok(const char *name);

/* ---- the directory (dd_cache_dir.c) ---------------------------------- */

/* printf into the caller's error buffer (@err may be NULL). */
void dd_cache_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Is a filesystem with statfs f_type @fs_type safe for LMDB?  *@name gets
 * the name of a refused type. */
bool dd_cache_fs_is_local(long fs_type, const char **name);

/* Check (and with @create, make) @dir: a directory, not a symlink, owned
 * by us, mode & 077 == 0, on a local filesystem.  DD_E_NOTFOUND if absent
 * and !@create. */
dd_err dd_cache_dir_check(const char *dir, bool create, char *err,
			  size_t errlen);

/* Take DIR/lock (flock LOCK_EX, blocking).  Returns the fd, or -1. */
int dd_cache_dir_lock(const char *dir);
void dd_cache_dir_unlock(int fd);

/* The following are called with the dir lock held. */

/* Read DIR/current.  DD_E_NOTFOUND if absent, DD_E_CORRUPT if garbled. */
dd_err dd_cache_gen_current(const char *dir, uint64_t *gen);
/* Create DIR/env.N (N = highest existing + 1) with its holders file. */
dd_err dd_cache_gen_create(const char *dir, uint64_t *gen);
/* Point DIR/current at @gen (write a temporary, fsync, rename, fsync). */
dd_err dd_cache_gen_set_current(const char *dir, uint64_t gen);
/* Remove DIR/current. */
dd_err dd_cache_gen_unset_current(const char *dir);
/* Open DIR/env.N/holders and take LOCK_SH.  *@fd = the descriptor. */
dd_err dd_cache_gen_hold(const char *dir, uint64_t gen, int *fd);
/* Delete every generation but @keep (0: none kept) that nobody holds.
 * Returns how many were deleted. */
unsigned dd_cache_gen_gc(const char *dir, uint64_t keep);
/* Format DIR/env.N into @buf. */
bool dd_cache_gen_path(char *buf, size_t len, const char *dir, uint64_t gen,
		       const char *leaf);

/* ---- the handle (dd_cache.c), for verify and dump -------------------- */

/* dd_cache_open, optionally outside the one-handle-per-directory registry
 * (for a child process, whose copy of the registry lists its parent's
 * handles). */
dd_err dd_cache_open_i(const char *dir, uint64_t size_cap, unsigned flags,
		       bool registry, struct dd_cache **cache, char *err,
		       size_t errlen);

enum dd_cache_db { DD_CACHE_DB_META, DD_CACHE_DB_LRU, DD_CACHE_DB_MANIFESTS };

/* Called for each key/value; the pointers are borrowed from the read
 * transaction (valid during the call only).  Nonzero stops the walk. */
typedef int (*dd_cache_walk_fn)(void *arg, enum dd_cache_db db,
				const uint8_t *key, size_t klen,
				const uint8_t *val, size_t vlen);

/* Walk "meta", then "lru", then "manifests", each in key order, in one
 * read transaction.  DD_E_INTERNAL if @fn stopped the walk; DD_E_CORRUPT
 * if LMDB found the tree damaged. */
dd_err dd_cache_walk(struct dd_cache *cache, dd_cache_walk_fn fn, void *arg);

/* The generation N in use. */
uint64_t dd_cache_generation(struct dd_cache *cache);
/* (last page + 1) x page size: the least size of data.mdb. */
uint64_t dd_cache_needed_bytes(struct dd_cache *cache);

/* The most records (each with its stamp) one eviction transaction
 * deletes: like the writer's other transactions, bounded because LMDB
 * keeps every page a write transaction dirtied malloc'd until the
 * environment is closed (dd_cache.c, "eviction"). */
#define DD_CACHE_EVICT_PER_TXN 128

/* ---- test hooks (dd_cache.c) ----------------------------------------- */

/* Queue @raw as the stored value of @key without encoding it (a bad
 * record on purpose).  Flush to commit. */
dd_err dd_cache_test_put_raw(struct dd_cache *cache, const uint8_t *key,
			     const void *raw, size_t len);
/* Begin a read transaction and leave it open until close (a reader slot
 * held, as by a process that is then killed). */
dd_err dd_cache_test_hold_reader(struct dd_cache *cache);
/* Make the writer abandon the environment as if LMDB had reported it
 * damaged (MDB_CORRUPTED): the live rebuild path. */
void dd_cache_test_request_rebuild(struct dd_cache *cache);
/* Batches this handle's writer committed while an eviction of its was
 * in progress (they go on between its transactions). */
uint64_t dd_cache_test_evict_batches(struct dd_cache *cache);
/* The path of the data file in use. */
const char *dd_cache_test_data_path(struct dd_cache *cache);

#endif /* DD_CACHE_I_H */
