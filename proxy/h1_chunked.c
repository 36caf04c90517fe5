/*
 * Chunked transfer coding (RFC 9112 section 7.1), validated byte by byte.
 *
 * The proxy forwards a chunked body as it is, so this decoder changes
 * nothing: it runs a small state machine over the bytes as they arrive
 * and says where the body ends.  Being strict here is what keeps the
 * proxy and the next hop agreeing on that end (a disagreement is request
 * smuggling): sizes are hex only and overflow-checked, every line ends in
 * CRLF (or a bare LF, as in the head parser), a bare CR is an error, and
 * lines are capped so an endless size line cannot tie up a connection.
 *
 *   chunked-body   = *chunk last-chunk trailer-section CRLF
 *   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk     = 1*("0") [ chunk-ext ] CRLF
 *   chunk-ext      = *( BWS ";" BWS chunk-ext-name
 *                       [ BWS "=" BWS chunk-ext-val ] )
 */

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "h1.h"

#define CH_DEF_MAX_LINE		4096
/* Trailer fields are rare and small; a cap keeps them from being a way
 * around the head limits. */
#define CH_MAX_TRAILERS		100

enum ch_state {
	CH_SIZE_START = 0,	/* first hex digit of a chunk size */
	CH_SIZE,		/* more hex digits */
	CH_SIZE_BWS,		/* whitespace after size or extension */
	CH_EXT_NAME_START,	/* after ';' */
	CH_EXT_NAME,
	CH_EXT_NAME_BWS,	/* whitespace after an extension name */
	CH_EXT_VAL_START,	/* after '=' */
	CH_EXT_VAL_TOKEN,
	CH_EXT_VAL_QUOTED,
	CH_EXT_VAL_QPAIR,	/* after '\\' in a quoted string */
	CH_SIZE_LF,		/* CR seen at the end of the size line */
	CH_DATA,
	CH_DATA_END,		/* CRLF expected after chunk data */
	CH_DATA_LF,
	CH_TRAILER_START,	/* a trailer field or the final empty line */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR,
};

/* tchar (RFC 9110 section 5.6.2). */
static int
ch_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
ch_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* States that are inside a size or trailer line, subject to max_line. */
static int
ch_in_line(int state)
{
	switch (state) {
	case CH_SIZE_START:
	case CH_SIZE:
	case CH_SIZE_BWS:
	case CH_EXT_NAME_START:
	case CH_EXT_NAME:
	case CH_EXT_NAME_BWS:
	case CH_EXT_VAL_START:
	case CH_EXT_VAL_TOKEN:
	case CH_EXT_VAL_QUOTED:
	case CH_EXT_VAL_QPAIR:
	case CH_TRAILER_NAME:
	case CH_TRAILER_VALUE:
		return (1);
	default:
		return (0);
	}
}

static long
ch_fail(struct h1_chunked *st, const char *why)
{
	st->state = CH_ERROR;
	st->err_reason = why;
	return (-1);
}

/* The size line is over: on to the data, or to the trailers after "0". */
static void
ch_size_done(struct h1_chunked *st)
{
	st->line_len = 0;
	st->state = st->remaining == 0 ? CH_TRAILER_START : CH_DATA;
}

/*
 * Validate the next len bytes of a chunked body; see h1.h.
 */
long
h1_chunked_feed(struct h1_chunked *st, const char *buf, size_t len)
{
	size_t		 i = 0, n, max_line;
	unsigned char	 c;
	int		 d;

	if (st->state == CH_ERROR)
		return (-1);
	if (st->done || st->state == CH_DONE)
		return (0);
	max_line = st->max_line != 0 ? st->max_line : CH_DEF_MAX_LINE;
	/* The count is returned as a long. */
	if (len > LONG_MAX)
		len = LONG_MAX;

	while (i < len) {
		if (st->state == CH_DATA) {
			n = len - i;
			if (n > st->remaining)
				n = (size_t)st->remaining;
			if (st->on_data != NULL && n > 0)
				st->on_data(st->arg, buf + i, n);
			i += n;
			st->remaining -= n;
			if (st->remaining == 0)
				st->state = CH_DATA_END;
			continue;
		}

		c = buf[i++];
		if (ch_in_line(st->state) && c != '\r' && c != '\n' &&
		    ++st->line_len > max_line)
			return (ch_fail(st, st->state >= CH_TRAILER_START ?
			    "trailer line too long" :
			    "chunk size line too long"));

		switch (st->state) {
		case CH_SIZE_START:
			if ((d = ch_hexval(c)) == -1)
				return (ch_fail(st, "invalid chunk size"));
			st->remaining = d;
			st->state = CH_SIZE;
			break;
		case CH_SIZE:
			if ((d = ch_hexval(c)) != -1) {
				/* Sizes beyond 2^63-1 cannot be meant, and a
				 * wrapped size would desynchronise us from
				 * the next hop. */
				if (st->remaining > ((uint64_t)INT64_MAX -
				    (uint64_t)d) / 16)
					return (ch_fail(st,
					    "chunk size too large"));
				st->remaining = st->remaining * 16 + d;
				break;
			}
			/* FALLTHROUGH */
		case CH_SIZE_BWS:
		case CH_EXT_VAL_TOKEN:
			if (st->state == CH_EXT_VAL_TOKEN && ch_is_tchar(c))
				break;
			/*
			 * BWS before ';' is in the grammar; whitespace
			 * before the CRLF is not, but it is harmless and
			 * some servers pad sizes with it, so it is taken.
			 */
			if (c == ' ' || c == '\t')
				st->state = CH_SIZE_BWS;
			else if (c == ';')
				st->state = CH_EXT_NAME_START;
			else if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				return (ch_fail(st, "bare LF in chunked framing"));
			else
				return (ch_fail(st, st->state == CH_SIZE ?
				    "invalid chunk size" :
				    "invalid chunk extension"));
			break;
		case CH_EXT_NAME_START:
			if (c == ' ' || c == '\t')
				break;
			if (!ch_is_tchar(c))
				return (ch_fail(st, "invalid chunk extension"));
			st->state = CH_EXT_NAME;
			break;
		case CH_EXT_NAME:
		case CH_EXT_NAME_BWS:
			if (st->state == CH_EXT_NAME && ch_is_tchar(c))
				break;
			if (c == ' ' || c == '\t')
				st->state = CH_EXT_NAME_BWS;
			else if (c == '=')
				st->state = CH_EXT_VAL_START;
			else if (c == ';')
				st->state = CH_EXT_NAME_START;
			else if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				return (ch_fail(st, "bare LF in chunked framing"));
			else
				return (ch_fail(st, "invalid chunk extension"));
			break;
		case CH_EXT_VAL_START:
			if (c == ' ' || c == '\t')
				break;
			if (c == '"')
				st->state = CH_EXT_VAL_QUOTED;
			else if (ch_is_tchar(c))
				st->state = CH_EXT_VAL_TOKEN;
			else
				return (ch_fail(st, "invalid chunk extension"));
			break;
		case CH_EXT_VAL_QUOTED:
			/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E /
			 * obs-text (RFC 9110 section 5.6.4). */
			if (c == '"')
				st->state = CH_SIZE_BWS;
			else if (c == '\\')
				st->state = CH_EXT_VAL_QPAIR;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return (ch_fail(st, "invalid chunk extension"));
			break;
		case CH_EXT_VAL_QPAIR:
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return (ch_fail(st, "invalid chunk extension"));
			st->state = CH_EXT_VAL_QUOTED;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return (ch_fail(st, "bare CR"));
			ch_size_done(st);
			break;
		case CH_DATA_END:
			if (c == '\r')
				st->state = CH_DATA_LF;
			else if (c == '\n')
				return (ch_fail(st, "bare LF in chunked framing"));
			else
				return (ch_fail(st,
				    "missing CRLF after chunk data"));
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return (ch_fail(st,
				    "missing CRLF after chunk data"));
			st->state = CH_SIZE_START;
			break;
		case CH_TRAILER_START:
			if (c == '\r') {
				st->state = CH_FINAL_LF;
				break;
			}
			if (c == '\n')
				return (ch_fail(st, "bare LF in chunked framing"));
			/* RFC 9112 section 5.2: no obs-fold here either. */
			if (!ch_is_tchar(c))
				return (ch_fail(st, "invalid trailer field"));
			if (++st->ntrailers > CH_MAX_TRAILERS)
				return (ch_fail(st, "too many trailer fields"));
			st->line_len = 1;
			st->state = CH_TRAILER_NAME;
			break;
		case CH_TRAILER_NAME:
			if (ch_is_tchar(c))
				break;
			if (c != ':')
				return (ch_fail(st, c == ' ' || c == '\t' ?
				    "space before colon in trailer" :
				    "invalid trailer field"));
			st->state = CH_TRAILER_VALUE;
			break;
		case CH_TRAILER_VALUE:
			if (c == '\r')
				st->state = CH_TRAILER_LF;
			else if (c == '\n')
				return (ch_fail(st, "bare LF in chunked framing"));
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return (ch_fail(st, "invalid trailer field"));
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return (ch_fail(st, "bare CR"));
			st->line_len = 0;
			st->state = CH_TRAILER_START;
			break;
		case CH_FINAL_LF:
			if (c != '\n')
				return (ch_fail(st, "bare CR"));
			goto done;
		default:
			return (ch_fail(st, "internal error"));
		}
		if (st->state == CH_SIZE_START)
			st->line_len = 0;
	}
	return ((long)i);

 done:
	st->state = CH_DONE;
	st->done = 1;
	return ((long)i);
}
