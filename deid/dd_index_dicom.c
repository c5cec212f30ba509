/* dd_index_dicom.c: the PatientID of a DICOM header, for the patient
 * index (dd_index_dicom_patient_id in dd_index.h).
 *
 * A minimal tag walk, not the DICOM engine: the index scan reads the first
 * bytes of every DICOM file of a tree and only needs (0010,0020), which
 * sorts before everything but the groups 0002 and 0008.  It handles the
 * meta group (explicit VR little endian), explicit and implicit little
 * endian and explicit big endian data sets, and skips sequences of
 * undefined length (items and delimiters, nested to a depth of 16; UN of
 * undefined length is implicit little endian inside).  Deflated data sets
 * and anything malformed or cut give 0: the file is then simply not used
 * for linking.  Every length is checked against the bytes given.
 */
#include <ctype.h>
#include <string.h>

#include "dd_index.h"

struct dx {
	const uint8_t *p;
	size_t n, at;
};

#define DX_UNDEF 0xFFFFFFFFu
#define DX_DEPTH 16

static uint16_t dx_16(const uint8_t *p, bool be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t dx_32(const uint8_t *p, bool be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3]
		  : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
			    (uint32_t)p[1] << 8 | p[0];
}

static bool dx_long_vr(const uint8_t *vr)
{
	static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
					"UC", "UN", "UR", "UT", "SV", "UV"};

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		if (vr[0] == l[i][0] && vr[1] == l[i][1])
			return true;
	return false;
}

/* One element header at d->at: tag, value length, and whether its value
 * is implicit little endian inside (UN); advances past the header. */
static bool dx_head(struct dx *d, bool implicit, bool be, uint32_t *tag,
		    uint32_t *len, bool *un)
{
	const uint8_t *p = d->p + d->at;
	uint16_t g;

	*un = false;
	if (d->n - d->at < 8)
		return false;
	g = dx_16(p, be);
	*tag = (uint32_t)g << 16 | dx_16(p + 2, be);
	if (implicit || g == 0xFFFE) {
		*len = dx_32(p + 4, be);
		d->at += 8;
		return true;
	}
	if (!isupper(p[4]) || !isupper(p[5]))
		return false;
	if (dx_long_vr(p + 4)) {
		if (d->n - d->at < 12)
			return false;
		*un = p[4] == 'U' && p[5] == 'N';
		*len = dx_32(p + 8, be);
		d->at += 12;
		return true;
	}
	*len = dx_16(p + 6, be);
	d->at += 8;
	return true;
}

static bool dx_skip_seq(struct dx *d, bool implicit, bool be, unsigned depth);

/* Skip elements up to and including the item delimiter. */
static bool dx_skip_item(struct dx *d, bool implicit, bool be, unsigned depth)
{
	for (;;) {
		uint32_t tag, len;
		bool un;

		if (!dx_head(d, implicit, be, &tag, &len, &un))
			return false;
		if (tag == 0xFFFEE00D)
			return true;
		if (tag >> 16 == 0xFFFE)
			return false;
		if (len == DX_UNDEF) {
			if (!dx_skip_seq(d, implicit || un, un ? false : be,
					 depth + 1))
				return false;
			continue;
		}
		if (d->n - d->at < len)
			return false;
		d->at += len;
	}
}

/* Skip the items of a sequence of undefined length and its delimiter. */
static bool dx_skip_seq(struct dx *d, bool implicit, bool be, unsigned depth)
{
	if (depth > DX_DEPTH)
		return false;
	for (;;) {
		uint32_t tag, len;

		if (d->n - d->at < 8)
			return false;
		tag = (uint32_t)dx_16(d->p + d->at, be) << 16 |
		      dx_16(d->p + d->at + 2, be);
		len = dx_32(d->p + d->at + 4, be);
		d->at += 8;
		if (tag == 0xFFFEE0DD)
			return true;
		if (tag != 0xFFFEE000)
			return false;
		if (len == DX_UNDEF) {
			if (!dx_skip_item(d, implicit, be, depth))
				return false;
		} else {
			if (d->n - d->at < len)
				return false;
			d->at += len;
		}
	}
}

static size_t dx_copy(const uint8_t *v, size_t len, char *out, size_t outlen)
{
	while (len && (v[0] == ' ' || v[0] == 0))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == 0))
		len--;
	if (len == 0 || len >= outlen || memchr(v, 0, len))
		return 0;
	memcpy(out, v, len);
	out[len] = 0;
	return len;
}

size_t dd_index_dicom_patient_id(const uint8_t *p, size_t n, char *out,
				 size_t outlen)
{
	struct dx d = {p, n, 0};
	bool implicit = false, be = false;

	if (!p || outlen == 0)
		return 0;
	out[0] = 0;
	if (n >= 132 && !memcmp(p + 128, "DICM", 4)) {
		char ts[65] = "";

		d.at = 132;
		while (d.n - d.at >= 8 && dx_16(p + d.at, false) == 0x0002) {
			uint32_t tag, len;
			bool un;

			if (!dx_head(&d, false, false, &tag, &len, &un) ||
			    len == DX_UNDEF || d.n - d.at < len)
				return 0;
			if (tag == 0x00020010 && len < sizeof(ts))
				dx_copy(p + d.at, len, ts, sizeof(ts));
			d.at += len;
		}
		if (!strcmp(ts, "1.2.840.10008.1.2"))
			implicit = true;
		else if (!strcmp(ts, "1.2.840.10008.1.2.2"))
			be = true;
		else if (!strcmp(ts, "1.2.840.10008.1.2.1.99"))
			return 0; /* deflated: left to the engine */
	} else {
		/* a raw data set: explicit if a VR follows the first tag */
		implicit = !(n >= 6 && isupper(p[4]) && isupper(p[5]));
	}
	for (;;) {
		uint32_t tag, len;
		bool un;

		if (!dx_head(&d, implicit, be, &tag, &len, &un))
			return 0;
		if (tag > 0x00100020 || tag >> 16 == 0xFFFE)
			return 0;
		if (len == DX_UNDEF) {
			if (tag == 0x00100020 ||
			    !dx_skip_seq(&d, implicit || un, un ? false : be, 1))
				return 0;
			continue;
		}
		if (d.n - d.at < len)
			return 0;
		if (tag == 0x00100020)
			return dx_copy(p + d.at, len, out, outlen);
		d.at += len;
	}
}
