/* dd_policy_util.c: diagnostics, JSON paths, field tables, enums, string
 * arrays, base64 and tags for the policy parser. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dd_b64.h"
#include "dd_dict.h"
#include "dd_infotype.h"
#include "dd_policy_i.h"

/* ---- diagnostics ---------------------------------------------------------- */

static bool du_push(struct pol_ctx *c, enum dd_diag_level level,
		    const char *path, const char *text)
{
	struct dd_diags *d = c->diags;
	struct dd_diag *nv;
	char *msg, *pcopy;

	if (!d)
		return true;
	nv = realloc(d->v, (d->n + 1) * sizeof(*d->v));
	if (!nv)
		return false;
	d->v = nv;
	pcopy = strdup(path);
	if (asprintf(&msg, "%s: %s: %s", c->name, path, text) < 0)
		msg = NULL;
	if (!pcopy || !msg) {
		free(pcopy);
		free(msg);
		return false;
	}
	d->v[d->n].level = level;
	d->v[d->n].path = pcopy;
	d->v[d->n].message = msg;
	d->n++;
	if (level == DD_DIAG_ERROR)
		d->n_errors++;
	else
		d->n_warnings++;
	return true;
}

void pol_diag(struct pol_ctx *c, enum dd_diag_level level, const char *path,
	      const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (c->full) {
		/* still count errors so the load fails */
		if (level == DD_DIAG_ERROR && c->diags)
			c->diags->n_errors++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->diags && c->diags->n + 1 >= POL_MAX_DIAGS) {
		c->full = true;
		if (!du_push(c, DD_DIAG_ERROR, "$",
			     "too many problems, the rest are not shown"))
			c->nomem = true;
		if (level == DD_DIAG_ERROR && c->diags)
			c->diags->n_errors++;
		return;
	}
	if (!du_push(c, level, path, text))
		c->nomem = true;
}

void dd_diags_free(struct dd_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].path);
		free(d->v[i].message);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

const char *pol_q(struct pol_q *b, const char *s)
{
	size_t o = 0, i;

	b->s[o++] = '"';
	for (i = 0; s[i] && o + 8 < sizeof(b->s); i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i == 60) {
			memcpy(b->s + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			b->s[o++] = '\\';
			b->s[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(b->s + o, 5, "\\x%02x", ch);
		} else {
			b->s[o++] = (char)ch; /* UTF-8 was validated */
		}
	}
	b->s[o++] = '"';
	b->s[o] = 0;
	return b->s;
}

static bool du_ident(const char *k)
{
	if (!(isalpha((unsigned char)*k) || *k == '_'))
		return false;
	for (; *k; k++)
		if (!(isalnum((unsigned char)*k) || *k == '_'))
			return false;
	return true;
}

const char *pol_jp_key(char *out, const char *parent, const char *key)
{
	struct pol_q q;

	if (du_ident(key) && strlen(key) <= 64)
		snprintf(out, POL_PATH_MAX, "%s.%s", parent, key);
	else
		snprintf(out, POL_PATH_MAX, "%s[%s]", parent, pol_q(&q, key));
	return out;
}

const char *pol_jp_idx(char *out, const char *parent, size_t i)
{
	snprintf(out, POL_PATH_MAX, "%s[%zu]", parent, i);
	return out;
}

const char *pol_type_name(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "unknown";
}

/* ---- field tables --------------------------------------------------------- */

/* proto3 JSON: a field may be spelled lowerCamelCase or as its proto name,
 * which is the snake_case of it ("filterProfile" / "filter_profile"). */
static bool du_snake_eq(const char *key, const char *camel)
{
	for (; *camel; camel++) {
		if (isupper((unsigned char)*camel)) {
			if (*key++ != '_')
				return false;
			if (*key++ != tolower((unsigned char)*camel))
				return false;
		} else if (*key++ != *camel) {
			return false;
		}
	}
	return *key == 0;
}

static const char *jt_name(enum pol_jt t)
{
	static const char *const n[] = {
		[JT_OBJ] = "object", [JT_ARR] = "array", [JT_STR] = "string",
		[JT_BOOL] = "boolean", [JT_INT] = "integer",
		[JT_STR_OR_OBJ] = "string or object",
		[JT_INT_OR_STR] = "integer or string",
	};
	return n[t];
}

static bool jt_ok(enum pol_jt t, json_object *o)
{
	enum json_type j = json_object_get_type(o);

	switch (t) {
	case JT_OBJ:
		return j == json_type_object;
	case JT_ARR:
		return j == json_type_array;
	case JT_STR:
		return j == json_type_string;
	case JT_BOOL:
		return j == json_type_boolean;
	case JT_INT:
		return j == json_type_int;
	case JT_STR_OR_OBJ:
		return j == json_type_string || j == json_type_object;
	case JT_INT_OR_STR:
		return j == json_type_int || j == json_type_string;
	}
	return false;
}

/* "a, b or c" of the names of @f (all, or the members of @group). */
static void du_names(char *out, size_t len, const struct pol_field *f,
		     size_t n, unsigned group)
{
	size_t o = 0, i, k = 0, total = 0;

	for (i = 0; i < n; i++)
		if (!group || f[i].oneof == group)
			total++;
	out[0] = 0;
	for (i = 0; i < n && o < len; i++) {
		if (group && f[i].oneof != group)
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s",
				      k == 0 ? "" : (k + 1 == total ? " or " : ", "),
				      f[i].name);
		k++;
	}
}

bool pol_fields_take(struct pol_ctx *c, json_object *o, const char *path,
		     const struct pol_field *f, size_t n, json_object **got)
{
	char sub[POL_PATH_MAX], names[1024];
	const char *spelled[64];
	size_t i;

	for (i = 0; i < n; i++)
		got[i] = NULL;
	if (json_object_get_type(o) != json_type_object) {
		pol_err(c, path, "wrong type %s (expected object)",
			pol_type_name(o));
		return false;
	}
	json_object_object_foreach(o, key, val) {
		pol_jp_key(sub, path, key);
		for (i = 0; i < n; i++)
			if (!strcmp(key, f[i].name) || du_snake_eq(key, f[i].name))
				break;
		if (i == n) {
			struct pol_q q;

			du_names(names, sizeof(names), f, n, 0);
			if (n)
				pol_err(c, sub, "unknown field %s (expected %s)",
					pol_q(&q, key), names);
			else
				pol_err(c, sub, "unknown field %s (expected an empty object)",
					pol_q(&q, key));
			continue;
		}
		if (n <= 64 && got[i]) {
			struct pol_q q1, q2;

			pol_err(c, sub, "field %s given twice (as %s and %s)",
				f[i].name, pol_q(&q1, spelled[i]), pol_q(&q2, key));
			continue;
		}
		if (json_object_get_type(val) == json_type_null)
			continue; /* proto3 JSON: null is the default */
		if (!jt_ok(f[i].type, val)) {
			pol_err(c, sub, "wrong type %s (expected %s)",
				pol_type_name(val), jt_name(f[i].type));
			continue;
		}
		if (f[i].beta && c->api == DD_API_V1) {
			pol_err(c, sub, "%s needs apiVersion v1beta1 (expected \"deidfs\": {\"apiVersion\": \"v1beta1\"})",
				f[i].name);
			continue;
		}
		got[i] = val;
		if (i < 64)
			spelled[i] = key;
	}
	/* oneof: keep the first member in table order, report the others */
	for (i = 0; i < n; i++) {
		size_t j;

		if (!f[i].oneof || !got[i])
			continue;
		for (j = i + 1; j < n; j++) {
			if (f[j].oneof != f[i].oneof || !got[j])
				continue;
			du_names(names, sizeof(names), f, n, f[i].oneof);
			pol_err(c, path, "both %s and %s are set (expected only one of %s)",
				f[i].name, f[j].name, names);
			got[j] = NULL;
		}
	}
	return true;
}

void pol_empty_msg(struct pol_ctx *c, json_object *o, const char *path)
{
	pol_fields_take(c, o, path, NULL, 0, NULL);
}

void pol_oneof_missing(struct pol_ctx *c, const char *path, const char *what,
		       const struct pol_field *f, size_t n, unsigned group)
{
	char names[1024];

	du_names(names, sizeof(names), f, n, group);
	pol_err(c, path, "no %s given (expected one of %s)", what, names);
}

int pol_enum(struct pol_ctx *c, json_object *o, const char *path,
	     const char *const *names, size_t n)
{
	const char *s = json_object_get_string(o);
	char list[1024];
	size_t i, off = 0;
	struct pol_q q;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(s, names[i]))
			return (int)i;
	list[0] = 0;
	for (i = 0; i < n && off < sizeof(list); i++)
		if (names[i])
			off += (size_t)snprintf(list + off, sizeof(list) - off,
						"%s%s", off ? ", " : "", names[i]);
	pol_err(c, path, "unknown value %s (expected one of %s)", pol_q(&q, s),
		list);
	return -1;
}

/* ---- string arrays -------------------------------------------------------- */

char *pol_strdup(struct pol_ctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d)
		c->nomem = true;
	return d;
}

bool pol_strv_add(struct pol_ctx *c, struct dd_strv *v, const char *s)
{
	char **nv;
	char *d;

	if (v->n >= POL_MAX_ARRAY)
		return false;
	d = pol_strdup(c, s);
	if (!d)
		return false;
	nv = realloc(v->v, (v->n + 1) * sizeof(*v->v));
	if (!nv) {
		free(d);
		c->nomem = true;
		return false;
	}
	v->v = nv;
	v->v[v->n++] = d;
	return true;
}

void pol_strv_free(struct dd_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

void pol_strv_take(struct pol_ctx *c, json_object *arr, const char *path,
		   struct dd_strv *v, pol_str_check check)
{
	char sub[POL_PATH_MAX];
	size_t i, n = json_object_array_length(arr);

	pol_strv_free(v);
	if (n > POL_MAX_ARRAY) {
		pol_err(c, path, "%zu elements (expected at most %u)", n,
			POL_MAX_ARRAY);
		return;
	}
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		pol_jp_idx(sub, path, i);
		if (json_object_get_type(e) != json_type_string) {
			pol_err(c, sub, "wrong type %s (expected string)",
				pol_type_name(e));
			continue;
		}
		if (check && !check(c, json_object_get_string(e), sub))
			continue;
		pol_strv_add(c, v, json_object_get_string(e));
	}
}

bool pol_check_info_type(struct pol_ctx *c, const char *s, const char *path)
{
	enum dd_info_type t;
	struct pol_q q;

	if (!dd_info_type_name_valid(s)) {
		pol_err(c, path, "bad infoType name %s (expected upper-case letters, digits and _, starting with a letter, such as \"PERSON_NAME\")",
			pol_q(&q, s));
		return false;
	}
	if (!dd_info_type_from_name(s, &t))
		pol_warn(c, path, "infoType %s is not one deidfs detects (accepted, no effect)",
			 pol_q(&q, s));
	return true;
}

/* ---- base64 and keys ------------------------------------------------------ */


bool pol_b64_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s), pad = 0, i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad && (n + pad) % 4))
		return false;
	for (i = 0; i < n; i++) {
		int v = dd_b64_value((unsigned char)s[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return false;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* leftover bits must be zero (canonical encoding) */
	if (bits && (acc & ((1u << bits) - 1)))
		return false;
	*len = o;
	return true;
}

void pol_b64_encode(const uint8_t *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

bool pol_key_take(struct pol_ctx *c, json_object *o, const char *path,
		  struct dd_inline_key *k)
{
	const char *s = json_object_get_string(o);
	uint8_t buf[64];
	size_t len = 0;

	memset(k, 0, sizeof(*k));
	if (!pol_b64_decode(s, buf, sizeof(buf), &len)) {
		pol_err(c, path, "not valid base64 (expected the base64 of 16, 24 or 32 bytes)");
		return false;
	}
	if (len != 16 && len != 24 && len != 32) {
		pol_err(c, path, "key is %zu bytes (expected the base64 of 16, 24 or 32 bytes)",
			len);
		OPENSSL_cleanse(buf, sizeof(buf));
		return false;
	}
	memcpy(k->bytes, buf, len);
	k->len = len;
	k->present = true;
	OPENSSL_cleanse(buf, sizeof(buf));
	return true;
}

void pol_key_fingerprint(const uint8_t *key, size_t len, char out[24])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, "deidfs-fp", 9) &&
	    EVP_DigestUpdate(ctx, key, len))
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	memcpy(out, "ddk1:", 5);
	for (int i = 0; i < 8; i++) {
		out[5 + 2 * i] = hex[md[i] >> 4];
		out[6 + 2 * i] = hex[md[i] & 15];
	}
	out[21] = 0;
}

/* ---- DICOM tags ----------------------------------------------------------- */

static const char pol_vrs[] =
	"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST "
	"SV TM UC UI UL UN UR US UT UV";

bool pol_vr_valid(const char *s)
{
	if (strlen(s) != 2 || !isupper((unsigned char)s[0]) ||
	    !isupper((unsigned char)s[1]))
		return false;
	for (size_t i = 0; i + 1 < sizeof(pol_vrs); i += 3)
		if (pol_vrs[i] == s[0] && pol_vrs[i + 1] == s[1])
			return true;
	return false;
}

bool pol_tag_resolve(struct pol_ctx *c, const char *s, const char *path,
		     uint32_t *tag)
{
	const struct dd_dict_entry *e;
	struct pol_q q;
	size_t i, n = strlen(s);

	if (n == 8) {
		for (i = 0; i < 8; i++)
			if (!isxdigit((unsigned char)s[i]))
				break;
		if (i == 8) {
			*tag = (uint32_t)strtoul(s, NULL, 16);
			return true;
		}
	}
	if (!isalpha((unsigned char)s[0])) {
		pol_err(c, path, "bad tag %s (expected 8 hex digits such as \"00100010\", or a keyword)",
			pol_q(&q, s));
		return false;
	}
	e = dd_dict_find_keyword(s);
	if (!e) {
		pol_err(c, path, "unknown DICOM keyword %s (expected a keyword of the data dictionary, such as \"PatientName\", or 8 hex digits)",
			pol_q(&q, s));
		return false;
	}
	*tag = e->tag;
	return true;
}

bool pol_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *u;
		uint64_t m;
	} units[] = {
		{"", 1}, {"b", 1},
		{"k", 1000ull}, {"kb", 1000ull}, {"kib", 1ull << 10},
		{"m", 1000000ull}, {"mb", 1000000ull}, {"mib", 1ull << 20},
		{"g", 1000000000ull}, {"gb", 1000000000ull}, {"gib", 1ull << 30},
		{"t", 1000000000000ull}, {"tb", 1000000000000ull},
		{"tib", 1ull << 40},
	};
	uint64_t v = 0;
	const char *p = s;
	char unit[8];
	size_t i, k = 0;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == ' ')
		p++;
	for (; *p && k + 1 < sizeof(unit); p++)
		unit[k++] = (char)tolower((unsigned char)*p);
	if (*p)
		return false;
	unit[k] = 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].u))
			continue;
		if (v > UINT64_MAX / units[i].m)
			return false;
		*out = v * units[i].m;
		return true;
	}
	return false;
}
