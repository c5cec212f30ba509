/* cmd_policy.c: `deid policy check|default|presets|hash`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static void cp_usage(FILE *f)
{
	fprintf(f,
"usage: deid policy check FILE\n"
"       deid policy default [--preset NAME]\n"
"       deid policy presets\n"
"       deid policy hash FILE [--key-file F]\n"
"\n"
"check: print every error (exit 1) and a warning for each PHI category\n"
"       the policy leaves untouched (exit 0 when there are only warnings).\n");
}

static int cp_check(const char *file)
{
	struct dd_policy *pol = NULL;
	struct dd_diags diags = {0};
	dd_err e;

	e = dd_policy_load_file(file, &pol, &diags);
	if (!e)
		e = dd_policy_lint(pol, &diags);
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "%s: %s\n",
			diags.v[i].level == DD_DIAG_ERROR ? "error" : "warning",
			diags.v[i].message);
	if (e && e != DD_E_POLICY && !diags.n_errors)
		fprintf(stderr, "error: %s: %s\n", file, dd_strerror(e));
	if (!e)
		printf("%s: valid (%zu warning%s)\n", file, diags.n_warnings,
		       diags.n_warnings == 1 ? "" : "s");
	dd_diags_free(&diags);
	dd_policy_free(pol);
	return e ? DD_EXIT_FAIL : DD_EXIT_OK;
}

static int cp_default(int argc, char **argv)
{
	static const struct option lo[] = {
		{"preset", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *name = "default", *json;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'P') {
			name = optarg;
		} else {
			cp_usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? DD_EXIT_OK : DD_EXIT_USAGE;
		}
	}
	json = dd_policy_builtin_json(name);
	if (!json) {
		fprintf(stderr, "deid: unknown preset \"%s\" (see deid policy presets)\n",
			name);
		return DD_EXIT_USAGE;
	}
	fputs(json, stdout);
	if (json[0] && json[strlen(json) - 1] != '\n')
		putchar('\n');
	return DD_EXIT_OK;
}

static int cp_hash(int argc, char **argv)
{
	static const struct option lo[] = {
		{"key-file", required_argument, NULL, 'k'},
		{0},
	};
	struct dd_tool_policy_opts po = {0};
	struct dd_policy *pol;
	struct dd_view *v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'k') {
			cp_usage(stderr);
			return DD_EXIT_USAGE;
		}
		po.key_file = optarg;
	}
	if (optind != argc - 1) {
		cp_usage(stderr);
		return DD_EXIT_USAGE;
	}
	po.file = argv[optind];
	v = dd_tool_open_view(&po, &pol);
	if (!v)
		return DD_EXIT_FAIL;
	printf("policy hash:     %s\nkey fingerprint: %s\n",
	       dd_view_policy_hash(v), dd_view_key(v)->fingerprint);
	dd_view_free(v);
	dd_policy_free(pol);
	return DD_EXIT_OK;
}

int dd_tool_policy_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cp_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? DD_EXIT_USAGE : DD_EXIT_OK;
	}
	if (!strcmp(argv[1], "check")) {
		if (argc != 3) {
			cp_usage(stderr);
			return DD_EXIT_USAGE;
		}
		return cp_check(argv[2]);
	}
	if (!strcmp(argv[1], "default"))
		return cp_default(argc - 1, argv + 1);
	if (!strcmp(argv[1], "presets")) {
		for (const char *const *n = dd_policy_builtin_names(); *n; n++)
			printf("%s\n", *n);
		return DD_EXIT_OK;
	}
	if (!strcmp(argv[1], "hash"))
		return cp_hash(argc - 1, argv + 1);
	fprintf(stderr, "deid policy: unknown subcommand \"%s\"\n", argv[1]);
	return DD_EXIT_USAGE;
}
