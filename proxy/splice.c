/*
 * Zero-copy relaying with splice(2): socket -> pipe -> socket, the bytes
 * never entering user space.  Tunnels and long Content-Length bodies use
 * it; everything that must be parsed (heads, chunked framing) still goes
 * through evbuffers.
 *
 * A pipe is held only while it carries data: when a direction has nothing
 * to move its empty pipe goes back to the worker's small free list, so an
 * idle tunnel costs no descriptors beyond its two sockets.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "proxy.h"

#define SPLICE_PIPE_SIZE	(256 * 1024)
#define SPLICE_FREE_PIPES	64
/* Bytes one call may move before letting other connections run. */
#define SPLICE_BURST		(2 * 1024 * 1024)

struct splice_pipes {
	int	 fds[SPLICE_FREE_PIPES][2];
	int	 n;
};

static int
pipe_get(struct worker *w, int fds[2])
{
	struct splice_pipes *sp = w->pipes;

	if (sp != NULL && sp->n > 0) {
		sp->n--;
		fds[0] = sp->fds[sp->n][0];
		fds[1] = sp->fds[sp->n][1];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	/* Bigger than the default 64 KiB: fewer calls per megabyte. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

/* Only an empty pipe may be reused: it would otherwise leak bytes. */
static void
pipe_put(struct worker *w, int fds[2], int empty)
{
	struct splice_pipes *sp = w->pipes;

	if (sp == NULL && (sp = w->pipes = calloc(1, sizeof(*sp))) == NULL)
		empty = 0;
	if (empty && sp->n < SPLICE_FREE_PIPES) {
		sp->fds[sp->n][0] = fds[0];
		sp->fds[sp->n][1] = fds[1];
		sp->n++;
	} else {
		close(fds[0]);
		close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}

void
splice_init(struct splicer *s, int from, int to, uint64_t limit)
{
	s->from = from;
	s->to = to;
	s->pipe[0] = s->pipe[1] = -1;
	s->inpipe = 0;
	s->limit = limit;
	s->eof = 0;
}

void
splice_release(struct worker *w, struct splicer *s)
{
	if (s->pipe[0] != -1)
		pipe_put(w, s->pipe, s->inpipe == 0);
	s->inpipe = 0;
}

int
splice_pump(struct worker *w, struct splicer *s, uint64_t *moved)
{
	ssize_t	 n;
	size_t	 want;
	uint64_t burst = 0;

	*moved = 0;
	for (;;) {
		if (s->inpipe > 0) {
			n = splice(s->pipe[0], NULL, s->to, NULL, s->inpipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					return SPLICE_WAIT_WRITE;
				return SPLICE_ERROR;
			}
			s->inpipe -= n;
			*moved += n;
			burst += n;
			continue;
		}
		if (s->limit == 0 || s->eof) {
			splice_release(w, s);
			return s->eof ? SPLICE_EOF : SPLICE_LIMIT;
		}
		if (burst >= SPLICE_BURST)
			return SPLICE_YIELD;
		if (s->pipe[0] == -1 && pipe_get(w, s->pipe) == -1)
			return SPLICE_ERROR;
		want = s->limit < SPLICE_PIPE_SIZE ? (size_t)s->limit :
		    SPLICE_PIPE_SIZE;
		n = splice(s->from, NULL, s->pipe[1], NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			s->eof = 1;
			continue;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				splice_release(w, s);
				return SPLICE_WAIT_READ;
			}
			return SPLICE_ERROR;
		}
		s->inpipe += n;
		s->limit -= n;
	}
}

void
splice_pipes_free(struct worker *w)
{
	struct splice_pipes *sp = w->pipes;

	while (sp != NULL && sp->n > 0) {
		sp->n--;
		close(sp->fds[sp->n][0]);
		close(sp->fds[sp->n][1]);
	}
	free(sp);
	w->pipes = NULL;
}

static void
relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct splice_relay *sr = arg;
	int		     i = (fd == sr->dir[0].from && (what & EV_READ)) ||
			     (fd == sr->dir[0].to && (what & EV_WRITE)) ? 0 : 1;

	if (!sr->used[i])
		i = !i;
	sr->run(sr->conn, i, (what & EV_TIMEOUT) != 0);
}

struct splice_relay *
splice_relay_new(struct conn *c, int cfd, int ufd, int dirs,
    void (*run)(struct conn *, int, int))
{
	struct event_base	*base = c->worker->base;
	struct splice_relay	*sr;
	int			 i;

	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		return NULL;
	sr->conn = c;
	sr->run = run;
	splice_init(&sr->dir[0], cfd, ufd, UINT64_MAX);
	splice_init(&sr->dir[1], ufd, cfd, UINT64_MAX);
	for (i = 0; i < 2; i++) {
		if (!(dirs & (1 << i)))
			continue;
		sr->used[i] = 1;
		sr->rd[i] = event_new(base, sr->dir[i].from,
		    EV_READ | EV_PERSIST, relay_cb, sr);
		sr->wr[i] = event_new(base, sr->dir[i].to,
		    EV_WRITE | EV_PERSIST, relay_cb, sr);
		if (sr->rd[i] == NULL || sr->wr[i] == NULL) {
			splice_relay_free(c->worker, sr);
			return NULL;
		}
	}
	return sr;
}

void
splice_relay_free(struct worker *w, struct splice_relay *sr)
{
	int i;

	if (sr == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (sr->rd[i] != NULL)
			event_free(sr->rd[i]);
		if (sr->wr[i] != NULL)
			event_free(sr->wr[i]);
		splice_release(w, &sr->dir[i]);
	}
	free(sr);
}

void
splice_relay_wait(struct splice_relay *sr, int i, int res,
    const struct timeval *rtmo, const struct timeval *wtmo)
{
	switch (res) {
	case SPLICE_WAIT_WRITE:
		/* Backpressure: read nothing more until `to` drains. */
		event_del(sr->rd[i]);
		event_add(sr->wr[i], wtmo);
		break;
	case SPLICE_WAIT_READ:
	case SPLICE_YIELD:	/* level-triggered: fires again next turn */
		event_del(sr->wr[i]);
		event_add(sr->rd[i], rtmo);
		break;
	default:
		event_del(sr->rd[i]);
		event_del(sr->wr[i]);
		break;
	}
}
