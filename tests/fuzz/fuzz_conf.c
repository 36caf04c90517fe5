/*
 * libFuzzer target for conf/: arbitrary text through conf_load(), the
 * whole of libconfuse's lexer and parser, our value callbacks and the
 * checks across options.  A config that loads must hold the invariants
 * the rest of the daemon relies on.
 *
 * The text is named "/nonexistent/fuzz.conf" so that a relative include()
 * resolves into a directory that does not exist instead of the cwd.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char *__lsan_default_suppressions(void);

/*
 * libconfuse 3.3 leaks the arguments of a function call it cannot finish
 * (`include("a"` at end of file: cfg_parse_internal's funcopt is not
 * freed on its error path).  We cannot reach that memory; only leaks with
 * a libconfuse frame on the allocation stack are ignored, which leaves
 * everything conf.c allocates after the parse under watch.
 */
const char *
__lsan_default_suppressions(void)
{
	return ("leak:libconfuse.so\n");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c;
	char		*text, err[2048];
	size_t		 i;

	if (size > 65536)
		return (0);
	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';

	c = conf_load("/nonexistent/fuzz.conf", text, err, sizeof(err));
	if (c != NULL) {
		if (c->refcnt != 1 || c->workers < 1 || c->workers > 64 ||
		    c->nlisten < 1 || c->hostname == NULL ||
		    c->access_log == NULL ||
		    c->max_line_bytes > c->max_header_bytes)
			abort();
		for (i = 0; i < c->nlisten; i++)
			if (c->listen[i].text == NULL || c->listen[i].sslen == 0)
				abort();
		for (i = 0; i < c->nconnect_ports; i++)
			if (c->connect_ports[i] < 1 ||
			    c->connect_ports[i] > 65535)
				abort();
		conf_unref(c);
	} else if (err[0] == '\0')
		abort();	/* every failure says why */
	free(text);
	return (0);
}
