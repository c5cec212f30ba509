/* unit_fhir_paths.c: Google's FieldMetadata path matching, resolved
 * through the R4 type table (dd_fhir_path_matches), reference
 * normalisation (dd_index_ref_norm), and the walk's element lookup with a
 * prepared def (dd_fhir_elem_find_in) giving dd_fhir_elem_find's answer
 * for every element of the table and for names that are not elements. */
#include "../unit/dd_test.h"
#include "dd_fhir_i.h"

static const struct {
	const char *rule, *path;
	int match;
} rows[] = {
	/* full field paths */
	{"Patient.address.city", "Patient.address.city", 1},
	{"Patient.address.city", "Patient.address.line", 0},
	/* type names as components */
	{"Patient.Address.city", "Patient.address.city", 1},
	{"Patient.Address.String", "Patient.address.city", 1},
	{"Address.String", "Patient.address.city", 1},
	{"Address.String", "Organization.address.line", 1},
	{"Address.String", "Patient.address.use", 0}, /* use is a code */
	/* partial paths: leading components dropped */
	{"address.city", "Patient.address.city", 1},
	{"city", "Patient.contact.address.city", 1},
	{"Observation.city", "Patient.address.city", 0},
	/* choice types: two components, or the JSON name */
	{"Deceased.Age.unit", "Patient.deceasedBoolean", 0},
	{"Patient.deceased.DateTime", "Patient.deceasedDateTime", 1},
	{"Deceased.DateTime", "Patient.deceasedDateTime", 1},
	{"deceasedDateTime", "Patient.deceasedDateTime", 1},
	{"Value.Quantity.unit", "Observation.valueQuantity.unit", 1},
	{"Age.unit", "Condition.onsetAge.unit", 1},
	{"Onset.Age.unit", "Condition.onsetAge.unit", 1},
	{"Onset.Age.unit", "Condition.onsetRange.low.unit", 0},
	{"value.String", "Observation.valueString", 1},
	{"Extension.value.String", "Extension.valueString", 1},
	/* HumanName: the node, so its sub-fields follow (subtree) */
	{"HumanName", "Patient.name", 1},
	{"HumanName", "Patient.contact.name", 1},
	{"HumanName", "Practitioner.name", 1},
	{"HumanName.given", "Patient.name.given", 1},
	{"HumanName.family", "Patient.name.given", 0},
	/* Google's special code types */
	{"AdministrativeGenderCode", "Patient.gender", 1},
	{"LanguageCode", "Patient.communication.language", 0}, /* CodeableConcept */
	{"LanguageCode", "Patient.language", 1},
	{"Code", "Patient.gender", 1},
	/* primitive type names */
	{"Date", "Patient.birthDate", 1},
	{"DateTime", "Observation.effectiveDateTime", 1},
	{"Markdown", "Observation.note.text", 1},
	{"Xhtml", "Patient.text.div", 1},
	{"Id", "Patient.id", 1},
	/* backbone elements through contentReference (ref:) */
	{"Questionnaire.item.item.text", "Questionnaire.item.item.text", 1},
	{"Bundle.entry.link.url", "Bundle.entry.link.url", 1},
	/* not R4 paths */
	{"Patient.name", "Patient.nickname", 0},
};

static const struct {
	const char *in, *out;
} refs[] = {
	{"Patient/123", "Patient/123"},
	{"Patient/123/_history/2", "Patient/123"},
	{"http://example.org/fhir/Patient/123", "Patient/123"},
	{"https://h/base/fhir/Observation/a.b-c/_history/7", "Observation/a.b-c"},
	{"urn:uuid:04121321-4AF5-424c-a0e1-ed3aab1c349d",
	 "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"},
	{"#p1", ""},
	{"Patient?identifier=123", ""},
	{"Nonsense/123", ""},
	{"Patient/bad id", ""},
};

int main(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int got = dd_fhir_path_matches(rows[i].rule, rows[i].path);

		if (got != rows[i].match)
			fprintf(stderr, "rule %s on %s: %d, expected %d\n",
				rows[i].rule, rows[i].path, got, rows[i].match);
		EXPECT_EQ_INT(got, rows[i].match);
	}
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		char out[256] = "";

		dd_index_ref_norm(refs[i].in, strlen(refs[i].in), out, sizeof(out));
		EXPECT_EQ_STR(out, refs[i].out);
	}
	for (size_t i = 0; i < dd_fhir_n_elems; i++) {
		/* every element, found through its def; and near misses */
		static const char *const bad[] = {"", "x", "id.x", "idx",
						  "i", "extension2"};
		const char *p = dd_fhir_elems[i].path, *dot = strrchr(p, '.');
		char def[256];
		struct dd_fhir_def d;

		if (!dot || (size_t)(dot - p) >= sizeof(def))
			continue;
		memcpy(def, p, (size_t)(dot - p));
		def[dot - p] = 0;
		dd_fhir_def_init(&d, def);
		EXPECT(dd_fhir_elem_find_in(&d, dot + 1, strlen(dot + 1)) ==
		       &dd_fhir_elems[i]);
		EXPECT(dd_fhir_elem_find(def, dot + 1, strlen(dot + 1)) ==
		       &dd_fhir_elems[i]);
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			EXPECT(dd_fhir_elem_find_in(&d, bad[k], strlen(bad[k])) ==
			       dd_fhir_elem_find(def, bad[k], strlen(bad[k])));
		/* a key cut short or running on is another name */
		EXPECT(dd_fhir_elem_find_in(&d, dot + 1, strlen(dot + 1) - 1) ==
		       dd_fhir_elem_find(def, dot + 1, strlen(dot + 1) - 1));
	}
	for (size_t i = 0; i < dd_fhir_n_resource_types; i++) {
		/* by length: each type, cut short and running on (no NUL) */
		const char *t = dd_fhir_resource_types[i];
		size_t n = strlen(t);
		char more[80];

		EXPECT(dd_fhir_resource_type(t) == t);
		EXPECT(dd_fhir_resource_type_n(t, n) == t);
		EXPECT(dd_fhir_resource_type_n(t, n - 1) == NULL ||
		       strlen(dd_fhir_resource_type_n(t, n - 1)) == n - 1);
		if (n + 2 < sizeof(more)) {
			memcpy(more, t, n);
			memcpy(more + n, "xy", 2);
			EXPECT(dd_fhir_resource_type_n(more, n + 1) == NULL);
			more[n] = 0;
			EXPECT(dd_fhir_resource_type_n(more, n + 1) == NULL);
		}
	}
	EXPECT(dd_fhir_resource_type_n("Patient/1", 7) ==
	       dd_fhir_resource_type("Patient"));
	EXPECT(dd_fhir_resource_type_n("", 0) == NULL);
	return dd_test_done("unit_fhir_paths");
}
