/* dd_cache_record.c: the cache's record format and its checksum.
 *
 * Pure functions over bytes: the decoder is the cache's only parser of
 * outside bytes (the data file may be damaged or tampered with) and has
 * a fuzz target (tests/fuzz/fuzz_cache_record.c). */
#include <pthread.h>
#include <string.h>

#include <openssl/sha.h>

#include "dd_cache_i.h"

/* CRC32C, reflected polynomial 0x82F63B78.  Slicing-by-8 in software; the
 * SSE4.2 crc32 instruction when the CPU has it.  Both give the same value
 * (checked by tests/cache/test_cache_record.c). */
static uint32_t crc_table[8][256];
static int crc_hw; /* 1: SSE4.2 (set once by crc_init_table) */

static void crc_init_table(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
	crc_hw = 0;
#endif
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78U & (0U - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc; /* little endian hosts only (see below) */
		crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		      crc_table[5][(w >> 16) & 0xff] ^
		      crc_table[4][(w >> 24) & 0xff] ^
		      crc_table[3][(w >> 32) & 0xff] ^
		      crc_table[2][(w >> 40) & 0xff] ^
		      crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dd_cache_record.c assumes a little-endian host"
#endif

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw_x86(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;
	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

uint32_t dd_cache_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init_table);
	return ~crc_sw(~crc, p, n);
}

uint32_t dd_cache_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_init_table);
#if defined(__x86_64__)
	if (crc_hw)
		return ~crc_hw_x86(~crc, p, n);
#endif
	return ~crc_sw(~crc, p, n);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The checksum of a record whose header is @hdr (crc field ignored). */
static uint32_t record_crc(const uint8_t *key, const uint8_t *hdr,
			   const uint8_t *payload, size_t paylen)
{
	static const uint8_t zero[4];
	uint32_t crc;

	crc = dd_cache_crc32c(0, key, DD_CACHE_KEY_LEN);
	crc = dd_cache_crc32c(crc, hdr, 12);
	crc = dd_cache_crc32c(crc, zero, 4);
	crc = dd_cache_crc32c(crc, hdr + 16, DD_CACHE_RECORD_HDR - 16);
	return dd_cache_crc32c(crc, payload, paylen);
}

void dd_cache_record_encode(const uint8_t key[DD_CACHE_KEY_LEN],
			    const void *payload, uint32_t paylen,
			    uint8_t *out)
{
	memcpy(out, DD_CACHE_RECORD_MAGIC, 4);
	put_le16(out + 4, DD_CACHE_RECORD_VERSION);
	put_le16(out + 6, DD_CACHE_RECORD_HDR);
	put_le32(out + 8, paylen);
	put_le32(out + 12, 0);
	memcpy(out + 16, key, 8);
	if (paylen)
		memcpy(out + DD_CACHE_RECORD_HDR, payload, paylen);
	put_le32(out + 12, record_crc(key, out, out + DD_CACHE_RECORD_HDR,
				      paylen));
}

static dd_err fail_at(size_t *err_off, size_t off, dd_err err)
{
	if (err_off)
		*err_off = off;
	return err;
}

dd_err dd_cache_record_decode(const uint8_t key[DD_CACHE_KEY_LEN],
			      const uint8_t *raw, size_t rawlen,
			      struct dd_cache_record *rec, size_t *err_off)
{
	if (!key || !rec || (!raw && rawlen))
		return DD_E_INVAL;
	memset(rec, 0, sizeof(*rec));
	if (rawlen < DD_CACHE_RECORD_HDR)
		return fail_at(err_off, rawlen, DD_E_PARSE);
	if (memcmp(raw, DD_CACHE_RECORD_MAGIC, 4) != 0)
		return fail_at(err_off, 0, DD_E_PARSE);
	rec->version = get_le16(raw + 4);
	rec->hdrlen = get_le16(raw + 6);
	rec->paylen = get_le32(raw + 8);
	rec->crc = get_le32(raw + 12);
	memcpy(rec->echo, raw + 16, 8);
	if (rec->version != DD_CACHE_RECORD_VERSION)
		return fail_at(err_off, 4, DD_E_UNSUPPORTED);
	if (rec->hdrlen != DD_CACHE_RECORD_HDR)
		return fail_at(err_off, 6, DD_E_UNSUPPORTED);
	if ((uint64_t)rec->paylen != rawlen - DD_CACHE_RECORD_HDR)
		return fail_at(err_off, 8, DD_E_PARSE);
	if (memcmp(rec->echo, key, 8) != 0)
		return fail_at(err_off, 16, DD_E_CORRUPT);
	if (record_crc(key, raw, raw + DD_CACHE_RECORD_HDR, rec->paylen) !=
	    rec->crc)
		return fail_at(err_off, 12, DD_E_CORRUPT);
	rec->payload = raw + DD_CACHE_RECORD_HDR;
	return DD_OK;
}

void dd_cache_meta_key(const char *name, uint8_t key[DD_CACHE_KEY_LEN])
{
	static const char domain[] = "dd-cache-meta:";
	unsigned char buf[sizeof(domain) + DD_CACHE_META_NAME_MAX];
	size_t n = strnlen(name, DD_CACHE_META_NAME_MAX); /* names are checked */

	memcpy(buf, domain, sizeof(domain) - 1);
	memcpy(buf + sizeof(domain) - 1, name, n);
	SHA256(buf, sizeof(domain) - 1 + n, key);
}

bool dd_cache_meta_name_ok(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > DD_CACHE_META_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}
