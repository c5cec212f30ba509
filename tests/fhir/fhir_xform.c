/* fhir_xform.c: the FHIR engine on files, for tests (not installed).
 *
 * usage: fhir_xform [-p POLICY.json | -P PRESET] [-c CHUNK] [-i SRCDIR]
 *                   [-o OUTDIR] [-r READSZ] [-s] FILE...
 *
 * Each FILE is transformed through dd_fhir_transform() into a manifest,
 * which goes through the cache byte form (encode/decode) and is then read
 * back with dd_manifest_read() in READSZ pieces (default 65536), so REGEN
 * chunks are regenerated the way the daemon serves them.  The output goes
 * to OUTDIR/<basename of FILE>; with -s it is also transformed in memory
 * (dd_fhir_transform_buffer) and the two must be equal.  A hidden file
 * prints "HIDDEN <reason> <file>" and writes nothing.  -c sets the chunk
 * size and the literal limit (tiny chunks force REGEN segments).  -i
 * builds the patient index of SRCDIR (patientLinking as the policy says,
 * "auto" meaning SRCDIR).  The key is fixed (a test key).  Exit 0 unless
 * something failed (hidden files are not failures).
 */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dd_fhir.h"
#include "dd_index.h"
#include "dd_log.h"

static const uint8_t fx_key[32] = "deidfs fhir tests: fixed key 32b";

static int fx_one(const struct dd_fhir *f, const char *path, const char *outdir,
		  size_t readsz, bool self_check)
{
	size_t n = strlen(path);
	enum dd_kind kind = n > 7 && !strcmp(path + n - 7, ".ndjson")
				    ? DD_KIND_FHIR_NDJSON
				    : DD_KIND_FHIR_JSON;
	struct dd_manifest m, m2;
	struct dd_buf enc, out;
	struct stat st;
	char *pc, opath[4096];
	int fd, rc = 1;
	uint8_t *buf = malloc(readsz);
	dd_err e;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || !buf) {
		perror(path);
		free(buf);
		return 1;
	}
	dd_manifest_init(&m);
	dd_manifest_init(&m2);
	dd_buf_init(&enc, (size_t)1 << 34);
	dd_buf_init(&out, (size_t)1 << 34);
	e = dd_fhir_transform(f, fd, (uint64_t)st.st_size, kind, path, &m);
	if (e) {
		fprintf(stderr, "%s: %s\n", path, dd_strerror(e));
		goto out;
	}
	if (m.reason != DD_REASON_NONE) {
		printf("HIDDEN %s %s\n", dd_reason_name(m.reason), path);
		rc = 0;
		goto out;
	}
	if (dd_manifest_encode(&m, &enc) || dd_manifest_decode(enc.data, enc.len, &m2)) {
		fprintf(stderr, "%s: manifest byte form\n", path);
		goto out;
	}
	for (uint64_t off = 0; off < m2.size;) {
		size_t got;

		e = dd_manifest_read(&m2, fd, buf, readsz, off, &got);
		if (e || got == 0) {
			fprintf(stderr, "%s: read at %llu: %s\n", path,
				(unsigned long long)off, dd_strerror(e));
			goto out;
		}
		if (dd_buf_add(&out, buf, got))
			goto out;
		off += got;
	}
	if (self_check) {
		struct dd_buf whole, in;
		enum dd_reason reason;
		bool same;

		dd_buf_init(&whole, (size_t)1 << 34);
		dd_buf_init(&in, (size_t)1 << 34);
		if (dd_buf_reserve(&in, (size_t)st.st_size) ||
		    pread(fd, in.data, (size_t)st.st_size, 0) != st.st_size) {
			dd_buf_free(&in);
			goto out;
		}
		in.len = (size_t)st.st_size;
		e = dd_fhir_transform_buffer(f, in.data, in.len, kind, &whole,
					     &reason);
		same = !e && reason == DD_REASON_NONE && whole.len == out.len &&
		       !memcmp(whole.data, out.data, out.len);
		dd_buf_free(&whole);
		dd_buf_free(&in);
		if (!same) {
			fprintf(stderr, "%s: manifest and buffer outputs differ\n",
				path);
			goto out;
		}
	}
	pc = strdup(path);
	snprintf(opath, sizeof(opath), "%s/%s", outdir, basename(pc));
	free(pc);
	{
		FILE *o = fopen(opath, "wb");

		if (!o || fwrite(out.data ? (void *)out.data : "", 1, out.len, o) !=
				  out.len || fclose(o)) {
			perror(opath);
			goto out;
		}
	}
	printf("OK %llu %u %s\n", (unsigned long long)m.size, m.n_segs, path);
	rc = 0;
out:
	free(buf);
	close(fd);
	dd_manifest_free(&m);
	dd_manifest_free(&m2);
	dd_buf_free(&enc);
	dd_buf_free(&out);
	return rc;
}

int main(int argc, char **argv)
{
	const char *pfile = NULL, *preset = "default", *src = NULL, *outdir = ".";
	size_t chunk = 0, readsz = 65536;
	bool self_check = false;
	struct dd_policy *pol = NULL;
	struct dd_diags diags = {0};
	struct dd_pseudo pseudo;
	struct dd_text *text = NULL;
	struct dd_index *idx = NULL;
	struct dd_fhir *f = NULL;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "p:P:c:i:o:r:sv")) != -1) {
		switch (c) {
		case 'p': pfile = optarg; break;
		case 'P': preset = optarg; break;
		case 'c': chunk = strtoul(optarg, NULL, 10); break;
		case 'i': src = optarg; break;
		case 'o': outdir = optarg; break;
		case 'r': readsz = strtoul(optarg, NULL, 10); break;
		case 's': self_check = true; break;
		case 'v': dd_log_set_level(DD_LOG_DEBUG); break;
		default: return 2;
		}
	}
	if (readsz == 0)
		readsz = 1;
	if (pfile ? dd_policy_load_file(pfile, &pol, &diags)
		  : dd_policy_builtin(preset, &pol)) {
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "%s\n", diags.v[i].message);
		dd_diags_free(&diags);
		return 2;
	}
	dd_diags_free(&diags);
	if (dd_pseudo_init(&pseudo, fx_key, sizeof(fx_key)) ||
	    dd_text_new(&pol->text, &pseudo, &text))
		return 1;
	if (src && pol->deidfs.linking != DD_LINK_OFF) {
		int dfd = open(src, O_RDONLY | O_DIRECTORY);

		if (dfd < 0 || dd_index_new_tree(NULL, &pseudo, &idx) ||
		    dd_index_scan_dir(idx, pol, dfd, NULL, NULL) ||
		    dd_index_finish(idx)) {
			fprintf(stderr, "index of %s failed\n", src);
			return 1;
		}
		close(dfd);
		fprintf(stderr, "index: %zu refs, %zu patients, digest %.16s\n",
			dd_index_n_refs(idx), dd_index_n_patients(idx),
			dd_index_digest(idx));
	}
	if (dd_fhir_new(pol, &pseudo, text, idx, "fhir-xform-test", &f))
		return 1;
	if (chunk)
		dd_fhir_set_chunking(f, chunk, chunk);
	for (int i = optind; i < argc; i++)
		rc |= fx_one(f, argv[i], outdir, readsz, self_check);
	dd_fhir_free(f);
	dd_index_free(idx);
	dd_text_free(text);
	dd_policy_free(pol);
	return rc;
}
