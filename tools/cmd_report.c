/* cmd_report.c: TEMPORARY placeholder until its module lands. */
#include <stdio.h>

#include "tool.h"

int dd_tool_report_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "deid report: not available in this build\n");
	return DD_EXIT_FAIL;
}
