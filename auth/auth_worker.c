/*
 * The sign-in backends of one worker: created on first use, on the
 * worker's thread, from the config the worker holds; replaced when a
 * reload changes the config.  A replaced backend answers what it still
 * had in flight with NTLM_BACKEND_DOWN before it goes.
 */
#include "config.h"

#include <stdlib.h>

#include "auth.h"
#include "backend.h"
#include "inbox.h"

struct auth_worker *
auth_worker_new(struct event_base *base, const struct config *conf)
{
	struct auth_worker *aw;

	if ((aw = calloc(1, sizeof(*aw))) == NULL)
		return NULL;
	aw->base = base;
	aw->conf = conf_ref((struct config *)conf);
	return aw;
}

static void
auth_worker_drop_backends(struct auth_worker *aw)
{
	struct ntlm_winbind	*wb;
	struct ntlm_ldap	*nl;

	/*
	 * Unhook each backend before freeing it: the DOWN answers its free
	 * sends may start new lookups, which must find no half-freed one.
	 */
	nl = aw->ldap;
	aw->ldap = NULL;
	ntlm_ldap_free(nl);
	wb = aw->winbind;
	aw->winbind = NULL;
	ntlm_winbind_free(wb);
}

void
auth_worker_reconf(struct auth_worker *aw, const struct config *conf)
{
	/* Backends hold pointers into the config they were made from. */
	auth_worker_drop_backends(aw);
	conf_unref(aw->conf);
	aw->conf = conf_ref((struct config *)conf);
}

void
auth_worker_free(struct auth_worker *aw)
{
	if (aw == NULL)
		return;
	auth_worker_drop_backends(aw);
	inbox_free(aw->inbox);
	conf_unref(aw->conf);
	free(aw);
}

struct ntlm_backend_req *
auth_worker_ldap_lookup(struct auth_worker *aw,
    const struct ntlm_backend_query *q, ntlm_backend_cb cb, void *arg)
{
	/* ntlm_ldap.c makes aw->ldap on first use. */
	return ntlm_ldap_lookup(aw, q, cb, arg);
}

struct ntlm_backend_req *
auth_worker_winbind_verify(struct auth_worker *aw,
    const struct ntlm_backend_query *q, ntlm_backend_cb cb, void *arg)
{
	/* ntlm_winbind.c makes aw->winbind on first use. */
	return ntlm_winbind_verify(aw, q, cb, arg);
}
