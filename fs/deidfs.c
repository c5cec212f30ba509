/* deidfs.c: main of the deidfs daemon: mount options, policy, key, cache,
 * FUSE session.
 *
 *     deidfs SRC MNT [-o policy=FILE|preset=NAME][,cache=DIR,key=KEYFILE,...]
 *
 * The argument order is the one mount.fuse3 uses for /etc/fstab and
 * `mount -t fuse.deidfs SRC MNT -o ...`.  Readiness is signalled through
 * -o notify_pipe=FIFO ("s" once mounted, "f" on failure), as squashfuse
 * does, so scripts wait on it instead of sleeping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dd_log.h"
#include "dd_ocr.h"
#include "fs_ops.h"

enum { FS_KEY_ALLOW_OTHER, FS_KEY_HELP_MOUNT };

#define FS_OPT(t, field, v) {t, offsetof(struct dd_fs_config, field), v}

static const struct fuse_opt fs_opts[] = {
	FS_OPT("policy=%s", policy_file, 0),
	FS_OPT("preset=%s", preset, 0),
	FS_OPT("key=%s", key_file, 0),
	FS_OPT("cache=%s", cache_dir, 0),
	FS_OPT("notify_pipe=%s", notify_pipe, 0),
	FS_OPT("uid=%u", uid, 0),
	FS_OPT("uid=", uid_set, 1),
	FS_OPT("gid=%u", gid, 0),
	FS_OPT("gid=", gid_set, 1),
	FS_OPT("umask=%o", umask, 0),
	FS_OPT("attr_timeout=%lf", attr_timeout, 0),
	FS_OPT("workers=%u", workers, 0),
	FS_OPT("listing_cache=%u", listing_cache_kib, 0),
	FS_OPT("listing_cache=", listing_cache_set, 1),
	FS_OPT("read_ahead_kb=%u", read_ahead_kb, 0),
	FS_OPT("read_ahead_kb=", read_ahead_set, 1),
	FS_OPT("prefill_kb=%u", prefill_kb, 0),
	FS_OPT("prefill_kb=", prefill_set, 1),
	FS_OPT("verbose", verbose, 1),
	FUSE_OPT_KEY("allow_other", FS_KEY_ALLOW_OTHER),
	FUSE_OPT_END
};

static void fs_usage(const char *prog)
{
	printf("usage: %s SRC MNT [-o policy=FILE|preset=NAME][,options]\n\n",
	       prog);
}

static void fs_help(void)
{
	printf(
"deidfs options:\n"
"    -o policy=FILE         the de-identification policy (DeidentifyConfig\n"
"                           JSON + \"deidfs\" object); checked at mount: a\n"
"                           bad policy prints its diagnostics and exits 1\n"
"    -o preset=NAME         a built-in policy instead (default, safe-harbor,\n"
"                           keep-dates, minimal); default: \"default\"\n"
"    -o key=KEYFILE         the key file (default: the policy's keyFile, or\n"
"                           $DEIDFS_KEY_FILE, or ~/.config/deidfs/key,\n"
"                           generated once with mode 0600)\n"
"    -o cache=DIR           the cache directory (default: the policy's\n"
"                           cacheDir, or $DEIDFS_CACHE_DIR, or\n"
"                           ~/.cache/deidfs); cache=none: no cache\n"
"    -o uid=N,gid=N         owner of every file (default: the mounting user)\n"
"    -o umask=M             octal; files are 0444 & ~M, directories 0555 & ~M\n"
"                           (default 0)\n"
"    -o attr_timeout=S      seconds the kernel caches names and attributes,\n"
"                           and how often listings re-check sources\n"
"                           (default 1.0)\n"
"    -o workers=N           threads that classify the files of one\n"
"                           directory listing (default: number of CPUs)\n"
"    -o listing_cache=KIB   memory for the listings of recently used\n"
"                           directories (default 12288 KiB); a directory\n"
"                           whose listing was dropped is listed again\n"
"    -o read_ahead_kb=KIB   the mount's read-ahead, set through sysfs when\n"
"                           run as root (default 4096: a 256 KiB file is\n"
"                           one READ); 0 keeps the kernel's 128 KiB\n"
"    -o prefill_kb=KIB      files up to this size are read whole at their\n"
"                           first open and stored in the kernel's page\n"
"                           cache: the reader makes no READ request\n"
"                           (default and largest 1024); 0: never\n"
"    -o notify_pipe=FIFO    write \"s\" to FIFO once mounted, \"f\" on failure\n"
"    -o verbose             log hidden files and other events (info level)\n"
"    -o allow_other         let other users read (implies\n"
"                           default_permissions)\n"
"The mount is always read-only.  Logs go to syslog unless -f is given.\n"
"\n");
}

static int fs_opt_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct dd_fs_config *cfg = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!cfg->source) {
			cfg->source = strdup(arg);
			return cfg->source ? 0 : -1;
		}
		return 1; /* the mount point: fuse_parse_cmdline takes it */
	case FS_KEY_ALLOW_OTHER:
		cfg->allow_other = 1;
		return 1; /* for the kernel, too */
	default:
		return 1;
	}
}

/* Write @c to the notify pipe (if any), once. */
static void fs_notify(const char *fifo, char c)
{
	int fd;

	if (!fifo)
		return;
	fd = open(fifo, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		dd_log(DD_LOG_WARN, "notify_pipe: cannot open: %s",
		       strerror(errno));
		return;
	}
	if (write(fd, &c, 1) != 1)
		dd_log(DD_LOG_WARN, "notify_pipe: write failed");
	close(fd);
}

static struct dd_policy *fs_load_policy(const struct dd_fs_config *cfg)
{
	struct dd_diags diags = {0};
	struct dd_policy *pol = NULL;
	dd_err e;

	if (cfg->policy_file && cfg->preset) {
		fprintf(stderr, "deidfs: give either policy= or preset=\n");
		return NULL;
	}
	if (!cfg->policy_file) {
		const char *name = cfg->preset ? cfg->preset : "default";

		e = dd_policy_builtin(name, &pol);
		if (e)
			fprintf(stderr, "deidfs: preset \"%s\": %s\n", name,
				dd_strerror(e));
		return e ? NULL : pol;
	}
	e = dd_policy_load_file(cfg->policy_file, &pol, &diags);
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "%s: %s\n",
			diags.v[i].level == DD_DIAG_ERROR ? "error" : "warning",
			diags.v[i].message);
	dd_diags_free(&diags);
	if (e && e != DD_E_POLICY)
		fprintf(stderr, "deidfs: %s: %s\n", cfg->policy_file,
			dd_strerror(e));
	if (e)
		fprintf(stderr, "deidfs: refusing to mount with a bad policy\n");
	return e ? NULL : pol;
}

/* An absolute copy of @path (which may not exist yet). */
static char *fs_abspath(const char *path)
{
	char cwd[PATH_MAX], *out;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

/* The cache directory to use, or NULL for none.  *explicit_dir says the
 * user named it (then failing to open it is fatal). */
static char *fs_cache_dir(const struct dd_fs *fs, bool *explicit_dir)
{
	const char *d = fs->cfg.cache_dir;

	*explicit_dir = d != NULL;
	if (d && strcmp(d, "none") == 0)
		return NULL;
	if (!d)
		d = fs->pol->deidfs.cache_dir;
	if (d)
		return fs_abspath(d);
	return dd_cache_default_dir();
}

static int fs_open_cache(struct dd_fs *fs, const char *dir, bool explicit_dir,
			 bool keep)
{
	char err[DD_CACHE_ERRLEN] = "";
	dd_err e;

	if (!dir)
		return 0;
	e = dd_cache_open(dir, fs->pol->deidfs.cache_size, 0, &fs->cache, err,
			  sizeof(err));
	if (e) {
		fs->cache = NULL;
		if (explicit_dir) {
			fprintf(stderr, "deidfs: cache: %s\n",
				err[0] ? err : dd_strerror(e));
			return -1;
		}
		dd_log(DD_LOG_WARN, "cache: %s; running without a cache",
		       err[0] ? err : dd_strerror(e));
		return 0;
	}
	if (!keep) { /* checked before the fork; reopened after it */
		dd_cache_close(fs->cache);
		fs->cache = NULL;
	}
	return 0;
}

static void fs_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void fs_print_version(void)
{
	printf("deidfs %s (engine %s)\n", DD_VERSION, DD_ENGINE_VERSION);
	printf("FUSE library version %s\n", fuse_pkgversion());
	fflush(stdout); /* fuse_lowlevel_version() runs fusermount3 -V */
	fuse_lowlevel_version();
}

static int fs_setup(struct dd_fs *fs, struct dd_view_opts *vo)
{
	char err[512] = "";
	dd_err e;
	int fd;

	fs->pol = fs_load_policy(&fs->cfg);
	if (!fs->pol)
		return -1;
	/* the OCR workers start at the first image that needs them; a
	 * broken tesseract install must still be learnt here, at mount
	 * time, not from images hidden later (and before the FHIR index's
	 * scan, which can take minutes) */
	if (dd_image_check_ocr(fs->pol, err, sizeof(err))) {
		fprintf(stderr, "deidfs: %s\n", err);
		return -1;
	}
	e = dd_view_new(fs->pol, vo, &fs->view, err, sizeof(err));
	if (e) {
		fprintf(stderr, "deidfs: %s\n", err[0] ? err : dd_strerror(e));
		return -1;
	}
	fd = open(fs->cfg.source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "deidfs: %s: %s\n", fs->cfg.source,
			strerror(errno));
		return -1;
	}
	if (fs->cfg.listing_cache_set) /* 0: keep none (1 byte fits none) */
		fs->listing_budget = fs->cfg.listing_cache_kib ?
			(uint64_t)fs->cfg.listing_cache_kib << 10 : 1;
	e = fs_init(fs, fd);
	if (e) {
		close(fd);
		fprintf(stderr, "deidfs: %s\n", dd_strerror(e));
		return -1;
	}
	return 0;
}

static void fs_teardown(struct dd_fs *fs)
{
	fs_housekeeping_stop(fs);
	dd_cache_close(fs->cache);
	fs->cache = NULL;
	fs_destroy(fs);
	dd_view_free(fs->view);
	dd_policy_free(fs->pol);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = {0};
	struct fuse_loop_config *lc;
	struct fuse_session *se = NULL;
	struct dd_fs fs;
	struct dd_view_opts vo = {.may_generate_key = true};
	char *cache_dir = NULL, *notify = NULL;
	bool explicit_cache = false;
	int ret = 1;

	(void)dd_ocr_ensure_env(argc, argv); /* OMP_THREAD_LIMIT=1 for OCR */
	memset(&fs, 0, sizeof(fs));
	fs.root.fd = -1;
	fs.cfg.attr_timeout = 1.0;
	if (fuse_opt_parse(&args, &fs.cfg, fs_opts, fs_opt_proc) == -1)
		return 1;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help) {
		fs_usage(argv[0]);
		fs_help();
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		fs_print_version();
		ret = 0;
		goto out_args;
	}
	if (fs.cfg.notify_pipe)
		notify = realpath(fs.cfg.notify_pipe, NULL);
	if (!fs.cfg.source || !opts.mountpoint) {
		fs_usage(argv[0]);
		printf("       %s --help\n", argv[0]);
		goto out_fail;
	}
	if (fs.cfg.attr_timeout < 0) {
		fprintf(stderr, "deidfs: attr_timeout is negative\n");
		goto out_fail;
	}
	{
		char *abs = realpath(fs.cfg.source, NULL);

		if (!abs) {
			fprintf(stderr, "deidfs: %s: %s\n", fs.cfg.source,
				strerror(errno));
			goto out_fail;
		}
		free(fs.cfg.source);
		fs.cfg.source = abs;
	}
	/* the FHIR patient index of patientLinking "auto" scans SRC; it is
	 * stored under the cache directory, so a named one must be the
	 * index's too (dd_index_default_store() reads $DEIDFS_CACHE_DIR) */
	vo.src_dir = fs.cfg.source;
	vo.progress = stderr;
	if (fs.cfg.cache_dir && strcmp(fs.cfg.cache_dir, "none") != 0) {
		char *abs = fs_abspath(fs.cfg.cache_dir);

		if (!abs || setenv("DEIDFS_CACHE_DIR", abs, 1) != 0) {
			free(abs);
			goto out_fail;
		}
		free(abs);
	}
	if (!fs.cfg.uid_set)
		fs.cfg.uid = getuid();
	if (!fs.cfg.gid_set)
		fs.cfg.gid = getgid();
	fs.cfg.umask &= 0777;
	if (!fs.cfg.read_ahead_set)
		fs.cfg.read_ahead_kb = FS_READ_AHEAD_KB;
	/* at most one READ's worth: the per-thread buffers stay as they are */
	if (!fs.cfg.prefill_set || fs.cfg.prefill_kb > FS_PREFILL_KB)
		fs.cfg.prefill_kb = FS_PREFILL_KB;
	if (getenv("DEIDFS_TEST_PREFILL_DELAY_US"))
		fs.cfg.test_prefill_delay_us =
			(unsigned)atoi(getenv("DEIDFS_TEST_PREFILL_DELAY_US"));
	if (!fs.cfg.workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		fs.cfg.workers = n > 0 ? (unsigned)n : 1;
	}
	if (opts.debug)
		dd_log_set_level(DD_LOG_DEBUG);
	else if (fs.cfg.verbose)
		dd_log_set_level(DD_LOG_INFO);
	vo.key_file = fs.cfg.key_file;
	if (fs_setup(&fs, &vo) != 0)
		goto out_fail;
	cache_dir = fs_cache_dir(&fs, &explicit_cache);
	/* in the foreground the cache is opened once, here; a daemon checks
	 * it here and opens it again after the fork */
	if (fs_open_cache(&fs, cache_dir, explicit_cache, opts.foreground) != 0)
		goto out_fail;
	fs_raise_nofile();

	/* ours first, so the user's fsname/subtype win; "ro" last, so it
	 * wins over a "rw" from mount(8) */
	if (fuse_opt_insert_arg(&args, 1, "-ofsname=deidfs,subtype=deidfs") ||
	    fuse_opt_add_arg(&args, "-oro") ||
	    (fs.cfg.allow_other &&
	     fuse_opt_add_arg(&args, "-odefault_permissions")))
		goto out_fail;
	se = fuse_session_new(&args, &dd_fs_ops, sizeof(dd_fs_ops), &fs);
	if (!se)
		goto out_fail;
	fs.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_fail;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fs_read_ahead_prepare(&fs, opts.mountpoint);
	if (!opts.foreground)
		dd_log_to_syslog("deidfs");
	fuse_daemonize(opts.foreground);
	/* LMDB and its writer thread must not cross the fork */
	if (!opts.foreground &&
	    fs_open_cache(&fs, cache_dir, explicit_cache, true) != 0)
		goto out_unmount;
	dd_log(DD_LOG_INFO, "mounted (policy hash %.16s, key %s, cache %s)",
	       dd_view_policy_hash(fs.view), dd_view_key(fs.view)->fingerprint,
	       fs.cache ? "on" : "off");
	/* after the fork, like the cache's writer thread */
	if (fs_housekeeping_start(&fs) != DD_OK)
		dd_log(DD_LOG_WARN, "no housekeeping thread: memory is not "
		       "trimmed");
	fs_notify(notify, 's');
	free(notify);
	notify = NULL;
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)opts.clone_fd);
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, opts.max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, opts.max_threads);
		ret = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	ret = ret < 0 ? 1 : 0; /* a signal (SIGTERM, SIGINT) is a clean end */
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_fail:
	if (ret != 0)
		fs_notify(notify, 'f');
	if (se)
		fuse_session_destroy(se);
	fs_teardown(&fs);
	free(cache_dir);
	free(notify);
	free(fs.cfg.source);
	free(fs.cfg.policy_file);
	free(fs.cfg.preset);
	free(fs.cfg.key_file);
	free(fs.cfg.cache_dir);
	free(fs.cfg.notify_pipe);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
