/* gen_util.c: PRNG, UIDs, files and JSON strings for deid-gen. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen.h"

uint64_t gen_seed;

static uint64_t gen_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void gen_rng_seed(struct gen_rng *r, uint64_t base, const char *label,
		  uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a of the label */

	for (const char *p = label; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	r->s = gen_mix(h ^ gen_mix(base + 0x9e3779b97f4a7c15ULL) ^
		       gen_mix(n * 0xd1342543de82ef95ULL + 1));
}

uint64_t gen_rng_next(struct gen_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return gen_mix(r->s);
}

uint32_t gen_rng_below(struct gen_rng *r, uint32_t n)
{
	return n ? (uint32_t)(gen_rng_next(r) % n) : 0;
}

void gen_uid(char out[65], const char *label, uint64_t n)
{
	struct gen_rng r;
	unsigned __int128 v;
	char digits[48];
	int i = 0;

	gen_rng_seed(&r, gen_seed, label, n);
	v = ((unsigned __int128)gen_rng_next(&r) << 64) | gen_rng_next(&r);
	v >>= 1; /* 127 bits: never a leading zero problem, < 2^128 */
	do {
		digits[i++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v && i < (int)sizeof(digits));
	memcpy(out, "2.25.", 5);
	for (int j = 0; j < i; j++)
		out[5 + j] = digits[i - 1 - j];
	out[5 + i] = '\0';
}

int gen_mkdirs(const char *path)
{
	char *p = strdup(path);

	if (!p) {
		fprintf(stderr, "deid-gen: out of memory\n");
		return -1;
	}
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			goto out_err;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		goto out_err;
	free(p);
	return 0;
out_err:
	fprintf(stderr, "deid-gen: mkdir %s: %s\n", p, strerror(errno));
	free(p);
	return -1;
}

int gen_path(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "deid-gen: path too long\n");
		return -1;
	}
	return 0;
}

int gen_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *c = p;

	if (fd < 0)
		goto out_err;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out_close;
		}
		c += w;
		n -= (size_t)w;
	}
	if (close(fd) < 0)
		goto out_err;
	return 0;
out_close:
	close(fd);
out_err:
	fprintf(stderr, "deid-gen: %s: %s\n", path, strerror(errno));
	return -1;
}

int gen_truncate(const char *path, uint64_t size)
{
	if (truncate(path, (off_t)size) < 0) {
		fprintf(stderr, "deid-gen: truncate %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

FILE *gen_fopen(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		fprintf(stderr, "deid-gen: %s: %s\n", path, strerror(errno));
	return f;
}

int gen_fclose(FILE *f, const char *path)
{
	int bad = ferror(f);

	if (fclose(f) != 0 || bad) {
		fprintf(stderr, "deid-gen: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

void gen_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

int gen_bridge_fail(dd_err e, const char *what)
{
	fprintf(stderr, "deid-gen: %s: %s\n", what, dd_strerror(e));
	return -1;
}
