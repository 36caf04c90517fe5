/*
 * An inbox: how work done on another thread comes back to a worker.
 * Internal to auth/.
 *
 * A worker's event_base is its thread's alone (no libevent locks), so
 * another thread cannot touch it.  It posts finished items to the
 * worker's inbox instead: a list under a mutex and an eventfd that
 * wakes the worker, which then runs each item's done() on its own
 * thread.  An inbox whose worker has gone discards what still arrives.
 *
 * Lock discipline: the inbox's mutex guards its list, dead and refs and
 * nothing else; an item belongs to one thread at a time, so its own
 * fields need no lock.
 */
#ifndef IAPROXY_AUTH_INBOX_H
#define IAPROXY_AUTH_INBOX_H

struct event_base;
struct inbox;

struct inbox_item {
	struct inbox_item *next;
	/* Called on the inbox's thread when the item is back. */
	void		(*done)(struct inbox_item *);
	/* Called instead, on any thread, when the inbox is gone. */
	void		(*discard)(struct inbox_item *);
};

struct inbox	*inbox_new(struct event_base *);
/* The worker lets go; items still out will be discarded. */
void	 inbox_free(struct inbox *);
/* An item will come back (from any thread): keeps the inbox alive. */
void	 inbox_expect(struct inbox *);
/* Post an item promised by inbox_expect(), from any thread. */
void	 inbox_post(struct inbox *, struct inbox_item *);

#endif
