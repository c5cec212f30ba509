/* cmd_cache.c: TEMPORARY placeholder until its module lands. */
#include <stdio.h>

#include "tool.h"

int dd_tool_cache_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "deid cache: not available in this build\n");
	return DD_EXIT_FAIL;
}
