/*
 * The negotiate section's keytab: checked like every other secret file
 * (a regular file others cannot read), copied into memory and looked
 * into so that `-t` names a keytab with no usable key, then turned into
 * the GSSAPI acceptor credential that every accept of this config
 * shares.
 *
 * The credential is acquired with the keytab as its credential store
 * (gss_acquire_cred_from), not through KRB5_KTNAME: the environment is
 * the whole process's, while two configs (before and after a reload) may
 * name two keytabs.  Acquiring reads the keytab only; the KDC is never
 * asked, so a load does not wait on the network.
 *
 * SPNEGO is acquired alongside Kerberos so that browsers' SPNEGO tokens
 * are accepted by MIT's own SPNEGO, but its negotiable mechanisms are
 * cut down to Kerberos: NTLMSSP inside SPNEGO is the gateway's own NTLM
 * code's (auth/auth_negotiate.c routes it there before GSSAPI sees it),
 * never a GSSAPI NTLM plugin that happens to be installed.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "conf.h"

/* SPNEGO (RFC 4178) and Windows' alias of the Kerberos OID. */
static gss_OID_desc keytab_spnego_oid = {
	6, (void *)"\x2b\x06\x01\x05\x05\x02"
};
static gss_OID_desc keytab_mskrb5_oid = {
	9, (void *)"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02"
};

/*
 * "major text: minor text" of a GSSAPI failure, into buf (conf.h: the
 * accept threads use it too).  GSSAPI's words, never a token.
 */
void
conf_gss_status(unsigned major, unsigned minor, char *buf, size_t len)
{
	OM_uint32	 min, ctx = 0;
	gss_buffer_desc	 msg;
	size_t		 used = 0;
	int		 n;

	buf[0] = '\0';
	do {
		if (GSS_ERROR(gss_display_status(&min, major, GSS_C_GSS_CODE,
		    GSS_C_NO_OID, &ctx, &msg)))
			break;
		n = snprintf(buf + used, len - used, "%s%.*s",
		    used ? "; " : "", (int)msg.length, (char *)msg.value);
		gss_release_buffer(&min, &msg);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	} while (ctx != 0);
	if (minor == 0)
		return;
	ctx = 0;
	do {
		if (GSS_ERROR(gss_display_status(&min, minor, GSS_C_MECH_CODE,
		    GSS_C_NO_OID, &ctx, &msg)))
			break;
		n = snprintf(buf + used, len - used, ": %.*s",
		    (int)msg.length, (char *)msg.value);
		gss_release_buffer(&min, &msg);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	} while (ctx != 0);
}

/* Regular, ours to read, and nobody else's (keys are password equals). */
static int
keytab_file_ok(const char *path, char *why, size_t whylen)
{
	struct stat	st;
	int		fd;

	/* O_NONBLOCK: a FIFO in its place must not hang a reload. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return (-1);
	}
	if (st.st_mode & S_IRWXO) {
		snprintf(why, whylen, "others have access to it (mode %04o); "
		    "chmod o-rwx it", (unsigned)(st.st_mode & 07777));
		return (-1);
	}
	return (0);
}

/*
 * Copy the keytab file into a MEMORY keytab of this config's own, and
 * check it holds a key at all, and one of principal when that is named
 * (what it holds instead goes into the message).  Accepts then never
 * read the file: no file I/O per token, and a keytab changed on disk
 * takes effect at the next reload, like every other part of the config.
 * A MEMORY keytab lives as long as a handle to it is open: the handle
 * and its context stay in n until conf_keytab_free().
 */
static int
keytab_to_memory(struct conf_negotiate *n, char *why, size_t whylen)
{
	static unsigned long	 seq;
	krb5_context		 kc;
	krb5_keytab		 kf = NULL, km = NULL;
	krb5_kt_cursor		 cur;
	krb5_keytab_entry	 ent;
	krb5_principal		 want = NULL;
	krb5_error_code		 ret;
	char			 name[300], seen[200], *s;
	const char		*msg;
	size_t			 nkeys = 0, used = 0;
	int			 found = 0, k;

	seen[0] = '\0';
	if ((ret = krb5_init_context(&kc)) != 0) {
		snprintf(why, whylen, "cannot start Kerberos (error %d)", ret);
		return (-1);
	}
	snprintf(name, sizeof(name), "FILE:%s", n->keytab);
	if ((ret = krb5_kt_resolve(kc, name, &kf)) != 0 ||
	    (n->principal != NULL &&
	    (ret = krb5_parse_name(kc, n->principal, &want)) != 0))
		goto fail;
	/* Loads run on the main thread only (conf.c): seq needs no lock. */
	snprintf(n->kt_name, sizeof(n->kt_name), "MEMORY:iaproxy-%ld-%lu",
	    (long)getpid(), ++seq);
	if ((ret = krb5_kt_resolve(kc, n->kt_name, &km)) != 0 ||
	    (ret = krb5_kt_start_seq_get(kc, kf, &cur)) != 0)
		goto fail;
	while ((ret = krb5_kt_next_entry(kc, kf, &ent, &cur)) == 0) {
		nkeys++;
		if (want != NULL && krb5_principal_compare(kc, want,
		    ent.principal))
			found = 1;
		if (want != NULL && krb5_unparse_name(kc, ent.principal,
		    &s) == 0) {
			/* Each principal once, as far as the message goes. */
			if (strstr(seen, s) == NULL && used < sizeof(seen)) {
				k = snprintf(seen + used, sizeof(seen) - used,
				    "%s%s", used ? ", " : "", s);
				if (k > 0)
					used += (size_t)k;
			}
			krb5_free_unparsed_name(kc, s);
		}
		ret = krb5_kt_add_entry(kc, km, &ent);
		krb5_free_keytab_entry_contents(kc, &ent);
		if (ret != 0) {
			krb5_kt_end_seq_get(kc, kf, &cur);
			goto fail;
		}
	}
	krb5_kt_end_seq_get(kc, kf, &cur);
	if (ret != KRB5_KT_END)
		goto fail;
	if (nkeys == 0)
		snprintf(why, whylen, "holds no keys");
	else if (want != NULL && !found)
		snprintf(why, whylen, "holds no key of %s (it has keys of %s)",
		    n->principal, seen);
	if (want != NULL)
		krb5_free_principal(kc, want);
	krb5_kt_close(kc, kf);
	if (nkeys == 0 || (n->principal != NULL && !found)) {
		krb5_kt_close(kc, km);
		krb5_free_context(kc);
		return (-1);
	}
	n->kt_ctx = kc;
	n->kt_mem = km;
	return (0);

 fail:
	msg = krb5_get_error_message(kc, ret);
	snprintf(why, whylen, "%s", msg);
	krb5_free_error_message(kc, msg);
	if (want != NULL)
		krb5_free_principal(kc, want);
	if (kf != NULL)
		krb5_kt_close(kc, kf);
	if (km != NULL)
		krb5_kt_close(kc, km);
	krb5_free_context(kc);
	return (-1);
}

int
conf_keytab_load(struct conf_negotiate *n, char *why, size_t whylen)
{
	gss_OID_desc		 mechs_el[2], neg_el[2];
	gss_OID_set_desc	 mechs = { 2, mechs_el }, neg = { 2, neg_el };
	gss_key_value_element_desc store_el = { "keytab", NULL };
	gss_key_value_set_desc	 store = { 1, &store_el };
	gss_buffer_desc		 nbuf;
	gss_name_t		 name = GSS_C_NO_NAME;
	gss_cred_id_t		 cred = GSS_C_NO_CREDENTIAL;
	OM_uint32		 major, minor, min;

	if (keytab_file_ok(n->keytab, why, whylen) == -1 ||
	    keytab_to_memory(n, why, whylen) == -1)
		return (-1);
	if (n->principal != NULL) {
		nbuf.value = n->principal;
		nbuf.length = strlen(n->principal);
		major = gss_import_name(&minor, &nbuf,
		    GSS_KRB5_NT_PRINCIPAL_NAME, &name);
		if (GSS_ERROR(major)) {
			conf_gss_status(major, minor, why, whylen);
			conf_keytab_free(n);
			return (-1);
		}
	}
	mechs_el[0] = *gss_mech_krb5;
	mechs_el[1] = keytab_spnego_oid;
	store_el.value = n->kt_name;
	major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs,
	    GSS_C_ACCEPT, &store, &cred, NULL, NULL);
	if (name != GSS_C_NO_NAME)
		gss_release_name(&min, &name);
	if (GSS_ERROR(major)) {
		conf_gss_status(major, minor, why, whylen);
		conf_keytab_free(n);
		return (-1);
	}
	neg_el[0] = *gss_mech_krb5;
	neg_el[1] = keytab_mskrb5_oid;
	major = gss_set_neg_mechs(&minor, cred, &neg);
	if (GSS_ERROR(major)) {
		conf_gss_status(major, minor, why, whylen);
		gss_release_cred(&min, &cred);
		conf_keytab_free(n);
		return (-1);
	}
	n->cred = cred;
	return (0);
}

void
conf_keytab_free(struct conf_negotiate *n)
{
	gss_cred_id_t	cred = n->cred;
	OM_uint32	min;

	if (cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &cred);
	n->cred = NULL;
	/* The last handle: the MEMORY keytab and its keys go with it. */
	if (n->kt_mem != NULL)
		krb5_kt_close(n->kt_ctx, n->kt_mem);
	if (n->kt_ctx != NULL)
		krb5_free_context(n->kt_ctx);
	n->kt_mem = n->kt_ctx = NULL;
}
