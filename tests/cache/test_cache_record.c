/* test_cache_record.c: the record format and CRC32C (pure functions). */
#include <stdint.h>
#include <string.h>

#include "dd_cache_i.h"
#include "dd_test.h"

static void test_crc(void)
{
	static const char v[] = "123456789";
	uint8_t buf[1000];

	/* The standard check value of CRC-32C. */
	EXPECT_EQ_INT(dd_cache_crc32c(0, v, 9), 0xE3069283u);
	EXPECT_EQ_INT(dd_cache_crc32c_sw(0, v, 9), 0xE3069283u);
	EXPECT_EQ_INT(dd_cache_crc32c(0, "", 0), 0);
	/* Hardware and software agree at every length and alignment, and
	 * a CRC can be continued. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n + off <= 200; n += 13)
			EXPECT_EQ_INT(dd_cache_crc32c(0, buf + off, n),
				      dd_cache_crc32c_sw(0, buf + off, n));
	EXPECT_EQ_INT(dd_cache_crc32c(dd_cache_crc32c(0, buf, 100), buf + 100,
				      900),
		      dd_cache_crc32c(0, buf, 1000));
}

static void test_roundtrip(void)
{
	uint8_t key[DD_CACHE_KEY_LEN], other[DD_CACHE_KEY_LEN];
	uint8_t rec_buf[DD_CACHE_RECORD_HDR + 64];
	struct dd_cache_record rec;
	const char payload[] = "manifest bytes";
	size_t plen = sizeof(payload) - 1, rlen = DD_CACHE_RECORD_HDR + plen;
	size_t off = 0;

	for (int i = 0; i < DD_CACHE_KEY_LEN; i++) {
		key[i] = (uint8_t)i;
		other[i] = (uint8_t)i;
	}
	other[31] ^= 1; /* same 8-byte echo, different key */

	dd_cache_record_encode(key, payload, (uint32_t)plen, rec_buf);
	EXPECT(!memcmp(rec_buf, "DDcr", 4));
	EXPECT_EQ_INT(dd_cache_record_decode(key, rec_buf, rlen, &rec, &off),
		      DD_OK);
	EXPECT_EQ_INT(rec.version, DD_CACHE_RECORD_VERSION);
	EXPECT_EQ_INT(rec.paylen, plen);
	EXPECT(rec.payload == rec_buf + DD_CACHE_RECORD_HDR);
	EXPECT(!memcmp(rec.payload, payload, plen));

	/* Under another key: the echo matches, the checksum does not. */
	EXPECT_EQ_INT(dd_cache_record_decode(other, rec_buf, rlen, &rec, &off),
		      DD_E_CORRUPT);
	EXPECT_EQ_INT(off, 12);
	other[0] ^= 1;
	EXPECT_EQ_INT(dd_cache_record_decode(other, rec_buf, rlen, &rec, &off),
		      DD_E_CORRUPT);
	EXPECT_EQ_INT(off, 16);

	/* Every single-bit flip anywhere is caught. */
	for (size_t i = 0; i < rlen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			rec_buf[i] ^= (uint8_t)(1 << bit);
			if (dd_cache_record_decode(key, rec_buf, rlen, &rec,
						   NULL) == DD_OK)
				EXPECT(!"a flipped bit was accepted");
			rec_buf[i] ^= (uint8_t)(1 << bit);
		}
	}
	EXPECT_EQ_INT(dd_cache_record_decode(key, rec_buf, rlen, &rec, NULL),
		      DD_OK);

	/* Lengths: short, long, truncated. */
	EXPECT_EQ_INT(dd_cache_record_decode(key, rec_buf, 10, &rec, &off),
		      DD_E_PARSE);
	EXPECT_EQ_INT(off, 10);
	EXPECT_EQ_INT(dd_cache_record_decode(key, rec_buf, rlen - 1, &rec,
					     &off), DD_E_PARSE);
	EXPECT_EQ_INT(off, 8);
	EXPECT_EQ_INT(dd_cache_record_decode(key, NULL, 0, &rec, &off),
		      DD_E_PARSE);

	/* Another version is refused, not misread. */
	rec_buf[4] = 2;
	EXPECT_EQ_INT(dd_cache_record_decode(key, rec_buf, rlen, &rec, &off),
		      DD_E_UNSUPPORTED);
	EXPECT_EQ_INT(off, 4);
	rec_buf[4] = 1;

	/* An empty payload is a valid record. */
	dd_cache_record_encode(key, NULL, 0, rec_buf);
	EXPECT_EQ_INT(dd_cache_record_decode(key, rec_buf, DD_CACHE_RECORD_HDR,
					     &rec, NULL), DD_OK);
	EXPECT_EQ_INT(rec.paylen, 0);
}

static void test_meta_names(void)
{
	uint8_t a[DD_CACHE_KEY_LEN], b[DD_CACHE_KEY_LEN];
	char longname[DD_CACHE_META_NAME_MAX + 2];

	EXPECT(dd_cache_meta_name_ok("index.patient"));
	EXPECT(dd_cache_meta_name_ok("dd.format"));
	EXPECT(!dd_cache_meta_name_ok(""));
	EXPECT(!dd_cache_meta_name_ok("Index"));
	EXPECT(!dd_cache_meta_name_ok("a/b"));
	EXPECT(!dd_cache_meta_name_ok(NULL));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	EXPECT(!dd_cache_meta_name_ok(longname));
	longname[DD_CACHE_META_NAME_MAX] = '\0';
	EXPECT(dd_cache_meta_name_ok(longname));
	dd_cache_meta_key("x", a);
	dd_cache_meta_key("y", b);
	EXPECT(memcmp(a, b, sizeof(a)) != 0);
}

static void test_fs_types(void)
{
	const char *name = NULL;

	EXPECT(dd_cache_fs_is_local(0xEF53, &name));      /* ext4 */
	EXPECT(dd_cache_fs_is_local(0x01021994, &name));  /* tmpfs */
	EXPECT(dd_cache_fs_is_local(0x58465342, &name));  /* xfs */
	EXPECT(!dd_cache_fs_is_local(0x6969, &name));
	EXPECT_EQ_STR(name, "NFS");
	EXPECT(!dd_cache_fs_is_local(0x65735546, &name));
	EXPECT_EQ_STR(name, "FUSE");
	EXPECT(!dd_cache_fs_is_local((long)0xFF534D42, &name));
	EXPECT_EQ_STR(name, "CIFS");
	EXPECT(!dd_cache_fs_is_local(0x517B, &name));
	EXPECT_EQ_STR(name, "SMB");
}

int main(void)
{
	test_crc();
	test_roundtrip();
	test_meta_names();
	test_fs_types();
	return dd_test_done("test_cache_record");
}
