/* test_view.c: dd_view: listings (hidden names, collisions), safe opens,
 * classification, timestamps, cache keys, fail-closed manifests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_path.h"
#include "dd_view.h"

static char tmp[256];

static void put_file(const char *rel, const void *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/src/%s", tmp, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	EXPECT(fd >= 0);
	if (fd < 0)
		return;
	EXPECT(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void put_text(const char *rel, const char *s)
{
	put_file(rel, s, strlen(s));
}

/* Two decimal names whose 35-bit path pseudonyms collide (birthday search
 * over a fixed key: deterministic, ~2^18 tries). */
static bool find_collision(const struct dd_view *v, char *a, char *b)
{
	enum { N = 1 << 20 };
	uint64_t *seen = calloc(N, sizeof(*seen));
	char name[16], out[DD_PATH_NAME_MAX + 1];
	bool found = false;

	if (!seen)
		return false;
	for (uint32_t i = 1; i < 4000000 && !found; i++) {
		uint64_t h = 0;
		uint32_t slot;

		snprintf(name, sizeof(name), "%u", 10000000u + i);
		if (dd_view_name(v, name, true, out) != DD_OK)
			break;
		for (const char *c = out; *c; c++)
			h = h * 131 + (unsigned char)*c;
		slot = (uint32_t)(h % N);
		while (seen[slot]) {
			char other[16], oout[DD_PATH_NAME_MAX + 1];

			snprintf(other, sizeof(other), "%u",
				 (uint32_t)(10000000u + seen[slot]));
			dd_view_name(v, other, true, oout);
			if (strcmp(oout, out) == 0) {
				strcpy(a, other);
				strcpy(b, name);
				found = true;
				break;
			}
			slot = (slot + 1) % N;
		}
		if (!found)
			seen[slot] = i;
	}
	free(seen);
	return found;
}

static void test_listing(struct dd_view *v, int srcfd)
{
	struct dd_view_dir d;
	char a[16], b[16], path[512];
	bool have_a = false, have_b = false;

	EXPECT(find_collision(v, a, b));
	snprintf(path, sizeof(path), "%s/src/%s", tmp, a);
	EXPECT(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/src/%s", tmp, b);
	EXPECT(mkdir(path, 0755) == 0);
	EXPECT_EQ_INT(dd_view_list_dir(v, srcfd, &d), DD_OK);
	EXPECT_EQ_INT(d.n_collisions, 2);
	EXPECT_EQ_INT(d.n_hidden_names, 3); /* .hidden, DICOMDIR, dicomdir */
	for (size_t i = 0; i < d.n; i++) {
		have_a |= strcmp(d.v[i].src_name, a) == 0;
		have_b |= strcmp(d.v[i].src_name, b) == 0;
		EXPECT(strcmp(d.v[i].src_name, ".hidden") != 0);
		EXPECT(strcasecmp(d.v[i].src_name, "DICOMDIR") != 0);
		/* no PHI token survives in a listed name */
		EXPECT(strstr(d.v[i].view_name, "DOE") == NULL);
		EXPECT(strstr(d.v[i].view_name, "12345678") == NULL);
		if (i)
			EXPECT(strcmp(d.v[i - 1].view_name, d.v[i].view_name) < 0);
	}
	EXPECT(!have_a && !have_b); /* both sides of the collision hidden */
	EXPECT_EQ_INT(d.n, 6);
	dd_view_dir_free(&d);
}

static void test_open_beneath(int srcfd)
{
	int fd = -1;
	char path[512];

	snprintf(path, sizeof(path), "%s/outside", tmp);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	snprintf(path, sizeof(path), "%s/src/escape", tmp);
	EXPECT(symlink("../outside", path) == 0);
	snprintf(path, sizeof(path), "%s/src/abs", tmp);
	EXPECT(symlink("/etc/passwd", path) == 0);
	EXPECT(dd_view_open_beneath(srcfd, "../outside", 0, &fd) != DD_OK);
	EXPECT_EQ_INT(fd, -1);
	EXPECT(dd_view_open_beneath(srcfd, "escape", 0, &fd) != DD_OK);
	EXPECT(dd_view_open_beneath(srcfd, "abs", 0, &fd) != DD_OK);
	EXPECT(dd_view_open_beneath(srcfd, "/etc/passwd", 0, &fd) != DD_OK);
	EXPECT_EQ_INT(dd_view_open_beneath(srcfd, "nothere", 0, &fd),
		      DD_E_NOTFOUND);
	EXPECT_EQ_INT(dd_view_open_beneath(srcfd, "note.txt", 0, &fd), DD_OK);
	EXPECT(fd >= 0);
	if (fd >= 0) {
		EXPECT((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
		EXPECT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
}

static void sniff_one(struct dd_view *v, int srcfd, const char *name,
		      enum dd_kind kind, enum dd_reason reason)
{
	enum dd_kind k;
	enum dd_reason r;
	int fd = -1;

	if (dd_view_open_beneath(srcfd, name, O_NOFOLLOW, &fd) != DD_OK) {
		EXPECT(0);
		return;
	}
	EXPECT_EQ_INT(dd_view_sniff(v, fd, name, &k, &r), DD_OK);
	if (k != kind || r != reason)
		fprintf(stderr, "  sniff %s: kind %s reason %s\n", name,
			dd_kind_name(k), dd_reason_name(r));
	EXPECT_EQ_INT(k, kind);
	EXPECT_EQ_INT(r, reason);
	close(fd);
}

static void test_sniff_and_manifest(struct dd_view *v, int srcfd)
{
	struct dd_manifest m;
	struct dd_ident id, id2;
	struct stat st;
	struct timespec ts;
	uint8_t k1[32], k2[32];
	int fd = -1;

	sniff_one(v, srcfd, "note.txt", DD_KIND_UNKNOWN, DD_REASON_OTHER_FILE);
	sniff_one(v, srcfd, "pat.json", DD_KIND_FHIR_JSON, DD_REASON_NONE);
	sniff_one(v, srcfd, "bom.json", DD_KIND_FHIR_JSON, DD_REASON_NONE);
	sniff_one(v, srcfd, "obs.ndjson", DD_KIND_FHIR_NDJSON, DD_REASON_NONE);
	sniff_one(v, srcfd, "fake.dcm", DD_KIND_DICOM, DD_REASON_NONE);
	sniff_one(v, srcfd, "DICOMDIR", DD_KIND_DICOMDIR, DD_REASON_DICOMDIR);

	/* a DICOM-looking file that does not parse is hidden, never served */
	EXPECT_EQ_INT(dd_view_open_beneath(srcfd, "fake.dcm", 0, &fd), DD_OK);
	EXPECT(fstat(fd, &st) == 0);
	dd_ident_from_stat(&st, &id);
	dd_manifest_init(&m);
	EXPECT_EQ_INT(dd_view_manifest(v, fd, &id, "fake.dcm", "t", &m), DD_OK);
	EXPECT(m.reason != DD_REASON_NONE);
	EXPECT_EQ_INT(m.n_segs, 0);
	EXPECT_EQ_INT(m.size, 0);
	/* a stale identity is reported, not served */
	id2 = id;
	id2.mtime_ns++;
	EXPECT_EQ_INT(dd_view_manifest(v, fd, &id2, "fake.dcm", "t", &m),
		      DD_E_CHANGED);
	dd_manifest_free(&m);

	/* timestamps: inside the year 2000, not the source's, stable */
	ts = dd_view_timestamp(v, &id);
	EXPECT(ts.tv_sec >= 946684800 && ts.tv_sec < 946684800 + 366 * 86400);
	EXPECT(ts.tv_sec != st.st_mtim.tv_sec);
	EXPECT(dd_view_timestamp(v, &id).tv_sec == ts.tv_sec);
	EXPECT(dd_view_timestamp(v, &id2).tv_sec != ts.tv_sec);
	/* cache keys follow the identity */
	dd_view_cache_key(v, &id, k1);
	dd_view_cache_key(v, &id2, k2);
	EXPECT(memcmp(k1, k2, 32) != 0);
	dd_view_cache_key(v, &id, k2);
	EXPECT(memcmp(k1, k2, 32) == 0);
	close(fd);

	/* a FIFO is a special file: classified without blocking */
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/src/fifo", tmp);
		EXPECT(mkfifo(path, 0644) == 0);
		fd = -1;
		EXPECT_EQ_INT(dd_view_open_beneath(srcfd, "fifo", 0, &fd), DD_OK);
		if (fd >= 0) {
			enum dd_kind k;
			enum dd_reason r;

			dd_view_sniff(v, fd, "fifo", &k, &r);
			EXPECT_EQ_INT(r, DD_REASON_SPECIAL_FILE);
			close(fd);
		}
	}
}

int main(void)
{
	struct dd_view_opts vo = {.may_generate_key = true};
	struct dd_policy *pol = NULL;
	struct dd_view *v = NULL;
	char path[512], keyfile[512], err[256] = "";
	uint8_t dcm[300] = {0};
	int srcfd;

	snprintf(tmp, sizeof(tmp), "/tmp/dd-test-view-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(keyfile, sizeof(keyfile), "%s/key/deidfs.key", tmp);
	setenv("DEIDFS_KEY_FILE", keyfile, 1);
	snprintf(path, sizeof(path), "%s/src", tmp);
	EXPECT(mkdir(path, 0755) == 0);
	put_text("note.txt", "hello\n");
	put_text(".hidden", "x");
	put_text("DICOMDIR", "x");
	put_text("dicomdir", "x");
	put_text("pat.json", "{\"resourceType\": \"Patient\", \"id\": \"x\"}");
	put_text("bom.json", "\xEF\xBB\xBF  {\"resourceType\":\"Patient\"}");
	put_text("obs.ndjson", "{\"resourceType\":\"Observation\"}\n");
	put_text("DOE_JOHN_12345678.txt", "x");
	memcpy(dcm + 128, "DICM", 4); /* a preamble and nothing valid after */
	put_file("fake.dcm", dcm, sizeof(dcm));
	EXPECT_EQ_INT(dd_policy_builtin("default", &pol), DD_OK);
	EXPECT_EQ_INT(dd_view_new(pol, &vo, &v, err, sizeof(err)), DD_OK);
	if (!v) {
		fprintf(stderr, "dd_view_new: %s\n", err);
		return dd_test_done("test_view");
	}
	EXPECT(strncmp(dd_view_key(v)->fingerprint, "ddk1:", 5) == 0);
	EXPECT_EQ_INT(strlen(dd_view_policy_hash(v)), 64);
	srcfd = open(path, O_RDONLY | O_DIRECTORY);
	test_listing(v, srcfd);
	test_open_beneath(srcfd);
	test_sniff_and_manifest(v, srcfd);
	close(srcfd);
	dd_view_free(v);
	dd_policy_free(pol);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
	if (system(path) != 0)
		return 1;
	return dd_test_done("test_view");
}
