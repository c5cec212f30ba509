/* image_tool: drive the image module on one DICOM file, for the image tests
 * and the benchmark.
 *
 *   image_tool plan FILE [options]    size plan + OCR; prints one JSON line
 *     --mode all|sensitive|clean|none  redaction mode (default sensitive)
 *     --workers N                    OCR workers (1..2)
 *     --boxes FILE                   write the encoded box list
 *     --orig FILE                    decoded source frames (no boxes)
 *     --red FILE                     decoded output frames (boxes applied)
 *     --luma FILE                    the grey the pre-pass and OCR see:
 *                                    dd_prepass_row_luma() of every decoded
 *                                    source frame, u16 little-endian
 *     --no-ocr                       size plan only
 *     --encode N                     redactedEncoding "same": the redacted
 *                                    frames re-encoded N times; prints a
 *                                    second JSON line with the median CPU
 *                                    ms of dd_image_encode_same() and of
 *                                    dd_image_pixels() (decode + boxes),
 *                                    the native and encoded value sizes
 *   image_tool prepass FILE [--anywhere] [--repeat N]
 *                                    pre-pass on every frame (native
 *                                    files); prints JSON with MB/s
 *
 * For a native file, "plan" also checks that patching the source pixel
 * value with dd_image_native_runs() gives the same bytes as
 * dd_image_pixels() (exit 3 if not).  Exit 0 on success, 2 on a library
 * error (its name is printed).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dd_bridge.h"
#include "dd_image.h"
#include "dd_ocr.h"
#include "dd_prepass.h"
#include "dd_pseudo.h"
#include "dd_text.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this thread (the pre-pass runs on the calling thread). */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double proc_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what, dd_err err)
{
	printf("{\"error\":\"%s\",\"where\":\"%s\"}\n", dd_err_name(err), what);
	return 2;
}

static dd_err write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return DD_E_IO;
	if (n && fwrite(p, 1, n, f) != n) {
		fclose(f);
		return DD_E_IO;
	}
	return fclose(f) == 0 ? DD_OK : DD_E_IO;
}

/* Header values as dd_text context, and the facts. */
struct header {
	struct dd_bpix_info info;
	struct dd_image_facts facts;
};

static void ctx_from_file(int fd, struct dd_text_ctx *ctx)
{
	static const struct {
		uint32_t tag;
		enum dd_info_type type;
	} tags[] = {
		{0x00100010, DD_IT_PERSON_NAME}, {0x00100020, DD_IT_MEDICAL_RECORD_NUMBER},
		{0x00100030, DD_IT_DATE_OF_BIRTH}, {0x00080020, DD_IT_DATE},
		{0x00080021, DD_IT_DATE}, {0x00080022, DD_IT_DATE},
		{0x00080023, DD_IT_DATE}, {0x00080050, DD_IT_GENERIC_ID},
		{0x00080080, DD_IT_ORGANIZATION_NAME},
		{0x00080081, DD_IT_STREET_ADDRESS},
		{0x00080090, DD_IT_PERSON_NAME}, {0x00081050, DD_IT_PERSON_NAME},
		{0x00081070, DD_IT_PERSON_NAME},
	};
	struct dd_bfile *bf = NULL;
	struct dd_bfile_info bi;
	struct dd_buf b;
	size_t i;

	if (dd_bridge_file_load_fd(fd, &bf, &bi) != DD_OK)
		return;
	dd_buf_init(&b, 1 << 16);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		struct dd_belem *e = dd_bridge_item_find(
			dd_bridge_file_dataset(bf), tags[i].tag);
		dd_buf_reset(&b);
		if (e && dd_bridge_elem_get(e, &b) == DD_OK && b.len)
			dd_text_ctx_add(ctx, tags[i].type, (const char *)b.data,
					b.len);
	}
	dd_buf_free(&b);
	dd_bridge_file_free(bf);
}

static int get_header(int fd, struct header *h)
{
	struct dd_bpix *bp = NULL;
	dd_err err = dd_bridge_pixels_open(fd, &bp, &h->info);

	if (err != DD_OK)
		return fail("open", err);
	dd_bridge_pixels_close(bp);
	memset(&h->facts, 0, sizeof(h->facts));
	h->facts.modality = h->info.modality;
	h->facts.sop_class_uid = h->info.sop_class_uid;
	h->facts.manufacturer = h->info.manufacturer;
	h->facts.model = h->info.model;
	h->facts.image_type = h->info.image_type;
	h->facts.burned_in_yes = h->info.burned_in_yes;
	h->facts.has_overlays = h->info.has_overlays;
	return 0;
}

static void print_boxes(const char *name, const struct dd_boxes *b)
{
	size_t i;
	printf(",\"%s\":[", name);
	for (i = 0; i < b->n; i++)
		printf("%s[%u,%u,%u,%u]", i ? "," : "", b->v[i].x, b->v[i].y,
		       b->v[i].w, b->v[i].h);
	printf("]");
}

static const char *kind_name(enum dd_image_out k)
{
	switch (k) {
	case DD_IMAGE_OUT_KEEP: return "keep";
	case DD_IMAGE_OUT_NATIVE_PATCH: return "native_patch";
	case DD_IMAGE_OUT_EXPLICIT_LE: return "explicit_le";
	case DD_IMAGE_OUT_SAME_CODEC: return "same_codec";
	}
	return "?";
}

/* dd_prepass_row_luma() of every frame of @px (@g), u16 LE rows. */
static dd_err write_luma(const char *path, const struct dd_image_geom *g,
			 uint32_t frames, const struct dd_buf *px)
{
	size_t fb = dd_image_frame_bytes(g), np = (size_t)g->rows * g->cols;
	uint16_t *row = malloc(g->cols * sizeof(*row));
	uint8_t *le = malloc(np * frames * 2 + 1);
	uint32_t f, y, x;
	dd_err err;

	if (!row || !le || px->len < fb * frames) {
		free(row);
		free(le);
		return row && le ? DD_E_INVAL : DD_E_NOMEM;
	}
	for (f = 0; f < frames; f++)
		for (y = 0; y < g->rows; y++) {
			dd_prepass_row_luma(g, px->data + fb * f, y, 0, g->cols,
					    row);
			for (x = 0; x < g->cols; x++) {
				size_t k = ((size_t)f * np + (size_t)y * g->cols + x) * 2;
				le[k] = (uint8_t)row[x];
				le[k + 1] = (uint8_t)(row[x] >> 8);
			}
		}
	err = write_file(path, le, np * frames * 2);
	free(row);
	free(le);
	return err;
}

/* Native files: source value patched with the runs == dd_image_pixels. */
static int check_runs(int fd, const struct dd_image_plan *plan,
		      const struct dd_buf *red_host)
{
	struct dd_image_run *runs = NULL;
	struct dd_buf orig;
	size_t n_runs = 0;
	struct dd_boxes none;
	dd_err err;
	int rc = 0;

	if (plan->big_endian || plan->out_kind != DD_IMAGE_OUT_NATIVE_PATCH)
		return 0; /* host order differs from the value's: skip */
	dd_boxes_init(&none);
	dd_buf_init(&orig, (size_t)1 << 31);
	err = dd_image_pixels(NULL, fd, plan, &none, &orig);
	if (err == DD_OK)
		err = dd_image_native_runs(plan, &plan->boxes, &runs, &n_runs);
	if (err != DD_OK) {
		rc = fail("runs", err);
		goto out;
	}
	dd_image_runs_apply(runs, n_runs, 0, orig.data, orig.len);
	if (orig.len != red_host->len ||
	    memcmp(orig.data, red_host->data, orig.len) != 0)
		rc = 3;
out:
	free(runs);
	dd_buf_free(&orig);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* --encode N: CPU time of the re-encoding against the decode that makes
 * its input, medians of @n runs each (the process's: a codec may use
 * threads of its own; the OCR workers are idle by then). */
static int encode_bench(struct dd_image *im, int fd,
			const struct dd_image_plan *plan, unsigned n)
{
	struct dd_buf px, val;
	struct dd_image_enc e;
	double *dec = calloc(n, sizeof(double)), *enc = calloc(n, sizeof(double));
	dd_err err = DD_OK;
	unsigned i;

	if (plan->out_kind != DD_IMAGE_OUT_SAME_CODEC) {
		printf("{\"encode\":\"%s\"}\n", kind_name(plan->out_kind));
		free(dec);
		free(enc);
		return 0;
	}
	dd_buf_init(&px, (size_t)1 << 31);
	dd_buf_init(&val, (size_t)1 << 31);
	dd_image_enc_init(&e);
	for (i = 0; i < n && err == DD_OK && dec && enc; i++) {
		double t0 = proc_cpu_s();
		dd_buf_reset(&px);
		err = dd_image_pixels(im, fd, plan, &plan->boxes, &px);
		double t1 = proc_cpu_s();
		if (err == DD_OK)
			err = dd_image_encode_same(plan, px.data, px.len, &e);
		double t2 = proc_cpu_s();
		dec[i] = (t1 - t0) * 1e3;
		enc[i] = (t2 - t1) * 1e3;
	}
	if (err == DD_OK && dec && enc)
		err = dd_image_enc_value(&e, &val);
	if (err == DD_OK && dec && enc) {
		qsort(dec, n, sizeof(double), cmp_double);
		qsort(enc, n, sizeof(double), cmp_double);
		printf("{\"xfer\":\"%s\",\"photometric\":\"%s\","
		       "\"decode_ms\":%.2f,\"encode_ms\":%.2f,"
		       "\"native_bytes\":%zu,\"encoded_bytes\":%zu}\n",
		       e.xfer_uid, e.photometric, dec[n / 2], enc[n / 2],
		       px.len, val.len);
	}
	dd_image_enc_free(&e);
	dd_buf_free(&px);
	dd_buf_free(&val);
	free(dec);
	free(enc);
	return err == DD_OK ? 0 : fail("encode", err);
}

static int cmd_plan(int argc, char **argv)
{
	const char *file = argv[2], *boxes_out = NULL, *orig_out = NULL,
		   *red_out = NULL, *luma_out = NULL, *mode_s = "sensitive";
	unsigned workers = 1, encode_n = 0;
	bool no_ocr = false;
	struct dd_policy *pol = NULL;
	struct dd_pseudo ps;
	struct dd_text *text = NULL;
	struct dd_text_ctx *ctx = NULL;
	struct dd_image *im = NULL;
	struct dd_image_plan plan;
	struct header h;
	struct dd_buf buf;
	uint8_t key[32] = {1, 2, 3};
	int mode, fd, i, rc = 0;
	dd_err err;

	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode_s = argv[++i];
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			workers = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--boxes") && i + 1 < argc)
			boxes_out = argv[++i];
		else if (!strcmp(argv[i], "--orig") && i + 1 < argc)
			orig_out = argv[++i];
		else if (!strcmp(argv[i], "--luma") && i + 1 < argc)
			luma_out = argv[++i];
		else if (!strcmp(argv[i], "--red") && i + 1 < argc)
			red_out = argv[++i];
		else if (!strcmp(argv[i], "--no-ocr"))
			no_ocr = true;
		else if (!strcmp(argv[i], "--encode") && i + 1 < argc)
			encode_n = (unsigned)atoi(argv[++i]);
		else
			return fprintf(stderr, "image_tool: bad option %s\n", argv[i]), 1;
	}
	mode = !strcmp(mode_s, "all") ? DD_REDACT_ALL_TEXT
	     : !strcmp(mode_s, "clean") ? DD_REDACT_SENSITIVE_TEXT_CLEAN_DESCRIPTORS
	     : !strcmp(mode_s, "none") ? DD_REDACT_NO_TEXT
				       : DD_REDACT_SENSITIVE_TEXT;
	fd = open(file, O_RDONLY);
	if (fd < 0)
		return fail("open", DD_E_IO);
	if ((rc = get_header(fd, &h)) != 0)
		return rc;
	err = dd_policy_builtin("default", &pol);
	if (err != DD_OK)
		return fail("policy", err);
	pol->deidfs.ocr_workers = workers;
	if (encode_n)
		pol->deidfs.redacted_encoding = DD_ENC_SAME;
	dd_pseudo_init(&ps, key, sizeof(key));
	err = dd_text_new(&pol->text, &ps, &text);
	if (err == DD_OK)
		err = dd_text_ctx_new(&ctx);
	if (err != DD_OK)
		return fail("text", err);
	ctx_from_file(fd, ctx);
	err = dd_image_new(pol, mode, text, &im);
	if (err != DD_OK)
		return fail("image_new", err);
	dd_image_plan_init(&plan);
	double t0 = now_s();
	err = no_ocr ? dd_image_size_plan(im, fd, &h.facts, &plan)
		     : dd_image_redact_plan(im, fd, &h.facts, ctx, &plan);
	double t1 = now_s();
	if (err != DD_OK) {
		rc = fail("plan", err);
		goto out;
	}
	printf("{\"file\":\"%s\",\"ms\":%.1f,\"why\":%u,\"kind\":\"%s\","
	       "\"frames\":%u,\"frames_ocr\":%u,\"ocr_calls\":%u,"
	       "\"words\":%u,\"words_redacted\":%u,\"out_len\":%llu,"
	       "\"photometric\":\"%s\",\"fill\":[%u,%u,%u]",
	       file, (t1 - t0) * 1e3, plan.why, kind_name(plan.out_kind),
	       plan.frames, plan.frames_ocr, plan.ocr_calls, plan.words,
	       plan.words_redacted, (unsigned long long)plan.out_pixel_len,
	       dd_photometric_name(plan.out.photo), plan.fill[0], plan.fill[1],
	       plan.fill[2]);
	print_boxes("candidates", &plan.candidates);
	print_boxes("boxes", &plan.boxes);
	printf("}\n");
	dd_buf_init(&buf, (size_t)1 << 31);
	if (boxes_out) {
		err = dd_boxes_encode(&plan.boxes, &buf);
		if (err == DD_OK)
			err = write_file(boxes_out, buf.data, buf.len);
		if (err != DD_OK)
			rc = fail("boxes", err);
		dd_buf_reset(&buf);
	}
	if ((orig_out || luma_out) && rc == 0) {
		struct dd_boxes none;
		dd_boxes_init(&none);
		struct dd_image_plan p2 = plan;
		if (p2.out_kind == DD_IMAGE_OUT_KEEP)
			p2.out_kind = DD_IMAGE_OUT_EXPLICIT_LE;
		err = dd_image_pixels(im, fd, &p2, &none, &buf);
		if (err == DD_OK && orig_out)
			err = write_file(orig_out, buf.data, buf.len);
		if (err == DD_OK && luma_out)
			err = write_luma(luma_out, &plan.out, plan.frames, &buf);
		if (err != DD_OK)
			rc = fail("orig", err);
		dd_buf_reset(&buf);
	}
	if (red_out && rc == 0) {
		err = dd_image_pixels(im, fd, &plan, &plan.boxes, &buf);
		if (err == DD_OK)
			err = write_file(red_out, buf.data, buf.len);
		if (err != DD_OK)
			rc = fail("red", err);
		else
			rc = check_runs(fd, &plan, &buf);
		if (rc == 3)
			printf("{\"error\":\"runs differ from dd_image_pixels\"}\n");
	}
	if (encode_n && rc == 0)
		rc = encode_bench(im, fd, &plan, encode_n);
	dd_buf_free(&buf);
out:
	dd_image_plan_free(&plan);
	dd_image_free(im);
	dd_text_ctx_free(ctx);
	dd_text_free(text);
	dd_policy_free(pol);
	close(fd);
	return rc;
}

static int cmd_prepass(int argc, char **argv)
{
	struct dd_prepass_opts po = {false};
	struct dd_prepass_result pr;
	struct dd_bpix *bp = NULL;
	struct dd_bpix_info in;
	struct dd_image_geom g;
	int repeat = 1, i, fd;
	uint32_t f, regions = 0, texty = 0;
	double secs = 0, cpu = 0;
	dd_err err;

	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--anywhere"))
			po.anywhere = true;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
	}
	fd = open(argv[2], O_RDONLY);
	if (fd < 0)
		return fail("open", DD_E_IO);
	err = dd_bridge_pixels_open(fd, &bp, &in);
	if (err != DD_OK)
		return fail("open", err);
	memset(&g, 0, sizeof(g));
	g.rows = in.rows;
	g.cols = in.cols;
	g.spp = in.spp;
	g.bits_alloc = in.bits_alloc;
	g.bits_stored = in.bits_stored;
	g.high_bit = in.high_bit;
	g.is_signed = in.pixel_rep == 1;
	g.planar = in.planar == 1;
	g.photo = dd_photometric_from_name(in.photometric);
	size_t fb = dd_image_frame_bytes(&g);
	if (!fb || in.codec != DD_BPIX_NATIVE) {
		dd_bridge_pixels_close(bp);
		close(fd);
		return fail("prepass-geometry", DD_E_UNSUPPORTED);
	}
	uint8_t *frame = malloc(fb);
	dd_prepass_result_init(&pr);
	printf("{\"file\":\"%s\",\"regions\":[", argv[2]);
	for (f = 0; f < in.frames && frame; f++) {
		char photo[17];
		uint16_t planar;
		err = dd_bridge_pixels_frame(bp, f, frame, fb, photo, &planar);
		if (err != DD_OK)
			break;
		for (i = 0; i < repeat && err == DD_OK; i++) {
			double t0 = now_s(), c0 = cpu_s();
			err = dd_prepass_frame(&g, frame, &po, &pr);
			secs += now_s() - t0;
			cpu += cpu_s() - c0;
		}
		for (size_t k = 0; k < pr.n; k++)
			printf("%s[%u,%u,%u,%u,%u]", regions++ ? "," : "",
			       pr.v[k].box.x, pr.v[k].box.y, pr.v[k].box.w,
			       pr.v[k].box.h, pr.v[k].text_h);
		texty += pr.texty_cells;
	}
	double bytes = (double)fb * in.frames * repeat;
	printf("],\"texty_cells\":%u,\"bytes\":%.0f,\"secs\":%.6f,\"mb_s\":%.1f,"
	       "\"cpu_secs\":%.6f,\"cpu_mb_s\":%.1f}\n",
	       texty, bytes, secs, secs > 0 ? bytes / secs / 1e6 : 0.0, cpu,
	       cpu > 0 ? bytes / cpu / 1e6 : 0.0);
	dd_prepass_result_free(&pr);
	free(frame);
	dd_bridge_pixels_close(bp);
	close(fd);
	return err == DD_OK ? 0 : fail("prepass", err);
}

int main(int argc, char **argv)
{
	dd_ocr_ensure_env(argc, argv);
	if (dd_bridge_init() != DD_OK)
		return fail("bridge", DD_E_INTERNAL);
	if (argc >= 3 && !strcmp(argv[1], "plan"))
		return cmd_plan(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "prepass"))
		return cmd_prepass(argc, argv);
	fprintf(stderr, "usage: image_tool plan|prepass FILE [options]\n");
	return 1;
}
