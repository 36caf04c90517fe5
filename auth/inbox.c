/*
 * Work done on other threads, back to a worker's event loop; see inbox.h.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "inbox.h"

/*
 * refs: the worker's, and one per item out; the last one frees the
 * inbox, whichever thread lets go.
 */
struct inbox {
	pthread_mutex_t	 lock;
	struct inbox_item *head, *tail;	/* back, not yet handled */
	int		 refs;
	int		 dead;		/* the worker let go */
	int		 efd;
	struct event	*ev;
};

static void
inbox_unref_locked(struct inbox *ib)
{
	int last = --ib->refs == 0;

	pthread_mutex_unlock(&ib->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&ib->lock);
	close(ib->efd);
	free(ib);
}

/* The worker's side: take everything that came back, run done(). */
static void
inbox_read(evutil_socket_t fd, short what, void *arg)
{
	struct inbox		*ib = arg;
	struct inbox_item	*it, *next;
	uint64_t		 n;

	(void)what;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&ib->lock);
	it = ib->head;
	ib->head = ib->tail = NULL;
	pthread_mutex_unlock(&ib->lock);
	for (; it != NULL; it = next) {
		next = it->next;
		it->next = NULL;
		it->done(it);
	}
}

struct inbox *
inbox_new(struct event_base *base)
{
	struct inbox *ib;

	if ((ib = calloc(1, sizeof(*ib))) == NULL)
		return NULL;
	if ((ib->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(ib);
		return NULL;
	}
	if ((ib->ev = event_new(base, ib->efd, EV_READ | EV_PERSIST,
	    inbox_read, ib)) == NULL || event_add(ib->ev, NULL) == -1) {
		if (ib->ev != NULL)
			event_free(ib->ev);
		close(ib->efd);
		free(ib);
		return NULL;
	}
	pthread_mutex_init(&ib->lock, NULL);
	ib->refs = 1;
	return ib;
}

void
inbox_free(struct inbox *ib)
{
	struct inbox_item *it, *next;

	if (ib == NULL)
		return;
	event_free(ib->ev);
	ib->ev = NULL;
	pthread_mutex_lock(&ib->lock);
	ib->dead = 1;
	it = ib->head;
	ib->head = ib->tail = NULL;
	inbox_unref_locked(ib);
	for (; it != NULL; it = next) {
		next = it->next;
		it->discard(it);
	}
}

void
inbox_expect(struct inbox *ib)
{
	pthread_mutex_lock(&ib->lock);
	ib->refs++;
	pthread_mutex_unlock(&ib->lock);
}

void
inbox_post(struct inbox *ib, struct inbox_item *it)
{
	uint64_t one = 1;

	pthread_mutex_lock(&ib->lock);
	if (ib->dead) {
		inbox_unref_locked(ib);
		it->discard(it);
		return;
	}
	it->next = NULL;
	if (ib->tail != NULL)
		ib->tail->next = it;
	else
		ib->head = it;
	ib->tail = it;
	/* An eventfd counter cannot fill up at one write per item. */
	(void)write(ib->efd, &one, sizeof(one));
	inbox_unref_locked(ib);
}
