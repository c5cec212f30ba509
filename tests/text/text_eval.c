/* text_eval.c: character-level recall and precision of dd_text on a
 * labelled corpus (tests/text/corpus/, written by gen_corpus.py).
 *
 *   text_eval [-v] [-a] CORPUS
 *   text_eval -g CORPUS            (print every span: the golden list)
 *   text_eval -G GOLDEN CORPUS     (compare with a golden list)
 *
 * Recall of an infoType = characters of its marked spans that some
 * detected span covers / all characters of its marked spans ("any": the
 * detected type may differ, which is what matters for de-identification;
 * "typed": the detected type must be the same).  Precision = detected
 * characters inside a marked span / all detected characters.  -v lists
 * every miss and every false alarm; -a asserts the thresholds of
 * docs/internals/text.md and exits 1 if one fails.
 *
 * -g prints the spans of every note, found with the note's contextual
 * values and again without them; -G compares that list with a file made
 * by -g and exits 1 at the first difference.  The golden lists in
 * tests/text/golden/ were made once by the detector before its speed work:
 * any change of behaviour shows up there (tests/text/meson.build). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dd_text.h"

struct gold {
	size_t s, e;
	enum dd_info_type type;
};

struct note {
	struct dd_buf text;
	struct gold *g;
	size_t ng, capg;
	struct dd_text_ctx *ctx;
	char title[128];
};

static size_t gold_chars[DD_IT_LAST], hit_any[DD_IT_LAST], hit_typed[DD_IT_LAST];
static size_t det_chars, det_in_gold;
static bool verbose;
static struct dd_buf spans_out; /* -g / -G */
static bool list_spans;

static int list_note(const struct dd_text *t, const struct note *n,
		     const struct dd_text_ctx *ctx, const char *tag)
{
	struct dd_text_span *sp = NULL;
	size_t ns = 0;
	const char *s = (const char *)n->text.data;

	if (dd_text_find(t, ctx, s, n->text.len, &sp, &ns) != DD_OK)
		return -1;
	dd_buf_addf(&spans_out, "# %s%s\n", n->title, tag);
	for (size_t i = 0; i < ns; i++) {
		dd_buf_addf(&spans_out, "%zu\t%zu\t%s%s\t", sp[i].start, sp[i].end,
			    dd_info_type_name(sp[i].type), sp[i].contextual ? "*" : "");
		/* the text, newlines shown as \n, so one span is one line */
		for (size_t k = sp[i].start; k < sp[i].end; k++) {
			if (s[k] == '\n')
				dd_buf_adds(&spans_out, "\\n");
			else
				dd_buf_addc(&spans_out, s[k]);
		}
		dd_buf_addc(&spans_out, '\n');
	}
	free(sp);
	return 0;
}

static void note_reset(struct note *n)
{
	dd_buf_reset(&n->text);
	n->ng = 0;
	dd_text_ctx_free(n->ctx);
	n->ctx = NULL;
}

static int gold_push(struct note *n, size_t s, size_t e, enum dd_info_type t)
{
	if (n->ng == n->capg) {
		size_t nc = n->capg ? n->capg * 2 : 32;
		struct gold *v = realloc(n->g, nc * sizeof(*v));

		if (!v)
			return -1;
		n->g = v;
		n->capg = nc;
	}
	n->g[n->ng++] = (struct gold){ s, e, t };
	return 0;
}

/* Append one line of note text, turning {{TYPE|text}} into gold spans. */
static int add_line(struct note *n, const char *l, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *o = memmem(l + i, len - i, "{{", 2), *bar, *cl;
		enum dd_info_type t;
		char name[64];
		size_t s;

		if (!o) {
			dd_buf_add(&n->text, l + i, len - i);
			break;
		}
		dd_buf_add(&n->text, l + i, (size_t)(o - (l + i)));
		bar = memchr(o, '|', len - (size_t)(o - l));
		cl = memmem(o, len - (size_t)(o - l), "}}", 2);
		if (!bar || !cl || bar > cl || (size_t)(bar - o - 2) >= sizeof(name)) {
			fprintf(stderr, "bad markup in %s\n", n->title);
			return -1;
		}
		memcpy(name, o + 2, (size_t)(bar - o - 2));
		name[bar - o - 2] = 0;
		if (!dd_info_type_from_name(name, &t)) {
			fprintf(stderr, "unknown infoType %s\n", name);
			return -1;
		}
		s = n->text.len;
		dd_buf_add(&n->text, bar + 1, (size_t)(cl - bar - 1));
		if (gold_push(n, s, n->text.len, t))
			return -1;
		i = (size_t)(cl + 2 - l);
	}
	return dd_buf_addc(&n->text, '\n') ? -1 : 0;
}

static void show(const char *what, const struct note *n, size_t s, size_t e,
		 const char *type)
{
	if (verbose)
		printf("%s\t%s\t%s\t%.*s\n", what, n->title, type, (int)(e - s),
		       (const char *)n->text.data + s);
}

static int eval_note(const struct dd_text *t, struct note *n)
{
	struct dd_text_span *sp = NULL;
	size_t ns = 0, len = n->text.len;
	unsigned char *gt, *dt;
	const char *s = (const char *)n->text.data;

	if (!len)
		return 0;
	if (list_spans)
		return list_note(t, n, n->ctx, "") ||
		       (n->ctx && list_note(t, n, NULL, " (no context)")) ? -1 : 0;
	if (dd_text_find(t, n->ctx, s, len, &sp, &ns) != DD_OK)
		return -1;
	gt = calloc(len, 1); /* gold type + 1 */
	dt = calloc(len, 1); /* detected type + 1 */
	if (!gt || !dt)
		return -1;
	for (size_t i = 0; i < n->ng; i++)
		for (size_t k = n->g[i].s; k < n->g[i].e; k++)
			gt[k] = (unsigned char)(n->g[i].type + 1);
	for (size_t i = 0; i < ns; i++) {
		bool fp = false;

		for (size_t k = sp[i].start; k < sp[i].end; k++) {
			dt[k] = (unsigned char)(sp[i].type + 1);
			det_chars++;
			if (gt[k])
				det_in_gold++;
			else if (s[k] != ' ')
				fp = true;
		}
		if (fp)
			show("FALSE", n, sp[i].start, sp[i].end,
			     dd_info_type_name(sp[i].type));
	}
	for (size_t i = 0; i < n->ng; i++) {
		const struct gold *g = &n->g[i];
		bool miss = false;

		for (size_t k = g->s; k < g->e; k++) {
			gold_chars[g->type]++;
			if (dt[k]) {
				hit_any[g->type]++;
				if (dt[k] == g->type + 1)
					hit_typed[g->type]++;
			} else {
				miss = true;
			}
		}
		if (miss)
			show("MISS", n, g->s, g->e, dd_info_type_name(g->type));
	}
	free(gt);
	free(dt);
	free(sp);
	return 0;
}

static double ratio(size_t a, size_t b)
{
	return b ? (double)a / (double)b : 1.0;
}

/* Thresholds on the "any" recall; groups sum their characters. */
static const struct {
	const char *name;
	enum dd_info_type types[4];
	int n;
	double min;
} groups[] = {
	{ "names", { DD_IT_PERSON_NAME }, 1, 0.99 },
	{ "ids", { DD_IT_MEDICAL_RECORD_NUMBER, DD_IT_US_SOCIAL_SECURITY_NUMBER, DD_IT_GENERIC_ID }, 3, 0.99 },
	{ "phones", { DD_IT_PHONE_NUMBER, DD_IT_FAX_NUMBER }, 2, 0.99 },
	{ "emails", { DD_IT_EMAIL_ADDRESS }, 1, 0.99 },
	{ "ssns", { DD_IT_US_SOCIAL_SECURITY_NUMBER }, 1, 0.99 },
	{ "dates", { DD_IT_DATE }, 1, 0.99 },
	{ "addresses", { DD_IT_STREET_ADDRESS, DD_IT_LOCATION }, 2, 0.95 },
	{ "organisations", { DD_IT_ORGANIZATION_NAME }, 1, 0.95 },
};

static int report(bool assert_)
{
	int fail = 0;
	double prec = ratio(det_in_gold, det_chars);

	printf("%-28s %8s %8s %8s\n", "infoType", "chars", "recall", "typed");
	for (unsigned t = 0; t < DD_IT_LAST; t++) {
		if (!gold_chars[t])
			continue;
		printf("%-28s %8zu %8.4f %8.4f\n", dd_info_type_name(t), gold_chars[t],
		       ratio(hit_any[t], gold_chars[t]), ratio(hit_typed[t], gold_chars[t]));
	}
	printf("\n%-28s %8s %8s\n", "group", "recall", "min");
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		size_t a = 0, b = 0;
		double r;

		for (int k = 0; k < groups[g].n; k++) {
			a += hit_any[groups[g].types[k]];
			b += gold_chars[groups[g].types[k]];
		}
		r = ratio(a, b);
		printf("%-28s %8.4f %8.2f%s\n", groups[g].name, r, groups[g].min,
		       r < groups[g].min ? "  FAIL" : "");
		fail |= r < groups[g].min;
	}
	printf("%-28s %8.4f %8.2f%s   (%zu of %zu detected characters)\n", "precision",
	       prec, 0.90, prec < 0.90 ? "  FAIL" : "", det_in_gold, det_chars);
	fail |= prec < 0.90;
	return assert_ && fail ? 1 : 0;
}

/* -G: the first line that differs, or 0 when the lists are the same. */
static int golden_compare(const char *path)
{
	FILE *g = fopen(path, "rb");
	struct dd_buf want;
	char tmp[65536];
	size_t r, line = 1, i;
	const char *a, *b;
	int rc = 0;

	if (!g) {
		perror(path);
		return 1;
	}
	dd_buf_init(&want, 1u << 28);
	while ((r = fread(tmp, 1, sizeof(tmp), g)) > 0)
		if (dd_buf_add(&want, tmp, r))
			break;
	fclose(g);
	a = want.data ? (const char *)want.data : "";
	b = spans_out.data ? (const char *)spans_out.data : "";
	for (i = 0; i < want.len && i < spans_out.len && a[i] == b[i]; i++)
		if (a[i] == '\n')
			line++;
	if (i < want.len || i < spans_out.len) {
		size_t ls = i;

		while (ls > 0 && a[ls - 1] != '\n')
			ls--;
		fprintf(stderr, "%s: line %zu differs\n", path, line);
		fprintf(stderr, "golden: %.*s\n", (int)strcspn(a + ls, "\n"), a + ls);
		fprintf(stderr, "now:    %.*s\n", (int)strcspn(b + ls, "\n"), b + ls);
		rc = 1;
	} else {
		printf("%s: %zu lines, identical\n", path, line - 1);
	}
	dd_buf_free(&want);
	return rc;
}

int main(int argc, char **argv)
{
	struct dd_text *t = NULL;
	struct note n = { 0 };
	bool assert_ = false, in_note = false;
	const char *golden = NULL;
	char *line = NULL;
	size_t cap = 0, notes = 0;
	ssize_t len;
	FILE *f;
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "vagG:")) != -1) {
		if (opt == 'v')
			verbose = true;
		else if (opt == 'g')
			list_spans = true;
		else if (opt == 'G')
			list_spans = true, golden = optarg;
		else if (opt == 'a')
			assert_ = true;
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: text_eval [-v] [-a] [-g | -G GOLDEN] CORPUS\n");
		return 2;
	}
	f = fopen(argv[optind], "r");
	if (!f) {
		perror(argv[optind]);
		return 1;
	}
	if (dd_text_new(NULL, NULL, &t))
		goto out;
	dd_buf_init(&n.text, 1u << 24);
	dd_buf_init(&spans_out, 1u << 28);
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[--len] = 0;
		if (strncmp(line, "=== NOTE", 8) == 0) {
			if (in_note && eval_note(t, &n))
				goto out;
			note_reset(&n);
			snprintf(n.title, sizeof(n.title), "%s", line + 4);
			in_note = true;
			notes++;
			continue;
		}
		if (strncmp(line, "@ctx ", 5) == 0) {
			char *eq = strchr(line + 5, '=');
			enum dd_info_type ty;

			if (!eq)
				goto out;
			*eq = 0;
			if (!n.ctx && dd_text_ctx_new(&n.ctx))
				goto out;
			if (!dd_info_type_from_name(line + 5, &ty) ||
			    dd_text_ctx_add(n.ctx, ty, eq + 1, strlen(eq + 1)))
				goto out;
			continue;
		}
		if (add_line(&n, line, (size_t)len))
			goto out;
	}
	if (in_note && eval_note(t, &n))
		goto out;
	if (golden) {
		rc = golden_compare(golden);
		goto out;
	}
	if (list_spans) {
		fwrite(spans_out.data ? (char *)spans_out.data : "", 1, spans_out.len, stdout);
		rc = 0;
		goto out;
	}
	printf("%s: %zu notes\n", argv[optind], notes);
	rc = report(assert_);
out:
	dd_buf_free(&spans_out);
	note_reset(&n);
	dd_buf_free(&n.text);
	free(n.g);
	free(line);
	dd_text_free(t);
	fclose(f);
	return rc;
}
