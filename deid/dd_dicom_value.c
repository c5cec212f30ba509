/* dd_dicom_value.c: pure value rules (dummies, ages, character sets). */
#include <errno.h>
#include <stdio.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "dd_dicom_i.h"

struct vr_rule {
	char vr[3];
	const char *dummy; /* NULL: not a string dummy */
	size_t max_len;    /* 0: not enforced */
};

/* The dummy table (docs/internals/dicom.md).  ASCII only: valid in every
 * character set. */
static const struct vr_rule vr_rules[] = {
	{"AE", "REMOVED", 16},
	{"AS", "000Y", 4},
	{"CS", "REMOVED", 16},
	{"DA", "19000101", 18},
	{"DS", "0", 16},
	{"DT", "19000101000000", 26},
	{"IS", "0", 12},
	{"LO", "REMOVED", 64},
	{"LT", "REMOVED", 10240},
	{"PN", "ANONYMOUS", 0},
	{"SH", "REMOVED", 16},
	{"ST", "REMOVED", 1024},
	{"TM", "000000", 16},
	{"UC", "REMOVED", 0},
	{"UR", "urn:deidfs:removed", 0},
	{"UT", "REMOVED", 0},
};

static const struct vr_rule *vr_rule(const char *vr)
{
	size_t i;

	for (i = 0; i < sizeof(vr_rules) / sizeof(vr_rules[0]); i++)
		if (vr_rules[i].vr[0] == vr[0] && vr_rules[i].vr[1] == vr[1])
			return &vr_rules[i];
	return NULL;
}

const char *dd_dicom_dummy(const char *vr)
{
	const struct vr_rule *r = vr_rule(vr);

	return r ? r->dummy : NULL;
}

size_t dd_dicom_vr_max_len(const char *vr)
{
	const struct vr_rule *r = vr_rule(vr);

	return r ? r->max_len : 0;
}

dd_err dd_dicom_age_cap(const char *in, size_t n, int max_age, char out[5])
{
	unsigned v;
	double years;

	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == 0))
		n--;
	if (n != 4 || in[0] < '0' || in[0] > '9' || in[1] < '0' ||
	    in[1] > '9' || in[2] < '0' || in[2] > '9' ||
	    !strchr("DWMY", in[3]) || in[3] == 0)
		return DD_E_PARSE;
	v = (unsigned)(in[0] - '0') * 100 + (unsigned)(in[1] - '0') * 10 +
	    (unsigned)(in[2] - '0');
	memcpy(out, in, 4);
	out[4] = 0;
	/* HIPAA groups ages over the limit into one category: "090Y" for the
	 * default 89.  The limit is in years; 999D/999W/999M are 2.7/19/83
	 * years, so days and weeks only matter for small limits. */
	switch (in[3]) {
	case 'D': years = v / 365.25; break;
	case 'W': years = v * 7 / 365.25; break;
	case 'M': years = v / 12.0; break;
	default: years = v; break;
	}
	if (max_age > 0 && max_age < 999 && years >= (double)max_age + 1)
		snprintf(out, 5, "%03dY", max_age + 1);
	return DD_OK;
}

bool dd_dicom_is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* DICOM defined term (single value, no code extensions) -> iconv name. */
static const char *iconv_name(const char *term)
{
	static const char *const map[][2] = {
		{"ISO_IR 100", "ISO-8859-1"}, {"ISO_IR 101", "ISO-8859-2"},
		{"ISO_IR 109", "ISO-8859-3"}, {"ISO_IR 110", "ISO-8859-4"},
		{"ISO_IR 144", "ISO-8859-5"}, {"ISO_IR 127", "ISO-8859-6"},
		{"ISO_IR 126", "ISO-8859-7"}, {"ISO_IR 138", "ISO-8859-8"},
		{"ISO_IR 148", "ISO-8859-9"}, {"ISO_IR 203", "ISO-8859-15"},
		{"ISO_IR 166", "TIS-620"},    {"GB18030", "GB18030"},
		{"GBK", "GBK"},               {"ISO_IR 192", "UTF-8"},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(term, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

dd_err dd_dicom_encode_charset(const char *charset, const char *s, size_t n,
			       struct dd_buf *out)
{
	char term[32];
	size_t len;
	const char *name;
	iconv_t cd;
	char *in = (char *)s, *o;
	size_t inleft = n, outleft;
	char tmp[512];
	dd_err err = DD_OK;

	if (dd_dicom_is_ascii(s, n))
		return dd_buf_add(out, s, n);
	if (!charset)
		return DD_E_UNSUPPORTED;
	while (*charset == ' ')
		charset++;
	len = strlen(charset);
	while (len > 0 && charset[len - 1] == ' ')
		len--;
	if (len == 0 || len >= sizeof(term) || memchr(charset, '\\', len))
		return DD_E_UNSUPPORTED;
	memcpy(term, charset, len);
	term[len] = 0;
	name = iconv_name(term);
	if (!name)
		return DD_E_UNSUPPORTED;
	if (strcmp(name, "UTF-8") == 0)
		return dd_buf_add(out, s, n);
	cd = iconv_open(name, "UTF-8");
	if (cd == (iconv_t)-1)
		return DD_E_UNSUPPORTED;
	while (inleft > 0 && !err) {
		size_t r;

		o = tmp;
		outleft = sizeof(tmp);
		r = iconv(cd, &in, &inleft, &o, &outleft);
		if (o > tmp)
			err = dd_buf_add(out, tmp, (size_t)(o - tmp));
		if (r == (size_t)-1 && errno != E2BIG)
			err = err ? err : DD_E_UNSUPPORTED;
	}
	if (!err) {
		o = tmp;
		outleft = sizeof(tmp);
		if (iconv(cd, NULL, NULL, &o, &outleft) == (size_t)-1)
			err = DD_E_UNSUPPORTED;
		else if (o > tmp)
			err = dd_buf_add(out, tmp, (size_t)(o - tmp));
	}
	iconv_close(cd);
	return err;
}

/* The smallest valid PDF we know: one empty page, a correct xref table. */
static const char dummy_pdf[] =
	"%PDF-1.4\n"
	"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
	"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
	"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
	"xref\n"
	"0 4\n"
	"0000000000 65535 f \n"
	"0000000009 00000 n \n"
	"0000000052 00000 n \n"
	"0000000101 00000 n \n"
	"trailer<</Size 4/Root 1 0 R>>\n"
	"startxref\n"
	"164\n"
	"%%EOF\n";

static const char dummy_cda[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>\n";

static const char dummy_stl[] = "solid removed\nendsolid removed\n";

static const char dummy_text[] = "REMOVED\n";

const uint8_t *dd_dicom_dummy_document(const char *mime, size_t *len)
{
	const char *p = dummy_pdf;
	size_t n = sizeof(dummy_pdf) - 1;

	if (mime && strncasecmp(mime, "text/xml", 8) == 0) {
		p = dummy_cda;
		n = sizeof(dummy_cda) - 1;
	} else if (mime && (strncasecmp(mime, "model/stl", 9) == 0 ||
			    strncasecmp(mime, "model/x.stl", 11) == 0)) {
		p = dummy_stl;
		n = sizeof(dummy_stl) - 1;
	} else if (mime && (strncasecmp(mime, "text/", 5) == 0 ||
			    strncasecmp(mime, "model/obj", 9) == 0 ||
			    strncasecmp(mime, "model/mtl", 9) == 0)) {
		p = dummy_text;
		n = sizeof(dummy_text) - 1;
	}
	*len = n;
	return (const uint8_t *)p;
}

bool dd_dicom_sop_is_photographic(const char *uid)
{
	static const char *const photo[] = {
		"1.2.840.10008.5.1.4.1.1.77.1.4",   /* VL Photographic Image */
		"1.2.840.10008.5.1.4.1.1.77.1.4.1", /* Video Photographic */
		"1.2.840.10008.5.1.4.1.1.77.1.5.1", /* Ophthalmic Photo 8 bit */
		"1.2.840.10008.5.1.4.1.1.77.1.5.2", /* Ophthalmic Photo 16 bit */
		"1.2.840.10008.5.1.4.1.1.77.1.5.5", /* Wide Field Ophth. Photo */
		"1.2.840.10008.5.1.4.1.1.77.1.5.6", /* Wide Field Ophth. 3D */
		"1.2.840.10008.5.1.4.1.1.77.1.7",   /* Dermoscopic Photography */
	};
	size_t i;

	if (!uid)
		return false;
	for (i = 0; i < sizeof(photo) / sizeof(photo[0]); i++)
		if (strcmp(uid, photo[i]) == 0)
			return true;
	return false;
}
