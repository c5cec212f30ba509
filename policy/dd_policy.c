/* dd_policy.c: loading a policy (file, buffer, built-in) and freeing it.
 *
 * The order matters: the "deidfs" object is read first, because its
 * apiVersion decides which Google fields are allowed and which defaults
 * apply; then the Google part; then the cross-checks; then, if there was
 * no error, the canonical JSON and its hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dd_policy_i.h"

/* ---- freeing -------------------------------------------------------------- */

static void pl_image_free(struct dd_policy_image *im)
{
	pol_strv_free(&im->additional_info_types);
	pol_strv_free(&im->exclude_info_types);
}

void dd_policy_free(struct dd_policy *p)
{
	size_t i;

	if (!p)
		return;
	free(p->source);
	free(p->dicom.list_tags);
	for (i = 0; i < p->dicom.n_actions; i++) {
		free(p->dicom.actions[i].queries);
		pl_image_free(&p->dicom.actions[i].image);
	}
	free(p->dicom.actions);
	pl_image_free(&p->dicom.clean_image);
	for (i = 0; i < p->fhir.n_fields; i++)
		pol_strv_free(&p->fhir.fields[i].paths);
	free(p->fhir.fields);
	pl_image_free(&p->image);
	for (i = 0; i < p->text.n_transforms; i++)
		pol_strv_free(&p->text.transforms[i].info_types);
	free(p->text.transforms);
	pol_strv_free(&p->text.exclude_info_types);
	pol_deidfs_free(&p->deidfs);
	free(p->canonical_json);
	/* inline keys live in several places: wipe the whole struct */
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

/* ---- JSON text ------------------------------------------------------------ */

static void pl_position(const char *json, size_t off, size_t *line,
			size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (json[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)json[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* json-c's strict mode still takes single-quoted strings and NaN or
 * Infinity: find them (outside strings) after a successful parse.
 * Returns the offset of the first, or @len. */
static size_t pl_nonstandard(const char *json, size_t len)
{
	size_t i = 0, w;

	while (i < len) {
		char ch = json[i];

		if (ch == '"') {
			for (i++; i < len && json[i] != '"'; i++)
				if (json[i] == '\\')
					i++;
			i++;
		} else if (ch == '\'') {
			return i;
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			for (i++; i < len && strchr("0123456789+-.eE", json[i]); i++)
				;
			if (i < len && ((json[i] >= 'a' && json[i] <= 'z') ||
					(json[i] >= 'A' && json[i] <= 'Z')))
				return i; /* -Infinity */
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
			for (w = i; i < len && ((json[i] >= 'a' && json[i] <= 'z') ||
						(json[i] >= 'A' && json[i] <= 'Z'));
			     i++)
				;
			if (!((i - w == 4 && (!strncmp(json + w, "true", 4) ||
					      !strncmp(json + w, "null", 4))) ||
			      (i - w == 5 && !strncmp(json + w, "false", 5))))
				return w;
		} else {
			i++;
		}
	}
	return len;
}

/* Parse @json strictly; NULL (reported) on any syntax problem. */
static json_object *pl_parse(struct pol_ctx *c, const char *json, size_t len)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *root;
	const char *nul;
	size_t i, end, json_end, line, col;

	if (len > POL_MAX_FILE) {
		pol_err(c, "$", "the policy is %zu bytes (expected at most %u bytes)",
			len, POL_MAX_FILE);
		return NULL;
	}
	for (i = 0; i < len; i++)
		if (!strchr(" \t\r\n", json[i]))
			break;
	if (i == len) {
		pol_err(c, "$", "empty file (expected a JSON object)");
		return NULL;
	}
	nul = memchr(json, 0, len);
	if (nul) {
		pl_position(json, (size_t)(nul - json), &line, &col);
		pol_err(c, "$", "NUL byte at line %zu, column %zu (expected JSON text)",
			line, col);
		return NULL;
	}
	tok = json_tokener_new_ex(POL_MAX_DEPTH);
	if (!tok) {
		c->nomem = true;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		pl_position(json, len, &line, &col);
		pol_err(c, "$", "JSON syntax error at line %zu, column %zu: unexpected end of file (expected the rest of the JSON text)",
			line, col);
		json_object_put(root);
		return NULL;
	}
	if (jerr != json_tokener_success) {
		pl_position(json, end, &line, &col);
		if (jerr == json_tokener_error_depth)
			pol_err(c, "$", "JSON nesting deeper than %d levels at line %zu, column %zu (expected a shallower document)",
				POL_MAX_DEPTH, line, col);
		else
			pol_err(c, "$", "JSON syntax error at line %zu, column %zu: %s (expected valid JSON)",
				line, col, json_tokener_error_desc(jerr));
		json_object_put(root);
		return NULL;
	}
	end = pl_nonstandard(json, len) < end ? pl_nonstandard(json, len) : end;
	for (i = end; i < len; i++) {
		if (!strchr(" \t\r\n", json[i])) {
			pl_position(json, i, &line, &col);
			pol_err(c, "$", "JSON syntax error at line %zu, column %zu: %s (expected valid JSON)",
				line, col, i < json_end ? "unexpected character"
					 : "text after the end of the JSON value");
			json_object_put(root);
			return NULL;
		}
	}
	return root;
}

/* ---- loading -------------------------------------------------------------- */


/* True if @root uses a field or value that only v1beta1 has.  A policy
 * that does not name its apiVersion is then read as v1beta1, so Google's
 * own v1beta1 configs load unchanged; an explicit "v1" still rejects them. */
static bool pl_has(json_object *o, const char *camel, const char *snake,
		   json_object **val)
{
	json_object *dummy;

	if (!val)
		val = &dummy;
	return o && json_object_get_type(o) == json_type_object &&
	       (json_object_object_get_ex(o, camel, val) ||
		json_object_object_get_ex(o, snake, val));
}

static bool pl_uses_v1beta1(json_object *root)
{
	json_object *text = NULL, *image = NULL, *mode = NULL;

	if (pl_has(root, "dicomTagConfig", "dicom_tag_config", NULL) ||
	    pl_has(root, "fhirFieldConfig", "fhir_field_config", NULL) ||
	    pl_has(root, "annotation", "annotation", NULL) ||
	    pl_has(root, "operationMetadata", "operation_metadata", NULL))
		return true;
	if (pl_has(root, "text", "text", &text) &&
	    pl_has(text, "profileType", "profile_type", NULL))
		return true;
	if (pl_has(root, "image", "image", &image) &&
	    (pl_has(image, "additionalInfoTypes", "additional_info_types", NULL) ||
	     pl_has(image, "excludeInfoTypes", "exclude_info_types", NULL) ||
	     (pl_has(image, "textRedactionMode", "text_redaction_mode", &mode) &&
	      json_object_get_type(mode) == json_type_string &&
	      strcmp(json_object_get_string(mode),
		     "REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS") == 0)))
		return true;
	return false;
}

static dd_err pl_load(const char *name, const char *dir, const char *json,
		      size_t len, struct dd_policy **out,
		      struct dd_diags *diags)
{
	struct dd_diags local = {0};
	struct pol_ctx c = {0};
	struct dd_policy *p;
	json_object *root, *ds = NULL;
	dd_err err = DD_OK;

	*out = NULL;
	c.name = name ? name : "policy";
	c.diags = diags ? diags : &local;
	c.dir = dir;
	c.api = DD_API_V1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return DD_E_NOMEM;
	c.p = p;
	p->source = strdup(c.name);
	if (!p->source) {
		err = DD_E_NOMEM;
		goto out_free_policy;
	}
	pol_deidfs_defaults(&c);
	root = pl_parse(&c, json, len);
	if (!root)
		goto out_result;
	if (json_object_get_type(root) != json_type_object) {
		pol_err(&c, "$", "wrong type %s (expected object)",
			pol_type_name(root));
		goto out_put_root;
	}
	if (json_object_object_get_ex(root, "deidfs", &ds) &&
	    json_object_get_type(ds) == json_type_object)
		pol_deidfs_parse(&c, ds, "$.deidfs");
	if (!c.api_explicit && pl_uses_v1beta1(root))
		c.api = p->deidfs.api_version = DD_API_V1BETA1;
	pol_google_parse(&c, root);
	pol_deidfs_check(&c, ds);
out_put_root:
	json_object_put(root);
out_result:
	if (c.nomem)
		err = DD_E_NOMEM;
	else if (c.diags->n_errors)
		err = DD_E_POLICY;
	else
		err = pol_canon_build(p);
out_free_policy:
	if (err)
		dd_policy_free(p);
	else
		*out = p;
	dd_diags_free(&local);
	return err;
}

dd_err dd_policy_load_buffer(const char *name, const char *json, size_t len,
			     struct dd_policy **out, struct dd_diags *diags)
{
	if (!out || (!json && len))
		return DD_E_INVAL;
	return pl_load(name, NULL, json ? json : "", len, out, diags);
}

/* Read at most POL_MAX_FILE + 1 bytes of @path. */
static dd_err pl_read(const char *path, char **buf, size_t *len, int *errnum)
{
	struct stat st;
	size_t cap = POL_MAX_FILE + 1, n = 0;
	ssize_t r;
	char *b;
	int fd;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*errnum = errno;
		return DD_E_IO;
	}
	if (fstat(fd, &st) < 0) {
		*errnum = errno;
		close(fd);
		return DD_E_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		*errnum = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		return DD_E_IO;
	}
	if ((uint64_t)st.st_size < cap)
		cap = (size_t)st.st_size + 1;
	b = malloc(cap + 1);
	if (!b) {
		close(fd);
		return DD_E_NOMEM;
	}
	while (n < cap) {
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*errnum = errno;
			free(b);
			close(fd);
			return DD_E_IO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap && cap < POL_MAX_FILE + 1) {
			/* the file grew: read on, up to the cap */
			size_t ncap = POL_MAX_FILE + 1;
			char *nb = realloc(b, ncap + 1);

			if (!nb) {
				free(b);
				close(fd);
				return DD_E_NOMEM;
			}
			b = nb;
			cap = ncap;
		}
	}
	close(fd);
	b[n] = 0;
	*buf = b;
	*len = n;
	return DD_OK;
}

dd_err dd_policy_load_file(const char *path, struct dd_policy **out,
			   struct dd_diags *diags)
{
	struct pol_ctx c = {0};
	char *buf = NULL, *dir = NULL, *slash;
	size_t len = 0;
	int errnum = 0;
	dd_err err;

	if (!path || !out)
		return DD_E_INVAL;
	*out = NULL;
	err = pl_read(path, &buf, &len, &errnum);
	if (err == DD_E_IO) {
		c.name = path;
		c.diags = diags;
		pol_err(&c, "$", "cannot read the file: %s", strerror(errnum));
		return DD_E_IO;
	}
	if (err)
		return err;
	dir = strdup(path);
	if (!dir) {
		free(buf);
		return DD_E_NOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	else
		strcpy(dir, ".");
	err = pl_load(path, dir, buf, len, out, diags);
	free(dir);
	free(buf);
	return err;
}

/* ---- built-ins ------------------------------------------------------------ */

static const char *const pl_builtin_names[] = {
	"default", "safe-harbor", "keep-dates", "minimal", NULL,
};

const char *const *dd_policy_builtin_names(void)
{
	return pl_builtin_names;
}

const char *dd_policy_builtin_json(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < pol_n_builtins; i++)
		if (!strcmp(pol_builtins[i].name, name))
			return pol_builtins[i].json;
	return NULL;
}

dd_err dd_policy_builtin(const char *name, struct dd_policy **out)
{
	struct dd_diags diags = {0};
	const char *json = dd_policy_builtin_json(name);
	char label[80];
	dd_err err;

	if (!out)
		return DD_E_INVAL;
	*out = NULL;
	if (!json)
		return DD_E_NOTFOUND;
	snprintf(label, sizeof(label), "builtin:%s", name);
	err = dd_policy_load_buffer(label, json, strlen(json), out, &diags);
	dd_diags_free(&diags);
	/* a built-in that does not load is a bug (tests/policy checks it) */
	return err == DD_E_POLICY ? DD_E_INTERNAL : err;
}
