/* dd_err.c: message table for dd_err. */
#include <errno.h>
#include <stddef.h>

#include "dd_err.h"

static const struct {
	const char *name;
	const char *msg;
	int errnum;
} dd_err_tab[DD_E_LAST] = {
	[DD_OK] = {"DD_OK", "DD_OK: success", 0},
	[DD_E_NOMEM] = {"DD_E_NOMEM", "DD_E_NOMEM: out of memory", ENOMEM},
	[DD_E_IO] = {"DD_E_IO", "DD_E_IO: input/output error", EIO},
	[DD_E_INVAL] = {"DD_E_INVAL", "DD_E_INVAL: invalid argument", EINVAL},
	[DD_E_POLICY] = {"DD_E_POLICY", "DD_E_POLICY: invalid policy", EINVAL},
	[DD_E_KEY] = {"DD_E_KEY", "DD_E_KEY: key missing or invalid", EACCES},
	[DD_E_PARSE] = {"DD_E_PARSE", "DD_E_PARSE: input could not be parsed", EIO},
	[DD_E_NOT_CLAIMED] = {"DD_E_NOT_CLAIMED",
		"DD_E_NOT_CLAIMED: no engine claims the file", ENOENT},
	[DD_E_UNSUPPORTED] = {"DD_E_UNSUPPORTED",
		"DD_E_UNSUPPORTED: input not supported by the engine", EIO},
	[DD_E_LIMIT] = {"DD_E_LIMIT", "DD_E_LIMIT: work limit exceeded", EIO},
	[DD_E_TIMEOUT] = {"DD_E_TIMEOUT", "DD_E_TIMEOUT: time limit exceeded", EIO},
	[DD_E_CHANGED] = {"DD_E_CHANGED", "DD_E_CHANGED: source file changed", EIO},
	[DD_E_CORRUPT] = {"DD_E_CORRUPT", "DD_E_CORRUPT: checksum mismatch", EIO},
	[DD_E_NOTFOUND] = {"DD_E_NOTFOUND", "DD_E_NOTFOUND: no such entry", ENOENT},
	[DD_E_EXISTS] = {"DD_E_EXISTS", "DD_E_EXISTS: entry exists", EEXIST},
	[DD_E_COLLISION] = {"DD_E_COLLISION",
		"DD_E_COLLISION: two names map to one view name", ENOENT},
	[DD_E_RANGE] = {"DD_E_RANGE", "DD_E_RANGE: value out of range", ERANGE},
	[DD_E_INTERNAL] = {"DD_E_INTERNAL", "DD_E_INTERNAL: internal error", EIO},
};

static int dd_err_valid(dd_err err)
{
	return (unsigned)err < DD_E_LAST && dd_err_tab[err].name != NULL;
}

const char *dd_strerror(dd_err err)
{
	return dd_err_valid(err) ? dd_err_tab[err].msg
				 : "DD_E_UNKNOWN: unknown error code";
}

const char *dd_err_name(dd_err err)
{
	return dd_err_valid(err) ? dd_err_tab[err].name : "DD_E_UNKNOWN";
}

int dd_err_to_errno(dd_err err)
{
	return dd_err_valid(err) ? dd_err_tab[err].errnum : EIO;
}
