/* dicom_xform.c: transform one file with a hand-built policy (test driver).
 *
 * usage: dicom_xform [-f] [-p default|basic|keep_all|tag_contents|minimal]
 *                    IN OUT
 * -f: full dcmtk rewrite instead of the manifest.  Prints the hidden reason
 * and exits 2 if the file is hidden; prints the segments with -v. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dd_dicom.h"
#include "dd_log.h"
#include "unit_dicom_util.h"

int main(int argc, char **argv)
{
	static const uint8_t key[32] = "unit_dicom_equal fixed test key";
	const char *profile = "default";
	unsigned flags = 0;
	int opt, fd, ofd, rc = 0, verbose = 0;
	struct dd_policy *pol;
	struct dd_pseudo pseudo;
	struct dd_text *text;
	struct dd_dicom *eng;
	struct dd_manifest m;
	uint32_t i;

	while ((opt = getopt(argc, argv, "fp:v")) != -1) {
		if (opt == 'f')
			flags |= DD_DICOM_FULL_REWRITE;
		else if (opt == 'p')
			profile = optarg;
		else if (opt == 'v')
			verbose = 1;
		else
			return 64;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: dicom_xform [-f] [-v] [-p PROFILE] IN OUT\n");
		return 64;
	}
	if (verbose)
		dd_log_set_level(DD_LOG_DEBUG);
	if (strcmp(profile, "default") == 0)
		pol = ut_policy(DD_DICOM_PROFILE_BASIC, UT_DEFAULT_OPTS);
	else if (strcmp(profile, "basic") == 0)
		pol = ut_policy(DD_DICOM_PROFILE_BASIC, 0);
	else if (strcmp(profile, "keep_all") == 0)
		pol = ut_policy(DD_DICOM_PROFILE_KEEP_ALL, 0);
	else if (strcmp(profile, "tag_contents") == 0)
		pol = ut_policy(DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS, 0);
	else if (strcmp(profile, "minimal") == 0)
		pol = ut_policy(DD_DICOM_PROFILE_MINIMAL_KEEP_LIST, 0);
	else
		return 64;
	if (dd_pseudo_init(&pseudo, key, sizeof(key)) || dd_text_new(NULL, &pseudo, &text) ||
	    dd_dicom_new(pol, &pseudo, text, NULL, &eng))
		return 1;
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0)
		return 1;
	dd_manifest_init(&m);
	if (dd_dicom_transform_ex(eng, fd, "cli", flags, &m) != DD_OK) {
		rc = 1;
	} else if (m.reason != DD_REASON_NONE) {
		printf("hidden: %s\n", dd_reason_name(m.reason));
		rc = 2;
	} else {
		if (verbose)
			for (i = 0; i < m.n_segs; i++)
				fprintf(stderr, "seg %u: kind %u len %llu off %llu\n", i,
					m.segs[i].kind, (unsigned long long)m.segs[i].len,
					(unsigned long long)m.segs[i].offset);
		ofd = open(argv[optind + 1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (ofd < 0 || dd_manifest_write_fd(&m, fd, ofd) != DD_OK)
			rc = 1;
		if (ofd >= 0)
			close(ofd);
	}
	dd_manifest_free(&m);
	close(fd);
	dd_dicom_free(eng);
	dd_text_free(text);
	ut_policy_free(pol);
	return rc;
}
