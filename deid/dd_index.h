/* dd_index.h: the patient index: FHIR Patient references -> patient key.
 *
 * DESIGN "One patient, one identity": a FHIR resource reaches its patient
 * through subject / patient / beneficiary; the index answers, for such a
 * reference ("Patient/123", an absolute URL ending in Patient/123, or a
 * Bundle entry's "urn:uuid:..."), the patient key (dd_patient_key() of the
 * linking identifier, so a DICOM PatientID and the FHIR linking identifier
 * give one pseudonym and one date shift) and the patient's identifying
 * values (names, identifiers, telecom, address, birth date), which the
 * FHIR engine hands to the text detector as contextual values.
 *
 * The linking identifier of a Patient is its first identifier of type MR
 * (deidfs.linkingIdentifierTypes), else the identifier whose value equals
 * the PatientID of a DICOM file of the indexed tree (several: the smallest
 * (system, value)).  A tree scan therefore also reads the header of every
 * DICOM file up to PatientID (when the tree has FHIR files) and holds a
 * keyed hash (dd_pseudo_mac) of each usable PatientID, never the value;
 * the finished index keeps those a Patient's key equals.
 *
 * A Patient without a linking identifier is keyed "ref:Patient/<id>", the
 * same key the engine falls back to for a reference the index does not
 * know, so linking inside FHIR works even for such patients.
 *
 * Storage (dd_index.c): one canonical byte form, records sorted by a hash
 * of their reference behind a bucket table, either in memory (a Bundle's
 * own index, small) or in a file read with pread (a tree's index: memory
 * does not grow with the number of patients, while building or looking
 * up).  A tree's index is built through hash-partitioned temporary files
 * (0600, unlinked at once) sorted one at a time.  The index is PHI (it
 * holds identifiers and names): its files are 0600 under the cache
 * directory; never log its contents.
 *
 * Determinism: the encoded form and the digest depend only on the set of
 * Patients (and DICOM PatientIDs) seen, never on the order in which files
 * were scanned nor on how the build was partitioned.  When one reference
 * is claimed by two different Patients, the smaller patient key wins.
 *
 * Ownership and threads: a struct dd_index is built by one thread
 * (dd_index_new, dd_index_add_*, dd_index_scan_*, dd_index_finish) and is
 * then read-only: lookups and dd_index_digest may be called by any number
 * of threads.  Lookups return a copy the caller frees (free()).  Free the
 * index with dd_index_free().
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
#include "dd_pseudo.h"

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

/* A lookup result: one malloc'd block (free() it). */
struct dd_index_patient {
	const char *key; /* the patient key (dd_patient_key form) */
	const struct dd_index_value *values;
	size_t n_values;
};

/* An empty index held in memory (a Bundle's own Patients).  A Bundle's
 * index asks @tree (may be NULL; borrowed, must outlive it) which values
 * are DICOM PatientIDs when it keys its Patients. */
dd_err dd_index_new(struct dd_index **out);
dd_err dd_index_new_for(const struct dd_index *tree, struct dd_index **out);
void dd_index_free(struct dd_index *x);

/* A tree's index: temporary files (0600, unlinked at once) in @tmp_dir
 * (created 0700) once more than a few MB are held, sized for about
 * @expect_bytes of FHIR source; the finished index is then an unlinked
 * file there too.  @pseudo (copied) keys the DICOM PatientID hashes.
 * @tmp_dir NULL: everything in memory. */
dd_err dd_index_new_tree(const char *tmp_dir, const struct dd_pseudo *pseudo,
			 struct dd_index **out);

/* Add the Patient resource @patient (borrowed), reachable as
 * "Patient/<its id>" and, when @full_url is not NULL, as @full_url
 * (normalised like references).  Practitioner, RelatedPerson and Person
 * resources are added the same way, keyed "ref:<Type>/<id>", for their
 * identifying values only (the engine adds the values of every person a
 * resource references to its contextual values).  Other resources are
 * ignored.  Only before dd_index_finish(). */
dd_err dd_index_add_patient(struct dd_index *x, const struct dd_policy *pol,
			    struct json_object *patient, const char *full_url);

/* Add every Patient found in the resource tree @res (borrowed): the
 * resource itself and the entries of Bundles, nested ones too. */
dd_err dd_index_add_tree(struct dd_index *x, const struct dd_policy *pol,
			 struct json_object *res);

/* Add every Patient of the FHIR JSON or NDJSON file open at @fd (@size
 * bytes): top-level resources, Bundle entries (nested Bundles too), NDJSON
 * lines.  A malformed file or line is skipped (the engine hides it
 * anyway); only I/O and memory errors are returned. */
dd_err dd_index_add_file(struct dd_index *x, const struct dd_policy *pol,
			 int fd, uint64_t size, bool ndjson);

/* Walk the directory trees @dirfds[0..n) (symlinks not followed, dot files
 * skipped as the view skips them): first the PatientID of every DICOM
 * file (header only; unreadable files are skipped), then every *.json /
 * *.ndjson file.  @x must come from dd_index_new_tree.  Progress lines
 * ("deid index: N/M files, P patients") go to @progress when not NULL.
 * *n_files (may be NULL) counts the FHIR files read. */
dd_err dd_index_scan_dirs(struct dd_index *x, const struct dd_policy *pol,
			  const int *dirfds, size_t n, FILE *progress,
			  size_t *n_files);
dd_err dd_index_scan_dir(struct dd_index *x, const struct dd_policy *pol,
			 int dirfd, FILE *progress, size_t *n_files);

/* Sort, remove duplicates, write the final form and compute the digest.
 * Required before lookups; idempotent. */
dd_err dd_index_finish(struct dd_index *x);

/* The patient a reference points to: *out is a malloc'd copy (free()), or
 * NULL when the index does not know @ref.  @ref is normalised first
 * ("Patient/1/_history/2" and "http://h/fhir/Patient/1" both find
 * "Patient/1").  Errors: DD_E_IO (reading the file), DD_E_CORRUPT (a
 * damaged record), DD_E_NOMEM. */
dd_err dd_index_lookup(const struct dd_index *x, const char *ref, size_t len,
		       struct dd_index_patient **out);

/* The only Patient (not Practitioner, RelatedPerson or Person) of the
 * index, as a malloc'd copy, or NULL when there are none or several
 * different ones (a document or a Bundle of one patient). */
dd_err dd_index_sole_patient(const struct dd_index *x,
			     struct dd_index_patient **out);

/* Is @patient_key (dd_patient_key form) the key of a DICOM PatientID of
 * the tree?  Asks the tree's index for a Bundle's index.  False on any
 * error (the caller falls back to the next linking rule). */
bool dd_index_dicom_has(const struct dd_index *x, const char *patient_key,
			size_t len);

/* Patient, Practitioner, RelatedPerson or Person. */
bool dd_index_is_person(const char *resource_type);
/* True unless @p is a Practitioner, RelatedPerson or Person entry. */
bool dd_index_patient_is_patient(const struct dd_index_patient *p);

/* Number of references (to people), of people (references of the form
 * Type/id) and of DICOM PatientIDs held (those a Patient links by). */
size_t dd_index_n_refs(const struct dd_index *x);
size_t dd_index_n_patients(const struct dd_index *x);
size_t dd_index_n_dicom(const struct dd_index *x);
/* Bytes of the finished byte form. */
uint64_t dd_index_size(const struct dd_index *x);

/* SHA-256 of the encoded index, 64 lower-case hex characters; the empty
 * string for an empty index (or NULL @x).  Part of the cache key of every
 * file that uses the index. */
const char *dd_index_digest(const struct dd_index *x);

/* Byte form of a finished index, appended to @out. */
dd_err dd_index_encode(const struct dd_index *x, struct dd_buf *out);
/* Check a byte form (hostile input: magic, version, lengths, digest) and
 * hold a copy as a new, finished index.  DD_E_CORRUPT on any
 * inconsistency. */
dd_err dd_index_decode(const void *p, size_t n, struct dd_index **out);
/* The same for the byte form at offset @base of the file @fd (dup'ed;
 * read with pread, never mapped). */
dd_err dd_index_open_fd(int fd, uint64_t base, struct dd_index **out);

/* Normalise a reference for lookups into @out (@outlen bytes):
 * "Type/id[/_history/v]" and "<base>/Type/id[/_history/v]" become
 * "Type/id"; "urn:uuid:..." and "urn:oid:..." are kept; "#..." and
 * anything else give 0.  Returns the length (0: not a resource
 * reference). */
size_t dd_index_ref_norm(const char *ref, size_t len, char *out,
			 size_t outlen);

/* The PatientID of the DICOM header in @p (@n bytes from the start of the
 * file: preamble and meta group, or a raw data set), trimmed of spaces and
 * NULs, into @out; only the elements before (0010,0020) are walked, with
 * every length checked.  Returns its length, 0 when there is none (or the
 * bytes are not a DICOM header: deflated, cut, malformed). */
size_t dd_index_dicom_patient_id(const uint8_t *p, size_t n, char *out,
				 size_t outlen);

/* patientLinking "auto": the index of the tree @src_dir.  The stored index
 * file under @store_dir (created 0700; the file is 0600, named after a
 * hash of the real path of @src_dir, the linking settings and the key) is
 * used when the identities (path, device, inode, size, mtime, ctime) of
 * the files of the tree are unchanged and its digest checks; otherwise
 * the tree is scanned again (progress to @progress) and the file
 * rewritten.  @store_dir NULL: no file, always scanned (in memory).
 * *rebuilt (may be NULL) tells which happened.  A store that cannot be
 * written is only a warning. */
dd_err dd_index_load_or_build(const struct dd_policy *pol,
			      const struct dd_pseudo *pseudo,
			      const char *src_dir, const char *store_dir,
			      FILE *progress, struct dd_index **out,
			      bool *rebuilt);

/* The default store directory: "<cache dir>/fhir-index", the cache dir
 * being deidfs.cacheDir, else $DEIDFS_CACHE_DIR, $XDG_CACHE_HOME/deidfs or
 * $HOME/.cache/deidfs.  malloc'd; NULL if none can be found. */
char *dd_index_default_store(const struct dd_policy *pol);

#ifdef __cplusplus
}
#endif
#endif /* DD_INDEX_H */
