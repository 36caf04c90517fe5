/*
 * Origin connections bound to one client.  NTLM and Negotiate at an
 * origin (WWW-Authenticate) authenticate the TCP connection, not the
 * request: once such a handshake has run on an upstream connection, that
 * connection speaks for this client alone.  It must never go back to the
 * shared pool, where another client would inherit the identity, and this
 * client's next requests to that origin must come back to it or the
 * handshake breaks.  So it is pinned to the client connection and closed
 * with it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

/* Allocated only while a connection is pinned: most never are. */
struct pin {
	struct bufferevent	*up;
	char			*key;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
};

/* Does a WWW-Authenticate / Authorization value name a connection scheme? */
static int
is_conn_scheme(const char *v, size_t len)
{
	size_t i = 0;

	/* Several challenges may share one field, comma-separated. */
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == ','))
			i++;
		if ((len - i >= 4 && strncasecmp(v + i, "NTLM", 4) == 0 &&
		    (len - i == 4 || v[i + 4] == ' ' || v[i + 4] == ',')) ||
		    (len - i >= 9 && strncasecmp(v + i, "Negotiate", 9) == 0 &&
		    (len - i == 9 || v[i + 9] == ' ' || v[i + 9] == ',')))
			return 1;
		while (i < len && v[i] != ',')
			i++;
	}
	return 0;
}

int
pin_wanted(const struct h1_msg *msg, const char *field)
{
	size_t i, n = strlen(field);

	for (i = 0; i < msg->nhdrs; i++)
		if (msg->hdrs[i].name_len == n &&
		    strncasecmp(msg->hdrs[i].name, field, n) == 0 &&
		    is_conn_scheme(msg->hdrs[i].value, msg->hdrs[i].value_len))
			return 1;
	return 0;
}

/* The pinned origin closed or spoke while idle: forget it. */
static void
pin_idle_cb(struct bufferevent *bev, void *arg)
{
	pin_drop(arg);
}

static void
pin_idle_eventcb(struct bufferevent *bev, short what, void *arg)
{
	pin_drop(arg);
}

void
pin_drop(struct conn *c)
{
	struct pin *pn = c->pinned;

	if (pn == NULL)
		return;
	if (pn->up != NULL)
		bufferevent_free(pn->up);
	free(pn->key);
	free(pn);
	c->pinned = NULL;
}

void
pin_keep(struct conn *c, struct bufferevent *up, const char *key,
    const struct sockaddr *peer, socklen_t peerlen)
{
	struct pin *pn;

	pin_drop(c);
	if (peerlen > sizeof(pn->peer) ||
	    (pn = calloc(1, sizeof(*pn))) == NULL) {
		bufferevent_free(up);
		return;
	}
	if ((pn->key = strdup(key)) == NULL) {
		free(pn);
		bufferevent_free(up);
		return;
	}
	pn->up = up;
	memcpy(&pn->peer, peer, peerlen);
	pn->peerlen = peerlen;
	c->pinned = pn;
	bufferevent_setcb(up, pin_idle_cb, NULL, pin_idle_eventcb, c);
	bufferevent_set_timeouts(up, NULL, NULL);
	bufferevent_enable(up, EV_READ);
}

struct bufferevent *
pin_take(struct conn *c, const char *key, struct sockaddr_storage *peer,
    socklen_t *peerlen)
{
	struct pin		*pn = c->pinned;
	struct bufferevent	*up;

	if (pn == NULL || strcmp(pn->key, key) != 0)
		return NULL;
	up = pn->up;
	memcpy(peer, &pn->peer, pn->peerlen);
	*peerlen = pn->peerlen;
	pn->up = NULL;
	pin_drop(c);
	bufferevent_setcb(up, NULL, NULL, NULL, NULL);
	return up;
}
