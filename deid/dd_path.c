/* dd_path.c: scrubbed view names.
 *
 * A name is cut into tokens: maximal runs of letters and digits (bytes >=
 * 0x80 count as letters, so "MÜLLER" is one token).  Everything else (the
 * separators) is copied.  A token that is allowlisted is kept; otherwise it
 * is cut at letter/digit boundaries and each run is kept if allowlisted
 * (numbers of at most 3 digits count as allowlisted) or replaced by its
 * keyed pseudonym "p" + 7 base32 characters.  Single letters are not on
 * the list: they may be initials.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dd_path.h"

/* Upper-case, sorted: binary search. */
static const char *const dd_path_allow[] = {
	"1ST", "2D", "2ND", "3D", "3RD", "4D", "ABD", "ABDOMEN", "ACQ", "ADC",
	"ALL", "ANKLE", "ANON", "AP", "ARCHIVE", "ARM", "ARTERIAL", "AX", "AXIAL",
	"BACKUP", "BASELINE", "BATCH", "BIN", "BODY", "BONE", "BRAIN", "BREAST",
	"BUNDLE", "CARDIAC", "CERVICAL", "CHEST", "CINE", "COLOR", "COLOUR",
	"COMPRESSED", "COR", "CORONAL", "CR", "CT", "CTA", "DAT", "DATA", "DCM",
	"DEFLATE", "DEFLATED", "DELAYED", "DERIVED", "DICOM", "DIFFUSION", "DOSE",
	"DWI", "DX", "ELBOW", "ENCOUNTER", "ENCOUNTERS", "ENDIAN", "ES", "EXAM",
	"EXAMPLE", "EXPLICIT", "EXPORT", "EXTREMITY", "FHIR", "FILE", "FILES",
	"FINAL", "FLAIR", "FOLLOWUP", "FOOT", "FRAME", "FRAMES", "FUSION", "GE",
	"HAND", "HEAD", "HEART", "HIP", "IM", "IMA", "IMAGE", "IMAGES",
	"IMAGINGSTUDY", "IMG", "IMPLICIT", "INPUT", "J2K", "JPEG", "JPEGLS", "JPG",
	"JSON", "KNEE", "KO", "LAT", "LATERAL", "LEFT", "LEG", "LIVER", "LOCALIZER",
	"LOSSLESS", "LOSSY", "LOW", "LSPINE", "LUMBAR", "LUNG", "MAMMO", "MG",
	"MIP", "MONO", "MPR", "MPRAGE", "MR", "MRA", "MRI", "MULTIFRAME", "NAT",
	"NDJSON", "NECK", "NM", "NO", "NONCONTRAST", "OBS", "OBSERVATION",
	"OBSERVATIONS", "ORIGINAL", "OT", "OUTPUT", "PA", "PALETTE", "PATIENT",
	"PATIENTS", "PD", "PELVIS", "PERFUSION", "PET", "PHANTOM", "PHASE",
	"PORTAL", "POST", "PR", "PRE", "PRIMARY", "PROSTATE", "PT", "RAW", "RECON",
	"REPORT", "REPORTS", "RESOURCE", "RESOURCES", "RF", "RGB", "RIGHT", "RLE",
	"RT", "RTDOSE", "RTPLAN", "RTSTRUCT", "SAG", "SAGITTAL", "SAMPLE", "SC",
	"SCAN", "SCANS", "SCOUT", "SE", "SECONDARY", "SEG", "SER", "SERIES",
	"SHOULDER", "SKULL", "SLICE", "SLICES", "SPINE", "SR", "STIR", "STUDIES",
	"STUDY", "SUB", "SURVEY", "SWI", "T1", "T1W", "T2", "T2W", "TEST", "THORAX",
	"TOF", "TRAIN", "TRAINING", "TSPINE", "TXT", "UNCOMPRESSED", "US", "V1",
	"V2", "VAL", "VALIDATION", "VENOUS", "WB", "WITH", "WITHOUT", "WO", "WRIST",
	"XA", "XML", "YBR", "ZIP",
};

static int dp_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, *(const char *const *)elem);
}

bool dd_path_token_allowed(const char *token, size_t len)
{
	char buf[32];
	size_t digits = 0;

	for (size_t i = 0; i < len; i++)
		digits += isdigit((unsigned char)token[i]) != 0;
	if (digits == len)
		return len >= 1 && len <= 3;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, token, len);
	buf[len] = 0;
	return bsearch(buf, dd_path_allow,
		       sizeof(dd_path_allow) / sizeof(dd_path_allow[0]),
		       sizeof(dd_path_allow[0]), dp_cmp) != NULL;
}

static bool dp_user_allowed(const struct dd_path_cfg *cfg, const char *t,
			    size_t len)
{
	if (!cfg->allowlist)
		return false;
	for (size_t i = 0; i < cfg->allowlist->n; i++) {
		const char *a = cfg->allowlist->v[i];

		if (strlen(a) == len && strncasecmp(a, t, len) == 0)
			return true;
	}
	return false;
}

static bool dp_is_word_byte(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

static bool dp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Append @n bytes to out (capacity DD_PATH_NAME_MAX); false on overflow. */
static bool dp_put(char *out, size_t *o, const char *s, size_t n)
{
	if (*o + n > DD_PATH_NAME_MAX)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	return true;
}

static void dp_b32(const uint8_t *mac, size_t nchars, char *out)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | mac[i];
	for (size_t i = 0; i < nchars; i++) {
		out[i] = b32[v & 31];
		v >>= 5;
	}
}

static bool dp_pseudo_token(const struct dd_path_cfg *cfg, const char *t,
			    size_t len, char *out, size_t *o)
{
	uint8_t mac[32];
	char p[8];

	dd_pseudo_mac(cfg->pseudo, DD_DOM_PATH, t, len, mac);
	p[0] = 'p';
	dp_b32(mac, 7, p + 1);
	return dp_put(out, o, p, sizeof(p));
}

/* A token that is not allowlisted whole: split at letter/digit changes. */
static bool dp_token(const struct dd_path_cfg *cfg, const char *t, size_t len,
		     char *out, size_t *o)
{
	size_t i = 0;

	if (dd_path_token_allowed(t, len) || dp_user_allowed(cfg, t, len))
		return dp_put(out, o, t, len);
	while (i < len) {
		bool dig = dp_is_digit((unsigned char)t[i]);
		size_t j = i + 1;

		while (j < len && dp_is_digit((unsigned char)t[j]) == dig)
			j++;
		if (dd_path_token_allowed(t + i, j - i) ||
		    dp_user_allowed(cfg, t + i, j - i)) {
			if (!dp_put(out, o, t + i, j - i))
				return false;
		} else if (!dp_pseudo_token(cfg, t + i, j - i, out, o)) {
			return false;
		}
		i = j;
	}
	return true;
}

/* Known file extensions, kept by scrub and hash modes.  An unknown
 * "extension" may be PHI ("DOE.JOHN"), so it is scrubbed like any token. */
static const char *const dd_path_exts[] = {
	"bmp", "csv", "dat", "dcm", "dic", "dicom", "gz", "ima", "img", "j2k",
	"jp2", "jpeg", "jpg", "json", "md", "ndjson", "nii", "nrrd", "pdf",
	"png", "raw", "tif", "tiff", "tsv", "txt", "xml", "zip",
};

static size_t dp_ext_len(const char *name, size_t n, bool is_dir)
{
	const char *dot = memrchr(name, '.', n);
	size_t len;

	if (is_dir || !dot || dot == name)
		return 0;
	len = n - (size_t)(dot - name) - 1;
	for (size_t i = 0; i < sizeof(dd_path_exts) / sizeof(dd_path_exts[0]);
	     i++)
		if (strlen(dd_path_exts[i]) == len &&
		    strncasecmp(dd_path_exts[i], dot + 1, len) == 0)
			return len + 1;
	return 0;
}

static dd_err dp_hash_name(const struct dd_path_cfg *cfg, const char *name,
			   size_t n, size_t ext, char *out)
{
	uint8_t mac[32];
	size_t o = 1;

	dd_pseudo_mac(cfg->pseudo, DD_DOM_PATH, name, n, mac);
	out[0] = 'h';
	dp_b32(mac, 12, out + 1);
	o += 12;
	memcpy(out + o, name + n - ext, ext);
	o += ext;
	out[o] = 0;
	return DD_OK;
}

dd_err dd_path_name(const struct dd_path_cfg *cfg, const char *name,
		    bool is_dir, char *out)
{
	size_t n = name ? strlen(name) : 0, ext, o = 0, i = 0;

	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/') || n > DD_PATH_NAME_MAX)
		return DD_E_INVAL;
	if (cfg->mode == DD_PATH_KEEP) {
		memcpy(out, name, n + 1);
		return DD_OK;
	}
	ext = dp_ext_len(name, n, is_dir);
	if (cfg->mode == DD_PATH_HASH)
		return dp_hash_name(cfg, name, n, ext, out);
	while (i < n - ext) {
		size_t j = i;

		if (!dp_is_word_byte((unsigned char)name[i])) {
			if (!dp_put(out, &o, name + i, 1))
				goto too_long;
			i++;
			continue;
		}
		while (j < n - ext && dp_is_word_byte((unsigned char)name[j]))
			j++;
		if (!dp_token(cfg, name + i, j - i, out, &o))
			goto too_long;
		i = j;
	}
	if (!dp_put(out, &o, name + n - ext, ext))
		goto too_long;
	out[o] = 0;
	/* a name made only of separators could come out as "." or ".." */
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		return dp_hash_name(cfg, name, n, ext, out);
	return DD_OK;

too_long:
	return dp_hash_name(cfg, name, n, ext, out);
}
