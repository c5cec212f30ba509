/* dd_err.h: the one error enum shared by every deidfs library.
 *
 * Every function that can fail returns a dd_err; DD_OK (0) is success.
 * Results go to out-parameters.  Codes are never OR-ed together.
 * dd_strerror() returns a static message that starts with the constant's
 * name, so a log line tells which code fired (as LMDB's mdb_strerror does).
 * The FUSE front end converts a code to an errno in exactly one place
 * (dd_err_to_errno()).
 *
 * Thread safety: all functions here are pure and may be called from any
 * thread.
 */
#ifndef DD_ERR_H
#define DD_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dd_err {
	DD_OK = 0,          /* success */
	DD_E_NOMEM,         /* an allocation failed */
	DD_E_IO,            /* a read, write, open or stat failed (errno kept by caller) */
	DD_E_INVAL,         /* a caller passed an invalid argument */
	DD_E_POLICY,        /* the policy file is invalid (see the diagnostics) */
	DD_E_KEY,           /* the key is missing, unreadable or malformed */
	DD_E_PARSE,         /* input bytes could not be parsed */
	DD_E_NOT_CLAIMED,   /* no engine claims the file: it is hidden */
	DD_E_UNSUPPORTED,   /* valid input that this engine cannot transform */
	DD_E_LIMIT,         /* a count-based work limit (bytes, depth, frames) was hit */
	DD_E_TIMEOUT,       /* a wall-clock limit was hit: counted failure, file hidden */
	DD_E_CHANGED,       /* the source file changed under us (identity mismatch) */
	DD_E_CORRUPT,       /* a cache record or file failed its checksum */
	DD_E_NOTFOUND,      /* no such entry (cache miss, unknown name) */
	DD_E_EXISTS,        /* the entry already exists */
	DD_E_COLLISION,     /* two source names map to one view name: both hidden */
	DD_E_RANGE,         /* a value is out of its allowed range */
	DD_E_INTERNAL,      /* a bug or an unexpected library failure */
	DD_E_LAST           /* not an error: one past the last code */
} dd_err;

/* The message for @err ("DD_E_PARSE: input could not be parsed").
 * Unknown values give "DD_E_UNKNOWN: unknown error code".  Never NULL;
 * the string is static. */
const char *dd_strerror(dd_err err);

/* The constant's name alone ("DD_E_PARSE"); static, never NULL. */
const char *dd_err_name(dd_err err);

/* The errno a FUSE reply should carry for @err (EIO, ENOENT, ENOMEM, ...).
 * DD_OK maps to 0. */
int dd_err_to_errno(dd_err err);

#ifdef __cplusplus
}
#endif
#endif /* DD_ERR_H */
