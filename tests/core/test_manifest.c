/* test_manifest.c: segments, reads at every offset, byte form. */
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
	close(fd);
	return dd_test_done("test_manifest");
}
