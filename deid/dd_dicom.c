/* dd_dicom.c: TEMPORARY placeholder until the engine lands: every DICOM
 * file is hidden (fail closed). */
#include <stdlib.h>
#include <string.h>

#include "dd_dicom.h"

struct dd_dicom { int unused; };

dd_err dd_dicom_new(const struct dd_policy *pol, const struct dd_pseudo *pseudo,
		    const struct dd_text *text, struct dd_dicom **out)
{
	(void)pol; (void)pseudo; (void)text;
	*out = calloc(1, sizeof(**out));
	return *out ? DD_OK : DD_E_NOMEM;
}
void dd_dicom_free(struct dd_dicom *d) { free(d); }
bool dd_dicom_sniff(const uint8_t *head, size_t n)
{
	return n >= 132 && memcmp(head + 128, "DICM", 4) == 0;
}
dd_err dd_dicom_transform(const struct dd_dicom *d, int fd,
			  const char *log_name, struct dd_manifest *m)
{
	(void)d; (void)fd; (void)log_name;
	dd_manifest_hide(m, DD_KIND_DICOM, DD_REASON_DICOM_UNSUPPORTED);
	return DD_OK;
}
