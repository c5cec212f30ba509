/* dd_index.h: the patient index: FHIR Patient references -> patient key.
 *
 * DESIGN "One patient, one identity": a FHIR resource reaches its patient
 * through subject / patient / beneficiary; the index answers, for such a
 * reference ("Patient/123", an absolute URL ending in Patient/123, or a
 * Bundle entry's "urn:uuid:..."), the patient key (dd_patient_key() of the
 * linking identifier, so a DICOM PatientID and the FHIR MR identifier give
 * one pseudonym and one date shift) and the patient's identifying values
 * (names, identifiers, telecom, address, birth date), which the FHIR
 * engine hands to the text detector as contextual values.
 *
 * A Patient without a linking identifier is keyed "ref:Patient/<id>", the
 * same key the engine falls back to for a reference the index does not
 * know, so linking inside FHIR works even for such patients.
 *
 * The index is PHI (it holds identifiers and names): it is kept in memory
 * and, for patientLinking "auto", in a file of mode 0600 under the cache
 * directory (see dd_index_load_or_build); never log its contents.
 *
 * Determinism: dd_index_finish() sorts everything, so the encoded form and
 * the digest depend only on the set of Patients seen, never on the order
 * in which files were scanned.  When one reference is claimed by two
 * different Patients, the smaller patient key wins.
 *
 * Ownership and threads: a struct dd_index is built by one thread
 * (dd_index_new, dd_index_add_*, dd_index_scan_*, dd_index_finish) and is
 * then read-only: dd_index_lookup and dd_index_digest may be called by any
 * number of threads.  Pointers returned by lookups live as long as the
 * index.  Free with dd_index_free().
 */
#ifndef DD_INDEX_H
#define DD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dd_buf.h"
#include "dd_err.h"
#include "dd_infotype.h"
#include "dd_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_index;
struct json_object;

/* Caps: values kept per patient, bytes per value, bytes per key. */
#define DD_INDEX_MAX_VALUES 48
#define DD_INDEX_VALUE_MAX 256
#define DD_INDEX_KEY_MAX 256

struct dd_index_value {
	enum dd_info_type type;
	const char *s; /* NUL-terminated */
};

struct dd_index_patient {
	const char *key; /* the patient key (dd_patient_key form) */
	const struct dd_index_value *values;
	size_t n_values;
};

dd_err dd_index_new(struct dd_index **out);
void dd_index_free(struct dd_index *x);

/* Add the Patient resource @patient (borrowed), reachable as
 * "Patient/<its id>" and, when @full_url is not NULL, as @full_url
 * (normalised like references).  Practitioner, RelatedPerson and Person
 * resources are added the same way, keyed "ref:<Type>/<id>", for their
 * identifying values only (the engine adds the values of every person a
 * resource references to its contextual values).  Other resources are
 * ignored.  Only before dd_index_finish(). */
dd_err dd_index_add_patient(struct dd_index *x, const struct dd_policy *pol,
			    struct json_object *patient, const char *full_url);

/* Add every Patient of the FHIR JSON or NDJSON file open at @fd (@size
 * bytes): top-level resources, Bundle entries (nested Bundles too), NDJSON
 * lines.  A malformed file or line is skipped (the engine hides it
 * anyway); only I/O and memory errors are returned. */
dd_err dd_index_add_file(struct dd_index *x, const struct dd_policy *pol,
			 int fd, uint64_t size, bool ndjson);

/* Walk the directory tree at @dirfd (symlinks not followed, dot files
 * skipped as the view skips them) and add every *.json / *.ndjson file.
 * Progress lines ("deid index: N files, M patients") go to @progress when
 * not NULL.  *n_files (may be NULL) counts the files read. */
dd_err dd_index_scan_dir(struct dd_index *x, const struct dd_policy *pol,
			 int dirfd, FILE *progress, size_t *n_files);

/* Sort, remove duplicates and compute the digest.  Required before
 * lookups; idempotent. */
dd_err dd_index_finish(struct dd_index *x);

/* The patient a reference points to, or NULL.  @ref is normalised first
 * ("Patient/1/_history/2" and "http://h/fhir/Patient/1" both find
 * "Patient/1"). */
const struct dd_index_patient *dd_index_lookup(const struct dd_index *x,
					       const char *ref, size_t len);

/* Patient, Practitioner, RelatedPerson or Person. */
bool dd_index_is_person(const char *resource_type);
/* True unless @p is a Practitioner, RelatedPerson or Person entry. */
bool dd_index_patient_is_patient(const struct dd_index_patient *p);

/* Patient @i (0 .. dd_index_n_patients() - 1), or NULL. */
const struct dd_index_patient *dd_index_patient_at(const struct dd_index *x,
						   size_t i);

/* Add every Patient found in the resource tree @res (borrowed): the
 * resource itself and the entries of Bundles, nested ones too. */
dd_err dd_index_add_tree(struct dd_index *x, const struct dd_policy *pol,
			 struct json_object *res);

/* Number of references and of patients held. */
size_t dd_index_n_refs(const struct dd_index *x);
size_t dd_index_n_patients(const struct dd_index *x);

/* SHA-256 of the encoded index, 64 lower-case hex characters; the empty
 * string for an empty index (or NULL @x).  Part of the cache key of every
 * file that uses the index. */
const char *dd_index_digest(const struct dd_index *x);

/* Byte form (canonical after dd_index_finish), appended to @out. */
dd_err dd_index_encode(const struct dd_index *x, struct dd_buf *out);
/* Parse a byte form (hostile input: every length checked) into a new,
 * finished index.  DD_E_CORRUPT on any inconsistency. */
dd_err dd_index_decode(const void *p, size_t n, struct dd_index **out);

/* Normalise a reference for lookups into @out (@outlen bytes):
 * "Type/id[/_history/v]" and "<base>/Type/id[/_history/v]" become
 * "Type/id"; "urn:uuid:..." and "urn:oid:..." are kept; "#..." and
 * anything else give 0.  Returns the length (0: not a resource
 * reference). */
size_t dd_index_ref_norm(const char *ref, size_t len, char *out,
			 size_t outlen);

/* patientLinking "auto": the index of the tree @src_dir.  The stored index
 * file under @store_dir (created 0700; the file is 0600, named after a
 * hash of the real path of @src_dir and the linking settings) is used when
 * the identities (device, inode, size, mtime, ctime) of the .json/.ndjson
 * files it was built from are unchanged; otherwise the tree is scanned
 * again (progress to @progress) and the file rewritten.  @store_dir NULL:
 * no file, always scanned.  *rebuilt (may be NULL) tells which happened.
 * A store that cannot be written is only a warning. */
dd_err dd_index_load_or_build(const struct dd_policy *pol, const char *src_dir,
			      const char *store_dir, FILE *progress,
			      struct dd_index **out, bool *rebuilt);

/* The default store directory: "<cache dir>/fhir-index", the cache dir
 * being deidfs.cacheDir, else $DEIDFS_CACHE_DIR, $XDG_CACHE_HOME/deidfs or
 * $HOME/.cache/deidfs.  malloc'd; NULL if none can be found. */
char *dd_index_default_store(const struct dd_policy *pol);

#ifdef __cplusplus
}
#endif
#endif /* DD_INDEX_H */
