/* fuzz_fhir.c: the FHIR engine on hostile bytes.
 *
 * Each input is transformed as a JSON file and as an NDJSON file, in
 * memory (dd_fhir_transform_buffer) and through a memfd with 64-byte REGEN
 * chunks read back with dd_manifest_read: both must agree, and a served
 * output must be valid JSON (per line for NDJSON).  The input is also fed
 * to dd_index_decode (the stored index's byte form).
 *
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "dd_fhir.h"
#include "dd_index.h"
#include "dd_log.h"


static struct {
	struct dd_policy *pol;
	struct dd_pseudo pseudo;
	struct dd_text *text;
	struct dd_fhir *whole, *tiny;
} fz;
static unsigned long fz_inputs, fz_served;

static void fz_init(void)
{
	static const uint8_t key[32] = "fuzz_fhir fixed key, 32 bytes.!";

	if (fz.whole)
		return;
	dd_log_set_level(DD_LOG_ERR);
	if (dd_policy_builtin("default", &fz.pol) ||
	    dd_pseudo_init(&fz.pseudo, key, sizeof(key)) ||
	    dd_text_new(&fz.pol->text, &fz.pseudo, &fz.text) ||
	    dd_fhir_new(fz.pol, &fz.pseudo, fz.text, NULL, "fuzz", &fz.whole) ||
	    dd_fhir_new(fz.pol, &fz.pseudo, fz.text, NULL, "fuzz-tiny", &fz.tiny))
		abort();
	dd_fhir_set_chunking(fz.tiny, 64, 64);
}

static void fz_valid_json(const struct dd_buf *b, enum dd_kind kind)
{
	const char *p = (const char *)b->data, *end = p + b->len;

	while (p < end) {
		const char *nl = kind == DD_KIND_FHIR_NDJSON
					 ? memchr(p, '\n', (size_t)(end - p))
					 : NULL;
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct json_tokener *tok = json_tokener_new();
		json_object *o = json_tokener_parse_ex(tok, p, (int)n);

		if (!o || !json_object_object_get_ex(o, "resourceType", NULL))
			abort(); /* served output must be JSON with resourceType */
		json_object_put(o);
		json_tokener_free(tok);
		p += n + (nl ? 1 : 0);
	}
}

static void fz_one(const uint8_t *data, size_t size, enum dd_kind kind)
{
	struct dd_buf mem;
	enum dd_reason reason;
	struct dd_manifest m;
	int fd;

	dd_buf_init(&mem, (size_t)64 << 20);
	if (dd_fhir_transform_buffer(fz.whole, data, size, kind, &mem, &reason))
		goto out;
	if (reason == DD_REASON_NONE) {
		fz_served++;
		fz_valid_json(&mem, kind);
	}
	fd = memfd_create("fuzz_fhir", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	dd_manifest_init(&m);
	if (!dd_fhir_transform(fz.tiny, fd, size, kind, NULL, &m)) {
		if ((m.reason == DD_REASON_NONE) != (reason == DD_REASON_NONE))
			abort(); /* both ways must agree on hiding */
		if (m.reason == DD_REASON_NONE) {
			uint8_t buf[97];
			size_t got;

			if (m.size != mem.len)
				abort();
			for (uint64_t off = 0; off < m.size; off += got) {
				if (dd_manifest_read(&m, fd, buf, sizeof(buf), off,
						     &got) || !got ||
				    memcmp(buf, mem.data + off, got))
					abort();
			}
		}
	}
	dd_manifest_free(&m);
	close(fd);
out:
	dd_buf_free(&mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dd_index *x = NULL;

	fz_init();
	fz_inputs++;
	fz_one(data, size, DD_KIND_FHIR_JSON);
	fz_one(data, size, DD_KIND_FHIR_NDJSON);
	if (!dd_index_decode(data, size, &x))
		dd_index_free(x);
	return 0;
}

void dd_fuzz_done(void)
{
	fprintf(stderr, "fuzz_fhir: %lu inputs, %lu served\n", fz_inputs,
		fz_served);
	dd_fhir_free(fz.whole);
	dd_fhir_free(fz.tiny);
	dd_text_free(fz.text);
	dd_policy_free(fz.pol);
}
