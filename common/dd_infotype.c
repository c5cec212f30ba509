/* dd_infotype.c: infoType name table. */
#include <string.h>

#include "dd_infotype.h"

static const char *const dd_it_names[DD_IT_LAST] = {
	[DD_IT_PERSON_NAME] = "PERSON_NAME",
	[DD_IT_FIRST_NAME] = "FIRST_NAME",
	[DD_IT_LAST_NAME] = "LAST_NAME",
	[DD_IT_DATE] = "DATE",
	[DD_IT_DATE_OF_BIRTH] = "DATE_OF_BIRTH",
	[DD_IT_AGE] = "AGE",
	[DD_IT_PHONE_NUMBER] = "PHONE_NUMBER",
	[DD_IT_FAX_NUMBER] = "FAX_NUMBER",
	[DD_IT_EMAIL_ADDRESS] = "EMAIL_ADDRESS",
	[DD_IT_URL] = "URL",
	[DD_IT_IP_ADDRESS] = "IP_ADDRESS",
	[DD_IT_MAC_ADDRESS] = "MAC_ADDRESS",
	[DD_IT_US_SOCIAL_SECURITY_NUMBER] = "US_SOCIAL_SECURITY_NUMBER",
	[DD_IT_MEDICAL_RECORD_NUMBER] = "MEDICAL_RECORD_NUMBER",
	[DD_IT_US_HEALTHCARE_NPI] = "US_HEALTHCARE_NPI",
	[DD_IT_US_DEA_NUMBER] = "US_DEA_NUMBER",
	[DD_IT_US_DRIVERS_LICENSE_NUMBER] = "US_DRIVERS_LICENSE_NUMBER",
	[DD_IT_US_PASSPORT] = "US_PASSPORT",
	[DD_IT_PASSPORT] = "PASSPORT",
	[DD_IT_CREDIT_CARD_NUMBER] = "CREDIT_CARD_NUMBER",
	[DD_IT_IBAN_CODE] = "IBAN_CODE",
	[DD_IT_VEHICLE_IDENTIFICATION_NUMBER] = "VEHICLE_IDENTIFICATION_NUMBER",
	[DD_IT_STREET_ADDRESS] = "STREET_ADDRESS",
	[DD_IT_LOCATION] = "LOCATION",
	[DD_IT_US_ZIP] = "US_ZIP",
	[DD_IT_ORGANIZATION_NAME] = "ORGANIZATION_NAME",
	[DD_IT_GENERIC_ID] = "GENERIC_ID",
	[DD_IT_CONTEXT] = "CTX",
};

const char *dd_info_type_name(enum dd_info_type t)
{
	return (unsigned)t < DD_IT_LAST ? dd_it_names[t] : NULL;
}

bool dd_info_type_from_name(const char *name, enum dd_info_type *t)
{
	for (unsigned i = 0; i < DD_IT_LAST; i++) {
		if (dd_it_names[i] && strcmp(dd_it_names[i], name) == 0) {
			*t = (enum dd_info_type)i;
			return true;
		}
	}
	return false;
}

bool dd_info_type_name_valid(const char *name)
{
	if (!name || !(*name >= 'A' && *name <= 'Z'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return strlen(name) <= 64;
}
