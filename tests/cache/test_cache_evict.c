/* test_cache_evict.c: the size cap and approximate LRU. */
#include <sys/wait.h>

#include "cache_test_util.h"
#include "dd_cache_i.h"
#include "dd_log.h"

#define CAP (2u << 20)
#define LEN 3000 /* one overflow page per record */

/* Is record @i there? (without noting a hit: uses stats-neutral check
 * through a read-only view would need a second handle, so presence is
 * probed only after the LRU order has been decided) */
static int present(struct dd_cache *c, unsigned i)
{
	return ct_check(c, i, LEN);
}

static void test_lru(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c = ct_open(dir, CAP, DD_CACHE_NOSYNC);
	unsigned next = 0, first_missing = 0, n_old = 200;
	int missing_seen = 0, order_ok = 1;

	/* 0..199 in order, then touch 0..19: they become the newest. */
	for (; next < n_old; next++) {
		EXPECT_EQ_INT(ct_put(c, next, LEN), DD_OK);
		if (next % 10 == 9)
			EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	}
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.evictions, 0);
	for (unsigned i = 0; i < 20; i++)
		EXPECT(present(c, i));
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK); /* stamps written */

	/* Add records until the writer has had to evict. */
	while (next < 2000) {
		EXPECT_EQ_INT(ct_put(c, next++, LEN), DD_OK);
		if (next % 10 == 0) {
			EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
			EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
			EXPECT(st.used_bytes <= CAP);
			if (st.evictions)
				break;
		}
	}
	EXPECT(st.evictions > 0);
	/* One eviction goes from above 90% to at most 75% of the cap. */
	EXPECT(st.used_bytes <= CAP / 4 * 3);
	EXPECT(st.used_bytes >= CAP / 2);
	EXPECT(st.file_bytes <= CAP + CAP / 4);

	/* What went first: 20, 21, ... (oldest stamps), never the touched
	 * 0..19 nor the newest.  Probe 20..199 before touching 0..19 again
	 * (probing notes hits, but the order is already decided). */
	for (unsigned i = 20; i < n_old; i++) {
		if (!present(c, i)) {
			if (missing_seen && first_missing + missing_seen != i)
				order_ok = 0;
			if (!missing_seen)
				first_missing = i;
			missing_seen++;
		}
	}
	EXPECT(order_ok);
	EXPECT_EQ_INT(first_missing, 20);
	EXPECT_EQ_INT(missing_seen, st.evictions);
	for (unsigned i = 0; i < 20; i++)
		EXPECT(present(c, i));
	for (unsigned i = n_old; i < next; i++)
		EXPECT(present(c, i));

	/* Keep going: the cache stays under the cap whatever comes. */
	for (unsigned k = 0; k < 1500; k++) {
		EXPECT_EQ_INT(ct_put(c, next++, LEN), DD_OK);
		if (k % 100 == 99) {
			EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
			EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
			EXPECT(st.used_bytes <= CAP);
		}
	}
	/* A burst with no flush in between (batches of at most cap/8). */
	for (unsigned k = 0; k < 600; k++)
		EXPECT_EQ_INT(ct_put(c, next++, LEN), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT(st.used_bytes <= CAP);
	EXPECT(st.file_bytes <= CAP + CAP / 4);
	EXPECT_EQ_INT(st.puts_failed, 0);
	/* The newest records are always kept. */
	for (unsigned i = next - 100; i < next; i++)
		EXPECT(present(c, i));
	fprintf(stderr, "evict: %llu entries, %llu used, %llu file, %llu "
		"evictions\n", (unsigned long long)st.entries,
		(unsigned long long)st.used_bytes,
		(unsigned long long)st.file_bytes,
		(unsigned long long)st.evictions);
	dd_cache_close(c);
}

/* The stamps seen by a walk of "lru": the newest of records >= @split and
 * the oldest of those below. */
struct stamps {
	unsigned split;
	uint64_t old_max, new_min;
	unsigned n_new;
};

static int stamps_walk(void *arg, enum dd_cache_db db, const uint8_t *key,
		       size_t klen, const uint8_t *val, size_t vlen)
{
	struct stamps *s = arg;
	uint64_t v = 0;
	unsigned i;

	if (db != DD_CACHE_DB_LRU || klen != DD_CACHE_KEY_LEN || vlen != 8)
		return 0;
	memcpy(&i, key, sizeof(i)); /* ct_key starts with the number */
	for (int b = 7; b >= 0; b--)
		v = v << 8 | val[b];
	if (i < s->split) {
		s->n_new++;
		if (v < s->new_min)
			s->new_min = v;
	} else if (v > s->old_max) {
		s->old_max = v;
	}
	return 0;
}

/* More hits than one write transaction stamps (the writer splits them so
 * that LMDB's kept dirty pages stay bounded): every hit is still stamped,
 * newer than every record not hit, in several commits. */
static void test_many_hits(const char *dir)
{
	struct dd_cache *c = ct_open(dir, 64u << 20, DD_CACHE_NOSYNC);
	struct stamps s = {3000, 0, UINT64_MAX, 0};
	struct dd_cache_stats st;
	uint64_t commits;

	for (unsigned i = 0; i < 5000; i++)
		EXPECT_EQ_INT(ct_put(c, i, 100), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	commits = st.commits;
	for (unsigned i = 0; i < s.split; i++)
		EXPECT(ct_check(c, i, 100));
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	/* 3000 hits, at most 512 a transaction */
	EXPECT(st.commits >= commits + 6);
	EXPECT_EQ_INT(dd_cache_walk(c, stamps_walk, &s), DD_OK);
	EXPECT_EQ_INT(s.n_new, s.split);
	EXPECT(s.new_min > s.old_max);
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

/* Which records a walk finds: in "manifests" and in "lru", by number. */
struct present {
	unsigned n;
	uint8_t *man, *lru;
	unsigned other; /* keys that are not ours */
};

static int present_walk(void *arg, enum dd_cache_db db, const uint8_t *key,
			size_t klen, const uint8_t *val, size_t vlen)
{
	struct present *p = arg;
	unsigned i;

	(void)val;
	(void)vlen;
	if (db == DD_CACHE_DB_META)
		return 0;
	memcpy(&i, key, sizeof(i));
	if (klen != DD_CACHE_KEY_LEN || i >= p->n) {
		p->other++;
		return 0;
	}
	(db == DD_CACHE_DB_LRU ? p->lru : p->man)[i] = 1;
	return 0;
}

#define MANY_CAP (8u << 20)
#define MANY_LEN 16 /* 40-byte values: about 190 bytes a record */
#define MANY_HIT 200

/* Tens of thousands of small records (they share leaf pages, so freeing
 * pages takes many more deletions than the bytes suggest) in a small
 * cap: the eviction frees down to the low mark in transactions of at
 * most DD_CACHE_EVICT_PER_TXN deletions, oldest stamps first, and keeps
 * the records hit shortly before. */
static void test_many_small(const char *dir)
{
	struct dd_cache *c = ct_open(dir, MANY_CAP, DD_CACHE_NOSYNC);
	struct dd_cache_verify_report rep;
	struct dd_cache_stats st;
	struct present p = {0};
	unsigned next = 0, hit_at = 0, missing = 0, newest_missing = 0;
	unsigned oldest_kept = UINT32_MAX, unpaired = 0, hits_lost = 0;
	uint64_t lo = MANY_CAP / 4 * 3;

	memset(&st, 0, sizeof(st));
	/* Fill in order (stamps increase with the number); close to the
	 * high mark, hit records 0, 2, 4, ...: they become the newest. */
	while (next < 200000 && !st.evictions) {
		EXPECT_EQ_INT(ct_put(c, next++, MANY_LEN), DD_OK);
		if (next % 256)
			continue;
		EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
		EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
		if (!hit_at && st.used_bytes > lo - MANY_CAP / 32) {
			hit_at = next;
			for (unsigned i = 0; i < 2 * MANY_HIT; i += 2)
				EXPECT(ct_check(c, i, MANY_LEN));
		}
	}
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT(hit_at > 0);
	EXPECT(st.evictions > 0);
	EXPECT(next > 20000);

	/* (a) down to the low mark (less the room of a batch, 128 puts of
	 * two pages each: 1 MiB, had one had to wait for the eviction),
	 * and not much below: the eviction stops at the first transaction
	 * that reaches it. */
	EXPECT(st.used_bytes <= lo);
	EXPECT(st.used_bytes >= lo - (1u << 20) - MANY_CAP / 16);
	/* (c) bounded transactions */
	EXPECT(st.evict_txn_max > 0);
	EXPECT(st.evict_txn_max <= DD_CACHE_EVICT_PER_TXN);

	/* (b) the oldest went.  Stamps follow the numbers (but for the
	 * hits), so the records missing should be 0..missing-1 less the
	 * hits.  Tolerance: the last walk of an eviction may reach the goal
	 * half way, in key order, and its step is at most twice the one
	 * before, so at least a third of what went is the oldest (all
	 * steps but the last) and nothing went that is newer than three
	 * times that, give or take a histogram bucket (8 stamps here). */
	p.n = next;
	p.man = calloc(next, 1);
	p.lru = calloc(next, 1);
	EXPECT_EQ_INT(dd_cache_walk(c, present_walk, &p), DD_OK);
	EXPECT_EQ_INT(p.other, 0);
	for (unsigned i = 0; i < next; i++) {
		if (p.man[i] != p.lru[i])
			unpaired++;
		if (i < 2 * MANY_HIT && i % 2 == 0) {
			hits_lost += !p.man[i];
			continue;
		}
		if (!p.man[i]) {
			missing++;
			newest_missing = i;
		} else if (oldest_kept == UINT32_MAX) {
			oldest_kept = i;
		}
	}
	fprintf(stderr, "many: %u puts, %u evicted (%llu counted), newest "
		"evicted %u, oldest kept %u; used %llu "
		"(low mark %llu), %llu commits, largest eviction txn %llu, "
		"%llu puts failed\n",
		next, missing, (unsigned long long)st.evictions,
		newest_missing, oldest_kept,
		(unsigned long long)st.used_bytes, (unsigned long long)lo,
		(unsigned long long)st.commits,
		(unsigned long long)st.evict_txn_max,
		(unsigned long long)st.puts_failed);
	EXPECT_EQ_INT(st.puts_failed, 0);
	EXPECT_EQ_INT(hits_lost, 0);
	EXPECT_EQ_INT(missing, st.evictions);
	EXPECT_EQ_INT(st.total_evictions, st.evictions);
	EXPECT(missing > 0);
	EXPECT(oldest_kept + 8 >= missing / 3);
	EXPECT(newest_missing < 3 * missing + 2 * MANY_HIT + 8);
	/* nothing put after the hits went */
	EXPECT(newest_missing < hit_at);
	/* (d) every record with its stamp, and verify agrees */
	EXPECT_EQ_INT(unpaired, 0);
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(!rep.corrupt);
	EXPECT_EQ_INT(rep.records_bad, 0);
	EXPECT_EQ_INT(rep.lru_orphans, 0);
	EXPECT_EQ_INT(rep.records, st.entries);
	free(p.man);
	free(p.lru);
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

/* Puts are not held up by an eviction: it runs between the batches.  A
 * cache filled to 91% of its cap (reopened with a smaller cap), then
 * 1,024 puts at once: the first batch (128, taken when 256 are queued)
 * passes the high mark and begins an eviction of some 18k records
 * (about 140 transactions); the next batches, queued before it began,
 * are stored between its transactions, not after all of them (as when
 * the whole eviction ran before the batch).  Counted by the writer, so
 * no timing is involved. */
static void test_evict_interleaved(const char *dir)
{
	struct dd_cache *c = ct_open(dir, 64u << 20, DD_CACHE_NOSYNC);
	struct dd_cache_stats st;
	uint64_t cap, during;
	unsigned next = 0, first, lost = 0;

	do {
		for (unsigned k = 0; k < 1024; k++)
			EXPECT_EQ_INT(ct_put(c, next++, MANY_LEN), DD_OK);
		EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
		EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	} while (st.used_bytes < (14u << 20));
	dd_cache_close(c);
	cap = st.used_bytes / 91 * 100;
	c = ct_open(dir, cap, DD_CACHE_NOSYNC);
	first = next;
	for (unsigned k = 0; k < 1024; k++)
		EXPECT_EQ_INT(ct_put(c, next++, MANY_LEN), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK); /* waits for the eviction */
	during = dd_cache_test_evict_batches(c);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	for (unsigned i = first; i < next; i++)
		lost += !ct_check(c, i, MANY_LEN);
	fprintf(stderr, "interleaved: %u records, cap %llu: %llu evicted in "
		"transactions of at most %llu, %llu of the 8 batches stored "
		"meanwhile; used %llu at the end\n", next,
		(unsigned long long)cap, (unsigned long long)st.evictions,
		(unsigned long long)st.evict_txn_max,
		(unsigned long long)during,
		(unsigned long long)st.used_bytes);
	EXPECT(st.evictions > 4 * 8 * DD_CACHE_EVICT_PER_TXN);
	EXPECT(during >= 1);
	EXPECT(st.used_bytes <= cap / 4 * 3);
	EXPECT(st.evict_txn_max <= DD_CACHE_EVICT_PER_TXN);
	EXPECT_EQ_INT(st.puts_failed, 0);
	EXPECT_EQ_INT(lost, 0);
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

/* One of two processes filling one small cache at once: both evict, each
 * in its own transactions, from the same "lru". */
static int sharer(const char *dir, unsigned first)
{
	struct dd_cache *c = ct_open(dir, MANY_CAP, DD_CACHE_NOSYNC);
	struct dd_cache_stats st;

	for (unsigned i = first; i < first + 30000; i++) {
		EXPECT_EQ_INT(ct_put(c, i, MANY_LEN), DD_OK);
		if (i % 1024 == 1023)
			EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	}
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT(st.evictions > 0);
	EXPECT(st.evict_txn_max <= DD_CACHE_EVICT_PER_TXN);
	EXPECT_EQ_INT(st.puts_failed, 0);
	dd_cache_close(c);
	return dd_test_failures ? 1 : 0;
}

/* Two processes evicting from one cache: every record and eviction is
 * accounted for, records and stamps still go in pairs, and the newest
 * records are there. */
static void test_evict_two_processes(const char *dir)
{
	struct dd_cache_verify_report rep;
	struct dd_cache_stats st;
	struct present p = {0};
	struct dd_cache *c;
	unsigned unpaired = 0, newest[2] = {0, 0};
	pid_t pid[2];
	int status;

	fflush(NULL);
	for (int k = 0; k < 2; k++) {
		pid[k] = fork();
		if (pid[k] == 0)
			_exit(sharer(dir, k * 100000));
	}
	for (int k = 0; k < 2; k++) {
		EXPECT(waitpid(pid[k], &status, 0) == pid[k]);
		EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	c = ct_open(dir, MANY_CAP, DD_CACHE_NOSYNC);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	fprintf(stderr, "two processes: %llu entries, %llu evictions in all, "
		"used %llu\n", (unsigned long long)st.entries,
		(unsigned long long)st.total_evictions,
		(unsigned long long)st.used_bytes);
	EXPECT_EQ_INT(st.entries + st.total_evictions, 60000);
	EXPECT(st.used_bytes <= MANY_CAP);
	EXPECT_EQ_INT(st.rebuilds, 0);
	p.n = 130000;
	p.man = calloc(p.n, 1);
	p.lru = calloc(p.n, 1);
	EXPECT_EQ_INT(dd_cache_walk(c, present_walk, &p), DD_OK);
	EXPECT_EQ_INT(p.other, 0);
	for (unsigned i = 0; i < p.n; i++)
		unpaired += p.man[i] != p.lru[i];
	EXPECT_EQ_INT(unpaired, 0);
	/* The newest records of the process that finished last are there
	 * (those of the other may be older than most of the cache, and
	 * go with it). */
	for (unsigned i = 29900; i < 30000; i++) {
		newest[0] += p.man[i];
		newest[1] += p.man[100000 + i];
	}
	EXPECT(newest[0] == 100 || newest[1] == 100);
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(!rep.corrupt);
	EXPECT_EQ_INT(rep.lru_orphans, 0);
	free(p.man);
	free(p.lru);
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

/* Values larger than a quarter of the cap are refused up front. */
static void test_too_big(const char *dir)
{
	struct dd_cache *c = ct_open(dir, CAP, DD_CACHE_NOSYNC);
	uint8_t key[DD_CACHE_KEY_LEN];
	uint8_t *big = calloc(1, CAP / 4 + 1);

	ct_key(key, 1);
	EXPECT_EQ_INT(dd_cache_put(c, key, big, CAP / 4 + 1), DD_E_LIMIT);
	EXPECT_EQ_INT(dd_cache_put(c, key, big, CAP / 4), DD_OK);
	EXPECT_EQ_INT(dd_cache_meta_put(c, "big", big, CAP / 4 + 1),
		      DD_E_LIMIT);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	free(big);
	dd_cache_close(c);
}

int main(void)
{
	char *dir = ct_tmpdir("evict");

	if (getenv("DD_TEST_DEBUG"))
		dd_log_set_level(DD_LOG_DEBUG);

	test_lru(dir);
	test_too_big(dir);
	test_many_hits(dir);
	test_many_small(dir);
	test_evict_interleaved(dir);
	test_evict_two_processes(dir);
	ct_rmtree(dir);
	return dd_test_done("test_cache_evict");
}
