/* dd_infotype.h: infoType names (Google Cloud DLP spelling).
 * Pure table lookups; thread-safe. */
#ifndef DD_INFOTYPE_H
#define DD_INFOTYPE_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dd_info_type {
	DD_IT_PERSON_NAME,
	DD_IT_FIRST_NAME,
	DD_IT_LAST_NAME,
	DD_IT_DATE,
	DD_IT_DATE_OF_BIRTH,
	DD_IT_AGE,
	DD_IT_PHONE_NUMBER,
	DD_IT_FAX_NUMBER,
	DD_IT_EMAIL_ADDRESS,
	DD_IT_URL,
	DD_IT_IP_ADDRESS,
	DD_IT_MAC_ADDRESS,
	DD_IT_US_SOCIAL_SECURITY_NUMBER,
	DD_IT_MEDICAL_RECORD_NUMBER,
	DD_IT_US_HEALTHCARE_NPI,
	DD_IT_US_DEA_NUMBER,
	DD_IT_US_DRIVERS_LICENSE_NUMBER,
	DD_IT_US_PASSPORT,
	DD_IT_PASSPORT,
	DD_IT_CREDIT_CARD_NUMBER,
	DD_IT_IBAN_CODE,
	DD_IT_VEHICLE_IDENTIFICATION_NUMBER,
	DD_IT_STREET_ADDRESS,
	DD_IT_LOCATION,
	DD_IT_US_ZIP, /* Google: LOCATION covers it; kept apart for tuning */
	DD_IT_ORGANIZATION_NAME,
	DD_IT_GENERIC_ID, /* identifiers found by cue words ("ID", "acct") */
	DD_IT_CONTEXT,    /* a contextual value ("[CTX]") */
	DD_IT_LAST
};

/* "PERSON_NAME", ... ; NULL for an invalid value. */
const char *dd_info_type_name(enum dd_info_type t);
/* Look a name up; false if it is not one we detect. */
bool dd_info_type_from_name(const char *name, enum dd_info_type *t);
/* True for names in Google's infoType syntax ([A-Z][A-Z0-9_]*) */
bool dd_info_type_name_valid(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* DD_INFOTYPE_H */
