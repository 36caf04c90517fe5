/*
 * One asynchronous connection to the directory; see dir.h.
 *
 * The connection is made with LDAP_OPT_CONNECT_ASYNC (ldap_initialize
 * does not connect; the TCP connect happens inside the first operation,
 * which with the option returns LDAP_X_CONNECTING instead of waiting): we
 * wait for the socket to become writable and call it again.  The first
 * operation is the StartTLS request (RFC 4511 4.14) when starttls is set,
 * else the bind.  The bind and every search are sent with the
 * asynchronous calls and their answers collected with ldap_result() and a
 * zero timeout when libevent says the socket (LDAP_OPT_DESC) is
 * readable.  Several searches share the connection and are told apart by
 * message id.
 *
 * Failures fail closed: a directory that cannot be reached, refuses our
 * bind, or does not answer within `timeout` ends a search with DIR_DOWN,
 * never with an answer.  The URIs are tried in order (failover); after a
 * whole round failed we wait before the next round (doubling, 1 s to
 * 10 s), and searches started meanwhile fail at once: a directory known
 * to be down is not waited for.  Searches that arrive while the
 * connection is being made wait in a bounded queue, each with its own
 * deadline.
 *
 * TLS: ldaps:// and StartTLS verify the server against tls_ca_file (or
 * the system's CAs), always (RFC 4513 3.1.3).  libldap runs the TLS
 * handshake inside one call (the one that completes an ldaps:// connect,
 * or ldap_install_tls() after StartTLS), waiting at most `timeout`
 * (LDAP_OPT_NETWORK_TIMEOUT): the one wait of this file, which is why
 * every dir_conn lives on the directory thread (groups_dir.c), never on
 * a worker's event_base.  After StartTLS, libldap (2.5) keeps no such
 * bound: on a peer that never answers the ClientHello it retries the
 * handshake on the non-blocking socket forever.  An I/O layer of our own
 * under its TLS layer (dir_deadline_io) waits for the socket in poll()
 * instead, and fails the handshake once `timeout` has passed.
 *
 * A call that waited leaves libevent's cached time behind: the timers
 * added after it are measured from the real time (a backoff must not
 * have expired before it starts).
 *
 * Secrets: the bind password lives in the config (conf.c wipes it) and is
 * never logged.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dir.h"
#include "proxy.h"		/* log_*() */

#define DIR_QUEUE_MAX		1024	/* searches waiting for a connection */
#define DIR_BACKOFF_MIN		1000	/* ms before the second round */
#define DIR_BACKOFF_MAX		10000	/* ms, the longest wait */
#define DIR_QUEUE_WAIT_MAX	600000	/* ms a search waits for a connection */

#define WHERE_NONE	0
#define WHERE_QUEUE	1
#define WHERE_SENT	2

enum dir_state {
	DS_IDLE,	/* no connection, none being made */
	DS_CONNECTING,	/* TCP connect in progress (LDAP_X_CONNECTING) */
	DS_STARTTLS,	/* StartTLS request sent, waiting for its result */
	DS_BINDING,	/* bind sent, waiting for its result */
	DS_UP,		/* bound: searches go out at once */
	DS_BACKOFF,	/* a round failed; waiting before the next */
};

TAILQ_HEAD(dir_searches, dir_search);

struct dir_conn {
	struct event_base	*base;
	const struct conf_ldap	*cl;		/* the owner holds the config */
	const char		*who;		/* "ldap" in log lines */
	const char		*what;		/* what fails while down */
	LDAP			*ld;
	enum dir_state		 state;
	size_t			 uri;		/* index being tried */
	size_t			 tried;		/* URIs tried in this round */
	int			 op_msgid;	/* StartTLS or bind */
	int			 backoff;	/* ms; 0 after a good bind */
	struct event		*ev_io;		/* the LDAP socket */
	struct event		*ev_timer;	/* connect/bind deadline, backoff */
	struct dir_searches	 queue;		/* waiting for DS_UP */
	size_t			 nqueue;
	struct dir_searches	 sent;		/* on the wire */
	int			 was_up;	/* log transitions once */
};

static void	 dir_connect_round(struct dir_conn *);
static void	 dir_try_uri(struct dir_conn *);
static void	 dir_first_op(struct dir_conn *);
static void	 dir_bind(struct dir_conn *);
static void	 dir_disconnect(struct dir_conn *);
static void	 dir_failed(struct dir_conn *, const char *);
static void	 dir_conn_lost(struct dir_conn *, const char *, int);
static void	 dir_io_cb(evutil_socket_t, short, void *);
static void	 dir_timer_cb(evutil_socket_t, short, void *);
static void	 dir_read(struct dir_conn *);
static void	 dir_handle(struct dir_conn *, LDAPMessage *);
static void	 dir_handle_starttls(struct dir_conn *, LDAPMessage *);
static void	 dir_handle_bind(struct dir_conn *, LDAPMessage *);
static void	 dir_send(struct dir_search *);
static void	 dir_flush_queue(struct dir_conn *);
static void	 dir_finish(struct dir_search *, enum dir_status, int,
		    const char *);
static void	 dir_unlink(struct dir_search *);
static void	 dir_timeout_cb(evutil_socket_t, short, void *);
static void	 dir_fail_soon(struct dir_search *, const char *);
static void	 dir_fail_list(struct dir_conn *, struct dir_searches *,
		    const char *);
static void	 dir_nonblock(struct dir_conn *);
static const char *dir_connect_why(struct dir_conn *, int, int64_t, char *,
		    size_t);
static void	 ms_tv(int, struct timeval *);

static pthread_once_t	 dir_once = PTHREAD_ONCE_INIT;

/* dir_deadline_io's own: the socket and when the handshake must end. */
struct dir_deadline {
	int		 fd;
	int64_t		 at;		/* ms, monotonic */
};

#define DIR_SBIOD_LEVEL	(LBER_SBIOD_LEVEL_PROVIDER + 5)	/* under TLS */

/*
 * libldap sets up its global options (reading ldap.conf) on first use;
 * threads make their handles at the same time, so do that once, first.
 */
static void
dir_global_init(void)
{
	int	v;

	ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v);
}

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ms_tv(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

struct dir_conn *
dir_conn_new(struct event_base *base, const struct conf_ldap *cl,
    const char *who, const char *what)
{
	struct dir_conn	*dc;

	if (!cl->enabled || cl->nuris == 0)
		return NULL;
	pthread_once(&dir_once, dir_global_init);
	if ((dc = calloc(1, sizeof(*dc))) == NULL)
		return NULL;
	dc->base = base;
	dc->cl = cl;
	dc->who = who;
	dc->what = what;
	dc->state = DS_IDLE;
	dc->op_msgid = -1;
	TAILQ_INIT(&dc->queue);
	TAILQ_INIT(&dc->sent);
	if ((dc->ev_timer = evtimer_new(base, dir_timer_cb, dc)) == NULL) {
		free(dc);
		return NULL;
	}
	return dc;
}

void
dir_conn_free(struct dir_conn *dc)
{
	if (dc == NULL)
		return;
	dir_fail_list(dc, &dc->queue, "directory connection closed");
	dir_fail_list(dc, &dc->sent, "directory connection closed");
	dir_disconnect(dc);
	event_free(dc->ev_timer);
	free(dc);
}

int
dir_conn_is_up(const struct dir_conn *dc)
{
	return dc != NULL && dc->state == DS_UP;
}

int
dir_search_start(struct dir_conn *dc, struct dir_search *s)
{
	struct timeval	 tv;
	long		 wait;

	if (dc->nqueue >= DIR_QUEUE_MAX)
		return -1;
	s->dc = dc;
	s->msgid = -1;
	s->down = NULL;
	s->where = WHERE_NONE;
	if ((s->timer = evtimer_new(dc->base, dir_timeout_cb, s)) == NULL)
		return -1;
	/*
	 * Waiting for a connection may take a round over every URI, each
	 * with its own connect deadline, before the search's own: so long.
	 * The search gets `timeout` afresh when it is sent (dir_send).
	 */
	wait = (long)dc->cl->timeout * (long)(dc->cl->nuris + 1);
	ms_tv(wait > DIR_QUEUE_WAIT_MAX ? DIR_QUEUE_WAIT_MAX : (int)wait, &tv);
	evtimer_add(s->timer, &tv);
	TAILQ_INSERT_TAIL(&dc->queue, s, link);
	s->where = WHERE_QUEUE;
	dc->nqueue++;
	switch (dc->state) {
	case DS_UP:
		dir_flush_queue(dc);
		break;
	case DS_IDLE:
		dir_connect_round(dc);
		break;
	case DS_BACKOFF:
		/* Known down: answer now rather than after the wait. */
		dir_fail_soon(s, "directory unreachable");
		break;
	default:
		break;		/* sent when the connection is up */
	}
	/*
	 * A connect refused at once fails the queue inside this call; those
	 * answers are deferred to the event loop (dir_fail_soon), so done()
	 * never runs before the caller returns.
	 */
	return 0;
}

void
dir_search_cancel(struct dir_search *s)
{
	struct dir_conn	*dc = s->dc;

	/* RFC 4511 4.11: tell the server to stop working on it. */
	if (s->where == WHERE_SENT && s->msgid != -1 && dc->ld != NULL)
		ldap_abandon_ext(dc->ld, s->msgid, NULL, NULL);
	dir_unlink(s);
	if (s->timer != NULL)
		event_free(s->timer);
	s->timer = NULL;
}

/* Start a round over the URIs, from the first (the preferred server). */
static void
dir_connect_round(struct dir_conn *dc)
{
	dc->uri = 0;
	dc->tried = 0;
	dir_try_uri(dc);
}

/*
 * Try dc->uri: a fresh LDAP handle (libldap keeps state per handle that a
 * failed connection would leave behind), options, then the first
 * operation (which connects).
 */
static void
dir_try_uri(struct dir_conn *dc)
{
	const struct conf_ldap	*cl = dc->cl;
	const char		*uri = cl->uris[dc->uri];
	struct timeval		 tv;
	int			 rc, v;

	dir_disconnect(dc);
	dc->tried++;
	dc->state = DS_CONNECTING;
	if ((rc = ldap_initialize(&dc->ld, uri)) != LDAP_SUCCESS) {
		dc->ld = NULL;
		dir_failed(dc, ldap_err2string(rc));
		return;
	}
	v = LDAP_VERSION3;
	ldap_set_option(dc->ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	/*
	 * A referral would take the service password to another server; AD
	 * returns them for subtree searches from the domain root.
	 */
	ldap_set_option(dc->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(dc->ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON);
	ms_tv(cl->timeout, &tv);
	ldap_set_option(dc->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	if (strncmp(uri, "ldaps://", 8) == 0 || cl->starttls ||
	    cl->tls_ca_file != NULL) {
		/* RFC 4513 3.1.3: verify the server's identity, always. */
		v = LDAP_OPT_X_TLS_DEMAND;
		ldap_set_option(dc->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &v);
		if (cl->tls_ca_file != NULL)
			ldap_set_option(dc->ld, LDAP_OPT_X_TLS_CACERTFILE,
			    cl->tls_ca_file);
		v = 0;
		ldap_set_option(dc->ld, LDAP_OPT_X_TLS_NEWCTX, &v);
	}
	/* The connect, StartTLS and bind must be done within timeout. */
	evtimer_add(dc->ev_timer, &tv);
	dir_first_op(dc);
}

/* libldap turns a socket back to blocking once its connect is done. */
static void
dir_nonblock(struct dir_conn *dc)
{
	int	fd = -1, fl;

	/*
	 * liblber stops at a short read, so a reply stalled mid-message is
	 * survived (test_ntlm_ldap's stall relay); non-blocking makes sure
	 * no later read() on an empty socket can ever hold the thread.
	 */
	if (ldap_get_option(dc->ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
	    fd >= 0 && (fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Send the first operation (StartTLS or the bind), or find out the
 * connect is still in progress.  Called once from dir_try_uri() and
 * again each time the socket becomes writable while DS_CONNECTING.
 */
static void
dir_first_op(struct dir_conn *dc)
{
	const struct conf_ldap	*cl = dc->cl;
	struct berval		 cred;
	char			 why[256];
	int64_t			 t0;
	int			 rc, fd = -1, err = 0;
	socklen_t		 len = sizeof(err);

	/*
	 * The connect in progress ended: a refusal is told here, in words
	 * of its own, before libldap would go on to a TLS handshake.
	 */
	if (dc->ev_io != NULL &&
	    ldap_get_option(dc->ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
	    fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0) {
		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		dir_failed(dc, why);
		return;
	}
	t0 = mono_ms();
	if (cl->starttls)
		rc = ldap_extended_operation(dc->ld, LDAP_EXOP_START_TLS, NULL,
		    NULL, NULL, &dc->op_msgid);
	else {
		cred.bv_val = cl->bind_password;
		cred.bv_len = cl->bind_password_len;
		rc = ldap_sasl_bind(dc->ld, cl->bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, &dc->op_msgid);
	}
	/* An ldaps:// handshake may have waited in there. */
	event_base_update_cache_time(dc->base);
	if (rc != LDAP_SUCCESS && rc != LDAP_X_CONNECTING) {
		dir_failed(dc, dir_connect_why(dc, rc, mono_ms() - t0, why,
		    sizeof(why)));
		return;
	}
	if (ldap_get_option(dc->ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS ||
	    fd < 0) {
		dir_failed(dc, "no socket");
		return;
	}
	if (dc->ev_io != NULL) {
		event_free(dc->ev_io);
		dc->ev_io = NULL;
	}
	if (rc == LDAP_X_CONNECTING) {
		dc->ev_io = event_new(dc->base, fd, EV_WRITE, dir_io_cb, dc);
	} else {
		dir_nonblock(dc);
		dc->state = cl->starttls ? DS_STARTTLS : DS_BINDING;
		dc->ev_io = event_new(dc->base, fd, EV_READ | EV_PERSIST,
		    dir_io_cb, dc);
	}
	if (dc->ev_io == NULL || event_add(dc->ev_io, NULL) == -1)
		dir_failed(dc, "out of memory");
}

/*
 * Why the call that completes the connect failed (rc), for the log.  On
 * an ldaps:// URI that call also made the TLS handshake; libldap says
 * little of how it failed (a certificate that does not verify is
 * "(unknown error code)" with GnuTLS), so the line names the likely
 * cause.  took: ms the call took (the handshake waits up to timeout).
 */
static const char *
dir_connect_why(struct dir_conn *dc, int rc, int64_t took, char *buf,
    size_t len)
{
	char	*diag = NULL;

	if (strncmp(dc->cl->uris[dc->uri], "ldaps://", 8) != 0 ||
	    (rc != LDAP_SERVER_DOWN && rc != LDAP_CONNECT_ERROR &&
	    rc != LDAP_TIMEOUT))
		return ldap_err2string(rc);
	if (took * 10 >= (int64_t)dc->cl->timeout * 9) {
		snprintf(buf, len, "no TLS handshake in time (%s)",
		    ldap_err2string(rc));
		return buf;
	}
	/* GnuTLS's text for a certificate that fails is a placeholder. */
	(void)ldap_get_option(dc->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(buf, len, "no connection or the TLS handshake failed: %s "
	    "(is tls_ca_file the CA of the server's certificate?)",
	    diag != NULL && diag[0] != '\0' && diag[0] != '(' ? diag :
	    ldap_err2string(rc));
	ldap_memfree(diag);
	return buf;
}

/*
 * The deadline layer (liblber Sockbuf_IO) for the StartTLS handshake.
 * The TLS layer above reads and writes through it: each call waits for
 * the socket, at most until the deadline, and past it fails with
 * ETIMEDOUT, which the TLS library takes as fatal (EAGAIN would only
 * make libldap try again, at once).
 */
static int
dl_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
	sbiod->sbiod_pvt = arg;
	return 0;
}

static int
dl_remove(Sockbuf_IO_Desc *sbiod)
{
	sbiod->sbiod_pvt = NULL;
	return 0;
}

static int
dl_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
	return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

/* Wait until the socket is ready for ev; 0, or -1 (errno set). */
static int
dl_wait(Sockbuf_IO_Desc *sbiod, short ev)
{
	const struct dir_deadline	*dl = sbiod->sbiod_pvt;
	struct pollfd			 pfd;
	int64_t				 left;
	int				 rc;

	for (;;) {
		if ((left = dl->at - mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = dl->fd;
		pfd.events = ev;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		/* Ready, or an error or hangup the read or write will tell. */
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

static ber_slen_t
dl_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	if (dl_wait(sbiod, POLLIN) == -1)
		return -1;
	return LBER_SBIOD_READ_NEXT(sbiod, buf, len);
}

static ber_slen_t
dl_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	if (dl_wait(sbiod, POLLOUT) == -1)
		return -1;
	return LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
}

/* The layer below (the TCP provider) closes the socket. */
static int
dl_close(Sockbuf_IO_Desc *sbiod)
{
	(void)sbiod;
	return 0;
}

static Sockbuf_IO dir_deadline_io = {
	dl_setup, dl_remove, dl_ctrl, dl_read, dl_write, dl_close
};

/* Send the bind on a connection that is up (and maybe under TLS). */
static void
dir_bind(struct dir_conn *dc)
{
	const struct conf_ldap	*cl = dc->cl;
	struct berval		 cred;
	int			 rc;

	cred.bv_val = cl->bind_password;
	cred.bv_len = cl->bind_password_len;
	rc = ldap_sasl_bind(dc->ld, cl->bind_dn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, &dc->op_msgid);
	if (rc != LDAP_SUCCESS) {
		dir_failed(dc, ldap_err2string(rc));
		return;
	}
	dc->state = DS_BINDING;
}

/* Drop the handle and its events; the queue is left alone. */
static void
dir_disconnect(struct dir_conn *dc)
{
	struct dir_search	*s;

	if (dc->ev_io != NULL) {
		event_free(dc->ev_io);
		dc->ev_io = NULL;
	}
	evtimer_del(dc->ev_timer);
	/* Searches on a dropped connection have no answer coming. */
	TAILQ_FOREACH(s, &dc->sent, link)
		s->msgid = -1;
	if (dc->ld != NULL) {
		ldap_unbind_ext(dc->ld, NULL, NULL);
		dc->ld = NULL;
	}
	dc->op_msgid = -1;
	dc->state = DS_IDLE;
}

/*
 * Connecting to (or binding at) the current URI failed: try the next
 * one; after the last, log, answer what waits DOWN (nothing will come
 * for it before the next round) and wait before trying again.
 */
static void
dir_failed(struct dir_conn *dc, const char *why)
{
	const struct conf_ldap	*cl = dc->cl;
	struct dir_search	*s;
	char			 uri[256];
	struct timeval		 tv;

	log_sanitize(uri, sizeof(uri), cl->uris[dc->uri],
	    strlen(cl->uris[dc->uri]));
	dir_disconnect(dc);
	if (dc->tried < cl->nuris) {
		log_info("%s: %s: %s; trying the next server", dc->who, uri,
		    why);
		dc->uri++;
		dir_try_uri(dc);
		return;
	}
	dc->backoff = dc->backoff == 0 ? DIR_BACKOFF_MIN :
	    dc->backoff * 2 > DIR_BACKOFF_MAX ? DIR_BACKOFF_MAX :
	    dc->backoff * 2;
	log_warnx("%s: directory unreachable (%s: %s); %s until it answers; "
	    "next try in %d s", dc->who, uri, why, dc->what,
	    dc->backoff / 1000);
	dc->was_up = 0;
	dc->state = DS_BACKOFF;
	ms_tv(dc->backoff, &tv);
	evtimer_add(dc->ev_timer, &tv);
	TAILQ_FOREACH(s, &dc->queue, link)
		dir_fail_soon(s, "directory unreachable");
}

/*
 * An established connection broke (the server closed it, or an error
 * on the socket).  Searches on it fail; the queue gets a new round at
 * once, since a server that closed an idle connection is usually fine.
 */
static void
dir_conn_lost(struct dir_conn *dc, const char *why, int err)
{
	struct dir_search	*s;

	if (dc->state == DS_UP)
		log_info("%s: connection to %s lost: %s", dc->who,
		    dc->cl->uris[dc->uri], err ? ldap_err2string(err) : why);
	dir_disconnect(dc);
	TAILQ_FOREACH(s, &dc->sent, link)
		dir_fail_soon(s, "directory unreachable");
	if (!TAILQ_EMPTY(&dc->queue))
		dir_connect_round(dc);
}

/* The socket is writable (connect done) or readable (answers). */
static void
dir_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dir_conn	*dc = arg;

	if (dc->state == DS_CONNECTING)
		dir_first_op(dc);
	else
		dir_read(dc);
}

/* The connect/bind deadline, or the end of a backoff. */
static void
dir_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dir_conn	*dc = arg;

	switch (dc->state) {
	case DS_CONNECTING:
	case DS_STARTTLS:
	case DS_BINDING:
		dir_failed(dc, "no answer in time");
		break;
	case DS_BACKOFF:
		dc->state = DS_IDLE;
		if (!TAILQ_EMPTY(&dc->queue))
			dir_connect_round(dc);
		break;
	default:
		break;
	}
}

/*
 * Collect every answer already here, one message at a time and without
 * waiting (zero timeout).  A callback may start a new search, or cancel
 * one: each message is matched by id against the lists as they are now.
 */
static void
dir_read(struct dir_conn *dc)
{
	struct timeval	 zero = { 0, 0 };
	LDAPMessage	*msg;
	LDAP		*ld = dc->ld;
	int		 rc, err = 0;

	/* Until none is left, or the handling dropped this connection. */
	while (ld != NULL && dc->ld == ld) {
		msg = NULL;
		rc = ldap_result(dc->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero,
		    &msg);
		if (rc == 0)
			return;
		if (rc == -1) {
			ldap_get_option(dc->ld, LDAP_OPT_RESULT_CODE, &err);
			if (dc->state == DS_BINDING || dc->state == DS_STARTTLS)
				dir_failed(dc, ldap_err2string(err));
			else
				dir_conn_lost(dc, NULL, err);
			return;
		}
		dir_handle(dc, msg);
		ldap_msgfree(msg);
	}
}

/* One message from the server. */
static void
dir_handle(struct dir_conn *dc, LDAPMessage *msg)
{
	struct dir_search	*s;
	int			 id = ldap_msgid(msg), type = ldap_msgtype(msg);
	int			 err = LDAP_OTHER;

	if (dc->state == DS_STARTTLS && id == dc->op_msgid) {
		dir_handle_starttls(dc, msg);
		return;
	}
	if (dc->state == DS_BINDING && id == dc->op_msgid) {
		dir_handle_bind(dc, msg);
		return;
	}
	/* A Notice of Disconnection (RFC 4511 4.4.1) has message id 0. */
	if (id == 0 && type == LDAP_RES_EXTENDED) {
		dir_conn_lost(dc, "the server is closing the connection", 0);
		return;
	}
	TAILQ_FOREACH(s, &dc->sent, link)
		if (s->msgid == id)
			break;
	if (s == NULL)
		return;		/* cancelled or timed out: abandoned */
	switch (type) {
	case LDAP_RES_SEARCH_ENTRY:
		if (s->entry != NULL)
			s->entry(s, dc->ld, msg);
		break;
	case LDAP_RES_SEARCH_REFERENCE:
		break;		/* referrals are off: never followed */
	case LDAP_RES_SEARCH_RESULT:
		if (ldap_parse_result(dc->ld, msg, &err, NULL, NULL, NULL,
		    NULL, 0) != LDAP_SUCCESS)
			err = LDAP_OTHER;
		dir_finish(s, DIR_OK, err, NULL);
		break;
	default:
		dir_finish(s, DIR_DOWN, LDAP_OTHER,
		    "unexpected directory answer");
		break;
	}
}

/*
 * The StartTLS answer: the TLS handshake on the connection (libldap,
 * bounded by the network timeout), then the bind, now encrypted.
 */
static void
dir_handle_starttls(struct dir_conn *dc, LDAPMessage *msg)
{
	struct dir_deadline	 dl;
	Sockbuf			*sb = NULL;
	char			 why[192];
	int64_t			 t0;
	int			 err = LDAP_OTHER, rc, layered;

	if (ldap_parse_result(dc->ld, msg, &err, NULL, NULL, NULL, NULL, 0) !=
	    LDAP_SUCCESS)
		err = LDAP_OTHER;
	if (err != LDAP_SUCCESS) {
		snprintf(why, sizeof(why), "StartTLS refused: %s",
		    ldap_err2string(err));
		dir_failed(dc, why);
		return;
	}
	/*
	 * With CONNECT_ASYNC on, libldap would return from an unfinished
	 * handshake and refuse to be called again; the connection is made,
	 * so the option has no other use now.
	 */
	ldap_set_option(dc->ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_OFF);
	t0 = mono_ms();
	dl.at = t0 + dc->cl->timeout;
	dl.fd = -1;
	layered = ldap_get_option(dc->ld, LDAP_OPT_SOCKBUF, &sb) ==
	    LDAP_OPT_SUCCESS && sb != NULL &&
	    ldap_get_option(dc->ld, LDAP_OPT_DESC, &dl.fd) ==
	    LDAP_OPT_SUCCESS && dl.fd >= 0 &&
	    ber_sockbuf_add_io(sb, &dir_deadline_io, DIR_SBIOD_LEVEL, &dl) == 0;
	rc = ldap_install_tls(dc->ld);
	/* dl is ours (the stack): the layer goes before we return. */
	if (layered)
		(void)ber_sockbuf_remove_io(sb, &dir_deadline_io,
		    DIR_SBIOD_LEVEL);
	event_base_update_cache_time(dc->base);
	if (rc != LDAP_SUCCESS) {
		if ((mono_ms() - t0) * 10 >= (int64_t)dc->cl->timeout * 9)
			snprintf(why, sizeof(why), "StartTLS handshake failed: "
			    "no answer in time (%s)", ldap_err2string(rc));
		else
			snprintf(why, sizeof(why), "StartTLS handshake failed: "
			    "%s (is tls_ca_file the CA of the server's "
			    "certificate?)", ldap_err2string(rc));
		dir_failed(dc, why);
		return;
	}
	dir_nonblock(dc);
	dir_bind(dc);
}

/* The bind's answer: up, or (wrong service password) a failed try. */
static void
dir_handle_bind(struct dir_conn *dc, LDAPMessage *msg)
{
	char	 why[128];
	int	 err = LDAP_OTHER;

	if (ldap_parse_result(dc->ld, msg, &err, NULL, NULL, NULL, NULL, 0) !=
	    LDAP_SUCCESS)
		err = LDAP_OTHER;
	if (err != LDAP_SUCCESS) {
		/* The DN is config, not secret; the password never shows. */
		snprintf(why, sizeof(why), "bind as the service account "
		    "refused: %s", ldap_err2string(err));
		dir_failed(dc, why);
		return;
	}
	evtimer_del(dc->ev_timer);
	dc->state = DS_UP;
	dc->op_msgid = -1;
	dc->backoff = 0;
	if (!dc->was_up)
		log_info("%s: bound to %s as %s%s", dc->who,
		    dc->cl->uris[dc->uri], dc->cl->bind_dn,
		    dc->cl->starttls ? " (StartTLS)" : "");
	dc->was_up = 1;
	dir_flush_queue(dc);
}

/* Send everything queued (the connection is up). */
static void
dir_flush_queue(struct dir_conn *dc)
{
	struct dir_search	*s;

	while (dc->state == DS_UP && (s = TAILQ_FIRST(&dc->queue)) != NULL)
		dir_send(s);
}

/* Move s from the queue to the wire. */
static void
dir_send(struct dir_search *s)
{
	struct dir_conn	*dc = s->dc;
	struct timeval	 tv;
	int		 rc;

	dir_unlink(s);
	TAILQ_INSERT_TAIL(&dc->sent, s, link);
	s->where = WHERE_SENT;
	/*
	 * libldap sends tv as the server's time limit (whole seconds, at
	 * least one); our own deadline is s->timer.
	 */
	ms_tv(dc->cl->timeout, &tv);
	evtimer_del(s->timer);
	evtimer_add(s->timer, &tv);
	rc = ldap_search_ext(dc->ld, s->base, s->scope, s->filter, s->attrs,
	    0, NULL, NULL, &tv, s->sizelimit, &s->msgid);
	if (rc != LDAP_SUCCESS) {
		s->msgid = -1;
		if (rc == LDAP_FILTER_ERROR || rc == LDAP_PARAM_ERROR) {
			/* Ours, not the connection's: this search alone. */
			dir_fail_soon(s, "cannot send the directory search");
			return;
		}
		dir_conn_lost(dc, NULL, rc);
	}
}

/* Take s off whichever list holds it. */
static void
dir_unlink(struct dir_search *s)
{
	struct dir_conn	*dc = s->dc;

	if (s->where == WHERE_QUEUE) {
		TAILQ_REMOVE(&dc->queue, s, link);
		dc->nqueue--;
	} else if (s->where == WHERE_SENT)
		TAILQ_REMOVE(&dc->sent, s, link);
	s->where = WHERE_NONE;
}

/* Answer s: unlink, free its timer, then its done(). */
static void
dir_finish(struct dir_search *s, enum dir_status st, int err,
    const char *why)
{
	struct dir_conn	*dc = s->dc;

	if (st == DIR_DOWN && s->where == WHERE_SENT && s->msgid != -1 &&
	    dc->ld != NULL)
		ldap_abandon_ext(dc->ld, s->msgid, NULL, NULL);
	dir_unlink(s);
	if (s->timer != NULL)
		event_free(s->timer);
	s->timer = NULL;
	s->done(s, st, err, why);
}

/*
 * s's deadline: the directory did not answer in time (or, for a search
 * still queued after a failed round, is unreachable).
 */
static void
dir_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dir_search	*s = arg;

	if (s->down != NULL)
		dir_finish(s, DIR_DOWN, LDAP_SERVER_DOWN, s->down);
	else if (s->where == WHERE_SENT)
		dir_finish(s, DIR_DOWN, LDAP_TIMEOUT, "directory did not "
		    "answer in time");
	else
		dir_finish(s, DIR_DOWN, LDAP_SERVER_DOWN,
		    "directory unreachable");
}

/*
 * Answer s DOWN from the event loop (its timer, due now), not from the
 * call that found the failure: that call may be dir_search_start()
 * itself, or a loop over the lists.  Its message id is gone with the
 * connection.
 */
static void
dir_fail_soon(struct dir_search *s, const char *why)
{
	struct timeval	tv = { 0, 0 };

	s->msgid = -1;
	s->down = why;
	evtimer_del(s->timer);
	evtimer_add(s->timer, &tv);
}

/*
 * Answer every search on list DOWN.  One at a time from the head: a
 * done() may cancel another search on the same list.
 */
static void
dir_fail_list(struct dir_conn *dc, struct dir_searches *list,
    const char *why)
{
	struct dir_search	*s;

	while ((s = TAILQ_FIRST(list)) != NULL) {
		s->msgid = -1;
		dir_finish(s, DIR_DOWN, LDAP_SERVER_DOWN, why);
	}
}
