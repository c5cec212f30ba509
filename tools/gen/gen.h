/* gen.h: shared pieces of the test-data generator `deid-gen` (tools/gen/).
 *
 * Everything it writes is synthetic, with FAKE PHI, and deterministic: the
 * same command line gives the same bytes (a seeded PRNG, no clock, no
 * environment).  DICOM is written through the bridge's sample writer
 * (dd_bridge_gen_* in dd_bridge.h); FHIR JSON with stdio.
 *
 * Error convention: functions return 0 or -1 after printing one line to
 * stderr naming the failing step ("deid-gen: ...").
 */
#ifndef DD_GEN_H
#define DD_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dd_bridge.h"

/* ---- PRNG (splitmix64) ------------------------------------------------ */

struct gen_rng {
	uint64_t s;
};

/* Seed from a label and a number: same label+n, same stream. */
void gen_rng_seed(struct gen_rng *r, uint64_t base, const char *label,
		  uint64_t n);
uint64_t gen_rng_next(struct gen_rng *r);
/* Uniform in [0, n). */
uint32_t gen_rng_below(struct gen_rng *r, uint32_t n);

/* The global seed (--seed), 0 by default. */
extern uint64_t gen_seed;

/* A UID "2.25.<decimal of 127 bits>" from (label, n); @out has 65 bytes. */
void gen_uid(char out[65], const char *label, uint64_t n);

/* ---- files ------------------------------------------------------------- */

/* mkdir -p (0755); 0 or -1 with a message. */
int gen_mkdirs(const char *path);
/* snprintf that fails (message, -1) instead of truncating. */
int gen_path(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write @n bytes to a new file @path. */
int gen_write_file(const char *path, const void *p, size_t n);
/* Cut the file @path to @size bytes. */
int gen_truncate(const char *path, uint64_t size);
/* Open @path for writing text (message on failure). */
FILE *gen_fopen(const char *path);
/* Close @f; -1 with a message if anything failed writing it. */
int gen_fclose(FILE *f, const char *path);
/* Write @s to @f as a JSON string (with quotes), escaping as needed; the
 * bytes are UTF-8 already. */
void gen_json_str(FILE *f, const char *s);

/* ---- DICOM ------------------------------------------------------------- */

/* Print the failing bridge call and turn it into -1. */
int gen_bridge_fail(dd_err e, const char *what);
#define GEN_TRY(call)                                                         \
	do {                                                                  \
		dd_err gen_e_ = (call);                                       \
		if (gen_e_)                                                   \
			return gen_bridge_fail(gen_e_, #call);                \
	} while (0)
#define GEN_S(g, name, value) GEN_TRY(dd_bridge_gen_str((g), (name), NULL, (value)))

/* SOP classes used here */
#define GEN_SOP_CT "1.2.840.10008.5.1.4.1.1.2"
#define GEN_SOP_MR "1.2.840.10008.5.1.4.1.1.4"
#define GEN_SOP_CR "1.2.840.10008.5.1.4.1.1.1"
#define GEN_SOP_DX "1.2.840.10008.5.1.4.1.1.1.1"
#define GEN_SOP_US "1.2.840.10008.5.1.4.1.1.6.1"
#define GEN_SOP_SC "1.2.840.10008.5.1.4.1.1.7"
#define GEN_SOP_NM "1.2.840.10008.5.1.4.1.1.20"
#define GEN_SOP_PT "1.2.840.10008.5.1.4.1.1.128"
#define GEN_SOP_XA "1.2.840.10008.5.1.4.1.1.12.1"

/* A fake patient.  Strings are bytes in @charset (NULL: ASCII). */
struct gen_patient {
	const char *charset;  /* SpecificCharacterSet or NULL */
	const char *name;     /* PN, e.g. "DOE^JOHN" */
	const char *id;       /* the MRN: DICOM PatientID, FHIR MR identifier */
	const char *issuer;   /* IssuerOfPatientID */
	const char *birth;    /* YYYYMMDD */
	const char *sex;      /* M, F, O */
	const char *age;      /* "062Y" */
	const char *address;  /* PatientAddress */
	const char *phone;    /* PatientTelephoneNumbers */
	const char *text_name; /* the name as free text ("John Doe") */
};

struct gen_study {
	char uid[65];
	const char *date;     /* YYYYMMDD */
	const char *time;     /* HHMMSS */
	const char *accession;
	const char *description;
	const char *referring;
	const char *institution;
	const char *study_id;
};

struct gen_series {
	char uid[65];
	char frame_uid[65];
	int number;
	const char *modality;
	const char *sop_class;
	const char *description;
	const char *body_part;
};

/* One image: the header and the pixels of one file. */
struct gen_image {
	const struct gen_patient *pat;
	const struct gen_study *st;
	const struct gen_series *se;
	int instance;        /* InstanceNumber, from 1 */
	int rows, cols;
	int bits;            /* 8 or 16 */
	bool full_header;    /* the ~100-element "realistic" header */
	char sop_uid[65];
};

/* Put the header of @im into @g (patient, study, series, equipment,
 * image pixel description; not the pixels). */
int gen_header(struct dd_bgen *g, const struct gen_image *im);
/* Put PixelData: a cheap deterministic pattern (not constant). */
int gen_pixels(struct dd_bgen *g, const struct gen_image *im);
/* Put an overlay group 6000 (graphic, bitmap drawn from @im's size). */
int gen_overlay(struct dd_bgen *g, const struct gen_image *im,
		const char *label);
/* Header + pixels saved to @path in @xfer. */
int gen_image_write(const struct gen_image *im, const char *path,
		    enum dd_bgen_xfer xfer);

/* ---- subcommands -------------------------------------------------------- */

int gen_cmd_sample(const char *dir);
int gen_cmd_ct(const char *dir, int count, int rows, int cols);
int gen_cmd_small(const char *dir, int count);
int gen_cmd_golden(const char *dir);

#endif /* DD_GEN_H */
