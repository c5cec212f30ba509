/* dd_ocr.h: OCR with tesseract's C API (capi.h), in a fixed pool of
 * worker threads.
 *
 * Each worker owns one TessBaseAPI, initialised once with "eng", the LSTM
 * engine only (the legacy engine's adaptive classifier learns from page to
 * page, so a word's result would depend on which pages the worker saw
 * before: not deterministic), dotproduct "generic" (the same arithmetic on
 * every CPU, so boxes match across machines), page segmentation "sparse
 * text" (PSM 11), preserve_interword_spaces 1, and debug_file /dev/null
 * (tesseract's messages never reach stderr; they could quote OCR'd text).
 * After every request the API is cleared, so a request's result depends
 * on its image only: 1 or 2 workers, any order, same words.
 *
 * The workers (threads named "deid-ocr", each with its model: 16-18 MiB)
 * start at the first dd_ocr_run(), not in dd_ocr_new(): a process whose
 * images never need OCR never loads tesseract's model.  A start that
 * fails fails that request and every later one (DD_E_INTERNAL, logged
 * once); programs that must learn of a broken tesseract install before
 * they serve anything call dd_ocr_check() at start-up.
 *
 * libgomp reads OMP_THREAD_LIMIT once, when it is loaded (before main(),
 * since tesseract links it).  dd_ocr_ensure_env() re-executes the program
 * with OMP_THREAD_LIMIT=1 when it is not set; dd_ocr_new() and
 * dd_ocr_check() refuse (DD_E_INVAL) without it.
 *
 * Nothing here logs OCR'd text.  Words are returned to the caller only.
 *
 * Threads: dd_ocr_run() may be called from any number of threads; requests
 * queue FIFO and the pool's workers take them in turn.
 */
#ifndef DD_OCR_H
#define DD_OCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"
#include "dd_image.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dd_ocr;

/* Call first thing in main() of every program that may OCR: when
 * OMP_THREAD_LIMIT is not "1", set it and execv("/proc/self/exe", argv).
 * Returns DD_OK when the environment is already right; on a failed exec,
 * DD_E_IO (the caller may go on: dd_ocr_new() will then refuse).  The
 * re-executed process is renamed from "exe" to argv[0]'s base name. */
dd_err dd_ocr_ensure_env(int argc, char **argv);

/* Can OCR run here?  Loads the model once the way a worker does, frees it
 * and trims the heap (what stays resident is in docs/internals/fs.md).
 * DD_OK, DD_E_INVAL without OMP_THREAD_LIMIT=1, DD_E_UNSUPPORTED when
 * tesseract cannot load "eng" (no or a bad eng.traineddata where it
 * looks: $TESSDATA_PREFIX, else its built-in directory), DD_E_NOMEM. */
dd_err dd_ocr_check(void);

/* What dd_ocr_check()'s @e means for a user who asked for burnt-in text
 * redaction, in one line (no program name, no newline) into @buf. */
void dd_ocr_check_message(dd_err e, char *buf, size_t n);

/* A pool of @workers (1..2) workers, started at the first dd_ocr_run().
 * DD_E_INVAL without OMP_THREAD_LIMIT=1 or with a bad count, DD_E_NOMEM.
 * Cheap: no thread, no model. */
dd_err dd_ocr_new(unsigned workers, struct dd_ocr **out);
/* Stop the workers (waiting for a running request) and free everything. */
void dd_ocr_free(struct dd_ocr *o);
/* Workers running: 0 before the first dd_ocr_run() and after a failed
 * start, else the pool's size. */
unsigned dd_ocr_workers_started(const struct dd_ocr *o);

/* An 8-bit grey image (0 black .. 255 white), borrowed for the call. */
struct dd_ocr_image {
	const uint8_t *px;
	uint32_t w, h;
	uint32_t stride;   /* bytes per row, >= w */
};

struct dd_ocr_word {
	struct dd_box box;  /* in the image's pixels */
	uint32_t line;      /* index of the text line, from 0, in reading order */
	float conf;         /* tesseract's confidence, 0..100 */
	uint32_t text_off;  /* UTF-8 text at res->text.data + text_off, */
	uint32_t text_len;  /* NUL-terminated */
};

/* Caller-allocated; dd_ocr_result_init() / dd_ocr_result_free(). */
struct dd_ocr_result {
	struct dd_ocr_word *v;   /* owned */
	size_t n, cap;
	struct dd_buf text;      /* owned: every word's text */
};
#define DD_OCR_MAX_WORDS 20000

void dd_ocr_result_init(struct dd_ocr_result *r);
void dd_ocr_result_free(struct dd_ocr_result *r);

/* A monotonic clock in milliseconds (CLOCK_MONOTONIC), for deadlines. */
uint64_t dd_ocr_now_ms(void);

/* OCR @img and append its words to @res.  @deadline_ms: absolute, on
 * dd_ocr_now_ms()'s clock; time spent queued counts.  DD_E_TIMEOUT when
 * the deadline passes (the words found so far are discarded: the caller
 * must hide the file, never use a partial result), DD_E_LIMIT over
 * DD_OCR_MAX_WORDS, DD_E_INTERNAL when tesseract fails or the workers
 * could not be started (now or at an earlier call; never
 * DD_E_UNSUPPORTED, which callers read as "these pixels cannot be
 * looked at"). */
dd_err dd_ocr_run(struct dd_ocr *o, const struct dd_ocr_image *img,
		  uint64_t deadline_ms, struct dd_ocr_result *res);

/* OCR requests made by this process so far (every dd_ocr_run() call,
 * whatever its outcome), for counters: the daemon reports it, and tests
 * check with it that a stat did not OCR. */
uint64_t dd_ocr_calls_total(void);

#ifdef __cplusplus
}
#endif
#endif /* DD_OCR_H */
