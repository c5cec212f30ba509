/* dd_image_box.c: box lists, their canonical form and their cache codec. */
#include <stdlib.h>
#include <string.h>

#include "dd_image.h"

void dd_boxes_init(struct dd_boxes *b)
{
	memset(b, 0, sizeof(*b));
}

void dd_boxes_free(struct dd_boxes *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}

dd_err dd_boxes_add(struct dd_boxes *b, struct dd_box box)
{
	if (box.w == 0 || box.h == 0)
		return DD_OK;
	if (b->n >= DD_BOXES_MAX)
		return DD_E_LIMIT;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		void *v = realloc(b->v, nc * sizeof(*b->v));
		if (!v)
			return DD_E_NOMEM;
		b->v = v;
		b->cap = nc;
	}
	b->v[b->n++] = box;
	return DD_OK;
}

static int box_cmp(const void *a, const void *b)
{
	const struct dd_box *p = a, *q = b;
	if (p->y != q->y)
		return p->y < q->y ? -1 : 1;
	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	if (p->h != q->h)
		return p->h < q->h ? -1 : 1;
	if (p->w != q->w)
		return p->w < q->w ? -1 : 1;
	return 0;
}

static bool box_inside(const struct dd_box *in, const struct dd_box *out)
{
	return in->x >= out->x && in->y >= out->y &&
	       (uint64_t)in->x + in->w <= (uint64_t)out->x + out->w &&
	       (uint64_t)in->y + in->h <= (uint64_t)out->y + out->h;
}

void dd_boxes_normalize(struct dd_boxes *b, uint32_t cols, uint32_t rows)
{
	size_t i, j, k = 0;

	for (i = 0; i < b->n; i++) {
		struct dd_box x = b->v[i];
		if (x.x >= cols || x.y >= rows || !x.w || !x.h)
			continue;
		if ((uint64_t)x.x + x.w > cols)
			x.w = cols - x.x;
		if ((uint64_t)x.y + x.h > rows)
			x.h = rows - x.y;
		b->v[k++] = x;
	}
	b->n = k;
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), box_cmp);
	/* drop boxes inside another (duplicates included; keep the first) */
	k = 0;
	for (i = 0; i < b->n; i++) {
		bool dup = false;
		for (j = 0; j < b->n && !dup; j++) {
			if (j == i || !box_inside(&b->v[i], &b->v[j]))
				continue;
			/* equal boxes: keep the one with the lower index */
			dup = !box_inside(&b->v[j], &b->v[i]) || j < i;
		}
		if (!dup)
			b->v[k++] = b->v[i];
	}
	b->n = k;
}

/* ---- cache codec ---------------------------------------------------------------- */

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;
	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#define BOX_MAGIC "DDBX"
#define BOX_VERSION 1u

dd_err dd_boxes_encode(const struct dd_boxes *b, struct dd_buf *out)
{
	size_t start = out->len, i;
	uint8_t w[16];
	dd_err err;

	if (b->n > DD_BOXES_MAX)
		return DD_E_LIMIT;
	memcpy(w, BOX_MAGIC, 4);
	put32(w + 4, BOX_VERSION);
	put32(w + 8, (uint32_t)b->n);
	err = dd_buf_add(out, w, 12);
	for (i = 0; i < b->n && err == DD_OK; i++) {
		put32(w, b->v[i].x);
		put32(w + 4, b->v[i].y);
		put32(w + 8, b->v[i].w);
		put32(w + 12, b->v[i].h);
		err = dd_buf_add(out, w, 16);
	}
	if (err != DD_OK)
		return err;
	put32(w, fnv1a(out->data + start, out->len - start));
	return dd_buf_add(out, w, 4);
}

dd_err dd_boxes_decode(const uint8_t *p, size_t n, struct dd_boxes *out)
{
	uint32_t count, i;
	dd_err err;

	out->n = 0;
	if (n < 16 || memcmp(p, BOX_MAGIC, 4) != 0 ||
	    get32(p + 4) != BOX_VERSION)
		return DD_E_CORRUPT;
	count = get32(p + 8);
	if (count > DD_BOXES_MAX || n != 16 + (size_t)count * 16)
		return DD_E_CORRUPT;
	if (get32(p + n - 4) != fnv1a(p, n - 4))
		return DD_E_CORRUPT;
	for (i = 0; i < count; i++) {
		const uint8_t *q = p + 12 + (size_t)i * 16;
		struct dd_box b = {get32(q), get32(q + 4), get32(q + 8),
				   get32(q + 12)};
		if (!b.w || !b.h || (uint64_t)b.x + b.w > 65535 ||
		    (uint64_t)b.y + b.h > 65535) {
			out->n = 0;
			return DD_E_CORRUPT;
		}
		err = dd_boxes_add(out, b);
		if (err != DD_OK) {
			out->n = 0;
			return err;
		}
	}
	return DD_OK;
}
