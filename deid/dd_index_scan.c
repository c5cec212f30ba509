/* dd_index_scan.c: the patient index of a tree (see dd_index.h): the
 * walk, the DICOM PatientIDs, the FHIR files, and the stored index of
 * patientLinking "auto".
 *
 * The walk lists one directory at a time, sorted, so its order (and the
 * digest of the identities it sees) does not depend on readdir; memory
 * follows the largest directory and the number of FHIR files, never the
 * number of patients.
 *
 * Store file (patientLinking auto), "<store>/<hash>.idx", mode 0600:
 * "DDXF", u32 version 2, SHA-256 of the walk (every regular file's path
 * and identity: dev, ino, size, mtime, ctime), 24 zero bytes, then from
 * offset 64 the index byte form (dd_index.c), which carries its own
 * digest and is checked whole when opened.  Written to a temporary name
 * and renamed; an open index keeps reading its own file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dd_dicom.h"
#include "dd_index.h"
#include "dd_index_i.h"
#include "dd_log.h"
#include "dd_view.h"

#define IS_HEAD 65536 /* bytes of a DICOM file read for its PatientID */
#define IS_STORE_HDR 64

struct is_fhir {
	size_t dir;
	char *path;
};

struct is_scan {
	struct dd_index *x;
	const struct dd_policy *pol;
	EVP_MD_CTX *md;     /* the walk's digest, or NULL */
	bool list;          /* list the FHIR files */
	bool dicom;         /* read the DICOM headers */
	size_t dir;         /* index of the tree being walked */
	struct is_fhir *fhir;
	size_t n_fhir, cap_fhir;
	size_t n_dicom;
	uint8_t *head;      /* IS_HEAD bytes */
	FILE *progress;
};

static bool is_fhir_name(const char *name, bool *ndjson)
{
	size_t n = strlen(name);

	*ndjson = n > 7 && !strcasecmp(name + n - 7, ".ndjson");
	return *ndjson || (n > 5 && !strcasecmp(name + n - 5, ".json"));
}

static void is_ident(const struct stat *st, uint8_t out[40])
{
	uint64_t id[5] = {
		(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size,
		(uint64_t)st->st_mtim.tv_sec * 1000000000u +
			(uint64_t)st->st_mtim.tv_nsec,
		(uint64_t)st->st_ctim.tv_sec * 1000000000u +
			(uint64_t)st->st_ctim.tv_nsec,
	};

	for (int k = 0; k < 5; k++)
		for (int i = 0; i < 8; i++)
			out[8 * k + i] = (uint8_t)(id[k] >> (8 * i));
}

static bool is_placeholder(const struct dd_policy *pol, const char *id)
{
	for (size_t i = 0; i < pol->deidfs.placeholder_patient_ids.n; i++)
		if (!strcasecmp(id, pol->deidfs.placeholder_patient_ids.v[i]))
			return true;
	return false;
}

/* The PatientID of the DICOM file @name, if it is one. */
static dd_err is_dicom(struct is_scan *s, int dirfd, const char *name,
		       const struct stat *st)
{
	char pid[DD_INDEX_KEY_MAX], key[DD_INDEX_KEY_MAX];
	size_t want = (uint64_t)st->st_size < IS_HEAD ? (size_t)st->st_size
						       : IS_HEAD;
	ssize_t n;
	int fd = -1;
	size_t kl;

	if (want < 8 || !strcasecmp(name, "DICOMDIR"))
		return DD_OK;
	if (dd_view_open_beneath(dirfd, name, O_NOFOLLOW, &fd))
		return DD_OK; /* unreadable: the view hides it anyway */
	n = pread(fd, s->head, want, 0);
	close(fd);
	if (n < 8)
		return DD_OK;
	/* what dd_view_sniff calls DICOM: a preamble, or a raw data set */
	if (!dd_dicom_sniff(s->head, (size_t)n) &&
	    !(s->head[0] == 0x08 && s->head[1] == 0x00 && s->head[3] == 0x00))
		return DD_OK;
	if (!dd_index_dicom_patient_id(s->head, (size_t)n, pid, sizeof(pid)) ||
	    is_placeholder(s->pol, pid))
		return DD_OK; /* keyed by its study: links to no Patient */
	kl = dd_patient_key(NULL, pid, key, sizeof(key));
	if (kl <= 3)
		return DD_OK;
	s->n_dicom++;
	return dd_index_add_dicom_key(s->x, key, kl);
}

static dd_err is_file(struct is_scan *s, int dirfd, const char *name,
		      const char *path, const struct stat *st)
{
	bool nd;

	if (s->md) {
		uint8_t id[40];

		is_ident(st, id);
		EVP_DigestUpdate(s->md, path, strlen(path) + 1);
		EVP_DigestUpdate(s->md, id, sizeof(id));
	}
	if (!is_fhir_name(name, &nd))
		return s->dicom ? is_dicom(s, dirfd, name, st) : DD_OK;
	if (!s->list)
		return DD_OK;
	if (s->n_fhir == s->cap_fhir) {
		size_t nc = s->cap_fhir ? 2 * s->cap_fhir : 64;
		struct is_fhir *p = realloc(s->fhir, nc * sizeof(*p));

		if (!p)
			return DD_E_NOMEM;
		s->fhir = p;
		s->cap_fhir = nc;
	}
	s->fhir[s->n_fhir].path = strdup(path);
	if (!s->fhir[s->n_fhir].path)
		return DD_E_NOMEM;
	s->fhir[s->n_fhir++].dir = s->dir;
	return DD_OK;
}

static int is_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static dd_err is_walk(struct is_scan *s, int dirfd, const char *prefix,
		      unsigned depth)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int fd;
	dd_err e = DD_OK;

	if (depth > 64)
		return DD_OK;
	/* the source: listed and read with O_NOATIME where permitted */
	fd = dd_view_openat_noatime(dirfd, ".",
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DD_E_IO;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return DD_E_IO;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			char **p = realloc(names, nc * sizeof(*p));

			if (!p) {
				e = DD_E_NOMEM;
				break;
			}
			names = p;
			cap = nc;
		}
		if (!(names[n] = strdup(de->d_name))) {
			e = DD_E_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!e && n)
		qsort(names, n, sizeof(*names), is_name_cmp);
	for (size_t i = 0; i < n && !e; i++) {
		struct stat st;
		char path[PATH_MAX];

		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", prefix,
				     *prefix ? "/" : "", names[i]) >= sizeof(path))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = -1;

			if (dd_view_open_beneath(dirfd, names[i],
						 O_DIRECTORY | O_NOFOLLOW,
						 &sub) == DD_OK) {
				e = is_walk(s, sub, path, depth + 1);
				close(sub);
			}
		} else if (S_ISREG(st.st_mode)) {
			e = is_file(s, dirfd, names[i], path, &st);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return e;
}

static void is_free(struct is_scan *s)
{
	for (size_t i = 0; i < s->n_fhir; i++)
		free(s->fhir[i].path);
	free(s->fhir);
	free(s->head);
}

/* Walk @dirfds: list the FHIR files, read the DICOM PatientIDs (when
 * there are FHIR files), then read the FHIR files. */
static dd_err is_scan(struct is_scan *s, const int *dirfds, size_t n)
{
	const struct dd_policy *pol = s->pol;
	dd_err e = DD_OK;

	s->head = malloc(IS_HEAD);
	if (!s->head)
		return DD_E_NOMEM;
	/* the FHIR files first: without any, the DICOM files are not read */
	s->list = true;
	for (size_t i = 0; i < n && !e; i++) {
		s->dir = i;
		e = is_walk(s, dirfds[i], "", 0);
	}
	s->list = false;
	s->dicom = true;
	s->md = NULL; /* the walk is hashed once */
	for (size_t i = 0; i < n && !e && s->n_fhir; i++) {
		s->dir = i;
		e = is_walk(s, dirfds[i], "", 0);
	}
	s->dicom = false;
	if (!e)
		e = dd_index_dicom_done(s->x);
	if (!e && s->progress && s->n_dicom)
		fprintf(s->progress, "deid index: %zu DICOM PatientIDs\n",
			s->n_dicom);
	for (size_t i = 0; i < s->n_fhir && !e; i++) {
		bool nd;
		int fd = -1;
		struct stat st;

		/* beneath the root, O_NOATIME where permitted, as the view */
		if (dd_view_open_beneath(dirfds[s->fhir[i].dir], s->fhir[i].path,
					 O_NOFOLLOW, &fd))
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (pol->deidfs.max_file_size &&
		     (uint64_t)st.st_size > pol->deidfs.max_file_size)) {
			close(fd);
			continue;
		}
		is_fhir_name(s->fhir[i].path, &nd);
		e = dd_index_add_file(s->x, pol, fd, (uint64_t)st.st_size, nd);
		close(fd);
		if (e && e != DD_E_NOMEM && e != DD_E_IO)
			e = DD_OK;
		if (s->progress && ((i + 1) % 1000 == 0 || i + 1 == s->n_fhir))
			fprintf(s->progress,
				"\rdeid index: %zu/%zu files, %zu patients", i + 1,
				s->n_fhir, dd_index_n_added(s->x));
	}
	if (s->progress && s->n_fhir)
		fputc('\n', s->progress);
	return e;
}

dd_err dd_index_scan_dirs(struct dd_index *x, const struct dd_policy *pol,
			  const int *dirfds, size_t n, FILE *progress,
			  size_t *n_files)
{
	struct is_scan s = {.x = x, .pol = pol, .progress = progress};
	dd_err e = is_scan(&s, dirfds, n);

	if (n_files)
		*n_files = s.n_fhir;
	is_free(&s);
	return e;
}

dd_err dd_index_scan_dir(struct dd_index *x, const struct dd_policy *pol,
			 int dirfd, FILE *progress, size_t *n_files)
{
	return dd_index_scan_dirs(x, pol, &dirfd, 1, progress, n_files);
}

/* ---- the stored index (patientLinking auto) ---------------------------------------- */

char *dd_index_default_store(const struct dd_policy *pol)
{
	const char *d = pol ? pol->deidfs.cache_dir : NULL;
	const char *env;
	char *out = NULL;

	if (d && *d) {
		if (asprintf(&out, "%s/fhir-index", d) < 0)
			out = NULL;
	} else if ((env = getenv("DEIDFS_CACHE_DIR")) && *env) {
		if (asprintf(&out, "%s/fhir-index", env) < 0)
			out = NULL;
	} else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
		if (asprintf(&out, "%s/deidfs/fhir-index", env) < 0)
			out = NULL;
	} else if ((env = getenv("HOME")) && *env) {
		if (asprintf(&out, "%s/.cache/deidfs/fhir-index", env) < 0)
			out = NULL;
	}
	return out;
}

static void is_hex(const uint8_t *h, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * n] = 0;
}

/* Named after the tree, the linking settings and the key (the DICOM
 * PatientIDs are held as keyed hashes). */
static char *is_store_path(const struct dd_policy *pol,
			   const struct dd_pseudo *pseudo, const char *real,
			   const char *store)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[32], kt[32];
	unsigned hl = 32;
	char hex[65], *out = NULL;
	const struct dd_strv *t = &pol->deidfs.linking_identifier_types;

	if (!md)
		return NULL;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "fhir-index-2|", 13);
	EVP_DigestUpdate(md, real, strlen(real) + 1);
	for (size_t i = 0; i < t->n; i++)
		EVP_DigestUpdate(md, t->v[i], strlen(t->v[i]) + 1);
	EVP_DigestUpdate(md, "|", 1);
	for (size_t i = 0; i < pol->deidfs.placeholder_patient_ids.n; i++)
		EVP_DigestUpdate(md, pol->deidfs.placeholder_patient_ids.v[i],
				 strlen(pol->deidfs.placeholder_patient_ids.v[i]) + 1);
	if (pseudo) {
		dd_pseudo_mac(pseudo, DD_DOM_PATH, "fhir-index-store", 16, kt);
		EVP_DigestUpdate(md, kt, 16);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	is_hex(h, 16, hex);
	if (asprintf(&out, "%s/%s.idx", store, hex) < 0)
		return NULL;
	return out;
}

static dd_err is_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return DD_E_INVAL;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		buf[i] = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return DD_E_IO;
		buf[i] = i < n ? '/' : 0;
	}
	return DD_OK;
}

static void is_store_hdr(const uint8_t walk[32], uint8_t out[IS_STORE_HDR])
{
	memset(out, 0, IS_STORE_HDR);
	memcpy(out, "DDXF", 4);
	out[4] = 2;
	memcpy(out + 8, walk, 32);
}

/* The stored index, if it was built from the walk @walk and checks. */
static dd_err is_store_read(const char *path, const uint8_t walk[32],
			    struct dd_index **out)
{
	uint8_t hdr[IS_STORE_HDR], want[IS_STORE_HDR];
	dd_err e = DD_E_NOTFOUND;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return DD_E_NOTFOUND;
	is_store_hdr(walk, want);
	if (pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
	    !memcmp(hdr, want, sizeof(hdr)))
		e = dd_index_open_fd(fd, IS_STORE_HDR, out);
	close(fd);
	return e;
}

/* Scan into a new index; with @spath, written there (0600, renamed into
 * place).  *stored says whether the file was written. */
static dd_err is_build(const struct dd_policy *pol,
		       const struct dd_pseudo *pseudo, int dirfd,
		       const char *store_dir, const char *spath, FILE *progress,
		       struct dd_index **out)
{
	struct is_scan s = {.pol = pol, .progress = progress};
	EVP_MD_CTX *md;
	uint8_t walk[32], hdr[IS_STORE_HDR];
	unsigned wl = 32;
	char tmp[PATH_MAX];
	int fd = -1;
	dd_err e;

	*out = NULL;
	if (spath && ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", spath,
				       (long)getpid()) >= sizeof(tmp) ||
		      is_mkdirs(store_dir))) {
		dd_log(DD_LOG_WARN, "patient index: cannot use the cache "
				    "directory; the index is held in memory");
		spath = NULL;
	}
	e = dd_index_new_tree(spath ? store_dir : NULL, pseudo, &s.x);
	if (e)
		return e;
	md = EVP_MD_CTX_new();
	if (!md) {
		dd_index_free(s.x);
		return DD_E_NOMEM;
	}
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	s.md = md; /* is_scan hashes its first walk */
	e = is_scan(&s, &dirfd, 1);
	EVP_DigestFinal_ex(md, walk, &wl);
	EVP_MD_CTX_free(md);
	is_free(&s);
	if (e)
		goto fail;
	if (spath) {
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC,
			  0600);
		if (fd < 0)
			dd_log(DD_LOG_WARN, "patient index: cannot store it "
					    "under the cache directory");
	}
	if (fd < 0) {
		e = dd_index_finish(s.x);
		if (e)
			goto fail;
		*out = s.x;
		return DD_OK;
	}
	is_store_hdr(walk, hdr);
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		e = DD_E_IO;
	} else {
		e = dd_index_finish_to(s.x, fd, IS_STORE_HDR);
	}
	if (e) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	/* the index owns fd now; the file only becomes visible whole */
	if (fsync(fd) < 0 || rename(tmp, spath) < 0) {
		unlink(tmp);
		dd_log(DD_LOG_WARN, "patient index: cannot store it under the "
				    "cache directory; it will be rebuilt next "
				    "time");
	}
	*out = s.x;
	return DD_OK;
fail:
	dd_index_free(s.x);
	return e;
}

dd_err dd_index_load_or_build(const struct dd_policy *pol,
			      const struct dd_pseudo *pseudo,
			      const char *src_dir, const char *store_dir,
			      FILE *progress, struct dd_index **out,
			      bool *rebuilt)
{
	char real[PATH_MAX], *spath = NULL;
	uint8_t walk[32];
	unsigned wl = 32;
	dd_err e = DD_OK;
	int dirfd;

	*out = NULL;
	if (rebuilt)
		*rebuilt = false;
	if (!realpath(src_dir, real))
		return DD_E_IO;
	dirfd = dd_view_openat_noatime(AT_FDCWD, real,
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return DD_E_IO;
	if (store_dir) {
		struct is_scan s = {.pol = pol};

		spath = is_store_path(pol, pseudo, real, store_dir);
		s.md = EVP_MD_CTX_new();
		if (!spath || !s.md) {
			EVP_MD_CTX_free(s.md);
			e = DD_E_NOMEM;
			goto out;
		}
		EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
		e = is_walk(&s, dirfd, "", 0);
		EVP_DigestFinal_ex(s.md, walk, &wl);
		EVP_MD_CTX_free(s.md);
		if (e)
			goto out;
		if (is_store_read(spath, walk, out) == DD_OK) {
			dd_index_set_pseudo(*out, pseudo);
			goto out;
		}
	}
	if (rebuilt)
		*rebuilt = true;
	e = is_build(pol, pseudo, dirfd, store_dir, spath, progress, out);
out:
	free(spath);
	close(dirfd);
	return e;
}
