/* fuzz_policy.c: fuzz target for the policy parser (dd_policy_load_buffer:
 * a policy file is outside input).
 *
 * Every input is loaded; a policy that loads is linted and hashed, and its
 * canonical JSON must load again to the same canonical JSON (unless it
 * carries inline keys, which the canonical form shows as fingerprints).
 * Everything is freed, so leaks show under ASan.
 *
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "dd_policy.h"


static unsigned long fz_inputs, fz_valid; /* reported by dd_fuzz_done() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dd_policy *p = NULL, *q = NULL;
	struct dd_diags d = {0}, d2 = {0};
	char hash[65];
	dd_err e;

	fz_inputs++;
	e = dd_policy_load_buffer("fuzz", (const char *)data, size, &p, &d);
	if (e == DD_OK) {
		fz_valid++;
		dd_policy_lint(p, &d);
		dd_policy_hash(p, NULL, "fuzz", hash);
		if (!strstr(p->canonical_json, "ddk1:")) {
			e = dd_policy_load_buffer("canonical", p->canonical_json,
						  strlen(p->canonical_json), &q,
						  &d2);
			if (e != DD_OK || strcmp(q->canonical_json,
						 p->canonical_json)) {
				fprintf(stderr, "canonical JSON does not reload: %s\n",
					p->canonical_json);
				abort();
			}
		}
	} else if (e == DD_E_POLICY && d.n_errors == 0) {
		fprintf(stderr, "DD_E_POLICY without an error\n");
		abort();
	}
	dd_policy_free(q);
	dd_policy_free(p);
	dd_diags_free(&d2);
	dd_diags_free(&d);
	return 0;
}

void dd_fuzz_done(void)
{
	fprintf(stderr, "fuzz_policy: %lu inputs, %lu valid policies\n",
		fz_inputs, fz_valid);
}
