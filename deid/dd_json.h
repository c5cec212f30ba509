/* dd_json.h: the FHIR engine's JSON parser and serialiser, drop-in
 * replacements for json-c 0.16's tokener and json_object_to_json_string
 * on the engine's hot path (bulk NDJSON spends most of its time there).
 *
 * Both work on json-c trees, so the walk (dd_fhir_walk.c) and the patient
 * index keep their json-c code; they only do the byte work faster:
 *
 *  - dd_json_parse accepts exactly what json_tokener_parse_ex accepts with
 *    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 and a depth of
 *    @max_depth (json_tokener_new_ex), followed by nothing but whitespace,
 *    and builds the same tree: the same types (int64, uint64, double with
 *    its source text, NaN / Infinity / -Infinity), the same strings
 *    (escapes, surrogates and the U+FFFD json-c puts for broken ones, keys
 *    cut at a \u0000), the same key order, a repeated key keeping its first
 *    place and its last value.  Only containers: the input must start
 *    (after whitespace) with '{' or '['; callers keep json-c for a bare
 *    scalar.  Iterative (no recursion), whatever @max_depth.  Element
 *    names of the R4 table are stored as constant keys (no copy): static
 *    strings that need no escape in JSON (the FHIR walk keys a memo on
 *    their addresses; dd_json_write writes them as they are).  Nothing
 *    else in the engine adds constant keys.
 *    tests/fuzz/fuzz_json.c compares both parsers on every input.
 *  - dd_json_write appends what json_object_to_json_string_length(o,
 *    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) returns.
 *
 * Threads: no shared state after the first call (the key table is built
 * once under pthread_once). */
#ifndef DD_JSON_H
#define DD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "dd_buf.h"
#include "dd_err.h"

enum dd_json_status {
	DD_JSON_OK = 0,
	DD_JSON_BAD,   /* malformed, too deep, or not a container */
	DD_JSON_NOMEM,
};

/* Parse the @n bytes at @p (one JSON object or array, whitespace around
 * it allowed).  On DD_JSON_OK *out holds the tree (caller puts it);
 * otherwise *out is NULL. */
enum dd_json_status dd_json_parse(const uint8_t *p, size_t n,
				  unsigned max_depth, json_object **out);

/* The static spelling under which dd_json_parse stores the key @name (a
 * constant key), or NULL when it stores @name as a copy. */
const char *dd_json_const_key(const char *name);

/* The member @name of the object @o, as json_object_object_get_ex finds
 * it (NULL: none, or null), where @ck is dd_json_const_key(@name) (not
 * NULL): a member stored under @ck is found by its key's address, others
 * by comparing keys json-c copied; an object of more than 16 members is
 * asked to json-c.  Saves json-c's hash of @name (a strlen and a pass
 * over it) for each lookup in small objects. */
json_object *dd_json_get(json_object *o, const char *name, const char *ck);

/* Append @o (NULL: "null") serialised as json-c does (see above).
 * DD_E_NOMEM, DD_E_LIMIT (@out's cap). */
dd_err dd_json_write(json_object *o, struct dd_buf *out);

#endif /* DD_JSON_H */
