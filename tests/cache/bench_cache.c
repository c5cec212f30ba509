/* bench_cache.c: puts/s, gets/s from several threads, and the on-disk
 * overhead per record.  `meson test --benchmark` (or run it directly,
 * optionally with N records as argv[1]).  `bench_cache N hits`: the
 * writer's memory after N hits; `bench_cache N evict [LEN [sync]]`: the
 * memory and time of one eviction at N records of LEN bytes (with fsync
 * at every commit: sync). */
#include <pthread.h>
#include <time.h>

#include "cache_test_util.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct getter {
	struct dd_cache *c;
	unsigned n, ops, seed;
	long bad;
};

static void *getter_main(void *p)
{
	struct getter *g = p;
	uint8_t key[DD_CACHE_KEY_LEN], *got;
	size_t len;

	for (unsigned k = 0; k < g->ops; k++) {
		ct_key(key, rand_r(&g->seed) % g->n);
		if (dd_cache_get(g->c, key, &got, &len) != DD_OK)
			g->bad++;
		free(got);
	}
	return NULL;
}

static void bench_puts(const char *dir, unsigned n, size_t len,
		       unsigned flags, const char *what)
{
	struct dd_cache_stats st;
	struct dd_cache *c = ct_open(dir, 8ULL << 30, flags);
	double t0, t1;

	t0 = now_s();
	for (unsigned i = 0; i < n; i++)
		ct_put(c, i, len);
	dd_cache_flush(c);
	t1 = now_s();
	dd_cache_stats(c, &st);
	printf("puts %-8s %6zu B: %8.0f puts/s (%u in %.2f s, %llu commits)\n",
	       what, len, n / (t1 - t0), n, t1 - t0,
	       (unsigned long long)st.commits);
	printf("  on disk: %llu entries, %.1f bytes used per record "
	       "(%.1f over the payload)\n", (unsigned long long)st.entries,
	       (double)st.used_bytes / (double)st.entries,
	       (double)st.used_bytes / (double)st.entries - (double)len);
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

static void bench_gets(const char *dir, unsigned n, size_t len)
{
	struct dd_cache *c = ct_open(dir, 8ULL << 30, DD_CACHE_NOSYNC);
	static const int threads[] = {1, 2, 4, 8};

	for (unsigned i = 0; i < n; i++)
		ct_put(c, i, len);
	dd_cache_flush(c);
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct getter g[8];
		pthread_t th[8];
		unsigned ops = 400000 / (unsigned)threads[t];
		long bad = 0;
		double t0 = now_s(), t1;

		for (int k = 0; k < threads[t]; k++) {
			g[k] = (struct getter){c, n, ops, (unsigned)k + 7, 0};
			pthread_create(&th[k], NULL, getter_main, &g[k]);
		}
		for (int k = 0; k < threads[t]; k++) {
			pthread_join(th[k], NULL);
			bad += g[k].bad;
		}
		t1 = now_s();
		printf("gets %zu B, %d thread%s: %9.0f gets/s%s\n", len,
		       threads[t], threads[t] == 1 ? " " : "s",
		       (double)ops * threads[t] / (t1 - t0),
		       bad ? " (MISSES!)" : "");
	}
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

/* A field of /proc/self/status ("RssAnon:", "VmHWM:"), in KiB. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t flen = strlen(field);
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) &&
		    sscanf(line + flen, "%ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long rss_anon_kib(void)
{
	return status_kib("RssAnon:");
}

/* Reset VmHWM to the current RSS. */
static void hwm_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

/* The writer's memory: LMDB keeps every page a write transaction dirtied
 * (a malloc'd copy) on its environment's free list until it is closed, so
 * the largest transaction sets the heap for good.  Puts @n small records,
 * then gets them all in batches of 8192 (the most hits the writer is ever
 * handed at once, each batch flushed), and prints the anonymous RSS
 * after each part. */
static void bench_hits(const char *dir, unsigned n, size_t len)
{
	struct dd_cache *c = ct_open(dir, 8ULL << 30, 0);
	uint8_t key[DD_CACHE_KEY_LEN], *got;
	long a0 = rss_anon_kib(), a1, a2;
	struct dd_cache_stats st;
	unsigned seed = 11;
	size_t glen;
	double t0, t1;

	for (unsigned i = 0; i < n; i++)
		ct_put(c, i, len);
	dd_cache_flush(c);
	a1 = rss_anon_kib();
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		ct_key(key, rand_r(&seed) % n);
		if (dd_cache_get(c, key, &got, &glen) == DD_OK)
			free(got);
		if (i % 8192 == 8191)
			dd_cache_flush(c);
	}
	dd_cache_flush(c);
	t1 = now_s();
	a2 = rss_anon_kib();
	dd_cache_stats(c, &st);
	printf("hits %u x %zu B: anon RSS %ld KiB at open, +%ld after the "
	       "puts, +%ld after %u gets (%.2f s, %llu commits)\n", n, len,
	       a0, a1 - a0, a2 - a1, n, t1 - t0,
	       (unsigned long long)st.commits);
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

/* One eviction of a large cache: @n records of @len bytes put with no
 * cap to speak of, then the cache reopened with a cap they fill to just
 * under its high mark (trimmed every 32 records, as the daemon does),
 * and records put 1,024 at a time (each chunk flushed) until the writer
 * evicts.  Prints what the chunk that evicted added: the peak RSS
 * (VmHWM, reset before each chunk, file-backed map pages included) and
 * the anonymous RSS, its time, and the largest eviction transaction. */
static void bench_evict(const char *dir, unsigned n, size_t len, bool sync)
{
	struct dd_cache *c = ct_open(dir, 64ULL << 30, DD_CACHE_NOSYNC);
	struct dd_cache_stats st;
	long hwm0, anon0, anon1, hwm1;
	uint64_t cap, commits;
	unsigned next = 0;
	double t0, t1;

	for (; next < n; next++)
		ct_put(c, next, len);
	dd_cache_flush(c);
	dd_cache_stats(c, &st);
	dd_cache_close(c);
	cap = st.used_bytes / 85 * 100;
	c = ct_open(dir, cap, sync ? 0 : DD_CACHE_NOSYNC);
	dd_cache_set_trim(c, 32);
	for (;;) {
		dd_cache_stats(c, &st);
		commits = st.commits;
		anon0 = rss_anon_kib();
		hwm_reset();
		hwm0 = status_kib("VmHWM:");
		t0 = now_s();
		for (unsigned k = 0; k < 1024; k++)
			ct_put(c, next++, len);
		dd_cache_flush(c);
		t1 = now_s();
		dd_cache_stats(c, &st);
		if (st.evictions || st.puts_failed || next > 2 * n)
			break;
	}
	anon1 = rss_anon_kib();
	hwm1 = status_kib("VmHWM:");
	printf("evict %u x %zu B%s, cap %llu MiB: %llu evicted in %.2f s "
	       "(%llu commits), largest eviction txn %llu, %llu puts failed; "
	       "peak RSS +%ld "
	       "KiB (%ld at the start), anon RSS +%ld KiB (%ld); used %llu "
	       "-> %llu MiB\n", n, len, sync ? " fsync" : "",
	       (unsigned long long)(cap >> 20),
	       (unsigned long long)st.evictions, t1 - t0,
	       (unsigned long long)(st.commits - commits),
	       (unsigned long long)st.evict_txn_max,
	       (unsigned long long)st.puts_failed, hwm1 - hwm0, hwm0,
	       anon1 - anon0, anon0,
	       (unsigned long long)(cap / 10 * 9 >> 20),
	       (unsigned long long)(st.used_bytes >> 20));
	dd_cache_close(c);
	dd_cache_clear(dir, NULL);
}

int main(int argc, char **argv)
{
	char *dir = ct_tmpdir("bench");
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;

	if (argc > 2 && !strcmp(argv[2], "evict")) {
		bench_evict(dir, n, argc > 3 ? (size_t)atoi(argv[3]) : 16,
			    argc > 4 && !strcmp(argv[4], "sync"));
		ct_rmtree(dir);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "hits")) {
		bench_hits(dir, n, 200);
		ct_rmtree(dir);
		return 0;
	}
	printf("(%u records; 2 cores shared: thread counts above 2 "
	       "measure contention, not scaling)\n", n);
	bench_puts(dir, n, 100, DD_CACHE_NOSYNC, "nosync");
	bench_puts(dir, n, 1000, DD_CACHE_NOSYNC, "nosync");
	bench_puts(dir, n, 2048, DD_CACHE_NOSYNC, "nosync");
	bench_puts(dir, n, 2048, 0, "fsync");
	bench_gets(dir, n, 2048);
	ct_rmtree(dir);
	return 0;
}
