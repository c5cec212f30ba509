/* dd_log.h: the one logging path of deidfs.
 *
 * Callers never pass PHI: a source path is logged only through its
 * pseudonymised form (dd_view gives it), values never.  Messages go to
 * stderr by default, or to syslog after dd_log_to_syslog().  Thread-safe:
 * each message is written with one write(2)/syslog(3) call.
 */
#ifndef DD_LOG_H
#define DD_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum dd_log_level {
	DD_LOG_ERR = 3,
	DD_LOG_WARN = 4,
	DD_LOG_INFO = 6,
	DD_LOG_DEBUG = 7,
};

/* Messages above @level are dropped (default DD_LOG_WARN). */
void dd_log_set_level(enum dd_log_level level);
enum dd_log_level dd_log_get_level(void);
/* Route messages to syslog(3) with @ident (daemon mode). */
void dd_log_to_syslog(const char *ident);
/* Log one line (a newline is added). */
void dd_log(enum dd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* DD_LOG_H */
