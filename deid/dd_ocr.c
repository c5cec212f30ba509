/* dd_ocr.c: the OCR worker pool over tesseract's C API (see dd_ocr.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tesseract/capi.h>

#include "dd_log.h"
#include "dd_ocr.h"

struct ocr_req {
	const struct dd_ocr_image *img;
	uint64_t deadline_ms;
	struct dd_ocr_result *res;
	dd_err err;
	bool done;       /* protected by the pool's lock */
	bool running;    /* protected by the pool's lock */
	volatile bool cancelled; /* read by tesseract's cancel callback */
	struct ocr_req *next;
};

struct ocr_worker {
	struct dd_ocr *pool;
	TessBaseAPI *api;
	pthread_t thread;
	bool started;
};

struct dd_ocr {
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a request was queued, or stop */
	pthread_cond_t done;       /* a request finished */
	struct ocr_req *head, *tail; /* FIFO, protected by lock */
	bool stop;                 /* protected by lock */
	unsigned n_workers;
	struct ocr_worker workers[2];
};

uint64_t dd_ocr_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

dd_err dd_ocr_ensure_env(int argc, char **argv)
{
	const char *v = getenv("OMP_THREAD_LIMIT");

	(void)argc;
	if (v && strcmp(v, "1") == 0)
		return DD_OK;
	if (setenv("OMP_THREAD_LIMIT", "1", 1) != 0)
		return DD_E_IO;
	execv("/proc/self/exe", argv);
	return DD_E_IO;
}

void dd_ocr_result_init(struct dd_ocr_result *r)
{
	memset(r, 0, sizeof(*r));
	dd_buf_init(&r->text, 16u << 20);
}

void dd_ocr_result_free(struct dd_ocr_result *r)
{
	free(r->v);
	dd_buf_free(&r->text);
	memset(r, 0, sizeof(*r));
}

/* ---- one tesseract instance --------------------------------------------------- */

static dd_err ocr_api_new(TessBaseAPI **out)
{
	TessBaseAPI *api = TessBaseAPICreate();

	*out = NULL;
	if (!api)
		return DD_E_NOMEM;
	/* before Init: these are read while the model loads */
	TessBaseAPISetVariable(api, "debug_file", "/dev/null");
	TessBaseAPISetVariable(api, "dotproduct", "generic");
	if (TessBaseAPIInit2(api, NULL, "eng", OEM_LSTM_ONLY) != 0) {
		TessBaseAPIDelete(api);
		return DD_E_UNSUPPORTED;
	}
	TessBaseAPISetVariable(api, "debug_file", "/dev/null");
	TessBaseAPISetVariable(api, "dotproduct", "generic");
	TessBaseAPISetVariable(api, "preserve_interword_spaces", "1");
	TessBaseAPISetVariable(api, "tessedit_do_invert", "0");
	TessBaseAPISetPageSegMode(api, PSM_SPARSE_TEXT);
	*out = api;
	return DD_OK;
}

static bool ocr_cancel(void *arg, int words)
{
	struct ocr_req *rq = arg;

	(void)words;
	return rq->cancelled || dd_ocr_now_ms() >= rq->deadline_ms;
}

static dd_err ocr_add_word(struct dd_ocr_result *res, const char *txt,
			   int l, int t, int r, int b, uint32_t line, float conf)
{
	struct dd_ocr_word w;
	size_t n = strlen(txt);
	dd_err err;

	if (res->n >= DD_OCR_MAX_WORDS)
		return DD_E_LIMIT;
	if (res->n == res->cap) {
		size_t nc = res->cap ? res->cap * 2 : 64;
		void *v = realloc(res->v, nc * sizeof(*res->v));
		if (!v)
			return DD_E_NOMEM;
		res->v = v;
		res->cap = nc;
	}
	w.box.x = l < 0 ? 0 : (uint32_t)l;
	w.box.y = t < 0 ? 0 : (uint32_t)t;
	w.box.w = r > l ? (uint32_t)(r - l) : 1;
	w.box.h = b > t ? (uint32_t)(b - t) : 1;
	w.line = line;
	w.conf = conf;
	w.text_off = (uint32_t)res->text.len;
	w.text_len = (uint32_t)n;
	err = dd_buf_add(&res->text, txt, n + 1); /* with its NUL */
	if (err != DD_OK)
		return err;
	res->v[res->n++] = w;
	return DD_OK;
}

static dd_err ocr_collect(TessBaseAPI *api, struct dd_ocr_result *res)
{
	TessResultIterator *ri = TessBaseAPIGetIterator(api);
	const TessPageIterator *pi;
	uint32_t line = 0;
	bool first = true;
	dd_err err = DD_OK;

	if (!ri)
		return DD_OK;
	pi = TessResultIteratorGetPageIterator(ri);
	do {
		int l, t, r, b;
		char *txt;
		if (!TessPageIteratorBoundingBox(pi, RIL_WORD, &l, &t, &r, &b))
			continue;
		if (TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE) && !first)
			line++;
		first = false;
		txt = TessResultIteratorGetUTF8Text(ri, RIL_WORD);
		if (!txt)
			continue;
		err = ocr_add_word(res, txt, l, t, r, b, line,
				   TessResultIteratorConfidence(ri, RIL_WORD));
		TessDeleteText(txt);
	} while (err == DD_OK && TessResultIteratorNext(ri, RIL_WORD));
	TessResultIteratorDelete(ri);
	return err;
}

static dd_err ocr_do(TessBaseAPI *api, struct ocr_req *rq)
{
	ETEXT_DESC *mon;
	uint64_t now = dd_ocr_now_ms();
	size_t n0 = rq->res->n, t0 = rq->res->text.len;
	dd_err err;
	int rc;

	if (now >= rq->deadline_ms || rq->cancelled)
		return DD_E_TIMEOUT;
	mon = TessMonitorCreate();
	if (!mon)
		return DD_E_NOMEM;
	uint64_t left = rq->deadline_ms - now;
	TessMonitorSetDeadlineMSecs(mon, left > 0x7fffffff ? 0x7fffffff
							   : (int)left);
	TessMonitorSetCancelFunc(mon, ocr_cancel);
	TessMonitorSetCancelThis(mon, rq);
	TessBaseAPISetImage(api, rq->img->px, (int)rq->img->w,
			    (int)rq->img->h, 1, (int)rq->img->stride);
	TessBaseAPISetSourceResolution(api, 300);
	rc = TessBaseAPIRecognize(api, mon);
	if (rq->cancelled || dd_ocr_now_ms() >= rq->deadline_ms)
		err = DD_E_TIMEOUT;
	else if (rc != 0)
		err = DD_E_INTERNAL;
	else
		err = ocr_collect(api, rq->res);
	TessMonitorDelete(mon);
	TessBaseAPIClear(api);
	if (err != DD_OK) {
		rq->res->n = n0; /* never a partial result */
		rq->res->text.len = t0;
	}
	return err;
}

static void *ocr_worker_main(void *arg)
{
	struct ocr_worker *w = arg;
	struct dd_ocr *o = w->pool;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		struct ocr_req *rq;
		while (!o->stop && !o->head)
			pthread_cond_wait(&o->work, &o->lock);
		if (o->stop)
			break;
		rq = o->head;
		o->head = rq->next;
		if (!o->head)
			o->tail = NULL;
		rq->running = true;
		pthread_mutex_unlock(&o->lock);
		dd_err err = ocr_do(w->api, rq);
		pthread_mutex_lock(&o->lock);
		rq->err = err;
		rq->running = false;
		rq->done = true;
		pthread_cond_broadcast(&o->done);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

dd_err dd_ocr_new(unsigned workers, struct dd_ocr **out)
{
	const char *v = getenv("OMP_THREAD_LIMIT");
	struct dd_ocr *o;
	dd_err err = DD_OK;
	unsigned i;

	*out = NULL;
	if (!v || strcmp(v, "1") != 0) {
		dd_log(DD_LOG_ERR, "ocr: OMP_THREAD_LIMIT=1 is not set "
				   "(dd_ocr_ensure_env() must run first)");
		return DD_E_INVAL;
	}
	if (workers < 1 || workers > 2)
		return DD_E_INVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return DD_E_NOMEM;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->work, NULL);
	pthread_cond_init(&o->done, NULL);
	for (i = 0; i < workers && err == DD_OK; i++) {
		struct ocr_worker *w = &o->workers[i];
		w->pool = o;
		err = ocr_api_new(&w->api);
		if (err != DD_OK)
			break;
		if (pthread_create(&w->thread, NULL, ocr_worker_main, w) != 0)
			err = DD_E_NOMEM;
		else
			w->started = true;
		o->n_workers = i + 1;
	}
	if (err != DD_OK) {
		dd_ocr_free(o);
		return err;
	}
	*out = o;
	return DD_OK;
}

void dd_ocr_free(struct dd_ocr *o)
{
	unsigned i;

	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->lock);
	for (i = 0; i < o->n_workers; i++) {
		struct ocr_worker *w = &o->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->api) {
			TessBaseAPIEnd(w->api);
			TessBaseAPIDelete(w->api);
		}
	}
	pthread_cond_destroy(&o->done);
	pthread_cond_destroy(&o->work);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* Take @rq out of the queue if it is still there (lock held). */
static bool ocr_unqueue(struct dd_ocr *o, struct ocr_req *rq)
{
	struct ocr_req **pp = &o->head, *prev = NULL;

	while (*pp && *pp != rq) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return false;
	*pp = rq->next;
	if (o->tail == rq)
		o->tail = prev;
	return true;
}

static uint64_t ocr_calls_total; /* atomic */

uint64_t dd_ocr_calls_total(void)
{
	return __atomic_load_n(&ocr_calls_total, __ATOMIC_RELAXED);
}

dd_err dd_ocr_run(struct dd_ocr *o, const struct dd_ocr_image *img,
		  uint64_t deadline_ms, struct dd_ocr_result *res)
{
	struct ocr_req rq;
	struct timespec ts;

	if (!o || !img || !img->px || !img->w || !img->h || img->stride < img->w)
		return DD_E_INVAL;
	if (img->w > 32767 || img->h > 32767)
		return DD_E_LIMIT;
	__atomic_add_fetch(&ocr_calls_total, 1, __ATOMIC_RELAXED);
	memset(&rq, 0, sizeof(rq));
	rq.img = img;
	rq.deadline_ms = deadline_ms;
	rq.res = res;

	/* the wait's deadline on CLOCK_REALTIME (condvar default clock) */
	uint64_t now = dd_ocr_now_ms();
	uint64_t left = deadline_ms > now ? deadline_ms - now : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&o->lock);
	if (o->tail)
		o->tail->next = &rq;
	else
		o->head = &rq;
	o->tail = &rq;
	pthread_cond_signal(&o->work);
	while (!rq.done) {
		int rc = pthread_cond_timedwait(&o->done, &o->lock, &ts);
		if (rc == ETIMEDOUT && !rq.done) {
			rq.cancelled = true;
			if (ocr_unqueue(o, &rq)) {
				rq.err = DD_E_TIMEOUT;
				rq.done = true;
				break;
			}
			/* running: the cancel hook stops it soon */
			while (!rq.done)
				pthread_cond_wait(&o->done, &o->lock);
		}
	}
	pthread_mutex_unlock(&o->lock);
	return rq.err;
}
