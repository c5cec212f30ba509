/* test_manifest.c: segments, reads at every offset, byte form, REGEN
 * segments shared by concurrent readers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_manifest.h"

static int make_source(const uint8_t *p, size_t n)
{
	char path[] = "/tmp/dd-test-manifest-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- REGEN segments: one rebuild for many readers ------------------------ */

#define RG_LEN (1u << 20)

static atomic_uint rg_calls;

/* Writes RG_LEN bytes made from the descriptor's last byte, slowly (so
 * that readers overlap); "bad" descriptors fail, "short" ones come out
 * one byte short. */
static dd_err rg_fn(void *ctx, int src_fd, const struct dd_manifest *m,
		    const uint8_t *desc, size_t desc_len, struct dd_buf *out)
{
	uint8_t v = desc[desc_len - 1];
	dd_err e;

	(void)ctx;
	(void)src_fd;
	(void)m;
	atomic_fetch_add(&rg_calls, 1);
	usleep(50000);
	if (v == 'b')
		return DD_E_CHANGED;
	e = dd_buf_reserve(out, RG_LEN);
	if (e)
		return e;
	memset(out->data, v, RG_LEN - (v == 's'));
	out->len = RG_LEN - (v == 's');
	return DD_OK;
}

struct rg_reader {
	const struct dd_manifest *m;
	int fd;
	uint64_t off;
	dd_err e;
	bool ok;
};

static void *rg_read(void *p)
{
	struct rg_reader *r = p;
	uint8_t buf[4096];
	size_t got = 0;

	r->e = dd_manifest_read(r->m, r->fd, buf, sizeof(buf), r->off, &got);
	r->ok = got == sizeof(buf) && buf[0] == 'x' && buf[4095] == 'x';
	return NULL;
}

static void test_regen_shared(int fd)
{
	static const uint8_t tag[16] = "test-regen-tag!";
	static const uint8_t other[16] = "no-such-regen!!";
	struct dd_manifest m;
	struct rg_reader r[8];
	pthread_t th[8];
	uint8_t buf[16];
	size_t got;

	EXPECT_EQ_INT(dd_manifest_regen_register(tag, rg_fn, NULL), DD_OK);
	dd_manifest_init(&m);
	EXPECT_EQ_INT(dd_manifest_add_literal(&m, "H", 1), DD_OK);
	EXPECT_EQ_INT(dd_manifest_add_regen(&m, RG_LEN, tag, "x", 1), DD_OK);
	/* eight readers at once, all inside the segment: one rebuild */
	for (int i = 0; i < 8; i++) {
		r[i] = (struct rg_reader){&m, fd, 1 + (uint64_t)i * 65536,
					  DD_OK, false};
		EXPECT(pthread_create(&th[i], NULL, rg_read, &r[i]) == 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ_INT(r[i].e, DD_OK);
		EXPECT(r[i].ok);
	}
	EXPECT_EQ_INT(atomic_load(&rg_calls), 1);
	/* later reads, from this thread too, are served from it */
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, buf, sizeof(buf), RG_LEN - 8,
				       &got), DD_OK);
	EXPECT_EQ_INT(got, 9);
	EXPECT(buf[0] == 'x' && buf[8] == 'x');
	EXPECT_EQ_INT(atomic_load(&rg_calls), 1);
	/* not read for two idle periods: freed; the next read rebuilds */
	EXPECT_EQ_INT(dd_manifest_regen_trim(2), 0);
	EXPECT_EQ_INT(dd_manifest_regen_trim(2), RG_LEN);
	EXPECT_EQ_INT(dd_manifest_regen_trim(0), 0);
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, buf, 1, 1, &got), DD_OK);
	EXPECT_EQ_INT(atomic_load(&rg_calls), 2);
	EXPECT_EQ_INT(dd_manifest_regen_trim(1), RG_LEN);
	dd_manifest_free(&m);

	/* a failed rebuild is an error, and not kept */
	dd_manifest_init(&m);
	EXPECT_EQ_INT(dd_manifest_add_regen(&m, RG_LEN, tag, "b", 1), DD_OK);
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, buf, 1, 0, &got), DD_E_CHANGED);
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, buf, 1, 0, &got), DD_E_CHANGED);
	EXPECT_EQ_INT(atomic_load(&rg_calls), 4);
	dd_manifest_free(&m);
	/* a rebuild of the wrong length is refused */
	dd_manifest_init(&m);
	EXPECT_EQ_INT(dd_manifest_add_regen(&m, RG_LEN, tag, "s", 1), DD_OK);
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, buf, 1, 0, &got), DD_E_CHANGED);
	dd_manifest_free(&m);
	/* no regenerator under the tag: never bytes */
	dd_manifest_init(&m);
	EXPECT_EQ_INT(dd_manifest_add_regen(&m, 10, other, "x", 1), DD_OK);
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, buf, 1, 0, &got),
		      DD_E_UNSUPPORTED);
	dd_manifest_free(&m);
	dd_manifest_regen_unregister(tag, NULL);
}

int main(void)
{
	uint8_t src[1000], expect[2000], got[2000];
	struct dd_manifest m, m2;
	struct dd_buf enc;
	size_t n = 0, k;
	int fd;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	fd = make_source(src, sizeof(src));
	EXPECT(fd >= 0);
	dd_manifest_init(&m);
	/* HEAD literal + source[100..600) + zeros + source[600..700) + TAIL */
	EXPECT_EQ_INT(dd_manifest_add_literal(&m, "HEAD", 4), DD_OK);
	EXPECT_EQ_INT(dd_manifest_add_source(&m, 100, 500), DD_OK);
	EXPECT_EQ_INT(dd_manifest_add_source(&m, 600, 100), DD_OK); /* merges */
	EXPECT_EQ_INT(dd_manifest_add_zero(&m, 3), DD_OK);
	EXPECT_EQ_INT(dd_manifest_add_literal(&m, "TA", 2), DD_OK);
	EXPECT_EQ_INT(dd_manifest_add_literal(&m, "IL", 2), DD_OK); /* merges */
	EXPECT_EQ_INT(m.n_segs, 4);
	memcpy(expect, "HEAD", 4);
	n = 4;
	memcpy(expect + n, src + 100, 600);
	n += 600;
	memset(expect + n, 0, 3);
	n += 3;
	memcpy(expect + n, "TAIL", 4);
	n += 4;
	EXPECT_EQ_INT(m.size, n);
	/* every (offset, length) window reads the expected bytes */
	for (size_t off = 0; off <= n; off += 13)
		for (size_t len = 1; len < 700; len += 97) {
			EXPECT_EQ_INT(dd_manifest_read(&m, fd, got, len, off, &k),
				      DD_OK);
			EXPECT_EQ_INT(k, off + len > n ? n - off : len);
			EXPECT(memcmp(got, expect + off, k) == 0);
		}
	/* encode / decode round trip */
	dd_buf_init(&enc, 1 << 20);
	EXPECT_EQ_INT(dd_manifest_encode(&m, &enc), DD_OK);
	dd_manifest_init(&m2);
	EXPECT_EQ_INT(dd_manifest_decode(enc.data, enc.len, &m2), DD_OK);
	EXPECT_EQ_INT(m2.size, m.size);
	EXPECT_EQ_INT(m2.n_segs, m.n_segs);
	EXPECT_EQ_INT(dd_manifest_read(&m2, fd, got, n, 0, &k), DD_OK);
	EXPECT(k == n && memcmp(got, expect, n) == 0);
	/* every truncation and every single-byte corruption of the header
	 * area is rejected or decodes to something self-consistent */
	for (size_t cut = 0; cut < enc.len; cut++)
		EXPECT_EQ_INT(dd_manifest_decode(enc.data, cut, &m2), DD_E_CORRUPT);
	for (size_t i = 0; i < 32 + 24 * m.n_segs; i++) {
		uint8_t save = enc.data[i];

		enc.data[i] ^= 0x5a;
		if (dd_manifest_decode(enc.data, enc.len, &m2) == DD_OK) {
			uint64_t sum = 0;

			for (uint32_t s = 0; s < m2.n_segs; s++)
				sum += m2.segs[s].len;
			EXPECT_EQ_INT(sum, m2.size);
		}
		enc.data[i] = save;
	}
	/* hidden manifests serve nothing */
	dd_manifest_hide(&m2, DD_KIND_DICOM, DD_REASON_DICOM_PARSE);
	EXPECT_EQ_INT(dd_manifest_read(&m2, fd, got, 10, 0, &k), DD_E_NOT_CLAIMED);
	EXPECT_EQ_INT(k, 0);
	EXPECT(dd_reason_is_error(DD_REASON_DICOM_PARSE));
	EXPECT(!dd_reason_is_error(DD_REASON_OTHER_FILE));
	EXPECT_EQ_STR(dd_reason_name(DD_REASON_DICOMDIR), "dicomdir");
	/* a source that shrank gives DD_E_IO, never short garbage */
	EXPECT_EQ_INT(ftruncate(fd, 200), 0);
	EXPECT_EQ_INT(dd_manifest_read(&m, fd, got, n, 0, &k), DD_E_IO);
	dd_buf_free(&enc);
	dd_manifest_free(&m);
	dd_manifest_free(&m2);
	test_regen_shared(fd);
	close(fd);
	return dd_test_done("test_manifest");
}
