/* dd_b64.h: the base64 alphabet, shared by the decoders that need their
 * own rules (strict canonical keys in policy/, lenient FHIR attachments in
 * deid/).  Pure; thread-safe. */
#ifndef DD_B64_H
#define DD_B64_H

#ifdef __cplusplus
extern "C" {
#endif

/* The 6-bit value of base64 symbol @c, accepting both the standard
 * ("+/") and the URL-safe ("-_") alphabet; -1 for anything else,
 * padding '=' included. */
static inline int dd_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

#ifdef __cplusplus
}
#endif
#endif /* DD_B64_H */
