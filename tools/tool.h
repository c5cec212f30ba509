/* tool.h: shared pieces of the `deid` subcommands (tools/ only). */
#ifndef DD_TOOL_H
#define DD_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dd_policy.h"
#include "dd_view.h"

/* Exit codes of every subcommand. */
enum {
	DD_EXIT_OK = 0,
	DD_EXIT_FAIL = 1,   /* an error, or files hidden for an error reason */
	DD_EXIT_USAGE = 2,  /* bad command line */
	DD_EXIT_HIDDEN = 3, /* `deid file`: the file is hidden (not an error) */
};

/* Where the policy comes from: -p FILE or --preset NAME (default:
 * the built-in "default"). */
struct dd_tool_policy_opts {
	const char *file;
	const char *preset;
	const char *key_file;
	const char *src_dir; /* source root for the FHIR patient index */
	bool quiet;          /* no index progress lines */
	/* check at start that OCR can run when the policy may need it
	 * (dd_ocr_check: a forked child loads the model, ~0.1 s) */
	bool check_ocr;
};

/* Load the policy, printing every diagnostic to stderr.  Returns NULL on
 * error (after printing why). */
struct dd_policy *dd_tool_load_policy(const struct dd_tool_policy_opts *o);

/* Load policy + build the view (key loaded or generated).  Prints errors. */
struct dd_view *dd_tool_open_view(const struct dd_tool_policy_opts *o,
				  struct dd_policy **pol_out);

/* A bounded path builder (no fixed 1024-byte strcat). */
struct dd_pathbuf {
	char *p;
	size_t len, cap;
};
bool dd_pathbuf_init(struct dd_pathbuf *b, const char *root);
/* Append "/" + @name; returns the previous length (for pop), or (size_t)-1
 * if it would pass PATH_MAX. */
size_t dd_pathbuf_push(struct dd_pathbuf *b, const char *name);
void dd_pathbuf_pop(struct dd_pathbuf *b, size_t prev_len);
void dd_pathbuf_free(struct dd_pathbuf *b);

/* mkdir -p with @mode. */
int dd_tool_mkdirs(const char *path, unsigned mode);

/* Subcommands */
int dd_tool_file_main(int argc, char **argv);
int dd_tool_materialize_main(int argc, char **argv);
int dd_tool_policy_main(int argc, char **argv);
int dd_tool_cache_main(int argc, char **argv);
int dd_tool_report_main(int argc, char **argv);
int dd_tool_index_main(int argc, char **argv);

#endif /* DD_TOOL_H */
