/*
 * idleconn: hold many client connections open to a proxy, so that
 * tests/bench/run can read the proxy's memory per connection.
 *
 * usage: idleconn HOST PORT N URL HOSTHDR [PID]
 *
 * Opens N TCP connections to HOST:PORT, prints "OPEN ok failed" and then
 * obeys one command per line
 * on stdin, answering each with one line on stdout:
 *   req    send "GET URL HTTP/1.1" (keep-alive) on every open connection,
 *          at most IC_WINDOW at a time, read each response whole and keep
 *          the connection open; answers "DONE ok bad closed".
 *   check  count the connections the peer has not closed: "ALIVE n".
 *   quit   close everything and exit.
 *
 * A connect completes when the SYN-ACK arrives, before the server has
 * accepted.  Fired too fast, connects overflow the listen backlog: the
 * kernel then answers with SYN cookies and drops the final ACK, so the
 * server learns of the connection only when the first request arrives,
 * and the "idle" memory reading would miss it.  Given the server's PID,
 * we therefore keep at most IC_UNACCEPTED connections ahead of the
 * descriptors it holds (/proc/PID/fd); without it, at most IC_CONNECTS
 * connects are in flight.
 */

#define _GNU_SOURCE		/* POLLRDHUP */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define IC_CONNECTS	256	/* connects in flight at once */
#define IC_UNACCEPTED	64	/* connected but maybe not yet accepted */
#define IC_WINDOW	64	/* requests in flight at once */
#define IC_BUFSZ	16384	/* one whole small response */
#define IC_TIMEOUT_MS	15000

enum ic_state {
	IC_CONNECTING,
	IC_IDLE,
	IC_SENT,
	IC_DEAD
};

struct ic_conn {
	int		 fd;
	enum ic_state	 state;
	char		*buf;
	size_t		 len;
};

static struct ic_conn	*ic_conns;
static int		 ic_n;
static int		 ic_ep;
static char		 ic_req[2048];
static size_t		 ic_reqlen;
static char		 ic_fddir[64];	/* /proc/PID/fd, or "" */
static int		 ic_fd0;	/* the server's descriptors at start */
static int		 ic_unpaced;	/* gave up waiting for accepts */

/* Descriptors the server holds, or -1. */
static int
ic_server_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if (ic_fddir[0] == '\0' || (d = opendir(ic_fddir)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

/*
 * Before connect number "opened": wait (up to 10 s) until the server has
 * accepted all but IC_UNACCEPTED / 2.  The count is cached, so the
 * directory is read about once per IC_UNACCEPTED / 2 connects.
 */
static void
ic_pace(int opened)
{
	static int	 accepted;
	struct timespec	 ts = { 0, 1000000 };
	int		 i, n;

	if (opened - accepted < IC_UNACCEPTED)
		return;
	for (i = 0; i < 10000; i++) {
		if ((n = ic_server_fds()) == -1) {
			accepted = opened;
			return;
		}
		accepted = n - ic_fd0;
		if (opened - accepted <= IC_UNACCEPTED / 2)
			return;
		nanosleep(&ts, NULL);
	}
	/* The server stopped accepting: stop pacing, report it. */
	ic_fddir[0] = '\0';
	ic_unpaced = 1;
}

static void
ic_kill(struct ic_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = IC_DEAD;
	free(c->buf);
	c->buf = NULL;
}

/* Open every connection; returns how many failed. */
static int
ic_open_all(const struct sockaddr_in *sin)
{
	struct epoll_event	 ev, evs[IC_CONNECTS];
	int			 next = 0, inflight = 0, failed = 0;
	int			 i, nev, err;
	socklen_t		 errlen;

	while (next < ic_n || inflight > 0) {
		while (next < ic_n && inflight < IC_CONNECTS) {
			struct ic_conn	*c = &ic_conns[next];
			int		 fd;

			ic_pace(next);

			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			c->fd = fd;
			if (fd == -1) {
				c->state = IC_DEAD;
				failed++;
				next++;
				continue;
			}
			if (connect(fd, (const struct sockaddr *)sin,
			    sizeof(*sin)) == 0) {
				c->state = IC_IDLE;
			} else if (errno == EINPROGRESS) {
				c->state = IC_CONNECTING;
				ev.events = EPOLLOUT;
				ev.data.u32 = next;
				if (epoll_ctl(ic_ep, EPOLL_CTL_ADD, fd,
				    &ev) == -1) {
					ic_kill(c);
					failed++;
				} else
					inflight++;
			} else {
				ic_kill(c);
				failed++;
			}
			next++;
		}
		if (inflight == 0)
			continue;
		nev = epoll_wait(ic_ep, evs, IC_CONNECTS, IC_TIMEOUT_MS);
		if (nev == -1 && errno == EINTR)
			continue;
		if (nev <= 0) {
			/* Timed out: whatever is still connecting failed. */
			for (i = 0; i < ic_n; i++)
				if (ic_conns[i].state == IC_CONNECTING) {
					ic_kill(&ic_conns[i]);
					failed++;
				}
			for (; next < ic_n; next++) {
				ic_conns[next].state = IC_DEAD;
				failed++;
			}
			break;
		}
		for (i = 0; i < nev; i++) {
			struct ic_conn	*c = &ic_conns[evs[i].data.u32];

			err = 0;
			errlen = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &errlen);
			epoll_ctl(ic_ep, EPOLL_CTL_DEL, c->fd, NULL);
			inflight--;
			if (err != 0) {
				ic_kill(c);
				failed++;
			} else
				c->state = IC_IDLE;
		}
	}
	return (failed);
}

/*
 * Is the response in c->buf complete?  Returns 1 with *status set when
 * it is, 0 when more bytes are needed, -1 when it cannot be framed (no
 * Content-Length: the bench origin always sends one, RFC 9112 6.3).
 */
static int
ic_response_done(struct ic_conn *c, int *status)
{
	char		*eoh, *p, *line;
	long		 clen = -1;
	size_t		 hlen;

	c->buf[c->len] = '\0';
	if ((eoh = strstr(c->buf, "\r\n\r\n")) == NULL)
		return (c->len >= IC_BUFSZ - 1 ? -1 : 0);
	hlen = (size_t)(eoh - c->buf) + 4;
	if (strncmp(c->buf, "HTTP/1.", 7) != 0 || c->len < 12)
		return (-1);
	*status = atoi(c->buf + 9);
	for (line = strstr(c->buf, "\r\n"); line != NULL && line < eoh;
	    line = strstr(line + 2, "\r\n")) {
		p = line + 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			clen = strtol(p + 15, NULL, 10);
	}
	if (clen < 0)
		return (-1);
	if (c->len < hlen + (size_t)clen)
		return (0);
	if (c->len > hlen + (size_t)clen)
		return (-1);	/* bytes nobody asked for */
	return (1);
}

/* One request on every idle connection; prints the tallies. */
static void
ic_request_all(void)
{
	struct epoll_event	 ev, evs[IC_WINDOW];
	int			 next = 0, inflight = 0;
	int			 ok = 0, bad = 0, closed = 0;
	int			 i, nev, r, status;
	ssize_t			 n;

	while (next < ic_n || inflight > 0) {
		while (next < ic_n && inflight < IC_WINDOW) {
			struct ic_conn	*c = &ic_conns[next];

			ev.events = EPOLLIN;
			ev.data.u32 = next++;
			if (c->state != IC_IDLE)
				continue;
			n = write(c->fd, ic_req, ic_reqlen);
			if (n != (ssize_t)ic_reqlen) {
				ic_kill(c);
				closed++;
				continue;
			}
			if ((c->buf = malloc(IC_BUFSZ)) == NULL ||
			    epoll_ctl(ic_ep, EPOLL_CTL_ADD, c->fd,
			    &ev) == -1) {
				ic_kill(c);
				bad++;
				continue;
			}
			c->len = 0;
			c->state = IC_SENT;
			inflight++;
		}
		if (inflight == 0)
			continue;
		nev = epoll_wait(ic_ep, evs, IC_WINDOW, IC_TIMEOUT_MS);
		if (nev == -1 && errno == EINTR)
			continue;
		if (nev <= 0) {
			for (i = 0; i < ic_n; i++)
				if (ic_conns[i].state == IC_SENT) {
					ic_kill(&ic_conns[i]);
					bad++;
				}
			for (; next < ic_n; next++)
				if (ic_conns[next].state == IC_IDLE)
					bad++;
			break;
		}
		for (i = 0; i < nev; i++) {
			struct ic_conn	*c = &ic_conns[evs[i].data.u32];

			n = read(c->fd, c->buf + c->len,
			    IC_BUFSZ - 1 - c->len);
			if (n == -1 && errno == EAGAIN)
				continue;
			if (n <= 0) {
				ic_kill(c);
				closed++;
				inflight--;
				continue;
			}
			c->len += (size_t)n;
			status = 0;
			if ((r = ic_response_done(c, &status)) == 0)
				continue;
			inflight--;
			if (r == 1 && status >= 200 && status < 300) {
				epoll_ctl(ic_ep, EPOLL_CTL_DEL, c->fd, NULL);
				free(c->buf);
				c->buf = NULL;
				c->state = IC_IDLE;
				ok++;
			} else {
				ic_kill(c);
				bad++;
			}
		}
	}
	printf("DONE %d %d %d\n", ok, bad, closed);
}

/* Connections the peer has not closed (nothing readable while idle). */
static void
ic_check_all(void)
{
	struct pollfd	 pfd;
	int		 i, alive = 0;

	for (i = 0; i < ic_n; i++) {
		struct ic_conn	*c = &ic_conns[i];

		if (c->state != IC_IDLE)
			continue;
		pfd.fd = c->fd;
		pfd.events = POLLIN | POLLRDHUP;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 1) {
			/* EOF, reset, or unsolicited bytes: not idle. */
			ic_kill(c);
			continue;
		}
		alive++;
	}
	printf("ALIVE %d\n", alive);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct rlimit		 rl;
	char			 line[64];
	int			 failed;

	if (argc != 6 && argc != 7) {
		fprintf(stderr,
		    "usage: idleconn HOST PORT N URL HOSTHDR [PID]\n");
		return (2);
	}
	if (argc == 7) {
		snprintf(ic_fddir, sizeof(ic_fddir), "/proc/%d/fd",
		    atoi(argv[6]));
		if ((ic_fd0 = ic_server_fds()) == -1) {
			fprintf(stderr, "idleconn: cannot read %s\n", ic_fddir);
			return (2);
		}
	}
	ic_n = atoi(argv[3]);
	if (ic_n <= 0)
		return (2);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "idleconn: bad address %s\n", argv[1]);
		return (2);
	}
	ic_reqlen = (size_t)snprintf(ic_req, sizeof(ic_req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: iaproxy-bench\r\n"
	    "Accept: */*\r\n\r\n", argv[4], argv[5]);
	if (ic_reqlen >= sizeof(ic_req))
		return (2);

	/* Room for every connection; the script has raised the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)ic_n + 64) {
		rl.rlim_cur = (rlim_t)ic_n + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			perror("idleconn: setrlimit");
			return (1);
		}
	}
	if ((ic_conns = calloc((size_t)ic_n, sizeof(*ic_conns))) == NULL ||
	    (ic_ep = epoll_create1(0)) == -1) {
		perror("idleconn");
		return (1);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	failed = ic_open_all(&sin);
	printf("OPEN %d %d%s\n", ic_n - failed, failed,
	    ic_unpaced ? " unpaced: the server stopped accepting" : "");

	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "req", 3) == 0)
			ic_request_all();
		else if (strncmp(line, "check", 5) == 0)
			ic_check_all();
		else if (strncmp(line, "quit", 4) == 0)
			break;
		else
			printf("ERR unknown command\n");
	}
	return (0);
}
