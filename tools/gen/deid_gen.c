/* deid_gen.c: `deid-gen`, the synthetic test-data generator: a small
 * sample with fake PHI, CT series and small files for benchmarks, and the
 * golden-test inputs.  Deterministic: same arguments, same bytes. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

enum { GEN_EXIT_OK = 0, GEN_EXIT_FAIL = 1, GEN_EXIT_USAGE = 2 };

static void gen_usage(FILE *f)
{
	fprintf(f,
"usage: deid-gen [--seed N] COMMAND ARGS\n"
"\n"
"Writes synthetic DICOM and FHIR test data with FAKE PHI.  Output is\n"
"deterministic: the same command (and seed) gives the same bytes.\n"
"\n"
"commands:\n"
"  sample DIR                 a small sample dataset (3 fake patients,\n"
"                             DICOM CT/MR/DX/CR, FHIR JSON and NDJSON,\n"
"                             junk files that the view hides); < 2 MB\n"
"  ct DIR --count N [--rows R --cols C]\n"
"                             N CT slices (default 512x512, 16-bit),\n"
"                             ~100-element headers, 100 slices a series\n"
"  small DIR --count N        N small (16x16) images of various modalities\n"
"  golden DIR                 the inputs of the golden tests\n"
"\n"
"options:\n"
"  --seed N                   vary every generated value (default 0)\n"
"  -h, --help                 this text\n"
"\n"
"Exit status: 0 done, 1 a write failed, 2 bad command line.\n");
}

/* A positive int no larger than @max from @s, or -1. */
static long gen_parse_count(const char *what, const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max) {
		fprintf(stderr, "deid-gen: %s: expected 1..%ld, got '%s'\n",
			what, max, s);
		return -1;
	}
	return v;
}

/* Options of ct/small: --count, --rows, --cols. */
struct gen_opts {
	long count, rows, cols;
};

static int gen_parse_sub(int argc, char **argv, struct gen_opts *o,
			 bool geometry)
{
	static const struct option lo[] = {
		{"count", required_argument, NULL, 'n'},
		{"rows", required_argument, NULL, 'r'},
		{"cols", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->count = gen_parse_count("--count", optarg, 10000000);
			if (o->count < 0)
				return -1;
			break;
		case 'r':
		case 'c':
			if (!geometry) {
				fprintf(stderr, "deid-gen: %s takes no --rows/--cols\n",
					argv[0]);
				return -1;
			}
			if (c == 'r')
				o->rows = gen_parse_count("--rows", optarg, 4096);
			else
				o->cols = gen_parse_count("--cols", optarg, 4096);
			if (o->rows < 0 || o->cols < 0)
				return -1;
			break;
		case 'h':
			gen_usage(stdout);
			exit(GEN_EXIT_OK);
		default:
			return -1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "deid-gen: %s needs one directory\n", argv[0]);
		return -1;
	}
	if (!o->count) {
		fprintf(stderr, "deid-gen: %s needs --count N\n", argv[0]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_opts o = {0, 512, 512};
	const char *cmd;
	int i = 1, rc;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			gen_usage(stdout);
			return GEN_EXIT_OK;
		}
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			char *end;
			errno = 0;
			gen_seed = strtoull(argv[i + 1], &end, 10);
			if (errno || end == argv[i + 1] || *end) {
				fprintf(stderr, "deid-gen: bad --seed '%s'\n",
					argv[i + 1]);
				return GEN_EXIT_USAGE;
			}
			i += 2;
			continue;
		}
		fprintf(stderr, "deid-gen: unknown option '%s'\n", argv[i]);
		gen_usage(stderr);
		return GEN_EXIT_USAGE;
	}
	if (i >= argc) {
		gen_usage(stderr);
		return GEN_EXIT_USAGE;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "sample") || !strcmp(cmd, "golden")) {
		if (argc == 2 && (!strcmp(argv[1], "-h") ||
				  !strcmp(argv[1], "--help"))) {
			gen_usage(stdout);
			return GEN_EXIT_OK;
		}
		if (argc != 2 || argv[1][0] == '-') {
			fprintf(stderr, "deid-gen: %s needs one directory\n",
				cmd);
			return GEN_EXIT_USAGE;
		}
		rc = !strcmp(cmd, "sample") ? gen_cmd_sample(argv[1])
					    : gen_cmd_golden(argv[1]);
	} else if (!strcmp(cmd, "ct") || !strcmp(cmd, "small")) {
		bool ct = !strcmp(cmd, "ct");
		if (gen_parse_sub(argc, argv, &o, ct) < 0) {
			fprintf(stderr, "try: deid-gen --help\n");
			return GEN_EXIT_USAGE;
		}
		rc = ct ? gen_cmd_ct(argv[optind], (int)o.count, (int)o.rows,
				     (int)o.cols)
			: gen_cmd_small(argv[optind], (int)o.count);
	} else {
		fprintf(stderr, "deid-gen: unknown command '%s'\n", cmd);
		gen_usage(stderr);
		return GEN_EXIT_USAGE;
	}
	return rc < 0 ? GEN_EXIT_FAIL : GEN_EXIT_OK;
}
