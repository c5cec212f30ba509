/* test_path.c: view names (scrub, hash, keep). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../unit/dd_test.h"
#include "dd_path.h"

static const uint8_t key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

static void test_scrub(void)
{
	struct dd_pseudo ps;
	struct dd_path_cfg cfg = {.mode = DD_PATH_SCRUB, .pseudo = &ps};
	char out[DD_PATH_NAME_MAX + 1], out2[DD_PATH_NAME_MAX + 1];
	static const struct {
		const char *in;
		bool is_dir;
		const char *must_keep[4];
		const char *must_drop[4];
	} rows[] = {
		{"DOE_JOHN_12345678", true, {"_"}, {"DOE", "JOHN", "12345678"}},
		{"20190304_CT", true, {"_CT"}, {"20190304", "2019"}},
		{"CT_CHEST_AX_001.dcm", false, {"CT_CHEST_AX_001.dcm"}, {NULL}},
		{"MÜLLER^JÖRG.dcm", false, {".dcm"}, {"MÜLLER", "JÖRG"}},
		{"Patient-Smith.json", false, {"Patient-", ".json"}, {"Smith"}},
		{"SE2_T1_MPRAGE", true, {"SE2_T1_MPRAGE"}, {NULL}},
		{"DOE.JOHN", false, {"."}, {"DOE", "JOHN"}},       /* no ext */
		{"IM0001234.dcm", false, {"IM", ".dcm"}, {"0001234"}},
		{"a.b.c", false, {"."}, {NULL}},
	};

	dd_pseudo_init(&ps, key, 32);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		EXPECT_EQ_INT(dd_path_name(&cfg, rows[i].in, rows[i].is_dir, out),
			      DD_OK);
		for (int k = 0; k < 4 && rows[i].must_keep[k]; k++)
			if (!strstr(out, rows[i].must_keep[k])) {
				fprintf(stderr, "  %s -> %s: lost \"%s\"\n",
					rows[i].in, out, rows[i].must_keep[k]);
				EXPECT(0);
			}
		for (int k = 0; k < 4 && rows[i].must_drop[k]; k++)
			if (contains_ci(out, rows[i].must_drop[k])) {
				fprintf(stderr, "  %s -> %s: kept \"%s\"\n",
					rows[i].in, out, rows[i].must_drop[k]);
				EXPECT(0);
			}
		/* deterministic */
		dd_path_name(&cfg, rows[i].in, rows[i].is_dir, out2);
		EXPECT_EQ_STR(out, out2);
	}
	/* the same token gets the same pseudonym in different names */
	{
		char a[256], b[256];

		dd_path_name(&cfg, "DOE_1", true, a);
		dd_path_name(&cfg, "DOE_2", true, b);
		EXPECT(strncmp(a, b, 8) == 0);
		EXPECT(strcmp(a, b) != 0);
	}
	/* different names do not collide */
	{
		char a[256], b[256];

		dd_path_name(&cfg, "SMITH", true, a);
		dd_path_name(&cfg, "SMYTH", true, b);
		EXPECT(strcmp(a, b) != 0);
	}
	/* user allowlist */
	{
		char smith[] = "Smith";
		char *words[] = {smith};
		struct dd_strv allow = {.v = words, .n = 1};

		cfg.allowlist = &allow;
		dd_path_name(&cfg, "SMITH_LAB", true, out);
		EXPECT(strncmp(out, "SMITH_", 6) == 0);
		cfg.allowlist = NULL;
	}
	/* invalid names */
	EXPECT_EQ_INT(dd_path_name(&cfg, "", false, out), DD_E_INVAL);
	EXPECT_EQ_INT(dd_path_name(&cfg, "..", false, out), DD_E_INVAL);
	EXPECT_EQ_INT(dd_path_name(&cfg, "a/b", false, out), DD_E_INVAL);
	/* very long names fall back to a hash and stay within NAME_MAX */
	{
		char longname[256];

		for (int i = 0; i < 250; i += 2) {
			longname[i] = 'A' + (char)(i % 26);
			longname[i + 1] = '_';
		}
		longname[250] = 0;
		EXPECT_EQ_INT(dd_path_name(&cfg, longname, false, out), DD_OK);
		EXPECT(strlen(out) <= DD_PATH_NAME_MAX);
		EXPECT(out[0] == 'h');
	}
}

static void test_modes(void)
{
	struct dd_pseudo ps, ps2;
	struct dd_path_cfg cfg = {.mode = DD_PATH_HASH, .pseudo = &ps};
	char out[256], out2[256];

	dd_pseudo_init(&ps, key, 32);
	/* note: HMAC zero-pads keys, so key[0..16) equals a 32-byte key
	 * ending in zeros; use a really different key */
	dd_pseudo_init(&ps2, key + 1, 16);
	EXPECT_EQ_INT(dd_path_name(&cfg, "CT_CHEST.dcm", false, out), DD_OK);
	EXPECT(out[0] == 'h' && strlen(out) == 13 + 4);
	EXPECT(strcmp(out + 13, ".dcm") == 0);
	cfg.pseudo = &ps2; /* another key, another name */
	dd_path_name(&cfg, "CT_CHEST.dcm", false, out2);
	EXPECT(strcmp(out, out2) != 0);
	cfg.mode = DD_PATH_KEEP;
	EXPECT_EQ_INT(dd_path_name(&cfg, "DOE_JOHN", true, out), DD_OK);
	EXPECT_EQ_STR(out, "DOE_JOHN");
	/* allowlist basics */
	EXPECT(dd_path_token_allowed("ct", 2));
	EXPECT(dd_path_token_allowed("123", 3));
	EXPECT(!dd_path_token_allowed("1234", 4));
	EXPECT(!dd_path_token_allowed("J", 1));
	EXPECT(!dd_path_token_allowed("JOHN", 4));
}

int main(void)
{
	test_scrub();
	test_modes();
	return dd_test_done("test_path");
}
