/* fuzz.h: what a fuzz target provides (tests/fuzz/).
 *
 * Each target defines LLVMFuzzerTestOneInput().  Built with libFuzzer
 * (-Dlibfuzzer=true, clang) it is driven by libFuzzer's main; otherwise
 * fuzz_main.c runs it once over every file of the corpus directories given
 * on the command line (meson test does this over tests/fuzz/corpus/NAME/).
 * A target with global state may define dd_fuzz_done(): it is called once
 * after the corpus, to print counts and free everything (so LeakSanitizer
 * sees no leak).  Every input must be freed inside the call. */
#ifndef DD_FUZZ_H
#define DD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void dd_fuzz_done(void);

#endif /* DD_FUZZ_H */
