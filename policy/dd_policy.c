/* dd_policy.c: TEMPORARY placeholder until the policy module lands. */
#include <stdlib.h>
#include <string.h>

#include "dd_policy.h"

void dd_diags_free(struct dd_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].path);
		free(d->v[i].message);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
