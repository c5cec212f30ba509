/* text_show.c: print the spans dd_text finds in a file (or stdin), or the
 * cleaned text with -c, or (-b) the detector's throughput over the input
 * (wall clock and CPU time of the process).
 * A developer's tool; not a test.
 *   text_show [-c] [-b] [-s DAYS] [-x CTXTYPE=VALUE]... [FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dd_text.h"

static char *slurp(FILE *f, size_t *n)
{
	struct dd_buf b;
	char tmp[65536];
	size_t r;

	dd_buf_init(&b, 1u << 30);
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (dd_buf_add(&b, tmp, r))
			return NULL;
	return (char *)dd_buf_steal(&b, n);
}

int main(int argc, char **argv)
{
	struct dd_text *t = NULL;
	struct dd_text_ctx *c = NULL;
	struct dd_text_span *sp = NULL;
	size_t n = 0, ns = 0;
	bool clean = false, bench = false;
	char *s;
	FILE *f = stdin;
	int opt;

	if (dd_text_new(NULL, NULL, &t) || dd_text_ctx_new(&c))
		return 1;
	while ((opt = getopt(argc, argv, "bcx:s:")) != -1) {
		if (opt == 'c') {
			clean = true;
		} else if (opt == 'b') {
			bench = true;
		} else if (opt == 's') {
			dd_text_ctx_set_shift(c, atoi(optarg));
		} else if (opt == 'x') {
			char *eq = strchr(optarg, '=');
			enum dd_info_type ty;

			if (!eq)
				return 2;
			*eq = 0;
			if (!dd_info_type_from_name(optarg, &ty))
				return 2;
			dd_text_ctx_add(c, ty, eq + 1, strlen(eq + 1));
		} else {
			return 2;
		}
	}
	if (optind < argc && !(f = fopen(argv[optind], "rb")))
		return 1;
	s = slurp(f, &n);
	if (!s)
		s = strdup("");
	if (bench) {
		/* detect paragraph by paragraph, as the engines call it */
		struct timespec a, b, ca, cb;
		size_t total = 0, found = 0;
		double sec, cpu;

		clock_gettime(CLOCK_MONOTONIC, &a);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
		for (size_t i = 0; i < n;) {
			const char *e = memmem(s + i, n - i, "\n\n", 2);
			size_t l = e ? (size_t)(e - (s + i)) + 2 : n - i;

			if (dd_text_find(t, c, s + i, l, &sp, &ns) == DD_OK)
				found += ns;
			free(sp);
			sp = NULL;
			total += l;
			i += l;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
		sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		cpu = (double)(cb.tv_sec - ca.tv_sec) + (double)(cb.tv_nsec - ca.tv_nsec) / 1e9;
		/* CPU time too: on a loaded machine the wall clock counts the
		 * time spent waiting for a core */
		printf("%zu bytes, %zu spans, %.3f s, %.1f MB/s; CPU %.3f s, %.1f MB/s per core\n",
		       total, found, sec, (double)total / 1e6 / sec, cpu,
		       (double)total / 1e6 / cpu);
		ns = 0;
	} else if (clean) {
		struct dd_buf out;

		dd_buf_init(&out, 1u << 30);
		if (dd_text_clean(t, c, s, n, DD_TEXT_CTX_TOKEN, &out) == DD_OK)
			fwrite(out.data ? (char *)out.data : "", 1, out.len, stdout);
		dd_buf_free(&out);
	} else if (dd_text_find(t, c, s, n, &sp, &ns) == DD_OK) {
		for (size_t i = 0; i < ns; i++)
			printf("%zu\t%zu\t%s%s\t%.*s\n", sp[i].start, sp[i].end,
			       dd_info_type_name(sp[i].type), sp[i].contextual ? "*" : "",
			       (int)(sp[i].end - sp[i].start), s + sp[i].start);
	}
	free(sp);
	free(s);
	dd_text_ctx_free(c);
	dd_text_free(t);
	if (f != stdin)
		fclose(f);
	return 0;
}
