/* fuzz_cache_record.c: fuzz target for the cache record decoder
 * (dd_cache_record_decode: the bytes of a record as read from data.mdb,
 * which may be damaged or tampered with).
 *
 * Input: 32 bytes of key, then the stored value.  (Shorter inputs are the
 * value under an all-zero key.)  A record that decodes must re-encode to
 * the same bytes, and its payload must lie inside the input.
 *
 * Without libFuzzer (DD_FUZZ_LIBFUZZER undefined) a main() runs the target
 * over every file named on the command line or found in the directories
 * named (the committed corpus in meson test). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dd_cache_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long fz_inputs, fz_decoded; /* reported by main() */

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

#ifndef DD_FUZZ_LIBFUZZER
static int fz_run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = fdopendir(fd);
		struct dirent *de;
		int rc = 0;

		if (!d) {
			close(fd);
			return 1;
		}
		while ((de = readdir(d))) {
			char sub[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rc |= fz_run_file(sub);
		}
		closedir(d);
		return rc;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n >= 0)
		LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return n < 0;
}

int main(int argc, char **argv)
{
	int i, rc = 0;

	for (i = 1; i < argc; i++)
		rc |= fz_run_file(argv[i]);
	fprintf(stderr, "fuzz_cache_record: %lu inputs, %lu decoded\n",
		fz_inputs, fz_decoded);
	return rc;
}
#endif
