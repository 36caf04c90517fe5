/*
 * libFuzzer target for what the ACS runs before lasso (auth/saml_check.c):
 * the form parser, strict base64, the DTD refusal, the libxml2 parse and
 * every check of saml_check_response().  Signatures are lasso's and are
 * not fuzzed here.
 *
 * Each input is used three ways: as an ACS body (form -> base64 -> XML
 * -> checks), as raw XML (DTD refusal -> parse -> checks, so the fuzzer
 * reaches the checks without having to learn base64), and as base64
 * text.  Besides memory errors it checks what saml_acs() relies on: a
 * successful form parse gives two NUL-terminated values no longer than
 * the body; decoded base64 fits 3/4 of its text; a document with a DTD
 * never parses; an accepted Response has an assertion ID and a NameID in
 * a verified domain; the return-URL rule never accepts a URL with
 * controls or user info.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "saml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)
#define NOW		((time_t)1800000000)	/* 2027-01-15T08:00:00Z */

static char *const	 domains[] = { "example.test" };
static const struct saml_expect expect = {
	"https://auth.example.test/iaproxy/saml/acs",
	"https://proxy.example.test/saml",
	"https://idp.example.test/",
	"_req1",
	domains, 1,
	"groups",
	180,
};

static void	 fuzz_xml(const unsigned char *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	xmlInitParser();
	return (0);
}

/* The XML half: DTD refusal, parse, checks. */
static void
fuzz_xml(const unsigned char *xml, size_t len)
{
	struct saml_facts	 f;
	xmlDoc			*doc;
	char			 why[256];
	const char		*at, *dom;
	int			 dtd;

	dtd = saml_xml_refuse_dtd(xml, len, why, sizeof(why)) == -1;
	if ((doc = saml_xml_parse(xml, len, why, sizeof(why))) == NULL)
		return;
	REQUIRE(doc->intSubset == NULL && doc->extSubset == NULL);
	/* The byte scan may refuse more than the parser, never less. */
	(void)dtd;
	if (saml_check_response(doc, &expect, NOW, &f, why,
	    sizeof(why)) == 0) {
		REQUIRE(f.assertion_id[0] != '\0');
		REQUIRE(f.response_signed || f.assertion_signed);
		at = strchr(f.name_id, '@');
		REQUIRE(at != NULL && at != f.name_id);
		dom = at + 1;
		REQUIRE(strcasecmp(dom, "example.test") == 0);
		saml_facts_clear(&f);
	}
	xmlFreeDoc(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*resp = NULL, *relay = NULL, why[256], *text;
	const char	*at;
	unsigned char	*xml;
	size_t		 xlen, i;

	/* 1. As an ACS body. */
	if (saml_form_parse((const char *)data, size, &resp, &relay, why,
	    sizeof(why)) == 0) {
		REQUIRE(strlen(resp) <= size && strlen(relay) <= size);
		REQUIRE(*resp != '\0' && *relay != '\0');
		if (saml_b64_decode(resp, strlen(resp), &xml, &xlen) == 0) {
			REQUIRE(xlen <= strlen(resp) / 4 * 3 + 2);
			REQUIRE(xml[xlen] == '\0');
			fuzz_xml(xml, xlen);
			free(xml);
		}
		free(resp);
		free(relay);
	} else
		REQUIRE(resp == NULL && relay == NULL);

	/* 2. As the decoded document itself. */
	fuzz_xml(data, size);

	/* 3. As base64 text and as a return URL. */
	if (saml_b64_decode((const char *)data, size, &xml, &xlen) == 0) {
		REQUIRE(xlen > 0 && xlen <= size / 4 * 3 + 2);
		free(xml);
	}
	if ((text = malloc(size + 1)) != NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (strlen(text) == size && saml_return_url_ok(text)) {
			REQUIRE(size <= SAML_RETURN_URL_MAX);
			for (i = 0; i < size; i++)
				REQUIRE((unsigned char)text[i] > 0x20 &&
				    text[i] != 0x7f);
			REQUIRE(strncasecmp(text, "http", 4) == 0);
			at = strstr(text, "://") + 3;
			REQUIRE(memchr(at, '@', strcspn(at, "/?#")) == NULL);
		}
		free(text);
	}
	return (0);
}
