/* dd_view.h: "the view of this source path": the one entry point of the
 * front ends (the daemon in fs/, `deid` in tools/).
 *
 * A struct dd_view holds the policy, the key and the engines (DICOM, FHIR,
 * text).  Given a source file it answers: its view name (dd_view_name), what
 * it is (dd_view_sniff), and its de-identified content as a manifest
 * (dd_view_manifest).  The daemon and the materialiser call exactly these
 * functions, so a mount and a materialised copy are byte-identical, names
 * included.
 *
 * Caching is the front end's job: dd_view_cache_key() gives the key
 * (source identity + policy hash), the manifest's byte form is
 * dd_manifest_encode().  This module never touches LMDB.
 *
 * Fail closed: a file that cannot be classified or transformed gets a
 * hidden manifest (reason set, no segments).  Nothing of it is served.
 *
 * Threads: after dd_view_new() a view is read-only and any number of
 * threads may call every function here at once.
 */
#ifndef DD_VIEW_H
#define DD_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "dd_err.h"
#include "dd_manifest.h"
#include "dd_policy.h"
#include "dd_pseudo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The engine version: part of every policy hash, so an engine upgrade
 * re-creates every cached result and every view timestamp.  Bump it with
 * every change of output bytes (2: FHIR Age grouping, ids in narrative
 * text, DICOM AS grouping following deidfs.maxAge). */
#define DD_ENGINE_VERSION "deidfs-engine-2"

/* The identity of a source file.  A change in any field is a change of
 * content as far as deidfs is concerned. */
struct dd_ident {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

void dd_ident_from_stat(const struct stat *st, struct dd_ident *id);
bool dd_ident_equal(const struct dd_ident *a, const struct dd_ident *b);

struct dd_view_opts {
	const char *key_file; /* --key-file override, or NULL */
	bool may_generate_key; /* create the default key file if missing */
	/* The source root, for the FHIR patient index of patientLinking
	 * "auto" (dd_index_load_or_build: stored under the cache directory,
	 * rebuilt when a .json/.ndjson file changed).  NULL: no index for
	 * "auto" (resources then reach their patient only inside their own
	 * file).  patientLinking {"sources": [...]} needs no src_dir. */
	const char *src_dir;
	FILE *progress; /* index progress lines (stderr), or NULL */
	/* The front end uses the view from one thread only: dcmtk's one-time
	 * set-up waits for the first DICOM file (dd_dicom_new_deferred).  A
	 * front end with worker threads leaves it false (the set-up must
	 * come before they start). */
	bool one_thread;
};

struct dd_view;

/* Build a view.  Loads the key (dd_policy_key_load) and the engines.
 * @pol must outlive the view.  On error, a message naming the file and the
 * reason is written to @errbuf. */
dd_err dd_view_new(const struct dd_policy *pol, const struct dd_view_opts *o,
		   struct dd_view **out, char *errbuf, size_t errlen);
void dd_view_free(struct dd_view *v);

const struct dd_policy *dd_view_policy(const struct dd_view *v);
const struct dd_key *dd_view_key(const struct dd_view *v);
const struct dd_pseudo *dd_view_pseudo(const struct dd_view *v);
/* The policy hash (policy + key fingerprint + engine version), 64 hex. */
const char *dd_view_policy_hash(const struct dd_view *v);
/* The patient-index digest (64 hex), or "" without an index.  When not
 * empty it is part of every cache key (dd_view_cache_key). */
const char *dd_view_index_digest(const struct dd_view *v);

/* ---- names ---------------------------------------------------------------- */

/* The view name of one source name component (see dd_path.h).  @out holds
 * DD_PATH_NAME_MAX + 1 bytes.  DD_E_NOT_CLAIMED for names the view never
 * shows (dot files, "DICOMDIR" in any case). */
dd_err dd_view_name(const struct dd_view *v, const char *src_name, bool is_dir,
		    char *out);

/* One entry of a listed source directory. */
struct dd_view_dirent {
	char *src_name;  /* owned */
	char view_name[256];
	unsigned char d_type; /* DT_REG, DT_DIR, DT_LNK, DT_UNKNOWN ... */
	uint64_t ino;
};

struct dd_view_dir {
	struct dd_view_dirent *v; /* sorted by view_name */
	size_t n;
	size_t n_collisions; /* entries hidden because their names collide */
	size_t n_hidden_names; /* dot files, DICOMDIR */
};

/* List the directory open at @dirfd: view names computed, hidden names
 * dropped, colliding names (both of them) dropped and counted, sorted by
 * view name.  Does not look at file contents.  Free with
 * dd_view_dir_free(). */
dd_err dd_view_list_dir(const struct dd_view *v, int dirfd,
			struct dd_view_dir *out);
void dd_view_dir_free(struct dd_view_dir *d);

/* ---- sources ---------------------------------------------------------------- */

/* openat(@dirfd, @path, @flags | O_NOATIME), and without O_NOATIME when
 * that is not permitted (EPERM: neither the owner nor CAP_FOWNER).  For
 * source directories and files that are not opened beneath a tree
 * (roots, patientLinking sources); -1 with errno set on failure. */
int dd_view_openat_noatime(int dirfd, const char *path, int flags);

/* Open @relpath beneath @dirfd, read-only, never following a symlink out
 * of the tree (openat2 RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS, O_NOATIME
 * where permitted, O_CLOEXEC).  @flags may add O_DIRECTORY/O_NOFOLLOW. */
dd_err dd_view_open_beneath(int dirfd, const char *relpath, int flags,
			    int *fd);

/* Classify the open file by its first bytes and its name: kind, or the
 * reason it is hidden.  Cheap (one pread of at most 4 KiB).  A DICOM-looking
 * file may still turn out hidden when transformed. */
dd_err dd_view_sniff(const struct dd_view *v, int fd, const char *src_name,
		     enum dd_kind *kind, enum dd_reason *reason);

/* The cache key of a source: SHA-256 over (identity, policy hash), plus
 * the patient-index digest when the view has an index (for every file:
 * the key is computed before the file is classified). */
void dd_view_cache_key(const struct dd_view *v, const struct dd_ident *id,
		       uint8_t key[32]);

/* Transform the source open at @fd (identity @id, name @src_name for
 * classification) into @out (initialised by the caller).  Always returns
 * DD_OK with a manifest that is either served or hidden (reason set),
 * unless memory runs out or the arguments are bad.  @log_name is the
 * pseudonymised path to use in log lines.  The identity is re-checked after
 * the transform: if the file changed meanwhile, DD_E_CHANGED. */
dd_err dd_view_manifest(const struct dd_view *v, int fd,
			const struct dd_ident *id, const char *src_name,
			const char *log_name, struct dd_manifest *out);

/* dd_view_manifest for a stat (the contract: st_size never waits for
 * OCR).  Everything is done as for the real manifest but OCR: a DICOM
 * image whose pixel value will be redacted gets its real size, kind and
 * hide decision, with zeros where the redacted value goes, and *@complete
 * false: such a manifest must never be served or cached; the front end
 * keeps its size and calls dd_view_manifest() at the first open (OCR runs
 * then; the size is the same, unless OCR times out and hides the file).
 * *@complete true: @out is dd_view_manifest()'s result. */
dd_err dd_view_manifest_size(const struct dd_view *v, int fd,
			     const struct dd_ident *id, const char *src_name,
			     const char *log_name, struct dd_manifest *out,
			     bool *complete);

/* dd_view_manifest for a writer of the whole view file (the materialiser),
 * which passes the file it writes as @out_fd (a temporary file, empty,
 * opened for writing).  For FHIR files the output is written to @out_fd
 * while it is transformed (dd_fhir_transform_to_fd: a large file is
 * transformed once, not a second time for its REGEN chunks) and *written
 * is set; the caller must then not write @out itself.  For every other
 * kind *written is false and nothing is written: the caller writes @out
 * with dd_manifest_write_fd().  A redacted compressed image's value is
 * then literal in @out (DD_DICOM_LITERAL_PIXELS: decoded, or re-encoded,
 * once), so such an @out is not for the cache.  Either way, when @out is served the file
 * ends up with the same bytes a read of @out gives.  When @out is hidden
 * or on an error, @out_fd may hold a partial output: discard the file.
 * DD_E_IO also when a write to @out_fd fails. */
dd_err dd_view_manifest_write(const struct dd_view *v, int fd,
			      const struct dd_ident *id, const char *src_name,
			      const char *log_name, struct dd_manifest *out,
			      int out_fd, bool *written);

/* View timestamps: a fixed epoch (2000-01-01) plus a keyed hash of
 * (identity, policy hash) folded into one year.  No real date can be read
 * from them; they change when the source or the policy changes. */
struct timespec dd_view_timestamp(const struct dd_view *v,
				  const struct dd_ident *id);

#ifdef __cplusplus
}
#endif
#endif /* DD_VIEW_H */
