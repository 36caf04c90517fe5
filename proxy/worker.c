/*
 * Workers: one thread each, with its own event_base, resolver, upstream
 * pool and SO_REUSEPORT listening sockets, so the kernel spreads new
 * connections over the workers and a connection never changes thread.
 * The main thread talks to a worker only through its mailbox: a few flags
 * under the worker's mutex and an eventfd that wakes its loop.  Everything
 * else a worker owns is touched by its own thread alone, so libevent runs
 * without locks.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>

#include <event2/thread.h>

#include "proxy.h"

static void
worker_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct worker_listener *wl = arg;

	conn_accept(wl->worker, fd, sa, socklen, wl->port,
	    wl->tls ? CONN_TLS_ACCEPT : CONN_TLS_NONE);
}

static void
worker_accept_error(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: log and keep the listener; it retries. */
	log_warnx("accept: %s", evutil_socket_error_to_string(err));
}

static int
listener_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Wrap a listening socket handed over by the main thread; owns fd. */
static int
worker_add_listener(struct worker *w, int fd, const char *text)
{
	struct worker_listener *wl;

	if ((wl = calloc(1, sizeof(*wl))) == NULL ||
	    (wl->text = strdup(text)) == NULL) {
		free(wl);
		close(fd);
		return -1;
	}
	wl->port = listener_port(fd);
	wl->tls = strncmp(text, PORTAL_TLS_LISTEN_PREFIX,
	    strlen(PORTAL_TLS_LISTEN_PREFIX)) == 0;
	wl->worker = w;
	wl->lev = evconnlistener_new(w->base, worker_accept, wl,
	    LEV_OPT_CLOSE_ON_FREE, 0, fd);	/* 0: it already listens */
	if (wl->lev == NULL) {
		log_warnx("worker %d: cannot listen on %s", w->id, text);
		close(fd);
		free(wl->text);
		free(wl);
		return -1;
	}
	evconnlistener_set_error_cb(wl->lev, worker_accept_error);
	wl->next = w->listeners;
	w->listeners = wl;
	return 0;
}

static void
worker_listener_free(struct worker_listener *wl)
{
	evconnlistener_free(wl->lev);
	free(wl->text);
	free(wl);
}

/* Is text (a listener's name) one of conf's, portal_listen included? */
static int
conf_has_listen(const struct config *conf, const char *text)
{
	char	key[300];
	size_t	i;

	for (i = 0; i < portal_tls_listen_count(conf); i++) {
		(void)portal_tls_listen_nth(conf, i, key, sizeof(key));
		if (strcmp(key, text) == 0)
			return 1;
	}
	return 0;
}

/* The main thread handed over a new config (and maybe new sockets). */
static void
worker_reconf_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct config	*nc;
	int		*fds;
	char		**texts;
	size_t		 n, i;

	pthread_mutex_lock(&w->lock);
	nc = w->next_conf;
	w->next_conf = NULL;
	fds = w->pending_fds;
	texts = w->pending_texts;
	n = w->npending;
	w->pending_fds = NULL;
	w->pending_texts = NULL;
	w->npending = 0;
	pthread_mutex_unlock(&w->lock);

	if (nc != NULL) {
		struct worker_listener **pp, *wl;

		conf_unref(w->conf);
		w->conf = nc;
		auth_worker_reconf(w->auth, nc);
		/* Addresses gone from the config stop accepting now. */
		for (pp = &w->listeners; (wl = *pp) != NULL;) {
			if (!conf_has_listen(nc, wl->text)) {
				*pp = wl->next;
				log_info("worker %d: no longer listening on %s",
				    w->id, wl->text);
				worker_listener_free(wl);
			} else
				pp = &wl->next;
		}
	}
	for (i = 0; i < n; i++) {
		worker_add_listener(w, fds[i], texts[i]);
		free(texts[i]);
	}
	free(fds);
	free(texts);
}

static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct conn		*c, *next;
	struct worker_listener	*wl;

	w->stopping = 1;

	while ((wl = w->listeners) != NULL) {
		w->listeners = wl->next;
		worker_listener_free(wl);
	}
	upstream_pool_drop_all(w->pool);
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_drain(c);
	}
	worker_conn_gone(w);
}

static void
worker_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	accesslog_flush(w);
	event_base_loopbreak(w->base);
}

/* One "sessions" line for signed-in connection c into out. */
static void
worker_session_line(struct worker *w, struct conn *c, struct evbuffer *out)
{
	char		 user[256], addr[INET6_ADDRSTRLEN];
	uint64_t	 in, bout;
	const void	*a;
	size_t		 i;

	/* Printable as signed in (a backslash too), else '?'; no tab. */
	for (i = 0; c->user[i] != '\0' && i + 1 < sizeof(user); i++)
		user[i] = (unsigned char)c->user[i] <= 0x20 ||
		    (unsigned char)c->user[i] >= 0x7f ? '?' : c->user[i];
	user[i] = '\0';
	a = c->ss.sa.sa_family == AF_INET6 ? (const void *)&c->ss.sin6.sin6_addr :
	    (const void *)&c->ss.sin.sin_addr;
	if (inet_ntop(c->ss.sa.sa_family, a, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "-");
	conn_bytes(c, &in, &bout);
	evbuffer_add_printf(out, "%s\t%s\t%s\t%lld\t%llu\t%llu\t%d.%llu\n",
	    user, c->auth_mech != NULL ? c->auth_mech : "-", addr,
	    (long long)c->since, (unsigned long long)in,
	    (unsigned long long)bout, w->id, (unsigned long long)c->id);
}

/*
 * The main thread asks (worker_query): answer on this thread, which owns
 * the connections, and hand the answer back under the lock.
 */
static void
worker_query_cb(struct worker *w)
{
	struct evbuffer	*out;
	struct conn	*c, *next;
	char		 user[sizeof(w->q_user)];
	char		*text = NULL;
	uint64_t	 seq;
	size_t		 count = 0, len;
	int		 kind;

	pthread_mutex_lock(&w->lock);
	kind = w->q_kind;
	seq = w->q_seq;
	memcpy(user, w->q_user, sizeof(user));
	pthread_mutex_unlock(&w->lock);

	if ((out = evbuffer_new()) == NULL)
		return;	/* the main thread times out */
	switch (kind) {
	case WQ_COUNT:
		count = w->nconns;
		break;
	case WQ_SESSIONS:
		TAILQ_FOREACH(c, &w->conns, entry) {
			if (c->user == NULL || c->closing ||
			    (*user != '\0' && !auth_user_match(c->user, user)))
				continue;
			if (count++ < WQ_SESSIONS_MAX)
				worker_session_line(w, c, out);
		}
		break;
	case WQ_SIGNOUT:
		/* conn_close() takes c off the list: next is read first. */
		for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (c->user == NULL || c->closing ||
			    !auth_user_match(c->user, user))
				continue;
			conn_log(c, LOG_LVL_INFO, "%s signed out by the "
			    "administrator", c->user);
			conn_close(c, "signed out by the administrator");
			count++;
		}
		break;
	}
	len = evbuffer_get_length(out);
	if ((text = malloc(len + 1)) != NULL) {
		evbuffer_remove(out, text, len);
		text[len] = '\0';
	}
	evbuffer_free(out);
	if (text == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->q_seq == seq) {
		free(w->q_out);
		w->q_out = text;
		w->q_count = count;
		w->q_answered = seq;
		text = NULL;
		pthread_cond_signal(&w->qcond);
	}
	pthread_mutex_unlock(&w->lock);
	free(text);	/* the question was given up on */
}

/* The eventfd rang: read the mail and act on it, in order. */
static void
worker_mail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 n;
	int		 mail;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("worker %d: mailbox", w->id);
	pthread_mutex_lock(&w->lock);
	mail = w->mail;
	w->mail = 0;
	pthread_mutex_unlock(&w->lock);
	if (mail & MAIL_RECONF)
		worker_reconf_cb(-1, 0, w);
	if (mail & MAIL_STOP)
		worker_stop_cb(-1, 0, w);
	if (mail & MAIL_QUERY)
		worker_query_cb(w);
	if (mail & MAIL_KILL)
		worker_kill_cb(-1, 0, w);
}

static void
worker_logflush_cb(evutil_socket_t fd, short what, void *arg)
{
	accesslog_flush(arg);
}

void
worker_conn_gone(struct worker *w)
{
	if (w->stopping && w->nconns == 0) {
		accesslog_flush(w);
		event_base_loopexit(w->base, NULL);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	accesslog_flush(w);
	__atomic_store_n(&w->exited, 1, __ATOMIC_RELEASE);
	return NULL;
}

int
worker_start(struct worker *w, int id, struct config *conf, int *fds,
    char **texts, size_t nfds)
{
	struct event_config	*ec;
	size_t			 i;

	w->id = id;
	w->conf = conf_ref(conf);
	TAILQ_INIT(&w->conns);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->qcond, NULL);
	if ((ec = event_config_new()) == NULL)
		return -1;
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (w->base == NULL)
		return -1;
	/* Priority 0 for I/O, 1 for the access-log flush: it runs last. */
	event_base_priority_init(w->base, 2);
	w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL)
		w->dns = evdns_base_new(w->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL)
		return -1;
	evdns_base_set_option(w->dns, "timeout:", "5");
	evdns_base_set_option(w->dns, "attempts:", "2");
	evdns_base_load_hosts(w->dns, NULL);
	if ((w->auth = auth_worker_new(w->base, conf)) == NULL ||
	    (w->sink = evbuffer_new()) == NULL ||
	    (w->dns_cache = dns_cache_new()) == NULL ||
	    (w->pool = upstream_pool_new(w)) == NULL)
		return -1;
	if ((w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	w->ev_mail = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST,
	    worker_mail_cb, w);
	w->ev_logflush = event_new(w->base, -1, 0, worker_logflush_cb, w);
	if (w->ev_mail == NULL || w->ev_logflush == NULL ||
	    event_add(w->ev_mail, NULL) == -1)
		return -1;
	event_priority_set(w->ev_logflush, 1);
	for (i = 0; i < nfds; i++)
		if (worker_add_listener(w, fds[i], texts[i]) == -1)
			return -1;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	return 0;
}

/* Main thread: post mail (MAIL_* bits) and wake the worker. */
static void
worker_post(struct worker *w, int mail)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	w->mail |= mail;
	pthread_mutex_unlock(&w->lock);
	if (write(w->notify_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("worker %d: wake-up", w->id);
}

void
worker_reconfigure(struct worker *w, struct config *conf, int *fds,
    char **texts, size_t nfds)
{
	pthread_mutex_lock(&w->lock);
	if (w->next_conf != NULL)
		conf_unref(w->next_conf);
	w->next_conf = conf;
	w->pending_fds = fds;
	w->pending_texts = texts;
	w->npending = nfds;
	pthread_mutex_unlock(&w->lock);
	worker_post(w, MAIL_RECONF);
}

void
worker_stop(struct worker *w)
{
	worker_post(w, MAIL_STOP);
}

void
worker_kill(struct worker *w)
{
	worker_post(w, MAIL_KILL);
}

int
worker_query(struct worker *w, int kind, const char *user, int timeout_ms,
    char **out, size_t *count)
{
	struct timespec	 until;
	uint64_t	 seq;
	int		 rv = 0;

	*out = NULL;
	*count = 0;
	if (__atomic_load_n(&w->exited, __ATOMIC_ACQUIRE))
		return -1;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	w->q_kind = kind;
	snprintf(w->q_user, sizeof(w->q_user), "%s", user != NULL ? user : "");
	seq = ++w->q_seq;
	pthread_mutex_unlock(&w->lock);
	worker_post(w, MAIL_QUERY);
	pthread_mutex_lock(&w->lock);
	while (w->q_answered != seq && rv == 0)
		if (pthread_cond_timedwait(&w->qcond, &w->lock, &until) ==
		    ETIMEDOUT)
			rv = -1;
	if (w->q_answered == seq) {
		*out = w->q_out;
		*count = w->q_count;
		w->q_out = NULL;
		rv = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return rv;
}

void
worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}
