/*
 * The admin socket: a UNIX stream socket (admin_socket = "/path"), mode
 * 0600, served by the main thread's event loop.  It is never reachable
 * through a proxy port: it is not a TCP listener at all, and only its
 * owner (or root) may connect to it.
 *
 * The protocol is one command per line (LF, CR LF accepted), answered
 * with zero or more lines and a last line that starts with "ok" or
 * "error" (iaproxy(8)):
 *
 *	status		NAME VALUE...	version, uptime, workers,
 *					connections, config, loaded; "ok"
 *	reload		ok reloaded	what SIGHUP does, at once; on failure
 *					the config errors (FILE:LINE: ...),
 *					then "error reload failed ..."
 *	sessions [USER]	USER\tMECH\tCLIENT\tSINCE\tIN\tOUT\tID...
 *					the signed-in connections, then the
 *					IP sessions (MECH saml, IN and OUT 0,
 *					ID ip.<sid prefix>); "ok N"
 *	signout USER	ok N		close USER's signed-in connections
 *					and tunnels, end USER's IP sessions
 *					(N of them all), refuse USER's older
 *					portal cookies, and forget USER's
 *					cached groups
 *	purge USER	ok N		forget USER's cached groups now
 *	stats		NAME VALUE...	the counters, then "ok"
 *	metrics		TEXT...		the counters as Prometheus text
 *					(metrics.c), then "ok"
 *	disable USER [--directory]	NAME VALUE... ok SUMMARY
 *					refuse USER at the gateway (and in
 *					the directory first), sign USER out
 *	enable USER [--directory]	NAME VALUE... ok SUMMARY
 *					undo disable
 *	reset-password USER		NAME VALUE... ok SUMMARY
 *					the directory forces a new password
 *					at the next logon; sign USER out
 *					(account.c)
 *	help		...		the commands, then "ok"
 *	quit		ok bye		and the server closes
 *
 * The connections belong to the workers: sessions and signout ask each
 * one through its mailbox (worker_query) and wait, a bounded time, for
 * its answer; the main thread has nothing else to do meanwhile.  Every
 * command that changes something is logged with the caller's uid.
 *
 * Reload keeps the socket (and its clients) unless admin_socket names
 * another path; then the new one is made first and the old one closed.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"

#define ADMIN_CLIENTS_MAX	16	/* connections at once */
#define ADMIN_LINE_MAX		1024	/* bytes of one command */
#define ADMIN_IDLE_SEC		300	/* an idle client is closed */
#define ADMIN_OUT_MAX		(1024 * 1024)	/* unread answers, at most */
#define ADMIN_WORKER_MS		2000	/* a worker's answer, at most */
#define ADMIN_LIST_MAX		(ADMIN_OUT_MAX / 2)	/* sessions lines */

/* One connection to the admin socket. */
struct admin_client {
	TAILQ_ENTRY(admin_client) link;
	struct bufferevent	*bev;
	int			 quitting;	/* "quit" answered */
	uid_t			 uid;		/* the peer (SO_PEERCRED) */
	char			 who[32];	/* for the log: "uid N", or
						   "tcp" (admin_http.c) */
};

static struct {
	struct event_base	*base;
	struct evconnlistener	*lev;
	char			*path;		/* bound, ours to unlink */
	TAILQ_HEAD(, admin_client) clients;
	int			 nclients;
} adm = { .clients = TAILQ_HEAD_INITIALIZER(adm.clients) };

/*
 * Make the socket at path: an existing socket nobody answers on is
 * replaced (a crash left it), anything else is an error.  Bound under a
 * temporary name, chmod 0600 and renamed into place, so that it is never
 * reachable with looser permissions.  The fd, or -1 with a message.
 */
static int
admin_socket_open(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un	 sun, tmp;
	struct stat		 st;
	int			 fd, probe, use_tmp;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "path too long");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen, "exists and is not a socket");
			return -1;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) !=
		    -1) {
			if (connect(probe, (struct sockaddr *)&sun,
			    sizeof(sun)) == 0) {
				close(probe);
				snprintf(why, whylen, "in use (another iaproxy "
				    "answers on it)");
				return -1;
			}
			close(probe);
		}
		(void)unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.sun_family = AF_UNIX;
	use_tmp = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%ld.tmp",
	    path, (long)getpid()) < (int)sizeof(tmp.sun_path);
	if (!use_tmp)
		tmp = sun;
	(void)unlink(tmp.sun_path);
	if (bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) == -1) {
		snprintf(why, whylen, "bind: %s", strerror(errno));
		goto fail;
	}
	if (chmod(tmp.sun_path, 0600) == -1) {
		snprintf(why, whylen, "chmod: %s", strerror(errno));
		(void)unlink(tmp.sun_path);
		goto fail;
	}
	if (use_tmp && rename(tmp.sun_path, path) == -1) {
		snprintf(why, whylen, "rename: %s", strerror(errno));
		(void)unlink(tmp.sun_path);
		goto fail;
	}
	if (listen(fd, 16) == -1) {
		snprintf(why, whylen, "listen: %s", strerror(errno));
		(void)unlink(path);
		goto fail;
	}
	return fd;
 fail:
	close(fd);
	return -1;
}

static void
admin_client_close(struct admin_client *ac)
{
	TAILQ_REMOVE(&adm.clients, ac, link);
	bufferevent_free(ac->bev);
	free(ac);
	adm.nclients--;
}

/* arg as printable text (a backslash too, else '?') into buf. */
static const char *
admin_printable(const char *arg, char *buf, size_t len)
{
	size_t i;

	for (i = 0; arg[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)arg[i] < 0x20 ||
		    (unsigned char)arg[i] >= 0x7f ? '?' : arg[i];
	buf[i] = '\0';
	return buf;
}

/* A user name argument: 0, or -1 with the error answered. */
static int
admin_user_arg(const char *cmd, const char *arg, struct evbuffer *out)
{
	if (arg == NULL || *arg == '\0') {
		evbuffer_add_printf(out, "error usage: %s USER\n", cmd);
		return -1;
	}
	/* worker_query carries at most 255 bytes of a name. */
	if (strlen(arg) > 255 || strpbrk(arg, " \t") != NULL) {
		evbuffer_add_printf(out, "error %s: not a user name\n", cmd);
		return -1;
	}
	return 0;
}

static void
admin_status(struct evbuffer *out)
{
	struct server_info	 si;
	char			*text;
	size_t			 n, total = 0;
	int			 w, missing = 0;

	server_info(&si);
	for (w = 0; w < si.nworkers; w++) {
		if (worker_query(&si.workers[w], WQ_COUNT, NULL,
		    ADMIN_WORKER_MS, &text, &n) == -1) {
			missing++;
			continue;
		}
		free(text);
		total += n;
	}
	evbuffer_add_printf(out, "version %s\nuptime %lld\nworkers %d\n"
	    "connections %zu\nconfig %s\nloaded %lld\n", PACKAGE_VERSION,
	    (long long)(time(NULL) - si.started), si.nworkers, total, si.file,
	    (long long)si.loaded);
	if (missing > 0)
		evbuffer_add_printf(out, "workers_not_answering %d\n", missing);
	evbuffer_add_printf(out, "ok\n");
}

static void
admin_reload(struct admin_client *ac, struct evbuffer *out)
{
	char		 err[4096];
	const char	*p, *nl;
	size_t		 len;

	if (server_reload_err(err, sizeof(err)) == 0) {
		log_info("admin: reload by %s: the new config runs", ac->who);
		evbuffer_add_printf(out, "ok reloaded\n");
		return;
	}
	log_info("admin: reload by %s failed: the running config is kept",
	    ac->who);
	/* The errors one per line; none may pass for the last line. */
	for (p = err; *p != '\0'; p = nl != NULL ? nl + 1 : p + len) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len == 0)
			continue;
		evbuffer_add_printf(out, "%s%.*s\n", strncmp(p, "ok", 2) == 0 ||
		    strncmp(p, "error", 5) == 0 ? "- " : "", (int)len, p);
	}
	evbuffer_add_printf(out, "error reload failed, the running config is "
	    "kept\n");
}

/* One IP session (auth/session.h) as a "sessions" line, while bounded. */
static void
admin_ip_session(void *arg, const struct session_info *si)
{
	struct evbuffer	*out = arg;
	char		 user[256];

	if (evbuffer_get_length(out) > ADMIN_LIST_MAX)
		return;
	/* No byte in or out is counted for an address; the id is short. */
	evbuffer_add_printf(out, "%s\tsaml\t%s\t%lld\t0\t0\tip.%.12s\n",
	    admin_printable(si->user, user, sizeof(user)), si->addr,
	    (long long)si->since, si->sid);
}

/* The last line of sessions and signout: "ok N", or the workers missed. */
static void
admin_answer_count(struct evbuffer *out, int missing, size_t n)
{
	if (missing > 0)
		evbuffer_add_printf(out, "error %d worker%s did not answer\n",
		    missing, missing == 1 ? "" : "s");
	else
		evbuffer_add_printf(out, "ok %zu\n", n);
}

/* sessions [USER]: ask every worker, then the IP sessions. */
static void
admin_sessions(const char *user, struct evbuffer *out)
{
	struct server_info	 si;
	char			*text;
	size_t			 n, total = 0;
	int			 w, missing = 0;

	server_info(&si);
	for (w = 0; w < si.nworkers; w++) {
		if (worker_query(&si.workers[w], WQ_SESSIONS, user,
		    ADMIN_WORKER_MS, &text, &n) == -1) {
			missing++;
			continue;
		}
		/* Bounded: past ADMIN_LIST_MAX the lines are only counted. */
		if (evbuffer_get_length(out) + strlen(text) <= ADMIN_LIST_MAX)
			evbuffer_add(out, text, strlen(text));
		free(text);
		total += n;
	}
	total += session_list(user, time(NULL), admin_ip_session, out);
	admin_answer_count(out, missing, total);
}

/* signout USER: account.c does it; we log who asked. */
static void
admin_signout(struct admin_client *ac, const char *user, struct evbuffer *out)
{
	char	 shown[256];
	size_t	 closed, ipn, purged;
	int	 missing;

	missing = account_signout(user, &closed, &ipn, &purged);
	log_info("admin: signout %s by %s: %zu connection%s closed, "
	    "%zu IP session%s ended, %zu cached group entr%s dropped%s",
	    admin_printable(user, shown, sizeof(shown)), ac->who,
	    closed, closed == 1 ? "" : "s", ipn, ipn == 1 ? "" : "s",
	    purged, purged == 1 ? "y" : "ies", missing > 0 ?
	    " (a worker did not answer)" : "");
	admin_answer_count(out, missing, closed + ipn);
}

/* Answer one command line into out; 1 when the client should go. */
static int
admin_command(struct admin_client *ac, char *line, struct evbuffer *out)
{
	char	 buf[4096], user[256];
	char	*arg;
	size_t	 n;

	if ((arg = strchr(line, ' ')) != NULL) {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
	}
	if (strcmp(line, "purge") == 0) {
		if (arg == NULL || *arg == '\0') {
			evbuffer_add_printf(out, "error usage: purge USER "
			    "(or * for everyone)\n");
			return 0;
		}
		n = auth_groups_purge(arg);
		log_info("admin: purge %s by %s: %zu cached group entr%s "
		    "dropped", admin_printable(arg, user, sizeof(user)),
		    ac->who, n, n == 1 ? "y" : "ies");
		evbuffer_add_printf(out, "ok %zu\n", n);
	} else if (strcmp(line, "status") == 0) {
		admin_status(out);
	} else if (strcmp(line, "reload") == 0) {
		admin_reload(ac, out);
	} else if (strcmp(line, "sessions") == 0) {
		if (arg != NULL && *arg != '\0' &&
		    admin_user_arg("sessions", arg, out) == -1)
			return 0;
		admin_sessions(arg != NULL && *arg != '\0' ? arg : NULL, out);
	} else if (strcmp(line, "signout") == 0) {
		if (admin_user_arg("signout", arg, out) == -1)
			return 0;
		if (strcmp(arg, "*") == 0) {
			evbuffer_add_printf(out, "error signout: one user at a "
			    "time\n");
			return 0;
		}
		admin_signout(ac, arg, out);
	} else if (strcmp(line, "stats") == 0) {
		n = auth_groups_stats(buf, sizeof(buf));
		evbuffer_add(out, buf, n);
		evbuffer_add_printf(out, "ok\n");
	} else if (account_command(line, arg, ac->who, out)) {
		/* disable, enable, reset-password: answered (account.c) */
	} else if (strcmp(line, "metrics") == 0) {
		/* Prometheus text: no line of it starts "ok" or "error". */
		metrics_text(out);
		evbuffer_add_printf(out, "ok\n");
	} else if (strcmp(line, "help") == 0) {
		evbuffer_add_printf(out, "status\tversion, uptime, workers, "
		    "connections, config\nreload\treload the config now\n"
		    "sessions [USER]\tthe signed-in connections\n"
		    "signout USER\tclose USER's connections and tunnels, forget "
		    "the groups\npurge USER\tforget USER's cached groups (* for "
		    "everyone)\nstats\tthe counters\nmetrics\tthe counters as "
		    "Prometheus text\ndisable USER [--directory]\trefuse USER "
		    "at the gateway (and in the directory)\nenable USER "
		    "[--directory]\tundo disable\nreset-password USER\tforce a "
		    "new password at the next logon, sign USER out\n"
		    "quit\tclose this connection\nok\n");
	} else if (strcmp(line, "quit") == 0) {
		evbuffer_add_printf(out, "ok bye\n");
		return 1;
	} else if (*line != '\0')
		evbuffer_add_printf(out, "error unknown command (help, status, "
		    "reload, sessions, signout USER, purge USER, stats, "
		    "metrics, disable USER, enable USER, reset-password USER, "
		    "quit)\n");
	return 0;
}

int
admin_exec(const char *who, const char *line, size_t len,
    struct evbuffer *out)
{
	struct admin_client	 ac;
	char			 buf[ADMIN_LINE_MAX + 1];

	/* The same checks as a line read from the socket. */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > ADMIN_LINE_MAX || memchr(line, '\0', len) != NULL ||
	    memchr(line, '\n', len) != NULL ||
	    memchr(line, '\r', len) != NULL) {
		evbuffer_add_printf(out, "error bad command line\n");
		return -1;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	memset(&ac, 0, sizeof(ac));
	ac.uid = (uid_t)-1;
	snprintf(ac.who, sizeof(ac.who), "%s", who);
	(void)admin_command(&ac, buf, out);
	return 0;
}

static void
admin_writecb(struct bufferevent *bev, void *arg)
{
	struct admin_client *ac = arg;

	/* "quit" was answered: close once the answer is out. */
	if (ac->quitting && evbuffer_get_length(bufferevent_get_output(bev)) ==
	    0)
		admin_client_close(ac);
}

static void
admin_readcb(struct bufferevent *bev, void *arg)
{
	struct admin_client	*ac = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer		*out = bufferevent_get_output(bev);
	char			*line;
	size_t			 len;

	/*
	 * Bounded before reading a line: evbuffer_readln has no cap.  No
	 * new command while the answers pile up unread.
	 */
	while (!ac->quitting && evbuffer_get_length(out) <= ADMIN_OUT_MAX &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (len > ADMIN_LINE_MAX || strlen(line) != len)
			evbuffer_add_printf(out, "error bad command line\n");
		else if (admin_command(ac, line, out)) {
			ac->quitting = 1;
			bufferevent_disable(bev, EV_READ);
		}
		free(line);
	}
	/* A line that never ends, or answers nobody reads: goodbye. */
	if (!ac->quitting && (evbuffer_get_length(in) > ADMIN_LINE_MAX ||
	    evbuffer_get_length(out) > ADMIN_OUT_MAX))
		admin_client_close(ac);
}

static void
admin_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	admin_client_close(arg);
}

static void
admin_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct admin_client	*ac;
	struct ucred		 cred;
	socklen_t		 clen = sizeof(cred);
	struct timeval		 idle = { ADMIN_IDLE_SEC, 0 };

	(void)lev;
	(void)sa;
	(void)salen;
	(void)arg;
	/* Mode 0600 says who; the peer's credentials say it again. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1 ||
	    (cred.uid != 0 && cred.uid != geteuid()) ||
	    adm.nclients >= ADMIN_CLIENTS_MAX) {
		close(fd);
		return;
	}
	if ((ac = calloc(1, sizeof(*ac))) == NULL ||
	    (ac->bev = bufferevent_socket_new(adm.base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(ac);
		close(fd);
		return;
	}
	ac->uid = cred.uid;
	snprintf(ac->who, sizeof(ac->who), "uid %u", (unsigned)cred.uid);
	TAILQ_INSERT_TAIL(&adm.clients, ac, link);
	adm.nclients++;
	bufferevent_setcb(ac->bev, admin_readcb, admin_writecb, admin_eventcb,
	    ac);
	bufferevent_set_timeouts(ac->bev, &idle, &idle);
	bufferevent_enable(ac->bev, EV_READ);
}

/* Listen on path (NULL: none) instead of what is open now. */
static int
admin_listen(const char *path)
{
	struct evconnlistener	*lev = NULL;
	char			 why[256];
	char			*copy = NULL;
	int			 fd;

	if (path != NULL) {
		if ((copy = strdup(path)) == NULL)
			return -1;
		if ((fd = admin_socket_open(path, why, sizeof(why))) == -1) {
			log_warnx("admin socket %s: %s", path, why);
			free(copy);
			return -1;
		}
		if ((lev = evconnlistener_new(adm.base, admin_accept, NULL,
		    LEV_OPT_CLOSE_ON_FREE, -1, fd)) == NULL) {
			log_warnx("admin socket %s: out of memory", path);
			close(fd);
			(void)unlink(path);
			free(copy);
			return -1;
		}
		log_info("admin socket on %s", path);
	}
	if (adm.lev != NULL) {
		evconnlistener_free(adm.lev);
		/* Only ours: a new path may not remove another's file. */
		if (copy == NULL || strcmp(copy, adm.path) != 0)
			(void)unlink(adm.path);
	}
	free(adm.path);
	adm.lev = lev;
	adm.path = copy;
	return 0;
}

int
admin_start(struct event_base *base, const struct config *conf)
{
	adm.base = base;
	account_start(conf);
	return admin_listen(conf->admin_socket);
}

void
admin_reconf(const struct config *conf)
{
	const char	*p = conf->admin_socket;

	if (adm.base == NULL)
		return;
	account_reconf(conf);
	if ((p == NULL && adm.path == NULL) ||
	    (p != NULL && adm.path != NULL && strcmp(p, adm.path) == 0))
		return;
	if (admin_listen(p) == -1)
		log_warnx("reload: the admin socket stays %s",
		    adm.path != NULL ? adm.path : "closed");
}

void
admin_stop(void)
{
	if (adm.lev != NULL)
		admin_listen(NULL);
	while (!TAILQ_EMPTY(&adm.clients))
		admin_client_close(TAILQ_FIRST(&adm.clients));
	account_stop();
}
