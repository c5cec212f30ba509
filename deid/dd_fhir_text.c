/* dd_fhir_text.c: narrative XHTML, base64 and SHA-1 for the FHIR engine.
 *
 * The XHTML cleaner is a tokenizer, not a parser: tags are copied with
 * their attributes filtered (a short allowlist of layout attributes; href
 * only when it points inside the document), comments, processing
 * instructions and DOCTYPEs are dropped, and each text node is decoded,
 * handed to the caller's cleaner and re-escaped.  So the markup stays as
 * valid as it came, and nothing but cleaned text and layout survives.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dd_b64.h"
#include "dd_fhir_i.h"

static const char *const fx_attrs[] = {
	"xmlns", "class", "style", "id", "lang", "xml:lang", "dir",
	"colspan", "rowspan", "span", "align", "valign", "width", "height",
	"border", "cellpadding", "cellspacing", "scope", "headers", "start",
	"type", NULL,
};

static bool fx_name_char(char c)
{
	return isalnum((unsigned char)c) || c == ':' || c == '-' || c == '_' ||
	       c == '.';
}

static const char *fx_find(const char *p, const char *end, const char *pat)
{
	size_t k = strlen(pat);

	for (; p + k <= end; p++)
		if (!memcmp(p, pat, k))
			return p;
	return NULL;
}

static dd_err fx_utf8(struct dd_buf *b, unsigned long cp)
{
	uint8_t u[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | (cp >> 18));
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return dd_buf_add(b, u, n);
}

/* Decode the XML entities of a text node. */
static dd_err fx_decode(const char *s, size_t n, struct dd_buf *out)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'},
		    {"apos", '\''}};
	dd_err e = DD_OK;

	for (size_t i = 0; i < n && !e; i++) {
		const char *semi;
		size_t k;

		if (s[i] != '&' ||
		    !(semi = memchr(s + i, ';', n - i > 12 ? 12 : n - i))) {
			e = dd_buf_addc(out, (uint8_t)s[i]);
			continue;
		}
		k = (size_t)(semi - (s + i + 1));
		if (k >= 2 && s[i + 1] == '#') {
			unsigned long cp = 0;
			bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t j = i + (hex ? 3 : 2);
			bool ok = j < (size_t)(semi - s);

			for (; j < (size_t)(semi - s) && ok; j++) {
				int d = hex ? (isxdigit((unsigned char)s[j])
						       ? (isdigit((unsigned char)s[j])
								  ? s[j] - '0'
								  : (tolower((unsigned char)s[j]) -
								     'a' + 10))
						       : -1)
					    : (isdigit((unsigned char)s[j]) ? s[j] - '0'
									   : -1);
				if (d < 0 || cp > 0x10FFFF)
					ok = false;
				else
					cp = cp * (hex ? 16 : 10) + (unsigned)d;
			}
			if (ok) {
				e = fx_utf8(out, cp);
				i = (size_t)(semi - s);
				continue;
			}
		} else {
			bool found = false;

			for (size_t t = 0; t < sizeof(ents) / sizeof(ents[0]); t++)
				if (strlen(ents[t].name) == k &&
				    !memcmp(s + i + 1, ents[t].name, k)) {
					e = dd_buf_addc(out, (uint8_t)ents[t].c);
					found = true;
					break;
				}
			if (found) {
				i = (size_t)(semi - s);
				continue;
			}
		}
		e = dd_buf_addc(out, '&');
	}
	return e;
}

static dd_err fx_escape(const uint8_t *s, size_t n, struct dd_buf *out)
{
	dd_err e = DD_OK;

	for (size_t i = 0; i < n && !e; i++) {
		switch (s[i]) {
		case '&':
			e = dd_buf_adds(out, "&amp;");
			break;
		case '<':
			e = dd_buf_adds(out, "&lt;");
			break;
		case '>':
			e = dd_buf_adds(out, "&gt;");
			break;
		default:
			e = dd_buf_addc(out, s[i]);
		}
	}
	return e;
}

static bool fx_text(const char *s, size_t n, fw_clean_fn clean, void *ctx,
		    struct dd_buf *out)
{
	struct dd_buf dec, cl;
	bool ok;

	if (n == 0)
		return true;
	dd_buf_init(&dec, n + 1);
	dd_buf_init(&cl, (size_t)4 * n + 4096);
	ok = !fx_decode(s, n, &dec) &&
	     clean(ctx, dec.data ? (const char *)dec.data : "", dec.len, &cl) &&
	     !fx_escape(cl.data, cl.len, out);
	dd_buf_free(&dec);
	dd_buf_free(&cl);
	return ok;
}

/* One start or end tag at @p (after '<'); appended filtered.  Returns the
 * position after '>' or NULL if malformed. */
static const char *fx_tag(const char *p, const char *end, struct dd_buf *out)
{
	bool closing = false;
	const char *name;
	size_t nlen;

	if (p < end && *p == '/') {
		closing = true;
		p++;
	}
	name = p;
	while (p < end && fx_name_char(*p))
		p++;
	nlen = (size_t)(p - name);
	if (nlen == 0 || nlen > 64)
		return NULL;
	if (dd_buf_adds(out, closing ? "</" : "<") || dd_buf_add(out, name, nlen))
		return NULL;
	for (;;) {
		const char *an, *av = NULL;
		size_t alen, vlen = 0;
		bool keep;

		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p >= end)
			return NULL;
		if (*p == '>') {
			return dd_buf_addc(out, '>') ? NULL : p + 1;
		}
		if (*p == '/' && p + 1 < end && p[1] == '>' && !closing)
			return dd_buf_adds(out, "/>") ? NULL : p + 2;
		if (closing)
			return NULL;
		an = p;
		while (p < end && fx_name_char(*p))
			p++;
		alen = (size_t)(p - an);
		if (alen == 0)
			return NULL;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p < end && *p == '=') {
			char q;

			p++;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p >= end || (*p != '"' && *p != '\''))
				return NULL;
			q = *p++;
			av = p;
			while (p < end && *p != q && *p != '<')
				p++;
			if (p >= end || *p != q)
				return NULL;
			vlen = (size_t)(p - av);
			p++;
		} else {
			return NULL; /* XHTML attributes always have values */
		}
		keep = false;
		for (int i = 0; fx_attrs[i]; i++)
			if (strlen(fx_attrs[i]) == alen &&
			    !strncasecmp(an, fx_attrs[i], alen))
				keep = true;
		if (!keep && alen >= 6 && !strncasecmp(an, "xmlns:", 6))
			keep = true;
		if (alen == 4 && !strncasecmp(an, "href", 4) && vlen &&
		    av[0] == '#')
			keep = true;
		if (!keep)
			continue;
		if (dd_buf_addc(out, ' ') || dd_buf_add(out, an, alen) ||
		    dd_buf_adds(out, "=\""))
			return NULL;
		for (size_t i = 0; i < vlen; i++)
			if (av[i] == '"' ? dd_buf_adds(out, "&quot;")
					 : dd_buf_addc(out, (uint8_t)av[i]))
				return NULL;
		if (dd_buf_addc(out, '"'))
			return NULL;
	}
}

bool dd_fhir_xhtml_clean(const char *s, size_t n, fw_clean_fn clean,
			 void *ctx, struct dd_buf *out)
{
	const char *p = s, *end = s + n;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *stop;

		if (!lt)
			lt = end;
		if (!fx_text(p, (size_t)(lt - p), clean, ctx, out))
			return false;
		p = lt;
		if (p >= end)
			break;
		p++;
		if (end - p >= 3 && !memcmp(p, "!--", 3)) {
			stop = fx_find(p + 3, end, "-->");
			if (!stop)
				return false;
			p = stop + 3;
		} else if (end - p >= 8 && !memcmp(p, "![CDATA[", 8)) {
			stop = fx_find(p + 8, end, "]]>");
			if (!stop || !fx_text(p + 8, (size_t)(stop - p - 8), clean,
					      ctx, out))
				return false;
			p = stop + 3;
		} else if (p < end && *p == '?') {
			stop = fx_find(p, end, "?>");
			if (!stop)
				return false;
			p = stop + 2;
		} else if (p < end && *p == '!') {
			stop = memchr(p, '>', (size_t)(end - p));
			if (!stop)
				return false;
			p = stop + 1;
		} else {
			p = fx_tag(p, end, out);
			if (!p)
				return false;
		}
	}
	return true;
}

/* ---- base64 and SHA-1 ------------------------------------------------------ */


bool dd_fhir_b64_decode(const char *s, size_t n, struct dd_buf *out)
{
	uint32_t acc = 0;
	int bits = 0;
	bool pad = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		if (pad)
			return false;
		v = dd_b64_value(c);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (dd_buf_addc(out, (uint8_t)(acc >> bits)))
				return false;
		}
	}
	return true;
}

dd_err dd_fhir_b64_encode(const uint8_t *p, size_t n, struct dd_buf *out)
{
	size_t olen = 4 * ((n + 2) / 3);
	dd_err e;

	e = dd_buf_reserve(out, olen + 1);
	if (e)
		return e;
	EVP_EncodeBlock(out->data + out->len, p, (int)n);
	out->len += olen;
	out->data[out->len] = 0;
	return DD_OK;
}

void dd_fhir_sha1(const uint8_t *p, size_t n, uint8_t out[20], unsigned *len)
{
	*len = 20;
	if (!EVP_Digest(p, n, out, len, EVP_sha1(), NULL))
		*len = 0;
}
