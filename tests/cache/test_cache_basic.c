/* test_cache_basic.c: put/get/flush, persistence across close and open,
 * meta blobs, read-only handles, limits, the default directory, trimming
 * the map out of the resident set. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache_test_util.h"
#include "dd_cache_i.h"

static void test_roundtrip(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c = ct_open(dir, 64 << 20, DD_CACHE_NOSYNC);
	uint8_t key[DD_CACHE_KEY_LEN], *got;
	size_t len;

	/* A miss before anything is stored. */
	ct_key(key, 1);
	got = (uint8_t *)1;
	len = 99;
	EXPECT_EQ_INT(dd_cache_get(c, key, &got, &len), DD_E_NOTFOUND);
	EXPECT(got == NULL);
	EXPECT_EQ_INT(len, 0);

	for (unsigned i = 0; i < 100; i++)
		EXPECT_EQ_INT(ct_put(c, i, 10 + i * 37), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	for (unsigned i = 0; i < 100; i++)
		EXPECT(ct_check(c, i, 10 + i * 37));

	/* Replace one; an empty value is a value. */
	EXPECT_EQ_INT(ct_put(c, 5, 3), DD_OK);
	EXPECT_EQ_INT(ct_put(c, 200, 0), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT(ct_check(c, 5, 3));
	ct_key(key, 200);
	EXPECT_EQ_INT(dd_cache_get(c, key, &got, &len), DD_OK);
	EXPECT(got != NULL);
	EXPECT_EQ_INT(len, 0);
	free(got);

	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, 101);
	EXPECT_EQ_INT(st.puts, 102);
	EXPECT_EQ_INT(st.misses, 1);
	EXPECT_EQ_INT(st.hits, 100 + 2);
	EXPECT_EQ_INT(st.corrupt, 0);
	EXPECT_EQ_INT(st.size_cap, 64 << 20);
	EXPECT_EQ_INT(st.map_bytes, 80 << 20);
	EXPECT(st.used_bytes > 100 * 10);
	EXPECT(st.used_bytes <= st.file_bytes);
	EXPECT(st.generation >= 1);
	EXPECT(st.commits >= 1);

	/* Arguments. */
	EXPECT_EQ_INT(dd_cache_get(c, NULL, &got, &len), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_put(c, NULL, "x", 1), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_put(c, key, NULL, 1), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_put(c, key, "x", (64 << 20) / 4 + 1),
		      DD_E_LIMIT);

	/* One handle per directory per process. */
	{
		struct dd_cache *c2 = NULL;
		char err[DD_CACHE_ERRLEN];
		EXPECT_EQ_INT(dd_cache_open(dir, 0, 0, &c2, err, sizeof(err)),
			      DD_E_EXISTS);
		EXPECT(c2 == NULL);
	}
	dd_cache_close(c);
}

static void test_persistence(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c;

	/* Close commits what is queued (no flush here on purpose). */
	c = ct_open(dir, 64 << 20, 0);
	EXPECT_EQ_INT(ct_put(c, 1000, 5000), DD_OK);
	dd_cache_close(c);

	c = ct_open(dir, 64 << 20, 0);
	EXPECT(ct_check(c, 1000, 5000));
	for (unsigned i = 0; i < 100; i++)
		if (i != 5)
			EXPECT(ct_check(c, i, 10 + i * 37));
	EXPECT(ct_check(c, 5, 3));
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, 102);
	EXPECT_EQ_INT(st.rebuilds, 0);
	/* Totals of earlier handles were kept in "meta". */
	EXPECT(st.total_hits >= 102);
	EXPECT(st.total_misses >= 1);
	dd_cache_close(c);
}

/* Resident pages of this process in the data file's mapping (smaps). */
static long map_rss_kib(const char *dir)
{
	char line[512], *want;
	long kib = 0;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f || asprintf(&want, "%s/", dir) < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (strchr(line, '-') && strchr(line, ':') &&
		    line[0] != ' ' && strstr(line, " r") != NULL &&
		    sscanf(line, "%*x-%*x %*s %*x %*x:%*x %ld", &v) == 1)
			in = strstr(line, want) && strstr(line, "data.mdb");
		else if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
			kib += v;
	}
	fclose(f);
	free(want);
	return kib;
}

/* dd_cache_trim drops the map's pages from the resident set and every
 * record still reads; with dd_cache_set_trim(1) every get trims, and gets
 * and puts still work. */
static void test_trim(const char *dir)
{
	struct dd_cache *c = ct_open(dir, 64 << 20, DD_CACHE_NOSYNC);
	long before, after;

	for (unsigned i = 0; i < 2000; i++)
		EXPECT_EQ_INT(ct_put(c, 3000 + i, 1000), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	for (unsigned i = 0; i < 2000; i++)
		EXPECT(ct_check(c, 3000 + i, 1000));
	before = map_rss_kib(dir);
	EXPECT(dd_cache_trim(c) >= 80 << 20); /* the whole map */
	after = map_rss_kib(dir);
	EXPECT(before > 256);
	EXPECT(after >= 0 && after < before / 4);
	for (unsigned i = 0; i < 2000; i++)
		EXPECT(ct_check(c, 3000 + i, 1000));
	dd_cache_set_trim(c, 1);
	for (unsigned i = 0; i < 200; i++)
		EXPECT_EQ_INT(ct_put(c, 6000 + i, 300), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	for (unsigned i = 0; i < 200; i++)
		EXPECT(ct_check(c, 6000 + i, 300));
	EXPECT(map_rss_kib(dir) < before / 4);
	dd_cache_set_trim(c, 0);
	EXPECT_EQ_INT(dd_cache_trim(NULL), 0);
	dd_cache_close(c);
}

static void test_meta(const char *dir)
{
	struct dd_cache *c = ct_open(dir, 64 << 20, DD_CACHE_NOSYNC);
	static const char blob[] = "patient index v1";
	uint8_t *got = NULL;
	size_t len = 0;

	EXPECT_EQ_INT(dd_cache_meta_get(c, "index.patient", &got, &len),
		      DD_E_NOTFOUND);
	/* Synchronous: visible as soon as it returns. */
	EXPECT_EQ_INT(dd_cache_meta_put(c, "index.patient", blob,
					sizeof(blob)), DD_OK);
	EXPECT_EQ_INT(dd_cache_meta_get(c, "index.patient", &got, &len),
		      DD_OK);
	EXPECT_EQ_INT(len, sizeof(blob));
	EXPECT(got && !memcmp(got, blob, sizeof(blob)));
	free(got);
	/* The module's own names can be read, not written. */
	EXPECT_EQ_INT(dd_cache_meta_get(c, "dd.format", &got, &len), DD_OK);
	EXPECT_EQ_INT(len, 8);
	EXPECT(got && got[0] == 1);
	free(got);
	EXPECT_EQ_INT(dd_cache_meta_put(c, "dd.format", "x", 1), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_meta_put(c, "Bad/Name", "x", 1), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_meta_del(c, "dd.clock"), DD_E_INVAL);
	dd_cache_close(c);

	/* Meta survives a reopen; delete works and is idempotent. */
	c = ct_open(dir, 64 << 20, DD_CACHE_NOSYNC);
	EXPECT_EQ_INT(dd_cache_meta_get(c, "index.patient", &got, &len),
		      DD_OK);
	free(got);
	EXPECT_EQ_INT(dd_cache_meta_del(c, "index.patient"), DD_OK);
	EXPECT_EQ_INT(dd_cache_meta_del(c, "index.patient"), DD_OK);
	EXPECT_EQ_INT(dd_cache_meta_get(c, "index.patient", &got, &len),
		      DD_E_NOTFOUND);
	dd_cache_close(c);
}

static void test_rdonly(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c = NULL;
	char err[DD_CACHE_ERRLEN], *missing;

	c = ct_open(dir, 0, DD_CACHE_RDONLY);
	EXPECT(ct_check(c, 1000, 5000));
	EXPECT_EQ_INT(ct_put(c, 1, 1), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_meta_put(c, "x", "x", 1), DD_E_INVAL);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, 102);
	/* The cap stored by the last writer. */
	EXPECT_EQ_INT(st.size_cap, 64 << 20);
	dd_cache_close(c);

	/* Read-only never creates a cache. */
	if (asprintf(&missing, "%s/nothing-here", dir) < 0)
		exit(1);
	c = NULL;
	EXPECT_EQ_INT(dd_cache_open(missing, 0, DD_CACHE_RDONLY, &c, err,
				    sizeof(err)), DD_E_NOTFOUND);
	EXPECT(c == NULL);
	EXPECT(access(missing, F_OK) != 0);
	free(missing);
}

static void test_default_dir(void)
{
	char *d;

	setenv("DEIDFS_CACHE_DIR", "/x/cache", 1);
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	d = dd_cache_default_dir();
	EXPECT_EQ_STR(d, "/x/cache");
	free(d);
	unsetenv("DEIDFS_CACHE_DIR");
	d = dd_cache_default_dir();
	EXPECT_EQ_STR(d, "/xdg/deidfs");
	free(d);
	setenv("XDG_CACHE_HOME", "relative", 1);
	d = dd_cache_default_dir();
	EXPECT_EQ_STR(d, "/home/u/.cache/deidfs");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	d = dd_cache_default_dir();
	EXPECT(d == NULL);
}

int main(void)
{
	char *tmp = ct_tmpdir("basic"), *dir;
	struct stat st;

	/* The cache directory and its missing parent are created 0700. */
	if (asprintf(&dir, "%s/parent/cache", tmp) < 0)
		return 1;
	test_roundtrip(dir);
	EXPECT(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	test_persistence(dir);
	test_meta(dir);
	test_rdonly(dir);
	test_default_dir();
	free(dir);
	if (asprintf(&dir, "%s/trim", tmp) < 0)
		return 1;
	test_trim(dir);
	free(dir);
	ct_rmtree(tmp);
	return dd_test_done("test_cache_basic");
}
