/* dd_cache.c: TEMPORARY placeholder until the cache module lands. */
#include "dd_err.h"
int dd_cache_placeholder(void);
int dd_cache_placeholder(void) { return 0; }
