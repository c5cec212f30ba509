/* gen_golden.c: `deid-gen golden DIR`, the inputs of the golden tests
 * (tests/dicom/golden/).  Small images (8x8) so that a dcmdump of the
 * output, pixel data included, is a readable expected file.
 *
 *   ct_full.dcm          explicit LE; every PS3.15 action kind (X, Z, D,
 *                        U, X/Z, Z/D, X/D, X/Z/D, X/Z/U*), every option
 *                        column's attributes, nested sequences (3 levels),
 *                        private blocks (safe and unsafe creators), an
 *                        overlay with comments, a curve, an icon image,
 *                        graphic annotations, structured content; age 095Y
 *   mr_latin1.dcm        ISO_IR 100, MÜLLER^JÖRG, descriptions naming him
 *   utf8_names.dcm       ISO_IR 192, PN with ideographic and phonetic groups
 *   implicit_private.dcm implicit VR LE, private tags (incl. a private
 *                        sequence holding a UID and a name)
 *   explicit_be.dcm      explicit VR big endian (retired syntax), CT
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"

static const struct gen_patient gold_doe = {
	NULL, "DOE^JOHN", "12345678", "HOSP_MRN", "19240229", "M", "095Y",
	"12 Elm Street^^Springfield^IL^62701", "555-0142", "John Doe",
};

static int gold_series(struct gen_series *se, const char *mod,
		       const char *sop, int n)
{
	memset(se, 0, sizeof(*se));
	gen_uid(se->uid, "golden-series", (uint64_t)n);
	gen_uid(se->frame_uid, "golden-frame", (uint64_t)n);
	se->number = n + 1;
	se->modality = mod;
	se->sop_class = sop;
	se->description = "Follow-up DOE^JOHN 12345678";
	se->body_part = !strcmp(mod, "MR") ? "HEAD" : "CHEST";
	return 0;
}

/* Attributes beyond the realistic header, one or more per action kind. */
static int gold_actions(struct dd_bgen *g, const struct gen_image *im)
{
	char ref[65];

	/* X */
	GEN_S(g, "ImageComments",
	      "Patient John Doe, MRN 12345678, seen 2019-03-04 by Dr. House");
	GEN_S(g, "Allergies", "Penicillin (reported by John Doe)");
	GEN_S(g, "AdmittingDate", "20190303");
	GEN_TRY(dd_bridge_gen_str(g, "PregnancyStatus", NULL, "4"));
	/* Z */
	GEN_S(g, "ConsultingPhysicianName", "WILSON^JAMES");
	/* D */
	GEN_S(g, "ClinicalTrialSponsorName", "ACME Pharma for DOE");
	GEN_S(g, "ClinicalTrialProtocolID", "PROT-12345678");
	GEN_S(g, "ClinicalTrialSubjectID", "SUBJ-12345678");
	GEN_S(g, "ClinicalTrialProtocolName", "Lung study of John Doe"); /* Z */
	GEN_S(g, "ClinicalTrialSiteID", "SITE-7");                        /* Z */
	GEN_S(g, "ClinicalTrialSiteName", "Springfield site");            /* Z */
	/* Z/D */
	GEN_S(g, "ContrastBolusAgent", "Omnipaque 350 given to John Doe");
	GEN_S(g, "ContentCreatorName", "TECH^BOB");
	/* X/D */
	GEN_S(g, "DetectorID", "DET-77");
	GEN_S(g, "AcquisitionDeviceProcessingDescription", "CHEST DOE JOHN");
	/* X/Z/D (InstitutionName, OperatorsName, StationName, DeviceSerial-
	 * Number and InstanceCreationTime are in the realistic header) */
	GEN_S(g, "AcquisitionDateTime", "20190304091512.123456-0600");
	GEN_TRY(dd_bridge_gen_seq_push(g, "InstitutionCodeSequence"));
	GEN_S(g, "CodeValue", "INST01");
	GEN_S(g, "CodingSchemeDesignator", "L");
	GEN_S(g, "CodeMeaning", "St. Example General Hospital");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	/* X/Z/U* */
	gen_uid(ref, "golden-ref-instance", 0);
	GEN_TRY(dd_bridge_gen_seq_push(g, "ReferencedImageSequence"));
	GEN_S(g, "ReferencedSOPClassUID", GEN_SOP_CT);
	GEN_S(g, "ReferencedSOPInstanceUID", ref);
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_push(g, "SourceImageSequence"));
	GEN_S(g, "ReferencedSOPClassUID", GEN_SOP_CT);
	GEN_S(g, "ReferencedSOPInstanceUID", ref);
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	/* options: device (K and C), dates (multi-valued DA), UIDs */
	GEN_S(g, "DateOfLastCalibration", "20181201\\20190101");
	GEN_S(g, "DateOfLastDetectorCalibration", "20190101");
	/* StudyComments (retired): by tag, dcmtk's keyword is a private one */
	GEN_TRY(dd_bridge_gen_str(g, "0032,4000", "LT", "Requested by John Doe's GP"));
	(void)im;
	return 0;
}

/* ContentSequence (D; Clean Structured Content C), three levels deep,
 * and AcquisitionContextSequence (X/Z; C). */
static int gold_structured(struct dd_bgen *g)
{
	GEN_TRY(dd_bridge_gen_seq_push(g, "ContentSequence"));
	GEN_S(g, "RelationshipType", "CONTAINS");
	GEN_S(g, "ValueType", "TEXT");
	GEN_TRY(dd_bridge_gen_seq_push(g, "ConceptNameCodeSequence"));
	GEN_S(g, "CodeValue", "121071");
	GEN_S(g, "CodingSchemeDesignator", "DCM");
	GEN_S(g, "CodeMeaning", "Finding");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_S(g, "TextValue", "Seen by Dr. Gregory House for John Doe on 2019-03-04");
	GEN_TRY(dd_bridge_gen_seq_push(g, "ContentSequence"));
	GEN_S(g, "RelationshipType", "HAS OBS CONTEXT");
	GEN_S(g, "ValueType", "PNAME");
	GEN_TRY(dd_bridge_gen_seq_push(g, "ConceptNameCodeSequence"));
	GEN_S(g, "CodeValue", "121008");
	GEN_S(g, "CodingSchemeDesignator", "DCM");
	GEN_S(g, "CodeMeaning", "Person Observer Name");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_S(g, "PersonName", "DOE^JOHN");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_push(g, "ContentSequence"));
	GEN_S(g, "RelationshipType", "HAS OBS CONTEXT");
	GEN_S(g, "ValueType", "DATE");
	GEN_TRY(dd_bridge_gen_seq_push(g, "ConceptNameCodeSequence"));
	GEN_S(g, "CodeValue", "111060");
	GEN_S(g, "CodingSchemeDesignator", "DCM");
	GEN_S(g, "CodeMeaning", "Study Date");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_S(g, "Date", "20190304");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_pop(g));

	GEN_TRY(dd_bridge_gen_seq_push(g, "AcquisitionContextSequence"));
	GEN_S(g, "ValueType", "TEXT");
	GEN_TRY(dd_bridge_gen_seq_push(g, "ConceptNameCodeSequence"));
	GEN_S(g, "CodeValue", "121106");
	GEN_S(g, "CodingSchemeDesignator", "DCM");
	GEN_S(g, "CodeMeaning", "Comment");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_S(g, "TextValue", "Patient DOE JOHN could not hold breath");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	return 0;
}

/* Graphics: annotation text, an overlay with comments, a curve, an icon. */
static int gold_graphics(struct dd_bgen *g, const struct gen_image *im)
{
	static const uint8_t curve[8] = {1, 0, 2, 0, 3, 0, 4, 0};
	uint8_t icon[16];

	GEN_TRY(dd_bridge_gen_seq_push(g, "GraphicAnnotationSequence"));
	GEN_S(g, "GraphicLayer", "LAYER1");
	GEN_TRY(dd_bridge_gen_seq_push(g, "TextObjectSequence"));
	GEN_S(g, "BoundingBoxAnnotationUnits", "PIXEL");
	GEN_TRY(dd_bridge_gen_str(g, "BoundingBoxTopLeftHandCorner", NULL, "1\\1"));
	GEN_TRY(dd_bridge_gen_str(g, "BoundingBoxBottomRightHandCorner", NULL, "8\\4"));
	GEN_S(g, "BoundingBoxTextHorizontalJustification", "LEFT");
	GEN_S(g, "UnformattedTextValue", "DOE JOHN 12345678");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_pop(g));

	if (gen_overlay(g, im, "DOE JOHN") < 0)
		return -1;
	GEN_TRY(dd_bridge_gen_str(g, "6000,4000", "LT", "Marked for John Doe"));

	GEN_TRY(dd_bridge_gen_str(g, "5000,0005", "US", "1"));
	GEN_TRY(dd_bridge_gen_str(g, "5000,0010", "US", "4"));
	GEN_TRY(dd_bridge_gen_str(g, "5000,0020", "CS", "TAC"));
	GEN_TRY(dd_bridge_gen_str(g, "5000,0022", "LO", "DOE curve"));
	GEN_TRY(dd_bridge_gen_str(g, "5000,0103", "US", "0"));
	GEN_TRY(dd_bridge_gen_bytes(g, "5000,3000", "OW", curve, sizeof(curve)));

	for (int i = 0; i < 16; i++)
		icon[i] = (uint8_t)(i * 16);
	GEN_TRY(dd_bridge_gen_seq_push(g, "IconImageSequence"));
	GEN_S(g, "SamplesPerPixel", "1");
	GEN_S(g, "PhotometricInterpretation", "MONOCHROME2");
	GEN_S(g, "Rows", "4");
	GEN_S(g, "Columns", "4");
	GEN_S(g, "BitsAllocated", "8");
	GEN_S(g, "BitsStored", "8");
	GEN_S(g, "HighBit", "7");
	GEN_S(g, "PixelRepresentation", "0");
	GEN_TRY(dd_bridge_gen_bytes(g, "PixelData", "OB", icon, sizeof(icon)));
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	return 0;
}

/* Private blocks: two creators in the safe-private table (acquisition
 * physics), one unknown creator holding PHI. */
static int gold_private(struct dd_bgen *g)
{
	static const uint8_t blob[6] = {'D', 'O', 'E', 0, 0x12, 0x34};

	GEN_TRY(dd_bridge_gen_str(g, "0009,0010", "LO", "ACME_PRIVATE_1"));
	GEN_TRY(dd_bridge_gen_str(g, "0009,1001", "LO", "DOE^JOHN 12345678"));
	GEN_TRY(dd_bridge_gen_bytes(g, "0009,1002", "OB", blob, sizeof(blob)));
	GEN_TRY(dd_bridge_gen_str(g, "0019,0010", "LO", "GEMS_ACQU_01"));
	GEN_TRY(dd_bridge_gen_str(g, "0019,0011", "LO", "SIEMENS MR HEADER"));
	GEN_TRY(dd_bridge_gen_str(g, "0019,10BB", "DS", "1.5"));
	GEN_TRY(dd_bridge_gen_str(g, "0019,10BC", "DS", "2.5"));
	GEN_TRY(dd_bridge_gen_str(g, "0019,10FF", "LO", "DOE^JOHN"));
	GEN_TRY(dd_bridge_gen_str(g, "0019,110C", "IS", "1000"));
	GEN_TRY(dd_bridge_gen_str(g, "0019,110E", "FD", "0\\0\\1"));
	return 0;
}

static int gold_save(struct dd_bgen *g, const char *dir, const char *name,
		     enum dd_bgen_xfer xfer)
{
	char path[4200];

	if (gen_path(path, sizeof(path), "%s/%s", dir, name) < 0)
		return -1;
	if (dd_bridge_gen_save(g, path, xfer, 0)) {
		fprintf(stderr, "deid-gen: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int gold_ct_full(const char *dir)
{
	struct gen_study st = {"", "20190304", "091500", "A20190304001",
			       "CT CHEST for DOE JOHN", "HOUSE^GREGORY^^DR",
			       "St. Example General Hospital", "4471"};
	struct gen_series se;
	struct gen_image im = {0};
	struct dd_bgen *g = NULL;
	int rc = -1;

	gen_uid(st.uid, "golden-study", 0);
	gold_series(&se, "CT", GEN_SOP_CT, 0);
	im.pat = &gold_doe;
	im.st = &st;
	im.se = &se;
	im.instance = 1;
	im.rows = im.cols = 8;
	im.bits = 16;
	im.full_header = true;
	gen_uid(im.sop_uid, "golden-instance", 0);
	GEN_TRY(dd_bridge_gen_new(&g));
	if (gen_header(g, &im) < 0 || gold_actions(g, &im) < 0 ||
	    gold_structured(g) < 0 || gold_graphics(g, &im) < 0 ||
	    gold_private(g) < 0 || gen_pixels(g, &im) < 0 ||
	    gold_save(g, dir, "ct_full.dcm", DD_BGEN_EXPLICIT_LE) < 0)
		goto out_free;
	rc = 0;
out_free:
	dd_bridge_gen_free(g);
	return rc;
}

static int gold_mr_latin1(const char *dir)
{
	static const struct gen_patient pat = {
		"ISO_IR 100", "M\xdcLLER^J\xd6RG", "87654321", "HOSP_MRN",
		"19480229", "M", "071Y", "Hauptstra\xdf" "e 5^^Beispielstadt",
		"+49 30 1234567", "J\xf6rg M\xfcller",
	};
	struct gen_study st = {"", "20200115", "143000", "A20200115017",
			       "MRT KOPF M\xdcLLER J\xd6RG", "SCHMIDT^ANNA^^DR.",
			       "Klinikum M\xfcnster", "88"};
	struct gen_series se;
	struct gen_image im = {0};
	struct dd_bgen *g = NULL;
	int rc = -1;

	gen_uid(st.uid, "golden-study", 1);
	gold_series(&se, "MR", GEN_SOP_MR, 1);
	se.description = "T1 J\xf6rg M\xfcller";
	im.pat = &pat;
	im.st = &st;
	im.se = &se;
	im.instance = 1;
	im.rows = im.cols = 8;
	im.bits = 16;
	im.full_header = true;
	gen_uid(im.sop_uid, "golden-instance", 1);
	GEN_TRY(dd_bridge_gen_new(&g));
	if (gen_header(g, &im) < 0 ||
	    dd_bridge_gen_str(g, "ImageComments", NULL,
			      "Herr M\xfcller, geb. 29.02.1948") ||
	    gen_pixels(g, &im) < 0 ||
	    gold_save(g, dir, "mr_latin1.dcm", DD_BGEN_EXPLICIT_LE) < 0)
		goto out_free;
	rc = 0;
out_free:
	dd_bridge_gen_free(g);
	return rc;
}

static int gold_utf8(const char *dir)
{
	static const struct gen_patient pat = {
		"ISO_IR 192",
		"YAMADA^TARO=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e="
		"\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d"
		"\xe3\x81\x86",
		"55501234", "HOSP_MRN", "19610412", "M", "058Y", NULL, NULL,
		"Taro Yamada",
	};
	struct gen_study st = {"", "20191120", "110000", "A20191120005",
			       "CT \xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e "
			       "YAMADA TARO", "SATO^HANAKO",
			       "\xe6\x9d\xb1\xe4\xba\xac\xe7\x97\x85\xe9\x99\xa2",
			       "901"};
	struct gen_series se;
	struct gen_image im = {0};
	struct dd_bgen *g = NULL;
	int rc = -1;

	gen_uid(st.uid, "golden-study", 2);
	gold_series(&se, "CT", GEN_SOP_CT, 2);
	se.description = "Yamada \xe5\xb1\xb1\xe7\x94\xb0";
	im.pat = &pat;
	im.st = &st;
	im.se = &se;
	im.instance = 1;
	im.rows = im.cols = 8;
	im.bits = 16;
	im.full_header = true;
	gen_uid(im.sop_uid, "golden-instance", 2);
	GEN_TRY(dd_bridge_gen_new(&g));
	if (gen_header(g, &im) < 0 || gen_pixels(g, &im) < 0 ||
	    gold_save(g, dir, "utf8_names.dcm", DD_BGEN_EXPLICIT_LE) < 0)
		goto out_free;
	rc = 0;
out_free:
	dd_bridge_gen_free(g);
	return rc;
}

/* A short header (not the realistic one) in two older encodings. */
static int gold_small(const char *dir, const char *name, int n,
		      enum dd_bgen_xfer xfer, bool priv)
{
	struct gen_study st = {"", "20180611", "070000", "A20180611002",
			       "CT HEAD DOE", "HOUSE^GREGORY^^DR",
			       "St. Example General Hospital", "12"};
	struct gen_series se;
	struct gen_image im = {0};
	struct dd_bgen *g = NULL;
	char uid[65];
	int rc = -1;

	gen_uid(st.uid, "golden-study", (uint64_t)n);
	gold_series(&se, "CT", GEN_SOP_CT, n);
	im.pat = &gold_doe;
	im.st = &st;
	im.se = &se;
	im.instance = 1;
	im.rows = im.cols = 8;
	im.bits = 16;
	gen_uid(im.sop_uid, "golden-instance", (uint64_t)n);
	gen_uid(uid, "golden-private-uid", (uint64_t)n);
	GEN_TRY(dd_bridge_gen_new(&g));
	if (gen_header(g, &im) < 0)
		goto out_free;
	if (priv &&
	    (dd_bridge_gen_str(g, "0009,0010", "LO", "ACME_PRIVATE_1") ||
	     dd_bridge_gen_str(g, "0009,1001", "LO", "DOE^JOHN") ||
	     dd_bridge_gen_str(g, "0009,1003", "UI", uid) ||
	     dd_bridge_gen_seq_push(g, "0009,1010") ||
	     dd_bridge_gen_str(g, "ReferencedSOPInstanceUID", NULL, uid) ||
	     dd_bridge_gen_str(g, "PatientName", NULL, "DOE^JOHN") ||
	     dd_bridge_gen_seq_pop(g)))
		goto out_free;
	if (gen_pixels(g, &im) < 0 || gold_save(g, dir, name, xfer) < 0)
		goto out_free;
	rc = 0;
out_free:
	dd_bridge_gen_free(g);
	return rc;
}

int gen_cmd_golden(const char *dir)
{
	if (gen_mkdirs(dir) < 0 || gold_ct_full(dir) < 0 ||
	    gold_mr_latin1(dir) < 0 || gold_utf8(dir) < 0 ||
	    gold_small(dir, "implicit_private.dcm", 3, DD_BGEN_IMPLICIT_LE,
		       true) < 0 ||
	    gold_small(dir, "explicit_be.dcm", 4, DD_BGEN_EXPLICIT_BE,
		       false) < 0)
		return -1;
	printf("deid-gen: golden inputs in %s\n", dir);
	return 0;
}
