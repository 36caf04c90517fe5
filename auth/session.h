/*
 * auth/session.h: the sign-in sessions a SAML sign-in leads to.
 * Included through auth.h.
 *
 * A browser's answer to CONNECT cannot carry a redirect or a cookie, so a
 * SAML sign-in is bound to what the gateway sees on every request: the
 * client's address (an IP session).  A cookie on the portal host (HMAC
 * signed, stateless) lets the portal bind the address again without the
 * identity provider once the IP session has gone (idle, or a new
 * address).
 *
 * Ownership and locks:
 *  - The IP session table is one for the process, shared by every worker
 *    and the admin socket, under one mutex: a lookup is a hash, a compare,
 *    a move to the head of the LRU list and a copy of the user name (well
 *    under a microsecond); nothing but table work and malloc is done
 *    under it.  It outlives any config: the limits (session_idle,
 *    session_max, flip_guard) come from the caller's config on each call,
 *    so a reload applies to existing sessions at once.
 *  - The per-user "signed out at" records that refuse older cookies live
 *    in the same table, under the same mutex.
 *  - Times are the caller's (epoch seconds), so tests drive the clock.
 *  - struct session_info is the caller's: a copy, plus one reference to
 *    the session's groups that session_info_clear() drops.
 */
#ifndef IAPROXY_SESSION_H
#define IAPROXY_SESSION_H

#include <stddef.h>
#include <time.h>

struct auth_groups;
struct conf_saml;
struct sockaddr;

#define SESSION_COOKIE_NAME	"iaproxy_session"
#define SESSION_SID_LEN		32	/* hex digits of 16 random bytes */
#define SESSION_USER_MAX	512	/* bytes of a user name, NUL included */
#define SESSION_TABLE_MAX	1000000	/* IP sessions at most (LRU past it) */
#define SESSION_COOKIE_MAX	1024	/* bytes of a cookie value, NUL incl. */

/* A copy of one IP session. */
struct session_info {
	char		 user[SESSION_USER_MAX];
	char		 sid[SESSION_SID_LEN + 1];
	char		 addr[46];	/* the client address as text
					   (session_peek, session_list) */
	time_t		 since;		/* bound (sign-in or cookie refresh) */
	time_t		 last_used;	/* the last request it answered */
	time_t		 expires;	/* absolute end (session_max) */
	struct auth_groups *groups;	/* the assertion's groups (a
					   reference), or NULL: ask the
					   directory */
};

/* What session_bind() did. */
enum session_bind_result {
	SESSION_BOUND,		/* the address is the user's now */
	SESSION_FLIPPED,	/* the address changed users within
				   flip_guard: its session is gone and the
				   address is held until *retry */
	SESSION_HELD,		/* still held after an earlier flip */
	SESSION_NOMEM,
};

/* session.c: IP sessions */
/*
 * Bind the client address sa (IPv4, IPv6; an IPv4-mapped IPv6 address
 * is its IPv4 address) to user with session id sid, at time now, until
 * expires (absolute, at most now + session_max) and session_idle without
 * a request.  groups (may be NULL) are the assertion's: the session takes
 * its own reference.  One user per address: another user's session on
 * the address is replaced, unless it was bound less than s->flip_guard
 * seconds ago; then the address loses its session and is held (no
 * binding) until flip_guard has passed: SESSION_FLIPPED or SESSION_HELD,
 * *retry the time it is free again.
 */
enum session_bind_result session_bind(const struct conf_saml *s,
		    const struct sockaddr *sa, const char *user,
		    const char *sid, struct auth_groups *groups, time_t now,
		    time_t expires, time_t *retry);
/*
 * The session of address sa at time now: 1 with *out filled (a copy,
 * with a reference to the groups: session_info_clear() it; out->addr
 * left empty, inet_ntop costing as much as the rest), and the session's
 * idle clock restarted; 0 when there is none, or it is idle past
 * s->session_idle (kept for session_groups_of) or past its absolute end
 * (forgotten).  Well under a microsecond (tests/bench/session_bench).
 */
int		 session_lookup(const struct conf_saml *s,
		    const struct sockaddr *sa, time_t now,
		    struct session_info *out);
/*
 * As session_lookup(), but the idle clock is not restarted and out->addr
 * is filled (whoami).
 */
int		 session_peek(const struct conf_saml *s,
		    const struct sockaddr *sa, time_t now,
		    struct session_info *out);
/* Drop the reference out holds; out may be cleared twice. */
void		 session_info_clear(struct session_info *out);
/*
 * Is sa bound to session id sid (compared in constant time), even past
 * session_idle, before its absolute end?  1 with *groups its groups (a
 * reference, or NULL), else 0: for a cookie refresh to keep the groups
 * the assertion of the same sign-in gave.
 */
int		 session_groups_of(const struct sockaddr *sa, const char *sid,
		    time_t now, struct auth_groups **groups);
/*
 * The client address sa as the table keys it, as text: an IPv4-mapped
 * IPv6 address written as plain IPv4, so that one machine has one text
 * whichever listener it came in on (the SAML sign-in's client).  len at
 * least INET6_ADDRSTRLEN (46).  0, or -1 (buf "") for a family other
 * than IPv4 and IPv6.
 */
int		 session_addr_text(const struct sockaddr *sa, char *buf,
		    size_t len);
/* End the session of sa (/iaproxy/logout); 1 if there was one. */
int		 session_end(const struct sockaddr *sa);
/*
 * End every IP session of user (compared as auth_user_match() does: a
 * bare name matches it in any domain or realm) and record that user
 * signed out at now, so that cookies issued until now are refused.
 * How many sessions went.
 */
size_t		 session_signout(const char *user, time_t now);
/*
 * Call cb for every live IP session (of user, when not NULL; matched as
 * for session_signout) at time now, under the table's lock: cb must not
 * call back into this module, and info->groups is only lent.  Idle is
 * judged by the session_idle of the last bind or lookup (the admin
 * socket has no config of its own).  How many matched.
 */
size_t		 session_list(const char *user, time_t now,
		    void (*cb)(void *arg, const struct session_info *),
		    void *arg);
/*
 * The groups an assertion named (groups_attribute values), as the group
 * list the policy and the log read (auth.h auth_groups_*): one reference
 * for the caller, or NULL when out of memory.
 */
struct auth_groups *session_groups_new(const char *const *names, size_t n);
/* Sessions in the table now (expired ones not yet swept included). */
size_t		 session_count(void);
/*
 * Forget everything and set the table's bound (0: SESSION_TABLE_MAX);
 * for tests and benchmarks.
 */
void		 session_reset(size_t max);

/* session.c: the portal cookie */
/* A fresh random session id (SESSION_SID_LEN hex digits); -1 on failure. */
int		 session_sid_new(char sid[SESSION_SID_LEN + 1]);
/*
 * The portal cookie's value for user: "1.USER.ISSUED.EXPIRES.SID.MAC",
 * USER and MAC base64url (RFC 4648 section 5) and MAC the HMAC-SHA256
 * (RFC 2104) of everything before it with s->cookie_key.  Cookie-safe
 * (RFC 6265 cookie-octet).  0, or -1 when out does not hold it.
 */
int		 session_cookie_make(const struct conf_saml *s,
		    const char *user, const char *sid, time_t issued,
		    time_t expires, char *out, size_t outlen);
/* A verified cookie. */
struct session_cookie {
	char		 user[SESSION_USER_MAX];
	char		 sid[SESSION_SID_LEN + 1];
	time_t		 issued;
	time_t		 expires;
};
/*
 * Verify a cookie value at time now: its MAC (constant-time compare), its
 * expiry, and that its user has not signed out since it was issued.  0
 * with *out filled, or -1 with *why (static text, no part of the value).
 */
int		 session_cookie_check(const struct conf_saml *s,
		    const char *value, size_t len, time_t now,
		    struct session_cookie *out, const char **why);
/*
 * The n-th (from 0) value of the cookie `name` in a Cookie field value
 * (RFC 6265 section 5.4: "a=b; c=d"): 0 with *v and *vlen pointing into
 * hdr, -1 when there is no such.
 */
int		 session_cookie_find(const char *hdr, size_t len,
		    const char *name, size_t n, const char **v, size_t *vlen);

#endif
