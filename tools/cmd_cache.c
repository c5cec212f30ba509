/* cmd_cache.c: `deid cache stats|verify|clear|dump`. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dd_cache.h"
#include "tool.h"

static void cc_usage(FILE *f)
{
	fprintf(f,
"usage: deid cache stats  [--cache-dir DIR] [--json]\n"
"       deid cache verify [--cache-dir DIR]\n"
"       deid cache clear  [--cache-dir DIR]\n"
"       deid cache dump   [--cache-dir DIR]\n"
"\n"
"stats   entries, space used against the cap, and the hit/miss/corrupt/\n"
"        eviction totals of every process that used the cache\n"
"verify  check every record's checksum, in a child process\n"
"        (exit 1 if anything is damaged)\n"
"clear   remove the cache contents (never key files; a generation still\n"
"        in use by a running process goes when that process closes it)\n"
"dump    list the records: keys in hex, header fields, sizes (no payload)\n"
"\n"
"The cache directory is --cache-dir, else $DEIDFS_CACHE_DIR, else\n"
"$XDG_CACHE_HOME/deidfs, else $HOME/.cache/deidfs.\n");
}

static void cc_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void cc_human_size(char *buf, size_t len, uint64_t n)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static int cc_stats(const char *dir, bool json)
{
	struct dd_cache_stats st;
	struct dd_cache *c = NULL;
	char err[DD_CACHE_ERRLEN], used[32], cap[32], file[32], map[32];
	dd_err e;

	e = dd_cache_open(dir, 0, DD_CACHE_RDONLY, &c, err, sizeof(err));
	if (e == DD_E_NOTFOUND) {
		if (json) {
			printf("{\"dir\": ");
			cc_json_str(dir);
			printf(", \"exists\": false}\n");
		} else {
			printf("no cache in %s\n", dir);
		}
		return DD_EXIT_OK;
	}
	if (e) {
		fprintf(stderr, "deid: %s\n", err);
		return DD_EXIT_FAIL;
	}
	e = dd_cache_stats(c, &st);
	dd_cache_close(c);
	if (e) {
		fprintf(stderr, "deid: cache stats: %s\n", dd_strerror(e));
		return DD_EXIT_FAIL;
	}
	if (json) {
		printf("{\"dir\": ");
		cc_json_str(dir);
		printf(", \"exists\": true, \"generation\": %" PRIu64
		       ", \"entries\": %" PRIu64 ", \"used_bytes\": %" PRIu64
		       ", \"size_cap\": %" PRIu64 ", \"file_bytes\": %" PRIu64
		       ", \"map_bytes\": %" PRIu64 ", \"page_size\": %" PRIu64
		       ", \"readers\": %" PRIu64 ", \"max_readers\": %" PRIu64
		       ", \"total_hits\": %" PRIu64 ", \"total_misses\": %"
		       PRIu64 ", \"total_corrupt\": %" PRIu64
		       ", \"total_evictions\": %" PRIu64 "}\n",
		       st.generation, st.entries, st.used_bytes, st.size_cap,
		       st.file_bytes, st.map_bytes, st.page_size, st.readers,
		       st.max_readers, st.total_hits, st.total_misses,
		       st.total_corrupt, st.total_evictions);
		return DD_EXIT_OK;
	}
	cc_human_size(used, sizeof(used), st.used_bytes);
	cc_human_size(cap, sizeof(cap), st.size_cap);
	cc_human_size(file, sizeof(file), st.file_bytes);
	cc_human_size(map, sizeof(map), st.map_bytes);
	printf("cache directory: %s\n"
	       "generation:      env.%" PRIu64 "\n"
	       "entries:         %" PRIu64 "\n"
	       "used:            %s of a %s cap (%.1f%%)\n"
	       "data file:       %s (map %s)\n"
	       "reader slots:    %" PRIu64 " of %" PRIu64 "\n"
	       "since creation:  %" PRIu64 " hits, %" PRIu64 " misses, %"
	       PRIu64 " dropped as corrupt, %" PRIu64 " evicted\n",
	       dir, st.generation, st.entries, used, cap,
	       st.size_cap ? 100.0 * (double)st.used_bytes /
			     (double)st.size_cap : 0.0,
	       file, map, st.readers, st.max_readers, st.total_hits,
	       st.total_misses, st.total_corrupt, st.total_evictions);
	return DD_EXIT_OK;
}

static int cc_verify(const char *dir)
{
	struct dd_cache_verify_report r;
	dd_err e;

	e = dd_cache_verify(dir, &r);
	if (e == DD_E_NOTFOUND) {
		printf("no cache in %s: nothing to verify\n", dir);
		return DD_EXIT_OK;
	}
	if (e) {
		fprintf(stderr, "deid: cache verify: %s%s%s\n", dd_strerror(e),
			r.message[0] ? ": " : "", r.message);
		return DD_EXIT_FAIL;
	}
	printf("%s\n", r.message);
	if (!r.child_signal && r.records + r.meta_ok + r.meta_bad)
		printf("records: %" PRIu64 " ok, %" PRIu64 " bad; meta: %"
		       PRIu64 " ok, %" PRIu64 " bad; stamps: %" PRIu64
		       " bad, %" PRIu64 " orphaned\n",
		       r.records_ok, r.records_bad, r.meta_ok, r.meta_bad,
		       r.lru_bad, r.lru_orphans);
	if (r.corrupt) {
		printf("the cache is damaged: run `deid cache clear` (a running "
		       "daemon keeps its generation until it stops)\n");
		return DD_EXIT_FAIL;
	}
	printf("ok\n");
	return DD_EXIT_OK;
}

static int cc_clear(const char *dir)
{
	unsigned removed = 0;
	dd_err e;

	e = dd_cache_clear(dir, &removed);
	if (e == DD_E_NOTFOUND) {
		printf("no cache in %s: nothing to clear\n", dir);
		return DD_EXIT_OK;
	}
	if (e) {
		fprintf(stderr, "deid: cache clear %s: %s\n", dir,
			dd_strerror(e));
		return DD_EXIT_FAIL;
	}
	printf("cleared %s (%u generation%s removed)\n", dir, removed,
	       removed == 1 ? "" : "s");
	return DD_EXIT_OK;
}

static int cc_dump(const char *dir)
{
	dd_err e = dd_cache_dump(dir, stdout);

	if (e) {
		fprintf(stderr, "deid: cache dump: %s\n", dd_strerror(e));
		return DD_EXIT_FAIL;
	}
	return DD_EXIT_OK;
}

int dd_tool_cache_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"cache-dir", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *sub, *dir_opt = NULL;
	char *dir;
	bool json = false;
	int c, ret;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cc_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? DD_EXIT_USAGE : DD_EXIT_OK;
	}
	sub = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir_opt = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			cc_usage(stdout);
			return DD_EXIT_OK;
		default:
			cc_usage(stderr);
			return DD_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (json && strcmp(sub, "stats") != 0)) {
		cc_usage(stderr);
		return DD_EXIT_USAGE;
	}
	dir = dir_opt ? strdup(dir_opt) : dd_cache_default_dir();
	if (!dir) {
		fprintf(stderr, "deid: no cache directory: set --cache-dir, "
			"DEIDFS_CACHE_DIR or HOME\n");
		return DD_EXIT_USAGE;
	}
	if (!strcmp(sub, "stats")) {
		ret = cc_stats(dir, json);
	} else if (!strcmp(sub, "verify")) {
		ret = cc_verify(dir);
	} else if (!strcmp(sub, "clear")) {
		ret = cc_clear(dir);
	} else if (!strcmp(sub, "dump")) {
		ret = cc_dump(dir);
	} else {
		fprintf(stderr, "deid cache: unknown command \"%s\"\n", sub);
		cc_usage(stderr);
		ret = DD_EXIT_USAGE;
	}
	free(dir);
	return ret;
}
