/* unit_index.c: the patient index (dd_index) on its own.
 *
 *  - determinism: 40,000 Patients added in order, in reverse order and
 *    with every Patient twice, spilled to partitioned temporary files or
 *    held in memory, give the same bytes and the same digest;
 *  - a reference claimed by two Patients goes to the smaller patient key;
 *  - lookups: every Patient found with its key and values, by Type/id,
 *    absolute URL and _history forms; unknown and non-person references
 *    give nothing;
 *  - the temporary directory is left empty (files unlinked at once), the
 *    finished index file is not visible either;
 *  - a damaged byte form (any byte of a small one, sampled bytes of the
 *    large one) is refused;
 *  - dd_index_sole_patient: one Patient under two references is the sole
 *    one; two different Patients are not;
 *  - lookups alternating between two index files get each its own
 *    answers (the per-thread cache of bucket table pages);
 *  - the engine's per-thread memo of lookups in its tree index
 *    (dd_fhir_walk.c): two engines in one thread whose indexes give
 *    Patient/m1 different patients each get their own answer, a repeated
 *    lookup (a memo hit) gives the same bytes as the first, and the
 *    patient's values (from the memo) still clean the note.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "dd_fhir.h"
#include "dd_index.h"
#include "dd_policy.h"
#include "dd_pseudo.h"
#include "dd_text.h"

#define N 40000

static int fails;

#define CHECK(c, ...)                                                        \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			fails++;                                             \
		}                                                            \
	} while (0)

static json_object *patient(unsigned i, bool rival)
{
	char s[512];

	snprintf(s, sizeof(s),
		 "{\"resourceType\":\"Patient\",\"id\":\"p%u\","
		 "\"identifier\":[{\"type\":{\"coding\":[{\"code\":\"MR\"}]},"
		 "\"value\":\"%s%06u\"}],"
		 "\"name\":[{\"family\":\"Family%u\",\"given\":[\"Given%u\"]}],"
		 "\"telecom\":[{\"system\":\"phone\",\"value\":\"555-%06u\"}]}",
		 i, rival ? "AAA" : "MRN", i, i, i, i);
	return json_tokener_parse(s);
}

static bool rival(unsigned i)
{
	return i % 1000 == 7;
}

/* Build an index of the N patients (and rivals) in @order: 0 forward,
 * 1 backward, 2 forward twice. */
static struct dd_index *build(const struct dd_policy *pol,
			      const struct dd_pseudo *ps, const char *tmp,
			      int order)
{
	struct dd_index *x = NULL;

	if (dd_index_new_tree(tmp, ps, &x))
		return NULL;
	for (int pass = 0; pass < (order == 2 ? 2 : 1); pass++)
		for (unsigned k = 0; k < N; k++) {
			unsigned i = order == 1 ? N - 1 - k : k;
			json_object *o = patient(i, false);

			if (!o || dd_index_add_patient(x, pol, o, NULL)) {
				dd_index_free(x);
				return NULL;
			}
			json_object_put(o);
			if (rival(i)) {
				o = patient(i, true);
				dd_index_add_patient(x, pol, o, NULL);
				json_object_put(o);
			}
		}
	if (dd_index_finish(x)) {
		dd_index_free(x);
		return NULL;
	}
	return x;
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static bool has_value(const struct dd_index_patient *p, const char *v)
{
	for (size_t i = 0; i < p->n_values; i++)
		if (!strcmp(p->values[i].s, v))
			return true;
	return false;
}

static void lookups1(struct dd_index *x, const char *what);

/* Twice: the second pass is answered by the per-thread memo of
 * dd_index_lookup (file-backed indexes) and must give the same answers. */
static void lookups(struct dd_index *x, const char *what)
{
	for (int pass = 0; pass < 2; pass++)
		lookups1(x, what);
}

static void lookups1(struct dd_index *x, const char *what)
{
	static const char *const forms[] = {"Patient/p%u",
					    "http://h.example/fhir/Patient/p%u",
					    "Patient/p%u/_history/3"};

	for (unsigned i = 0; i < N; i += 97) {
		char ref[128], key[64], fam[32];
		struct dd_index_patient *p = NULL;

		snprintf(ref, sizeof(ref), forms[i % 3], i);
		CHECK(!dd_index_lookup(x, ref, strlen(ref), &p) && p,
		      "%s: %s not found", what, ref);
		if (!p)
			continue;
		snprintf(key, sizeof(key), "id:%s%06u", rival(i) ? "AAA" : "MRN", i);
		snprintf(fam, sizeof(fam), "Family%u", i);
		CHECK(!strcmp(p->key, key), "%s: %s has key %s, not %s", what,
		      ref, p->key, key);
		CHECK(has_value(p, fam), "%s: %s lacks its name", what, ref);
		free(p);
	}
	for (unsigned i = 0; i < 8; i++) {
		static const char *const none[] = {
			"Patient/nobody", "Encounter/p1", "Observation/p2",
			"#p1", "Practitioner/p1", "urn:uuid:0000", "", "Patient/"};
		struct dd_index_patient *p = NULL;

		CHECK(!dd_index_lookup(x, none[i], strlen(none[i]), &p) && !p,
		      "%s: %s found", what, none[i]);
		free(p);
	}
}

static void sole(const struct dd_policy *pol)
{
	const char *one = "{\"resourceType\":\"Patient\",\"id\":\"a\","
			  "\"name\":[{\"family\":\"Solo\"}]}";
	const char *two = "{\"resourceType\":\"Patient\",\"id\":\"b\","
			  "\"name\":[{\"family\":\"Duo\"}]}";
	const char *doc = "{\"resourceType\":\"Practitioner\",\"id\":\"d\","
			  "\"name\":[{\"family\":\"Doc\"}]}";
	struct dd_index *x = NULL;
	struct dd_index_patient *p = NULL;
	json_object *o;

	dd_index_new(&x);
	o = json_tokener_parse(one);
	dd_index_add_patient(x, pol, o, "urn:uuid:11111111-2222-3333-4444-555555555555");
	json_object_put(o);
	o = json_tokener_parse(doc);
	dd_index_add_patient(x, pol, o, NULL);
	json_object_put(o);
	dd_index_finish(x);
	CHECK(!dd_index_sole_patient(x, &p) && p && !strcmp(p->key, "ref:Patient/a"),
	      "one Patient under two references is not the sole one");
	free(p);
	p = NULL;
	CHECK(!dd_index_lookup(x, "urn:uuid:11111111-2222-3333-4444-555555555555",
			       45, &p) && p && has_value(p, "Solo"),
	      "fullUrl lookup");
	free(p);
	dd_index_free(x);
	dd_index_new(&x);
	o = json_tokener_parse(one);
	dd_index_add_patient(x, pol, o, NULL);
	json_object_put(o);
	o = json_tokener_parse(two);
	dd_index_add_patient(x, pol, o, NULL);
	json_object_put(o);
	dd_index_finish(x);
	p = NULL;
	CHECK(!dd_index_sole_patient(x, &p) && !p, "two Patients: a sole one");
	free(p);
	dd_index_free(x);
}

/* Lookups alternating between two index files of the same layout (z: the
 * N Patients as "q<i>" instead of "p<i>": the same record sizes, so its
 * bucket table sits at the same offsets as a's but sends each reference
 * elsewhere): each must answer from its own table (the per-thread cache
 * of table pages is keyed by index). */
static void alternate(const struct dd_policy *pol, const struct dd_pseudo *ps,
		      const char *tmp, struct dd_index *a)
{
	struct dd_index *z = NULL;
	size_t bad = 0;

	if (dd_index_new_tree(tmp, ps, &z)) {
		CHECK(0, "second index");
		return;
	}
	for (unsigned i = 0; i < N; i++) {
		char s[512];
		json_object *o;

		snprintf(s, sizeof(s),
			 "{\"resourceType\":\"Patient\",\"id\":\"q%u\","
			 "\"identifier\":[{\"type\":{\"coding\":[{\"code\":\"MR\"}]},"
			 "\"value\":\"%s%06u\"}],"
			 "\"name\":[{\"family\":\"Family%u\",\"given\":[\"Given%u\"]}],"
			 "\"telecom\":[{\"system\":\"phone\",\"value\":\"555-%06u\"}]}",
			 i, rival(i) ? "AAA" : "MRN", i, i, i, i);
		o = json_tokener_parse(s);
		dd_index_add_patient(z, pol, o, NULL);
		json_object_put(o);
	}
	CHECK(!dd_index_finish(z), "second index finish");
	CHECK(dd_index_size(z) == dd_index_size(a), "layouts differ: %llu %llu",
	      (unsigned long long)dd_index_size(z),
	      (unsigned long long)dd_index_size(a));
	for (unsigned i = 0; i < N; i += 7) {
		char ra[32], rz[32];
		struct dd_index_patient *pa = NULL, *pz = NULL;

		snprintf(ra, sizeof(ra), "Patient/p%u", i);
		snprintf(rz, sizeof(rz), "Patient/q%u", i);
		if (dd_index_lookup(a, ra, strlen(ra), &pa) ||
		    dd_index_lookup(z, rz, strlen(rz), &pz) || !pa || !pz ||
		    strcmp(pa->key, pz->key))
			bad++;
		free(pa);
		free(pz);
	}
	CHECK(bad == 0, "%zu of %u alternating lookups answered wrong", bad,
	      (N + 6) / 7);
	dd_index_free(z);
}

/* An index holding one Patient "m1" named @family, MR @mrn. */
static struct dd_index *one_patient(const struct dd_policy *pol,
				    const struct dd_pseudo *ps,
				    const char *tmp, const char *family,
				    const char *mrn)
{
	struct dd_index *x = NULL;
	char s[512];
	json_object *o;

	snprintf(s, sizeof(s),
		 "{\"resourceType\":\"Patient\",\"id\":\"m1\","
		 "\"identifier\":[{\"type\":{\"coding\":[{\"code\":\"MR\"}]},"
		 "\"value\":\"%s\"}],"
		 "\"name\":[{\"family\":\"%s\",\"given\":[\"Quentin\"]}]}",
		 mrn, family);
	o = json_tokener_parse(s);
	if (!o || dd_index_new_tree(tmp, ps, &x) ||
	    dd_index_add_patient(x, pol, o, NULL) || dd_index_finish(x)) {
		dd_index_free(x);
		x = NULL;
	}
	json_object_put(o);
	return x;
}

/* @f's output for an Observation of Patient/m1 whose note names @family. */
static bool observe(const struct dd_fhir *f, const char *family,
		    struct dd_buf *out)
{
	char in[512];
	enum dd_reason why = DD_REASON_NONE;

	snprintf(in, sizeof(in),
		 "{\"resourceType\":\"Observation\",\"id\":\"o1\","
		 "\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		 "\"subject\":{\"reference\":\"Patient/m1\"},"
		 "\"effectiveDateTime\":\"2021-03-04\","
		 "\"note\":[{\"text\":\"Seen: Quentin %s, doing well.\"}]}",
		 family);
	dd_buf_reset(out);
	return !dd_fhir_transform_buffer(f, in, strlen(in), DD_KIND_FHIR_JSON,
					 out, &why) &&
	       why == DD_REASON_NONE;
}

static void engine_memo(const struct dd_policy *pol, const struct dd_pseudo *ps,
			const char *tmp)
{
	struct dd_index *x = one_patient(pol, ps, tmp, "Zabrowski", "MRX001");
	struct dd_index *y = one_patient(pol, ps, tmp, "Yellowhorn", "MRY002");
	struct dd_text *text = NULL;
	struct dd_fhir *fx = NULL, *fy = NULL;
	struct dd_buf x1, x2, y1, y2;

	CHECK(x && y && !dd_text_new(&pol->text, ps, &text) &&
	      !dd_fhir_new(pol, ps, text, x, "memo-x", &fx) &&
	      !dd_fhir_new(pol, ps, text, y, "memo-y", &fy),
	      "engines for the memo test");
	if (!fx || !fy)
		return;
	dd_buf_init(&x1, 1 << 20);
	dd_buf_init(&x2, 1 << 20);
	dd_buf_init(&y1, 1 << 20);
	dd_buf_init(&y2, 1 << 20);
	CHECK(observe(fx, "Zabrowski", &x1) && observe(fy, "Yellowhorn", &y1) &&
	      observe(fx, "Zabrowski", &x2) && observe(fy, "Yellowhorn", &y2),
	      "memo transforms");
	CHECK(x1.len == x2.len && !memcmp(x1.data, x2.data, x1.len),
	      "a repeated lookup (memo) changed the output");
	CHECK(y1.len == y2.len && !memcmp(y1.data, y2.data, y1.len),
	      "a repeated lookup (memo) changed the output (second engine)");
	CHECK(!(x1.len == y1.len && !memcmp(x1.data, y1.data, x1.len)),
	      "two indexes, one answer: the memo mixed engines");
	CHECK(!memmem(x2.data, x2.len, "Zabrowski", 9) &&
	      !memmem(y2.data, y2.len, "Yellowhorn", 10) &&
	      !memmem(x2.data, x2.len, "Quentin", 7),
	      "a patient's values from the memo did not clean the note");
	dd_buf_free(&x1);
	dd_buf_free(&x2);
	dd_buf_free(&y1);
	dd_buf_free(&y2);
	dd_fhir_free(fx);
	dd_fhir_free(fy);
	dd_text_free(text);
	dd_index_free(x);
	dd_index_free(y);
}

int main(void)
{
	struct dd_policy *pol = NULL;
	struct dd_pseudo ps;
	static const uint8_t key[32] = "unit_index fixed key 32 bytes!!";
	char tmp[] = "/tmp/unit_index.XXXXXX", t1[64], t2[64], t3[64];
	struct dd_index *a, *b, *c, *m;
	struct dd_buf ea, eb, ec, em;

	if (dd_policy_builtin("default", &pol) ||
	    dd_pseudo_init(&ps, key, sizeof(key)) || !mkdtemp(tmp))
		return 1;
	snprintf(t1, sizeof(t1), "%s/a", tmp);
	snprintf(t2, sizeof(t2), "%s/b", tmp);
	snprintf(t3, sizeof(t3), "%s/c", tmp);
	a = build(pol, &ps, t1, 0);
	b = build(pol, &ps, t2, 1);
	c = build(pol, &ps, t3, 2);
	m = build(pol, &ps, NULL, 1);
	CHECK(a && b && c && m, "build failed");
	if (!a || !b || !c || !m)
		return 1;
	CHECK(dd_index_n_patients(a) == N, "%zu people, expected %d",
	      dd_index_n_patients(a), N);
	dd_buf_init(&ea, SIZE_MAX / 2);
	dd_buf_init(&eb, SIZE_MAX / 2);
	dd_buf_init(&ec, SIZE_MAX / 2);
	dd_buf_init(&em, SIZE_MAX / 2);
	CHECK(!dd_index_encode(a, &ea) && !dd_index_encode(b, &eb) &&
	      !dd_index_encode(c, &ec) && !dd_index_encode(m, &em), "encode");
	/* > 2 MiB of records: a, b, c were spilled, m was not */
	CHECK(ea.len > (3u << 20), "index of %zu bytes: too small to spill",
	      ea.len);
	CHECK(ea.len == eb.len && !memcmp(ea.data, eb.data, ea.len),
	      "forward and backward builds differ");
	CHECK(ea.len == ec.len && !memcmp(ea.data, ec.data, ea.len),
	      "a build with every Patient twice differs");
	CHECK(ea.len == em.len && !memcmp(ea.data, em.data, ea.len),
	      "spilled and in-memory builds differ");
	CHECK(!strcmp(dd_index_digest(a), dd_index_digest(m)) &&
	      strlen(dd_index_digest(a)) == 64, "digests differ");
	CHECK(dir_entries(t1) == 0 && dir_entries(t2) == 0 &&
	      dir_entries(t3) == 0, "temporary files left behind");
	lookups(a, "spilled");
	lookups(m, "memory");
	alternate(pol, &ps, t1, a);
	{
		/* damage: sampled bytes of the large form, every byte of a
		 * small one */
		struct dd_index *d = NULL;
		struct dd_buf small;
		struct dd_index *s = NULL;
		json_object *o = patient(1, false);
		size_t step = ea.len / 509 + 1, bad = 0, n = 0;

		for (size_t i = 0; i < ea.len; i += step, n++) {
			ea.data[i] ^= 0x20;
			if (dd_index_decode(ea.data, ea.len, &d) == DD_E_CORRUPT)
				bad++;
			dd_index_free(d);
			d = NULL;
			ea.data[i] ^= 0x20;
		}
		CHECK(bad == n, "%zu of %zu damaged forms accepted", n - bad, n);
		CHECK(!dd_index_decode(ea.data, ea.len - 1, &d) ? (dd_index_free(d), 0) : 1,
		      "a truncated form accepted");
		dd_index_new(&s);
		dd_index_add_patient(s, pol, o, NULL);
		json_object_put(o);
		dd_index_finish(s);
		dd_buf_init(&small, 1 << 20);
		dd_index_encode(s, &small);
		bad = 0;
		for (size_t i = 0; i < small.len; i++) {
			small.data[i] ^= 1;
			if (dd_index_decode(small.data, small.len, &d) == DD_E_CORRUPT)
				bad++;
			dd_index_free(d);
			d = NULL;
			small.data[i] ^= 1;
		}
		CHECK(bad == small.len, "%zu of %zu damaged bytes accepted",
		      small.len - bad, small.len);
		CHECK(!dd_index_decode(small.data, small.len, &d), "intact refused");
		dd_index_free(d);
		dd_buf_free(&small);
		dd_index_free(s);
	}
	sole(pol);
	engine_memo(pol, &ps, t1);
	dd_buf_free(&ea);
	dd_buf_free(&eb);
	dd_buf_free(&ec);
	dd_buf_free(&em);
	dd_index_free(a);
	dd_index_free(b);
	dd_index_free(c);
	dd_index_free(m);
	rmdir(t1);
	rmdir(t2);
	rmdir(t3);
	rmdir(tmp);
	dd_policy_free(pol);
	if (fails)
		return 1;
	printf("unit_index: ok (%d patients, spilled == in memory, any order)\n", N);
	return 0;
}
