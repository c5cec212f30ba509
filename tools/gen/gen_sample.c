/* gen_sample.c: `deid-gen sample DIR`, the README's sample dataset.
 *
 *   DOE_JOHN_12345678/20190304_CT/IM000{1..5}.dcm   CT 64x64 (IM0003: private
 *                                                   tags + overlay; IM0005
 *                                                   truncated: hidden)
 *   MÜLLER_JÖRG_87654321/20200115_MR/IM000{1..3}.dcm  MR 128x128, ISO_IR 100
 *                                                   (IM0002 implicit LE)
 *   SMITH_JANE_55501234/20210822_DX/IM0001.dcm      DX, BurnedInAnnotation NO,
 *                                   IM0002.dcm      CR; UTF-8, age 90
 *   fhir/NAME.json, fhir/observations.ndjson         Patient, ImagingStudy,
 *                                                   Observation, Encounter,
 *                                                   transaction Bundle
 *   README.txt, .DS_Store, DICOMDIR                 junk: hidden
 *
 * Each patient's MRN is its DICOM PatientID and its FHIR MR identifier. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* Latin-1 bytes for patient 2 (ISO_IR 100): MÜLLER^JÖRG */
#define GEN_MUELLER_L1 "M\xdcLLER^J\xd6RG"

static const struct gen_patient gen_pats[3] = {
	{NULL, "DOE^JOHN", "12345678", "HOSP_MRN", "19560712", "M", "062Y",
	 "12 Elm Street^^Springfield^IL^62701", "555-0142", "John Doe"},
	{"ISO_IR 100", GEN_MUELLER_L1, "87654321", "HOSP_MRN", "19480229",
	 "M", "071Y", "Hauptstra\xdf" "e 5^^Beispielstadt^^12345",
	 "+49 30 1234567", "J\xc3\xb6rg M\xc3\xbcller"},
	{"ISO_IR 192", "SMITH^JANE^A", "55501234", "HOSP_MRN", "19301105",
	 "F", "090Y", "7 Oak Avenue^^Shelbyville^IL^62565", "555-0199",
	 "Jane Smith"},
};
/* UTF-8 forms for directory names and FHIR */
static const char *const gen_dirs[3] = {
	"DOE_JOHN_12345678/20190304_CT",
	"M\xc3\x9cLLER_J\xc3\x96RG_87654321/20200115_MR",
	"SMITH_JANE_55501234/20210822_DX",
};
static const char *const gen_fhir_id[3] = {"doe-john", "mueller-joerg",
					   "smith-jane"};
static const char *const gen_family_u8[3] = {"Doe", "M\xc3\xbcller",
					     "Smith"};
static const char *const gen_given_u8[3] = {"John", "J\xc3\xb6rg", "Jane"};
static const char *const gen_birth_fhir[3] = {"1956-07-12", "1948-02-29",
					      "1930-11-05"};

static struct gen_study gen_studies[3] = {
	{"", "20190304", "091500", "A20190304001",
	 "CT CHEST W/O CONTRAST - DOE JOHN", "HOUSE^GREGORY^^DR",
	 "St. Example General Hospital", "4471"},
	{"", "20200115", "143000", "A20200115017",
	 "MRT KOPF " GEN_MUELLER_L1, "SCHMIDT^ANNA^^DR.",
	 "Klinikum Beispielstadt", "88"},
	{"", "20210822", "080000", "A20210822003",
	 "XR HAND LEFT Smith Jane", "HOUSE^GREGORY^^DR",
	 "St. Example General Hospital", "5120"},
};

static int gen_sample_images(const char *dir)
{
	static const struct {
		int pat, instance, rows, bits;
		const char *modality, *sop, *body, *desc;
		enum dd_bgen_xfer xfer;
		int extras; /* 1: private + overlay, 2: truncated, 3: burned NO */
	} imgs[] = {
		{0, 1, 64, 16, "CT", GEN_SOP_CT, "CHEST", "AX 2.5", DD_BGEN_EXPLICIT_LE, 0},
		{0, 2, 64, 16, "CT", GEN_SOP_CT, "CHEST", "AX 2.5", DD_BGEN_EXPLICIT_LE, 0},
		{0, 3, 64, 16, "CT", GEN_SOP_CT, "CHEST", "AX 2.5", DD_BGEN_EXPLICIT_LE, 1},
		{0, 4, 64, 16, "CT", GEN_SOP_CT, "CHEST", "AX 2.5", DD_BGEN_EXPLICIT_LE, 0},
		{0, 5, 64, 16, "CT", GEN_SOP_CT, "CHEST", "AX 2.5", DD_BGEN_EXPLICIT_LE, 2},
		{1, 1, 128, 16, "MR", GEN_SOP_MR, "HEAD", "T1 SE AX", DD_BGEN_EXPLICIT_LE, 0},
		{1, 2, 128, 16, "MR", GEN_SOP_MR, "HEAD", "T1 SE AX", DD_BGEN_IMPLICIT_LE, 0},
		{1, 3, 128, 16, "MR", GEN_SOP_MR, "HEAD", "T1 SE AX", DD_BGEN_EXPLICIT_LE, 0},
		{2, 1, 128, 16, "DX", GEN_SOP_DX, "HAND", "HAND PA", DD_BGEN_EXPLICIT_LE, 3},
		{2, 2, 128, 16, "CR", GEN_SOP_CR, "HAND", "HAND LAT", DD_BGEN_EXPLICIT_LE, 0},
	};
	struct gen_series se[3][2];
	char d[4096], path[4200];
	int rc = -1;

	for (int p = 0; p < 3; p++) {
		gen_uid(gen_studies[p].uid, "sample-study", (uint64_t)p);
		for (int s = 0; s < 2; s++) {
			memset(&se[p][s], 0, sizeof(se[p][s]));
			gen_uid(se[p][s].uid, "sample-series", (uint64_t)(p * 2 + s));
			gen_uid(se[p][s].frame_uid, "sample-frame",
				(uint64_t)(p * 2 + s));
			se[p][s].number = s + 1;
		}
		if (gen_path(d, sizeof(d), "%s/%s", dir, gen_dirs[p]) < 0 ||
		    gen_mkdirs(d) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(imgs) / sizeof(imgs[0]); i++) {
		struct dd_bgen *g = NULL;
		struct gen_series *s = &se[imgs[i].pat][imgs[i].instance == 2 &&
					imgs[i].pat == 2];
		struct gen_image im = {0};

		s->modality = imgs[i].modality;
		s->sop_class = imgs[i].sop;
		s->body_part = imgs[i].body;
		s->description = imgs[i].desc;
		im.pat = &gen_pats[imgs[i].pat];
		im.st = &gen_studies[imgs[i].pat];
		im.se = s;
		im.instance = imgs[i].instance;
		im.rows = im.cols = imgs[i].rows;
		im.bits = imgs[i].bits;
		im.full_header = true;
		gen_uid(im.sop_uid, "sample-instance", (uint64_t)i);
		if (gen_path(path, sizeof(path), "%s/%s/IM%04d.dcm", dir,
			     gen_dirs[imgs[i].pat], im.instance) < 0)
			return -1;
		GEN_TRY(dd_bridge_gen_new(&g));
		if (gen_header(g, &im) < 0)
			goto out_free;
		if (imgs[i].extras == 1) {
			if (dd_bridge_gen_str(g, "0009,0010", "LO", "ACME_PRIVATE_1") ||
			    dd_bridge_gen_str(g, "0009,1001", "LO", "DOE^JOHN 12345678") ||
			    dd_bridge_gen_str(g, "0009,1002", "DS", "3.5") ||
			    gen_overlay(g, &im, "DOE JOHN 12345678") < 0)
				goto out_free;
		}
		if (imgs[i].extras == 3 &&
		    (dd_bridge_gen_str(g, "BurnedInAnnotation", NULL, "NO") ||
		     dd_bridge_gen_str(g, "PresentationIntentType", NULL,
				       "FOR PRESENTATION")))
			goto out_free;
		if (gen_pixels(g, &im) < 0)
			goto out_free;
		if (dd_bridge_gen_save(g, path, imgs[i].xfer, 0)) {
			fprintf(stderr, "deid-gen: cannot write %s\n", path);
			goto out_free;
		}
		/* a copy cut short, named like the others: it must be hidden */
		if (imgs[i].extras == 2 && gen_truncate(path, 1000) < 0)
			goto out_free;
		dd_bridge_gen_free(g);
		g = NULL;
		continue;
out_free:
		dd_bridge_gen_free(g);
		return rc;
	}
	return 0;
}

/* A Patient resource (FHIR R4) with the MRN as an MR identifier. */
static void gen_fhir_patient(FILE *f, int p)
{
	fprintf(f, "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"%s\",\n",
		gen_fhir_id[p]);
	fprintf(f,
"  \"identifier\": [\n"
"    {\n"
"      \"use\": \"usual\",\n"
"      \"type\": {\"coding\": [{\"system\": \"http://terminology.hl7.org/CodeSystem/v2-0203\", \"code\": \"MR\"}]},\n"
"      \"system\": \"urn:oid:1.2.36.146.595.217.0.1\",\n"
"      \"value\": \"%s\"\n"
"    }\n"
"  ],\n", gen_pats[p].id);
	fputs("  \"name\": [{\"use\": \"official\", \"family\": ", f);
	gen_json_str(f, gen_family_u8[p]);
	fputs(", \"given\": [", f);
	gen_json_str(f, gen_given_u8[p]);
	fputs("]}],\n", f);
	fprintf(f,
"  \"telecom\": [{\"system\": \"phone\", \"value\": \"%s\", \"use\": \"home\"},\n"
"              {\"system\": \"email\", \"value\": \"%s.%s@example.org\"}],\n"
"  \"gender\": \"%s\",\n"
"  \"birthDate\": \"%s\",\n",
		p == 1 ? "+49 30 1234567" : p == 0 ? "555-0142" : "555-0199",
		gen_fhir_id[p], "patient",
		gen_pats[p].sex[0] == 'F' ? "female" : "male",
		gen_birth_fhir[p]);
	fprintf(f,
"  \"address\": [{\"line\": [\"%s\"], \"city\": \"%s\", \"postalCode\": \"%s\"}]\n"
"}\n",
		p == 0 ? "12 Elm Street" : p == 1 ? "Hauptstra\xc3\x9f" "e 5" : "7 Oak Avenue",
		p == 1 ? "Beispielstadt" : p == 0 ? "Springfield" : "Shelbyville",
		p == 1 ? "12345" : p == 0 ? "62701" : "62565");
}

static int gen_fhir_doe(const char *dir)
{
	char path[4200], series_uid[65];
	FILE *f;

	gen_uid(series_uid, "sample-series", 0); /* as gen_sample_images() */
	if (gen_path(path, sizeof(path), "%s/fhir/ImagingStudy-doe-john-ct.json",
		     dir) < 0 || !(f = gen_fopen(path)))
		return -1;
	fprintf(f,
"{\n"
"  \"resourceType\": \"ImagingStudy\",\n"
"  \"id\": \"ct-20190304-doe\",\n"
"  \"identifier\": [{\"system\": \"urn:dicom:uid\", \"value\": \"urn:oid:%s\"},\n"
"                 {\"type\": {\"coding\": [{\"system\": \"http://terminology.hl7.org/CodeSystem/v2-0203\", \"code\": \"ACSN\"}]}, \"value\": \"A20190304001\"}],\n"
"  \"status\": \"available\",\n"
"  \"subject\": {\"reference\": \"Patient/doe-john\", \"display\": \"John Doe\"},\n"
"  \"encounter\": {\"reference\": \"Encounter/enc-20190304-doe\"},\n"
"  \"started\": \"2019-03-04T09:15:00-06:00\",\n"
"  \"referrer\": {\"display\": \"Dr. Gregory House\"},\n"
"  \"numberOfSeries\": 1,\n"
"  \"numberOfInstances\": 5,\n"
"  \"description\": \"CT chest without contrast for John Doe\",\n"
"  \"series\": [{\"uid\": \"%s\", \"number\": 1,\n"
"    \"modality\": {\"system\": \"http://dicom.nema.org/resources/ontology/DCM\", \"code\": \"CT\"},\n"
"    \"bodySite\": {\"system\": \"http://snomed.info/sct\", \"code\": \"51185008\", \"display\": \"Thorax\"},\n"
"    \"numberOfInstances\": 5}]\n"
"}\n", gen_studies[0].uid, series_uid);
	if (gen_fclose(f, path) < 0)
		return -1;

	if (gen_path(path, sizeof(path), "%s/fhir/Observation-doe-john-bp.json",
		     dir) < 0 || !(f = gen_fopen(path)))
		return -1;
	fputs(
"{\n"
"  \"resourceType\": \"Observation\",\n"
"  \"id\": \"bp-doe-20190304\",\n"
"  \"status\": \"final\",\n"
"  \"category\": [{\"coding\": [{\"system\": \"http://terminology.hl7.org/CodeSystem/observation-category\", \"code\": \"vital-signs\"}]}],\n"
"  \"code\": {\"coding\": [{\"system\": \"http://loinc.org\", \"code\": \"8480-6\", \"display\": \"Systolic blood pressure\"}]},\n"
"  \"subject\": {\"reference\": \"Patient/doe-john\"},\n"
"  \"encounter\": {\"reference\": \"Encounter/enc-20190304-doe\"},\n"
"  \"effectiveDateTime\": \"2019-03-04T08:40:00-06:00\",\n"
"  \"performer\": [{\"display\": \"Nurse Alice Tech\"}],\n"
"  \"valueQuantity\": {\"value\": 142, \"unit\": \"mmHg\", \"system\": \"http://unitsofmeasure.org\", \"code\": \"mm[Hg]\"},\n"
"  \"note\": [{\"text\": \"John Doe (MRN 12345678) reports dizziness since 2019-03-01; daughter Mary Doe can be reached at 555-0142.\"}]\n"
"}\n", f);
	if (gen_fclose(f, path) < 0)
		return -1;

	if (gen_path(path, sizeof(path), "%s/fhir/Encounter-doe-john-20190304.json",
		     dir) < 0 || !(f = gen_fopen(path)))
		return -1;
	fputs(
"{\n"
"  \"resourceType\": \"Encounter\",\n"
"  \"id\": \"enc-20190304-doe\",\n"
"  \"identifier\": [{\"system\": \"http://hospital.example.org/visits\", \"value\": \"V-20190304-0099\"}],\n"
"  \"status\": \"finished\",\n"
"  \"class\": {\"system\": \"http://terminology.hl7.org/CodeSystem/v3-ActCode\", \"code\": \"AMB\", \"display\": \"ambulatory\"},\n"
"  \"subject\": {\"reference\": \"Patient/doe-john\", \"display\": \"John Doe\"},\n"
"  \"participant\": [{\"individual\": {\"display\": \"Dr. Gregory House\"}}],\n"
"  \"period\": {\"start\": \"2019-03-04T08:30:00-06:00\", \"end\": \"2019-03-04T10:05:00-06:00\"},\n"
"  \"reasonCode\": [{\"text\": \"Cough and dizziness, John Doe called on 2019-03-02\"}],\n"
"  \"serviceProvider\": {\"display\": \"St. Example General Hospital\"}\n"
"}\n", f);
	return gen_fclose(f, path);
}

/* A transaction Bundle for patient 3: Patient + Observation, linked by
 * urn:uuid fullUrls. */
static int gen_fhir_bundle(const char *dir)
{
	char path[4200], pu[65], ou[65];
	FILE *f;

	if (gen_path(path, sizeof(path),
		     "%s/fhir/Bundle-smith-jane-transaction.json", dir) < 0 ||
	    !(f = gen_fopen(path)))
		return -1;
	snprintf(pu, sizeof(pu), "2b6d1e0a-4c1f-4b8e-9a51-5e2f0c7d3a11");
	snprintf(ou, sizeof(ou), "7f3c9b2e-8d4a-4e6f-b1c2-0a9d8e7f6a55");
	fprintf(f,
"{\n"
"  \"resourceType\": \"Bundle\",\n"
"  \"id\": \"tx-smith-jane\",\n"
"  \"type\": \"transaction\",\n"
"  \"entry\": [\n"
"    {\n"
"      \"fullUrl\": \"urn:uuid:%s\",\n"
"      \"resource\": ", pu);
	fflush(f);
	gen_fhir_patient(f, 2);
	fprintf(f,
"      ,\"request\": {\"method\": \"POST\", \"url\": \"Patient\"}\n"
"    },\n"
"    {\n"
"      \"fullUrl\": \"urn:uuid:%s\",\n"
"      \"resource\": {\n"
"        \"resourceType\": \"Observation\",\n"
"        \"status\": \"final\",\n"
"        \"code\": {\"coding\": [{\"system\": \"http://loinc.org\", \"code\": \"29463-7\", \"display\": \"Body weight\"}]},\n"
"        \"subject\": {\"reference\": \"urn:uuid:%s\"},\n"
"        \"effectiveDateTime\": \"2021-08-22\",\n"
"        \"valueQuantity\": {\"value\": 58.2, \"unit\": \"kg\", \"system\": \"http://unitsofmeasure.org\", \"code\": \"kg\"},\n"
"        \"note\": [{\"text\": \"Weighed by Jane Smith's son; MRN 55501234.\"}]\n"
"      },\n"
"      \"request\": {\"method\": \"POST\", \"url\": \"Observation\"}\n"
"    }\n"
"  ]\n"
"}\n", ou, pu);
	return gen_fclose(f, path);
}

/* One Observation per line, for each patient. */
static int gen_fhir_ndjson(const char *dir)
{
	static const char *const codes[3][2] = {
		{"8867-4", "Heart rate"}, {"8310-5", "Body temperature"},
		{"2339-0", "Glucose"},
	};
	char path[4200];
	FILE *f;

	if (gen_path(path, sizeof(path), "%s/fhir/observations.ndjson", dir) < 0 ||
	    !(f = gen_fopen(path)))
		return -1;
	for (int p = 0; p < 3; p++)
		for (int k = 0; k < 3; k++) {
			fprintf(f,
"{\"resourceType\":\"Observation\",\"id\":\"obs-%s-%d\",\"status\":\"final\","
"\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"%s\",\"display\":\"%s\"}]},"
"\"subject\":{\"reference\":\"Patient/%s\"},"
"\"effectiveDateTime\":\"%.4s-%.2s-%.2sT10:%02d:00Z\","
"\"valueQuantity\":{\"value\":%d,\"unit\":\"1\"},"
"\"note\":[{\"text\":",
				gen_fhir_id[p], k, codes[k][0], codes[k][1],
				gen_fhir_id[p], gen_studies[p].date,
				gen_studies[p].date + 4, gen_studies[p].date + 6,
				k * 10, 60 + p * 7 + k);
			char note[160];
			snprintf(note, sizeof(note),
				 "Taken for %s %s, MRN %s.", gen_given_u8[p],
				 gen_family_u8[p], gen_pats[p].id);
			gen_json_str(f, note);
			fputs("}]}\n", f);
		}
	return gen_fclose(f, path);
}

static int gen_fhir(const char *dir)
{
	char path[4200];
	FILE *f;

	if (gen_path(path, sizeof(path), "%s/fhir", dir) < 0 ||
	    gen_mkdirs(path) < 0)
		return -1;
	for (int p = 0; p < 3; p++) {
		if (gen_path(path, sizeof(path), "%s/fhir/Patient-%s.json", dir,
			     gen_fhir_id[p]) < 0 || !(f = gen_fopen(path)))
			return -1;
		gen_fhir_patient(f, p);
		if (gen_fclose(f, path) < 0)
			return -1;
	}
	if (gen_fhir_doe(dir) < 0 || gen_fhir_bundle(dir) < 0 ||
	    gen_fhir_ndjson(dir) < 0)
		return -1;
	return 0;
}

/* Files a real export carries along, which the view must hide. */
static int gen_junk(const char *dir)
{
	static const char readme[] =
		"Export for study review - patients DOE JOHN (12345678),\n"
		"MUELLER JOERG, SMITH JANE.  Burn to CD for Dr. House.\n";
	static const uint8_t ds_store[32] = {
		0x00, 0x00, 0x00, 0x01, 'B', 'u', 'd', '1', 0x00, 0x00, 0x10,
		0x00, 0x00, 0x00, 0x08, 0x00,
	};
	struct dd_bgen *g = NULL;
	char path[4200];
	int rc = -1;

	if (gen_path(path, sizeof(path), "%s/README.txt", dir) < 0 ||
	    gen_write_file(path, readme, sizeof(readme) - 1) < 0)
		return -1;
	if (gen_path(path, sizeof(path), "%s/.DS_Store", dir) < 0 ||
	    gen_write_file(path, ds_store, sizeof(ds_store)) < 0)
		return -1;
	/* DICOMDIR-like: a Media Storage Directory with a patient record */
	if (gen_path(path, sizeof(path), "%s/DICOMDIR", dir) < 0)
		return -1;
	GEN_TRY(dd_bridge_gen_new(&g));
	if (dd_bridge_gen_meta_str(g, "MediaStorageSOPClassUID",
				   "1.2.840.10008.1.3.10") ||
	    dd_bridge_gen_meta_str(g, "MediaStorageSOPInstanceUID",
				   "2.25.4711") ||
	    dd_bridge_gen_str(g, "FileSetID", NULL, "DOE_EXPORT") ||
	    dd_bridge_gen_str(g, "FileSetConsistencyFlag", NULL, "0") ||
	    dd_bridge_gen_seq_push(g, "DirectoryRecordSequence") ||
	    dd_bridge_gen_str(g, "DirectoryRecordType", NULL, "PATIENT") ||
	    dd_bridge_gen_str(g, "PatientName", NULL, "DOE^JOHN") ||
	    dd_bridge_gen_str(g, "PatientID", NULL, "12345678") ||
	    dd_bridge_gen_seq_pop(g) ||
	    dd_bridge_gen_save(g, path, DD_BGEN_EXPLICIT_LE, DD_BGEN_KEEP_META)) {
		fprintf(stderr, "deid-gen: cannot write %s\n", path);
		goto out_free;
	}
	rc = 0;
out_free:
	dd_bridge_gen_free(g);
	return rc;
}

int gen_cmd_sample(const char *dir)
{
	if (gen_mkdirs(dir) < 0 || gen_sample_images(dir) < 0 ||
	    gen_fhir(dir) < 0 || gen_junk(dir) < 0)
		return -1;
	printf("deid-gen: sample dataset in %s (3 fake patients; DICOM, FHIR, "
	       "junk files)\n", dir);
	return 0;
}
