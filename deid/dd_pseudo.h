/* dd_pseudo.h: keyed pseudonyms and date shifts.
 *
 * One primitive: HMAC-SHA256(key, domain-tag || 0x00 || value).  The
 * domain separates uses, so a UID and a PatientID with equal text never get
 * related pseudonyms.  Everything here is a pure function of (key, domain,
 * value): no time, no randomness, no global state.  A struct dd_pseudo is
 * built once from the key and is then read-only: any thread may use it.
 */
#ifndef DD_PSEUDO_H
#define DD_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dd_domain {
	DD_DOM_UID,        /* DICOM UIDs */
	DD_DOM_PATIENT,    /* patient key -> PatientID / FHIR linking identifier */
	DD_DOM_ACCESSION,  /* AccessionNumber and other DICOM identifiers */
	DD_DOM_IDENT,      /* other identifiers (DICOM SH/LO ids, FHIR identifier.value) */
	DD_DOM_FHIR_ID,    /* FHIR resource ids (Type/id mapping) */
	DD_DOM_PATH,       /* file and directory name tokens */
	DD_DOM_DATE_SHIFT, /* patient key -> days */
	DD_DOM_HASH,       /* cryptoHash of free text (Google's base64 form) */
	DD_DOM_TIMESTAMP,  /* view timestamps */
	DD_DOM_LAST
};

struct dd_pseudo {
	uint8_t key[32];
	size_t key_len;
	/* private: SHA-256 states after the HMAC inner and outer key blocks,
	 * computed once by dd_pseudo_init (each MAC then costs two
	 * compressions instead of four plus OpenSSL's setup) */
	_Alignas(16) uint8_t hstate[2][128];
};

/* Set up from a 16-, 24- or 32-byte key.  The struct may be copied
 * (it holds no pointers). */
dd_err dd_pseudo_init(struct dd_pseudo *p, const uint8_t *key, size_t len);
void dd_pseudo_clear(struct dd_pseudo *p);

/* HMAC-SHA256(key, domain || value) into @mac. */
void dd_pseudo_mac(const struct dd_pseudo *p, enum dd_domain d,
		   const void *value, size_t len, uint8_t mac[32]);

/* A UID "2.25.<decimal of the first 128 bits of the MAC>" (at most 44
 * characters plus NUL: @out must hold 65).  Same input, same UID. */
void dd_pseudo_uid(const struct dd_pseudo *p, const char *uid, size_t len,
		   char out[65]);

/* An identifier pseudonym of exactly @width characters (1..64) from the
 * alphabet [0-9A-Z], valid for DICOM SH/LO/CS and FHIR id syntax. */
void dd_pseudo_ident(const struct dd_pseudo *p, enum dd_domain d,
		     const char *value, size_t len, size_t width, char *out);

/* The FHIR id pseudonym: 32 lower-case hex characters (16 bytes of MAC),
 * valid for [A-Za-z0-9\-.]{1,64}. */
void dd_pseudo_fhir_id(const struct dd_pseudo *p, const char *type,
		       const char *id, char out[33]);

/* Google's cryptoHash form: base64 of the 32-byte MAC (44 chars + NUL). */
void dd_pseudo_hash_b64(const struct dd_pseudo *p, const char *value,
			size_t len, char out[45]);

/* Days to shift a patient's dates by: in [min, max], never 0 (a range
 * containing 0 skips it).  DD_E_RANGE if min > max or the range is {0}. */
dd_err dd_pseudo_shift_days(const struct dd_pseudo *p, const char *patient_key,
			    size_t len, int min, int max, int *days);

/* ---- One patient, one identity ------------------------------------------- */

/* The patient key that links a patient across DICOM and FHIR.  BOTH
 * engines must build it with this function:
 *   DICOM: dd_patient_key(IssuerOfPatientID, PatientID, ...)
 *   FHIR:  dd_patient_key(identifier.system, identifier.value, ...) of the
 *          linking identifier (type MR, else the value equal to a PatientID)
 * The value is normalised (leading/trailing spaces and NULs removed).  The
 * issuer/system is NOT part of the key: a DICOM IssuerOfPatientID and a
 * FHIR identifier.system rarely spell one authority alike, and linking is
 * the point; it is accepted for a future option.  An empty or placeholder
 * PatientID is keyed by the study instead: pass value NULL and use
 * dd_patient_key_study().  Returns the key length (truncated to outlen-1). */
size_t dd_patient_key(const char *issuer, const char *value, char *out,
		      size_t outlen);
/* "study:" + StudyInstanceUID, for DICOM files without a usable PatientID. */
size_t dd_patient_key_study(const char *study_uid, char *out, size_t outlen);

/* The patient pseudonym: DICOM PatientID and the FHIR linking identifier's
 * value: 16 characters [0-9A-Z] (dd_pseudo_ident, DD_DOM_PATIENT). */
void dd_pseudo_patient_id(const struct dd_pseudo *p, const char *patient_key,
			  char out[17]);

/* ---- Dates (pure; no key needed) ----------------------------------------- */

/* Shift a DICOM DA value ("YYYYMMDD", also the partial "YYYY" and "YYYYMM"
 * and the legacy "YYYY.MM.DD") by @days.  Partial dates keep their
 * precision: the shift is applied to the first day of the period and the
 * result truncated.  A range "A-B" shifts both ends.  @out holds at least
 * 18 bytes.  DD_E_PARSE if the value is not a date. */
dd_err dd_date_shift_da(const char *in, int days, char *out, size_t outlen);

/* Shift a DICOM DT value (YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]): the date
 * part shifts, time and offset are kept.  @out holds at least 27+1 bytes. */
dd_err dd_date_shift_dt(const char *in, int days, char *out, size_t outlen);

/* Shift a FHIR date, dateTime or instant (YYYY, YYYY-MM, YYYY-MM-DD,
 * YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm)).  Precision and format kept. */
dd_err dd_date_shift_fhir(const char *in, int days, char *out, size_t outlen);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t dd_days_from_civil(int64_t y, unsigned m, unsigned d);
void dd_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#ifdef __cplusplus
}
#endif
#endif /* DD_PSEUDO_H */
