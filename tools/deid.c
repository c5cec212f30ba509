/* deid.c: the `deid` command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "dd_ocr.h"
#include "tool.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: deid COMMAND [ARGS]\n"
"\n"
"De-identify DICOM and FHIR files as the policy says (see deid(1) in\n"
"docs/deid.md).\n"
"\n"
"commands:\n"
"  file IN OUT [-p POLICY | --preset NAME] [--key-file F]\n"
"        de-identify one file; exit 3 if the file is hidden\n"
"  materialize SRC DEST [-p POLICY | --preset NAME] [--key-file F] [-q]\n"
"        write the whole de-identified view of SRC into DEST\n"
"  policy check FILE      validate a policy (errors: exit 1)\n"
"  policy default [--preset NAME]\n"
"        print the default policy or a preset\n"
"  policy presets         list the built-in policies\n"
"  policy hash FILE [--key-file F]\n"
"        print the policy hash and the key fingerprint\n"
"  cache stats|verify|clear|dump [--cache-dir DIR]\n"
"        inspect or clear the LMDB cache\n"
"  index SRC [-p POLICY | --preset NAME] [-q]\n"
"        build the FHIR patient index of SRC ahead of a mount\n"
"  report MOUNTPOINT [--json]\n"
"        print the counters of a mounted deidfs\n"
"\n"
"options:\n"
"  -h, --help      this help\n"
"  -V, --version   print the version\n"
"\n"
"exit status: 0 success, 1 error (or files hidden for an error reason),\n"
"2 usage, 3 `deid file` hid the file.\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"file", dd_tool_file_main},
		{"materialize", dd_tool_materialize_main},
		{"policy", dd_tool_policy_main},
		{"cache", dd_tool_cache_main},
		{"report", dd_tool_report_main},
		{"index", dd_tool_index_main},
	};

	(void)dd_ocr_ensure_env(argc, argv); /* OMP_THREAD_LIMIT=1 for OCR */
	if (argc < 2) {
		usage(stderr);
		return DD_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return DD_EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("deid %s (engine %s)\n", DD_VERSION, DD_ENGINE_VERSION);
		return DD_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "deid: unknown command \"%s\" (see deid --help)\n",
		argv[1]);
	return DD_EXIT_USAGE;
}
