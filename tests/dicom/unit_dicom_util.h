/* unit_dicom_util.h: policies built by hand for the DICOM engine's tests
 * (the policy parser is another module; these tests must not depend on
 * its JSON). */
#ifndef UNIT_DICOM_UTIL_H
#define UNIT_DICOM_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "dd_policy.h"

/* The default policy's DICOM part: PS3.15 Basic + modified dates + patient
 * characteristics + clean descriptors/structured content/graphics. */
static inline struct dd_policy *ut_policy(enum dd_dicom_profile profile,
					  unsigned opts)
{
	struct dd_policy *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	p->dicom.present = true;
	p->dicom.profile = profile;
	p->dicom.filter = DD_DICOM_FILTER_PROFILE;
	p->dicom.primary_ids = DD_PRIMARY_IDS_REGEN;
	p->dicom.ps315_options = opts;
	p->deidfs.date_shift_min = -365;
	p->deidfs.date_shift_max = -1;
	p->deidfs.hide_photographic = true;
	p->deidfs.hide_recognizable_visual_features = true;
	p->deidfs.max_age = 89;
	return p;
}

#define UT_DEFAULT_OPTS                                                       \
	(DD_PS315_RETAIN_LONG_MODIFIED_DATES | DD_PS315_RETAIN_PATIENT_CHARS | \
	 DD_PS315_CLEAN_DESC | DD_PS315_CLEAN_STRUCT_CONT | DD_PS315_CLEAN_GRAPH)

static inline void ut_policy_free(struct dd_policy *p)
{
	size_t i;

	for (i = 0; i < p->dicom.n_actions; i++)
		free(p->dicom.actions[i].queries);
	free(p->dicom.actions);
	free(p->dicom.list_tags);
	free(p);
}

#endif
