/* dd_policy_key.c: finding, reading and generating the key.
 *
 * Precedence (dd_policy.h, docs/policy.md): deidfs.cryptoKey, deidfs.keyFile,
 * the caller's override file, the first cryptoKey of a cryptoHashConfig or
 * dateShiftConfig in the policy, the default key file (generated once when
 * allowed).  Only the default key file is ever generated: a key file the
 * user named must exist, so a typo cannot silently start a new key (and
 * new pseudonyms).  Key bytes never reach a message or a log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "dd_policy_i.h"

#define KEY_FILE_MAX 256

static void pk_msg(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pk_msg(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

char *dd_policy_default_key_file(void)
{
	const char *e = getenv("DEIDFS_KEY_FILE");
	char *out = NULL;

	if (e && *e)
		return strdup(e);
	e = getenv("XDG_CONFIG_HOME");
	if (e && *e == '/') {
		if (asprintf(&out, "%s/deidfs/key", e) < 0)
			return NULL;
		return out;
	}
	e = getenv("HOME");
	if (e && *e) {
		if (asprintf(&out, "%s/.config/deidfs/key", e) < 0)
			return NULL;
		return out;
	}
	return NULL;
}

/* Read the key in @file.  *missing is set (and nothing reported) when
 * the file does not exist. */
static dd_err pk_read(const char *file, struct dd_key *key, bool *missing,
		      char *errbuf, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1], *start;
	struct stat st;
	size_t n = 0, len;
	ssize_t r;
	dd_err err = DD_E_KEY;
	int fd;

	*missing = false;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = true;
			pk_msg(errbuf, errlen, "key file %s does not exist", file);
		} else {
			pk_msg(errbuf, errlen, "key file %s: %s", file,
			       strerror(errno));
		}
		return DD_E_KEY;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pk_msg(errbuf, errlen, "key file %s is not a regular file", file);
		goto out_close;
	}
	if (st.st_mode & 077) {
		pk_msg(errbuf, errlen,
		       "key file %s is accessible to group or others (mode %04o); the key must be private (expected mode 0600: chmod 600 %s)",
		       file, (unsigned)(st.st_mode & 07777), file);
		goto out_close;
	}
	while (n < sizeof(buf) - 1) {
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pk_msg(errbuf, errlen, "key file %s: %s", file,
			       strerror(errno));
			goto out_wipe;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n >= KEY_FILE_MAX) {
		pk_msg(errbuf, errlen, "key file %s is too long (expected one line of base64)",
		       file);
		goto out_wipe;
	}
	buf[n] = 0;
	while (n && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = 0;
	start = buf + strspn(buf, " \t\r\n");
	if (!pol_b64_decode(start, key->bytes, sizeof(key->bytes), &len) ||
	    (len != 16 && len != 24 && len != 32)) {
		pk_msg(errbuf, errlen,
		       "key file %s does not hold a key (expected one line with the base64 of 16, 24 or 32 bytes)",
		       file);
		OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
		goto out_wipe;
	}
	key->len = len;
	key->file = strdup(file);
	err = key->file ? DD_OK : DD_E_NOMEM;
out_wipe:
	OPENSSL_cleanse(buf, sizeof(buf));
out_close:
	close(fd);
	return err;
}

/* mkdir -p of the directory part of @file; new directories get 0700. */
static int pk_mkdirs(const char *file)
{
	char *d = strdup(file), *p;
	int rc = 0;

	if (!d)
		return -1;
	p = strrchr(d, '/');
	if (!p || p == d) {
		free(d);
		return 0;
	}
	*p = 0;
	for (p = d + 1; rc == 0; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char save = *p;

		*p = 0;
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			rc = -1;
		*p = save;
		if (!save)
			break;
	}
	free(d);
	return rc;
}

static dd_err pk_generate(const char *file, struct dd_key *key, char *errbuf,
			  size_t errlen)
{
	char line[64];
	size_t n, off = 0;
	ssize_t w;
	int fd, e;
	bool missing;

	if (pk_mkdirs(file) < 0) {
		pk_msg(errbuf, errlen, "cannot create the directory of key file %s: %s",
		       file, strerror(errno));
		return DD_E_KEY;
	}
	if (RAND_bytes(key->bytes, 32) != 1) {
		pk_msg(errbuf, errlen, "no random bytes for a new key");
		return DD_E_KEY;
	}
	key->len = 32;
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 && errno == EEXIST) {
		/* another process made it first: use theirs */
		OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
		return pk_read(file, key, &missing, errbuf, errlen);
	}
	if (fd < 0) {
		pk_msg(errbuf, errlen, "cannot create key file %s: %s", file,
		       strerror(errno));
		OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
		return DD_E_KEY;
	}
	pol_b64_encode(key->bytes, 32, line);
	n = strlen(line);
	line[n++] = '\n';
	e = fchmod(fd, 0600);
	while (e == 0 && off < n) {
		w = write(fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = -1;
			break;
		}
		off += (size_t)w;
	}
	if (e == 0)
		e = fsync(fd);
	OPENSSL_cleanse(line, sizeof(line));
	if (close(fd) < 0)
		e = -1;
	if (e) {
		pk_msg(errbuf, errlen, "cannot write key file %s: %s", file,
		       strerror(errno));
		unlink(file);
		OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
		return DD_E_KEY;
	}
	key->file = strdup(file);
	return key->file ? DD_OK : DD_E_NOMEM;
}

/* The first inline cryptoKey of the policy, in document order of the
 * resolved model: text transformations, then fhirFieldConfig options
 * (cryptoHashConfig, dateShiftConfig). */
static const struct dd_inline_key *pk_inline(const struct dd_policy *p)
{
	size_t i;

	for (i = 0; i < p->text.n_transforms; i++)
		if (p->text.transforms[i].key.present)
			return &p->text.transforms[i].key;
	if (p->fhir.crypto_hash_key.present)
		return &p->fhir.crypto_hash_key;
	if (p->fhir.date_shift_key.present)
		return &p->fhir.date_shift_key;
	return NULL;
}

dd_err dd_policy_key_load(const struct dd_policy *p, const char *override_file,
			  bool may_generate, struct dd_key *key,
			  char *errbuf, size_t errlen)
{
	const struct dd_inline_key *ik = NULL;
	char *def;
	bool missing;
	dd_err err;

	if (!key)
		return DD_E_INVAL;
	memset(key, 0, sizeof(*key));
	if (errbuf && errlen)
		errbuf[0] = 0;
	if (!p)
		return DD_E_INVAL;
	if (p->deidfs.key.present)
		ik = &p->deidfs.key;
	else if (p->deidfs.key_file || override_file)
		ik = NULL;
	else
		ik = pk_inline(p);
	if (ik) {
		memcpy(key->bytes, ik->bytes, ik->len);
		key->len = ik->len;
		key->origin = DD_KEY_POLICY;
		goto out_fingerprint;
	}
	if (p->deidfs.key_file || override_file) {
		err = pk_read(p->deidfs.key_file ? p->deidfs.key_file
						 : override_file,
			      key, &missing, errbuf, errlen);
		if (err)
			goto out_clear;
		key->origin = DD_KEY_FILE;
		goto out_fingerprint;
	}
	def = dd_policy_default_key_file();
	if (!def) {
		pk_msg(errbuf, errlen, "no key: neither DEIDFS_KEY_FILE, XDG_CONFIG_HOME nor HOME is set (expected deidfs.keyFile or --key-file)");
		return DD_E_KEY;
	}
	err = pk_read(def, key, &missing, errbuf, errlen);
	key->origin = DD_KEY_FILE;
	if (err && missing && may_generate) {
		if (errbuf && errlen)
			errbuf[0] = 0;
		err = pk_generate(def, key, errbuf, errlen);
		key->origin = DD_KEY_GENERATED;
	} else if (err && missing) {
		pk_msg(errbuf, errlen, "no key: the default key file %s does not exist and may not be generated here (expected deidfs.keyFile, --key-file, or a first run that generates it)",
		       def);
	}
	free(def);
	if (err)
		goto out_clear;
out_fingerprint:
	pol_key_fingerprint(key->bytes, key->len, key->fingerprint);
	return DD_OK;
out_clear:
	dd_key_clear(key);
	return err;
}

void dd_key_clear(struct dd_key *key)
{
	if (!key)
		return;
	free(key->file);
	OPENSSL_cleanse(key, sizeof(*key));
}
