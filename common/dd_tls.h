/* dd_tls.h: one zeroed object per thread, made on its first use.
 *
 * Several hot paths keep per-thread scratch state (read buffers, tokeners,
 * text contexts, index pages, a regenerated segment) so that threads never
 * share it and never lock for it.  Each used to spell out the same
 * pthread_once + pthread_key_create + getspecific + calloc + setspecific
 * sequence; a struct dd_tls holds that once:
 *
 *	static void my_free(void *p);   // frees members and p; NULL: free()
 *	static void my_init(void *p);   // after calloc; NULL: nothing
 *	static struct dd_tls my_tls =
 *		DD_TLS_INIT(sizeof(struct mine), my_init, my_free);
 *	struct mine *m = dd_tls_get(&my_tls);   // NULL: out of memory
 *
 * The object lives until its thread exits (then @dtor runs, as with any
 * pthread key destructor).  Keys are never deleted: each struct dd_tls is
 * a static of a library that lives as long as the process.
 *
 * Thread safety: dd_tls_get and dd_tls_peek may be called from any thread;
 * the key is created once, by whichever thread comes first. */
#ifndef DD_TLS_H
#define DD_TLS_H

#include <pthread.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dd_tls {
	size_t size;              /* bytes of the object (calloc'd) */
	void (*init)(void *);     /* after calloc; may be NULL */
	void (*dtor)(void *);     /* frees the object; NULL: free() */
	int state;                /* 0 no key yet, 1 key made, 2 key failed */
	pthread_key_t key;
};

#define DD_TLS_INIT(size, init, dtor) { (size), (init), (dtor), 0, 0 }

/* The calling thread's object, made (zeroed, then @init) on first use.
 * NULL when memory or a key could not be had; callers then go without
 * (every user has a slower path that needs no per-thread state). */
void *dd_tls_get(struct dd_tls *t);

/* The calling thread's object if it has one; never makes it. */
void *dd_tls_peek(struct dd_tls *t);

#ifdef __cplusplus
}
#endif

#endif /* DD_TLS_H */
