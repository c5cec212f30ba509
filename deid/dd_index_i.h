/* dd_index_i.h: internals shared by dd_index.c and dd_index_scan.c. */
#ifndef DD_INDEX_I_H
#define DD_INDEX_I_H

#include "dd_index.h"

/* An unlinked temporary file (mode 0600) in @dir, or -1. */
int dd_index_tmpfd(const char *dir);

/* Record the DICOM PatientID whose patient key is @key (@len bytes): a
 * keyed hash of it, in the set dd_index_dicom_has() answers from while the
 * index is built.  The finished index keeps only those a Patient's key
 * equals (so the others do not change its digest). */
dd_err dd_index_add_dicom_key(struct dd_index *x, const char *key, size_t len);
/* Every DICOM PatientID is added: later Patients are keyed with them. */
dd_err dd_index_dicom_done(struct dd_index *x);

/* Persons added so far (progress). */
size_t dd_index_n_added(const struct dd_index *x);

/* dd_index_finish, writing the byte form at offset @base of @fd (which
 * the index then owns and reads, on success only); @fd < 0: in memory. */
dd_err dd_index_finish_to(struct dd_index *x, int fd, uint64_t base);

/* The key of the DICOM PatientID hashes of an index opened from a file. */
void dd_index_set_pseudo(struct dd_index *x, const struct dd_pseudo *pseudo);

#endif /* DD_INDEX_I_H */
