/*
 * The GSSAPI accept threads.  Internal to auth/.
 *
 * gss_accept_sec_context decrypts a ticket, checks the replay cache (a
 * file) and may read the keytab: too slow for an event loop that serves
 * thousands of connections.  A worker hands each accept to this pool as
 * a job; a pool thread runs it and posts it back to the worker's inbox
 * (inbox.h), where the job's done() runs on the worker's thread.  The pool is one for the process, bounded in threads and in
 * jobs waiting, and grows on demand up to the bound.
 *
 * Lock discipline: the pool's queue has a mutex of its own; a job
 * belongs to exactly one of submitter, queue, pool thread or inbox at a
 * time, so its fields need no lock.
 */
#ifndef IAPROXY_AUTH_GSS_POOL_H
#define IAPROXY_AUTH_GSS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <gssapi/gssapi.h>

#include "inbox.h"

/*
 * A job: its item comes back through the inbox (done() or discard(),
 * see inbox.h), and is the first member so callbacks find the job.
 */
struct gss_job {
	struct inbox_item item;		/* first */
	struct gss_job	*next;		/* the pool's queue */
	struct inbox	*inbox;		/* where it comes back */

	/* In, set by the submitter. */
	gss_cred_id_t	 cred;		/* the config's acceptor credential */
	gss_ctx_id_t	 ctx;		/* GSS_C_NO_CONTEXT, or a next leg */
	uint8_t		*in;		/* the client's token */
	size_t		 in_len;

	/* Out, set by the pool thread. */
	OM_uint32	 major, minor;
	gss_ctx_id_t	 ctx_out;	/* ctx, as the accept left it */
	gss_buffer_desc	 out;		/* a token for the client, or empty */
	char		*name;		/* client principal, when complete */
	char		 err[256];	/* major and minor text, on failure */
};

/*
 * Queue job for a pool thread, starting one when none is idle and fewer
 * than max_threads run.  -1 when max_queue jobs already wait (the caller
 * still owns job).
 */
int	gss_pool_submit(struct inbox *, struct gss_job *,
	    int max_threads, int max_queue);
/* Release what the accept left in job (output token, name, context). */
void	gss_job_clear(struct gss_job *);

#endif
