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

/* ---- regeneration descriptor ----------------------------------------------------
 *
 * "DDPX", u8 version 1, u8 out_kind, u8 photometric, u8 flags (bit 0
 * signed, bit 1 planar), u32 rows, u32 cols, u16 spp, u16 bits allocated,
 * u16 bits stored, u16 high bit, u32 frames, u32 fill[3], u64 value
 * length, u64 source offset, u64 source length, u8 digest[16], u8 length
 * of the transfer syntax UID, its bytes, u32 length of the box record,
 * the box record (dd_boxes_encode), u32 FNV-1a of everything before it.
 * Little endian; 85 + UID + 16 + 16 x boxes bytes. */

#define DESC_MAGIC "DDPX"
#define DESC_VERSION 1u
#define DESC_FIXED 81 /* up to the UID's length byte, included */
#define DESC_F_SIGNED 1u
#define DESC_F_PLANAR 2u

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The value length the output kind gives for @plan's geometry, or 0. */
static uint64_t desc_value_len(const struct dd_image_plan *plan)
{
	uint64_t n = (uint64_t)dd_image_frame_bytes(&plan->out) * plan->frames;

	n += n & 1;
	return n <= DD_IMAGE_DESC_MAX_VALUE ? n : 0;
}

/* The value's length for its kind: EXPLICIT_LE's is the geometry's;
 * SAME_CODEC's (the re-encoded value) any even length up to the cap, of
 * a geometry whose native value is within the cap too. */
static bool desc_len_ok(const struct dd_image_plan *plan)
{
	uint64_t native = desc_value_len(plan);

	if (!native || !plan->out_pixel_len)
		return false;
	if (plan->out_kind == DD_IMAGE_OUT_EXPLICIT_LE)
		return plan->out_pixel_len == native;
	return plan->out_kind == DD_IMAGE_OUT_SAME_CODEC &&
	       !(plan->out_pixel_len & 1) &&
	       plan->out_pixel_len <= DD_IMAGE_DESC_MAX_VALUE;
}

dd_err dd_image_desc_encode(const struct dd_image_plan *plan,
			    const struct dd_image_src_mark *mark,
			    struct dd_buf *out)
{
	const struct dd_image_geom *g = &plan->out;
	size_t start = out->len, ulen = strnlen(plan->xfer_uid,
						sizeof(plan->xfer_uid));
	uint8_t w[DESC_FIXED];
	size_t blen_at;
	dd_err err;

	if (!plan->frames || ulen > 64 || !desc_len_ok(plan))
		return DD_E_INVAL;
	memcpy(w, DESC_MAGIC, 4);
	w[4] = DESC_VERSION;
	w[5] = (uint8_t)plan->out_kind;
	w[6] = (uint8_t)g->photo;
	w[7] = (uint8_t)((g->is_signed ? DESC_F_SIGNED : 0) |
			 (g->planar ? DESC_F_PLANAR : 0));
	put32(w + 8, g->rows);
	put32(w + 12, g->cols);
	put16(w + 16, g->spp);
	put16(w + 18, g->bits_alloc);
	put16(w + 20, g->bits_stored);
	put16(w + 22, g->high_bit);
	put32(w + 24, plan->frames);
	for (int i = 0; i < 3; i++)
		put32(w + 28 + 4 * i, plan->fill[i]);
	put64(w + 40, plan->out_pixel_len);
	put64(w + 48, mark->off);
	put64(w + 56, mark->len);
	memcpy(w + 64, mark->digest, 16);
	w[80] = (uint8_t)ulen;
	err = dd_buf_add(out, w, DESC_FIXED);
	if (!err)
		err = dd_buf_add(out, plan->xfer_uid, ulen);
	blen_at = out->len;
	if (!err)
		err = dd_buf_add(out, w, 4); /* the box record's length, below */
	if (!err)
		err = dd_boxes_encode(&plan->boxes, out);
	if (err)
		goto out_undo;
	put32(out->data + blen_at, (uint32_t)(out->len - blen_at - 4));
	put32(w, fnv1a(out->data + start, out->len - start));
	err = dd_buf_add(out, w, 4);
	if (!err)
		return DD_OK;
out_undo:
	out->len = start;
	return err;
}

/* The geometry the decoder can produce (dd_image.c's geom_supported for
 * a decoded frame), checked again here: the bytes come from a cache. */
static bool desc_geom_ok(const struct dd_image_geom *g)
{
	if (!g->rows || !g->cols || g->rows > 65535 || g->cols > 65535)
		return false;
	if (g->bits_alloc != 8 && g->bits_alloc != 16 && g->bits_alloc != 32)
		return false;
	if (!g->bits_stored || g->bits_stored > g->bits_alloc ||
	    g->high_bit >= g->bits_alloc || g->high_bit + 1 < g->bits_stored)
		return false;
	if (g->spp == 1)
		return g->photo == DD_PHOTO_MONOCHROME1 ||
		       g->photo == DD_PHOTO_MONOCHROME2 ||
		       g->photo == DD_PHOTO_PALETTE;
	return g->spp == 3 &&
	       (g->photo == DD_PHOTO_RGB || g->photo == DD_PHOTO_YBR_FULL ||
		g->photo == DD_PHOTO_YBR_FULL_422);
}

dd_err dd_image_desc_decode(const uint8_t *p, size_t n,
			    struct dd_image_plan *plan,
			    struct dd_image_src_mark *mark)
{
	struct dd_image_geom *g;
	size_t ulen, blen, at;
	dd_err err;

	dd_image_plan_free(plan);
	memset(mark, 0, sizeof(*mark));
	if (n < DESC_FIXED + 4 + 16 + 4 || memcmp(p, DESC_MAGIC, 4) != 0 ||
	    p[4] != DESC_VERSION || (p[5] != DD_IMAGE_OUT_EXPLICIT_LE &&
				     p[5] != DD_IMAGE_OUT_SAME_CODEC) ||
	    (p[7] & ~(DESC_F_SIGNED | DESC_F_PLANAR)))
		return DD_E_CORRUPT;
	ulen = p[80];
	if (ulen > 64 || n < DESC_FIXED + ulen + 4 + 16 + 4)
		return DD_E_CORRUPT;
	at = DESC_FIXED + ulen;
	blen = get32(p + at);
	if (blen != n - at - 4 - 4 || get32(p + n - 4) != fnv1a(p, n - 4))
		return DD_E_CORRUPT;
	for (size_t i = 0; i < ulen; i++)
		if (!(p[DESC_FIXED + i] == '.' ||
		      (p[DESC_FIXED + i] >= '0' && p[DESC_FIXED + i] <= '9')))
			return DD_E_CORRUPT;
	g = &plan->out;
	g->photo = (enum dd_photometric)p[6];
	g->is_signed = p[7] & DESC_F_SIGNED;
	g->planar = (p[7] & DESC_F_PLANAR) != 0;
	g->rows = get32(p + 8);
	g->cols = get32(p + 12);
	g->spp = get16(p + 16);
	g->bits_alloc = get16(p + 18);
	g->bits_stored = get16(p + 20);
	g->high_bit = get16(p + 22);
	plan->frames = get32(p + 24);
	for (int i = 0; i < 3; i++)
		plan->fill[i] = get32(p + 28 + 4 * i);
	plan->out_pixel_len = get64(p + 40);
	mark->off = get64(p + 48);
	mark->len = get64(p + 56);
	memcpy(mark->digest, p + 64, 16);
	memcpy(plan->xfer_uid, p + DESC_FIXED, ulen);
	plan->xfer_uid[ulen] = 0;
	plan->out_kind = (enum dd_image_out)p[5];
	plan->compressed = true;
	plan->src = plan->out;
	if (!desc_geom_ok(g) || !plan->frames || !ulen ||
	    !dd_image_frame_bytes(g) || mark->off > INT64_MAX ||
	    mark->len > INT64_MAX - mark->off || /* an off_t range */
	    !desc_len_ok(plan))
		goto out_corrupt;
	for (int i = 0; i < 3; i++)
		if (g->bits_alloc < 32 && plan->fill[i] >> g->bits_alloc)
			goto out_corrupt;
	err = dd_boxes_decode(p + at + 4, blen, &plan->boxes);
	if (err == DD_E_NOMEM)
		goto out_err;
	if (err)
		goto out_corrupt;
	for (size_t i = 0; i < plan->boxes.n; i++) {
		const struct dd_box *b = &plan->boxes.v[i];

		if ((uint64_t)b->x + b->w > g->cols ||
		    (uint64_t)b->y + b->h > g->rows)
			goto out_corrupt;
	}
	return DD_OK;

out_corrupt:
	err = DD_E_CORRUPT;
out_err:
	dd_image_plan_free(plan);
	memset(mark, 0, sizeof(*mark));
	return err;
}
