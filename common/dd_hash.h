/* dd_hash.h: a fast hash of a short byte string for choosing a slot of a
 * per-thread memo (any spread will do: the slot's key is then compared
 * whole, so the hash never decides an answer).  8 bytes a step (a
 * multiply and a shift): FNV-1a's byte at a time was most of a memo hit.
 * Not for tables whose layout is stored or shared between processes. */
#ifndef DD_HASH_H
#define DD_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t dd_hash_slot(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t x;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&x, s, 8);
		h = (h ^ x) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	x = (uint64_t)n << 56;
	memcpy(&x, s, n);
	h = (h ^ x) * 0x9E3779B97F4A7C15ull;
	return h ^ (h >> 29);
}

#endif /* DD_HASH_H */
