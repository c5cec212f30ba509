/* dd_cache_dir.c: the cache directory, its generations and their locks.
 *
 * Why generations: a damaged LMDB file may still be mapped by other live
 * processes, and deleting or truncating it under them would crash them
 * (SIGBUS).  So a rebuild creates env.N+1 and moves `current`; env.N is
 * deleted later by whoever finds that nobody holds env.N/holders any more.
 * Every change of `current` and every deletion happens under DIR/lock, so
 * "read current, then take LOCK_SH on its holders" cannot race with a
 * deletion.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dd_cache_i.h"
#include "dd_log.h"

void dd_cache_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

bool dd_cache_fs_is_local(long fs_type, const char **name)
{
	/* statfs(2) magic numbers of filesystems where LMDB's mmap and
	 * locks are not safe (linux/magic.h, and the out-of-tree ones). */
	static const struct {
		uint32_t magic;
		const char *name;
	} remote[] = {
		{0x6969, "NFS"},
		{0x517B, "SMB"},
		{0xFF534D42, "CIFS"},
		{0xFE534D42, "SMB2"},
		{0x65735546, "FUSE"},
		{0x01021997, "9P"},
		{0x5346414F, "AFS"},
		{0x6B414653, "kAFS"},
		{0x00C36400, "Ceph"},
		{0x73757245, "Coda"},
		{0x564C, "NCP"},
		{0x0BD00BD0, "Lustre"},
		{0x47504653, "GPFS"},
		{0x013111A8, "IBRIX"},
		{0x786F4256, "vboxsf"},
	};
	uint32_t t = (uint32_t)fs_type;

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		if (remote[i].magic == t) {
			if (name)
				*name = remote[i].name;
			return false;
		}
	}
	return true;
}

/* mkdir -p @path, every created component mode 0700. */
static int mkdirs_0700(const char *path)
{
	char *p = strdup(path);
	int ret = 0;

	if (!p)
		return -1;
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		*s = saved;
		if (!saved)
			break;
	}
	free(p);
	return ret;
}

dd_err dd_cache_dir_check(const char *dir, bool create, char *err,
			  size_t errlen)
{
	struct statfs sfs;
	struct stat st;
	const char *fsname = NULL;
	dd_err rc = DD_OK;
	int fd;

	if (!dir || !*dir) {
		dd_cache_set_err(err, errlen, "cache: no cache directory given");
		return DD_E_INVAL;
	}
	if (create && mkdirs_0700(dir) < 0) {
		dd_cache_set_err(err, errlen, "cache: cannot create %s: %s", dir,
			strerror(errno));
		return DD_E_IO;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT) {
			dd_cache_set_err(err, errlen, "cache: %s does not exist", dir);
			return DD_E_NOTFOUND;
		}
		dd_cache_set_err(err, errlen, "cache: cannot open %s: %s%s", dir,
			strerror(e), (e == ELOOP || e == ENOTDIR) ?
			" (the cache directory must be a directory, "
			"not a symlink)" : "");
		return (e == ELOOP || e == ENOTDIR) ? DD_E_INVAL : DD_E_IO;
	}
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		dd_cache_set_err(err, errlen, "cache: cannot stat %s: %s", dir,
			strerror(errno));
		rc = DD_E_IO;
		goto out_close_fd;
	}
	if (st.st_uid != geteuid()) {
		dd_cache_set_err(err, errlen,
			"cache: %s is owned by uid %u, not by us (uid %u); "
			"refusing to use it", dir, (unsigned)st.st_uid,
			(unsigned)geteuid());
		rc = DD_E_INVAL;
		goto out_close_fd;
	}
	if (st.st_mode & 077) {
		dd_cache_set_err(err, errlen,
			"cache: %s has mode %04o: group or others can reach "
			"the cache (it holds PHI); run chmod 700 on it", dir,
			(unsigned)(st.st_mode & 07777));
		rc = DD_E_INVAL;
		goto out_close_fd;
	}
	if (!dd_cache_fs_is_local((long)sfs.f_type, &fsname)) {
		dd_cache_set_err(err, errlen,
			"cache: %s is on %s; LMDB needs a local disk "
			"(choose another --cache-dir or DEIDFS_CACHE_DIR)",
			dir, fsname);
		rc = DD_E_INVAL;
		goto out_close_fd;
	}
out_close_fd:
	close(fd);
	return rc;
}

int dd_cache_dir_lock(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/lock", dir) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

void dd_cache_dir_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

bool dd_cache_gen_path(char *buf, size_t len, const char *dir, uint64_t gen,
		       const char *leaf)
{
	int n;

	if (leaf)
		n = snprintf(buf, len, "%s/env.%" PRIu64 "/%s", dir, gen, leaf);
	else
		n = snprintf(buf, len, "%s/env.%" PRIu64, dir, gen);
	return n > 0 && (size_t)n < len;
}

/* "env.N" with N a decimal without leading zeros, N >= 1. */
static bool parse_gen_name(const char *name, uint64_t *gen)
{
	char *end;
	unsigned long long v;

	if (strncmp(name, "env.", 4) != 0 || name[4] < '1' || name[4] > '9')
		return false;
	errno = 0;
	v = strtoull(name + 4, &end, 10);
	if (errno || *end || v == 0)
		return false;
	*gen = v;
	return true;
}

dd_err dd_cache_gen_current(const char *dir, uint64_t *gen)
{
	char path[PATH_MAX], buf[32], *end;
	unsigned long long v;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/current", dir) >=
	    (int)sizeof(path))
		return DD_E_INVAL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? DD_E_NOTFOUND : DD_E_IO;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return DD_E_IO;
	buf[n] = '\0';
	if (buf[0] < '1' || buf[0] > '9')
		return DD_E_CORRUPT;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || v == 0 || strcmp(end, "\n") != 0)
		return DD_E_CORRUPT;
	*gen = v;
	return DD_OK;
}

/* The highest N of any env.N in @dir (0 if none). */
static dd_err gen_max(const char *dir, uint64_t *max)
{
	struct dirent *de;
	uint64_t g;
	DIR *d = opendir(dir);

	if (!d)
		return DD_E_IO;
	*max = 0;
	while ((de = readdir(d)))
		if (parse_gen_name(de->d_name, &g) && g > *max)
			*max = g;
	closedir(d);
	return DD_OK;
}

dd_err dd_cache_gen_create(const char *dir, uint64_t *gen)
{
	char path[PATH_MAX];
	uint64_t max, cur = 0;
	dd_err rc;
	int fd;

	rc = gen_max(dir, &max);
	if (rc)
		return rc;
	if (dd_cache_gen_current(dir, &cur) == DD_OK && cur > max)
		max = cur;
	*gen = max + 1;
	if (!dd_cache_gen_path(path, sizeof(path), dir, *gen, NULL))
		return DD_E_INVAL;
	if (mkdir(path, 0700) < 0)
		return DD_E_IO;
	if (!dd_cache_gen_path(path, sizeof(path), dir, *gen, "holders"))
		return DD_E_INVAL;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return DD_E_IO;
	close(fd);
	return DD_OK;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

dd_err dd_cache_gen_set_current(const char *dir, uint64_t gen)
{
	char tmp[PATH_MAX], path[PATH_MAX], buf[32];
	int fd, n;

	if (snprintf(tmp, sizeof(tmp), "%s/current.tmp", dir) >=
		    (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/current", dir) >=
		    (int)sizeof(path))
		return DD_E_INVAL;
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", gen);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return DD_E_IO;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		return DD_E_IO;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return DD_E_IO;
	}
	fsync_dir(dir);
	return DD_OK;
}

dd_err dd_cache_gen_unset_current(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/current", dir) >=
	    (int)sizeof(path))
		return DD_E_INVAL;
	if (unlink(path) < 0 && errno != ENOENT)
		return DD_E_IO;
	fsync_dir(dir);
	return DD_OK;
}

dd_err dd_cache_gen_hold(const char *dir, uint64_t gen, int *fd)
{
	char path[PATH_MAX];

	*fd = -1;
	if (!dd_cache_gen_path(path, sizeof(path), dir, gen, "holders"))
		return DD_E_INVAL;
	*fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return errno == ENOENT ? DD_E_CORRUPT : DD_E_IO;
	while (flock(*fd, LOCK_SH) < 0) {
		if (errno != EINTR) {
			close(*fd);
			*fd = -1;
			return DD_E_IO;
		}
	}
	return DD_OK;
}

/* Delete generation @gen if nobody holds it.  Only the names the cache
 * creates are removed; a foreign file keeps the directory (logged). */
static bool gen_remove(const char *dir, uint64_t gen)
{
	static const char *const leaves[] = {"data.mdb", "lock.mdb",
					     "holders"};
	char path[PATH_MAX], gdir[PATH_MAX];
	bool removed = false;
	int fd;

	if (!dd_cache_gen_path(gdir, sizeof(gdir), dir, gen, NULL) ||
	    !dd_cache_gen_path(path, sizeof(path), dir, gen, "holders"))
		return false;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto out_close_fd; /* held: a live process uses it */
	if (fd < 0 && errno != ENOENT)
		return false;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		if (dd_cache_gen_path(path, sizeof(path), dir, gen,
				      leaves[i]) &&
		    unlink(path) < 0 && errno != ENOENT)
			dd_log(DD_LOG_WARN, "cache: cannot remove %s: %s",
			       path, strerror(errno));
	}
	if (rmdir(gdir) == 0)
		removed = true;
	else
		dd_log(DD_LOG_WARN,
		       "cache: %s not removed: %s (files the cache did not "
		       "create are left alone)", gdir, strerror(errno));
out_close_fd:
	if (fd >= 0)
		close(fd);
	return removed;
}

unsigned dd_cache_gen_gc(const char *dir, uint64_t keep)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t *gens = NULL, g;
	size_t n = 0, cap = 0;
	unsigned removed = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	/* Collect first: removing entries while readdir runs is unspecified. */
	while ((de = readdir(d))) {
		if (!parse_gen_name(de->d_name, &g) || g == keep)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			uint64_t *ng = realloc(gens, ncap * sizeof(*ng));
			if (!ng)
				break;
			gens = ng;
			cap = ncap;
		}
		gens[n++] = g;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		removed += gen_remove(dir, gens[i]);
	free(gens);
	/* A temporary `current` left by a crash in dd_cache_gen_set_current. */
	if (snprintf(path, sizeof(path), "%s/current.tmp", dir) <
	    (int)sizeof(path))
		unlink(path);
	return removed;
}
