/* unit_ocr_lazy: the OCR pool starts its workers (threads named
 * "deid-ocr", each with tesseract's model) at the first dd_ocr_run(),
 * exactly once when many threads ask at once; a start that fails fails
 * every run the same way, without a thread left; dd_ocr_check() finds a
 * missing model in a child (single-threaded) and in the process (threads
 * running).  Real tesseract, real threads, counted in /proc/self/task. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_ocr.h"

/* Threads of this process named @name (all of them: NULL). */
static int threads_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
		n += !name || strcmp(comm, name) == 0;
	}
	closedir(d);
	return n;
}

/* A grey page with a few dark bars: something for the LSTM to look at. */
static uint8_t page[120 * 400];

static const struct dd_ocr_image img = {page, 400, 120, 400};

static void make_page(void)
{
	memset(page, 255, sizeof(page));
	for (uint32_t y = 40; y < 70; y++)
		for (uint32_t x = 20; x < 380; x++)
			if ((x / 6) % 3 == 0)
				page[y * 400 + x] = 0;
}

struct runner {
	struct dd_ocr *o;
	pthread_barrier_t *go;
	dd_err err;
};

static void *run_one(void *arg)
{
	struct runner *r = arg;
	struct dd_ocr_result res;

	dd_ocr_result_init(&res);
	pthread_barrier_wait(r->go);
	r->err = dd_ocr_run(r->o, &img, dd_ocr_now_ms() + 120000, &res);
	dd_ocr_result_free(&res);
	return NULL;
}

/* 8 threads ask a fresh pool of @workers at once: all served, @workers
 * workers started, no more. */
static void test_lazy(unsigned workers)
{
	enum { N = 8 };
	struct dd_ocr *o;
	struct runner r[N];
	pthread_t t[N];
	pthread_barrier_t go;
	int i;

	EXPECT_EQ_INT(dd_ocr_new(workers, &o), DD_OK);
	EXPECT_EQ_INT(dd_ocr_workers_started(o), 0);
	EXPECT_EQ_INT(threads_named("deid-ocr"), 0);
	pthread_barrier_init(&go, NULL, N);
	for (i = 0; i < N; i++) {
		r[i].o = o;
		r[i].go = &go;
		r[i].err = DD_E_LAST;
		pthread_create(&t[i], NULL, run_one, &r[i]);
	}
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ_INT(r[i].err, DD_OK);
	}
	pthread_barrier_destroy(&go);
	EXPECT_EQ_INT(dd_ocr_workers_started(o), workers);
	EXPECT_EQ_INT(threads_named("deid-ocr"), (int)workers);
	/* with the pool up, the check runs in this process */
	EXPECT_EQ_INT(dd_ocr_check(), DD_OK);
	dd_ocr_free(o);
	EXPECT_EQ_INT(threads_named("deid-ocr"), 0);
}

/* TESSDATA_PREFIX at an empty directory: the check says so (in a child
 * when @single, else here), and a pool's runs fail, all of them, with
 * DD_E_INTERNAL (never DD_E_UNSUPPORTED: the DICOM engine keeps the
 * pixels of an unmarked image it "cannot look at"). */
static void test_missing(bool single)
{
	char dir[] = "/tmp/unit_ocr_lazy.XXXXXX";
	const char *old = getenv("TESSDATA_PREFIX");
	char *saved = old ? strdup(old) : NULL;
	struct dd_ocr_result res;
	struct dd_ocr *o;
	int n0 = threads_named("deid-ocr"); /* another pool's */

	EXPECT(mkdtemp(dir) != NULL);
	setenv("TESSDATA_PREFIX", dir, 1);
	if (single)
		EXPECT_EQ_INT(threads_named(NULL), 1);
	EXPECT_EQ_INT(dd_ocr_check(), DD_E_UNSUPPORTED);
	EXPECT_EQ_INT(dd_ocr_new(2, &o), DD_OK);
	dd_ocr_result_init(&res);
	EXPECT_EQ_INT(dd_ocr_run(o, &img, dd_ocr_now_ms() + 120000, &res),
		      DD_E_INTERNAL);
	EXPECT_EQ_INT(dd_ocr_workers_started(o), 0);
	/* the same answer, without trying again, even once it could work */
	if (saved)
		setenv("TESSDATA_PREFIX", saved, 1);
	else
		unsetenv("TESSDATA_PREFIX");
	EXPECT_EQ_INT(dd_ocr_run(o, &img, dd_ocr_now_ms() + 120000, &res),
		      DD_E_INTERNAL);
	EXPECT_EQ_INT(res.n, 0);
	EXPECT_EQ_INT(dd_ocr_workers_started(o), 0);
	EXPECT_EQ_INT(threads_named("deid-ocr"), n0);
	dd_ocr_result_free(&res);
	dd_ocr_free(o);
	rmdir(dir);
	free(saved);
}

int main(int argc, char **argv)
{
	uint64_t calls;

	dd_ocr_ensure_env(argc, argv);
	make_page();
	test_missing(true);               /* single-threaded: a child checks */
	EXPECT_EQ_INT(dd_ocr_check(), DD_OK);
	calls = dd_ocr_calls_total();
	test_lazy(1);
	test_lazy(2);
	/* every request counted, a failed start's too */
	EXPECT_EQ_INT(dd_ocr_calls_total() - calls, 16);
	{
		/* threads running: the check runs here, not in a child */
		struct dd_ocr *o;
		struct dd_ocr_result res;
		dd_ocr_new(1, &o);
		dd_ocr_result_init(&res);
		EXPECT_EQ_INT(dd_ocr_run(o, &img, dd_ocr_now_ms() + 120000,
					 &res), DD_OK);
		test_missing(false);
		dd_ocr_result_free(&res);
		dd_ocr_free(o);
	}
	return dd_test_done("unit_ocr_lazy");
}
