/* dd_cache_tools.c: verify (in a child process), dump, clear, and the
 * default directory.  These read a cache; only clear removes anything,
 * and only names the cache itself creates. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dd_cache_i.h"

/* ---- verify -------------------------------------------------------------- */

struct verify_msg {
	dd_err status; /* DD_OK: the report is a verdict */
	struct dd_cache_verify_report r;
};

struct verify_walk {
	struct dd_cache_verify_report *r;
	uint8_t (*lru)[DD_CACHE_KEY_LEN]; /* "lru" keys, in key order */
	size_t lru_n, lru_cap, lru_matched;
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, DD_CACHE_KEY_LEN);
}

static int verify_one(void *arg, enum dd_cache_db db, const uint8_t *key,
		      size_t klen, const uint8_t *val, size_t vlen)
{
	struct verify_walk *w = arg;
	struct dd_cache_record rec;
	uint8_t mkey[DD_CACHE_KEY_LEN];
	char name[DD_CACHE_META_NAME_MAX + 1];

	switch (db) {
	case DD_CACHE_DB_META:
		if (klen > DD_CACHE_META_NAME_MAX) {
			w->r->meta_bad++;
			break;
		}
		memcpy(name, key, klen);
		name[klen] = '\0';
		if (!dd_cache_meta_name_ok(name)) {
			w->r->meta_bad++;
			break;
		}
		dd_cache_meta_key(name, mkey);
		if (dd_cache_record_decode(mkey, val, vlen, &rec, NULL))
			w->r->meta_bad++;
		else
			w->r->meta_ok++;
		break;
	case DD_CACHE_DB_LRU:
		if (klen != DD_CACHE_KEY_LEN || vlen != 8) {
			w->r->lru_bad++;
			break;
		}
		if (w->lru_n == w->lru_cap) {
			size_t ncap = w->lru_cap ? w->lru_cap * 2 : 1024;
			void *n = realloc(w->lru, ncap * DD_CACHE_KEY_LEN);
			if (!n)
				return 1;
			w->lru = n;
			w->lru_cap = ncap;
		}
		memcpy(w->lru[w->lru_n++], key, DD_CACHE_KEY_LEN);
		break;
	case DD_CACHE_DB_MANIFESTS:
		w->r->records++;
		if (klen != DD_CACHE_KEY_LEN ||
		    dd_cache_record_decode(key, val, vlen, &rec, NULL)) {
			w->r->records_bad++;
			break;
		}
		w->r->records_ok++;
		if (bsearch(key, w->lru, w->lru_n, DD_CACHE_KEY_LEN, key_cmp))
			w->lru_matched++;
		break;
	}
	return 0;
}

/* The child's work: open read-only, check, walk. */
static void verify_child(const char *dir, struct verify_msg *m)
{
	struct verify_walk w = {.r = &m->r};
	struct dd_cache_stats st;
	struct dd_cache *c = NULL;
	char err[DD_CACHE_ERRLEN];
	dd_err derr;

	derr = dd_cache_open_i(dir, 0, DD_CACHE_RDONLY, false, &c, err,
			       sizeof(err));
	if (derr == DD_E_CORRUPT) {
		m->r.corrupt = true;
		m->r.env_error = DD_E_CORRUPT;
		snprintf(m->r.message, sizeof(m->r.message), "%s", err);
		return;
	}
	if (derr) {
		m->status = derr;
		snprintf(m->r.message, sizeof(m->r.message), "%s", err);
		return;
	}
	m->r.generation = dd_cache_generation(c);
	if (dd_cache_stats(c, &st) == DD_OK) {
		m->r.file_bytes = st.file_bytes;
	}
	m->r.needed_bytes = dd_cache_needed_bytes(c);
	derr = dd_cache_walk(c, verify_one, &w);
	if (derr && derr != DD_E_INTERNAL)
		m->r.env_error = derr;
	if (derr == DD_E_INTERNAL)
		m->status = DD_E_NOMEM;
	m->r.lru_orphans = w.lru_n - w.lru_matched;
	m->r.corrupt = m->r.records_bad || m->r.meta_bad || m->r.lru_bad ||
		       m->r.env_error;
	snprintf(m->r.message, sizeof(m->r.message),
		 "env.%" PRIu64 ": %" PRIu64 " records (%" PRIu64 " bad), %"
		 PRIu64 " meta (%" PRIu64 " bad), %" PRIu64 " bad stamps%s",
		 m->r.generation, m->r.records, m->r.records_bad,
		 m->r.meta_ok + m->r.meta_bad, m->r.meta_bad, m->r.lru_bad,
		 m->r.env_error ? "; the tree is damaged" : "");
	free(w.lru);
	dd_cache_close(c);
}

static bool read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

dd_err dd_cache_verify(const char *dir, struct dd_cache_verify_report *report)
{
	struct verify_msg m;
	bool got;
	dd_err derr;
	pid_t pid;
	int fds[2], status;

	if (!report)
		return DD_E_INVAL;
	memset(report, 0, sizeof(*report));
	derr = dd_cache_dir_check(dir, false, report->message,
				  sizeof(report->message));
	if (derr)
		return derr;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return DD_E_IO;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return DD_E_IO;
	}
	if (pid == 0) {
		/* A fault on a damaged map must kill the child (the verdict),
		 * not run a handler the parent installed (a sanitizer's, say). */
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		memset(&m, 0, sizeof(m));
		close(fds[0]);
		verify_child(dir, &m);
		if (write(fds[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(&m, 0, sizeof(m));
	got = read_full(fds[0], &m, sizeof(m));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return DD_E_IO;
	if (WIFSIGNALED(status)) {
		report->child_signal = WTERMSIG(status);
		report->corrupt = true;
		report->env_error = DD_E_CORRUPT;
		snprintf(report->message, sizeof(report->message),
			 "the checker died of signal %d (%s) reading the "
			 "environment: it is damaged", report->child_signal,
			 strsignal(report->child_signal));
		return DD_OK;
	}
	if (!got && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		/* Died without a report: a fault handler that exits. */
		report->corrupt = true;
		report->env_error = DD_E_CORRUPT;
		snprintf(report->message, sizeof(report->message),
			 "the checker failed (exit %d) reading the environment: "
			 "it is damaged", WEXITSTATUS(status));
		return DD_OK;
	}
	if (!got)
		return DD_E_IO;
	*report = m.r;
	return m.status;
}

/* ---- dump ---------------------------------------------------------------- */

struct stamp_kv {
	uint8_t key[DD_CACHE_KEY_LEN];
	uint64_t stamp;
};

struct dump_walk {
	FILE *out;
	struct stamp_kv *lru;
	size_t lru_n, lru_cap;
	uint64_t meta_n, lru_total, man_n, bad_n;
	enum dd_cache_db section;
	bool started;
};

static void hex(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static const char *decode_state(dd_err e)
{
	switch (e) {
	case DD_OK:
		return "ok";
	case DD_E_UNSUPPORTED:
		return "BAD(version)";
	case DD_E_CORRUPT:
		return "BAD(checksum)";
	default:
		return "BAD(header)";
	}
}

static void dump_section(struct dump_walk *w, enum dd_cache_db db)
{
	static const char *const names[] = {"meta", "lru", "manifests"};

	if (w->started && w->section == db)
		return;
	w->started = true;
	w->section = db;
	fprintf(w->out, "[%s]\n", names[db]);
}

static int dump_one(void *arg, enum dd_cache_db db, const uint8_t *key,
		    size_t klen, const uint8_t *val, size_t vlen)
{
	struct dump_walk *w = arg;
	struct dd_cache_record rec;
	uint8_t mkey[DD_CACHE_KEY_LEN];
	char name[DD_CACHE_META_NAME_MAX + 1];
	dd_err e;

	dump_section(w, db);
	switch (db) {
	case DD_CACHE_DB_META:
		w->meta_n++;
		if (klen > DD_CACHE_META_NAME_MAX) {
			fprintf(w->out, "name=(%zu bytes) BAD(name)\n", klen);
			break;
		}
		memcpy(name, key, klen);
		name[klen] = '\0';
		if (!dd_cache_meta_name_ok(name)) {
			fprintf(w->out, "name=(hex)");
			hex(w->out, key, klen);
			fprintf(w->out, " BAD(name)\n");
			break;
		}
		dd_cache_meta_key(name, mkey);
		e = dd_cache_record_decode(mkey, val, vlen, &rec, NULL);
		fprintf(w->out, "name=%s len=%zu %s", name,
			vlen >= DD_CACHE_RECORD_HDR ?
			vlen - DD_CACHE_RECORD_HDR : vlen, decode_state(e));
		/* Our own small values are printed; other blobs are not. */
		if (!e && !strncmp(name, "dd.", 3) && rec.paylen == 8)
			fprintf(w->out, " value=%" PRIu64, le64(rec.payload));
		if (!e && !strcmp(name, "dd.stats") && rec.paylen == 32)
			fprintf(w->out,
				" hits=%" PRIu64 " misses=%" PRIu64
				" corrupt=%" PRIu64 " evictions=%" PRIu64,
				le64(rec.payload), le64(rec.payload + 8),
				le64(rec.payload + 16), le64(rec.payload + 24));
		fputc('\n', w->out);
		break;
	case DD_CACHE_DB_LRU:
		w->lru_total++;
		if (klen != DD_CACHE_KEY_LEN || vlen != 8)
			break;
		if (w->lru_n == w->lru_cap) {
			size_t ncap = w->lru_cap ? w->lru_cap * 2 : 1024;
			void *n = realloc(w->lru, ncap * sizeof(*w->lru));
			if (!n)
				return 1;
			w->lru = n;
			w->lru_cap = ncap;
		}
		memcpy(w->lru[w->lru_n].key, key, DD_CACHE_KEY_LEN);
		w->lru[w->lru_n++].stamp = le64(val);
		break;
	case DD_CACHE_DB_MANIFESTS: {
		struct stamp_kv *s = NULL;

		w->man_n++;
		if (klen != DD_CACHE_KEY_LEN) {
			fprintf(w->out, "key=(%zu bytes) BAD(key)\n", klen);
			w->bad_n++;
			break;
		}
		e = dd_cache_record_decode(key, val, vlen, &rec, NULL);
		if (e)
			w->bad_n++;
		if (w->lru_n)
			s = bsearch(key, w->lru, w->lru_n, sizeof(*w->lru),
				    key_cmp);
		fprintf(w->out, "key=");
		hex(w->out, key, klen);
		if (vlen >= DD_CACHE_RECORD_HDR)
			fprintf(w->out,
				" version=%u hdrlen=%u paylen=%" PRIu32
				" crc=%08" PRIx32, rec.version, rec.hdrlen,
				rec.paylen, rec.crc);
		fprintf(w->out, " size=%zu %s", vlen, decode_state(e));
		if (s)
			fprintf(w->out, " stamp=%" PRIu64, s->stamp);
		else
			fprintf(w->out, " stamp=-");
		fputc('\n', w->out);
		break;
	}
	}
	return 0;
}

dd_err dd_cache_dump(const char *dir, FILE *out)
{
	struct dump_walk w = {.out = out};
	struct dd_cache_stats st;
	struct dd_cache *c = NULL;
	char err[DD_CACHE_ERRLEN];
	dd_err derr;

	if (!out)
		return DD_E_INVAL;
	derr = dd_cache_open(dir, 0, DD_CACHE_RDONLY, &c, err, sizeof(err));
	if (derr) {
		fprintf(stderr, "%s\n", err);
		return derr;
	}
	derr = dd_cache_stats(c, &st);
	if (derr)
		goto out_close;
	fprintf(out,
		"format=deidfs-cache-dump-1\n"
		"generation=%" PRIu64 "\npage_size=%" PRIu64
		"\nmap_bytes=%" PRIu64 "\nfile_bytes=%" PRIu64
		"\nused_bytes=%" PRIu64 "\nentries=%" PRIu64 "\n",
		st.generation, st.page_size, st.map_bytes, st.file_bytes,
		st.used_bytes, st.entries);
	derr = dd_cache_walk(c, dump_one, &w);
	if (derr == DD_E_INTERNAL)
		derr = DD_E_NOMEM;
	fprintf(out,
		"summary: meta=%" PRIu64 " lru=%" PRIu64 " manifests=%" PRIu64
		" bad=%" PRIu64 "\n", w.meta_n, w.lru_total, w.man_n, w.bad_n);
	if (!derr && (fflush(out) != 0 || ferror(out)))
		derr = DD_E_IO;
out_close:
	free(w.lru);
	dd_cache_close(c);
	return derr;
}

/* ---- clear, default directory ------------------------------------------- */

dd_err dd_cache_clear(const char *dir, unsigned *removed)
{
	dd_err derr;
	unsigned n;
	int lockfd;

	if (removed)
		*removed = 0;
	derr = dd_cache_dir_check(dir, false, NULL, 0);
	if (derr)
		return derr;
	lockfd = dd_cache_dir_lock(dir);
	if (lockfd < 0)
		return DD_E_IO;
	derr = dd_cache_gen_unset_current(dir);
	n = dd_cache_gen_gc(dir, 0);
	dd_cache_dir_unlock(lockfd);
	if (removed)
		*removed = n;
	return derr;
}

char *dd_cache_default_dir(void)
{
	const char *v;
	char *out = NULL;

	v = getenv("DEIDFS_CACHE_DIR");
	if (v && *v)
		return strdup(v);
	v = getenv("XDG_CACHE_HOME");
	/* The XDG spec says to ignore a relative path. */
	if (v && *v == '/') {
		if (asprintf(&out, "%s/deidfs", v) < 0)
			return NULL;
		return out;
	}
	v = getenv("HOME");
	if (v && *v) {
		if (asprintf(&out, "%s/.cache/deidfs", v) < 0)
			return NULL;
		return out;
	}
	return NULL;
}
