/* unit_dicom_equal.c: the manifest (header literals + source pixel range)
 * must equal, byte for byte, a full dcmtk rewrite of the same modified data
 * set, for every file of Debian's python3-pydicom test data, under several
 * policies.  Also checks that the source segment of every served manifest
 * is exactly where the pixel value lies in the output.
 *
 * usage: unit_dicom_equal [DIR...]   (default: pydicom's data directory;
 * exit 77 if it is absent).  Prints a summary of served/hidden files. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_dicom.h"
#include "dd_log.h"
#include "unit_dicom_util.h"

#define PYDICOM_DATA "/usr/lib/python3/dist-packages/pydicom/data"

struct run {
	const char *name;
	struct dd_policy *pol;
	struct dd_dicom *eng;
	unsigned served, hidden, with_range;
	unsigned by_reason[DD_REASON_LAST];
};

static struct run runs[4];
static size_t n_runs;
static struct dd_pseudo pseudo;
static struct dd_text *text;
static int verbose;

static void check_file(struct run *r, const char *path, int fd)
{
	struct dd_manifest a, b;
	struct dd_buf out;
	uint32_t i;

	dd_manifest_init(&a);
	dd_manifest_init(&b);
	dd_buf_init(&out, (size_t)1 << 30);
	EXPECT_EQ_INT(dd_dicom_transform(r->eng, fd, "test", &a), DD_OK);
	EXPECT_EQ_INT(dd_dicom_transform_ex(r->eng, fd, "test",
					    DD_DICOM_FULL_REWRITE, &b),
		      DD_OK);
	if (a.reason != b.reason) {
		fprintf(stderr, "%s [%s]: reasons differ: %s vs %s\n", path,
			r->name, dd_reason_name(a.reason),
			dd_reason_name(b.reason));
		EXPECT(a.reason == b.reason);
	}
	if (a.reason == DD_REASON_NONE && b.reason == DD_REASON_NONE) {
		bool ranged = false;

		r->served++;
		EXPECT_EQ_INT(dd_manifest_materialize(&a, fd, &out), DD_OK);
		EXPECT_EQ_INT(b.n_segs, 1);
		if (out.len != b.size ||
		    memcmp(out.data, b.data.data, out.len) != 0) {
			size_t k = 0;

			while (k < out.len && k < b.size &&
			       out.data[k] == b.data.data[k])
				k++;
			fprintf(stderr,
				"%s [%s]: manifest != full rewrite (%zu vs "
				"%llu bytes, first difference at %zu)\n",
				path, r->name, out.len,
				(unsigned long long)b.size, k);
			EXPECT(0);
		}
		EXPECT(memcmp(out.data, "\0\0\0\0\0\0\0\0", 8) == 0);
		for (i = 0; i < a.n_segs; i++)
			if (a.segs[i].kind == DD_SEG_SOURCE)
				ranged = true;
		r->with_range += ranged;
		if (verbose)
			fprintf(stderr, "%s [%s]: served, %u segments%s\n", path,
				r->name, a.n_segs, ranged ? " (source range)" : "");
	} else {
		r->hidden++;
		r->by_reason[a.reason < DD_REASON_LAST ? a.reason : 0]++;
		EXPECT_EQ_INT(a.n_segs, 0);
		if (verbose)
			fprintf(stderr, "%s [%s]: hidden (%s)\n", path, r->name,
				dd_reason_name(a.reason));
	}
	dd_buf_free(&out);
	dd_manifest_free(&a);
	dd_manifest_free(&b);
}

static int visit(const char *path, const struct stat *st, int type,
		 struct FTW *ftw)
{
	int fd;
	size_t i;

	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (i = 0; i < n_runs; i++)
		check_file(&runs[i], path, fd);
	close(fd);
	return 0;
}

static void add_run(const char *name, struct dd_policy *pol)
{
	struct run *r = &runs[n_runs++];

	r->name = name;
	r->pol = pol;
	if (dd_dicom_new(pol, &pseudo, text, NULL, &r->eng) != DD_OK)
		abort();
}

int main(int argc, char **argv)
{
	static const uint8_t key[32] = "unit_dicom_equal fixed test key";
	struct dd_policy *deid;
	int i, nd = 0;
	size_t k;

	verbose = getenv("DD_TEST_VERBOSE") != NULL;
	dd_log_set_level(DD_LOG_ERR);
	if (dd_pseudo_init(&pseudo, key, sizeof(key)) != DD_OK ||
	    dd_text_new(NULL, &pseudo, &text) != DD_OK)
		return 1;
	add_run("default", ut_policy(DD_DICOM_PROFILE_BASIC, UT_DEFAULT_OPTS));
	add_run("basic", ut_policy(DD_DICOM_PROFILE_BASIC, 0));
	add_run("keep_all", ut_policy(DD_DICOM_PROFILE_KEEP_ALL, 0));
	deid = ut_policy(DD_DICOM_PROFILE_DEIDENTIFY_TAG_CONTENTS, 0);
	add_run("tag_contents", deid);

	for (i = 1; i < argc; i++, nd++)
		nftw(argv[i], visit, 16, FTW_PHYS);
	if (nd == 0) {
		if (access(PYDICOM_DATA, R_OK) != 0) {
			fprintf(stderr, "no %s: skipped\n", PYDICOM_DATA);
			return 77;
		}
		nftw(PYDICOM_DATA, visit, 16, FTW_PHYS);
	}
	for (k = 0; k < n_runs; k++) {
		struct run *r = &runs[k];
		int j;

		fprintf(stderr, "[%s] served %u (%u with a source range), hidden %u:",
			r->name, r->served, r->with_range, r->hidden);
		for (j = 0; j < DD_REASON_LAST; j++)
			if (r->by_reason[j])
				fprintf(stderr, " %s=%u", dd_reason_name(j),
					r->by_reason[j]);
		fprintf(stderr, "\n");
		EXPECT(r->served > 0 || nd > 0);
		dd_dicom_free(r->eng);
		ut_policy_free(r->pol);
	}
	dd_text_free(text);
	dd_pseudo_clear(&pseudo);
	return dd_test_done("unit_dicom_equal");
}
