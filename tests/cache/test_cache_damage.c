/* test_cache_damage.c: records that do not verify, a truncated data file,
 * `cache verify` in a child, stale reader slots of a killed process, and
 * the live rebuild path. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache_test_util.h"
#include "dd_cache_i.h"

/* Find @pat (@n bytes) in @path: its offset, or -1. */
static off_t find_in_file(const char *path, const uint8_t *pat, size_t n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t len;
	off_t at = -1;
	struct stat st;

	if (!f || fstat(fileno(f), &st) < 0)
		return -1;
	buf = malloc((size_t)st.st_size);
	len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	for (size_t i = 0; i + n <= len; i++) {
		if (!memcmp(buf + i, pat, n)) {
			EXPECT(at == -1); /* exactly one copy */
			at = (off_t)i;
		}
	}
	free(buf);
	return at;
}

static void flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	EXPECT(fd >= 0);
	EXPECT(pread(fd, &b, 1, at) == 1);
	b ^= 0x5a;
	EXPECT(pwrite(fd, &b, 1, at) == 1);
	close(fd);
}

static char *data_path(struct dd_cache *c)
{
	return strdup(dd_cache_test_data_path(c));
}

/* Flip one byte inside a stored record; the record is dropped. */
static void test_flipped_record(const char *dir)
{
	struct dd_cache_verify_report rep;
	struct dd_cache_stats st;
	struct dd_cache *c = ct_open(dir, 64 << 20, 0);
	uint8_t key[DD_CACHE_KEY_LEN], pat[64], *got;
	char *path;
	size_t len;
	off_t at;

	for (unsigned i = 0; i < 50; i++)
		EXPECT_EQ_INT(ct_put(c, i, 3000), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);

	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(!rep.corrupt);
	EXPECT_EQ_INT(rep.records, 50);
	EXPECT_EQ_INT(rep.records_ok, 50);
	EXPECT_EQ_INT(rep.child_signal, 0);
	EXPECT(rep.needed_bytes <= rep.file_bytes);

	/* Record 7's payload starts with these bytes; flip one in the
	 * middle, under the open handle (the map is shared). */
	ct_fill(pat, sizeof(pat), 7);
	path = data_path(c);
	at = find_in_file(path, pat, sizeof(pat));
	EXPECT(at > 0);
	flip_byte(path, at + 1000);

	/* verify (in a child) sees it, without disturbing us. */
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(rep.corrupt);
	EXPECT_EQ_INT(rep.records, 50);
	EXPECT_EQ_INT(rep.records_bad, 1);

	ct_key(key, 7);
	EXPECT_EQ_INT(dd_cache_get(c, key, &got, &len), DD_E_CORRUPT);
	EXPECT(got == NULL);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.corrupt, 1);
	EXPECT_EQ_INT(st.entries, 50);
	/* The writer deletes it; then it is a plain miss. */
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_get(c, key, &got, &len), DD_E_NOTFOUND);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.entries, 49);
	EXPECT_EQ_INT(st.corrupt, 1);
	for (unsigned i = 0; i < 50; i++)
		if (i != 7)
			EXPECT(ct_check(c, i, 3000));
	/* A new put of the key works again. */
	EXPECT_EQ_INT(ct_put(c, 7, 3000), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT(ct_check(c, 7, 3000));
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(!rep.corrupt);
	dd_cache_close(c);
	free(path);
}

/* Bad records written through the test hook. */
static void test_bad_raw(const char *dir)
{
	struct dd_cache *c = ct_open(dir, 64 << 20, DD_CACHE_NOSYNC);
	uint8_t k1[DD_CACHE_KEY_LEN], k2[DD_CACHE_KEY_LEN], rec[100], *got;
	struct dd_cache_stats st;
	size_t len;

	ct_key(k1, 900);
	ct_key(k2, 901);
	/* Garbage; a valid record of another key; a record of a future
	 * version; a record cut short. */
	EXPECT_EQ_INT(dd_cache_test_put_raw(c, k1, "garbage", 7), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_get(c, k1, &got, &len), DD_E_CORRUPT);

	dd_cache_record_encode(k2, "payload", 7, rec);
	EXPECT_EQ_INT(dd_cache_test_put_raw(c, k1, rec, DD_CACHE_RECORD_HDR + 7),
		      DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_get(c, k1, &got, &len), DD_E_CORRUPT);

	dd_cache_record_encode(k1, "payload", 7, rec);
	rec[4] = 9;
	EXPECT_EQ_INT(dd_cache_test_put_raw(c, k1, rec, DD_CACHE_RECORD_HDR + 7),
		      DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_get(c, k1, &got, &len), DD_E_CORRUPT);

	dd_cache_record_encode(k1, "payload", 7, rec);
	EXPECT_EQ_INT(dd_cache_test_put_raw(c, k1, rec, DD_CACHE_RECORD_HDR + 6),
		      DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_get(c, k1, &got, &len), DD_E_CORRUPT);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_get(c, k1, &got, &len), DD_E_NOTFOUND);

	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.corrupt, 4);
	dd_cache_close(c);
}

/* Truncate data.mdb: the next open abandons it for a new generation. */
static void test_truncated(const char *dir)
{
	struct dd_cache_verify_report rep;
	struct dd_cache_stats st;
	struct dd_cache *c = ct_open(dir, 64 << 20, 0);
	char *path, old_env[4096];
	uint64_t old_gen;
	struct stat fst;

	for (unsigned i = 0; i < 500; i++)
		EXPECT_EQ_INT(ct_put(c, i, 2000), DD_OK);
	dd_cache_close(c);

	c = ct_open(dir, 64 << 20, 0);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	old_gen = st.generation;
	path = data_path(c);
	dd_cache_close(c);
	snprintf(old_env, sizeof(old_env), "%s/env.%llu", dir,
		 (unsigned long long)old_gen);
	EXPECT(stat(path, &fst) == 0);
	EXPECT(truncate(path, fst.st_size / 2) == 0);

	/* verify reports the damage (as the child saw it). */
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(rep.corrupt);
	EXPECT(strstr(rep.message, "truncated") != NULL);

	/* A read-only open refuses; a normal open rebuilds. */
	{
		struct dd_cache *ro = NULL;
		char err[DD_CACHE_ERRLEN];
		EXPECT_EQ_INT(dd_cache_open(dir, 0, DD_CACHE_RDONLY, &ro, err,
					    sizeof(err)), DD_E_CORRUPT);
	}
	c = ct_open(dir, 64 << 20, 0);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.rebuilds, 1);
	EXPECT_EQ_INT(st.generation, old_gen + 1);
	EXPECT_EQ_INT(st.entries, 0);
	/* Nobody held the old generation, so it is gone. */
	EXPECT(access(old_env, F_OK) != 0);
	/* The new environment works. */
	for (unsigned i = 0; i < 100; i++)
		EXPECT_EQ_INT(ct_put(c, i, 2000), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	for (unsigned i = 0; i < 100; i++)
		EXPECT(ct_check(c, i, 2000));
	dd_cache_close(c);
	c = ct_open(dir, 64 << 20, 0);
	EXPECT(ct_check(c, 99, 2000));
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.rebuilds, 0);
	dd_cache_close(c);
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(!rep.corrupt);
	free(path);
}

/* A damaged generation held by another live process is abandoned, not
 * deleted; it goes once that process is gone. */
static void test_rebuild_while_held(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c;
	char old_env[4096], *path;
	uint64_t gen;
	int go[2], ready[2];
	pid_t pid;
	char ch;

	c = ct_open(dir, 64 << 20, 0);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	gen = st.generation;
	path = data_path(c);
	dd_cache_close(c);
	snprintf(old_env, sizeof(old_env), "%s/env.%llu", dir,
		 (unsigned long long)gen);

	EXPECT(pipe(go) == 0 && pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		struct dd_cache *cc = ct_open(dir, 64 << 20, 0);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &ch, 1) != 1)
			_exit(3);
		/* Still usable for reads of what it mapped. */
		int ok = ct_check(cc, 99, 2000);
		dd_cache_close(cc);
		_exit(ok ? 0 : 4);
	}
	EXPECT(read(ready[0], &ch, 1) == 1);
	/* The writer is told the environment is damaged (as after
	 * MDB_CORRUPTED from a commit): it must move to a new generation. */
	c = ct_open(dir, 64 << 20, 0);
	dd_cache_test_request_rebuild(c);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.generation, gen + 1);
	EXPECT_EQ_INT(st.rebuilds, 1);
	/* The child still holds the old generation: it must still exist. */
	EXPECT(access(old_env, F_OK) == 0);
	EXPECT(write(go[1], "g", 1) == 1);
	{
		int status;
		EXPECT(waitpid(pid, &status, 0) == pid);
		EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* The new generation works and gets the writes. */
	EXPECT_EQ_INT(ct_put(c, 4242, 100), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	EXPECT(ct_check(c, 4242, 100));
	dd_cache_close(c);
	/* Next open: nobody holds the old one any more. */
	c = ct_open(dir, 64 << 20, 0);
	EXPECT(access(old_env, F_OK) != 0);
	EXPECT(ct_check(c, 4242, 100));
	dd_cache_close(c);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	free(path);
}

/* A process killed with a read transaction open leaves a reader slot;
 * mdb_reader_check at the next open clears it.  (A keeper process keeps
 * the environment open meanwhile: without one, LMDB would re-initialise
 * the lock file at the next open and the slot would vanish anyway.) */
static void test_stale_reader(const char *dir)
{
	struct dd_cache_stats st;
	struct dd_cache *c;
	int kready[2], kgo[2], vready[2], status;
	pid_t keeper, victim;
	char ch;

	EXPECT(pipe(kready) == 0 && pipe(kgo) == 0 && pipe(vready) == 0);
	keeper = fork();
	if (keeper == 0) {
		struct dd_cache *cc = ct_open(dir, 64 << 20, 0);
		if (write(kready[1], "k", 1) != 1 || read(kgo[0], &ch, 1) != 1)
			_exit(3);
		dd_cache_close(cc);
		_exit(0);
	}
	EXPECT(read(kready[0], &ch, 1) == 1);
	victim = fork();
	if (victim == 0) {
		struct dd_cache *cc = ct_open(dir, 64 << 20, 0);
		if (dd_cache_test_hold_reader(cc) != DD_OK)
			_exit(3);
		if (write(vready[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	EXPECT(read(vready[0], &ch, 1) == 1);
	EXPECT(kill(victim, SIGKILL) == 0);
	EXPECT(waitpid(victim, &status, 0) == victim);
	EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	c = ct_open(dir, 64 << 20, 0);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.stale_readers, 1);
	dd_cache_close(c);
	/* Cleared once: the next open finds none. */
	c = ct_open(dir, 64 << 20, 0);
	EXPECT_EQ_INT(dd_cache_stats(c, &st), DD_OK);
	EXPECT_EQ_INT(st.stale_readers, 0);
	dd_cache_close(c);
	EXPECT(write(kgo[1], "g", 1) == 1);
	EXPECT(waitpid(keeper, &status, 0) == keeper);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(kready[0]);
	close(kready[1]);
	close(kgo[0]);
	close(kgo[1]);
	close(vready[0]);
	close(vready[1]);
}

/* A child that crashes while checking is a verdict, not a crash. */
static void test_verify_garbage(const char *dir)
{
	struct dd_cache_verify_report rep;
	struct dd_cache *c = ct_open(dir, 64 << 20, 0);
	char *path = data_path(c);
	uint8_t junk[4096];
	int fd;

	dd_cache_close(c);
	/* Overwrite every page after the two meta pages with junk: the
	 * tree is garbage, the size is right. */
	memset(junk, 0xA5, sizeof(junk));
	fd = open(path, O_RDWR);
	EXPECT(fd >= 0);
	{
		struct stat fst;
		EXPECT(fstat(fd, &fst) == 0);
		for (off_t o = 2 * 4096; o < fst.st_size; o += 4096)
			EXPECT(pwrite(fd, junk, sizeof(junk), o) ==
			       (ssize_t)sizeof(junk));
	}
	close(fd);
	EXPECT_EQ_INT(dd_cache_verify(dir, &rep), DD_OK);
	EXPECT(rep.corrupt);
	fprintf(stderr, "verify of a garbage tree: %s\n", rep.message);
	/* Such a tree can crash any process that reads it (that is why
	 * verify runs in a child).  The remedy is clear: the next open
	 * starts a new generation. */
	EXPECT_EQ_INT(dd_cache_clear(dir, NULL), DD_OK);
	c = ct_open(dir, 64 << 20, 0);
	EXPECT(!ct_check(c, 1, 10));
	EXPECT_EQ_INT(ct_put(c, 1, 10), DD_OK);
	EXPECT_EQ_INT(dd_cache_flush(c), DD_OK);
	dd_cache_close(c);
	free(path);
}

int main(void)
{
	char *dir = ct_tmpdir("damage");

	signal(SIGPIPE, SIG_IGN);
	test_flipped_record(dir);
	test_bad_raw(dir);
	test_truncated(dir);
	test_rebuild_while_held(dir);
	test_stale_reader(dir);
	test_verify_garbage(dir);
	ct_rmtree(dir);
	return dd_test_done("test_cache_damage");
}
