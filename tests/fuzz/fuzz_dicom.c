/* fuzz_dicom.c: fuzz target for the DICOM engine (dcmtk bridge, rules,
 * top-level walker, manifest writer).  The input is written to a memfd and
 * transformed under the default policy's DICOM part, both as a manifest
 * and as a full rewrite; the manifest is materialised.  Everything is
 * freed, so leaks show under ASan.
 *
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "dd_dicom.h"
#include "dd_log.h"


static struct dd_policy fz_pol;
static struct dd_pseudo fz_pseudo;
static struct dd_text *fz_text;
static struct dd_dicom *fz_eng;

static void fz_init(void)
{
	static const uint8_t key[32] = "fuzz_dicom fixed key";

	if (fz_eng)
		return;
	dd_log_set_level(DD_LOG_ERR);
	fz_pol.dicom.present = true;
	fz_pol.dicom.profile = DD_DICOM_PROFILE_BASIC;
	fz_pol.dicom.ps315_options =
		DD_PS315_RETAIN_LONG_MODIFIED_DATES |
		DD_PS315_RETAIN_PATIENT_CHARS | DD_PS315_CLEAN_DESC |
		DD_PS315_CLEAN_STRUCT_CONT | DD_PS315_CLEAN_GRAPH;
	fz_pol.deidfs.date_shift_min = -365;
	fz_pol.deidfs.date_shift_max = -1;
	fz_pol.deidfs.hide_photographic = true;
	fz_pol.deidfs.hide_recognizable_visual_features = true;
	if (dd_pseudo_init(&fz_pseudo, key, sizeof(key)) ||
	    dd_text_new(NULL, &fz_pseudo, &fz_text) ||
	    dd_dicom_new(&fz_pol, &fz_pseudo, fz_text, NULL, &fz_eng))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dd_manifest m;
	struct dd_buf out;
	int fd;

	fz_init();
	fd = memfd_create("fuzz_dicom", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	dd_manifest_init(&m);
	dd_buf_init(&out, (size_t)1 << 28);
	if (dd_dicom_transform(fz_eng, fd, "fuzz", &m) == DD_OK &&
	    m.reason == DD_REASON_NONE)
		(void)dd_manifest_materialize(&m, fd, &out);
	dd_manifest_free(&m);
	dd_manifest_init(&m);
	(void)dd_dicom_transform_ex(fz_eng, fd, "fuzz", DD_DICOM_FULL_REWRITE,
				    &m);
	dd_manifest_free(&m);
	dd_buf_free(&out);
	close(fd);
	return 0;
}

void dd_fuzz_done(void)
{
	if (fz_eng) {
		dd_dicom_free(fz_eng);
		dd_text_free(fz_text);
	}
}
