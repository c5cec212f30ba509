/* test_cache_cli.c: `deid cache stats|verify|clear|dump` (tools/cmd_cache.c
 * linked in directly): output and exit codes. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache_test_util.h"
#include "dd_cache_i.h"

int dd_tool_cache_main(int argc, char **argv);

/* Run `deid cache ARGS...` in a child with stdout to @out; exit code. */
static int run(const char *out, const char *a1, const char *a2,
	       const char *a3, const char *a4)
{
	char *argv[6] = {(char *)"cache", (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, NULL};
	int argc = 1, status;
	pid_t pid;

	while (argv[argc])
		argc++;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		int rc = dd_tool_cache_main(argc, argv);
		fflush(NULL);
		_exit(rc);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	if (!f)
		return buf;
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int out_has(const char *path, const char *needle)
{
	char *s = slurp(path);
	int ok = strstr(s, needle) != NULL;

	if (!ok)
		fprintf(stderr, "output lacks \"%s\":\n%s\n", needle, s);
	free(s);
	return ok;
}

int main(void)
{
	char *tmp = ct_tmpdir("cli");
	char dir[1024], out[1024], keyhex[80];
	uint8_t key[DD_CACHE_KEY_LEN], pat[64];
	struct dd_cache *c;
	off_t at = -1;

	snprintf(dir, sizeof(dir), "%s/cache", tmp);
	snprintf(out, sizeof(out), "%s/out.txt", tmp);

	/* No cache yet: stats and verify say so (exit 0); nothing made. */
	EXPECT_EQ_INT(run(out, "stats", "--cache-dir", dir, NULL), 0);
	EXPECT(out_has(out, "no cache"));
	EXPECT_EQ_INT(run(out, "stats", "--json", "--cache-dir", dir), 0);
	EXPECT(out_has(out, "\"exists\": false"));
	EXPECT(access(dir, F_OK) != 0);

	c = ct_open(dir, 8 << 20, DD_CACHE_NOSYNC);
	for (unsigned i = 0; i < 30; i++)
		EXPECT_EQ_INT(ct_put(c, i, 3000), DD_OK);
	dd_cache_close(c);

	EXPECT_EQ_INT(run(out, "stats", "--cache-dir", dir, NULL), 0);
	EXPECT(out_has(out, "entries:         30"));
	EXPECT(out_has(out, "of a 8.0 MiB cap"));
	EXPECT_EQ_INT(run(out, "stats", "--json", "--cache-dir", dir), 0);
	EXPECT(out_has(out, "\"entries\": 30,"));
	EXPECT(out_has(out, "\"size_cap\": 8388608,"));

	/* The environment variable is the default directory. */
	setenv("DEIDFS_CACHE_DIR", dir, 1);
	EXPECT_EQ_INT(run(out, "stats", "--json", NULL, NULL), 0);
	EXPECT(out_has(out, "\"entries\": 30,"));

	EXPECT_EQ_INT(run(out, "verify", NULL, NULL, NULL), 0);
	EXPECT(out_has(out, "30 records (0 bad)"));
	EXPECT(out_has(out, "ok\n"));

	/* dump: one line per record, key in hex, no payload. */
	ct_key(key, 4);
	for (int i = 0; i < DD_CACHE_KEY_LEN; i++)
		sprintf(keyhex + 2 * i, "%02x", key[i]);
	EXPECT_EQ_INT(run(out, "dump", NULL, NULL, NULL), 0);
	EXPECT(out_has(out, keyhex));
	EXPECT(out_has(out, "version=1 hdrlen=24 paylen=3000"));
	EXPECT(out_has(out, "summary: meta=5 lru=30 manifests=30 bad=0"));
	EXPECT(out_has(out, "name=dd.format len=8 ok value=1"));

	/* Damage one record: verify exits 1, dump marks it. */
	{
		char data[2048];
		struct stat st;
		FILE *f;
		uint8_t *buf;

		snprintf(data, sizeof(data), "%s/env.1/data.mdb", dir);
		EXPECT(stat(data, &st) == 0);
		buf = malloc((size_t)st.st_size);
		f = fopen(data, "r+b");
		EXPECT(fread(buf, 1, (size_t)st.st_size, f) ==
		       (size_t)st.st_size);
		ct_fill(pat, sizeof(pat), 4);
		for (off_t i = 0; i + 64 <= st.st_size; i++)
			if (!memcmp(buf + i, pat, 64))
				at = i;
		EXPECT(at > 0);
		fseek(f, at + 10, SEEK_SET);
		fputc(buf[at + 10] ^ 1, f);
		fclose(f);
		free(buf);
	}
	EXPECT_EQ_INT(run(out, "verify", NULL, NULL, NULL), 1);
	EXPECT(out_has(out, "30 records (1 bad)"));
	EXPECT(out_has(out, "deid cache clear"));
	EXPECT_EQ_INT(run(out, "dump", NULL, NULL, NULL), 0);
	EXPECT(out_has(out, "BAD(checksum)"));
	EXPECT(out_has(out, "bad=1"));

	/* clear, then stats shows an absent cache. */
	EXPECT_EQ_INT(run(out, "clear", NULL, NULL, NULL), 0);
	EXPECT(out_has(out, "1 generation removed"));
	EXPECT_EQ_INT(run(out, "stats", NULL, NULL, NULL), 0);
	EXPECT(out_has(out, "no cache"));

	/* Usage errors exit 2. */
	EXPECT_EQ_INT(run(out, NULL, NULL, NULL, NULL), 2);
	EXPECT_EQ_INT(run(out, "frobnicate", NULL, NULL, NULL), 2);
	EXPECT_EQ_INT(run(out, "stats", "--bogus", NULL, NULL), 2);
	EXPECT_EQ_INT(run(out, "verify", "--json", NULL, NULL), 2);
	EXPECT_EQ_INT(run(out, "stats", "extra", NULL, NULL), 2);
	EXPECT_EQ_INT(run(out, "--help", NULL, NULL, NULL), 0);

	/* A world-readable directory is refused with the reason. */
	EXPECT(chmod(dir, 0755) == 0);
	EXPECT_EQ_INT(run(out, "stats", NULL, NULL, NULL), 1);
	EXPECT(out_has(out, "chmod 700"));

	ct_rmtree(tmp);
	return dd_test_done("test_cache_cli");
}
