/* dd_dict.c: binary searches over the generated tables. */
#include <stddef.h>
#include <string.h>

#include "dd_dict.h"

extern const struct dd_dict_entry dd_dict_table[];
extern const unsigned dd_dict_table_len;
extern const unsigned short dd_dict_by_keyword[];

static const struct dd_dict_entry *dd_dict_bsearch_tag(uint32_t tag)
{
	unsigned lo = 0, hi = dd_dict_table_len;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (dd_dict_table[mid].tag < tag)
			lo = mid + 1;
		else if (dd_dict_table[mid].tag > tag)
			hi = mid;
		else
			return &dd_dict_table[mid];
	}
	return NULL;
}

const struct dd_dict_entry *dd_dict_find_tag(uint32_t tag)
{
	const struct dd_dict_entry *e = dd_dict_bsearch_tag(tag);
	uint16_t g = DD_TAG_GROUP(tag);

	if (e)
		return e;
	/* repeating groups: 50xx, 60xx (even groups only) */
	if ((g & 1) == 0 && ((g & 0xff00) == 0x5000 || (g & 0xff00) == 0x6000)) {
		e = dd_dict_bsearch_tag((tag & 0xff00ffff));
		if (e && e->group_mask == 0xff000000)
			return e;
	}
	return NULL;
}

const struct dd_dict_entry *dd_dict_find_keyword(const char *keyword)
{
	unsigned lo = 0, hi = dd_dict_table_len;

	if (!keyword)
		return NULL;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct dd_dict_entry *e =
			&dd_dict_table[dd_dict_by_keyword[mid]];
		int c = strcmp(e->keyword, keyword);

		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else
			return e;
	}
	return NULL;
}

unsigned dd_dict_count(void)
{
	return dd_dict_table_len;
}

const struct dd_dict_entry *dd_dict_at(unsigned i)
{
	return i < dd_dict_table_len ? &dd_dict_table[i] : NULL;
}
