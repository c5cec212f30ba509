/* cmd_index.c: `deid index SRC`: build (or check) the FHIR patient index
 * of SRC ahead of a mount or a materialise run (patientLinking "auto").
 *
 * The index is stored under the cache directory (dd_index_load_or_build);
 * a later view of the same SRC with the same linking settings and key
 * loads it when no file of SRC changed.  The key is needed because the
 * index holds keyed hashes of the DICOM PatientIDs.  Nothing is printed
 * about the patients themselves: counts and the digest only (the index is
 * PHI). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dd_index.h"
#include "dd_pseudo.h"
#include "tool.h"

static void ci_usage(FILE *f)
{
	fprintf(f,
"usage: deid index SRC [-p POLICY | --preset NAME] [--key-file F]\n"
"                      [--store DIR] [-q]\n"
"\n"
"Scan the .json and .ndjson files under SRC for FHIR Patients (and the\n"
"Practitioners, RelatedPersons and Persons whose names the text detector\n"
"looks for), read the PatientID of every DICOM file under SRC (header\n"
"only, when SRC has FHIR files; those a Patient carries are kept as keyed\n"
"hashes, so a Patient without an MR identifier links by the identifier\n"
"equal to a PatientID), and store the patient index under the cache\n"
"directory (CACHE/fhir-index, mode 0700; the file 0600), so that\n"
"`deid materialize` and a deidfs mount of SRC with the same policy and\n"
"key start without scanning.  Prints the number of references, people\n"
"and DICOM PatientIDs linked to, the index size and digest (part of\n"
"every cache key) and the build time.\n");
}

int dd_tool_index_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"policy", required_argument, NULL, 'p'},
		{"preset", required_argument, NULL, 'P'},
		{"store", required_argument, NULL, 's'},
		{"key-file", required_argument, NULL, 'k'},
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
	struct dd_key key = {0};
	struct dd_pseudo pseudo;
	struct timespec t0, t1;
	char err[512] = "";
	dd_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': po.file = optarg; break;
		case 'P': po.preset = optarg; break;
		case 's': store_opt = optarg; break;
		case 'k': po.key_file = optarg; break;
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
	e = dd_policy_key_load(pol, po.key_file, true, &key, err, sizeof(err));
	if (!e)
		e = dd_pseudo_init(&pseudo, key.bytes, key.len);
	if (e) {
		fprintf(stderr, "deid index: key: %s\n",
			err[0] ? err : dd_strerror(e));
		dd_policy_free(pol);
		return DD_EXIT_FAIL;
	}
	store = store_opt ? NULL : dd_index_default_store(pol);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = dd_index_load_or_build(pol, &pseudo, argv[optind],
				   store_opt ? store_opt : store,
				   quiet ? NULL : stderr, &x, &rebuilt);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (e) {
		fprintf(stderr, "deid index: %s: %s\n", argv[optind],
			dd_strerror(e));
		goto out;
	}
	printf("patient index of %s: %s\n", argv[optind],
	       rebuilt ? "built" : "up to date");
	printf("  references:  %zu\n", dd_index_n_refs(x));
	printf("  people:      %zu\n", dd_index_n_patients(x));
	printf("  DICOM ids:   %zu\n", dd_index_n_dicom(x));
	printf("  size:        %llu bytes\n",
	       (unsigned long long)dd_index_size(x));
	printf("  digest:      %.16s\n", dd_index_digest(x)[0] ?
					     dd_index_digest(x) : "(empty)");
	printf("  stored in:   %s\n", store_opt ? store_opt
				  : store ? store : "(nowhere)");
	printf("  time:        %.3f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	rc = DD_EXIT_OK;
out:
	dd_index_free(x);
	free(store);
	dd_pseudo_clear(&pseudo);
	dd_key_clear(&key);
	dd_policy_free(pol);
	return rc;
}
