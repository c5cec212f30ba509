/* cmd_materialize.c: `deid materialize SRC DEST`: write the de-identified
 * view of SRC into DEST through dd_view, the same calls the daemon makes.
 *
 * Sequential for now.  Files are written to a temporary name and renamed,
 * so an interrupted run leaves no partial file under a view name; a rerun
 * skips files whose destination already carries the view timestamp
 * (resumable).  Logs name view paths only, never source names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dd_log.h"
#include "tool.h"

struct cm_stats {
	unsigned long written, unchanged, dirs, hidden_names, collisions;
	unsigned long hidden[DD_REASON_LAST];
	unsigned long failed; /* write errors, changed sources */
	unsigned long long bytes;
};

struct cm_run {
	struct dd_view *v;
	struct cm_stats st;
	struct dd_pathbuf dest; /* absolute destination path */
	struct dd_pathbuf rel;  /* view path relative to DEST, for logs */
	bool force, quiet;
};

static void cm_usage(FILE *f)
{
	fprintf(f,
"usage: deid materialize SRC DEST [-p POLICY | --preset NAME] [--key-file F]\n"
"                        [--force] [-q] [-v]\n"
"\n"
"Write the de-identified view of the directory SRC into DEST (created if\n"
"needed): the same names and bytes a deidfs mount of SRC shows.  Files are\n"
"mode 0444 with the view's timestamps.  A rerun skips files already\n"
"written (--force rewrites them).  Directories are mode 0755 (the mount\n"
"shows 0555) so DEST stays writable for reruns.  Exit status 1 if any\n"
"file was hidden for an error reason (unparsable, unsupported, limits) or\n"
"failed.\n");
}

static void cm_log_hidden(struct cm_run *r, const char *view_name,
			  enum dd_reason reason)
{
	r->st.hidden[reason]++;
	if (dd_reason_is_error(reason) || !r->quiet)
		dd_log(dd_reason_is_error(reason) ? DD_LOG_WARN : DD_LOG_INFO,
		       "%s/%s: hidden (%s)", r->rel.p, view_name,
		       dd_reason_name(reason));
}

static void cm_set_times(int dirfd, const char *name, struct timespec ts)
{
	struct timespec t[2] = {ts, ts};

	utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW);
}

static int cm_file(struct cm_run *r, int sdir, int ddir,
		   const struct dd_view_dirent *ent)
{
	struct dd_manifest m;
	struct dd_ident id;
	struct timespec ts;
	struct stat st, dst;
	char tmp[NAME_MAX + 16];
	int fd = -1, ofd = -1;
	bool written = false;
	dd_err e;

	e = dd_view_open_beneath(sdir, ent->src_name, O_NOFOLLOW, &fd);
	if (e || fstat(fd, &st) < 0) {
		cm_log_hidden(r, ent->view_name,
			      e == DD_E_IO && errno == ELOOP
				      ? DD_REASON_SPECIAL_FILE
				      : DD_REASON_UNREADABLE);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	dd_ident_from_stat(&st, &id);
	ts = dd_view_timestamp(r->v, &id);
	if (!r->force && fstatat(ddir, ent->view_name, &dst,
				 AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(dst.st_mode) && dst.st_mtim.tv_sec == ts.tv_sec &&
	    (dst.st_mode & 07777) == 0444) {
		r->st.unchanged++;
		close(fd);
		return 0;
	}
	dd_manifest_init(&m);
	/* the temporary file first: FHIR output is written while it is
	 * transformed (once), anything else from the manifest below */
	snprintf(tmp, sizeof(tmp), ".%s.deid-tmp", ent->view_name);
	ofd = openat(ddir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ofd < 0) {
		dd_log(DD_LOG_ERR, "%s/%s: cannot create: %s", r->dest.p,
		       ent->view_name, strerror(errno));
		r->st.failed++;
		goto out;
	}
	e = dd_view_manifest_write(r->v, fd, &id, ent->src_name,
				   ent->view_name, &m, ofd, &written);
	if (e || m.reason != DD_REASON_NONE) {
		if (e) {
			dd_log(DD_LOG_WARN, "%s/%s: %s", r->rel.p,
			       ent->view_name, dd_strerror(e));
			r->st.failed++;
		} else {
			cm_log_hidden(r, ent->view_name, m.reason);
		}
		close(ofd);
		unlinkat(ddir, tmp, 0);
		goto out;
	}
	if (!written)
		e = dd_manifest_write_fd(&m, fd, ofd);
	if (!e) {
		/* the source must not have changed while we copied it */
		if (fstat(fd, &st) < 0)
			e = DD_E_IO;
		else {
			struct dd_ident now;

			dd_ident_from_stat(&st, &now);
			if (!dd_ident_equal(&now, &id))
				e = DD_E_CHANGED;
		}
	}
	if (!e && fchmod(ofd, 0444) < 0)
		e = DD_E_IO;
	if (close(ofd) < 0 && !e)
		e = DD_E_IO;
	if (!e && renameat(ddir, tmp, ddir, ent->view_name) < 0)
		e = DD_E_IO;
	if (e) {
		unlinkat(ddir, tmp, 0);
		dd_log(DD_LOG_WARN, "%s/%s: %s", r->rel.p, ent->view_name,
		       dd_strerror(e));
		r->st.failed++;
		goto out;
	}
	cm_set_times(ddir, ent->view_name, ts);
	r->st.written++;
	r->st.bytes += m.size;
out:
	dd_manifest_free(&m);
	close(fd);
	return 0;
}

static int cm_dir(struct cm_run *r, int sdir, int ddir)
{
	struct dd_view_dir d;
	dd_err e;

	e = dd_view_list_dir(r->v, sdir, &d);
	if (e) {
		dd_log(DD_LOG_ERR, "%s: cannot list: %s", r->rel.p,
		       dd_strerror(e));
		r->st.failed++;
		return -1;
	}
	r->st.hidden_names += d.n_hidden_names;
	r->st.collisions += d.n_collisions;
	for (size_t i = 0; i < d.n; i++) {
		const struct dd_view_dirent *ent = &d.v[i];
		size_t pd, pr;
		int cs = -1, cd = -1;
		struct stat st;

		if (ent->d_type != DT_DIR) {
			cm_file(r, sdir, ddir, ent);
			continue;
		}
		pd = dd_pathbuf_push(&r->dest, ent->view_name);
		pr = dd_pathbuf_push(&r->rel, ent->view_name);
		if (pd == (size_t)-1 || pr == (size_t)-1) {
			dd_log(DD_LOG_ERR, "%s: path too long", r->rel.p);
			r->st.failed++;
			goto next;
		}
		if (dd_view_open_beneath(sdir, ent->src_name,
					 O_DIRECTORY | O_NOFOLLOW, &cs) ||
		    fstat(cs, &st) < 0) {
			cm_log_hidden(r, ent->view_name, DD_REASON_UNREADABLE);
			goto next;
		}
		if (mkdirat(ddir, ent->view_name, 0755) < 0 && errno != EEXIST) {
			dd_log(DD_LOG_ERR, "%s: mkdir: %s", r->dest.p,
			       strerror(errno));
			r->st.failed++;
			goto next;
		}
		cd = openat(ddir, ent->view_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cd < 0) {
			r->st.failed++;
			goto next;
		}
		r->st.dirs++;
		cm_dir(r, cs, cd);
		{
			struct dd_ident id;

			dd_ident_from_stat(&st, &id);
			cm_set_times(ddir, ent->view_name,
				     dd_view_timestamp(r->v, &id));
		}
next:
		if (cs >= 0)
			close(cs);
		if (cd >= 0)
			close(cd);
		if (pd != (size_t)-1)
			dd_pathbuf_pop(&r->dest, pd);
		if (pr != (size_t)-1)
			dd_pathbuf_pop(&r->rel, pr);
	}
	dd_view_dir_free(&d);
	return 0;
}

static unsigned long cm_print_summary(const struct cm_run *r,
				      const char *dest, const struct dd_policy *pol)
{
	unsigned long hidden = r->st.hidden_names + r->st.collisions, errors;

	errors = r->st.failed;
	for (int i = 1; i < DD_REASON_LAST; i++) {
		hidden += r->st.hidden[i];
		if (dd_reason_is_error((enum dd_reason)i))
			errors += r->st.hidden[i];
	}
	printf("deid materialize summary\n");
	printf("  files written:      %lu (%llu bytes)\n", r->st.written,
	       r->st.bytes);
	printf("  files up to date:   %lu\n", r->st.unchanged);
	printf("  directories:        %lu\n", r->st.dirs);
	printf("  hidden:             %lu\n", hidden);
	for (int i = 1; i < DD_REASON_LAST; i++)
		if (r->st.hidden[i])
			printf("    %-22s %lu%s\n", dd_reason_name((enum dd_reason)i),
			       r->st.hidden[i],
			       dd_reason_is_error((enum dd_reason)i) ? "  (error)"
								      : "");
	if (r->st.hidden_names)
		printf("    %-22s %lu\n", "hidden_name", r->st.hidden_names);
	if (r->st.collisions)
		printf("    %-22s %lu\n", "name_collision", r->st.collisions);
	if (r->st.failed)
		printf("  failed:             %lu  (error)\n", r->st.failed);
	printf("  output directory:   %s\n", dest);
	printf("  policy:             %s\n", pol->source ? pol->source : "?");
	printf("  policy hash:        %.16s\n", dd_view_policy_hash(r->v));
	printf("  key fingerprint:    %s\n", dd_view_key(r->v)->fingerprint);
	return errors;
}

int dd_tool_materialize_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"policy", required_argument, NULL, 'p'},
		{"preset", required_argument, NULL, 'P'},
		{"key-file", required_argument, NULL, 'k'},
		{"force", no_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct dd_tool_policy_opts po = {0};
	struct cm_run r = {0};
	struct dd_policy *pol = NULL;
	char dest_abs[PATH_MAX];
	int c, sfd = -1, dfd = -1, rc = DD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:qvh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': po.file = optarg; break;
		case 'P': po.preset = optarg; break;
		case 'k': po.key_file = optarg; break;
		case 'f': r.force = true; break;
		case 'q': r.quiet = true; break;
		case 'v': dd_log_set_level(DD_LOG_INFO); break;
		case 'h': cm_usage(stdout); return DD_EXIT_OK;
		default: cm_usage(stderr); return DD_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		cm_usage(stderr);
		return DD_EXIT_USAGE;
	}
	sfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "deid: %s: %s\n", argv[optind], strerror(errno));
		return DD_EXIT_FAIL;
	}
	if (dd_tool_mkdirs(argv[optind + 1], 0755) < 0 ||
	    !realpath(argv[optind + 1], dest_abs)) {
		fprintf(stderr, "deid: %s: %s\n", argv[optind + 1],
			strerror(errno));
		goto out_close;
	}
	dfd = open(dest_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "deid: %s: %s\n", dest_abs, strerror(errno));
		goto out_close;
	}
	po.src_dir = argv[optind];
	po.quiet = r.quiet;
	po.check_ocr = true;
	r.v = dd_tool_open_view(&po, &pol);
	if (!r.v)
		goto out_close;
	if (!dd_pathbuf_init(&r.dest, dest_abs) || !dd_pathbuf_init(&r.rel, "."))
		goto out_view;
	cm_dir(&r, sfd, dfd);
	{
		/* DEST itself gets the view timestamp of SRC, as `cp -a MNT/.
		 * DEST` would give it */
		struct stat st;
		struct dd_ident id;
		struct timespec t[2];

		if (fstat(sfd, &st) == 0) {
			dd_ident_from_stat(&st, &id);
			t[0] = t[1] = dd_view_timestamp(r.v, &id);
			futimens(dfd, t);
		}
	}
	rc = cm_print_summary(&r, dest_abs, pol) ? DD_EXIT_FAIL : DD_EXIT_OK;
out_view:
	dd_pathbuf_free(&r.dest);
	dd_pathbuf_free(&r.rel);
	dd_view_free(r.v);
	dd_policy_free(pol);
out_close:
	if (dfd >= 0)
		close(dfd);
	close(sfd);
	return rc;
}
