/* dd_log.c: stderr or syslog, one call per message. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "dd_log.h"

static enum dd_log_level dd_log_level_cur = DD_LOG_WARN;
static int dd_log_syslog;

void dd_log_set_level(enum dd_log_level level)
{
	dd_log_level_cur = level;
}

enum dd_log_level dd_log_get_level(void)
{
	return dd_log_level_cur;
}

void dd_log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	dd_log_syslog = 1;
}

void dd_log(enum dd_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {
		[DD_LOG_ERR] = "error", [DD_LOG_WARN] = "warning",
		[DD_LOG_INFO] = "info", [DD_LOG_DEBUG] = "debug",
	};
	char line[1024];
	va_list ap;
	int n, m;

	if (level > dd_log_level_cur)
		return;
	va_start(ap, fmt);
	if (dd_log_syslog) {
		vsyslog((int)level, fmt, ap);
		va_end(ap);
		return;
	}
	n = snprintf(line, sizeof(line), "deidfs: %s: ",
		     names[level] ? names[level] : "log");
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
