/* dd_tls.c: per-thread objects (see dd_tls.h). */
#include "dd_tls.h"

#include <stdlib.h>

/* Serialises key creation only; after that the state is read without it. */
static pthread_mutex_t dd_tls_lock = PTHREAD_MUTEX_INITIALIZER;

static int dd_tls_key(struct dd_tls *t)
{
	int s = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

	if (s)
		return s;
	pthread_mutex_lock(&dd_tls_lock);
	s = t->state;
	if (!s) {
		s = pthread_key_create(&t->key, t->dtor ? t->dtor : free) ? 2
									  : 1;
		__atomic_store_n(&t->state, s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&dd_tls_lock);
	return s;
}

void *dd_tls_peek(struct dd_tls *t)
{
	return dd_tls_key(t) == 1 ? pthread_getspecific(t->key) : NULL;
}

void *dd_tls_get(struct dd_tls *t)
{
	void *p;

	if (dd_tls_key(t) != 1)
		return NULL;
	p = pthread_getspecific(t->key);
	if (p)
		return p;
	p = calloc(1, t->size);
	if (!p)
		return NULL;
	if (t->init)
		t->init(p);
	if (pthread_setspecific(t->key, p)) {
		(t->dtor ? t->dtor : free)(p);
		return NULL;
	}
	return p;
}
