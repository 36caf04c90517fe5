/*
 * Process-wide state, owned by the main thread: the config file, the
 * current config, the workers and their listening sockets.  Reload builds
 * and validates a whole new config first; only when every part of it
 * (access log, new listening sockets) is in hand is it handed to the
 * workers.  On any failure the old config stays, untouched.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "proxy.h"

static struct {
	char		*file;		/* NULL: the built-in config */
	struct config	*conf;
	struct worker	*workers;
	int		 nworkers;
	struct event	*ev_wait;
	struct timeval	 stop_deadline;
	int		 killed;
	time_t		 started;	/* the process */
	time_t		 loaded;	/* the running config */
} srv;

#define BUILTIN_NAME	"iaproxy.conf (built in)"

int
server_listen_socket(const struct conf_listen *l)
{
	int fd, one = 1, saved;

	fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	/* One socket per worker on the same address: the kernel balances. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		goto fail;
	if (l->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1 ||
	    listen(fd, 4096) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * SO_REUSEPORT would let a second iaproxy (or anything else of ours) share
 * an address and silently take half its connections.  A plain bind first
 * fails with EADDRINUSE if anyone listens there already.
 */
static int
listen_probe(const struct conf_listen *l)
{
	int fd, one = 1, rv, saved;

	if ((fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	rv = bind(fd, (const struct sockaddr *)&l->ss, l->sslen);
	saved = errno;
	close(fd);
	errno = saved;
	return rv;
}

/*
 * Does conf listen on the socket named key?  Every listen address and,
 * with a TLS prefix, every portal_listen one (portal_tls_listen_nth), so
 * an address moved between the two lists gets a fresh socket.
 */
static int
has_listen(const struct config *conf, const char *key)
{
	char	k[300];
	size_t	i;

	for (i = 0; conf != NULL && i < portal_tls_listen_count(conf); i++) {
		(void)portal_tls_listen_nth(conf, i, k, sizeof(k));
		if (strcmp(k, key) == 0)
			return 1;
	}
	return 0;
}

/*
 * Open the listening sockets that conf has and old has not, one set per
 * worker.  fds[w] and texts[w] receive arrays of *n entries.  All or
 * nothing: on failure everything opened is closed and -1 returned.
 */
static int
open_new_listeners(const struct config *conf, const struct config *old,
    int nworkers, int ***fdsp, char ****textsp, size_t *n)
{
	int	 **fds;
	char	***texts;
	char	 key[300];
	size_t	 i, k = 0, nl = portal_tls_listen_count(conf);
	int	 w;

	fds = calloc(nworkers, sizeof(*fds));
	texts = calloc(nworkers, sizeof(*texts));
	if (fds == NULL || texts == NULL)
		goto fail;
	for (w = 0; w < nworkers; w++) {
		fds[w] = calloc(nl + 1, sizeof(int));
		texts[w] = calloc(nl + 1, sizeof(char *));
		if (fds[w] == NULL || texts[w] == NULL)
			goto fail;
	}
	for (i = 0; i < nl; i++) {
		const struct conf_listen *l;

		l = portal_tls_listen_nth(conf, i, key, sizeof(key));
		if (has_listen(old, key))
			continue;
		if (listen_probe(l) == -1) {
			log_warn("cannot listen on %s", l->text);
			goto fail;
		}
		for (w = 0; w < nworkers; w++) {
			if ((fds[w][k] = server_listen_socket(l)) == -1) {
				log_warn("cannot listen on %s", l->text);
				for (w--; w >= 0; w--)
					close(fds[w][k]);
				goto fail;
			}
			texts[w][k] = strdup(key);
		}
		k++;
	}
	*fdsp = fds;
	*textsp = texts;
	*n = k;
	return 0;
fail:
	for (w = 0; fds != NULL && w < nworkers; w++) {
		size_t j;

		for (j = 0; fds[w] != NULL && j < k; j++) {
			close(fds[w][j]);
			free(texts[w][j]);
		}
		free(fds[w]);
		if (texts != NULL)
			free(texts[w]);
	}
	free(fds);
	free(texts);
	return -1;
}

int
server_start(const char *file, struct config *conf)
{
	int	**fds;
	char	***texts;
	size_t	 n, i;
	int	 w;

	srv.file = file ? strdup(file) : NULL;
	srv.conf = conf;
	srv.started = srv.loaded = time(NULL);
	srv.nworkers = conf->workers;
	if (accesslog_open(conf->access_log) == -1)
		return -1;
	/*
	 * The directory thread first (for the group lookups, the ldap NTLM
	 * backend, or both): workers may ask it at once.
	 */
	if (auth_groups_start(conf) == -1 || ntlm_ldap_start(conf) == -1)
		return -1;
	if (open_new_listeners(conf, NULL, srv.nworkers, &fds, &texts,
	    &n) == -1)
		return -1;
	if ((srv.workers = calloc(srv.nworkers, sizeof(*srv.workers))) == NULL)
		return -1;
	for (w = 0; w < srv.nworkers; w++) {
		if (worker_start(&srv.workers[w], w, conf, fds[w], texts[w],
		    n) == -1) {
			log_warnx("cannot start worker %d", w);
			return -1;
		}
		for (i = 0; i < n; i++)
			free(texts[w][i]);
		free(texts[w]);
		free(fds[w]);
	}
	free(fds);
	free(texts);
	for (i = 0; i < conf->nlisten; i++)
		log_info("listening on %s", conf->listen[i].text);
	for (i = 0; i < conf->saml.nportal_listen; i++)
		log_info("listening on %s (the sign-in portal, TLS)",
		    conf->saml.portal_listen[i].text);
	log_info("%s %s started: %d worker%s, config %s", IAPROXY_NAME,
	    PACKAGE_VERSION, srv.nworkers, srv.nworkers == 1 ? "" : "s",
	    srv.file ? srv.file : BUILTIN_NAME);
	return 0;
}

/* Log a multi-line error text one line at a time. */
static void
log_lines(const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		log_warnx("%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

int
server_reload(void)
{
	return server_reload_err(NULL, 0);
}

void
server_info(struct server_info *si)
{
	si->file = srv.file ? srv.file : BUILTIN_NAME;
	si->started = srv.started;
	si->loaded = srv.loaded;
	si->nworkers = srv.nworkers;
	si->workers = srv.workers;
}

int
server_reload_err(char *why, size_t whylen)
{
	struct config	*nc;
	char		 err[4096];
	int		**fds;
	char		***texts;
	size_t		 n;
	int		 w;

	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "reload failed, see the error log");
	nc = conf_load(srv.file ? srv.file : BUILTIN_NAME,
	    srv.file ? NULL : conf_default_text, err, sizeof(err));
	if (nc == NULL) {
		log_warnx("reload failed, keeping the running config:");
		log_lines(err);
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "%s", err);
		return -1;
	}
	if (nc->workers != srv.nworkers)
		log_warnx("reload: workers changed from %d to %d; that takes "
		    "a restart", srv.nworkers, nc->workers);
	if (strcmp(nc->access_log, srv.conf->access_log) != 0 &&
	    accesslog_open(nc->access_log) == -1) {
		log_warnx("reload failed, keeping the running config");
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "cannot open the access log %s",
			    nc->access_log);
		conf_unref(nc);
		return -1;
	}
	if (open_new_listeners(nc, srv.conf, srv.nworkers, &fds, &texts,
	    &n) == -1) {
		log_warnx("reload failed, keeping the running config");
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "cannot listen on a new address "
			    "(see the error log)");
		if (strcmp(nc->access_log, srv.conf->access_log) != 0)
			accesslog_open(srv.conf->access_log);
		conf_unref(nc);
		return -1;
	}
	/*
	 * Last, since it cannot be undone (it may empty the cache), and
	 * before the workers get nc: they may ask for groups (or NT hashes)
	 * at once.  ntlm_ldap_start() fails only when it has to start the
	 * directory thread, which auth_groups_start() did not start then:
	 * nothing of nc is in use yet.
	 */
	if (auth_groups_start(nc) == -1 || ntlm_ldap_start(nc) == -1) {
		log_warnx("reload failed (the directory thread cannot start), "
		    "keeping the running config");
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "the directory thread cannot "
			    "start");
		for (w = 0; w < srv.nworkers; w++) {
			size_t i;

			for (i = 0; i < n; i++) {
				close(fds[w][i]);
				free(texts[w][i]);
			}
			free(fds[w]);
			free(texts[w]);
		}
		free(fds);
		free(texts);
		if (strcmp(nc->access_log, srv.conf->access_log) != 0)
			accesslog_open(srv.conf->access_log);
		conf_unref(nc);
		return -1;
	}
	for (w = 0; w < srv.nworkers; w++)
		worker_reconfigure(&srv.workers[w], conf_ref(nc), fds[w],
		    texts[w], n);
	free(fds);
	free(texts);
	conf_unref(srv.conf);
	srv.conf = nc;
	srv.loaded = time(NULL);
	admin_reconf(nc);
	admin_http_reconf(nc);
	log_info("reloaded %s", srv.file ? srv.file : BUILTIN_NAME);
	return 0;
}

void
server_reopen_logs(void)
{
	if (accesslog_open(srv.conf->access_log) == 0)
		log_info("reopened the access log");
}

/* Poll until every worker has drained; past the deadline, stop them. */
static void
server_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base	*base = arg;
	struct timeval		 now, tick = { 0, 50000 };
	int			 w, running = 0;

	for (w = 0; w < srv.nworkers; w++)
		if (!__atomic_load_n(&srv.workers[w].exited, __ATOMIC_ACQUIRE))
			running++;
	if (running == 0) {
		event_base_loopexit(base, NULL);
		return;
	}
	gettimeofday(&now, NULL);
	if (!srv.killed && timercmp(&now, &srv.stop_deadline, >)) {
		log_warnx("shutdown_timeout reached: closing what is left");
		srv.killed = 1;
		for (w = 0; w < srv.nworkers; w++)
			worker_kill(&srv.workers[w]);
	}
	evtimer_add(srv.ev_wait, &tick);
}

void
server_shutdown(struct event_base *base)
{
	struct timeval	 now, tmo, tick = { 0, 50000 };
	int		 w;

	if (srv.ev_wait != NULL)
		return;	/* a second SIGTERM changes nothing */
	log_info("stopping: no new connections, draining for up to %d s",
	    srv.conf->shutdown_timeout / 1000);
	gettimeofday(&now, NULL);
	tmo.tv_sec = srv.conf->shutdown_timeout / 1000;
	tmo.tv_usec = (srv.conf->shutdown_timeout % 1000) * 1000;
	timeradd(&now, &tmo, &srv.stop_deadline);
	for (w = 0; w < srv.nworkers; w++)
		worker_stop(&srv.workers[w]);
	srv.ev_wait = evtimer_new(base, server_wait_cb, base);
	evtimer_add(srv.ev_wait, &tick);
}

void
server_join(void)
{
	int w;

	for (w = 0; w < srv.nworkers; w++)
		worker_join(&srv.workers[w]);
	/* No worker asks any more: the directory thread may go. */
	ntlm_ldap_stop();
	auth_groups_stop();
	accesslog_close();
}
