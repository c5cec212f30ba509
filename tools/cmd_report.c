/* cmd_report.c: `deid report MNT [--json]`: the counters of a running
 * deidfs mount.
 *
 * The daemon serves them as JSON through getxattr(2) on the mount's root
 * under "user.deidfs.counters", a name listxattr does not list (nothing
 * extra appears in readdir).  No FUSE header here: one getxattr call.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include <json-c/json.h>

#include "tool.h"

#define CR_XATTR "user.deidfs.counters"
#define CR_MAX (1 << 20)

static void cr_usage(FILE *f)
{
	fprintf(f,
"usage: deid report MNT [--json]\n"
"\n"
"Print the counters of the deidfs mount at MNT: files served and hidden\n"
"(by reason), cache hits and misses, errors, name collisions.  --json\n"
"prints the daemon's JSON as is.\n");
}

/* The counters JSON of @mnt, malloc'd; NULL (errno set) on failure. */
static char *cr_fetch(const char *mnt)
{
	ssize_t n = getxattr(mnt, CR_XATTR, NULL, 0);
	char *buf;

	if (n < 0)
		return NULL;
	if (n > CR_MAX) {
		errno = E2BIG;
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	n = getxattr(mnt, CR_XATTR, buf, (size_t)n);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static void cr_line(json_object *o, const char *key, const char *label)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		printf("  %-26s %s\n", label, json_object_get_string(v));
}

static void cr_print(json_object *o)
{
	json_object *hidden;

	printf("deidfs report\n");
	cr_line(o, "version", "version:");
	cr_line(o, "policy_hash", "policy hash:");
	cr_line(o, "key_fingerprint", "key fingerprint:");
	cr_line(o, "served_files", "files served:");
	cr_line(o, "hidden_files", "files hidden:");
	if (json_object_object_get_ex(o, "hidden", &hidden) &&
	    json_object_is_type(hidden, json_type_object)) {
		json_object_object_foreach(hidden, k, v) {
			if (json_object_get_int64(v) != 0)
				printf("    %-24s %s\n", k,
				       json_object_get_string(v));
		}
	}
	cr_line(o, "hidden_names", "hidden names:");
	cr_line(o, "name_collisions", "name collisions:");
	cr_line(o, "errors", "errors:");
	cr_line(o, "opens", "opens:");
	cr_line(o, "reads", "reads:");
	cr_line(o, "bytes_served", "bytes served:");
	cr_line(o, "changed_during_read", "reads refused (changed):");
	cr_line(o, "transforms", "transforms:");
	cr_line(o, "transform_errors", "transform errors:");
	cr_line(o, "size_only_transforms", "stats without OCR:");
	cr_line(o, "ocr_calls", "OCR calls:");
	cr_line(o, "cache", "cache:");
	cr_line(o, "cache_hits", "cache hits:");
	cr_line(o, "cache_misses", "cache misses:");
	cr_line(o, "cache_corrupt", "cache records dropped:");
	cr_line(o, "cache_entries", "cache entries:");
	cr_line(o, "write_attempts", "writes refused:");
	cr_line(o, "inodes", "inodes held:");
}

int dd_tool_report_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	json_object *o;
	bool json = false;
	char *text;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': cr_usage(stdout); return DD_EXIT_OK;
		default: cr_usage(stderr); return DD_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cr_usage(stderr);
		return DD_EXIT_USAGE;
	}
	text = cr_fetch(argv[optind]);
	if (!text) {
		fprintf(stderr, "deid report: %s: %s%s\n", argv[optind],
			strerror(errno),
			errno == ENODATA || errno == ENOTSUP
				? " (not a deidfs mount?)" : "");
		return DD_EXIT_FAIL;
	}
	if (json) {
		fputs(text, stdout);
		free(text);
		return DD_EXIT_OK;
	}
	o = json_tokener_parse(text);
	free(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		fprintf(stderr, "deid report: %s: malformed counters\n",
			argv[optind]);
		return DD_EXIT_FAIL;
	}
	cr_print(o);
	json_object_put(o);
	return DD_EXIT_OK;
}
