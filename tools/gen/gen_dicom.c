/* gen_dicom.c: headers and pixels of generated DICOM images.  The values
 * are fake but shaped like a scanner's: PHI in the usual places (names,
 * IDs, dates, addresses, institution, free-text descriptions that repeat
 * the patient's name), nested sequences, geometry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static int gen_num(struct dd_bgen *g, const char *name, long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld", v);
	GEN_S(g, name, s);
	return 0;
}

/* The patient module, and what a scanner copies around it. */
static int gen_patient_part(struct dd_bgen *g, const struct gen_image *im)
{
	const struct gen_patient *p = im->pat;

	GEN_S(g, "PatientName", p->name);
	GEN_S(g, "PatientID", p->id);
	if (p->issuer)
		GEN_S(g, "IssuerOfPatientID", p->issuer);
	GEN_S(g, "PatientBirthDate", p->birth);
	GEN_S(g, "PatientSex", p->sex);
	if (!im->full_header)
		return 0;
	if (p->age)
		GEN_S(g, "PatientAge", p->age);
	GEN_S(g, "PatientSize", "1.78");
	GEN_S(g, "PatientWeight", "81.5");
	if (p->address)
		GEN_S(g, "PatientAddress", p->address);
	if (p->phone)
		GEN_S(g, "PatientTelephoneNumbers", p->phone);
	GEN_S(g, "PatientBirthTime", "073000");
	GEN_TRY(dd_bridge_gen_str(g, "0010,1000", "LO", "X-1998-554")); /* retired */
	GEN_TRY(dd_bridge_gen_seq_push(g, "OtherPatientIDsSequence"));
	GEN_S(g, "PatientID", "X-1998-554");
	GEN_S(g, "IssuerOfPatientID", "OLD_RIS");
	GEN_S(g, "TypeOfPatientID", "TEXT");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_S(g, "EthnicGroup", "NONE");
	GEN_S(g, "Occupation", "Teacher");
	GEN_S(g, "MilitaryRank", "NONE");
	GEN_TRY(dd_bridge_gen_str(g, "0010,1090", "LO", p->id)); /* MedicalRecordLocator, retired */
	GEN_S(g, "PatientMotherBirthName", "ROE^MARY");
	GEN_S(g, "AdditionalPatientHistory",
	      "History given by patient; contact via phone");
	GEN_S(g, "PatientComments", "Patient prefers morning appointments");
	GEN_S(g, "PatientIdentityRemoved", "NO");
	return 0;
}

static int gen_study_part(struct dd_bgen *g, const struct gen_image *im)
{
	const struct gen_study *st = im->st;
	const struct gen_series *se = im->se;

	GEN_S(g, "StudyDate", st->date);
	GEN_S(g, "SeriesDate", st->date);
	GEN_S(g, "AcquisitionDate", st->date);
	GEN_S(g, "ContentDate", st->date);
	GEN_S(g, "StudyTime", st->time);
	GEN_S(g, "SeriesTime", st->time);
	GEN_S(g, "AcquisitionTime", st->time);
	GEN_S(g, "ContentTime", st->time);
	GEN_S(g, "AccessionNumber", st->accession);
	GEN_S(g, "Modality", se->modality);
	GEN_S(g, "ReferringPhysicianName", st->referring);
	GEN_S(g, "StudyInstanceUID", st->uid);
	GEN_S(g, "SeriesInstanceUID", se->uid);
	GEN_S(g, "StudyID", st->study_id);
	GEN_S(g, "AcquisitionNumber", "1");
	if (gen_num(g, "SeriesNumber", se->number) < 0 ||
	    gen_num(g, "InstanceNumber", im->instance) < 0)
		return -1;
	if (st->description)
		GEN_S(g, "StudyDescription", st->description);
	if (se->description)
		GEN_S(g, "SeriesDescription", se->description);
	if (se->body_part)
		GEN_S(g, "BodyPartExamined", se->body_part);
	if (!im->full_header)
		return 0;
	GEN_S(g, "InstitutionName", st->institution);
	GEN_S(g, "InstitutionAddress", "1 Hospital Road^^Springfield^IL^62704");
	GEN_S(g, "InstitutionalDepartmentName", "Radiology");
	GEN_S(g, "StationName", "CTSCAN01");
	GEN_S(g, "PerformingPhysicianName", "WATSON^JOHN^H^DR");
	GEN_S(g, "NameOfPhysiciansReadingStudy", "CURIE^MARIE");
	GEN_S(g, "OperatorsName", "TECH^ALICE");
	GEN_S(g, "PhysiciansOfRecord", "GREY^MEREDITH");
	GEN_S(g, "AdmittingDiagnosesDescription", "Suspected pneumonia");
	GEN_S(g, "RequestingPhysician", st->referring);
	GEN_S(g, "RequestedProcedureDescription", st->description);
	GEN_S(g, "PerformedProcedureStepStartDate", st->date);
	GEN_S(g, "PerformedProcedureStepStartTime", st->time);
	GEN_S(g, "PerformedProcedureStepID", "PPS-4471");
	GEN_S(g, "PerformedProcedureStepDescription", st->description);
	GEN_TRY(dd_bridge_gen_seq_push(g, "ReferencedStudySequence"));
	GEN_S(g, "ReferencedSOPClassUID", "1.2.840.10008.3.1.2.3.1");
	GEN_S(g, "ReferencedSOPInstanceUID", st->uid);
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_push(g, "RequestAttributesSequence"));
	GEN_S(g, "RequestedProcedureID", st->accession);
	GEN_S(g, "ScheduledProcedureStepID", "SPS-4471");
	GEN_S(g, "ScheduledProcedureStepDescription", st->description);
	GEN_TRY(dd_bridge_gen_seq_push(g, "ScheduledProtocolCodeSequence"));
	GEN_S(g, "CodeValue", "RPID17");
	GEN_S(g, "CodingSchemeDesignator", "RADLEX");
	GEN_S(g, "CodeMeaning", "CT CHEST WITHOUT CONTRAST");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	GEN_TRY(dd_bridge_gen_seq_push(g, "ProcedureCodeSequence"));
	GEN_S(g, "CodeValue", "24627-2");
	GEN_S(g, "CodingSchemeDesignator", "LN");
	GEN_S(g, "CodeMeaning", "CT Chest");
	GEN_TRY(dd_bridge_gen_seq_pop(g));
	return 0;
}

static int gen_equipment_part(struct dd_bgen *g, const struct gen_image *im)
{
	GEN_S(g, "Manufacturer", "ACME Imaging");
	if (!im->full_header)
		return 0;
	GEN_S(g, "ManufacturerModelName", "Scanmaster 9000");
	GEN_S(g, "DeviceSerialNumber", "SN-0042-7781");
	GEN_S(g, "SoftwareVersions", "VA12B\\build 4471");
	GEN_S(g, "ProtocolName", "CHEST ROUTINE");
	GEN_S(g, "DateOfLastCalibration", "20181201");
	GEN_S(g, "TimeOfLastCalibration", "101500");
	GEN_S(g, "DeviceUID", "2.25.1234567890123456789");
	return 0;
}

/* Acquisition and geometry: CT and MR get their own attributes. */
static int gen_acq_part(struct dd_bgen *g, const struct gen_image *im)
{
	const char *mod = im->se->modality;
	char s[96];
	double z = -120.0 + 2.5 * (im->instance - 1);

	if (!strcmp(mod, "CT")) {
		GEN_S(g, "KVP", "120");
		GEN_S(g, "SliceThickness", "2.5");
		GEN_S(g, "DataCollectionDiameter", "500");
		GEN_S(g, "ReconstructionDiameter", "360");
		GEN_S(g, "GantryDetectorTilt", "0");
		GEN_S(g, "TableHeight", "150");
		GEN_S(g, "RotationDirection", "CW");
		GEN_S(g, "ExposureTime", "500");
		GEN_S(g, "XRayTubeCurrent", "200");
		GEN_S(g, "Exposure", "100");
		GEN_S(g, "FilterType", "BODY FILTER");
		GEN_S(g, "ConvolutionKernel", "B30f");
		GEN_S(g, "PatientPosition", "HFS");
		GEN_S(g, "RescaleIntercept", "-1024");
		GEN_S(g, "RescaleSlope", "1");
		GEN_S(g, "RescaleType", "HU");
		GEN_S(g, "WindowCenter", "40");
		GEN_S(g, "WindowWidth", "400");
	} else if (!strcmp(mod, "MR")) {
		GEN_S(g, "ScanningSequence", "SE");
		GEN_S(g, "SequenceVariant", "NONE");
		GEN_S(g, "ScanOptions", "");
		GEN_S(g, "MRAcquisitionType", "2D");
		GEN_S(g, "SliceThickness", "5");
		GEN_S(g, "RepetitionTime", "500");
		GEN_S(g, "EchoTime", "15");
		GEN_S(g, "EchoTrainLength", "1");
		GEN_S(g, "MagneticFieldStrength", "1.5");
		GEN_S(g, "ImagedNucleus", "1H");
		GEN_S(g, "PatientPosition", "HFS");
	} else if (!strcmp(mod, "DX") || !strcmp(mod, "CR")) {
		GEN_S(g, "PatientOrientation", "A\\F");
		GEN_S(g, "ViewPosition", "PA");
		if (!strcmp(mod, "CR"))
			GEN_S(g, "Laterality", "L");
		if (!strcmp(mod, "DX")) {
			GEN_S(g, "LossyImageCompression", "00");
			GEN_S(g, "WindowCenter", "2048");
			GEN_S(g, "WindowWidth", "4096");
			GEN_S(g, "PositionerType", "NONE");
			GEN_S(g, "AcquisitionContextSequence", "");
			GEN_S(g, "ImageLaterality", "L");
			GEN_S(g, "PixelIntensityRelationship", "LIN");
			GEN_S(g, "PixelIntensityRelationshipSign", "1");
			GEN_S(g, "RescaleIntercept", "0");
			GEN_S(g, "RescaleSlope", "1");
			GEN_S(g, "RescaleType", "US");
			GEN_S(g, "PresentationLUTShape", "IDENTITY");
			GEN_S(g, "DetectorType", "DIRECT");
		}
		GEN_TRY(dd_bridge_gen_seq_push(g, "AnatomicRegionSequence"));
		GEN_S(g, "CodeValue", "85562004");
		GEN_S(g, "CodingSchemeDesignator", "SCT");
		GEN_S(g, "CodeMeaning", "Hand");
		GEN_TRY(dd_bridge_gen_seq_pop(g));
	} else {
		GEN_S(g, "PatientOrientation", "A\\F");
	}
	if (!strcmp(mod, "CT") || !strcmp(mod, "MR")) {
		GEN_S(g, "FrameOfReferenceUID", im->se->frame_uid);
		GEN_S(g, "PositionReferenceIndicator", "");
		snprintf(s, sizeof(s), "-180\\-180\\%.1f", z);
		GEN_S(g, "ImagePositionPatient", s);
		GEN_S(g, "ImageOrientationPatient", "1\\0\\0\\0\\1\\0");
		snprintf(s, sizeof(s), "%.1f", z);
		GEN_S(g, "SliceLocation", s);
		GEN_S(g, "PixelSpacing", "0.703125\\0.703125");
	} else if (strcmp(mod, "US") && strcmp(mod, "SC") &&
		   strcmp(mod, "OT")) {
		GEN_S(g, "ImagerPixelSpacing", "0.2\\0.2");
	}
	return 0;
}

static int gen_pixel_desc(struct dd_bgen *g, const struct gen_image *im)
{
	if (gen_num(g, "Rows", im->rows) < 0 ||
	    gen_num(g, "Columns", im->cols) < 0)
		return -1;
	GEN_S(g, "SamplesPerPixel", "1");
	GEN_S(g, "PhotometricInterpretation", "MONOCHROME2");
	if (gen_num(g, "BitsAllocated", im->bits) < 0 ||
	    gen_num(g, "BitsStored", im->bits == 16 ? 12 : 8) < 0 ||
	    gen_num(g, "HighBit", im->bits == 16 ? 11 : 7) < 0)
		return -1;
	GEN_S(g, "PixelRepresentation", "0");
	return 0;
}

int gen_header(struct dd_bgen *g, const struct gen_image *im)
{
	const char *type = "ORIGINAL\\PRIMARY\\AXIAL";

	if (im->pat->charset)
		GEN_S(g, "SpecificCharacterSet", im->pat->charset);
	if (strcmp(im->se->modality, "CT") && strcmp(im->se->modality, "MR"))
		type = "ORIGINAL\\PRIMARY";
	if (!strcmp(im->se->modality, "SC") || !strcmp(im->se->modality, "OT"))
		type = "DERIVED\\SECONDARY";
	GEN_S(g, "ImageType", type);
	GEN_S(g, "SOPClassUID", im->se->sop_class);
	GEN_S(g, "SOPInstanceUID", im->sop_uid);
	if (im->full_header) {
		GEN_S(g, "InstanceCreationDate", im->st->date);
		GEN_S(g, "InstanceCreationTime", im->st->time);
		GEN_S(g, "InstanceCreatorUID", "2.25.9988776655443322110");
		GEN_S(g, "TimezoneOffsetFromUTC", "-0600");
	}
	if (!strcmp(im->se->modality, "SC"))
		GEN_S(g, "ConversionType", "WSD");
	if (gen_patient_part(g, im) < 0 || gen_study_part(g, im) < 0 ||
	    gen_equipment_part(g, im) < 0 || gen_acq_part(g, im) < 0 ||
	    gen_pixel_desc(g, im) < 0)
		return -1;
	return 0;
}

int gen_pixels(struct dd_bgen *g, const struct gen_image *im)
{
	size_t n = (size_t)im->rows * (size_t)im->cols;
	int cx = im->cols / 2, cy = im->rows / 2;
	int r2 = (im->rows / 3) * (im->rows / 3);
	dd_err e;

	if (im->bits == 8) {
		uint8_t *p = malloc(n + 1);
		if (!p)
			return gen_bridge_fail(DD_E_NOMEM, "pixels");
		for (int y = 0; y < im->rows; y++)
			for (int x = 0; x < im->cols; x++) {
				int d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
				p[(size_t)y * im->cols + x] = (uint8_t)(
					(d < r2 ? 160 : 20) + ((x ^ y) & 15) +
					im->instance);
			}
		p[n] = 0; /* an odd length gets its pad byte */
		e = dd_bridge_gen_bytes(g, "PixelData", "OB", p, n + (n & 1));
		free(p);
		return e ? gen_bridge_fail(e, "PixelData") : 0;
	}
	uint16_t *w = malloc(n * sizeof(*w));
	if (!w)
		return gen_bridge_fail(DD_E_NOMEM, "pixels");
	for (int y = 0; y < im->rows; y++)
		for (int x = 0; x < im->cols; x++) {
			int d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
			w[(size_t)y * im->cols + x] = (uint16_t)(
				((d < r2 ? 1064 : 24) + ((x * 7 + y * 13) & 63) +
				 im->instance * 3) & 0x0fff);
		}
	e = dd_bridge_gen_u16(g, "PixelData", "OW", w, n);
	free(w);
	return e ? gen_bridge_fail(e, "PixelData") : 0;
}

int gen_overlay(struct dd_bgen *g, const struct gen_image *im,
		const char *label)
{
	size_t bits = (size_t)im->rows * (size_t)im->cols;
	size_t n = (bits + 15) / 16 * 2;
	uint8_t *p = calloc(1, n);
	dd_err e;

	if (!p)
		return gen_bridge_fail(DD_E_NOMEM, "overlay");
	if (gen_num(g, "6000,0010", im->rows) < 0 ||
	    gen_num(g, "6000,0011", im->cols) < 0)
		goto out_fail;
	/* a box of "text": rows 4..11, columns 4..(cols/2), every other bit */
	for (int y = 4; y < 12 && y < im->rows; y++)
		for (int x = 4; x < im->cols / 2; x++)
			if ((x + y) & 1) {
				size_t b = (size_t)y * im->cols + x;
				p[b / 8] |= (uint8_t)(1u << (b % 8));
			}
	if (dd_bridge_gen_str(g, "6000,0022", "LO", label) ||
	    dd_bridge_gen_str(g, "6000,0040", "CS", "G") ||
	    dd_bridge_gen_str(g, "6000,0050", "SS", "1\\1") ||
	    dd_bridge_gen_str(g, "6000,0100", "US", "1") ||
	    dd_bridge_gen_str(g, "6000,0102", "US", "0"))
		goto out_fail;
	e = dd_bridge_gen_bytes(g, "6000,3000", "OW", p, n);
	free(p);
	return e ? gen_bridge_fail(e, "OverlayData") : 0;
out_fail:
	free(p);
	return gen_bridge_fail(DD_E_INVAL, "overlay");
}

int gen_image_write(const struct gen_image *im, const char *path,
		    enum dd_bgen_xfer xfer)
{
	struct dd_bgen *g = NULL;
	int rc = -1;

	GEN_TRY(dd_bridge_gen_new(&g));
	if (gen_header(g, im) < 0 || gen_pixels(g, im) < 0)
		goto out_free;
	if (dd_bridge_gen_save(g, path, xfer, 0)) {
		fprintf(stderr, "deid-gen: cannot write %s\n", path);
		goto out_free;
	}
	rc = 0;
out_free:
	dd_bridge_gen_free(g);
	return rc;
}
