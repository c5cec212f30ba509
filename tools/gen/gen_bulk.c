/* gen_bulk.c: `deid-gen ct` and `deid-gen small`, bulk data for the
 * benchmarks and scale tests.  Names, IDs and dates come from the PRNG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static const char *const gen_family[] = {
	"DOE", "SMITH", "JOHNSON", "GARCIA", "NGUYEN", "KOWALSKI", "OKAFOR",
	"TANAKA", "ROSSI", "HANSEN", "SILVA", "MURPHY",
};
static const char *const gen_given[] = {
	"JOHN", "JANE", "MARIA", "AHMED", "LI", "OLGA", "PETER", "AMARA",
	"KENJI", "LUCIA", "SVEN", "NORA",
};

/* A generated patient with its strings kept in @buf. */
struct gen_bulk_patient {
	struct gen_patient p;
	char name[64], id[16], birth[9], dirname[96], text[64];
};

static void gen_bulk_patient(struct gen_bulk_patient *b, int n)
{
	struct gen_rng r;
	const char *fam, *giv;

	gen_rng_seed(&r, gen_seed, "bulk-patient", (uint64_t)n);
	fam = gen_family[gen_rng_below(&r, 12)];
	giv = gen_given[gen_rng_below(&r, 12)];
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s^%s", fam, giv);
	snprintf(b->id, sizeof(b->id), "%08u",
		 10000000u + gen_rng_below(&r, 89999999u));
	snprintf(b->birth, sizeof(b->birth), "%04u%02u%02u",
		 1930 + gen_rng_below(&r, 70), 1 + gen_rng_below(&r, 12),
		 1 + gen_rng_below(&r, 28));
	snprintf(b->dirname, sizeof(b->dirname), "%s_%s_%s", fam, giv, b->id);
	snprintf(b->text, sizeof(b->text), "%s %s", giv, fam);
	b->p.name = b->name;
	b->p.id = b->id;
	b->p.issuer = "HOSP_MRN";
	b->p.birth = b->birth;
	b->p.sex = gen_rng_below(&r, 2) ? "F" : "M";
	b->p.age = "050Y";
	b->p.address = "12 Elm Street^^Springfield^IL^62701";
	b->p.phone = "555-0142";
	b->p.text_name = b->text;
}

/* Study @n of a bulk run: date and accession from the PRNG. */
struct gen_bulk_study {
	struct gen_study s;
	char date[9], accession[17], description[96], study_id[8];
};

static void gen_bulk_study(struct gen_bulk_study *b, int n,
			   const struct gen_bulk_patient *p, const char *what)
{
	struct gen_rng r;

	gen_rng_seed(&r, gen_seed, "bulk-study", (uint64_t)n);
	memset(b, 0, sizeof(*b));
	snprintf(b->date, sizeof(b->date), "%04u%02u%02u",
		 2015 + gen_rng_below(&r, 9), 1 + gen_rng_below(&r, 12),
		 1 + gen_rng_below(&r, 28));
	snprintf(b->accession, sizeof(b->accession), "A%s%04d", b->date,
		 n % 10000);
	snprintf(b->description, sizeof(b->description), "%s %s", what,
		 p->text);
	snprintf(b->study_id, sizeof(b->study_id), "%d", 1000 + n % 9000);
	gen_uid(b->s.uid, "bulk-study", (uint64_t)n);
	b->s.date = b->date;
	b->s.time = "101500";
	b->s.accession = b->accession;
	b->s.description = b->description;
	b->s.referring = "HOUSE^GREGORY^^DR";
	b->s.institution = "St. Example General Hospital";
	b->s.study_id = b->study_id;
}

int gen_cmd_ct(const char *dir, int count, int rows, int cols)
{
	struct gen_bulk_patient bp;
	struct gen_bulk_study bs;
	struct gen_series se;
	struct gen_image im;
	char d[4096], path[4200];

	memset(&se, 0, sizeof(se));
	se.modality = "CT";
	se.sop_class = GEN_SOP_CT;
	se.description = "CHEST 2.5mm B30f";
	se.body_part = "CHEST";
	for (int i = 0; i < count; i++) {
		int series = i / 100, study = i / 300;
		if (i % 300 == 0) {
			gen_bulk_patient(&bp, study);
			gen_bulk_study(&bs, study, &bp, "CT CHEST for");
		}
		if (i % 100 == 0) {
			gen_uid(se.uid, "ct-series", (uint64_t)series);
			gen_uid(se.frame_uid, "ct-frame", (uint64_t)series);
			se.number = 1 + series % 3;
			if (gen_path(d, sizeof(d), "%s/%s/%s_CT/SE%d", dir,
				     bp.dirname, bs.date, se.number) < 0 ||
			    gen_mkdirs(d) < 0)
				return -1;
		}
		memset(&im, 0, sizeof(im));
		im.pat = &bp.p;
		im.st = &bs.s;
		im.se = &se;
		im.instance = 1 + i % 100;
		im.rows = rows;
		im.cols = cols;
		im.bits = 16;
		im.full_header = true;
		gen_uid(im.sop_uid, "ct-instance", (uint64_t)i);
		if (gen_path(path, sizeof(path), "%s/IM%05d.dcm", d,
			     im.instance) < 0 ||
		    gen_image_write(&im, path, DD_BGEN_EXPLICIT_LE) < 0)
			return -1;
	}
	printf("deid-gen: %d CT slices (%dx%d) in %s\n", count, rows, cols,
	       dir);
	return 0;
}

/* The modalities of `small`, in turn. */
static const struct {
	const char *modality, *sop, *body;
	int bits;
} gen_small_kinds[] = {
	{"CT", GEN_SOP_CT, "HEAD", 16}, {"MR", GEN_SOP_MR, "KNEE", 16},
	{"CR", GEN_SOP_CR, "CHEST", 16}, {"DX", GEN_SOP_DX, "HAND", 16},
	{"US", GEN_SOP_US, "ABDOMEN", 8}, {"OT", GEN_SOP_SC, NULL, 8},
	{"NM", GEN_SOP_NM, "THYROID", 16}, {"PT", GEN_SOP_PT, "WHOLEBODY", 16},
	{"XA", GEN_SOP_XA, "HEART", 8},
};
#define GEN_N_SMALL (sizeof(gen_small_kinds) / sizeof(gen_small_kinds[0]))

int gen_cmd_small(const char *dir, int count)
{
	struct gen_bulk_patient bp;
	struct gen_bulk_study bs;
	struct gen_series se;
	struct gen_image im;
	char d[4096], path[4200];

	for (int i = 0; i < count; i++) {
		unsigned k = (unsigned)i % GEN_N_SMALL;
		if (i % 50 == 0) {
			gen_bulk_patient(&bp, 1000 + i / 50);
			gen_bulk_study(&bs, 1000 + i / 50, &bp, "exam for");
			if (gen_path(d, sizeof(d), "%s/%s/%s", dir,
				     bp.dirname, bs.date) < 0 ||
			    gen_mkdirs(d) < 0)
				return -1;
		}
		memset(&se, 0, sizeof(se));
		se.modality = gen_small_kinds[k].modality;
		se.sop_class = gen_small_kinds[k].sop;
		se.body_part = gen_small_kinds[k].body;
		se.description = "small";
		se.number = (int)k + 1;
		gen_uid(se.uid, "small-series", (uint64_t)(i / 50 * 16 + k));
		gen_uid(se.frame_uid, "small-frame", (uint64_t)(i / 50 * 16 + k));
		memset(&im, 0, sizeof(im));
		im.pat = &bp.p;
		im.st = &bs.s;
		im.se = &se;
		im.instance = 1 + i % 50;
		im.rows = 16;
		im.cols = 16;
		im.bits = gen_small_kinds[k].bits;
		im.full_header = (i % 3) == 0;
		gen_uid(im.sop_uid, "small-instance", (uint64_t)i);
		if (gen_path(path, sizeof(path), "%s/%s_%05d.dcm", d,
			     se.modality, i) < 0 ||
		    gen_image_write(&im, path, i % 7 == 3
							? DD_BGEN_IMPLICIT_LE
							: DD_BGEN_EXPLICIT_LE) < 0)
			return -1;
	}
	printf("deid-gen: %d small images in %s\n", count, dir);
	return 0;
}
