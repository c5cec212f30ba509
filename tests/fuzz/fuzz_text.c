/* fuzz_text.c: fuzz target for the free-text detector (dd_text_find and
 * dd_text_clean: text from DICOM tags, FHIR fields and OCR is outside
 * input).
 *
 * Input: lines before the first empty line are contextual values, the
 * first byte of each choosing its type (name, identifier, date, address);
 * the rest is the text.  The spans must be sorted, non-overlapping and
 * inside the text; clean runs under three configurations (BASIC with a
 * shift, characterMask with a multi-byte mask, cryptoHash).  Everything is
 * freed, so leaks show under ASan.
 *
 * Driven by fuzz_main.c or libFuzzer (fuzz.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "dd_text.h"


static unsigned long fz_inputs, fz_spans;

static void fz_check_spans(const struct dd_text *t, const struct dd_text_ctx *c,
			   const char *s, size_t n)
{
	struct dd_text_span *sp = NULL;
	size_t ns = 0;

	if (dd_text_find(t, c, s, n, &sp, &ns) != DD_OK)
		return;
	for (size_t i = 0; i < ns; i++) {
		if (sp[i].start >= sp[i].end || sp[i].end > n ||
		    (i && sp[i].start < sp[i - 1].end) ||
		    !dd_info_type_name(sp[i].type)) {
			fprintf(stderr, "bad span %zu: [%zu, %zu)\n", i, sp[i].start, sp[i].end);
			abort();
		}
	}
	fz_spans += ns;
	free(sp);
}

static void fz_clean(const struct dd_policy_text *cfg, const struct dd_pseudo *ps,
		     const struct dd_text_ctx *c, const char *s, size_t n, unsigned flags)
{
	struct dd_text *t = NULL;
	struct dd_buf out;

	if (dd_text_new(cfg, ps, &t) != DD_OK)
		return;
	dd_buf_init(&out, 1u << 24);
	(void)dd_text_clean(t, c, s, n, flags, &out);
	dd_buf_free(&out);
	dd_text_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dd_info_type ctx_types[4] = { DD_IT_PERSON_NAME,
		DD_IT_MEDICAL_RECORD_NUMBER, DD_IT_DATE, DD_IT_STREET_ADDRESS };
	const char *s = (const char *)data;
	struct dd_text_ctx *c = NULL;
	struct dd_text *t = NULL;
	struct dd_text_transform tx = { 0 };
	struct dd_policy_text cfg = { .present = true, .transforms = &tx, .n_transforms = 1 };
	struct dd_pseudo ps;
	uint8_t key[32] = { 1, 2, 3 };
	size_t i = 0;

	fz_inputs++;
	if (dd_text_ctx_new(&c) != DD_OK)
		return 0;
	/* contextual lines up to the first empty line */
	while (i < size) {
		const char *nl = memchr(s + i, '\n', size - i);
		size_t e = nl ? (size_t)(nl - s) : size;

		if (e == i) {
			i++;
			break;
		}
		if (!nl) /* no empty line: everything is text */
			break;
		(void)dd_text_ctx_add(c, ctx_types[(uint8_t)s[i] & 3], s + i + 1, e - i - 1);
		i = e + 1;
	}
	if (!memchr(s, '\n', size))
		i = 0;
	dd_text_ctx_set_shift(c, size & 1 ? -17 : 400);
	dd_pseudo_init(&ps, key, sizeof(key));
	if (dd_text_new(NULL, &ps, &t) == DD_OK) {
		fz_check_spans(t, c, s + i, size - i);
		fz_check_spans(t, NULL, s + i, size - i);
		dd_text_free(t);
	}
	fz_clean(NULL, &ps, c, s + i, size - i, DD_TEXT_CTX_TOKEN);
	tx.kind = DD_TX_CHARACTER_MASK;
	strcpy(tx.mask_char, "\xe2\x80\xa2");
	fz_clean(&cfg, &ps, c, s + i, size - i, 0);
	tx.kind = DD_TX_CRYPTO_HASH;
	fz_clean(&cfg, &ps, c, s + i, size - i, 0);
	dd_pseudo_clear(&ps);
	dd_text_ctx_free(c);
	return 0;
}

void dd_fuzz_done(void)
{
	fprintf(stderr, "fuzz_text: %lu inputs, %lu spans\n", fz_inputs, fz_spans);
}
