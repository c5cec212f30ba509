/* cmd_file.c: `deid file IN OUT`: de-identify one file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

static void cf_usage(FILE *f)
{
	fprintf(f,
"usage: deid file IN OUT [-p POLICY | --preset NAME] [--key-file F]\n"
"                [--src DIR]\n"
"\n"
"De-identify the file IN into OUT (OUT may be - for standard output).\n"
"If IN is hidden by the view (not DICOM/FHIR, unparsable, excluded by the\n"
"policy), nothing is written, the reason is printed and the exit status\n"
"is 3 (1 for errors).  --src DIR names the source root whose FHIR files\n"
"build the patient index (patientLinking \"auto\"), as a mount of DIR\n"
"would; without it only the policy's linking sources are used.\n");
}

int dd_tool_file_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"policy", required_argument, NULL, 'p'},
		{"preset", required_argument, NULL, 'P'},
		{"key-file", required_argument, NULL, 'k'},
		{"src", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct dd_tool_policy_opts po = {0};
	struct dd_manifest m;
	struct dd_policy *pol = NULL;
	struct dd_view *v = NULL;
	struct dd_ident id;
	struct stat st;
	const char *in, *out;
	char *tmp = NULL, *namebuf = NULL;
	int c, fd = -1, ofd = -1, rc = DD_EXIT_FAIL;
	dd_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': po.file = optarg; break;
		case 'P': po.preset = optarg; break;
		case 'k': po.key_file = optarg; break;
		case 's': po.src_dir = optarg; break;
		case 'h': cf_usage(stdout); return DD_EXIT_OK;
		default: cf_usage(stderr); return DD_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		cf_usage(stderr);
		return DD_EXIT_USAGE;
	}
	in = argv[optind];
	out = argv[optind + 1];
	dd_manifest_init(&m);
	v = dd_tool_open_view(&po, &pol);
	if (!v)
		goto out_free;
	/* O_NOATIME where permitted: reading must not touch the source */
	fd = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "deid: %s: %s\n", in, strerror(errno));
		goto out_free;
	}
	dd_ident_from_stat(&st, &id);
	namebuf = strdup(in);
	if (!namebuf)
		goto out_free;
	e = dd_view_manifest(v, fd, &id, basename(namebuf), "(file)", &m);
	if (e) {
		fprintf(stderr, "deid: %s: %s\n", in, dd_strerror(e));
		goto out_free;
	}
	if (m.reason != DD_REASON_NONE) {
		fprintf(stderr, "deid: %s: hidden (%s, %s)\n", in,
			dd_kind_name(m.kind), dd_reason_name(m.reason));
		rc = dd_reason_is_error(m.reason) ? DD_EXIT_FAIL
						   : DD_EXIT_HIDDEN;
		goto out_free;
	}
	if (!strcmp(out, "-")) {
		e = dd_manifest_write_fd(&m, fd, STDOUT_FILENO);
	} else {
		if (asprintf(&tmp, "%s.deid-tmp", out) < 0) {
			tmp = NULL;
			goto out_free;
		}
		ofd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (ofd < 0) {
			fprintf(stderr, "deid: %s: %s\n", tmp, strerror(errno));
			goto out_free;
		}
		e = dd_manifest_write_fd(&m, fd, ofd);
		if (close(ofd) < 0 && !e)
			e = DD_E_IO;
		ofd = -1;
		if (!e && rename(tmp, out) < 0)
			e = DD_E_IO;
		if (e)
			unlink(tmp);
	}
	if (e) {
		fprintf(stderr, "deid: %s: %s\n", out, dd_strerror(e));
		goto out_free;
	}
	rc = DD_EXIT_OK;
out_free:
	if (ofd >= 0)
		close(ofd);
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(namebuf);
	dd_manifest_free(&m);
	dd_view_free(v);
	dd_policy_free(pol);
	return rc;
}
