/* dd_text.c: TEMPORARY placeholder until the detector lands; it finds
 * nothing, so callers that need inspection must hide (fail closed). */
#include <stdlib.h>

#include "dd_text.h"

struct dd_text { int unused; };
struct dd_text_ctx { int shift; };

dd_err dd_text_new(const struct dd_policy_text *cfg,
		   const struct dd_pseudo *pseudo, struct dd_text **out)
{
	(void)cfg; (void)pseudo;
	*out = calloc(1, sizeof(**out));
	return *out ? DD_OK : DD_E_NOMEM;
}
void dd_text_free(struct dd_text *t) { free(t); }
dd_err dd_text_ctx_new(struct dd_text_ctx **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? DD_OK : DD_E_NOMEM;
}
void dd_text_ctx_free(struct dd_text_ctx *c) { free(c); }
dd_err dd_text_ctx_add(struct dd_text_ctx *c, enum dd_info_type type,
		       const char *value, size_t len)
{
	(void)c; (void)type; (void)value; (void)len;
	return DD_OK;
}
void dd_text_ctx_set_shift(struct dd_text_ctx *c, int days) { c->shift = days; }
dd_err dd_text_find(const struct dd_text *t, const struct dd_text_ctx *c,
		    const char *s, size_t n, struct dd_text_span **spans,
		    size_t *n_spans)
{
	(void)t; (void)c; (void)s; (void)n;
	*spans = NULL;
	*n_spans = 0;
	return DD_E_UNSUPPORTED;
}
dd_err dd_text_clean(const struct dd_text *t, const struct dd_text_ctx *c,
		     const char *s, size_t n, unsigned flags,
		     struct dd_buf *out)
{
	(void)t; (void)c; (void)s; (void)n; (void)flags; (void)out;
	return DD_E_UNSUPPORTED;
}
