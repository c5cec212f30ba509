/* cmd_index.c: `deid index SRC`: build (or check) the FHIR patient index
 * of SRC ahead of a mount or a materialise run (patientLinking "auto").
 *
 * The index is stored under the cache directory (dd_index_load_or_build);
 * a later view of the same SRC with the same linking settings loads it
 * when no .json/.ndjson file changed.  Nothing is printed about the
 * patients themselves: counts and the digest only (the index is PHI). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "dd_index.h"
#include "tool.h"

static void ci_usage(FILE *f)
{
	fprintf(f,
"usage: deid index SRC [-p POLICY | --preset NAME] [--store DIR] [-q]\n"
"\n"
"Scan the .json and .ndjson files under SRC for FHIR Patients (and the\n"
"Practitioners, RelatedPersons and Persons whose names the text detector\n"
"looks for) and store the patient index under the cache directory\n"
"(DIR/fhir-index, mode 0700), so that `deid materialize` and a deidfs\n"
"mount of SRC start without scanning.  Prints the number of references\n"
"and patients and the index digest (part of every cache key).\n");
}

int dd_tool_index_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"policy", required_argument, NULL, 'p'},
		{"preset", required_argument, NULL, 'P'},
		{"store", required_argument, NULL, 's'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct dd_tool_policy_opts po = {0};
	struct dd_policy *pol;
	struct dd_index *x = NULL;
	const char *store_opt = NULL;
	char *store = NULL;
	bool quiet = false, rebuilt = false;
	int c, rc = DD_EXIT_FAIL;
	dd_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': po.file = optarg; break;
		case 'P': po.preset = optarg; break;
		case 's': store_opt = optarg; break;
		case 'q': quiet = true; break;
		case 'h': ci_usage(stdout); return DD_EXIT_OK;
		default: ci_usage(stderr); return DD_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ci_usage(stderr);
		return DD_EXIT_USAGE;
	}
	pol = dd_tool_load_policy(&po);
	if (!pol)
		return DD_EXIT_FAIL;
	if (pol->deidfs.linking == DD_LINK_OFF)
		fprintf(stderr, "deid index: note: the policy has patientLinking "
				"off; views will not use the index\n");
	store = store_opt ? NULL : dd_index_default_store(pol);
	e = dd_index_load_or_build(pol, argv[optind],
				   store_opt ? store_opt : store,
				   quiet ? NULL : stderr, &x, &rebuilt);
	if (e) {
		fprintf(stderr, "deid index: %s: %s\n", argv[optind],
			dd_strerror(e));
		goto out;
	}
	printf("patient index of %s: %s\n", argv[optind],
	       rebuilt ? "built" : "up to date");
	printf("  references:  %zu\n", dd_index_n_refs(x));
	printf("  people:      %zu\n", dd_index_n_patients(x));
	printf("  digest:      %.16s\n", dd_index_digest(x)[0] ?
					     dd_index_digest(x) : "(empty)");
	printf("  stored in:   %s\n", store_opt ? store_opt
				  : store ? store : "(nowhere)");
	rc = DD_EXIT_OK;
out:
	dd_index_free(x);
	free(store);
	dd_policy_free(pol);
	return rc;
}
