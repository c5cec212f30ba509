/* dd_dicom_walk.c: a small top-level tag walker over the source bytes,
 * finding the encapsulated pixel value (its items and the sequence
 * delimiter) that dcmtk cannot give an offset for.  The result is only
 * used after the bridge cross-checked it with dcmtk's fragments; any doubt
 * here returns DD_E_PARSE and the pixel value is written by dcmtk instead.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dd_dicom_i.h"

#define WK_MAX_DEPTH 32
#define WK_MAX_ITEMS (1u << 22)

struct wk {
	int fd;
	uint64_t size;
	bool big; /* byte order of the current data set */
	uint8_t buf[4096];
	uint64_t buf_off;
	size_t buf_len;
};

static dd_err wk_read(struct wk *w, uint64_t off, void *p, size_t n)
{
	ssize_t r;

	if (off + n > w->size || off + n < off)
		return DD_E_PARSE;
	if (off >= w->buf_off && off + n <= w->buf_off + w->buf_len) {
		memcpy(p, w->buf + (off - w->buf_off), n);
		return DD_OK;
	}
	r = pread(w->fd, w->buf, sizeof(w->buf), (off_t)off);
	if (r < (ssize_t)n)
		return r < 0 ? DD_E_IO : DD_E_PARSE;
	w->buf_off = off;
	w->buf_len = (size_t)r;
	memcpy(p, w->buf, n);
	return DD_OK;
}

static uint16_t u16(const uint8_t *p, bool big)
{
	return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t u32(const uint8_t *p, bool big)
{
	return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		      (uint32_t)p[2] << 8 | p[3])
		   : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
		      (uint32_t)p[1] << 8 | p[0]);
}

static bool vr_long(const uint8_t *vr)
{
	static const char longs[] = "OBODOFOLOVOWSQSVUCUNURUTUV";
	size_t i;

	for (i = 0; i < sizeof(longs) - 1; i += 2)
		if (vr[0] == longs[i] && vr[1] == longs[i + 1])
			return true;
	return false;
}

/* One element header at @off: tag, length, header size, VR (explicit). */
struct wk_hdr {
	uint32_t tag;
	uint32_t len;
	unsigned hdr;
	uint8_t vr[2];
};

static dd_err wk_header(struct wk *w, uint64_t off, bool explicit_vr,
			struct wk_hdr *h)
{
	uint8_t b[12];
	dd_err err;

	err = wk_read(w, off, b, 8);
	if (err)
		return err;
	h->tag = (uint32_t)u16(b, w->big) << 16 | u16(b + 2, w->big);
	h->vr[0] = h->vr[1] = 0;
	if (!explicit_vr || DD_TAG_GROUP(h->tag) == 0xfffe) {
		h->len = u32(b + 4, w->big);
		h->hdr = 8;
		return DD_OK;
	}
	h->vr[0] = b[4];
	h->vr[1] = b[5];
	if (vr_long(h->vr)) {
		err = wk_read(w, off + 8, b + 8, 4);
		if (err)
			return err;
		h->len = u32(b + 8, w->big);
		h->hdr = 12;
	} else {
		h->len = u16(b + 6, w->big);
		h->hdr = 8;
	}
	return DD_OK;
}

static dd_err wk_skip_seq(struct wk *w, uint64_t *off, bool explicit_vr,
			  unsigned depth);

/* Skip the elements of an undefined-length item up to its delimiter. */
static dd_err wk_skip_item(struct wk *w, uint64_t *off, bool explicit_vr,
			   unsigned depth)
{
	struct wk_hdr h;
	dd_err err;

	for (;;) {
		err = wk_header(w, *off, explicit_vr, &h);
		if (err)
			return err;
		*off += h.hdr;
		if (h.tag == 0xfffee00du)
			return DD_OK;
		if (h.len == 0xffffffffu) {
			bool ex = explicit_vr && !(h.vr[0] == 'U' && h.vr[1] == 'N');
			err = wk_skip_seq(w, off, ex, depth + 1);
			if (err)
				return err;
		} else {
			*off += h.len;
		}
		if (*off > w->size)
			return DD_E_PARSE;
	}
}

/* Skip the items of an undefined-length sequence up to its delimiter. */
static dd_err wk_skip_seq(struct wk *w, uint64_t *off, bool explicit_vr,
			  unsigned depth)
{
	struct wk_hdr h;
	dd_err err;
	bool big = w->big;

	if (depth > WK_MAX_DEPTH)
		return DD_E_LIMIT;
	for (;;) {
		err = wk_header(w, *off, false, &h);
		if (err)
			return err;
		*off += 8;
		if (h.tag == 0xfffee0ddu)
			break;
		if (h.tag != 0xfffee000u)
			return DD_E_PARSE;
		if (h.len == 0xffffffffu) {
			err = wk_skip_item(w, off, explicit_vr, depth);
			if (err)
				return err;
		} else {
			*off += h.len;
		}
		if (*off > w->size)
			return DD_E_PARSE;
	}
	w->big = big;
	return DD_OK;
}

static dd_err wk_items(struct wk *w, uint64_t off, struct dd_dicom_encap *out)
{
	uint8_t b[8];
	uint64_t start = off;
	dd_err err;

	for (;;) {
		uint32_t tag, len;

		err = wk_read(w, off, b, 8);
		if (err)
			return err;
		tag = (uint32_t)u16(b, false) << 16 | u16(b + 2, false);
		len = u32(b + 4, false);
		off += 8;
		if (tag == 0xfffee0ddu) {
			if (len != 0)
				return DD_E_PARSE;
			break;
		}
		if (tag != 0xfffee000u || len == 0xffffffffu)
			return DD_E_PARSE;
		if (out->n_items >= WK_MAX_ITEMS)
			return DD_E_LIMIT;
		if (out->n_items == out->cap_items) {
			size_t cap = out->cap_items ? out->cap_items * 2 : 16;
			uint32_t *v = realloc(out->item_len, cap * sizeof(*v));

			if (!v)
				return DD_E_NOMEM;
			out->item_len = v;
			out->cap_items = cap;
		}
		out->item_len[out->n_items++] = len;
		off += len;
		if (off > w->size)
			return DD_E_PARSE;
	}
	out->off = start;
	out->len = off - start;
	out->found = true;
	return DD_OK;
}

dd_err dd_dicom_walk_encap(int fd, uint64_t size, bool explicit_vr,
			   bool big_endian, struct dd_dicom_encap *out)
{
	struct wk w;
	uint8_t b[4];
	uint64_t off = 0;
	struct wk_hdr h;
	dd_err err;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	w.size = size;
	out->found = false;
	out->n_items = 0;
	if (size >= 132 && wk_read(&w, 128, b, 4) == DD_OK &&
	    memcmp(b, "DICM", 4) == 0)
		off = 132;
	/* the meta group: explicit VR little endian, group 0002 */
	for (;;) {
		err = wk_header(&w, off, true, &h);
		if (err)
			return err;
		if (DD_TAG_GROUP(h.tag) != 0x0002)
			break;
		if (h.len == 0xffffffffu)
			return DD_E_PARSE;
		off += h.hdr + (uint64_t)h.len;
	}
	w.big = big_endian;
	for (;;) {
		err = wk_header(&w, off, explicit_vr, &h);
		if (err)
			return err;
		if (h.tag == DD_TAG(0x7fe0, 0x0010)) {
			if (h.len != 0xffffffffu)
				return DD_E_NOTFOUND; /* native */
			return wk_items(&w, off + h.hdr, out);
		}
		if (h.tag > DD_TAG(0x7fe0, 0x0010))
			return DD_E_NOTFOUND;
		off += h.hdr;
		if (h.len == 0xffffffffu) {
			bool ex = explicit_vr &&
				  !(h.vr[0] == 'U' && h.vr[1] == 'N');
			err = wk_skip_seq(&w, &off, ex, 0);
			if (err)
				return err;
		} else {
			off += h.len;
		}
		if (off > size)
			return DD_E_PARSE;
	}
}
