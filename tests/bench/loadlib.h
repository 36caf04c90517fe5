/*
 * loadlib: the HTTP side of the bench load clients (ntlm_load.c for
 * tests/bench/ntlm, neg_load.c for tests/bench/negotiate).
 *
 * One thread, epoll, many non-blocking connections to an HTTP proxy, each
 * asking GET after GET for one absolute URL.  The library sends the
 * requests, reads and frames the responses (RFC 9112 section 6:
 * Content-Length, chunked, or up to the close), times them out, counts
 * failures and keeps the latencies.  The client program says what a
 * connection sends first and what each whole response means, through the
 * struct ll_client it defines (below).
 */

#ifndef LOADLIB_H
#define LOADLIB_H

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#define LL_BUFSZ	65536	/* one response head, or a body's slice */
#define LL_REQSZ	16384	/* a request with a token */
#define LL_AUTHSZ	16384	/* a Proxy-Authenticate value kept */
#define LL_TIMEOUT_NS	(10LL * 1000000000LL)

enum ll_body {
	LL_B_HEAD,		/* reading the head */
	LL_B_LENGTH,		/* Content-Length bytes left */
	LL_B_CHUNK_SIZE,	/* a chunk-size line */
	LL_B_CHUNK_DATA,	/* chunk bytes left */
	LL_B_CHUNK_CRLF,	/* the CRLF after chunk data */
	LL_B_TRAILER,		/* trailer lines up to an empty one */
	LL_B_EOF,		/* delimited by the close */
	LL_B_DONE
};

/* How a result failed; LL_F_AUTH is the client's own (named by it). */
enum ll_fail {
	LL_F_CONNECT,		/* refused or reset */
	LL_F_CLOSED,		/* closed before a whole response */
	LL_F_TIMEOUT,		/* no whole response in 10 s */
	LL_F_STATUS,		/* a final answer the client did not want */
	LL_F_PROTO,		/* a response that does not parse */
	LL_F_AUTH,		/* the client's: an answer without its token */
	LL_F_MAX
};

struct ll_conn {
	int		 fd;
	int		 connecting;
	int		 restart;	/* failed: a new connection soon */
	int		 signed_in;	/* counted in ll_signed_in */
	int		 leg;		/* the client's: what is in flight */
	long		 tok;		/* the client's: its token, or -1 */
	int64_t		 t_start;	/* connect (sign-in) or request */
	int64_t		 t_deadline;
	char		 out[LL_REQSZ];
	size_t		 outlen, outoff;
	char		 in[LL_BUFSZ];
	size_t		 inlen;
	enum ll_body	 body;
	uint64_t	 left;		/* body bytes left in this part */
	int		 status;
	int		 close_after;
	char		 auth[LL_AUTHSZ];	/* Proxy-Authenticate value */
};

/*
 * What the client program is.  Each client defines the one ll_client;
 * the library calls start() for every new connection (after a failure,
 * from the main loop) and response() for every whole response.
 */
struct ll_client {
	const char	*name;		/* "ntlm_load": starts every message */
	const char	*scheme;	/* "NTLM": of Proxy-Authorization, and
					 * of the Proxy-Authenticate kept */
	size_t		 auth_max;	/* longest Proxy-Authenticate kept */
	const char	*auth_fail;	/* the name of LL_F_AUTH */
	const char *const *legs;	/* the name of each c->leg */
	void		(*start)(struct ll_conn *);
	void		(*response)(struct ll_conn *);
};

extern const struct ll_client ll_client;

/* Options (ll_option) and results. */
extern struct ll_conn	*ll_conns;
extern int		 ll_nconns;
extern int64_t		 ll_duration;
extern long		 ll_count;
extern int		 ll_measuring, ll_signed_in, ll_exhausted;
extern long		 ll_ok, ll_fails[LL_F_MAX], ll_reconnects;

/* loadlib.c */
int64_t	 ll_now(void);
void	 ll_die(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
int	 ll_option(int, char *);
int	 ll_setup(void);
long	 ll_total(void);
void	 ll_open(struct ll_conn *);
void	 ll_connect(struct ll_conn *);
void	 ll_request(struct ll_conn *, const char *);
void	 ll_close(struct ll_conn *);
void	 ll_restart(struct ll_conn *);
void	 ll_reconnect(struct ll_conn *);
void	 ll_sign_in(struct ll_conn *);
void	 ll_result(struct ll_conn *, int64_t);
void	 ll_fail(struct ll_conn *, enum ll_fail, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 ll_run(int);
void	 ll_summary(const char *, const char *, const enum ll_fail *);

#endif /* LOADLIB_H */
