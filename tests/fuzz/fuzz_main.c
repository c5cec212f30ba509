/* fuzz_main.c: the standalone driver of every fuzz target (see fuzz.h).
 * Runs the target over each file named, recursing into directories (dot
 * files skipped); an unreadable path or an empty corpus is a failure. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* optional in a target */
void dd_fuzz_done(void) __attribute__((weak));

static unsigned long fm_inputs;

static int fm_run(const char *path)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "fuzz: %s: cannot open\n", path);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = fdopendir(fd);
		struct dirent *de;
		int rc = 0;

		if (!d) {
			close(fd);
			return 1;
		}
		while ((de = readdir(d))) {
			char *sub;

			if (de->d_name[0] == '.')
				continue;
			if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
				return 1;
			rc |= fm_run(sub);
			free(sub);
		}
		closedir(d);
		return rc;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n >= 0) {
		/* an exact-size copy, so ASan sees reads past the input */
		uint8_t *exact = malloc(n ? (size_t)n : 1);

		if (exact) {
			for (ssize_t i = 0; i < n; i++)
				exact[i] = buf[i];
			LLVMFuzzerTestOneInput(exact, (size_t)n);
			fm_inputs++;
		}
		free(exact);
	}
	free(buf);
	return n < 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++)
		rc |= fm_run(argv[i]);
	if (dd_fuzz_done)
		dd_fuzz_done();
	fprintf(stderr, "%s: %lu inputs\n", argv[0], fm_inputs);
	return rc || fm_inputs == 0;
}
