/* test_policy_bad.c: table-driven test of policies and their exact
 * diagnostics, read from a file of groups (after jq's tests/jq.test):
 *
 *   # comment lines and blank lines separate groups
 *   POLICY            one line of JSON, or a directive (see below)
 *   error: MESSAGE    every diagnostic expected, in order
 *   warning: MESSAGE
 *
 * Every policy is loaded as "p.json".  The test fails when the set of
 * diagnostics differs in any way, or when the result (DD_E_POLICY with no
 * policy, or DD_OK with one) does not match the presence of errors.
 * Directives make inputs that one JSON line cannot hold:
 *   @empty          zero bytes          @blank   white space only
 *   @nul            {"a": NUL}          @deep N  N nested arrays in "text"
 *   @big            5 MiB of spaces around {}
 * With DD_TEST_PRINT=1 the actual diagnostics are printed instead (to
 * write new groups; review them before committing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/dd_test.h"
#include "dd_policy.h"

struct group {
	int line;
	char *policy;
	char **expect;
	size_t n_expect;
};

static char *bt_input(const char *line, size_t *len)
{
	char *b;
	size_t n, i;

	if (!strcmp(line, "@empty")) {
		*len = 0;
		return strdup("");
	}
	if (!strcmp(line, "@blank")) {
		*len = 4;
		return strdup(" \n\t\n");
	}
	if (!strcmp(line, "@nul")) {
		b = malloc(8);
		memcpy(b, "{\"a\":\0}", 8);
		*len = 7;
		return b;
	}
	if (!strncmp(line, "@deep ", 6)) {
		n = (size_t)atoi(line + 6);
		b = malloc(2 * n + 32);
		strcpy(b, "{\"text\":");
		for (i = 0; i < n; i++)
			strcat(b, "[");
		for (i = 0; i < n; i++)
			strcat(b, "]");
		strcat(b, "}");
		*len = strlen(b);
		return b;
	}
	if (!strcmp(line, "@big")) {
		n = 5u << 20;
		b = malloc(n + 1);
		memset(b, ' ', n);
		b[0] = '{';
		b[n - 1] = '}';
		b[n] = 0;
		*len = n;
		return b;
	}
	*len = strlen(line);
	return strdup(line);
}

static int bt_run(const struct group *g, bool print)
{
	struct dd_policy *p = NULL;
	struct dd_diags d = {0};
	size_t len, i;
	char *in = bt_input(g->policy, &len);
	dd_err e = dd_policy_load_buffer("p.json", in, len, &p, &d);
	int fails = 0;
	char *got;

	if (print) {
		printf("%s\n", g->policy);
		for (i = 0; i < d.n; i++)
			printf("%s: %s\n", d.v[i].level == DD_DIAG_ERROR ? "error" : "warning",
			       d.v[i].message);
		printf("\n");
	}
	for (i = 0; i < d.n || i < g->n_expect; i++) {
		got = NULL;
		if (i < d.n && asprintf(&got, "%s: %s",
					d.v[i].level == DD_DIAG_ERROR ? "error" : "warning",
					d.v[i].message) < 0)
			got = NULL;
		if (i >= g->n_expect || !got || strcmp(got, g->expect[i])) {
			if (!print)
				fprintf(stderr, "bad_policies.txt:%d: diagnostic %zu\n  got:      %s\n  expected: %s\n",
					g->line, i, got ? got : "(none)",
					i < g->n_expect ? g->expect[i] : "(none)");
			fails++;
		}
		free(got);
	}
	if ((d.n_errors > 0) != (e == DD_E_POLICY) || (e == DD_OK) != (p != NULL)) {
		fprintf(stderr, "bad_policies.txt:%d: result %d with %zu errors\n",
			g->line, e, d.n_errors);
		fails++;
	}
	dd_policy_free(p);
	dd_diags_free(&d);
	free(in);
	return fails;
}

int main(int argc, char **argv)
{
	const char *root = getenv("DD_SOURCE_ROOT");
	bool print = getenv("DD_TEST_PRINT") != NULL;
	char path[4096], *line = NULL;
	size_t cap = 0, n_groups = 0, n_errors = 0;
	struct group g = {0};
	int lineno = 0;
	FILE *f;

	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		snprintf(path, sizeof(path), "%s/tests/policy/bad_policies.txt",
			 root ? root : ".");
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	for (;;) {
		ssize_t r = getline(&line, &cap, f);
		bool end = r < 0;

		lineno++;
		if (!end && r > 0 && line[r - 1] == '\n')
			line[--r] = 0;
		if (end || r == 0 || line[0] == '#') {
			if (g.policy) {
				int fails = bt_run(&g, print);

				dd_test_checks++;
				if (fails)
					dd_test_failures++;
				n_groups++;
				for (size_t i = 0; i < g.n_expect; i++)
					if (!strncmp(g.expect[i], "error: ", 7)) {
						n_errors++;
						break;
					}
				for (size_t i = 0; i < g.n_expect; i++)
					free(g.expect[i]);
				free(g.expect);
				free(g.policy);
				memset(&g, 0, sizeof(g));
			}
			if (end)
				break;
			continue;
		}
		if (!g.policy) {
			g.policy = strdup(line);
			g.line = lineno;
			continue;
		}
		g.expect = realloc(g.expect, (g.n_expect + 1) * sizeof(*g.expect));
		g.expect[g.n_expect++] = strdup(line);
	}
	free(line);
	fclose(f);
	fprintf(stderr, "%zu policies, %zu of them invalid\n", n_groups, n_errors);
	EXPECT(n_errors >= 40);
	return print ? 0 : dd_test_done("test_policy_bad");
}
