/* test_cache_evict.c: the size cap and approximate LRU. */
#include "cache_test_util.h"
#include "dd_cache_i.h"

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

	test_lru(dir);
	test_too_big(dir);
	test_many_hits(dir);
	ct_rmtree(dir);
	return dd_test_done("test_cache_evict");
}
