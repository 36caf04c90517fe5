/*
 * The winbind NTLM backend: pass-through of NTLMv2 responses to a domain
 * controller (MS-NLMP 3.2.5.1.2 done by the DC, as Netlogon pass-through
 * does for a Windows member server) through Samba's
 * `ntlm_auth --helper-protocol=ntlm-server-1`, which asks the host's
 * winbindd.  The proxy never holds a hash.
 *
 * Each worker has its own pool of helper processes, started when
 * sign-ins first need them.  A helper answers one request at a time and
 * is driven by a bufferevent on its end of a socketpair (the helper's
 * stdin and stdout); nothing here ever blocks the worker's loop.  When
 * every helper is busy, requests wait in a bounded FIFO.  A helper that
 * exits, hangs past helper_timeout or breaks the protocol is killed (by
 * its pid), reaped with waitpid(pid, WNOHANG) -- never a SIGCHLD handler,
 * which would steal other children's statuses -- and started again after
 * a back-off.
 *
 * ntlm-server-1 (Samba's ntlm_auth(1)): "Key: value" lines, or
 * "Key:: base64" for values that are not plain ASCII, ended by a line
 * ".".  The reply has "Authenticated: Yes|No", perhaps "User-Session-Key:
 * HEX" and "Authentication-Error: text", then ".".  Samba 4.17 writes a
 * second "." after a refusal, and an "Error: ..." block for a bad line;
 * so that a reply can never be taken for the next request's, each request
 * is followed by a lone "." (a request with no user), whose fixed answer
 * "Error: No username supplied!" fences the end of the real one.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backend.h"
#include "proxy.h"

extern char **environ;

#define WB_LINE_MAX	8192	/* one reply line, bytes */
#define WB_NT_MAX	8192	/* NtChallengeResponse we pass on, bytes */
#define WB_NAME_MAX	1024	/* user or domain name, bytes */
#define WB_BACKOFF_MIN	100	/* ms before restarting a failed helper */
#define WB_BACKOFF_MAX	10000
#define WB_REAP_MS	50	/* retry waitpid on killed helpers */
#define WB_FENCE	"Error: No username supplied!"

/*
 * Sign-ins waiting for a helper, all workers together (each worker's
 * nqueued belongs to its thread): for /metrics (auth_winbind_queued).
 */
static long wb_queued_all;
#define WB_QUEUED_ADD(n)	__atomic_add_fetch(&wb_queued_all, (n), \
				    __ATOMIC_RELAXED)

enum wb_hstate {
	WB_H_EMPTY,	/* no process; may start one */
	WB_H_IDLE,	/* running, waiting for a request */
	WB_H_BUSY,	/* answering (h->req, or a cancelled one) */
	WB_H_BACKOFF,	/* failed; h->timer ends the wait */
};

struct wb_req;

struct wb_helper {
	struct ntlm_winbind	*wb;
	int			 slot;
	enum wb_hstate		 state;
	pid_t			 pid;
	struct bufferevent	*bev;
	struct event		*timer;		/* answer deadline; back-off */
	struct wb_req		*req;		/* NULL: answer is discarded */
	int			 backoff;	/* ms, after the next failure */
	/* The answer being read. */
	int			 verdict;	/* -1 none yet, 0 No, 1 Yes */
	int			 bad;		/* an "Error:" or odd line */
	int			 fenced;	/* saw WB_FENCE; "." ends it */
	const char		*why;		/* for a No */
	int			 down;		/* the No means "DC unreachable" */
	int			 have_key;
	uint8_t			 key[16];
};

struct ntlm_winbind {
	struct event_base	*base;
	char			**argv;		/* copied from the config */
	int			 nhelpers;
	int			 queue_max;
	int			 timeout;	/* ms */
	struct wb_helper	*helpers;
	TAILQ_HEAD(, wb_req)	 queue;
	int			 nqueued;
	pid_t			*zombies;	/* killed, not reaped yet */
	size_t			 nzombies;
	struct event		*reap;
};

struct wb_req {
	struct ntlm_backend_req	 base;		/* first: see backend.h */
	TAILQ_ENTRY(wb_req)	 entry;
	struct ntlm_winbind	*wb;
	struct wb_helper	*helper;	/* answering it, or NULL */
	int			 queued;
	struct event		*timer;		/* deadline in the queue */
	ntlm_backend_cb		 cb;
	void			*arg;
	char			*text;		/* the request lines */
	size_t			 len;
};

static void	 wb_req_free(struct wb_req *);
static void	 wb_req_cancel(struct ntlm_backend_req *);
static void	 wb_req_timeout(evutil_socket_t, short, void *);
static void	 wb_finish(struct wb_req *, enum ntlm_backend_status,
		    const char *, const uint8_t *);
static int	 wb_spawn(struct wb_helper *);
static void	 wb_dispatch(struct wb_helper *, struct wb_req *);
static void	 wb_pump(struct ntlm_winbind *);
static void	 wb_fail(struct wb_helper *, const char *);
static void	 wb_stop(struct wb_helper *);
static void	 wb_read(struct bufferevent *, void *);
static void	 wb_event(struct bufferevent *, short, void *);
static void	 wb_timer(evutil_socket_t, short, void *);
static int	 wb_line(struct wb_helper *, const char *);
static void	 wb_complete(struct wb_helper *);
static void	 wb_reap(evutil_socket_t, short, void *);
static void	 wb_bury(struct ntlm_winbind *, pid_t);
static const char *wb_classify(const char *, int *);

static void
wb_msec(struct timeval *tv, int ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * Per worker: the pool described by the config's ntlm section (helper,
 * helpers, helper_queue, helper_timeout).  No process starts yet.
 * Returns NULL when out of memory.
 */
struct ntlm_winbind *
ntlm_winbind_new(struct event_base *base, const struct config *conf)
{
	struct ntlm_winbind	*wb;
	size_t			 n, i;
	int			 s;

	if (conf->ntlm.helper_argv == NULL || conf->ntlm.helper_argv[0] == NULL)
		return NULL;
	if ((wb = calloc(1, sizeof(*wb))) == NULL)
		return NULL;
	wb->base = base;
	wb->nhelpers = conf->ntlm.helpers > 0 ? conf->ntlm.helpers : 1;
	wb->queue_max = conf->ntlm.helper_queue;
	wb->timeout = conf->ntlm.helper_timeout > 0 ?
	    conf->ntlm.helper_timeout : 10000;
	TAILQ_INIT(&wb->queue);
	for (n = 0; conf->ntlm.helper_argv[n] != NULL; n++)
		;
	if ((wb->argv = calloc(n + 1, sizeof(char *))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if ((wb->argv[i] = strdup(conf->ntlm.helper_argv[i])) == NULL)
			goto fail;
	if ((wb->helpers = calloc((size_t)wb->nhelpers,
	    sizeof(*wb->helpers))) == NULL)
		goto fail;
	if ((wb->reap = evtimer_new(base, wb_reap, wb)) == NULL)
		goto fail;
	for (s = 0; s < wb->nhelpers; s++) {
		wb->helpers[s].wb = wb;
		wb->helpers[s].slot = s;
		wb->helpers[s].pid = -1;
		wb->helpers[s].backoff = WB_BACKOFF_MIN;
		if ((wb->helpers[s].timer = evtimer_new(base, wb_timer,
		    &wb->helpers[s])) == NULL)
			goto fail;
	}
	return wb;

 fail:
	ntlm_winbind_free(wb);
	return NULL;
}

/*
 * Stop every helper (SIGKILL by pid, then wait for it: a reload or a
 * shutdown may take that moment) and answer what was still waiting or in
 * flight with NTLM_BACKEND_DOWN, after the pool is gone.
 */
void
ntlm_winbind_free(struct ntlm_winbind *wb)
{
	TAILQ_HEAD(, wb_req)	 orphans;
	struct wb_req		*r;
	struct wb_helper	*h;
	size_t			 i;
	int			 s;

	if (wb == NULL)
		return;
	TAILQ_INIT(&orphans);
	/* The queue goes as a whole: none of it waits any more. */
	WB_QUEUED_ADD(-(long)wb->nqueued);
	wb->nqueued = 0;
	while ((r = TAILQ_FIRST(&wb->queue)) != NULL) {
		TAILQ_REMOVE(&wb->queue, r, entry);
		r->queued = 0;
		TAILQ_INSERT_TAIL(&orphans, r, entry);
	}
	for (s = 0; wb->helpers != NULL && s < wb->nhelpers; s++) {
		h = &wb->helpers[s];
		if ((r = h->req) != NULL) {
			h->req = NULL;
			r->helper = NULL;
			TAILQ_INSERT_TAIL(&orphans, r, entry);
		}
		wb_stop(h);
		if (h->timer != NULL)
			event_free(h->timer);
	}
	for (i = 0; i < wb->nzombies; i++)
		while (waitpid(wb->zombies[i], NULL, 0) == -1 && errno == EINTR)
			;
	free(wb->zombies);
	if (wb->reap != NULL)
		event_free(wb->reap);
	free(wb->helpers);
	for (i = 0; wb->argv != NULL && wb->argv[i] != NULL; i++)
		free(wb->argv[i]);
	free(wb->argv);
	free(wb);

	while ((r = TAILQ_FIRST(&orphans)) != NULL) {
		TAILQ_REMOVE(&orphans, r, entry);
		r->wb = NULL;
		wb_finish(r, NTLM_BACKEND_DOWN, "sign-in backend restarted",
		    NULL);
	}
}

static void
wb_hex(char *out, const uint8_t *p, size_t len)
{
	static const char	 digits[] = "0123456789ABCDEF";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/*
 * The request lines for q, malloc'ed into *textp.  Names always go in
 * base64 ("Key:: "): ntlm_auth splits a line at its first ": " or ":: ",
 * so a name holding either, or any byte outside ASCII, would otherwise
 * change what is asked.  Ends with the fence (see the top).
 */
static int
wb_format(const struct ntlm_backend_query *q, char **textp, size_t *lenp)
{
	size_t	 ulen = strlen(q->user), dlen = strlen(q->domain);
	size_t	 cap, n;
	char	*t;

	cap = 64 + 2 * (q->nt_len + q->lm_len + sizeof(q->challenge)) +
	    4 * (ulen / 3 + 1) + 4 * (dlen / 3 + 1) + 160;
	if ((t = malloc(cap)) == NULL)
		return -1;
	n = 0;
	memcpy(t + n, "LANMAN-Challenge: ", 18);
	n += 18;
	wb_hex(t + n, q->challenge, sizeof(q->challenge));
	n += 2 * sizeof(q->challenge);
	memcpy(t + n, "\nNT-Response: ", 14);
	n += 14;
	wb_hex(t + n, q->nt, q->nt_len);
	n += 2 * q->nt_len;
	/* ntlm_auth takes only a 24-byte LM (or LMv2) response. */
	if (q->lm != NULL && q->lm_len == 24) {
		memcpy(t + n, "\nLANMAN-Response: ", 18);
		n += 18;
		wb_hex(t + n, q->lm, q->lm_len);
		n += 2 * q->lm_len;
	}
	memcpy(t + n, "\nUsername:: ", 12);
	n += 12;
	n += (size_t)EVP_EncodeBlock((unsigned char *)t + n,
	    (const unsigned char *)q->user, (int)ulen);
	if (dlen > 0) {
		memcpy(t + n, "\nNT-Domain:: ", 13);
		n += 13;
		n += (size_t)EVP_EncodeBlock((unsigned char *)t + n,
		    (const unsigned char *)q->domain, (int)dlen);
	}
	n += (size_t)snprintf(t + n, cap - n,
	    "\nRequest-User-Session-Key: Yes\n.\n.\n");
	*textp = t;
	*lenp = n;
	return 0;
}

/*
 * Hand q to the domain controller.  cb is called exactly once on the
 * worker's thread, unless the returned request is cancelled first; NULL
 * means cb has already been called (refused or down at once).  The pool
 * is created on first use.
 */
struct ntlm_backend_req *
ntlm_winbind_verify(struct auth_worker *aw,
    const struct ntlm_backend_query *q, ntlm_backend_cb cb, void *arg)
{
	struct ntlm_backend_result	 res;
	struct ntlm_winbind		*wb;
	struct wb_helper		*h = NULL;
	struct wb_req			*r;
	struct timeval			 tv;
	int				 s;

	memset(&res, 0, sizeof(res));
	res.status = NTLM_BACKEND_DOWN;
	if (aw->winbind == NULL)
		aw->winbind = ntlm_winbind_new(aw->base, aw->conf);
	if ((wb = aw->winbind) == NULL) {
		res.reason = "cannot set up the domain controller helpers";
		cb(arg, &res);
		return NULL;
	}
	/* NTLMv1 and anonymous never reach a DC from here (fail closed). */
	if (q->user == NULL || q->user[0] == '\0' || q->nt == NULL ||
	    q->nt_len <= 24) {
		res.status = NTLM_BACKEND_REFUSED;
		res.reason = "not an NTLMv2 response";
		cb(arg, &res);
		return NULL;
	}
	if (q->nt_len > WB_NT_MAX || strlen(q->user) > WB_NAME_MAX ||
	    (q->domain != NULL && strlen(q->domain) > WB_NAME_MAX)) {
		res.status = NTLM_BACKEND_REFUSED;
		res.reason = "NTLM response or names too long";
		cb(arg, &res);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->timer = evtimer_new(wb->base, wb_req_timeout, r)) == NULL) {
		free(r);
		res.reason = "out of memory";
		cb(arg, &res);
		return NULL;
	}
	{
		struct ntlm_backend_query qq = *q;

		if (qq.domain == NULL)
			qq.domain = "";
		if (wb_format(&qq, &r->text, &r->len) == -1) {
			event_free(r->timer);
			free(r);
			res.reason = "out of memory";
			cb(arg, &res);
			return NULL;
		}
	}
	r->base.cancel = wb_req_cancel;
	r->wb = wb;
	r->cb = cb;
	r->arg = arg;

	/* An idle helper, else a slot where one may start now. */
	for (s = 0; s < wb->nhelpers && h == NULL; s++)
		if (wb->helpers[s].state == WB_H_IDLE)
			h = &wb->helpers[s];
	for (s = 0; s < wb->nhelpers && h == NULL; s++)
		if (wb->helpers[s].state == WB_H_EMPTY) {
			if (wb_spawn(&wb->helpers[s]) == 0)
				h = &wb->helpers[s];
			else {
				wb_req_free(r);
				res.reason = "cannot start the domain "
				    "controller helper";
				cb(arg, &res);
				return NULL;
			}
		}
	if (h != NULL) {
		wb_dispatch(h, r);
		return &r->base;
	}
	if (wb->nqueued >= wb->queue_max) {
		wb_req_free(r);
		res.reason = "too many sign-ins waiting";
		cb(arg, &res);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&wb->queue, r, entry);
	r->queued = 1;
	wb->nqueued++;
	WB_QUEUED_ADD(1);
	wb_msec(&tv, wb->timeout);
	evtimer_add(r->timer, &tv);
	return &r->base;
}

static void
wb_req_free(struct wb_req *r)
{
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->text != NULL) {
		OPENSSL_cleanse(r->text, r->len);
		free(r->text);
	}
	free(r);
}

/* Give r its answer and free it.  r is off every list by now. */
static void
wb_finish(struct wb_req *r, enum ntlm_backend_status st, const char *why,
    const uint8_t *key)
{
	struct ntlm_backend_result	 res;
	ntlm_backend_cb			 cb = r->cb;
	void				*arg = r->arg;

	memset(&res, 0, sizeof(res));
	res.status = st;
	res.reason = why;
	if (key != NULL) {
		res.have_session_key = 1;
		memcpy(res.session_key, key, sizeof(res.session_key));
	}
	wb_req_free(r);
	cb(arg, &res);
	OPENSSL_cleanse(&res, sizeof(res));
}

/*
 * backend.h cancel: a queued request leaves the queue; for one a helper is
 * answering, the answer will be read and dropped (the helper stays busy
 * until its fence, so the stream stays in step).
 */
static void
wb_req_cancel(struct ntlm_backend_req *br)
{
	struct wb_req	*r = (struct wb_req *)br;

	if (r->queued) {
		TAILQ_REMOVE(&r->wb->queue, r, entry);
		r->wb->nqueued--;
		WB_QUEUED_ADD(-1);
	} else if (r->helper != NULL)
		r->helper->req = NULL;
	wb_req_free(r);
}

/* Waited helper_timeout in the queue: no helper came free in time. */
static void
wb_req_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct wb_req	*r = arg;

	(void)fd;
	(void)ev;
	TAILQ_REMOVE(&r->wb->queue, r, entry);
	r->wb->nqueued--;
	WB_QUEUED_ADD(-1);
	r->queued = 0;
	wb_finish(r, NTLM_BACKEND_DOWN, "no domain controller helper free in "
	    "time", NULL);
}

/*
 * Start the helper of slot h: its stdin and stdout are one end of a
 * socketpair, its stderr is ours.  posix_spawn (vfork-like, safe in a
 * threaded process) with every other descriptor closed, signals back to
 * their defaults and an empty mask (our workers block some, and SIGPIPE
 * is ignored).  0, or -1 and h in back-off.
 */
static int
wb_spawn(struct wb_helper *h)
{
	struct ntlm_winbind		*wb = h->wb;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	sigset_t			 none, all;
	struct timeval			 tv;
	pid_t				 pid;
	int				 sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("ntlm helper: socketpair");
		goto backoff;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	posix_spawnattr_init(&sa);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &all);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, wb->argv[0], &fa, &sa, wb->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(sv[1]);
	if (rc != 0) {
		close(sv[0]);
		log_warnx("ntlm helper %s: cannot start: %s", wb->argv[0],
		    strerror(rc));
		goto backoff;
	}
	h->pid = pid;
	if (evutil_make_socket_nonblocking(sv[0]) == -1 ||
	    (h->bev = bufferevent_socket_new(wb->base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(sv[0]);
		kill(pid, SIGKILL);
		wb_bury(wb, pid);
		h->pid = -1;
		goto backoff;
	}
	bufferevent_setcb(h->bev, wb_read, NULL, wb_event, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
	h->state = WB_H_IDLE;
	log_debug("ntlm helper %d started (pid %ld)", h->slot, (long)pid);
	return 0;

 backoff:
	h->state = WB_H_BACKOFF;
	wb_msec(&tv, h->backoff);
	evtimer_add(h->timer, &tv);
	if ((h->backoff *= 2) > WB_BACKOFF_MAX)
		h->backoff = WB_BACKOFF_MAX;
	return -1;
}

/* Send r to the idle helper h and start the clock on its answer. */
static void
wb_dispatch(struct wb_helper *h, struct wb_req *r)
{
	struct timeval	 tv;

	evtimer_del(r->timer);
	r->helper = h;
	h->req = r;
	h->state = WB_H_BUSY;
	h->verdict = -1;
	h->bad = h->fenced = h->down = h->have_key = 0;
	h->why = NULL;
	bufferevent_write(h->bev, r->text, r->len);
	/* The lines are out of our hands now; wipe our copy. */
	OPENSSL_cleanse(r->text, r->len);
	wb_msec(&tv, h->wb->timeout);
	evtimer_add(h->timer, &tv);
}

/* Give waiting requests to idle helpers, starting helpers as needed. */
static void
wb_pump(struct ntlm_winbind *wb)
{
	struct wb_helper	*h;
	struct wb_req		*r;
	int			 s;

	while ((r = TAILQ_FIRST(&wb->queue)) != NULL) {
		h = NULL;
		for (s = 0; s < wb->nhelpers && h == NULL; s++)
			if (wb->helpers[s].state == WB_H_IDLE)
				h = &wb->helpers[s];
		for (s = 0; s < wb->nhelpers && h == NULL; s++)
			if (wb->helpers[s].state == WB_H_EMPTY &&
			    wb_spawn(&wb->helpers[s]) == 0)
				h = &wb->helpers[s];
		if (h == NULL)
			return;		/* a back-off timer will call again */
		TAILQ_REMOVE(&wb->queue, r, entry);
		wb->nqueued--;
		WB_QUEUED_ADD(-1);
		r->queued = 0;
		wb_dispatch(h, r);
	}
}

/*
 * Take helper h down (killed by its pid, reaped later), start its
 * back-off, and answer the request it had, if any, with DOWN.  Anything
 * unexpected from a helper ends here: the stream may be out of step.
 */
static void
wb_fail(struct wb_helper *h, const char *why)
{
	struct wb_req	*r = h->req;
	struct timeval	 tv;

	h->req = NULL;
	wb_stop(h);
	h->state = WB_H_BACKOFF;
	wb_msec(&tv, h->backoff);
	evtimer_add(h->timer, &tv);
	if ((h->backoff *= 2) > WB_BACKOFF_MAX)
		h->backoff = WB_BACKOFF_MAX;
	if (r != NULL) {
		r->helper = NULL;
		wb_finish(r, NTLM_BACKEND_DOWN, why, NULL);
	}
}

/* Close h's socket and kill its process; the slot becomes EMPTY. */
static void
wb_stop(struct wb_helper *h)
{
	if (h->timer != NULL)
		evtimer_del(h->timer);
	if (h->bev != NULL) {
		bufferevent_free(h->bev);
		h->bev = NULL;
	}
	/* Not reaped yet, so the pid is still ours: no reuse race. */
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		wb_bury(h->wb, h->pid);
		h->pid = -1;
	}
	OPENSSL_cleanse(h->key, sizeof(h->key));
	h->state = WB_H_EMPTY;
}

/* The fence is read: h's answer is complete. */
static void
wb_complete(struct wb_helper *h)
{
	struct ntlm_winbind		*wb = h->wb;
	struct wb_req			*r = h->req;
	enum ntlm_backend_status	 st;
	const char			*why = NULL;
	uint8_t				 key[16];
	int				 have_key = 0;

	if (h->bad || h->verdict == -1) {
		st = NTLM_BACKEND_DOWN;
		why = "the domain controller helper gave no verdict";
	} else if (h->verdict == 1) {
		st = NTLM_BACKEND_VERIFIED;
		if ((have_key = h->have_key))
			memcpy(key, h->key, sizeof(key));
	} else if (h->down) {
		st = NTLM_BACKEND_DOWN;
		why = h->why;
	} else {
		st = NTLM_BACKEND_REFUSED;
		why = h->why != NULL ? h->why : "refused by the domain "
		    "controller";
	}
	OPENSSL_cleanse(h->key, sizeof(h->key));
	h->req = NULL;
	if (r != NULL)
		r->helper = NULL;
	evtimer_del(h->timer);
	if (evbuffer_get_length(bufferevent_get_input(h->bev)) > 0) {
		/* More than one answer: out of step, start afresh. */
		log_warnx("ntlm helper %d (pid %ld): unexpected output; "
		    "restarting it", h->slot, (long)h->pid);
		wb_fail(h, NULL);
	} else {
		h->state = WB_H_IDLE;
		h->backoff = WB_BACKOFF_MIN;
	}
	wb_pump(wb);
	if (r != NULL)
		wb_finish(r, st, why, have_key ? key : NULL);
	OPENSSL_cleanse(key, sizeof(key));
}

/* The helper wrote: whole lines, each of them at most WB_LINE_MAX. */
static void
wb_read(struct bufferevent *bev, void *arg)
{
	struct wb_helper	*h = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 eol;
	char			*line;
	size_t			 n;
	int			 done;

	while (h->bev != NULL && evbuffer_get_length(in) > 0) {
		if (h->state != WB_H_BUSY) {
			log_warnx("ntlm helper %d (pid %ld): output while "
			    "idle; restarting it", h->slot, (long)h->pid);
			wb_fail(h, NULL);
			return;
		}
		eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			if (evbuffer_get_length(in) > WB_LINE_MAX) {
				log_warnx("ntlm helper %d (pid %ld): line too "
				    "long; restarting it", h->slot,
				    (long)h->pid);
				wb_fail(h, "the domain controller helper "
				    "broke the protocol");
			}
			return;
		}
		if ((size_t)eol.pos > WB_LINE_MAX) {
			log_warnx("ntlm helper %d (pid %ld): line too long; "
			    "restarting it", h->slot, (long)h->pid);
			wb_fail(h, "the domain controller helper broke the "
			    "protocol");
			return;
		}
		if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) == NULL)
			return;
		/* Once an answer is complete, h may be someone else's. */
		done = wb_line(h, line);
		OPENSSL_cleanse(line, n);
		free(line);
		if (done)
			return;
	}
}

static int
wb_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One line of an answer (h is BUSY); 1 when the answer is over. */
static int
wb_line(struct wb_helper *h, const char *line)
{
	const char	*v;
	int		 i, hi, lo;

	if (h->fenced) {
		if (strcmp(line, ".") == 0)
			wb_complete(h);
		else {
			log_warnx("ntlm helper %d (pid %ld): unexpected "
			    "output; restarting it", h->slot, (long)h->pid);
			wb_fail(h, "the domain controller helper broke the "
			    "protocol");
		}
		return 1;
	}
	if (strcmp(line, WB_FENCE) == 0) {
		h->fenced = 1;
	} else if (strcmp(line, ".") == 0) {
		/* The end of the real answer, or Samba's second "." */
	} else if (strncmp(line, "Authenticated: ", 15) == 0) {
		v = line + 15;
		if (h->verdict != -1)
			h->bad = 1;
		else if (strcmp(v, "Yes") == 0)
			h->verdict = 1;
		else if (strcmp(v, "No") == 0)
			h->verdict = 0;
		else
			h->bad = 1;
	} else if (strncmp(line, "User-Session-Key: ", 18) == 0) {
		v = line + 18;
		if (strlen(v) != 2 * sizeof(h->key)) {
			h->bad = 1;
			return 0;
		}
		for (i = 0; i < (int)sizeof(h->key); i++) {
			if ((hi = wb_hexval(v[2 * i])) == -1 ||
			    (lo = wb_hexval(v[2 * i + 1])) == -1) {
				h->bad = 1;
				return 0;
			}
			h->key[i] = (uint8_t)(hi << 4 | lo);
		}
		h->have_key = 1;
	} else if (strncmp(line, "Authentication-Error: ", 22) == 0) {
		/* The DC's words are not logged: we log our own category. */
		h->why = wb_classify(line + 22, &h->down);
	} else if (strncmp(line, "Error:", 6) == 0) {
		h->bad = 1;
	}
	/* Anything else (e.g. LANMAN-Session-Key) is not ours to use. */
	return 0;
}

/* Does s contain needle, ignoring ASCII case? */
static int
wb_has(const char *s, const char *needle)
{
	size_t	n = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * What an Authentication-Error means, as a static reason that is safe to
 * log.  ntlm_auth writes Samba's friendly text for the NT status (e.g.
 * NT_STATUS_WRONG_PASSWORD, NT_STATUS_NO_SUCH_USER) or the status name;
 * when the DC or winbindd could not be reached, *down is set: that is an
 * outage, not a verdict on the user.
 */
static const char *
wb_classify(const char *text, int *down)
{
	*down = 0;
	if (wb_has(text, "does not exist") || wb_has(text, "NO_SUCH_USER"))
		return "unknown user";
	if (wb_has(text, "locked"))
		return "account locked out";
	if (wb_has(text, "disabled"))
		return "account disabled";
	if (wb_has(text, "expired") || wb_has(text, "EXPIRED"))
		return "password or account expired";
	if (wb_has(text, "password") || wb_has(text, "LOGON_FAILURE"))
		return "wrong password";
	if (wb_has(text, "winbind") || wb_has(text, "logon server") ||
	    wb_has(text, "NO_LOGON_SERVERS") || wb_has(text, "connect") ||
	    wb_has(text, "timeout") || wb_has(text, "timed out") ||
	    wb_has(text, "unsuccessful") || wb_has(text, "not available") ||
	    wb_has(text, "NO_SUCH_DOMAIN") || wb_has(text, "no such domain")) {
		*down = 1;
		return "domain controller unreachable";
	}
	return "refused by the domain controller";
}

/* EOF or an error on the helper's socket: it exited (or is useless). */
static void
wb_event(struct bufferevent *bev, short events, void *arg)
{
	struct wb_helper	*h = arg;

	(void)bev;
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	log_warnx("ntlm helper %d (pid %ld) exited; restarting it", h->slot,
	    (long)h->pid);
	wb_fail(h, "the domain controller helper exited");
}

/* A busy helper's deadline, or the end of a back-off. */
static void
wb_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct wb_helper	*h = arg;

	(void)fd;
	(void)ev;
	if (h->state == WB_H_BUSY) {
		log_warnx("ntlm helper %d (pid %ld) did not answer in %d ms; "
		    "killing it", h->slot, (long)h->pid, h->wb->timeout);
		wb_fail(h, "the domain controller did not answer in time");
	} else if (h->state == WB_H_BACKOFF) {
		h->state = WB_H_EMPTY;
		wb_pump(h->wb);
	}
}

/* Reap pid now if it has exited, else keep it for wb_reap(). */
static void
wb_bury(struct ntlm_winbind *wb, pid_t pid)
{
	struct timeval	 tv;
	pid_t		*z;
	pid_t		 rc;

	while ((rc = waitpid(pid, NULL, WNOHANG)) == -1 && errno == EINTR)
		;
	if (rc != 0)
		return;		/* reaped, or not our child (ECHILD) */
	if ((z = reallocarray(wb->zombies, wb->nzombies + 1,
	    sizeof(*z))) == NULL) {
		log_warnx("ntlm helper pid %ld: out of memory; not reaped",
		    (long)pid);
		return;
	}
	wb->zombies = z;
	wb->zombies[wb->nzombies++] = pid;
	if (!evtimer_pending(wb->reap, NULL)) {
		wb_msec(&tv, WB_REAP_MS);
		evtimer_add(wb->reap, &tv);
	}
}

static void
wb_reap(evutil_socket_t fd, short ev, void *arg)
{
	struct ntlm_winbind	*wb = arg;
	struct timeval		 tv;
	size_t			 i = 0;
	pid_t			 rc;

	(void)fd;
	(void)ev;
	while (i < wb->nzombies) {
		rc = waitpid(wb->zombies[i], NULL, WNOHANG);
		if (rc == 0 || (rc == -1 && errno == EINTR))
			i++;
		else
			wb->zombies[i] = wb->zombies[--wb->nzombies];
	}
	if (wb->nzombies > 0) {
		wb_msec(&tv, WB_REAP_MS);
		evtimer_add(wb->reap, &tv);
	}
}

size_t
auth_winbind_queued(void)
{
	long n = __atomic_load_n(&wb_queued_all, __ATOMIC_RELAXED);

	return n > 0 ? (size_t)n : 0;
}
