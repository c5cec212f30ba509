/* unit_dicom_bench.c: µs per file of dd_dicom_transform (header-only
 * manifest) vs the full dcmtk rewrite, under the default policy's DICOM
 * part, on one file read N times (warm page cache).
 *
 * usage: unit_dicom_bench FILE [N]   (meson: a benchmark, not a test) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dd_dicom.h"
#include "dd_log.h"
#include "unit_dicom_util.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double run(struct dd_dicom *eng, int fd, unsigned flags, int n,
		  uint64_t *literal)
{
	double t0 = now_us();
	int i;

	for (i = 0; i < n; i++) {
		struct dd_manifest m;

		dd_manifest_init(&m);
		if (dd_dicom_transform_ex(eng, fd, "bench", flags, &m) != DD_OK ||
		    m.reason != DD_REASON_NONE) {
			fprintf(stderr, "bench: file hidden (%s)\n",
				dd_reason_name(m.reason));
			exit(1);
		}
		*literal = m.data.len;
		dd_manifest_free(&m);
	}
	return (now_us() - t0) / n;
}

int main(int argc, char **argv)
{
	static const uint8_t key[32] = "bench key";
	struct dd_policy *pol = ut_policy(DD_DICOM_PROFILE_BASIC, UT_DEFAULT_OPTS);
	struct dd_pseudo pseudo;
	struct dd_text *text;
	struct dd_dicom *eng;
	uint64_t lit_m = 0, lit_f = 0;
	int n = argc > 2 ? atoi(argv[2]) : 2000, fd;
	double a, b;

	if (argc < 2)
		return 64;
	dd_log_set_level(DD_LOG_ERR);
	if (dd_pseudo_init(&pseudo, key, sizeof(key)) ||
	    dd_text_new(NULL, &pseudo, &text) ||
	    dd_dicom_new(pol, &pseudo, text, NULL, &eng))
		return 1;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return 1;
	run(eng, fd, 0, 20, &lit_m); /* warm up */
	a = run(eng, fd, 0, n, &lit_m);
	b = run(eng, fd, DD_DICOM_FULL_REWRITE, n, &lit_f);
	printf("manifest: %.1f us/file (%llu literal bytes)\n"
	       "full rewrite: %.1f us/file (%llu bytes)\n",
	       a, (unsigned long long)lit_m, b, (unsigned long long)lit_f);
	close(fd);
	dd_dicom_free(eng);
	dd_text_free(text);
	ut_policy_free(pol);
	return 0;
}
