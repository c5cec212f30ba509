/* dd_view.c: the view of a source path: names, classification, manifests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dd_dicom.h"
#include "dd_fhir.h"
#include "dd_index.h"
#include "dd_log.h"
#include "dd_path.h"
#include "dd_text.h"
#include "dd_view.h"

#define DV_SNIFF_BYTES 4096

struct dd_view {
	const struct dd_policy *pol;
	struct dd_key key;
	struct dd_pseudo pseudo;
	struct dd_path_cfg path_cfg;
	char policy_hash[65];
	struct dd_text *text;
	struct dd_dicom *dicom;
	struct dd_index *index; /* FHIR patient index, or NULL */
	struct dd_fhir *fhir;   /* NULL when the policy has no FHIR config */
};

void dd_ident_from_stat(const struct stat *st, struct dd_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
		       st->st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
		       st->st_ctim.tv_nsec;
}

bool dd_ident_equal(const struct dd_ident *a, const struct dd_ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* The FHIR patient index, as deidfs.patientLinking says. */
static dd_err dv_index(struct dd_view *v, const struct dd_view_opts *o,
		       char *errbuf, size_t errlen)
{
	const struct dd_policy *pol = v->pol;
	FILE *progress = o ? o->progress : NULL;
	dd_err e = DD_OK;

	if (pol->deidfs.linking == DD_LINK_OFF || !pol->fhir.present)
		return DD_OK;
	if (pol->deidfs.linking == DD_LINK_AUTO) {
		char *store;

		if (!o || !o->src_dir)
			return DD_OK;
		store = dd_index_default_store(pol);
		e = dd_index_load_or_build(pol, &v->pseudo, o->src_dir, store,
					   progress, &v->index, NULL);
		free(store);
		if (e)
			snprintf(errbuf, errlen, "patient index of %s: %s",
				 o->src_dir, dd_strerror(e));
		return e;
	}
	{
		size_t n = pol->deidfs.linking_sources.n;
		int *fds = calloc(n + 1, sizeof(*fds));
		char *store = dd_index_default_store(pol);

		if (!fds) {
			free(store);
			return DD_E_NOMEM;
		}
		for (size_t i = 0; i < n; i++)
			fds[i] = -1;
		/* temporaries and the finished index in unlinked files
		 * under the cache directory, when there is one */
		e = dd_index_new_tree(store, &v->pseudo, &v->index);
		for (size_t i = 0; !e && i < n; i++) {
			const char *src = pol->deidfs.linking_sources.v[i];

			/* a source: scanned with O_NOATIME where permitted */
			fds[i] = dd_view_openat_noatime(AT_FDCWD, src, O_RDONLY |
							O_DIRECTORY | O_CLOEXEC);
			if (fds[i] < 0) {
				e = DD_E_IO;
				snprintf(errbuf, errlen,
					 "patientLinking source %s: %s", src,
					 strerror(errno));
			}
		}
		if (!e) {
			e = dd_index_scan_dirs(v->index, pol, fds, n, progress,
					       NULL);
			if (e)
				snprintf(errbuf, errlen,
					 "patientLinking sources: %s",
					 dd_strerror(e));
		}
		if (!e)
			e = dd_index_finish(v->index);
		for (size_t i = 0; i < n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(fds);
		free(store);
	}
	return e;
}

dd_err dd_view_new(const struct dd_policy *pol, const struct dd_view_opts *o,
		   struct dd_view **out, char *errbuf, size_t errlen)
{
	struct dd_view *v;
	dd_err e;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return DD_E_NOMEM;
	v->pol = pol;
	e = dd_policy_key_load(pol, o ? o->key_file : NULL,
			       o ? o->may_generate_key : false, &v->key, errbuf,
			       errlen);
	if (e)
		goto out_free;
	e = dd_pseudo_init(&v->pseudo, v->key.bytes, v->key.len);
	if (e) {
		snprintf(errbuf, errlen, "key: %s", dd_strerror(e));
		goto out_free;
	}
	dd_policy_hash(pol, &v->key, DD_ENGINE_VERSION, v->policy_hash);
	v->path_cfg.mode = pol->deidfs.path_mode;
	v->path_cfg.allowlist = &pol->deidfs.path_allowlist;
	v->path_cfg.pseudo = &v->pseudo;
	e = dd_text_new(&pol->text, &v->pseudo, &v->text);
	if (e) {
		snprintf(errbuf, errlen, "text engine: %s", dd_strerror(e));
		goto out_free;
	}
	e = o && o->one_thread
		    ? dd_dicom_new_deferred(pol, &v->pseudo, v->text,
					    v->policy_hash, &v->dicom)
		    : dd_dicom_new(pol, &v->pseudo, v->text, v->policy_hash,
				   &v->dicom);
	if (e) {
		snprintf(errbuf, errlen, "DICOM engine: %s", dd_strerror(e));
		goto out_free;
	}
	e = dv_index(v, o, errbuf, errlen);
	if (e)
		goto out_free;
	if (pol->fhir.present) {
		e = dd_fhir_new(pol, &v->pseudo, v->text, v->index,
				v->policy_hash, &v->fhir);
		if (e) {
			snprintf(errbuf, errlen, "FHIR engine: %s",
				 dd_strerror(e));
			goto out_free;
		}
	}
	*out = v;
	return DD_OK;

out_free:
	dd_view_free(v);
	return e;
}

void dd_view_free(struct dd_view *v)
{
	if (!v)
		return;
	dd_fhir_free(v->fhir);
	dd_index_free(v->index);
	dd_dicom_free(v->dicom);
	dd_text_free(v->text);
	dd_pseudo_clear(&v->pseudo);
	dd_key_clear(&v->key);
	free(v);
}

const struct dd_policy *dd_view_policy(const struct dd_view *v)
{
	return v->pol;
}

const struct dd_key *dd_view_key(const struct dd_view *v)
{
	return &v->key;
}

const struct dd_pseudo *dd_view_pseudo(const struct dd_view *v)
{
	return &v->pseudo;
}

const char *dd_view_policy_hash(const struct dd_view *v)
{
	return v->policy_hash;
}

const char *dd_view_index_digest(const struct dd_view *v)
{
	return dd_index_digest(v->index);
}

/* ---- names ---------------------------------------------------------------- */

static bool dv_name_hidden(const char *name)
{
	return name[0] == '.' || strcasecmp(name, "DICOMDIR") == 0;
}

dd_err dd_view_name(const struct dd_view *v, const char *src_name, bool is_dir,
		    char *out)
{
	if (!src_name || !*src_name)
		return DD_E_INVAL;
	if (dv_name_hidden(src_name))
		return DD_E_NOT_CLAIMED;
	return dd_path_name(&v->path_cfg, src_name, is_dir, out);
}

static int dv_dirent_cmp(const void *a, const void *b)
{
	const struct dd_view_dirent *x = a, *y = b;

	return strcmp(x->view_name, y->view_name);
}

void dd_view_dir_free(struct dd_view_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].src_name);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Drop every run of equal view names (both sides of a collision). */
static void dv_drop_collisions(struct dd_view_dir *d)
{
	size_t w = 0;

	for (size_t i = 0; i < d->n;) {
		size_t j = i + 1;

		while (j < d->n &&
		       strcmp(d->v[j].view_name, d->v[i].view_name) == 0)
			j++;
		if (j - i == 1) {
			d->v[w++] = d->v[i];
		} else {
			d->n_collisions += j - i;
			for (size_t k = i; k < j; k++)
				free(d->v[k].src_name);
		}
		i = j;
	}
	d->n = w;
}

dd_err dd_view_list_dir(const struct dd_view *v, int dirfd,
			struct dd_view_dir *out)
{
	struct dd_view_dir d = {0};
	size_t cap = 0;
	struct dirent *de;
	dd_err e = DD_OK;
	int fd;
	DIR *dir;

	memset(out, 0, sizeof(*out));
	/* O_NOATIME: listing must not touch the source's atime */
	fd = dd_view_openat_noatime(dirfd, ".",
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DD_E_IO;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return DD_E_IO;
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		struct dd_view_dirent *ent;
		bool is_dir = de->d_type == DT_DIR;
		dd_err ne;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd, de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0)
				is_dir = S_ISDIR(st.st_mode);
		}
		if (d.n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct dd_view_dirent *p =
				realloc(d.v, ncap * sizeof(*p));

			if (!p) {
				e = DD_E_NOMEM;
				goto out_close;
			}
			d.v = p;
			cap = ncap;
		}
		ent = &d.v[d.n];
		ne = dd_view_name(v, de->d_name, is_dir, ent->view_name);
		if (ne == DD_E_NOT_CLAIMED) {
			d.n_hidden_names++;
			continue;
		}
		if (ne) {
			d.n_hidden_names++;
			continue;
		}
		ent->src_name = strdup(de->d_name);
		if (!ent->src_name) {
			e = DD_E_NOMEM;
			goto out_close;
		}
		ent->d_type = is_dir ? DT_DIR : de->d_type;
		ent->ino = de->d_ino;
		d.n++;
	}
	if (errno)
		e = DD_E_IO;
out_close:
	closedir(dir);
	if (e) {
		dd_view_dir_free(&d);
		return e;
	}
	if (d.n)
		qsort(d.v, d.n, sizeof(d.v[0]), dv_dirent_cmp);
	dv_drop_collisions(&d);
	*out = d;
	return DD_OK;
}

/* ---- sources ---------------------------------------------------------------- */

int dd_view_openat_noatime(int dirfd, const char *path, int flags)
{
	int fd = openat(dirfd, path, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
		fd = openat(dirfd, path, flags);
	return fd;
}

dd_err dd_view_open_beneath(int dirfd, const char *relpath, int flags, int *fd)
{
	struct open_how how;
	int base = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags;
	long r;

	*fd = -1;
	if (!relpath || !*relpath || relpath[0] == '/')
		return DD_E_INVAL;
	memset(&how, 0, sizeof(how));
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	how.flags = (uint64_t)(base | O_NOATIME);
	r = syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
	if (r < 0 && errno == EPERM) { /* O_NOATIME needs ownership */
		how.flags = (uint64_t)base;
		r = syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
	}
	if (r < 0 && errno == ENOSYS) {
		/* pre-5.6 kernel: refuse anything that is not a plain
		 * single-component or nested relative path without "..". */
		if (strstr(relpath, ".."))
			return DD_E_INVAL;
		r = dd_view_openat_noatime(dirfd, relpath, base | O_NOFOLLOW);
	}
	if (r < 0)
		return errno == ENOENT ? DD_E_NOTFOUND : DD_E_IO;
	/* O_NONBLOCK was only to avoid hanging on a FIFO at open time */
	flags = fcntl((int)r, F_GETFL);
	if (flags < 0 || fcntl((int)r, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		close((int)r);
		return DD_E_IO;
	}
	*fd = (int)r;
	return DD_OK;
}

static bool dv_has_suffix(const char *s, const char *suf)
{
	size_t n = s ? strlen(s) : 0, m = strlen(suf);

	return n >= m && strcasecmp(s + n - m, suf) == 0;
}

/* A JSON object that names a resourceType near its start. */
static bool dv_looks_fhir(const uint8_t *b, size_t n)
{
	size_t i = 0;

	if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
		i = 3;
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
			 b[i] == '\n'))
		i++;
	if (i >= n || b[i] != '{')
		return false;
	return memmem(b + i, n - i, "\"resourceType\"", 14) != NULL;
}

/* Raw DICOM without preamble: an explicit or implicit little-endian data
 * set starting at group 0x0008 (the engine then decides). */
static bool dv_looks_raw_dicom(const uint8_t *b, size_t n)
{
	if (n < 8)
		return false;
	return b[0] == 0x08 && b[1] == 0x00 && b[3] == 0x00;
}

dd_err dd_view_sniff(const struct dd_view *v, int fd, const char *src_name,
		     enum dd_kind *kind, enum dd_reason *reason)
{
	uint8_t buf[DV_SNIFF_BYTES];
	struct stat st;
	ssize_t n;

	(void)v;
	*kind = DD_KIND_UNKNOWN;
	*reason = DD_REASON_OTHER_FILE;
	if (fstat(fd, &st) < 0) {
		*reason = DD_REASON_UNREADABLE;
		return DD_OK;
	}
	if (S_ISDIR(st.st_mode)) {
		*kind = DD_KIND_DIR;
		*reason = DD_REASON_NONE;
		return DD_OK;
	}
	if (!S_ISREG(st.st_mode)) {
		*reason = DD_REASON_SPECIAL_FILE;
		return DD_OK;
	}
	if (src_name && strcasecmp(src_name, "DICOMDIR") == 0) {
		*kind = DD_KIND_DICOMDIR;
		*reason = DD_REASON_DICOMDIR;
		return DD_OK;
	}
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		*reason = DD_REASON_UNREADABLE;
		return DD_OK;
	}
	if (dd_dicom_sniff(buf, (size_t)n) || dv_looks_raw_dicom(buf, (size_t)n)) {
		*kind = DD_KIND_DICOM;
		*reason = DD_REASON_NONE;
	} else if (dv_looks_fhir(buf, (size_t)n)) {
		*kind = dv_has_suffix(src_name, ".ndjson") ? DD_KIND_FHIR_NDJSON
							    : DD_KIND_FHIR_JSON;
		*reason = DD_REASON_NONE;
	}
	return DD_OK;
}

void dd_view_cache_key(const struct dd_view *v, const struct dd_ident *id,
		       uint8_t key[32])
{
	uint8_t buf[40 + 64 + 64];
	unsigned int len = 32;
	uint64_t f[5] = {id->dev, id->ino, id->size, (uint64_t)id->mtime_ns,
			 (uint64_t)id->ctime_ns};
	const char *idx = dd_index_digest(v->index);
	size_t n = 40 + 64;

	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 8; b++)
			buf[i * 8 + b] = (uint8_t)(f[i] >> (8 * b));
	memcpy(buf + 40, v->policy_hash, 64);
	if (strlen(idx) == 64) { /* the patient index, when there is one */
		memcpy(buf + n, idx, 64);
		n += 64;
	}
	EVP_Digest(buf, n, key, &len, EVP_sha256(), NULL);
}

struct timespec dd_view_timestamp(const struct dd_view *v,
				  const struct dd_ident *id)
{
	uint8_t buf[40 + 64], mac[32];
	uint64_t f[5] = {id->dev, id->ino, id->size, (uint64_t)id->mtime_ns,
			 (uint64_t)id->ctime_ns};
	uint64_t r = 0;
	struct timespec ts;

	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 8; b++)
			buf[i * 8 + b] = (uint8_t)(f[i] >> (8 * b));
	memcpy(buf + 40, v->policy_hash, 64);
	dd_pseudo_mac(&v->pseudo, DD_DOM_TIMESTAMP, buf, sizeof(buf), mac);
	for (int i = 0; i < 8; i++)
		r = (r << 8) | mac[i];
	ts.tv_sec = 946684800 + (time_t)(r % (365ull * 86400));
	ts.tv_nsec = 0;
	return ts;
}

/* dd_view_manifest; with @out_fd >= 0 a FHIR file's output also goes to
 * @out_fd while it is transformed (*written set). */
static dd_err dv_manifest(const struct dd_view *v, int fd,
			  const struct dd_ident *id, const char *src_name,
			  const char *log_name, struct dd_manifest *out,
			  int out_fd, bool *written, bool *complete)
{
	enum dd_kind kind;
	enum dd_reason reason;
	struct stat st;
	struct dd_ident now;
	dd_err e;

	dd_manifest_reset(out);
	if (id->size > v->pol->deidfs.max_file_size &&
	    v->pol->deidfs.max_file_size) {
		dd_manifest_hide(out, DD_KIND_UNKNOWN, DD_REASON_TOO_LARGE);
		goto out_check;
	}
	e = dd_view_sniff(v, fd, src_name, &kind, &reason);
	if (e)
		return e;
	if (reason != DD_REASON_NONE) {
		dd_manifest_hide(out, kind, reason);
		goto out_check;
	}
	switch (kind) {
	case DD_KIND_DICOM:
		if (complete)
			e = dd_dicom_transform_size(v->dicom, fd, log_name, out,
						    complete);
		else if (out_fd >= 0) /* written once: decode once */
			e = dd_dicom_transform_ex(v->dicom, fd, log_name,
						  DD_DICOM_LITERAL_PIXELS, out);
		else
			e = dd_dicom_transform(v->dicom, fd, log_name, out);
		if (e)
			return e;
		break;
	case DD_KIND_FHIR_JSON:
	case DD_KIND_FHIR_NDJSON:
		if (!v->fhir) { /* no FHIR config in the policy: not claimed */
			dd_manifest_hide(out, kind, DD_REASON_OTHER_FILE);
			break;
		}
		if (out_fd >= 0) {
			*written = true;
			e = dd_fhir_transform_to_fd(v->fhir, fd, id->size, kind,
						    log_name, out_fd, out);
		} else {
			e = dd_fhir_transform(v->fhir, fd, id->size, kind,
					      log_name, out);
		}
		if (e)
			return e;
		break;
	default:
		dd_manifest_hide(out, kind, DD_REASON_OTHER_FILE);
		break;
	}
	out->kind = kind;
out_check:
	if (out->reason != DD_REASON_NONE)
		dd_log(DD_LOG_INFO, "%s: hidden (%s)", log_name ? log_name : "?",
		       dd_reason_name(out->reason));
	if (fstat(fd, &st) < 0)
		return DD_E_IO;
	dd_ident_from_stat(&st, &now);
	if (!dd_ident_equal(&now, id))
		return DD_E_CHANGED;
	return DD_OK;
}

dd_err dd_view_manifest(const struct dd_view *v, int fd,
			const struct dd_ident *id, const char *src_name,
			const char *log_name, struct dd_manifest *out)
{
	bool written;

	return dv_manifest(v, fd, id, src_name, log_name, out, -1, &written,
			   NULL);
}

dd_err dd_view_manifest_size(const struct dd_view *v, int fd,
			     const struct dd_ident *id, const char *src_name,
			     const char *log_name, struct dd_manifest *out,
			     bool *complete)
{
	bool written;

	*complete = true;
	return dv_manifest(v, fd, id, src_name, log_name, out, -1, &written,
			   complete);
}

dd_err dd_view_manifest_write(const struct dd_view *v, int fd,
			      const struct dd_ident *id, const char *src_name,
			      const char *log_name, struct dd_manifest *out,
			      int out_fd, bool *written)
{
	*written = false;
	if (out_fd < 0)
		return DD_E_INVAL;
	return dv_manifest(v, fd, id, src_name, log_name, out, out_fd, written,
			   NULL);
}
