/*
 * The sign-in portal's TLS server context (saml { portal_cert portal_key }),
 * built at every load so that `-t`, start-up and reload all report a bad
 * certificate, a bad key, a key that does not match, or a key others can
 * read, at the option's line.
 *
 * Both files are read once into memory through one descriptor, and the
 * key's secrecy is checked on that same descriptor (fstat), so the file
 * that was checked is the file that is used.  The key's bytes are wiped
 * as soon as OpenSSL has parsed them.  An encrypted key is refused rather
 * than prompted for: a reload must never wait on a terminal.
 *
 * The context (proxy/portal_tls.c uses it) offers TLS 1.2 and later with
 * OpenSSL's default ciphers, one certificate (SNI is not looked at), and
 * ALPN "http/1.1" when the client offers it.  SSL objects hold their own
 * reference to the context, so connections accepted under an old config
 * outlive its conf_portal_tls_free().
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf.h"

#define PORTAL_PEM_MAX	(1 << 20)	/* bytes of a cert chain or key file */

/* The one protocol the portal speaks (RFC 7301 3.1 wire format). */
static const unsigned char portal_alpn[] = "\x08http/1.1";

/*
 * Read path (at most PORTAL_PEM_MAX bytes) into a malloc'd buffer.  With
 * secret set, the file must be a regular file that others cannot read
 * (checked on the descriptor read from).  The buffer or NULL with why.
 */
static char *
portal_tls_slurp(const char *path, int secret, size_t *lenp, char *why,
    size_t whylen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	/* O_NONBLOCK: a FIFO in its place must not hang a reload. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return (NULL);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		close(fd);
		return (NULL);
	}
	if (secret && (st.st_mode & S_IRWXO)) {
		snprintf(why, whylen, "others have access to it (mode %04o); "
		    "chmod o-rwx it", (unsigned)(st.st_mode & 07777));
		close(fd);
		return (NULL);
	}
	if (st.st_size > PORTAL_PEM_MAX) {
		snprintf(why, whylen, "larger than %d bytes", PORTAL_PEM_MAX);
		close(fd);
		return (NULL);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		close(fd);
		return (NULL);
	}
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;	/* shrank while read: parse what we have */
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

/* Free a buffer that held a secret. */
static void
portal_tls_wipe(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

/* OpenSSL's last queued error as text after prefix, into why. */
static void
portal_tls_sslerr(const char *prefix, char *why, size_t whylen)
{
	unsigned long	 e;
	char		 buf[256];

	/* The last error is the outermost: the one that names the cause. */
	if ((e = ERR_peek_last_error()) == 0) {
		snprintf(why, whylen, "%s", prefix);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whylen, "%s (%s)", prefix, buf);
	ERR_clear_error();
}

/*
 * PEM pass phrase callback: none.  An encrypted key fails to load
 * instead of OpenSSL asking on the terminal.
 */
static int
portal_tls_nopass(char *buf, int size, int rwflag, void *u)
{
	return (0);
}

/*
 * ALPN (RFC 7301 3.2): http/1.1 when offered; otherwise go on without
 * ALPN rather than fail, since HTTP/1.1 is what the portal speaks anyway
 * and a client that sends no acceptable protocol may still cope.
 */
static int
portal_tls_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, portal_alpn,
	    sizeof(portal_alpn) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

/* The chain file: the leaf first, then intermediates (RFC 8446 4.4.2). */
static int
portal_tls_load_chain(SSL_CTX *ctx, const char *path, const char *host,
    char *why, size_t whylen)
{
	BIO		*bio;
	X509		*x, *leaf = NULL;
	char		*buf;
	size_t		 len;
	int		 n = 0, rv = -1, named;
	unsigned char	 ip[16];

	if ((buf = portal_tls_slurp(path, 0, &len, why, whylen)) == NULL)
		return (-1);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		free(buf);
		return (-1);
	}
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, portal_tls_nopass,
	    NULL)) != NULL) {
		if (n++ == 0) {
			leaf = x;
			if (SSL_CTX_use_certificate(ctx, x) != 1) {
				portal_tls_sslerr("unusable certificate", why,
				    whylen);
				goto done;
			}
			continue;
		}
		/* add0: the context owns x now. */
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			portal_tls_sslerr("unusable intermediate certificate",
			    why, whylen);
			goto done;
		}
	}
	if (n == 0) {
		portal_tls_sslerr("no PEM certificate in it", why, whylen);
		goto done;
	}
	/* The end of the file is the expected way out of the loop. */
	ERR_clear_error();
	/*
	 * Browsers check the name they connected to (RFC 9110 4.3.4), so a
	 * certificate that does not name the portal's host can only ever
	 * fail: say so now rather than at the first sign-in.
	 */
	if (host == NULL)
		named = 1;	/* the portal itself is reported elsewhere */
	else if (inet_pton(AF_INET, host, ip) == 1 ||
	    inet_pton(AF_INET6, host, ip) == 1)
		named = X509_check_ip_asc(leaf, host, 0) == 1;
	else
		named = X509_check_host(leaf, host, strlen(host), 0,
		    NULL) == 1;
	if (!named) {
		snprintf(why, whylen, "the certificate does not name %s, the "
		    "portal's host", host);
		goto done;
	}
	rv = 0;
 done:
	X509_free(leaf);	/* the context holds its own reference */
	BIO_free(bio);
	free(buf);
	return (rv);
}

static int
portal_tls_load_key(SSL_CTX *ctx, const char *path, char *why,
    size_t whylen)
{
	BIO		*bio;
	EVP_PKEY	*pk;
	char		*buf;
	size_t		 len;
	int		 rv = -1;

	if ((buf = portal_tls_slurp(path, 1, &len, why, whylen)) == NULL)
		return (-1);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		portal_tls_wipe(buf, len);
		return (-1);
	}
	ERR_clear_error();
	pk = PEM_read_bio_PrivateKey(bio, NULL, portal_tls_nopass, NULL);
	BIO_free(bio);
	portal_tls_wipe(buf, len);
	if (pk == NULL) {
		portal_tls_sslerr("no usable PEM private key in it (an "
		    "encrypted key is not supported)", why, whylen);
		return (-1);
	}
	/* The leaf's public key first: a mismatch is the likely mistake. */
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pk) != 1) {
		ERR_clear_error();
		snprintf(why, whylen, "the key does not match portal_cert");
	} else if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		portal_tls_sslerr("unusable private key", why, whylen);
	else
		rv = 0;
	EVP_PKEY_free(pk);
	return (rv);
}

/* Is l the same address and port as one of c's plain listeners? */
static int
portal_tls_listen_dup(const struct config *c, const struct conf_listen *l)
{
	size_t i;

	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].sslen == l->sslen &&
		    memcmp(&c->listen[i].ss, &l->ss, l->sslen) == 0)
			return (1);
	return (0);
}

int
conf_portal_tls_load(struct config *c, const char **opt, char *why,
    size_t whylen)
{
	struct conf_saml *s = &c->saml;
	SSL_CTX		*ctx;
	size_t		 i;

	*opt = "portal_cert";
	if (!s->enabled)
		return (0);
	if (s->portal_cert == NULL && s->portal_key == NULL) {
		if (s->nportal_listen > 0) {
			*opt = "portal_listen";
			snprintf(why, whylen, "portal_listen needs portal_cert "
			    "and portal_key");
			return (-1);
		}
		return (0);
	}
	if (s->portal_cert == NULL || s->portal_key == NULL) {
		*opt = s->portal_cert == NULL ? "portal_key" : "portal_cert";
		snprintf(why, whylen, "portal_cert and portal_key go together");
		return (-1);
	}
	/*
	 * The gateway answers the portal's own URL with this certificate;
	 * for an http:// portal nothing would ever ask for it, and the
	 * ACS URL the IdP posts to would not be the one served here.
	 */
	if (s->portal != NULL && !s->portal_https) {
		snprintf(why, whylen, "the portal %s is not https://: "
		    "portal_cert and portal_listen need an https portal",
		    s->portal);
		return (-1);
	}
	for (i = 0; i < s->nportal_listen; i++)
		if (portal_tls_listen_dup(c, &s->portal_listen[i])) {
			*opt = "portal_listen";
			snprintf(why, whylen, "%s is also a plain listen "
			    "address", s->portal_listen[i].text);
			return (-1);
		}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		portal_tls_sslerr("cannot make a TLS context", why, whylen);
		return (-1);
	}
	/*
	 * TLS 1.2 and later (RFC 8996 retires 1.0 and 1.1); the ciphers are
	 * the system's (OpenSSL's configured defaults), left alone.
	 * Renegotiation is refused: HTTP/1.1 sign-in needs none, and a
	 * client-initiated one costs the server a handshake each.
	 */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		portal_tls_sslerr("cannot require TLS 1.2", why, whylen);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle keep-alive connections give their buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"iaproxy",
	    7);
	SSL_CTX_set_alpn_select_cb(ctx, portal_tls_alpn, NULL);
	if (portal_tls_load_chain(ctx, s->portal_cert, s->portal_host, why,
	    whylen) == -1)
		goto fail;
	if (portal_tls_load_key(ctx, s->portal_key, why, whylen) == -1) {
		*opt = "portal_key";
		goto fail;
	}
	s->portal_ssl_ctx = ctx;
	return (0);
 fail:
	SSL_CTX_free(ctx);
	return (-1);
}

void
conf_portal_tls_free(struct conf_saml *s)
{
	size_t i;

	SSL_CTX_free(s->portal_ssl_ctx);
	s->portal_ssl_ctx = NULL;
	free(s->portal_cert);
	free(s->portal_key);
	s->portal_cert = s->portal_key = NULL;
	for (i = 0; i < s->nportal_listen; i++)
		free(s->portal_listen[i].text);
	free(s->portal_listen);
	s->portal_listen = NULL;
	s->nportal_listen = 0;
}
