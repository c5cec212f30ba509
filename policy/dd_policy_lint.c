/* dd_policy_lint.c: warnings for PHI categories a valid policy leaves
 * untouched.  Each message is "FILE: PATH: CATEGORY: what is left".  The
 * categories are listed in docs/policy.md ("deid policy check"). */
#include <stdio.h>
#include <string.h>

#include "dd_dict.h"
#include "dd_policy_i.h"

static const char *li_dicom_path(const struct dd_policy *p, const char *leaf)
{
	static __thread char buf[POL_PATH_MAX];

	if (!p->dicom.present)
		return "$";
	snprintf(buf, sizeof(buf), "%s%s%s",
		 p->dicom.tag_config ? "$.dicomTagConfig" : "$.dicom",
		 leaf ? "." : "", leaf ? leaf : "");
	return buf;
}

static bool li_tag_vr(uint32_t tag, const char *vr)
{
	const struct dd_dict_entry *e = dd_dict_find_tag(tag);

	return e && e->vr[0] == vr[0] && e->vr[1] == vr[1];
}

static void li_dicom(struct pol_ctx *c, const struct dd_policy *p)
{
	const struct dd_policy_dicom *d = &p->dicom;
	unsigned o = d->ps315_options;
	char path[POL_PATH_MAX];
	size_t i, j;

	if (d->filter == DD_DICOM_FILTER_PROFILE &&
	    d->profile == DD_DICOM_PROFILE_KEEP_ALL) {
		if (!d->present)
			pol_warn(c, "$", "DICOM attributes: kept unchanged (no dicom config: the v1 default is KEEP_ALL_PROFILE; only the primary UIDs are regenerated)");
		else
			pol_warn(c, li_dicom_path(p, d->tag_config ? "profileType" : "filterProfile"),
				 "DICOM attributes: kept unchanged (KEEP_ALL_PROFILE; only the primary UIDs%s are regenerated)",
				 d->n_actions ? " and the actions' tags" : "");
	}
	if (d->filter == DD_DICOM_FILTER_REMOVE_LIST)
		pol_warn(c, "$.dicom.removeList", "DICOM attributes: only the listed attributes are emptied; all others are kept (removeList)");
	if (d->filter == DD_DICOM_FILTER_KEEP_LIST)
		for (i = 0; i < d->n_list_tags; i++)
			if (li_tag_vr(d->list_tags[i], "PN"))
				pol_warn(c, "$.dicom.keepList", "names: %s kept (keepList)",
					 dd_dict_find_tag(d->list_tags[i])->keyword);
	for (i = 0; i < d->n_actions; i++) {
		const struct dd_dicom_action *a = &d->actions[i];

		if (a->kind != DD_DACT_KEEP)
			continue;
		for (j = 0; j < a->n_queries; j++) {
			const struct dd_dicom_query *q = &a->queries[j];

			snprintf(path, sizeof(path), "$.dicomTagConfig.actions[%zu]", i);
			if (q->kind == DD_DQ_VR && !strcmp(q->vr, "PN"))
				pol_warn(c, path, "names: every PN attribute kept (keepTag)");
			else if (q->kind == DD_DQ_TAG && li_tag_vr(q->tag, "PN"))
				pol_warn(c, path, "names: %s kept (keepTag)",
					 dd_dict_find_tag(q->tag)->keyword);
		}
	}
	if (d->primary_ids == DD_PRIMARY_IDS_KEEP)
		pol_warn(c, li_dicom_path(p, d->tag_config ? "options.primaryIds" : "skipIdRedaction"),
			 "UIDs: StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID and MediaStorageSOPInstanceUID kept");
	if (d->profile != DD_DICOM_PROFILE_BASIC || d->filter != DD_DICOM_FILTER_PROFILE)
		return;
	if (o & DD_PS315_RETAIN_UIDS)
		pol_warn(c, "$.deidfs.ps315Options", "UIDs: kept (retainUids)");
	if (o & DD_PS315_RETAIN_LONG_FULL_DATES)
		pol_warn(c, "$.deidfs.ps315Options", "dates: DICOM dates and times kept (retainLongFullDates)");
	if (o & DD_PS315_RETAIN_DEVICE_ID)
		pol_warn(c, "$.deidfs.ps315Options", "device identifiers: kept (retainDeviceId)");
	if (o & DD_PS315_RETAIN_INSTITUTION_ID)
		pol_warn(c, "$.deidfs.ps315Options", "institution identifiers: kept (retainInstitutionId)");
}

static bool li_image_redacts(const struct dd_policy_image *im)
{
	return im->present && (im->mode != DD_REDACT_NO_TEXT ||
			       im->additional_info_types.n);
}

static void li_image(struct pol_ctx *c, const struct dd_policy *p)
{
	const struct dd_policy_dicom *d = &p->dicom;
	const char *path = "$";
	size_t i;

	if (li_image_redacts(&d->clean_image) || li_image_redacts(&p->image))
		return;
	for (i = 0; i < d->n_actions; i++)
		if (d->actions[i].kind == DD_DACT_CLEAN_IMAGE &&
		    li_image_redacts(&d->actions[i].image))
			return;
	if (d->clean_image_given)
		path = "$.dicomTagConfig.options.cleanImage";
	else if (p->image.present)
		path = "$.image";
	pol_warn(c, path, "burnt-in text: not redacted (textRedactionMode REDACT_NO_TEXT)");
}

static void li_fhir(struct pol_ctx *c, const struct dd_policy *p)
{
	const struct dd_policy_fhir *f = &p->fhir;
	const char *base = f->field_config ? "$.fhirFieldConfig" : "$.fhir";
	char path[POL_PATH_MAX];
	size_t i;

	if (!f->present && f->profile == DD_FHIR_PROFILE_KEEP_ALL)
		pol_warn(c, "$", "FHIR fields: passed through unchanged (no fhir config: the v1 default passes every field through)");
	else if (f->present && !f->field_config)
		pol_warn(c, "$.fhir", "FHIR fields: fields that no fieldMetadataList entry matches are passed through unchanged (v1 FhirConfig has no profile)");
	else if (f->present && f->profile == DD_FHIR_PROFILE_KEEP_ALL)
		pol_warn(c, "$.fhirFieldConfig.profileType", "FHIR fields: fields that no fieldMetadataList entry matches are passed through unchanged (KEEP_ALL)");
	for (i = 0; i < f->n_fields; i++) {
		if (f->fields[i].action != DD_FACT_KEEP &&
		    f->fields[i].action != DD_FACT_DO_NOT_TRANSFORM)
			continue;
		snprintf(path, sizeof(path), "%s.fieldMetadataList[%zu]", base, i);
		pol_warn(c, path, "FHIR fields: %s%s kept unchanged (%s)",
			 f->fields[i].paths.n ? f->fields[i].paths.v[0] : "(none)",
			 f->fields[i].paths.n > 1 ? " and more" : "",
			 pol_fact_names[f->fields[i].action]);
	}
	if (f->keep_extensions)
		pol_warn(c, f->field_config ? "$.fhirFieldConfig.options.keepExtensions"
					    : "$.fhir.defaultKeepExtensions",
			 "FHIR extensions: all kept");
}

static void li_text(struct pol_ctx *c, const struct dd_policy *p)
{
	const struct dd_policy_text *t = &p->text;
	char list[512];
	size_t i, o = 0;

	if (t->profile == DD_TEXT_PROFILE_EMPTY && !t->n_transforms)
		pol_warn(c, "$.text.profileType", "free text: found PHI is not transformed (profile EMPTY and no transformations)");
	if (t->exclude_info_types.n) {
		list[0] = 0;
		for (i = 0; i < t->exclude_info_types.n && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
					      i ? ", " : "", t->exclude_info_types.v[i]);
		pol_warn(c, "$.text.excludeInfoTypes", "free text: %s not transformed (excludeInfoTypes)",
			 list);
	}
	if (!p->deidfs.inspect_free_text)
		pol_warn(c, "$.deidfs.inspectFreeText", "free text: not inspected (inspectFreeText false)");
}

static void li_deidfs(struct pol_ctx *c, const struct dd_policy *p)
{
	const struct dd_policy_deidfs *d = &p->deidfs;

	if (d->path_mode == DD_PATH_KEEP)
		pol_warn(c, "$.deidfs.pathMode", "file names: kept unchanged (pathMode \"keep\")");
	if (d->dates == DD_DATES_KEEP)
		pol_warn(c, "$.deidfs.dates", "dates: kept where they would be modified (dates \"keep\")");
	if (d->birth_date == DD_BIRTH_KEEP)
		pol_warn(c, "$.deidfs.birthDate", "birth dates: kept (birthDate \"keep\")");
	if (d->max_age > 89)
		pol_warn(c, "$.deidfs.maxAge", "ages: ages up to %d kept (HIPAA groups ages over 89)",
			 d->max_age);
	if (!d->hide_recognizable_visual_features)
		pol_warn(c, "$.deidfs.hideRecognizableVisualFeatures", "faces: images marked RecognizableVisualFeatures YES are served");
	if (!d->hide_photographic)
		pol_warn(c, "$.deidfs.hidePhotographic", "photographs: photographic SOP classes are served");
}

dd_err dd_policy_lint(const struct dd_policy *p, struct dd_diags *diags)
{
	struct pol_ctx c = {0};

	if (!p || !diags)
		return DD_E_INVAL;
	c.name = p->source ? p->source : "policy";
	c.diags = diags;
	c.api = p->deidfs.api_version;
	li_dicom(&c, p);
	li_image(&c, p);
	li_fhir(&c, p);
	li_text(&c, p);
	li_deidfs(&c, p);
	return c.nomem ? DD_E_NOMEM : DD_OK;
}
