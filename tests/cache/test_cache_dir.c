/* test_cache_dir.c: the cache directory's permissions, and `clear`. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_test_util.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	EXPECT(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int file_is(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strcmp(buf, text) == 0;
}

static dd_err try_open(const char *dir, char *err, size_t errlen)
{
	struct dd_cache *c = NULL;
	dd_err e = dd_cache_open(dir, 0, 0, &c, err, errlen);

	dd_cache_close(c);
	return e;
}

static void test_permissions(const char *tmp)
{
	char dir[1024], link[1024], file[2048], err[DD_CACHE_ERRLEN];
	struct stat st;

	/* Created 0700 even under a permissive umask. */
	snprintf(dir, sizeof(dir), "%s/made", tmp);
	mode_t old = umask(0);
	EXPECT_EQ_INT(try_open(dir, err, sizeof(err)), DD_OK);
	umask(old);
	EXPECT(stat(dir, &st) == 0);
	EXPECT_EQ_INT(st.st_mode & 07777, 0700);

	/* Group or world access is refused, with a reason. */
	snprintf(dir, sizeof(dir), "%s/open", tmp);
	EXPECT(mkdir(dir, 0700) == 0);
	EXPECT(chmod(dir, 0777) == 0);
	EXPECT_EQ_INT(try_open(dir, err, sizeof(err)), DD_E_INVAL);
	EXPECT(strstr(err, "0777") != NULL);
	EXPECT(strstr(err, "chmod 700") != NULL);
	EXPECT(chmod(dir, 0750) == 0);
	EXPECT_EQ_INT(try_open(dir, err, sizeof(err)), DD_E_INVAL);
	/* Nothing was created in the refused directory. */
	snprintf(file, sizeof(file), "%s/current", dir);
	EXPECT(access(file, F_OK) != 0);
	snprintf(file, sizeof(file), "%s/lock", dir);
	EXPECT(access(file, F_OK) != 0);
	EXPECT(chmod(dir, 0700) == 0);
	EXPECT_EQ_INT(try_open(dir, err, sizeof(err)), DD_OK);

	/* A symlink or a file is not a cache directory. */
	snprintf(link, sizeof(link), "%s/link", tmp);
	EXPECT(symlink(dir, link) == 0);
	EXPECT_EQ_INT(try_open(link, err, sizeof(err)), DD_E_INVAL);
	snprintf(file, sizeof(file), "%s/plain", tmp);
	write_file(file, "x");
	EXPECT_EQ_INT(try_open(file, err, sizeof(err)), DD_E_INVAL);

	/* Owned by someone else: only testable as root. */
	if (geteuid() == 0) {
		snprintf(dir, sizeof(dir), "%s/theirs", tmp);
		EXPECT(mkdir(dir, 0700) == 0);
		EXPECT(chown(dir, 65534, 65534) == 0);
		EXPECT_EQ_INT(try_open(dir, err, sizeof(err)), DD_E_INVAL);
		EXPECT(strstr(err, "owned by uid 65534") != NULL);
	}
	/* verify and clear refuse the same directories. */
	{
		struct dd_cache_verify_report rep;
		snprintf(dir, sizeof(dir), "%s/open", tmp);
		EXPECT(chmod(dir, 0755) == 0);
		EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_E_INVAL);
		EXPECT_EQ_INT(dd_cache_clear(dir, NULL), DD_E_INVAL);
	}
}

static void test_clear(const char *tmp)
{
	char parent[512], dir[1024], key[2048], foreign[2048], envdir[2048];
	char inner[4096];
	struct dd_cache_stats st;
	struct dd_cache *c;
	unsigned removed = 99;
	uint64_t gen;

	/* parent/deidfs.key beside parent/cache: a key file must survive,
	 * and so must files in the cache directory the cache did not make,
	 * even inside a generation directory. */
	snprintf(parent, sizeof(parent), "%s/home", tmp);
	EXPECT(mkdir(parent, 0700) == 0);
	snprintf(key, sizeof(key), "%s/deidfs.key", parent);
	write_file(key, "0123456789abcdef0123456789abcdef");
	EXPECT(chmod(key, 0600) == 0);
	snprintf(dir, sizeof(dir), "%s/cache", parent);

	c = ct_open(dir, 0, DD_CACHE_NOSYNC);
	for (unsigned i = 0; i < 20; i++)
		EXPECT_EQ_INT(ct_put(c, i, 100), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	gen = st.generation;
	snprintf(envdir, sizeof(envdir), "%s/env.%llu", dir,
		 (unsigned long long)gen);
	snprintf(foreign, sizeof(foreign), "%s/deidfs.key", dir);
	write_file(foreign, "not ours");

	/* While this handle holds the generation, clear leaves it. */
	EXPECT_EQ_INT(dd_cache_clear(dir, &removed), DD_OK);
	EXPECT_EQ_INT(removed, 0);
	EXPECT(access(envdir, F_OK) == 0);
	EXPECT(ct_check(c, 3, 100)); /* the handle keeps working */
	dd_cache_close(c);

	/* Now nobody holds it. */
	EXPECT_EQ_INT(dd_cache_clear(dir, &removed), DD_OK);
	EXPECT_EQ_INT(removed, 1);
	EXPECT(access(envdir, F_OK) != 0);
	EXPECT(file_is(key, "0123456789abcdef0123456789abcdef"));
	EXPECT(file_is(foreign, "not ours"));

	/* A fresh, empty generation on the next open. */
	c = ct_open(dir, 0, DD_CACHE_NOSYNC);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, 0);
	/* (numbering may start again: no generation is left) */
	EXPECT(st.generation >= 1);
	EXPECT(!ct_check(c, 3, 100));
	gen = st.generation;
	dd_cache_close(c);

	/* A foreign file inside env.N keeps that directory (and the file). */
	snprintf(envdir, sizeof(envdir), "%s/env.%llu", dir,
		 (unsigned long long)gen);
	snprintf(inner, sizeof(inner), "%s/notes.txt", envdir);
	write_file(inner, "mine");
	EXPECT_EQ_INT(dd_cache_clear(dir, &removed), DD_OK);
	EXPECT_EQ_INT(removed, 0);
	EXPECT(file_is(inner, "mine"));
	snprintf(inner, sizeof(inner), "%s/data.mdb", envdir);
	EXPECT(access(inner, F_OK) != 0);
	EXPECT(file_is(key, "0123456789abcdef0123456789abcdef"));

	/* Clear of a missing directory creates nothing. */
	snprintf(inner, sizeof(inner), "%s/none", tmp);
	EXPECT_EQ_INT(dd_cache_clear(inner, NULL), DD_E_NOTFOUND);
	EXPECT(access(inner, F_OK) != 0);
}

int main(void)
{
	char *tmp = ct_tmpdir("dir");

	test_permissions(tmp);
	test_clear(tmp);
	ct_rmtree(tmp);
	return dd_test_done("test_cache_dir");
}
