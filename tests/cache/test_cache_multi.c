/* test_cache_multi.c: several threads reading while the writer commits,
 * and two processes sharing one cache directory. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache_test_util.h"

#define NREC 2000
#define NTHREADS 4

static size_t rec_len(unsigned i)
{
	return 50 + (i * 131) % 3000;
}

struct reader_arg {
	struct dd_cache *c;
	atomic_int *stop;
	unsigned seed;
	long hits, misses, wrong;
};

/* Read random keys until told to stop.  A hit must have exactly the bytes
 * that were put (never a half-written or foreign record). */
static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	uint8_t key[DD_CACHE_KEY_LEN], *got, *want = malloc(4096);

	while (!atomic_load(a->stop)) {
		unsigned i = rand_r(&a->seed) % NREC;
		size_t len;
		dd_err e;

		ct_key(key, i);
		e = dd_cache_get(a->c, key, &got, &len);
		if (e == DD_E_NOTFOUND) {
			a->misses++;
			continue;
		}
		if (e != DD_OK) {
			a->wrong++;
			continue;
		}
		ct_fill(want, rec_len(i), i);
		if (len != rec_len(i) || memcmp(got, want, len) != 0)
			a->wrong++;
		a->hits++;
		free(got);
	}
	free(want);
	return NULL;
}

static void test_threads(const char *dir)
{
	struct reader_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	struct dd_cache_stats st;
	struct dd_cache *c = ct_open(dir, 256 << 20, DD_CACHE_NOSYNC);
	atomic_int stop = 0;
	long hits = 0;

	for (int t = 0; t < NTHREADS; t++) {
		args[t] = (struct reader_arg){.c = c, .stop = &stop,
					      .seed = (unsigned)t + 1};
		pthread_create(&th[t], NULL, reader_main, &args[t]);
	}
	/* The writer commits in many batches while the readers run. */
	for (unsigned i = 0; i < NREC; i++) {
		EXPECT_EQ_INT(ct_put(c, i, rec_len(i)), DD_OK);
		if (i % 97 == 0)
			EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	}
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	usleep(50 * 1000);
	atomic_store(&stop, 1);
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		EXPECT_EQ_INT(args[t].wrong, 0);
		hits += args[t].hits;
	}
	EXPECT(hits > 0);
	for (unsigned i = 0; i < NREC; i++)
		EXPECT(ct_check(c, i, rec_len(i)));
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, NREC);
	EXPECT(st.commits > NREC / 97 / 2);
	EXPECT_EQ_INT(st.puts_failed, 0);
	/* Readers reset their transactions: no reader slot piles up. */
	EXPECT(st.readers <= NTHREADS + 2);
	dd_cache_close(c);
}

/* One process of the pair: write keys [lo, hi), then wait until the
 * other process's keys [olo, ohi) are all visible and correct. */
static int sharer(const char *dir, unsigned lo, unsigned hi, unsigned olo,
		  unsigned ohi)
{
	struct dd_cache *c = ct_open(dir, 256 << 20, DD_CACHE_NOSYNC);
	time_t deadline = time(NULL) + 60;
	unsigned seen = 0;

	for (unsigned i = lo; i < hi; i++) {
		if (ct_put(c, i, rec_len(i)) != DD_OK)
			return 10;
		if (i % 50 == 0)
			dd_cache_flush(c);
		if (ct_check(c, olo + (i - lo) % (ohi - olo),
			     rec_len(olo + (i - lo) % (ohi - olo))))
			seen++;
	}
	if (dd_cache_flush(c) != DD_OK)
		return 11;
	for (unsigned i = olo; i < ohi; i++) {
		while (!ct_check(c, i, rec_len(i))) {
			if (time(NULL) > deadline)
				return 12;
			usleep(2000);
		}
	}
	dd_cache_close(c);
	return 0;
}

static void test_processes(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c;
	pid_t pid[2];
	int status;

	/* Fork before anything is opened: each process opens its own. */
	for (int p = 0; p < 2; p++) {
		pid[p] = fork();
		if (pid[p] == 0) {
			unsigned lo = p ? 5000 : 3000;
			unsigned olo = p ? 3000 : 5000;
			_exit(sharer(dir, lo, lo + 800, olo, olo + 800));
		}
	}
	for (int p = 0; p < 2; p++) {
		EXPECT(waitpid(pid[p], &status, 0) == pid[p]);
		EXPECT(WIFEXITED(status));
		EXPECT_EQ_INT(WEXITSTATUS(status), 0);
	}
	c = ct_open(dir, 256 << 20, 0);
	for (unsigned i = 3000; i < 3800; i++)
		EXPECT(ct_check(c, i, rec_len(i)));
	for (unsigned i = 5000; i < 5800; i++)
		EXPECT(ct_check(c, i, rec_len(i)));
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, NREC + 1600);
	EXPECT_EQ_INT(st.rebuilds, 0);
	dd_cache_close(c);
}

/* global, so forked children still reach it (valgrind would call it lost) */
static char *dir;

int main(void)
{
	dir = ct_tmpdir("multi");

	test_threads(dir);
	test_processes(dir);
	ct_rmtree(dir);
	return dd_test_done("test_cache_multi");
}
