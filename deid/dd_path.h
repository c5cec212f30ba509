/* dd_path.h: view names for source names.
 *
 * File and directory names carry PHI ("DOE_JOHN_12345678/20190304_CT").
 * A view name depends only on (source name, key, policy): never on the
 * file's content or on other names, so it can be computed from one readdir
 * entry.  Modes (deidfs.pathMode):
 *   scrub (default): the name is split into tokens at [_ .-] and case
 *     changes are kept; allowlisted tokens (modalities, body parts, common
 *     series and file words, numbers of <= 3 digits, the extension, and
 *     deidfs.pathAllowlist) stay; every other token, dates included, becomes
 *     a short keyed pseudonym ("p" + 7 base32 characters).
 *   hash: the whole name becomes a keyed pseudonym; the extension is kept.
 *   keep: the name is kept (the user says names hold no PHI).
 * Names starting with '.' are hidden by dd_view (not here).
 * Pure functions; thread-safe.
 */
#ifndef DD_PATH_H
#define DD_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "dd_err.h"
#include "dd_policy.h"
#include "dd_pseudo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest view name produced (fits NAME_MAX). */
#define DD_PATH_NAME_MAX 255

struct dd_path_cfg {
	enum dd_path_mode mode;
	const struct dd_strv *allowlist; /* extra tokens, may be NULL */
	const struct dd_pseudo *pseudo;
};

/* The view name of one name component @name (no '/').  @out holds
 * DD_PATH_NAME_MAX + 1 bytes.  DD_E_INVAL for "", ".", "..", or names with
 * '/' or NUL.  @is_dir: directories keep no extension. */
dd_err dd_path_name(const struct dd_path_cfg *cfg, const char *name,
		    bool is_dir, char *out);

/* True if @token (ASCII, any case) is on the built-in allowlist. */
bool dd_path_token_allowed(const char *token, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* DD_PATH_H */
