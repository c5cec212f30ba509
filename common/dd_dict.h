/* dd_dict.h: the DICOM data dictionary (tag <-> keyword <-> VR).
 *
 * Generated at build time from DCMTK's dicom.dic merged with the keywords of
 * PS3.15 Table E.1-1 (data/README.md).  Repeating groups (50xx, 60xx, 7Fxx)
 * are stored once with their group mask.  Pure lookups, no I/O, no state:
 * safe from any thread.
 */
#ifndef DD_DICT_H
#define DD_DICT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A tag is (group << 16) | element. */
#define DD_TAG(g, e) ((uint32_t)(((uint32_t)(g) << 16) | (uint32_t)(e)))
#define DD_TAG_GROUP(t) ((uint16_t)((t) >> 16))
#define DD_TAG_ELEM(t) ((uint16_t)((t)&0xffff))

struct dd_dict_entry {
	uint32_t tag;        /* lowest tag of the entry (e.g. 0x60000010) */
	uint32_t group_mask; /* 0xffff0000 for plain tags, 0xff000000 (and the
				parity rule) for repeating groups */
	char vr[3];          /* two letters; "xs", "ox", "up", "na", "lt", "px"
				are dcmtk's ambiguous VRs */
	const char *keyword; /* CamelCase keyword, never NULL */
};

/* The entry for @tag, or NULL.  Repeating groups match any even group in
 * their range (6000-60FF -> 6002, 6004, ...). */
const struct dd_dict_entry *dd_dict_find_tag(uint32_t tag);
/* The entry for @keyword (case-sensitive, as the standard spells it). */
const struct dd_dict_entry *dd_dict_find_keyword(const char *keyword);
/* Number of entries, and the i-th (for tests and enumeration). */
unsigned dd_dict_count(void);
const struct dd_dict_entry *dd_dict_at(unsigned i);

#ifdef __cplusplus
}
#endif
#endif /* DD_DICT_H */
