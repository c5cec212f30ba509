/* fuzz_json.c: dd_json (the FHIR engine's JSON parser and writer) against
 * json-c 0.16, the behaviour it must keep byte for byte.
 *
 * Each input starting (after whitespace) with '{' or '[' is parsed by
 * json-c's tokener as the engine used it (strict, UTF-8 checked, depth
 * capped, then only whitespace) and by dd_json_parse, at depths 2, 3 and
 * 64 (and 1 + the size % 6): both must accept or both refuse, and
 * accepted trees must have the same shape and types and serialise to the
 * same bytes.  dd_json_write must write what json-c writes for either
 * tree.  Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "dd_json.h"

static unsigned long fz_inputs, fz_parsed;

static bool fz_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* json-c as dd_fhir.c called it before dd_json_parse. */
static json_object *fz_jsonc(const uint8_t *p, size_t n, unsigned depth)
{
	struct json_tokener *tok = json_tokener_new_ex((int)depth);
	json_object *o;
	size_t end;

	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	end = json_tokener_get_parse_end(tok);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (size_t i = end; i < n; i++)
			if (!fz_ws(p[i])) {
				json_object_put(o);
				o = NULL;
				break;
			}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Same shape and types (ints: int64 vs uint64 too), keys in order. */
static void fz_same(json_object *a, json_object *b)
{
	enum json_type t = json_object_get_type(a);

	if (t != json_object_get_type(b))
		abort();
	switch (t) {
	case json_type_int:
		if (json_object_get_int64(a) != json_object_get_int64(b) ||
		    json_object_get_uint64(a) != json_object_get_uint64(b))
			abort();
		break;
	case json_type_string:
		if (json_object_get_string_len(a) != json_object_get_string_len(b) ||
		    memcmp(json_object_get_string(a), json_object_get_string(b),
			   (size_t)json_object_get_string_len(a)))
			abort();
		break;
	case json_type_array: {
		size_t n = json_object_array_length(a);

		if (n != json_object_array_length(b))
			abort();
		for (size_t i = 0; i < n; i++)
			fz_same(json_object_array_get_idx(a, i),
				json_object_array_get_idx(b, i));
		break;
	}
	case json_type_object: {
		struct json_object_iterator ia = json_object_iter_begin(a),
					   ea = json_object_iter_end(a),
					   ib = json_object_iter_begin(b),
					   eb = json_object_iter_end(b);

		if (json_object_object_length(a) != json_object_object_length(b))
			abort();
		while (!json_object_iter_equal(&ia, &ea)) {
			json_object *v;

			if (json_object_iter_equal(&ib, &eb) ||
			    strcmp(json_object_iter_peek_name(&ia),
				   json_object_iter_peek_name(&ib)))
				abort();
			/* b's entries are found by their keys (dd_json_parse
			 * inserts constant keys with their hash taken once) */
			if (!json_object_object_get_ex(
				    b, json_object_iter_peek_name(&ib), &v) ||
			    v != json_object_iter_peek_value(&ib))
				abort();
			/* and by dd_json_get, in a and b alike */
			{
				const char *nm = json_object_iter_peek_name(&ia);
				const char *ck = dd_json_const_key(nm);

				if (ck && (dd_json_get(b, nm, ck) != v ||
					   dd_json_get(a, nm, ck) !=
						   json_object_iter_peek_value(&ia)))
					abort();
			}
			fz_same(json_object_iter_peek_value(&ia),
				json_object_iter_peek_value(&ib));
			json_object_iter_next(&ia);
			json_object_iter_next(&ib);
		}
		break;
	}
	default:
		break;
	}
}

/* dd_json_write(@o) == json-c's text of @o; returns that text's length. */
static size_t fz_write(json_object *o, const char **text)
{
	struct dd_buf b;
	size_t n;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	dd_buf_init(&b, (size_t)1 << 30);
	if (!s || dd_json_write(o, &b) || b.len != n || memcmp(b.data, s, n) ||
	    b.data[b.len] != 0)
		abort();
	dd_buf_free(&b);
	*text = s;
	return n;
}

static void fz_depth(const uint8_t *data, size_t size, unsigned depth)
{
	json_object *a = fz_jsonc(data, size, depth), *b = NULL;
	enum dd_json_status st = dd_json_parse(data, size, depth, &b);

	if (st == DD_JSON_NOMEM)
		abort();
	if ((a != NULL) != (st == DD_JSON_OK))
		abort(); /* accept the same inputs */
	if (a) {
		const char *ta, *tb;
		size_t na, nb;

		fz_parsed++;
		fz_same(a, b);
		na = fz_write(a, &ta);
		nb = fz_write(b, &tb);
		if (na != nb || memcmp(ta, tb, na))
			abort();
	}
	json_object_put(a);
	json_object_put(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	fz_inputs++;
	if (size > ((size_t)1 << 24))
		return 0;
	while (i < size && fz_ws(data[i]))
		i++;
	if (i == size || (data[i] != '{' && data[i] != '['))
		return 0; /* scalars stay with json-c (dd_fhir.c) */
	fz_depth(data, size, 2);
	fz_depth(data, size, 3);
	fz_depth(data, size, 64);
	fz_depth(data, size, 1 + (unsigned)(size % 6));
	return 0;
}

void dd_fuzz_done(void)
{
	fprintf(stderr, "fuzz_json: %lu inputs, %lu parsed\n", fz_inputs,
		fz_parsed);
}
