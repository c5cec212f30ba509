/* gen_golden.c: `deid-gen golden DIR` (placeholder until the cases land). */
#include <stdio.h>

#include "gen.h"

int gen_cmd_golden(const char *dir)
{
	fprintf(stderr, "deid-gen: golden %s: not yet\n", dir);
	return -1;
}
