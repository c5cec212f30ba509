/* dd_prepass.c: the text pre-pass (see dd_prepass.h for the algorithm).
 *
 * Stage 1 is the hot loop: for 8- and 16-bit monochrome it reads the frame
 * in place; other layouts go through one converted row.  Stage 2 works on
 * small windows only, so it is written for clarity.
 */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dd_prepass.h"

#define CELL_W 16
#define CELL_H 8
#define BORDER_PCT 22
#define MAX_WIN_PIXELS (4u << 20)

void dd_prepass_result_init(struct dd_prepass_result *r)
{
	memset(r, 0, sizeof(*r));
}

void dd_prepass_result_free(struct dd_prepass_result *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* ---- sample access ---------------------------------------------------------- */

static inline uint32_t pp_mono16(const struct dd_image_geom *g, uint16_t raw)
{
	unsigned bs = g->bits_stored ? g->bits_stored : g->bits_alloc;
	unsigned lo = g->high_bit + 1u >= bs ? g->high_bit + 1u - bs : 0;
	uint32_t v = ((uint32_t)raw >> lo) & ((1u << bs) - 1u);

	if (g->is_signed && (v & (1u << (bs - 1))))
		return v - (1u << (bs - 1)); /* negative: below the midpoint */
	if (g->is_signed)
		return v + (1u << (bs - 1));
	return v;
}

static inline uint32_t pp_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A 32-bit sample (BitsAllocated 32) as 16 bits: the stored bits, signed
 * values shifted to unsigned order, then the top 16 of them (OCR windows
 * the result to 8 bits anyway). */
static inline uint16_t pp_top16(const struct dd_image_geom *g, uint32_t raw)
{
	unsigned bs = g->bits_stored ? g->bits_stored : g->bits_alloc;
	unsigned lo = g->high_bit + 1u >= bs ? g->high_bit + 1u - bs : 0;
	uint32_t mask = bs >= 32 ? 0xffffffffu : (1u << bs) - 1u;
	uint32_t v = (raw >> lo) & mask;

	if (g->is_signed)
		v = (v ^ (1u << (bs - 1))) & mask; /* two's complement -> offset */
	return (uint16_t)(bs > 16 ? v >> (bs - 16) : v << (16 - bs));
}

void dd_prepass_row_luma(const struct dd_image_geom *g, const uint8_t *frame,
			 uint32_t y, uint32_t x0, uint32_t n, uint16_t *dst)
{
	size_t plane = (size_t)g->rows * g->cols;
	uint32_t i;

	if (g->spp == 1 && g->bits_alloc == 8) {
		const uint8_t *p = frame + (size_t)y * g->cols + x0;
		if (!g->is_signed) {
			for (i = 0; i < n; i++)
				dst[i] = p[i];
		} else {
			for (i = 0; i < n; i++)
				dst[i] = (uint8_t)(p[i] ^ 0x80);
		}
		return;
	}
	if (g->bits_alloc == 32) {
		for (i = 0; i < n; i++) {
			size_t px = (size_t)y * g->cols + x0 + i;
			if (g->spp == 1) {
				dst[i] = pp_top16(g, pp_u32(frame + px * 4));
			} else {
				uint32_t s[3];
				int k;
				for (k = 0; k < 3; k++) {
					size_t idx = g->planar ? plane * k + px
							       : px * 3 + k;
					/* the top 8 of the stored bits */
					s[k] = pp_top16(g, pp_u32(frame + idx * 4)) >> 8;
				}
				dst[i] = (uint16_t)((77 * s[0] + 150 * s[1] +
						     29 * s[2]) >> 8);
			}
		}
		return;
	}
	if (g->spp == 1) {
		const uint8_t *p = frame + ((size_t)y * g->cols + x0) * 2;
		unsigned bs = g->bits_stored ? g->bits_stored : g->bits_alloc;
		unsigned lo = g->high_bit + 1u >= bs ? g->high_bit + 1u - bs : 0;
		if (bs >= 1 && bs <= 16) {
			/* pp_mono16() without branches: a signed value's
			 * offset form is its stored bits with the sign bit
			 * flipped */
			uint32_t mask = (1u << bs) - 1u;
			uint32_t xr = g->is_signed ? 1u << (bs - 1) : 0;
			for (i = 0; i < n; i++) {
				uint32_t raw = (uint32_t)p[2 * i] |
					       (uint32_t)p[2 * i + 1] << 8;
				dst[i] = (uint16_t)(((raw >> lo) & mask) ^ xr);
			}
			return;
		}
		for (i = 0; i < n; i++)
			dst[i] = (uint16_t)pp_mono16(
				g, (uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		return;
	}
	if (g->photo == DD_PHOTO_YBR_FULL_422) {
		const uint8_t *p = frame + (size_t)y * g->cols * 2;
		for (i = 0; i < n; i++) {
			uint32_t x = x0 + i;
			dst[i] = p[(x & ~1u) * 2 + (x & 1u)];
		}
		return;
	}
	/* 3 samples, 8 bits (16-bit colour reads the high byte) */
	if (g->bits_alloc == 8 || g->bits_alloc == 16) {
		/* the loop below without its per-sample branches */
		unsigned bpp = g->bits_alloc / 8, hi = bpp - 1;
		size_t px0 = (size_t)y * g->cols + x0;
		const uint8_t *r, *gr, *b;
		size_t step;
		if (g->planar) {
			r = frame + px0 * bpp + hi;
			gr = r + plane * bpp;
			b = gr + plane * bpp;
			step = bpp;
		} else {
			r = frame + px0 * 3 * bpp + hi;
			gr = r + bpp;
			b = gr + bpp;
			step = 3 * bpp;
		}
		if (g->photo == DD_PHOTO_YBR_FULL) {
			for (i = 0; i < n; i++)
				dst[i] = r[i * step];
		} else {
			for (i = 0; i < n; i++)
				dst[i] = (uint16_t)((77u * r[i * step] +
						     150u * gr[i * step] +
						     29u * b[i * step]) >> 8);
		}
		return;
	}
	for (i = 0; i < n; i++) {
		size_t px = (size_t)y * g->cols + x0 + i;
		uint32_t s[3];
		int k;
		for (k = 0; k < 3; k++) {
			size_t idx = g->planar ? plane * k + px : px * 3 + k;
			s[k] = g->bits_alloc == 8 ? frame[idx]
						  : frame[idx * 2 + 1];
		}
		if (g->photo == DD_PHOTO_YBR_FULL)
			dst[i] = (uint16_t)s[0];
		else
			dst[i] = (uint16_t)((77 * s[0] + 150 * s[1] +
					     29 * s[2]) >> 8);
	}
}

static bool pp_geom_ok(const struct dd_image_geom *g)
{
	if (g->rows == 0 || g->cols == 0)
		return false;
	if (g->bits_alloc != 8 && g->bits_alloc != 16 && g->bits_alloc != 32)
		return false;
	if (g->bits_alloc == 32 && (g->spp != 1 && g->photo != DD_PHOTO_RGB))
		return false;
	if (g->bits_alloc == 32 &&
	    (!g->bits_stored || g->high_bit + 1u < g->bits_stored))
		return false;
	if (g->spp == 1)
		return g->bits_stored <= g->bits_alloc && g->high_bit < g->bits_alloc;
	if (g->spp == 3)
		return g->photo != DD_PHOTO_YBR_FULL_422 ||
		       (g->bits_alloc == 8 && g->cols % 2 == 0);
	return false;
}

/* ---- helpers -------------------------------------------------------------- */

static inline unsigned pp_popcount64(uint64_t v)
{
	/* SWAR: no call to libgcc's __popcountdi2 without -mpopcnt */
	v = v - ((v >> 1) & 0x5555555555555555ull);
	v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((v * 0x0101010101010101ull) >> 56);
}

#if defined(__SSE2__)
/* The number of set bytes (0xff or 0x01 in each lane: pass ones) of @m. */
static inline unsigned pp_count_bytes(__m128i ones)
{
	__m128i s = _mm_sad_epu8(ones, _mm_setzero_si128());
	return (unsigned)(_mm_cvtsi128_si32(s) + _mm_extract_epi16(s, 4));
}
#endif

/* Smallest and largest of @n values. */
static void pp_minmax_u16(const uint16_t *p, size_t n, uint16_t *mn,
			  uint16_t *mx)
{
	uint16_t a = 65535, b = 0;
	size_t i = 0;

#if defined(__SSE2__)
	if (n >= 8) {
		__m128i va = _mm_set1_epi16(-1), vb = _mm_setzero_si128();
		uint16_t t[8];
		int k;
		for (; i + 8 <= n; i += 8) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			va = _mm_sub_epi16(va, _mm_subs_epu16(va, v)); /* min */
			vb = _mm_add_epi16(vb, _mm_subs_epu16(v, vb)); /* max */
		}
		_mm_storeu_si128((__m128i *)(void *)t, va);
		for (k = 0; k < 8; k++)
			a = t[k] < a ? t[k] : a;
		_mm_storeu_si128((__m128i *)(void *)t, vb);
		for (k = 0; k < 8; k++)
			b = t[k] > b ? t[k] : b;
	}
#endif
	for (; i < n; i++) {
		a = p[i] < a ? p[i] : a;
		b = p[i] > b ? p[i] : b;
	}
	*mn = a;
	*mx = b;
}

/* Bits of one row: bit x of @bits (LSB first) = p[x] >= thr; bits past
 * @n are zero.  Returns the number of set bits. */
static unsigned pp_ge_bits(const uint16_t *p, uint32_t n, uint32_t thr,
			   uint64_t *bits)
{
	uint32_t x = 0, nw = (n + 63) / 64, w;
	unsigned cnt = 0;

	memset(bits, 0, nw * sizeof(*bits));
#if defined(__SSE2__)
	const __m128i vt = _mm_set1_epi16((short)thr);
	const __m128i z = _mm_setzero_si128();
	for (; x + 16 <= n; x += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + x));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + x + 8));
		/* p >= thr <=> thr -sat p == 0 */
		a = _mm_cmpeq_epi16(_mm_subs_epu16(vt, a), z);
		b = _mm_cmpeq_epi16(_mm_subs_epu16(vt, b), z);
		uint64_t m = (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(a, b));
		bits[x >> 6] |= m << (x & 63);
	}
#endif
	for (; x < n; x++)
		bits[x >> 6] |= (uint64_t)(p[x] >= thr) << (x & 63);
	for (w = 0; w < nw; w++)
		cnt += pp_popcount64(bits[w]);
	return cnt;
}

/* The first x in [x, n) whose bit is @val (n if none); bits past n are
 * zero. */
static inline uint32_t pp_next_bit(const uint64_t *bits, uint32_t x,
				   uint32_t n, bool val)
{
	uint32_t nw = (n + 63) / 64, w = x >> 6;
	uint64_t flip = val ? 0 : ~0ull, m;

	if (x >= n)
		return n;
	m = (bits[w] ^ flip) & (~0ull << (x & 63));
	while (!m) {
		if (++w >= nw)
			return n;
		m = bits[w] ^ flip;
	}
	x = w * 64 + (uint32_t)__builtin_ctzll(m);
	return x < n ? x : n;
}

/* ---- stage 1 ---------------------------------------------------------------- */

/* Edges per cell column on one row: cell cx counts the transitions
 * p[x] -> p[x+1] for x in [cx*CELL_W, min(cx*CELL_W + CELL_W, n - 1)).
 * 16-bit samples are read as ((raw & mask) ^ xr): the raw word, or the
 * stored bits of a signed value in offset (unsigned) order.  Whole cells
 * go through SSE2 where there is SSE2 (the same counts). */
static uint32_t pp_cell_edges_u16(const uint16_t *p, uint32_t x0, uint32_t x1,
				  uint32_t t, uint16_t mask, uint16_t xr)
{
	uint32_t c = 0, x;

	for (x = x0; x < x1; x++) {
		int a = (p[x] & mask) ^ xr, b = (p[x + 1] & mask) ^ xr;
		int d = b - a;
		c += (uint32_t)(d >= (int)t || -d >= (int)t);
	}
	return c;
}

static void pp_row_edges_u16(const uint16_t *p, uint32_t n, uint32_t t,
			     uint16_t mask, uint16_t xr, uint8_t *cnt,
			     uint32_t ncx)
{
	uint32_t cx = 0;

#if defined(__SSE2__)
	const __m128i vm = _mm_set1_epi16((short)mask);
	const __m128i vx = _mm_set1_epi16((short)xr);
	const __m128i vt = _mm_set1_epi16((short)(t - 1)); /* t >= 2 */
	const __m128i z = _mm_setzero_si128();
	for (; cx < ncx && cx * CELL_W + CELL_W + 1 <= n; cx++) {
		const uint16_t *q = p + cx * CELL_W;
		__m128i a0 = _mm_loadu_si128((const __m128i *)(const void *)q);
		__m128i a1 = _mm_loadu_si128((const __m128i *)(const void *)(q + 8));
		__m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)(q + 1));
		__m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(q + 9));
		a0 = _mm_xor_si128(_mm_and_si128(a0, vm), vx);
		a1 = _mm_xor_si128(_mm_and_si128(a1, vm), vx);
		b0 = _mm_xor_si128(_mm_and_si128(b0, vm), vx);
		b1 = _mm_xor_si128(_mm_and_si128(b1, vm), vx);
		__m128i d0 = _mm_or_si128(_mm_subs_epu16(a0, b0), _mm_subs_epu16(b0, a0));
		__m128i d1 = _mm_or_si128(_mm_subs_epu16(a1, b1), _mm_subs_epu16(b1, a1));
		/* |d| >= t <=> |d| -sat (t - 1) != 0 */
		d0 = _mm_cmpeq_epi16(_mm_subs_epu16(d0, vt), z);
		d1 = _mm_cmpeq_epi16(_mm_subs_epu16(d1, vt), z);
		__m128i quiet = _mm_and_si128(_mm_packs_epi16(d0, d1),
					      _mm_set1_epi8(1));
		cnt[cx] = (uint8_t)(CELL_W - pp_count_bytes(quiet));
	}
#endif
	for (; cx < ncx; cx++) {
		uint32_t x0 = cx * CELL_W, x1 = x0 + CELL_W;
		if (x1 > n - 1)
			x1 = n - 1;
		cnt[cx] = (uint8_t)pp_cell_edges_u16(p, x0, x1, t, mask, xr);
	}
}

static void pp_row_edges_u8(const uint8_t *p, uint32_t n, uint32_t t,
			    uint8_t *cnt, uint32_t ncx)
{
	uint32_t cx = 0;

#if defined(__SSE2__)
	/* t <= 255 / 6 for 8-bit samples */
	const __m128i vt = _mm_set1_epi8((char)(t - 1));
	const __m128i z = _mm_setzero_si128();
	for (; cx < ncx && cx * CELL_W + CELL_W + 1 <= n; cx++) {
		const uint8_t *q = p + cx * CELL_W;
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)q);
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(q + 1));
		__m128i d = _mm_or_si128(_mm_subs_epu8(a, b), _mm_subs_epu8(b, a));
		d = _mm_cmpeq_epi8(_mm_subs_epu8(d, vt), z);
		__m128i quiet = _mm_and_si128(d, _mm_set1_epi8(1));
		cnt[cx] = (uint8_t)(CELL_W - pp_count_bytes(quiet));
	}
#endif
	for (; cx < ncx; cx++) {
		uint32_t x0 = cx * CELL_W, x1 = x0 + CELL_W, c = 0, x;
		if (x1 > n - 1)
			x1 = n - 1;
		for (x = x0; x < x1; x++) {
			int d = (int)p[x + 1] - (int)p[x];
			c += (uint32_t)(d >= (int)t || -d >= (int)t);
		}
		cnt[cx] = (uint8_t)c;
	}
}

struct pp_scan {
	const struct dd_image_geom *g;
	const uint8_t *frame;
	uint32_t ncx, ncy;
	uint8_t *texty;       /* ncx * ncy: 1 = texty */
	uint16_t *row;        /* converted row scratch */
	uint8_t *cnt;         /* edges per cell column on one row */
	uint8_t *rows2;       /* per cell column: sampled rows with >= 2 edges */
	bool fast8, fast16;   /* read the frame in place */
	uint16_t mask16, xr16; /* fast16: sample = (raw & mask16) ^ xr16 */
};

/* Fetch the sampled rows' range over the frame's sampled rows. */
static void pp_range(struct pp_scan *s, uint32_t *lo, uint32_t *hi)
{
	const struct dd_image_geom *g = s->g;
	uint32_t mn = UINT32_MAX, mx = 0, y, x;

	for (y = 0; y < g->rows; y += 4) {
		if (s->fast8) {
			const uint8_t *p = s->frame + (size_t)y * g->cols;
			uint8_t a = 255, b = 0;
			for (x = 0; x < g->cols; x++) {
				a = p[x] < a ? p[x] : a;
				b = p[x] > b ? p[x] : b;
			}
			mn = a < mn ? a : mn;
			mx = b > mx ? b : mx;
			continue;
		}
		const uint16_t *q;
		if (s->fast16) {
			q = (const uint16_t *)(const void *)(s->frame +
						(size_t)y * g->cols * 2);
		} else {
			dd_prepass_row_luma(g, s->frame, y, 0, g->cols, s->row);
			q = s->row;
		}
		uint16_t a = 65535, b = 0;
		uint16_t m = s->fast16 ? s->mask16 : 0xffff;
		uint16_t xr = s->fast16 ? s->xr16 : 0;
		for (x = 0; x < g->cols; x++) {
			uint16_t v = (uint16_t)((q[x] & m) ^ xr);
			a = v < a ? v : a;
			b = v > b ? v : b;
		}
		mn = a < mn ? a : mn;
		mx = b > mx ? b : mx;
	}
	*lo = mn;
	*hi = mx;
}

static void pp_stage1(struct pp_scan *s, const struct dd_prepass_opts *o,
		      uint32_t t, uint32_t *n_texty)
{
	const struct dd_image_geom *g = s->g;
	uint32_t band_y = (uint32_t)((uint64_t)g->rows * BORDER_PCT / 100);
	uint32_t band_x = (uint32_t)((uint64_t)g->cols * BORDER_PCT / 100);
	uint32_t cy, k, y;

	*n_texty = 0;
	for (cy = 0; cy < s->ncy; cy++) {
		uint32_t y0 = cy * CELL_H, y1 = y0 + CELL_H;
		bool border_row = o->anywhere || y1 <= band_y ||
				  y0 + band_y >= g->rows;
		uint32_t cx_lo = 0, cx_hi = s->ncx;

		if (!border_row) {
			/* only the left and right bands */
			cx_lo = band_x / CELL_W + 1;
			cx_hi = (g->cols - band_x) / CELL_W;
			if (cx_lo > cx_hi)
				cx_lo = cx_hi;
		}
		if (y1 > g->rows)
			y1 = g->rows;
		memset(s->rows2, 0, s->ncx);
		for (y = y0; y < y1; y += 2) {
			uint32_t parts = border_row || cx_lo == cx_hi ? 1 : 2;
			uint32_t pi;
			for (pi = 0; pi < parts; pi++) {
				/* the whole row, or its left then right band */
				uint32_t a = border_row ? 0 : (pi ? cx_hi : 0);
				uint32_t b = border_row ? s->ncx
							: (pi ? s->ncx : cx_lo);
				uint32_t x0 = a * CELL_W, x1 = b * CELL_W + 1;
				if (a >= b)
					continue;
				if (x1 > g->cols)
					x1 = g->cols;
				if (x1 - x0 < 2)
					continue;
				if (s->fast8) {
					pp_row_edges_u8(s->frame + (size_t)y * g->cols + x0,
							x1 - x0, t, s->cnt + a, b - a);
				} else if (s->fast16) {
					pp_row_edges_u16((const uint16_t *)(const void *)(
								 s->frame + ((size_t)y * g->cols + x0) * 2),
							 x1 - x0, t, s->mask16, s->xr16,
							 s->cnt + a, b - a);
				} else {
					dd_prepass_row_luma(g, s->frame, y, x0,
							    x1 - x0, s->row);
					pp_row_edges_u16(s->row, x1 - x0, t, 0xffff,
							 0, s->cnt + a, b - a);
				}
				for (k = a; k < b; k++)
					s->rows2[k] += s->cnt[k] >= 2;
			}
		}
		for (k = 0; k < s->ncx; k++) {
			uint8_t on = s->rows2[k] >= 2;
			s->texty[(size_t)cy * s->ncx + k] = on;
			*n_texty += on;
		}
	}
}

/* ---- stage 2 ---------------------------------------------------------------- */

struct pp_comp {
	uint32_t x0, y0, x1, y1; /* inclusive */
	uint32_t area;
};

struct pp_line {
	uint32_t x0, y0, x1, y1;
	uint32_t n, hsum;
};

static uint32_t uf_find(uint32_t *par, uint32_t a)
{
	while (par[a] != a) {
		par[a] = par[par[a]];
		a = par[a];
	}
	return a;
}

static void uf_union(uint32_t *par, uint32_t a, uint32_t b)
{
	a = uf_find(par, a);
	b = uf_find(par, b);
	if (a < b)
		par[b] = a;
	else if (b < a)
		par[a] = b;
}

static int pp_comp_cmp(const void *a, const void *b)
{
	const struct pp_comp *p = a, *q = b;
	if (p->x0 != q->x0)
		return p->x0 < q->x0 ? -1 : 1;
	if (p->y0 != q->y0)
		return p->y0 < q->y0 ? -1 : 1;
	return 0;
}

static bool pp_comp_is_char(const struct pp_comp *c)
{
	uint32_t w = c->x1 - c->x0 + 1, h = c->y1 - c->y0 + 1;
	uint64_t box = (uint64_t)w * h;

	if (h < 5 || h > 96 || w > 4 * h + 4)
		return false;
	/* dots and thin strokes are parts of characters too */
	if (c->area * 100 < box * 8)
		return false;
	if (c->area * 100 > box * 95 && w > 3 && h > 6)
		return false; /* a filled block */
	return true;
}

/* Add a candidate line to @r as a padded region (merged later). */
static dd_err pp_add_region(struct dd_prepass_result *r,
			    const struct dd_image_geom *g,
			    const struct pp_line *l)
{
	uint32_t h = l->y1 - l->y0 + 1, pad = h / 2 + 2;
	struct dd_prepass_region reg;

	reg.box.x = l->x0 > pad ? l->x0 - pad : 0;
	reg.box.y = l->y0 > pad ? l->y0 - pad : 0;
	reg.box.w = (l->x1 + pad + 1 < g->cols ? l->x1 + pad + 1 : g->cols) -
		    reg.box.x;
	reg.box.h = (l->y1 + pad + 1 < g->rows ? l->y1 + pad + 1 : g->rows) -
		    reg.box.y;
	reg.text_h = (uint16_t)h;
	reg.n_lines = 1;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		void *v = realloc(r->v, nc * sizeof(*r->v));
		if (!v)
			return DD_E_NOMEM;
		r->v = v;
		r->cap = nc;
	}
	r->v[r->n++] = reg;
	return DD_OK;
}

struct pp_run {
	uint32_t x0, x1, y; /* x1 inclusive */
};

/* Components in window [wx, wx+ww) x [wy, wy+wh) -> lines -> regions.
 *
 * Labelling is on runs of foreground pixels (8-connected: a run joins the
 * runs of the row above that overlap it widened by one pixel), union-find
 * towards the smaller index, so a component's root is its first run in
 * raster order and components come out in the order of their first pixel
 * (as a pixel labelling would number them). */
static dd_err pp_window(struct pp_scan *s, uint32_t wx, uint32_t wy,
			uint32_t ww, uint32_t wh, struct dd_prepass_result *r)
{
	const struct dd_image_geom *g = s->g;
	size_t np = (size_t)ww * wh, i;
	uint16_t *lum = NULL;
	uint32_t *par = NULL, *root_idx = NULL;
	struct pp_run *runs = NULL;
	size_t n_runs = 0, cap_runs;
	struct pp_comp *comps = NULL;
	struct pp_line *lines = NULL;
	uint64_t *bits = NULL;
	uint32_t mn = 65535, mx = 0, thr, n_fg = 0, nl = 0, nc = 0, y, x, wpr;
	bool fg_bright;
	dd_err err = DD_E_NOMEM;

	lum = malloc(np * sizeof(*lum));
	cap_runs = (size_t)wh * 4 + 64;
	runs = malloc(cap_runs * sizeof(*runs));
	if (!lum || !runs)
		goto out_free;
	for (y = 0; y < wh; y++)
		dd_prepass_row_luma(g, s->frame, wy + y, wx, ww,
				    lum + (size_t)y * ww);
	{
		uint16_t a, b;
		pp_minmax_u16(lum, np, &a, &b);
		mn = a;
		mx = b;
	}
	thr = (mn + mx + 1) / 2;
	/* bit per pixel: lum >= thr, then foreground = the minority side */
	wpr = (ww + 63) / 64;
	bits = malloc((size_t)wpr * wh * sizeof(*bits));
	if (!bits)
		goto out_free;
	for (y = 0; y < wh; y++)
		n_fg += pp_ge_bits(lum + (size_t)y * ww, ww, thr,
				   bits + (size_t)y * wpr);
	fg_bright = n_fg * 2 <= np;
	if (!fg_bright) {
		uint64_t tail = ww % 64 ? (1ull << (ww % 64)) - 1 : ~0ull;
		for (y = 0; y < wh; y++) {
			uint64_t *row = bits + (size_t)y * wpr;
			for (x = 0; x < wpr; x++)
				row[x] = ~row[x];
			row[wpr - 1] &= tail;
		}
	}

	/* runs of foreground, row by row */
	for (y = 0; y < wh; y++) {
		const uint64_t *row = bits + (size_t)y * wpr;
		x = 0;
		for (;;) {
			uint32_t x0 = pp_next_bit(row, x, ww, true);
			if (x0 >= ww)
				break;
			x = pp_next_bit(row, x0, ww, false);
			if (n_runs == cap_runs) {
				size_t ncap = cap_runs * 2;
				void *v = realloc(runs, ncap * sizeof(*runs));
				if (!v)
					goto out_free;
				runs = v;
				cap_runs = ncap;
			}
			runs[n_runs].x0 = x0;
			runs[n_runs].x1 = x - 1;
			runs[n_runs].y = y;
			n_runs++;
		}
	}
	free(lum);
	lum = NULL;
	par = malloc((n_runs + 1) * sizeof(*par));
	if (!par)
		goto out_free;
	/* union with the previous row's runs that touch (8-connected) */
	{
		size_t prev0 = 0, prev1 = 0, cur0 = 0, k = 0, j;
		for (y = 0; y < wh; y++) {
			cur0 = k;
			while (k < n_runs && runs[k].y == y)
				k++;
			if (y > 0 && (cur0 == 0 || runs[cur0 - 1].y != y - 1))
				prev0 = prev1 = cur0; /* no runs on the row above */
			j = prev0;
			for (i = cur0; i < k; i++) {
				par[i] = (uint32_t)i;
				/* runs above ending before x0 - 1 touch no later run */
				while (j < prev1 && runs[j].x1 + 1 < runs[i].x0)
					j++;
				for (size_t m = j; m < prev1 &&
						   runs[m].x0 <= runs[i].x1 + 1; m++)
					uf_union(par, (uint32_t)i, (uint32_t)m);
			}
			prev0 = cur0;
			prev1 = k;
		}
	}
	/* compact roots to component indices, in raster order */
	root_idx = calloc(n_runs + 1, sizeof(*root_idx));
	if (!root_idx)
		goto out_free;
	for (i = 0; i < n_runs; i++) {
		uint32_t rt = uf_find(par, (uint32_t)i);
		if (!root_idx[rt])
			root_idx[rt] = ++nc;
	}
	comps = calloc(nc ? nc : 1, sizeof(*comps));
	if (!comps)
		goto out_free;
	for (i = 0; i < nc; i++) {
		comps[i].x0 = comps[i].y0 = UINT32_MAX;
	}
	for (i = 0; i < n_runs; i++) {
		const struct pp_run *u = &runs[i];
		struct pp_comp *c = &comps[root_idx[uf_find(par, (uint32_t)i)] - 1];
		c->x0 = u->x0 < c->x0 ? u->x0 : c->x0;
		c->y0 = u->y < c->y0 ? u->y : c->y0;
		c->x1 = u->x1 > c->x1 ? u->x1 : c->x1;
		c->y1 = u->y > c->y1 ? u->y : c->y1;
		c->area += u->x1 - u->x0 + 1;
	}

	/* keep characters; drop components touching the window edge (they
	 * belong to something larger, or to the next window) */
	uint32_t kept = 0;
	for (i = 0; i < nc; i++) {
		struct pp_comp *c = &comps[i];
		bool edge = (c->x0 == 0 && wx > 0) || (c->y0 == 0 && wy > 0) ||
			    (c->x1 == ww - 1 && wx + ww < g->cols) ||
			    (c->y1 == wh - 1 && wy + wh < g->rows);
		if (!edge && pp_comp_is_char(c))
			comps[kept++] = *c;
	}
	qsort(comps, kept, sizeof(*comps), pp_comp_cmp);

	lines = calloc(kept ? kept : 1, sizeof(*lines));
	if (!lines)
		goto out_free;
	for (i = 0; i < kept; i++) {
		struct pp_comp *c = &comps[i];
		uint32_t ch = c->y1 - c->y0 + 1, j;
		bool placed = false;
		for (j = nl; j-- > 0;) {
			struct pp_line *l = &lines[j];
			uint32_t lh = l->hsum / l->n;
			uint32_t top = c->y0 > l->y0 ? c->y0 : l->y0;
			uint32_t bot = c->y1 < l->y1 ? c->y1 : l->y1;
			uint32_t minh = ch < lh ? ch : lh;
			if (bot < top || (bot - top + 1) * 2 < minh)
				continue;
			if (c->x0 > l->x1 + lh + lh / 2 + 2)
				continue;
			if (ch > 2 * lh + 2 || lh > 3 * ch + 2)
				continue; /* too different in size */
			l->x1 = c->x1 > l->x1 ? c->x1 : l->x1;
			l->y0 = c->y0 < l->y0 ? c->y0 : l->y0;
			l->y1 = c->y1 > l->y1 ? c->y1 : l->y1;
			l->n++;
			l->hsum += ch;
			placed = true;
			break;
		}
		if (!placed) {
			struct pp_line *l = &lines[nl++];
			l->x0 = c->x0;
			l->x1 = c->x1;
			l->y0 = c->y0;
			l->y1 = c->y1;
			l->n = 1;
			l->hsum = ch;
		}
	}
	err = DD_OK;
	for (i = 0; i < nl && err == DD_OK; i++) {
		struct pp_line l = lines[i];
		uint32_t h = l.y1 - l.y0 + 1, w = l.x1 - l.x0 + 1;
		if (l.n < 2 || w * 2 < h * 3)
			continue;
		l.x0 += wx;
		l.x1 += wx;
		l.y0 += wy;
		l.y1 += wy;
		err = pp_add_region(r, g, &l);
	}
out_free:
	free(lines);
	free(comps);
	free(root_idx);
	free(par);
	free(runs);
	free(bits);
	free(lum);
	return err;
}

/* Clusters of texty cells (8-connected, bridging one empty cell
 * horizontally) become windows for stage 2. */
static dd_err pp_clusters(struct pp_scan *s, struct dd_prepass_result *r)
{
	const struct dd_image_geom *g = s->g;
	size_t nce = (size_t)s->ncx * s->ncy, i;
	uint32_t *stack = NULL;
	uint8_t *seen = NULL;
	dd_err err = DD_OK;

	seen = calloc(nce, 1);
	stack = malloc(nce * sizeof(*stack));
	if (!seen || !stack) {
		err = DD_E_NOMEM;
		goto out;
	}
	for (i = 0; i < nce && err == DD_OK; i++) {
		uint32_t cx0, cy0, cx1, cy1, sp = 0, cnt = 0;
		if (!s->texty[i] || seen[i])
			continue;
		cx0 = cx1 = (uint32_t)(i % s->ncx);
		cy0 = cy1 = (uint32_t)(i / s->ncx);
		seen[i] = 1;
		stack[sp++] = (uint32_t)i;
		while (sp) {
			uint32_t c = stack[--sp], cx = c % s->ncx, cy = c / s->ncx;
			int dx, dy;
			cnt++;
			cx0 = cx < cx0 ? cx : cx0;
			cx1 = cx > cx1 ? cx : cx1;
			cy0 = cy < cy0 ? cy : cy0;
			cy1 = cy > cy1 ? cy : cy1;
			for (dy = -1; dy <= 1; dy++) {
				for (dx = -2; dx <= 2; dx++) {
					long nx = (long)cx + dx, ny = (long)cy + dy;
					size_t ni;
					if (nx < 0 || ny < 0 || nx >= s->ncx ||
					    ny >= s->ncy)
						continue;
					ni = (size_t)ny * s->ncx + (size_t)nx;
					if (s->texty[ni] && !seen[ni]) {
						seen[ni] = 1;
						stack[sp++] = (uint32_t)ni;
					}
				}
			}
		}
		if (cnt < 2 && cx1 == cx0)
			continue; /* an isolated cell: no line of text */
		/* window: the cluster padded by one cell up and down and four
		 * to the sides (a line's thin glyphs may not make texty
		 * cells, and a glyph cut by the window's edge is dropped) */
		uint32_t wx = cx0 > 4 ? (cx0 - 4) * CELL_W : 0;
		uint32_t wy = cy0 > 0 ? (cy0 - 1) * CELL_H : 0;
		uint32_t wx1 = (cx1 + 5) * CELL_W, wy1 = (cy1 + 2) * CELL_H;
		wx1 = wx1 < g->cols ? wx1 : g->cols;
		wy1 = wy1 < g->rows ? wy1 : g->rows;
		/* windows are processed in strips so memory stays bounded */
		uint32_t strip = MAX_WIN_PIXELS / (wx1 - wx);
		uint32_t y;
		if (strip < 128)
			strip = 128;
		for (y = wy; y < wy1 && err == DD_OK; y += strip - 96) {
			uint32_t h = wy1 - y < strip ? wy1 - y : strip;
			err = pp_window(s, wx, y, wx1 - wx, h, r);
			if (y + h >= wy1)
				break;
		}
	}
out:
	free(stack);
	free(seen);
	return err;
}

/* ---- merging regions ----------------------------------------------------------- */

static bool box_touch(const struct dd_box *a, const struct dd_box *b)
{
	return a->x <= b->x + b->w && b->x <= a->x + a->w &&
	       a->y <= b->y + b->h && b->y <= a->y + a->h;
}

static void box_union(struct dd_box *a, const struct dd_box *b)
{
	uint32_t x1 = a->x + a->w > b->x + b->w ? a->x + a->w : b->x + b->w;
	uint32_t y1 = a->y + a->h > b->y + b->h ? a->y + a->h : b->y + b->h;
	a->x = a->x < b->x ? a->x : b->x;
	a->y = a->y < b->y ? a->y : b->y;
	a->w = x1 - a->x;
	a->h = y1 - a->y;
}

static int pp_region_cmp(const void *a, const void *b)
{
	const struct dd_prepass_region *p = a, *q = b;
	if (p->box.y != q->box.y)
		return p->box.y < q->box.y ? -1 : 1;
	if (p->box.x != q->box.x)
		return p->box.x < q->box.x ? -1 : 1;
	if (p->box.h != q->box.h)
		return p->box.h < q->box.h ? -1 : 1;
	return p->box.w < q->box.w ? -1 : p->box.w > q->box.w;
}

static void pp_merge(struct dd_prepass_result *r)
{
	bool again = true;
	size_t i, j;

	while (again) {
		again = false;
		for (i = 0; i < r->n; i++) {
			for (j = i + 1; j < r->n; j++) {
				if (!box_touch(&r->v[i].box, &r->v[j].box))
					continue;
				box_union(&r->v[i].box, &r->v[j].box);
				if (r->v[j].text_h > r->v[i].text_h)
					r->v[i].text_h = r->v[j].text_h;
				r->v[i].n_lines += r->v[j].n_lines;
				r->v[j] = r->v[--r->n];
				again = true;
				j--;
			}
		}
	}
	if (r->n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(r->v, r->n, sizeof(*r->v), pp_region_cmp);
	while (r->n > DD_PREPASS_MAX_REGIONS) {
		box_union(&r->v[r->n - 2].box, &r->v[r->n - 1].box);
		r->n--;
	}
	uint64_t h = 1469598103934665603ull;
	for (i = 0; i < r->n; i++) {
		const uint32_t f[4] = {r->v[i].box.x, r->v[i].box.y,
				       r->v[i].box.w, r->v[i].box.h};
		for (j = 0; j < 4; j++) {
			h ^= f[j];
			h *= 1099511628211ull;
		}
	}
	r->sig = h;
}

dd_err dd_prepass_frame(const struct dd_image_geom *g, const uint8_t *frame,
			const struct dd_prepass_opts *opts,
			struct dd_prepass_result *r)
{
	struct pp_scan s;
	uint32_t lo, hi, t;
	dd_err err = DD_E_NOMEM;

	r->n = 0;
	r->texty_cells = 0;
	r->sig = 0;
	if (!pp_geom_ok(g))
		return DD_E_UNSUPPORTED;
	if (g->cols < 8 || g->rows < 8)
		return DD_OK;
	memset(&s, 0, sizeof(s));
	s.g = g;
	s.frame = frame;
	s.ncx = (g->cols + CELL_W - 1) / CELL_W;
	s.ncy = (g->rows + CELL_H - 1) / CELL_H;
	s.fast8 = g->spp == 1 && g->bits_alloc == 8 && !g->is_signed;
	/* raw words: bits above HighBit (old overlays) only blur the hint */
	s.fast16 = g->spp == 1 && g->bits_alloc == 16 &&
		   g->high_bit + 1 == g->bits_stored;
	s.mask16 = 0xffff;
	if (s.fast16 && g->is_signed) {
		/* exactly dd_prepass_row_luma()'s value: the stored bits,
		 * sign bit flipped (offset order) */
		s.mask16 = (uint16_t)((1u << g->bits_stored) - 1u);
		s.xr16 = (uint16_t)(1u << (g->bits_stored - 1));
	}
	s.texty = calloc((size_t)s.ncx * s.ncy, 1);
	s.row = malloc((size_t)g->cols * sizeof(*s.row));
	s.cnt = calloc(s.ncx, 1);
	s.rows2 = calloc(s.ncx, 1);
	if (!s.texty || !s.row || !s.cnt || !s.rows2)
		goto out;
	pp_range(&s, &lo, &hi);
	err = DD_OK;
	if (hi <= lo)
		goto out; /* flat frame */
	t = (hi - lo) / 6;
	if (t < 2)
		t = 2;
	pp_stage1(&s, opts, t, &r->texty_cells);
	err = pp_clusters(&s, r);
	if (err == DD_OK)
		pp_merge(r);
out:
	free(s.rows2);
	free(s.cnt);
	free(s.row);
	free(s.texty);
	return err;
}
