/* fuzz_cache_record.c: fuzz target for the cache record decoder
 * (dd_cache_record_decode: the bytes of a record as read from data.mdb,
 * which may be damaged or tampered with).
 *
 * Input: 32 bytes of key, then the stored value.  (Shorter inputs are the
 * value under an all-zero key.)  A record that decodes must re-encode to
 * the same bytes, and its payload must lie inside the input.
 *
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "dd_cache_i.h"


static unsigned long fz_inputs, fz_decoded; /* reported by dd_fuzz_done() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero_key[DD_CACHE_KEY_LEN];
	struct dd_cache_record rec;
	const uint8_t *key = zero_key, *raw = data;
	char name[DD_CACHE_META_NAME_MAX + 2];
	size_t rawlen = size, off = 0;
	uint8_t *copy, *again;

	if (size >= DD_CACHE_KEY_LEN) {
		key = data;
		raw = data + DD_CACHE_KEY_LEN;
		rawlen = size - DD_CACHE_KEY_LEN;
	}
	/* A private copy, so ASan sees any read past the value. */
	copy = malloc(rawlen ? rawlen : 1);
	if (!copy)
		return 0;
	if (rawlen)
		memcpy(copy, raw, rawlen);
	fz_inputs++;
	if (dd_cache_record_decode(key, copy, rawlen, &rec, &off) == DD_OK) {
		fz_decoded++;
		if (rec.payload < copy ||
		    rec.payload + rec.paylen > copy + rawlen ||
		    (size_t)rec.paylen + DD_CACHE_RECORD_HDR != rawlen)
			abort();
		again = malloc(rawlen);
		if (!again)
			abort();
		dd_cache_record_encode(key, rec.payload, rec.paylen, again);
		if (memcmp(again, copy, rawlen) != 0)
			abort();
		free(again);
	} else if (off > rawlen) {
		abort(); /* the error position is inside the input */
	}
	free(copy);

	/* Meta names come from the file too (dump, verify). */
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	if (dd_cache_meta_name_ok(name)) {
		uint8_t mkey[DD_CACHE_KEY_LEN];
		dd_cache_meta_key(name, mkey);
	}
	return 0;
}

void dd_fuzz_done(void)
{
	fprintf(stderr, "fuzz_cache_record: %lu inputs, %lu decoded\n",
		fz_inputs, fz_decoded);
}
