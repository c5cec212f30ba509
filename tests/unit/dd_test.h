/* dd_test.h: a tiny assertion kit for unit tests (after squashfuse's
 * cachetest.c).  Each failed check prints file:line and the values, and the
 * test exits 1 at the end (dd_test_done) if any check failed. */
#ifndef DD_TEST_H
#define DD_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dd_test_failures;
static int dd_test_checks;

#define EXPECT(cond)                                                          \
	do {                                                                  \
		dd_test_checks++;                                             \
		if (!(cond)) {                                                \
			dd_test_failures++;                                   \
			fprintf(stderr, "%s:%d: EXPECT(%s) failed\n",         \
				__FILE__, __LINE__, #cond);                   \
		}                                                             \
	} while (0)

#define EXPECT_EQ_INT(a, b)                                                   \
	do {                                                                  \
		long long va_ = (long long)(a), vb_ = (long long)(b);         \
		dd_test_checks++;                                             \
		if (va_ != vb_) {                                             \
			dd_test_failures++;                                   \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, va_, #b, vb_);        \
		}                                                             \
	} while (0)

#define EXPECT_EQ_STR(a, b)                                                   \
	do {                                                                  \
		const char *sa_ = (a), *sb_ = (b);                            \
		dd_test_checks++;                                             \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                  \
			dd_test_failures++;                                   \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", \
				sb_ ? sb_ : "(null)");                        \
		}                                                             \
	} while (0)

static inline int dd_test_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, dd_test_checks,
		dd_test_failures);
	return dd_test_failures ? 1 : 0;
}

#endif /* DD_TEST_H */
