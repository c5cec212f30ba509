/* tool_util.c: policy loading, path building, mkdir -p. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dd_image.h"
#include "tool.h"

static void tu_print_diags(const struct dd_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s: %s\n",
			d->v[i].level == DD_DIAG_ERROR ? "error" : "warning",
			d->v[i].message);
}

struct dd_policy *dd_tool_load_policy(const struct dd_tool_policy_opts *o)
{
	struct dd_policy *pol = NULL;
	struct dd_diags diags = {0};
	dd_err e;

	if (o->file && o->preset) {
		fprintf(stderr, "deid: give either -p FILE or --preset NAME\n");
		return NULL;
	}
	if (o->file) {
		e = dd_policy_load_file(o->file, &pol, &diags);
		tu_print_diags(&diags);
		dd_diags_free(&diags);
		if (e) {
			if (e != DD_E_POLICY)
				fprintf(stderr, "deid: %s: %s\n", o->file,
					dd_strerror(e));
			return NULL;
		}
		return pol;
	}
	e = dd_policy_builtin(o->preset ? o->preset : "default", &pol);
	if (e) {
		fprintf(stderr, "deid: preset \"%s\": %s\n",
			o->preset ? o->preset : "default", dd_strerror(e));
		return NULL;
	}
	return pol;
}

struct dd_view *dd_tool_open_view(const struct dd_tool_policy_opts *o,
				  struct dd_policy **pol_out)
{
	struct dd_view_opts vo = {.key_file = o->key_file,
				  .may_generate_key = true,
				  .src_dir = o->src_dir,
				  .progress = o->quiet ? NULL : stderr,
				  /* each command uses dcmtk from one thread */
				  .one_thread = true};
	struct dd_policy *pol = dd_tool_load_policy(o);
	struct dd_view *v = NULL;
	char err[512] = "";
	dd_err e;

	*pol_out = NULL;
	if (!pol)
		return NULL;
	/* as deidfs does at mount: a broken tesseract install is said once,
	 * before the patient index's scan, not as every OCR'd image hidden
	 * with reason "internal" */
	if (o->check_ocr && dd_image_check_ocr(pol, err, sizeof(err))) {
		fprintf(stderr, "deid: %s\n", err);
		dd_policy_free(pol);
		return NULL;
	}
	e = dd_view_new(pol, &vo, &v, err, sizeof(err));
	if (e) {
		fprintf(stderr, "deid: %s\n", err[0] ? err : dd_strerror(e));
		dd_policy_free(pol);
		return NULL;
	}
	*pol_out = pol;
	return v;
}

bool dd_pathbuf_init(struct dd_pathbuf *b, const char *root)
{
	b->len = strlen(root);
	b->cap = PATH_MAX;
	if (b->len >= b->cap)
		return false;
	b->p = malloc(b->cap);
	if (!b->p)
		return false;
	memcpy(b->p, root, b->len + 1);
	while (b->len > 1 && b->p[b->len - 1] == '/')
		b->p[--b->len] = 0;
	return true;
}

size_t dd_pathbuf_push(struct dd_pathbuf *b, const char *name)
{
	size_t prev = b->len, n = strlen(name);

	if (prev + 1 + n + 1 > b->cap)
		return (size_t)-1;
	b->p[b->len++] = '/';
	memcpy(b->p + b->len, name, n + 1);
	b->len += n;
	return prev;
}

void dd_pathbuf_pop(struct dd_pathbuf *b, size_t prev_len)
{
	b->len = prev_len;
	b->p[prev_len] = 0;
}

void dd_pathbuf_free(struct dd_pathbuf *b)
{
	free(b->p);
	b->p = NULL;
}

int dd_tool_mkdirs(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}
