/* cache_test_util.h: helpers shared by the cache tests (tests/cache/). */
#ifndef CACHE_TEST_UTIL_H
#define CACHE_TEST_UTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dd_cache.h"
#include "dd_test.h"

/* A fresh private directory for one test (removed by ct_rmtree). */
static inline char *ct_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&p, "%s/dd-cache-%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		exit(1);
	}
	return p;
}

static inline int ct_rm_one(const char *path, const struct stat *st,
			    int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static inline void ct_rmtree(char *dir)
{
	nftw(dir, ct_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* A deterministic key for record number @i. */
static inline void ct_key(uint8_t key[DD_CACHE_KEY_LEN], unsigned i)
{
	for (unsigned b = 0; b < DD_CACHE_KEY_LEN; b++)
		key[b] = (uint8_t)((i * 2654435761u) >> ((b % 4) * 8)) ^
			 (uint8_t)(b * 31 + (i >> 8));
	memcpy(key, &i, sizeof(i));
}

/* Deterministic payload bytes for record @i. */
static inline void ct_fill(uint8_t *p, size_t n, unsigned i)
{
	uint32_t x = i * 747796405u + 2891336453u;

	for (size_t k = 0; k < n; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[k] = (uint8_t)x;
	}
}

/* Open or die (with the reason). */
static inline struct dd_cache *ct_open(const char *dir, uint64_t cap,
				       unsigned flags)
{
	char err[DD_CACHE_ERRLEN];
	struct dd_cache *c = NULL;
	dd_err e = dd_cache_open(dir, cap, flags, &c, err, sizeof(err));

	if (e) {
		fprintf(stderr, "dd_cache_open(%s): %s: %s\n", dir,
			dd_strerror(e), err);
		exit(1);
	}
	return c;
}

/* Is record @i there with the right @n bytes? */
static inline int ct_check(struct dd_cache *c, unsigned i, size_t n)
{
	uint8_t key[DD_CACHE_KEY_LEN], *got = NULL, *want;
	size_t len = 0;
	int ok;

	ct_key(key, i);
	if (dd_cache_get(c, key, &got, &len) != DD_OK)
		return 0;
	want = malloc(n ? n : 1);
	ct_fill(want, n, i);
	ok = len == n && memcmp(got, want, n) == 0;
	free(want);
	free(got);
	return ok;
}

static inline dd_err ct_put(struct dd_cache *c, unsigned i, size_t n)
{
	uint8_t key[DD_CACHE_KEY_LEN], *p = malloc(n ? n : 1);
	dd_err e;

	ct_key(key, i);
	ct_fill(p, n, i);
	e = dd_cache_put(c, key, p, n);
	free(p);
	return e;
}

#endif /* CACHE_TEST_UTIL_H */
