/* dd_ocr.c: the OCR worker pool over tesseract's C API (see dd_ocr.h). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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
	TessBaseAPI *api;       /* made and used by the worker's thread */
	pthread_t thread;
	bool started;           /* the thread exists (join it) */
	bool ready;             /* its model loaded or failed: protected by */
	dd_err init_err;        /* the pool's lock */
};

struct dd_ocr {
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a request was queued, or stop */
	pthread_cond_t done;       /* a request finished, or a worker is ready */
	struct ocr_req *head, *tail; /* FIFO, protected by lock */
	bool stop;                 /* protected by lock */
	/* The workers start at the first request (ocr_start), not in
	 * dd_ocr_new(): a daemon whose images never need OCR never loads
	 * the model (16-18 MiB).  state: OCR_IDLE, then OCR_UP or, for
	 * good, OCR_FAILED; read without start_lock once it is not
	 * OCR_IDLE (acquire/release). */
	pthread_mutex_t start_lock;
	int state;
	unsigned want;             /* workers to start */
	unsigned n_workers;        /* started (set under start_lock) */
	struct ocr_worker workers[2];
};

enum { OCR_IDLE, OCR_UP, OCR_FAILED };

uint64_t dd_ocr_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

dd_err dd_ocr_ensure_env(int argc, char **argv)
{
	const char *v = getenv("OMP_THREAD_LIMIT");
	char comm[17] = "";

	/* after the re-exec below the process is named after the path it
	 * was executed by, "exe": give it its own name back, so that ps,
	 * pgrep and the journal show "deidfs" */
	if (argc > 0 && argv[0] && prctl(PR_GET_NAME, comm) == 0 &&
	    strcmp(comm, "exe") == 0) {
		const char *base = strrchr(argv[0], '/');
		prctl(PR_SET_NAME, base ? base + 1 : argv[0]);
	}
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

static void ocr_api_free(TessBaseAPI *api)
{
	if (!api)
		return;
	TessBaseAPIEnd(api);
	TessBaseAPIDelete(api);
}

static bool ocr_env_ok(void)
{
	const char *v = getenv("OMP_THREAD_LIMIT");

	if (v && strcmp(v, "1") == 0)
		return true;
	dd_log(DD_LOG_ERR, "ocr: OMP_THREAD_LIMIT=1 is not set "
			   "(dd_ocr_ensure_env() must run first)");
	return false;
}

/* Load the model once and free it, in this process. */
static dd_err ocr_check_here(void)
{
	TessBaseAPI *api;
	dd_err err = ocr_api_new(&api);

	if (err == DD_OK)
		ocr_api_free(api);
	return err;
}

/* Is the calling thread the process's only one (/proc/self/status)? */
static bool ocr_single_threaded(void)
{
	char line[128];
	bool one = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Threads:", 8) == 0) {
			one = atoi(line + 8) == 1;
			break;
		}
	fclose(f);
	return one;
}

dd_err dd_ocr_check(void)
{
	dd_err err;
	pid_t pid;
	int st;

	if (!ocr_env_ok())
		return DD_E_INVAL;
	/* In a child, when fork is safe (no other thread holds a lock the
	 * child would need): the model's tables and the library pages its
	 * load touches are never resident here.  Loading and freeing it in
	 * the process left 4 MiB of heap (malloc_trim(0) did not give it
	 * back: tesseract keeps small allocations of its own) and 3 MiB of
	 * libtesseract and liblept pages, half of what starting the
	 * workers lazily saves. */
	pid = ocr_single_threaded() ? fork() : -1;
	if (pid == 0)
		_exit(ocr_check_here());
	if (pid > 0) {
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				return DD_E_INTERNAL;
		if (WIFEXITED(st) && WEXITSTATUS(st) < DD_E_LAST)
			return (dd_err)WEXITSTATUS(st);
		/* killed: tesseract crashed on the model (a bad file) */
		return DD_E_UNSUPPORTED;
	}
	err = ocr_check_here();
	malloc_trim(0);
	return err;
}

void dd_ocr_check_message(dd_err e, char *buf, size_t n)
{
	const char *td = getenv("TESSDATA_PREFIX");

	if (e == DD_E_UNSUPPORTED)
		snprintf(buf, n, "the policy redacts burnt-in text, and "
			 "tesseract cannot load its \"eng\" model: no usable "
			 "eng.traineddata in %s%s",
			 td ? "TESSDATA_PREFIX=" : "tesseract's own tessdata "
			 "directory", td ? td : "");
	else
		snprintf(buf, n, "the policy redacts burnt-in text, and OCR "
			 "cannot run: %s",
			 e == DD_E_INVAL ? "OMP_THREAD_LIMIT=1 is not set"
					 : dd_strerror(e));
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
	TessBaseAPI *api;
	dd_err err;

	/* tests count them by name in /proc/PID/task */
	pthread_setname_np(pthread_self(), "deid-ocr");
	/* the model is loaded here, not by the thread that started the
	 * pool (a FUSE worker): its ~14 MiB of long-lived tables go to this
	 * thread's malloc arena, with the recognition's own allocations,
	 * instead of among a FUSE thread's short-lived ones */
	err = ocr_api_new(&api);
	pthread_mutex_lock(&o->lock);
	w->api = api;
	w->init_err = err;
	w->ready = true;
	pthread_cond_broadcast(&o->done);
	for (;;) {
		struct ocr_req *rq;
		while (err == DD_OK && !o->stop && !o->head)
			pthread_cond_wait(&o->work, &o->lock);
		if (err != DD_OK || o->stop)
			break;
		rq = o->head;
		o->head = rq->next;
		if (!o->head)
			o->tail = NULL;
		rq->running = true;
		pthread_mutex_unlock(&o->lock);
		dd_err rerr = ocr_do(api, rq);
		pthread_mutex_lock(&o->lock);
		rq->err = rerr;
		rq->running = false;
		rq->done = true;
		pthread_cond_broadcast(&o->done);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

dd_err dd_ocr_new(unsigned workers, struct dd_ocr **out)
{
	struct dd_ocr *o;

	*out = NULL;
	if (!ocr_env_ok())
		return DD_E_INVAL;
	if (workers < 1 || workers > 2)
		return DD_E_INVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return DD_E_NOMEM;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->work, NULL);
	pthread_cond_init(&o->done, NULL);
	pthread_mutex_init(&o->start_lock, NULL);
	o->want = workers;
	*out = o;
	return DD_OK;
}

/* Stop and join the started workers, then free their engines
 * (start_lock held, or the last user). */
static void ocr_workers_stop(struct dd_ocr *o)
{
	unsigned i;

	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->lock);
	for (i = 0; i < o->n_workers; i++) {
		struct ocr_worker *w = &o->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		ocr_api_free(w->api);
		memset(w, 0, sizeof(*w));
	}
	o->n_workers = 0;
}

/* Start every worker's thread and wait until each has loaded its model
 * (start_lock held).  All or none: a pool where one of two workers could
 * not load the model stops the other too. */
static dd_err ocr_workers_start(struct dd_ocr *o)
{
	sigset_t all, old;
	dd_err err = DD_OK;
	unsigned i;

	/* the caller is any thread (a FUSE worker, usually): the workers
	 * take no signal, the daemon's handlers run where libfuse put
	 * them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < o->want; i++) {
		struct ocr_worker *w = &o->workers[i];
		w->pool = o;
		o->n_workers = i + 1;
		if (pthread_create(&w->thread, NULL, ocr_worker_main, w) != 0) {
			err = DD_E_NOMEM;
			o->n_workers = i;
			break;
		}
		w->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n_workers; i++) {
		struct ocr_worker *w = &o->workers[i];
		while (!w->ready)
			pthread_cond_wait(&o->done, &o->lock);
		if (err == DD_OK)
			err = w->init_err;
	}
	pthread_mutex_unlock(&o->lock);
	if (err != DD_OK)
		ocr_workers_stop(o);
	return err;
}

/* The workers, started by the first request.  A start that failed fails
 * every later request the same way (DD_E_INTERNAL: the image is hidden)
 * until the pool is freed, without trying again: a model that did not
 * load will not load at the next image either (a retry would cost a
 * model load per image and log as often), and one failure mode for the
 * process keeps the outputs of one run consistent (an image is not
 * hidden or shown by whether it came before or after a retry that
 * worked). */
static dd_err ocr_start(struct dd_ocr *o)
{
	int st = __atomic_load_n(&o->state, __ATOMIC_ACQUIRE);
	dd_err err;

	if (st == OCR_UP)
		return DD_OK;
	if (st == OCR_FAILED)
		return DD_E_INTERNAL;
	pthread_mutex_lock(&o->start_lock);
	st = __atomic_load_n(&o->state, __ATOMIC_RELAXED);
	if (st == OCR_IDLE) {
		err = ocr_workers_start(o);
		if (err != DD_OK)
			dd_log(DD_LOG_ERR, "ocr: cannot start the OCR workers "
			       "(%s%s): every image that needs OCR is hidden "
			       "until the program is restarted",
			       dd_err_name(err), err == DD_E_UNSUPPORTED ?
			       ": tesseract cannot load its \"eng\" model" : "");
		st = err == DD_OK ? OCR_UP : OCR_FAILED;
		__atomic_store_n(&o->state, st, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&o->start_lock);
	return st == OCR_UP ? DD_OK : DD_E_INTERNAL;
}

unsigned dd_ocr_workers_started(const struct dd_ocr *o)
{
	if (!o || __atomic_load_n(&o->state, __ATOMIC_ACQUIRE) != OCR_UP)
		return 0;
	return o->n_workers;
}

void dd_ocr_free(struct dd_ocr *o)
{
	if (!o)
		return;
	ocr_workers_stop(o);
	pthread_mutex_destroy(&o->start_lock);
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
	dd_err err;

	if (!o || !img || !img->px || !img->w || !img->h || img->stride < img->w)
		return DD_E_INVAL;
	if (img->w > 32767 || img->h > 32767)
		return DD_E_LIMIT;
	__atomic_add_fetch(&ocr_calls_total, 1, __ATOMIC_RELAXED);
	err = ocr_start(o);
	if (err != DD_OK)
		return err;
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
