/* test_policy_key.c: dd_policy_key_load() - generation (mode 0600 in a
 * 0700 directory), reload, fingerprints, refusal of readable key files,
 * and the precedence of key sources.  Works in a private temporary
 * directory and points DEIDFS_KEY_FILE into it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/dd_test.h"
#include "dd_policy.h"

static char tmp[] = "/tmp/dd_key_test.XXXXXX";

static struct dd_policy *kt_load(const char *json)
{
	struct dd_policy *p = NULL;
	struct dd_diags d = {0};

	EXPECT_EQ_INT(dd_policy_load_buffer("k.json", json, strlen(json), &p, &d),
		      DD_OK);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  %s\n", d.v[i].message);
	dd_diags_free(&d);
	if (!p)
		exit(1);
	return p;
}

static void kt_write(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void t_generate(void)
{
	struct dd_policy *p = kt_load("{}");
	struct dd_key k = {0}, k2 = {0};
	char file[512], dirp[512], err[512], buf[128];
	struct stat st;
	FILE *f;
	size_t n;

	snprintf(file, sizeof(file), "%s/cfg/deidfs/key", tmp);
	snprintf(dirp, sizeof(dirp), "%s/cfg/deidfs", tmp);
	setenv("DEIDFS_KEY_FILE", file, 1);
	{
		char *def = dd_policy_default_key_file();

		EXPECT_EQ_STR(def, file);
		free(def);
	}

	/* no key yet, and not allowed to make one */
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, false, &k, err, sizeof(err)),
		      DD_E_KEY);
	EXPECT(strstr(err, file) != NULL);
	EXPECT(access(file, F_OK) != 0);

	/* generated */
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, true, &k, err, sizeof(err)),
		      DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_GENERATED);
	EXPECT_EQ_INT(k.len, 32);
	EXPECT_EQ_STR(k.file, file);
	EXPECT_EQ_INT(strlen(k.fingerprint), 21);
	EXPECT(!strncmp(k.fingerprint, "ddk1:", 5));
	EXPECT_EQ_INT(stat(file, &st), 0);
	EXPECT_EQ_INT(st.st_mode & 07777, 0600);
	EXPECT_EQ_INT(stat(dirp, &st), 0);
	EXPECT_EQ_INT(st.st_mode & 07777, 0700);
	f = fopen(file, "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	EXPECT_EQ_INT(n, 45); /* 44 base64 characters and a newline */
	EXPECT_EQ_INT(buf[44], '\n');

	/* reloaded: the same key */
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, true, &k2, err, sizeof(err)),
		      DD_OK);
	EXPECT_EQ_INT(k2.origin, DD_KEY_FILE);
	EXPECT(!memcmp(k.bytes, k2.bytes, 32));
	EXPECT_EQ_STR(k.fingerprint, k2.fingerprint);
	dd_key_clear(&k2);

	/* group-readable: refused, with the file named and no key bytes */
	chmod(file, 0640);
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, true, &k2, err, sizeof(err)),
		      DD_E_KEY);
	EXPECT(strstr(err, file) != NULL);
	EXPECT(strstr(err, "0640") != NULL);
	EXPECT(strstr(err, "chmod 600") != NULL);
	buf[44] = 0;
	EXPECT(strstr(err, buf) == NULL);
	EXPECT(k2.file == NULL && k2.len == 0);
	/* and never regenerated over it */
	chmod(file, 0600);
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, true, &k2, err, sizeof(err)),
		      DD_OK);
	EXPECT(!memcmp(k.bytes, k2.bytes, 32));
	dd_key_clear(&k2);
	dd_key_clear(&k);
	EXPECT_EQ_INT(k.len, 0);
	dd_policy_free(p);
}

static void t_fingerprint(void)
{
	/* sha256("deidfs-fp" || key), first 8 bytes in hex (python hashlib) */
	struct dd_policy *p = kt_load(
		"{\"deidfs\": {\"cryptoKey\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}");
	struct dd_key k = {0};
	char err[256];

	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, false, &k, err, sizeof(err)),
		      DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_POLICY);
	EXPECT_EQ_STR(k.fingerprint, "ddk1:7f1b8ce80219b31e");
	EXPECT(k.file == NULL);
	dd_key_clear(&k);
	dd_policy_free(p);
}

static void t_precedence(void)
{
	static const char k0[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; /* 0..31 */
	char fa[512], fb[512], json[1024], err[512];
	struct dd_policy *p;
	struct dd_key k = {0};

	snprintf(fa, sizeof(fa), "%s/a.key", tmp);
	snprintf(fb, sizeof(fb), "%s/b.key", tmp);
	kt_write(fa, "ZGVmZ2hpamtsbW5vcHFycw==\n", 0600); /* 100..115 */
	kt_write(fb, "  ZWZnaGlqa2xtbm9wcXJzdA==  \r\n", 0400); /* 101..116 */

	/* 1. deidfs.cryptoKey beats everything */
	snprintf(json, sizeof(json),
		 "{\"deidfs\": {\"cryptoKey\": \"%s\"}, \"text\": {\"transformations\": [{\"cryptoHashConfig\": {\"cryptoKey\": \"ZGVmZ2hpamtsbW5vcHFycw==\"}}]}}",
		 k0);
	p = kt_load(json);
	EXPECT_EQ_INT(dd_policy_key_load(p, fb, true, &k, err, sizeof(err)), DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_POLICY);
	EXPECT_EQ_INT(k.len, 32);
	EXPECT_EQ_INT(k.bytes[31], 31);
	EXPECT_EQ_STR(k.fingerprint, "ddk1:8a0d6fc5d1a0a0ba");
	dd_key_clear(&k);
	dd_policy_free(p);

	/* 2. deidfs.keyFile beats the override file */
	snprintf(json, sizeof(json), "{\"deidfs\": {\"keyFile\": \"%s\"}}", fa);
	p = kt_load(json);
	EXPECT_EQ_INT(dd_policy_key_load(p, fb, true, &k, err, sizeof(err)), DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_FILE);
	EXPECT_EQ_STR(k.file, fa);
	EXPECT_EQ_INT(k.len, 16);
	EXPECT_EQ_INT(k.bytes[0], 100);
	dd_key_clear(&k);
	dd_policy_free(p);

	/* 3. the override file beats a key inside a transformation */
	snprintf(json, sizeof(json),
		 "{\"text\": {\"transformations\": [{\"dateShiftConfig\": {\"cryptoKey\": \"%s\"}}]}}",
		 k0);
	p = kt_load(json);
	EXPECT_EQ_INT(dd_policy_key_load(p, fb, true, &k, err, sizeof(err)), DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_FILE);
	EXPECT_EQ_STR(k.file, fb);
	EXPECT_EQ_INT(k.bytes[0], 101);
	dd_key_clear(&k);

	/* 4. the first transformation key beats the default key file */
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, true, &k, err, sizeof(err)), DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_POLICY);
	EXPECT_EQ_INT(k.bytes[31], 31);
	dd_key_clear(&k);
	dd_policy_free(p);

	/* a fhirFieldConfig key counts too */
	p = kt_load("{\"deidfs\": {\"apiVersion\": \"v1beta1\"}, \"fhirFieldConfig\": {\"options\": {\"dateShiftConfig\": {\"cryptoKey\": \"ZGVmZ2hpamtsbW5vcHFycw==\"}}}}");
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, true, &k, err, sizeof(err)), DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_POLICY);
	EXPECT_EQ_INT(k.bytes[0], 100);
	dd_key_clear(&k);
	dd_policy_free(p);

	/* 5. else the default key file (made in t_generate) */
	p = kt_load("{}");
	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, false, &k, err, sizeof(err)), DD_OK);
	EXPECT_EQ_INT(k.origin, DD_KEY_FILE);
	EXPECT_EQ_STR(k.file, getenv("DEIDFS_KEY_FILE"));
	dd_key_clear(&k);

	/* a named key file is never generated; bad contents are refused */
	snprintf(json, sizeof(json), "%s/missing.key", tmp);
	EXPECT_EQ_INT(dd_policy_key_load(p, json, true, &k, err, sizeof(err)), DD_E_KEY);
	EXPECT(access(json, F_OK) != 0);
	EXPECT(strstr(err, "does not exist") != NULL);
	kt_write(fa, "QUJD\n", 0600);
	EXPECT_EQ_INT(dd_policy_key_load(p, fa, true, &k, err, sizeof(err)), DD_E_KEY);
	EXPECT(strstr(err, "does not hold a key") != NULL);
	dd_policy_free(p);
	unlink(fa);
	unlink(fb);
}

static void t_policy_hash(void)
{
	struct dd_policy *p = kt_load("{}");
	struct dd_key k = {0};
	char err[256], h1[65], h2[65];

	EXPECT_EQ_INT(dd_policy_key_load(p, NULL, false, &k, err, sizeof(err)), DD_OK);
	dd_policy_hash(p, &k, "0.1.0", h1);
	dd_policy_hash(p, &k, "0.1.0", h2);
	EXPECT_EQ_STR(h1, h2);
	EXPECT(strcmp(h1, p->canonical_sha256) != 0);
	dd_key_clear(&k);
	dd_policy_free(p);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv("XDG_CONFIG_HOME");
	t_generate();
	t_fingerprint();
	t_precedence();
	t_policy_hash();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return dd_test_done("test_policy_key");
}
