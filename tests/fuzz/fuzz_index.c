/* fuzz_index.c: the patient index's parsers of outside bytes.
 *
 *  - dd_index_dicom_patient_id: the minimal DICOM header walk of the index
 *    scan (the first bytes of any file of a source tree);
 *  - the index byte form as read from its file under the cache directory
 *    (dd_index_decode in memory and dd_index_open_fd through a memfd, read
 *    with pread): a damaged file must be refused, and one that passes its
 *    checks must answer lookups without reading outside itself.  An input
 *    starting with "DDX2" is also tried with its digest recomputed, so the
 *    structural checks behind the digest are reached (a file written by a
 *    hostile process that knows the format).  Memory and file reads must
 *    give the same answers; the encoding of a decoded index is its input.
 *
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "dd_index.h"

static unsigned long fz_inputs, fz_pids, fz_indexes;

static const char *const fz_refs[] = {
	"Patient/1", "Patient/example", "Patient/pat1", "Patient/p1",
	"http://example.org/fhir/Patient/example/_history/2",
	"Practitioner/example", "RelatedPerson/1", "Person/1",
	"urn:uuid:3fdc72f4-a11d-4a9d-9260-a9f745779e1d",
	"urn:uuid:a6c9e1c4-9e5d-4f10-9a8e-5c1fa8f06a7a", "Encounter/1", NULL};

static bool fz_same(const struct dd_index_patient *a,
		    const struct dd_index_patient *b)
{
	if (!a || !b)
		return a == b;
	if (strcmp(a->key, b->key) || a->n_values != b->n_values)
		return false;
	for (size_t i = 0; i < a->n_values; i++)
		if (a->values[i].type != b->values[i].type ||
		    strcmp(a->values[i].s, b->values[i].s))
			return false;
	return true;
}

static void fz_touch(const struct dd_index_patient *p)
{
	volatile size_t sum = 0;

	if (!p)
		return;
	sum += strlen(p->key);
	for (size_t i = 0; i < p->n_values; i++)
		sum += strlen(p->values[i].s) + (size_t)p->values[i].type;
	(void)sum;
}

/* The digest of dd_index.c: SHA-256(header[0..64) || SHA-256(body)). */
static void fz_reseal(uint8_t *p, size_t n)
{
	uint8_t body[32];
	unsigned l = 32;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, p + 96, n - 96);
	EVP_DigestFinal_ex(md, body, &l);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, p, 64);
	EVP_DigestUpdate(md, body, 32);
	EVP_DigestFinal_ex(md, p + 64, &l);
	EVP_MD_CTX_free(md);
}

static void fz_index(const uint8_t *p, size_t n)
{
	struct dd_index *m = NULL, *f = NULL;
	struct dd_buf enc;
	int fd;

	if (dd_index_decode(p, n, &m))
		return;
	fz_indexes++;
	fd = memfd_create("fuzz_index", MFD_CLOEXEC);
	if (fd < 0 || write(fd, "pad!", 4) != 4 ||
	    write(fd, p, n) != (ssize_t)n || dd_index_open_fd(fd, 4, &f))
		abort(); /* the same bytes must open from a file */
	if (strcmp(dd_index_digest(m), dd_index_digest(f)))
		abort();
	for (int i = 0; fz_refs[i]; i++) {
		struct dd_index_patient *a = NULL, *b = NULL;
		dd_err ea = dd_index_lookup(m, fz_refs[i], strlen(fz_refs[i]), &a);
		dd_err eb = dd_index_lookup(f, fz_refs[i], strlen(fz_refs[i]), &b);

		if (ea != eb || !fz_same(a, b))
			abort();
		fz_touch(a);
		free(a);
		free(b);
	}
	{
		struct dd_index_patient *a = NULL, *b = NULL;
		dd_err ea = dd_index_sole_patient(m, &a);
		dd_err eb = dd_index_sole_patient(f, &b);

		if (ea != eb || !fz_same(a, b))
			abort();
		fz_touch(a);
		free(a);
		free(b);
	}
	(void)dd_index_dicom_has(m, "id:PID4242", 10);
	dd_buf_init(&enc, SIZE_MAX / 2);
	if (dd_index_encode(m, &enc) || enc.len != n || memcmp(enc.data, p, n))
		abort();
	dd_buf_free(&enc);
	dd_buf_init(&enc, SIZE_MAX / 2);
	if (dd_index_encode(f, &enc) || enc.len != n || memcmp(enc.data, p, n))
		abort();
	dd_buf_free(&enc);
	dd_index_free(m);
	dd_index_free(f);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = calloc(size ? size : 1, 1);
	char pid[DD_INDEX_KEY_MAX];
	size_t n;

	if (!copy)
		return 0;
	fz_inputs++;
	/* a private copy, so ASan sees any read past the input */
	if (size)
		memcpy(copy, data, size);
	n = dd_index_dicom_patient_id(copy, size, pid, sizeof(pid));
	if (n) {
		if (n >= sizeof(pid) || strlen(pid) != n)
			abort();
		fz_pids++;
	}
	fz_index(copy, size);
	if (size >= 96 && !memcmp(copy, "DDX2", 4)) {
		fz_reseal(copy, size);
		fz_index(copy, size);
	}
	free(copy);
	return 0;
}

void dd_fuzz_done(void)
{
	fprintf(stderr, "fuzz_index: %lu inputs, %lu PatientIDs, %lu indexes\n",
		fz_inputs, fz_pids, fz_indexes);
}
