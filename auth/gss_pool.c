/*
 * The GSSAPI accept threads; see gss_pool.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>

#include "auth.h"
#include "conf.h"
#include "gss_pool.h"

/* The process's pool: its queue and how many threads serve it. */
static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 more;
	struct gss_job	*head, *tail;
	int		 queued;
	int		 threads;
	int		 idle;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    NULL, NULL, 0, 0, 0 };

/* One accept, and the words for it: runs on a pool thread. */
static void
job_run(struct gss_job *j)
{
	gss_buffer_desc	 in, dname;
	gss_name_t	 src = GSS_C_NO_NAME;
	gss_cred_id_t	 deleg = GSS_C_NO_CREDENTIAL;
	OM_uint32	 min;

	in.value = j->in;
	in.length = j->in_len;
	j->ctx_out = j->ctx;
	j->out.value = NULL;
	j->out.length = 0;
	j->major = gss_accept_sec_context(&j->minor, &j->ctx_out, j->cred,
	    &in, GSS_C_NO_CHANNEL_BINDINGS, &src, NULL, &j->out, NULL, NULL,
	    &deleg);
	j->ctx = GSS_C_NO_CONTEXT;	/* ctx_out is the one now */
	/* A proxy has no use for a client's forwarded ticket. */
	if (deleg != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &deleg);
	if (GSS_ERROR(j->major))
		conf_gss_status(j->major, j->minor, j->err, sizeof(j->err));
	else if (j->major == GSS_S_COMPLETE && src != GSS_C_NO_NAME) {
		if (!GSS_ERROR(gss_display_name(&min, src, &dname, NULL))) {
			if ((j->name = malloc(dname.length + 1)) != NULL) {
				memcpy(j->name, dname.value, dname.length);
				j->name[dname.length] = '\0';
			}
			gss_release_buffer(&min, &dname);
		}
	}
	if (src != GSS_C_NO_NAME)
		gss_release_name(&min, &src);
}

static void *
pool_main(void *arg)
{
	struct gss_job *j;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pool.lock);
		pool.idle++;
		while (pool.head == NULL)
			pthread_cond_wait(&pool.more, &pool.lock);
		pool.idle--;
		j = pool.head;
		if ((pool.head = j->next) == NULL)
			pool.tail = NULL;
		pool.queued--;
		pthread_mutex_unlock(&pool.lock);
		j->next = NULL;
		job_run(j);
		inbox_post(j->inbox, &j->item);
	}
	return NULL;
}

int
gss_pool_submit(struct inbox *ib, struct gss_job *j, int max_threads,
    int max_queue)
{
	pthread_attr_t	 attr;
	pthread_t	 t;

	pthread_mutex_lock(&pool.lock);
	if (pool.queued >= max_queue) {
		pthread_mutex_unlock(&pool.lock);
		return -1;
	}
	/*
	 * A thread per job until max_threads; they stay for the next
	 * (pool threads inherit the worker's mask: signals go to main).
	 */
	if (pool.idle <= pool.queued && pool.threads < max_threads) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, pool_main, NULL) == 0)
			pool.threads++;
		pthread_attr_destroy(&attr);
	}
	if (pool.threads == 0) {
		pthread_mutex_unlock(&pool.lock);
		return -1;
	}
	inbox_expect(ib);
	j->inbox = ib;
	j->next = NULL;
	if (pool.tail != NULL)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	pool.queued++;
	pthread_cond_signal(&pool.more);
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

void
gss_job_clear(struct gss_job *j)
{
	OM_uint32 min;

	if (j->out.length > 0 || j->out.value != NULL)
		gss_release_buffer(&min, &j->out);
	if (j->ctx_out != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &j->ctx_out, GSS_C_NO_BUFFER);
	if (j->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &j->ctx, GSS_C_NO_BUFFER);
	free(j->name);
	j->name = NULL;
	free(j->in);
	j->in = NULL;
}

size_t
auth_gss_queued(void)
{
	int n;

	pthread_mutex_lock(&pool.lock);
	n = pool.queued;
	pthread_mutex_unlock(&pool.lock);
	return n > 0 ? (size_t)n : 0;
}
